public import Crypto
import Foundation

/// Seals secrets at rest: AES-256-GCM under the keys of
/// `SLIPWAY_SECRET_KEY`. Everything Slipway keeps secret in the catalog or
/// the bucket (secret build variables, webhook secrets, notify-URL
/// credentials, repository access tokens, certificate keys) goes through it,
/// and the keys that sign the edge's cookies are derived from it.
///
/// A sealed value reads `sealed:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`.
/// The key id (8 hex digits of a hash of the key) says which key sealed it,
/// so keys rotate while nodes overlap: list the new key after the old one on
/// every node, then first (it seals from then on, the old one still opens),
/// re-seal (`slipway catalog reseal`), and finally drop the old key.
///
/// Each value is sealed for a `purpose` (`site/<id>/env`, …) that is
/// authenticated with it, so a sealed value copied to another row or field
/// does not open there.
public struct SecretKeyring: Sendable {
    /// One key and its id.
    public struct Key: Sendable {
        public let id: String
        private let bytes: Data

        init(_ key: SymmetricKey) {
            self.bytes = key.withUnsafeBytes { Data($0) }
            self.id = Hex.encode(Array(SHA256.hash(data: Data("slipway-key-id".utf8) + bytes).prefix(4)))
        }

        var key: SymmetricKey { SymmetricKey(data: bytes) }
    }

    /// The keys, the sealing one first.
    public private(set) var keys: [Key]

    /// The prefix of every sealed value.
    public static let prefix = "sealed:v1:"

    /// A keyring of 256-bit keys; the first seals.
    public init(keys: [SymmetricKey]) throws(SecretKeyringError) {
        guard !keys.isEmpty else { throw SecretKeyringError("no key given") }
        guard keys.allSatisfy({ $0.bitCount == 256 }) else { throw SecretKeyringError("every key must be 256 bits") }
        self.keys = keys.map(Key.init)
    }

    /// Reads `SLIPWAY_SECRET_KEY`: one or more comma-separated keys, each 32
    /// bytes in base64 or base64url (`slipway secret-key` prints a new one).
    /// The first seals; all of them open.
    /// - Throws: a message naming the entry that is not a key; never the key itself.
    public init(parsing text: String) throws(SecretKeyringError) {
        var keys: [SymmetricKey] = []
        let entries = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        for (index, entry) in entries.enumerated() where !entry.isEmpty {
            guard let data = Self.decodeBase64(entry), data.count == 32 else {
                throw SecretKeyringError(
                    "key \(index + 1) is not 32 bytes in base64; generate one with 'slipway secret-key' (or 'openssl rand -base64 32')"
                )
            }
            keys.append(SymmetricKey(data: data))
        }
        guard !keys.isEmpty else {
            throw SecretKeyringError(
                "no key given; generate one with 'slipway secret-key' (or 'openssl rand -base64 32')")
        }
        try self.init(keys: keys)
    }

