public import Foundation

/// The stable, opaque identifier of a site.
///
/// 26 characters of lower-case Crockford base32: 10 encode the creation time
/// in milliseconds, 16 are random. Identifiers sort by creation time, never
/// change (a slug can), and are safe in URLs, file names and object keys
/// (`sites/<siteId>/…`).
public struct SiteID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The identifier's text, always well formed.
    public let rawValue: String

    /// Accepts `text` only when it is a well-formed identifier (26 characters
    /// of `0-9a-z` without `i`, `l`, `o`, `u`); nil otherwise.
    public init?(_ text: String) {
        guard OpaqueIdentifier.isWellFormed(text) else { return nil }
        self.rawValue = text
    }

    package init(unchecked text: String) { self.rawValue = text }

    /// A new identifier whose time part is `date`.
    public static func generate(at date: Date = Date()) -> SiteID {
        SiteID(unchecked: OpaqueIdentifier.generate(at: date))
    }

    public var description: String { rawValue }

    public static func < (lhs: SiteID, rhs: SiteID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try OpaqueIdentifier.decode(from: decoder, kind: "site id")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// The stable, opaque identifier of a build; same form as ``SiteID``.
///
/// A build's manifest lives at `manifests/<siteId>/<buildId>.json` (and the
/// files of builds stored before content addressing under
/// `sites/<siteId>/<buildId>/`), so a build id never names two different
/// sets of files and caches keyed by it never go stale.
public struct BuildID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The identifier's text, always well formed.
    public let rawValue: String

    /// Accepts `text` only when it is a well-formed identifier; nil otherwise.
    public init?(_ text: String) {
        guard OpaqueIdentifier.isWellFormed(text) else { return nil }
        self.rawValue = text
    }

    package init(unchecked text: String) { self.rawValue = text }

    /// A new identifier whose time part is `date`.
    public static func generate(at date: Date = Date()) -> BuildID {
        BuildID(unchecked: OpaqueIdentifier.generate(at: date))
    }

    public var description: String { rawValue }

    public static func < (lhs: BuildID, rhs: BuildID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try OpaqueIdentifier.decode(from: decoder, kind: "build id")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// ULID-like identifiers in lower-case Crockford base32.
package enum OpaqueIdentifier {
    package static let length = 26
    private static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)
    private static let allowed: Set<UInt8> = Set(alphabet)

    package static func isWellFormed(_ text: String) -> Bool {
        let bytes = text.utf8
        // The first character holds the top 3 of 50 bits: a 48-bit time
        // leaves it in 0...7.
        guard bytes.count == length, let first = bytes.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "7")
        else {
            return false
        }
        return bytes.allSatisfy { allowed.contains($0) }
    }

    package static func generate(at date: Date) -> String {
        let milliseconds = UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded(.down))) & 0xFFFF_FFFF_FFFF
        var generator = SystemRandomNumberGenerator()
        let randomHigh = UInt64(generator.next() as UInt16)
        let randomLow = generator.next() as UInt64
        var out = [UInt8](repeating: 0, count: length)
        // 10 characters of time (50 bits, the top two always zero).
        var time = milliseconds
        for index in stride(from: 9, through: 0, by: -1) {
            out[index] = alphabet[Int(time & 31)]
            time >>= 5
        }
        // 16 characters of randomness: 80 bits = 16 high bits + 64 low bits.
        var low = randomLow
        var high = randomHigh
        for index in stride(from: 25, through: 10, by: -1) {
            out[index] = alphabet[Int(low & 31)]
            low = (low >> 5) | ((high & 31) << 59)
            high >>= 5
        }
        return String(decoding: out, as: UTF8.self)
    }

    package static func decode(from decoder: any Decoder, kind: String) throws -> String {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard isWellFormed(text) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription:
                        "'\(text.prefix(40))' is not a \(kind): expected 26 characters of 0-9 and a-z without i, l, o, u"
                )
            )
        }
        return text
    }
}
