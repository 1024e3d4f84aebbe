/// Where a file's bytes are kept when they are stored by content: once per
/// SHA-256, whichever builds and sites publish them.
///
/// A blob's key is `blobs/<first two hex digits>/<sha256>`; its bytes are
/// exactly those whose SHA-256 is the name (the builder and the upload
/// endpoint check every byte before a blob is written), so a blob never
/// changes once stored. Which blobs a site has is kept per site in the
/// catalog: a site is told only about its own.
public enum ContentAddress {
    /// The prefix of every blob key.
    public static let prefix = "blobs/"

    /// The object key of the blob with this SHA-256 (64 lower-case hex digits).
    public static func key(sha256: String) -> String {
        "\(prefix)\(sha256.prefix(2))/\(sha256)"
    }

    /// Whether `text` is a SHA-256 as blobs are named: 64 lower-case hex digits.
    public static func isDigest(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