    /// A new key as `SLIPWAY_SECRET_KEY` takes it: 32 bytes from the
    /// system's CSPRNG, base64.
    public static func generateKeyText() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
    }

    /// The id of the key that seals.
    public var currentKeyID: String { keys[0].id }

    /// Whether `text` is a sealed value (of any key).
    public static func isSealed(_ text: String) -> Bool { text.hasPrefix(prefix) }

    /// `plaintext` sealed under the current key for `purpose`.
    public func seal(_ plaintext: String, purpose: String) -> String {
        let key = keys[0]
        // AES-GCM with a random 96-bit nonce: safe for far more values than
        // one key ever seals.
        guard let box = try? AES.GCM.seal(Data(plaintext.utf8), using: key.key, authenticating: Data(purpose.utf8)),
            let combined = box.combined
        else { preconditionFailure("AES-GCM sealing with a 256-bit key and a fresh nonce cannot fail") }
        return Self.prefix + key.id + ":" + Self.encodeBase64URL(combined)
    }

    /// The plaintext of a value ``seal(_:purpose:)`` returned for the same `purpose`.
    /// - Throws: when the value is not sealed, was sealed by a key this
    ///   keyring lacks (the message names its id), for another purpose, or
    ///   was altered.
    public func open(_ sealed: String, purpose: String) throws(SecretKeyringError) -> String {
        guard let (keyID, payload) = Self.parts(sealed) else {
            throw SecretKeyringError("the value is not sealed")
        }
        guard let key = keys.first(where: { $0.id == keyID }) else {
            throw SecretKeyringError(
                "the value was sealed with key \(keyID), which SLIPWAY_SECRET_KEY does not hold (it holds \(keys.map(\.id).joined(separator: ", "))); add that key back"
            )
        }
        guard let data = Self.decodeBase64(payload), let box = try? AES.GCM.SealedBox(combined: data),
            let plain = try? AES.GCM.open(box, using: key.key, authenticating: Data(purpose.utf8)),
            let text = String(data: plain, encoding: .utf8)
        else {
            throw SecretKeyringError(
                "the sealed value for \(purpose) does not open: it was altered or belongs elsewhere")
        }
        return text
    }

    /// The id of the key that sealed `sealed`; nil when it is not sealed.
    public static func keyID(of sealed: String) -> String? { parts(sealed)?.keyID }

    /// Whether `text` should be sealed again: it is clear, or sealed under a
    /// key other than the current one.
    public func needsSealing(_ text: String) -> Bool { Self.keyID(of: text) != currentKeyID }

    /// A key for `purpose` (say, signing the edge's cookies) derived from
    /// each key with HKDF-SHA256, the current key's first: sign with the
    /// first, accept any, so a rotation signs no one out.
    public func derivedKeys(purpose: String) -> [SymmetricKey] {
        keys.map {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: $0.key, salt: Data("slipway".utf8), info: Data(purpose.utf8), outputByteCount: 32)
        }
    }

    private static func parts(_ sealed: String) -> (keyID: String, payload: Substring)? {
        guard sealed.hasPrefix(prefix) else { return nil }
        let rest = sealed.dropFirst(prefix.count)
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        return (String(rest[..<colon]), rest[rest.index(after: colon)...])
    }

    static func encodeBase64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64(_ text: some StringProtocol) -> Data? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard)
    }
}

/// A keyring that cannot be built, or a value that does not open. The
/// message never holds a key or a plaintext.
public struct SecretKeyringError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension SecretKeyring {
    /// This keyring followed by `other`'s keys it lacks: it seals as this
    /// one does and opens what either sealed.
    public func adding(_ other: SecretKeyring) -> SecretKeyring {
        var combined = self
        combined.keys += other.keys.filter { key in !keys.contains { $0.id == key.id } }
        return combined
    }

    /// The keyring in the key file at `path`; nil when there is no such file.
    public static func loadExisting(keyFile path: String) throws(SecretKeyringError) -> SecretKeyring? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try loadOrCreate(keyFile: path)
    }

    /// The keyring in the key file at `path` (one node's `<data>/secret-key`),
    /// created with a new key (mode 0600) when the file does not exist.
    /// - Throws: when the file cannot be read or written, or holds no key.
    public static func loadOrCreate(keyFile path: String) throws(SecretKeyringError) -> SecretKeyring {
        if FileManager.default.fileExists(atPath: path) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw SecretKeyringError("the key file \(path) cannot be read; check its permissions")
            }
            do { return try SecretKeyring(parsing: text) } catch {
                throw SecretKeyringError(
                    "the key file \(path) holds no usable key (\(error)); restore it from a backup")
            }
        }
        let text = generateKeyText()
        let created = FileManager.default.createFile(
            atPath: path, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o600])
        guard created else {
            throw SecretKeyringError("cannot write a new key to \(path); check that its directory is writable")
        }
        return try SecretKeyring(parsing: text)
    }
}
