import Foundation
import NIOCore

/// The reserved paths of every host (`/.slipway/…`), and the sign-in
/// form posted to one of them.
enum ReservedPaths {
    /// The prefix no site file is ever served under.
    static let prefix = "/.slipway/"
    /// Where the sign-in page posts its form.
    static let signIn = "/.slipway/auth"
    /// Where a visitor signs out.
    static let signOut = "/.slipway/logout"
    /// Largest sign-in form body accepted; bigger is 413.
    static let maxFormBytes = 4096

    /// Whether a decoded site path is reserved.
    static func isReserved(_ path: String) -> Bool {
        path == "/.slipway" || path.hasPrefix(prefix)
    }

    /// The path of a raw origin-form target, without its query.
    static func rawPath(_ target: String) -> Substring {
        target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// Whether a request may carry a body: only a POST of the sign-in form
    /// or of the sign-out, by their exact paths. Every other request is
    /// GET or HEAD (or refused with 405).
    static func takesPost(target: String) -> Bool {
        let path = rawPath(target)
        return path == signIn || path == signOut
    }
}

/// The fields of a posted sign-in form (`application/x-www-form-urlencoded`).
struct SignInForm: Sendable, Equatable {
    var password: String
    /// Where to go once signed in: a same-host path (``ReturnPath``).
    var returnPath: String

    init(password: String, returnPath: String) {
        self.password = password
        self.returnPath = returnPath
    }

    /// Reads the form; nil when the body is not such a form.
    init?(contentType: String?, body: ByteBuffer?) {
        guard let contentType,
            contentType.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
                == "application/x-www-form-urlencoded"
        else { return nil }
        let text = body.map { String(decoding: $0.readableBytesView, as: UTF8.self) } ?? ""
        var password: String?
        var returnPath: String?
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { return nil }
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            guard let value else { return nil }
            switch name {
            case "password" where password == nil: password = value
            case "return" where returnPath == nil: returnPath = value
            default: continue
            }
        }
        guard let password else { return nil }
        self.password = password
        self.returnPath = ReturnPath.sanitize(returnPath ?? "/")
    }

    /// `+` as a space, then percent-decoding; nil for a bad escape or bytes that are not UTF-8.
    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Where the sign-in page sends a visitor back to: only a path of the same
/// host. Anything else — an absolute URL (`https://evil.example`), a
/// scheme-relative one (`//evil.example`), a backslash some browsers read
/// as a slash (`/\evil.example`), control characters, a reserved path — is
/// replaced by `/`, so the form is never an open redirect.
enum ReturnPath {
    static let maxBytes = 2048

    static func sanitize(_ candidate: String) -> String {
        let bytes = Array(candidate.utf8)
        guard bytes.count <= maxBytes, bytes.first == UInt8(ascii: "/"),
            bytes.count == 1 || (bytes[1] != UInt8(ascii: "/") && bytes[1] != UInt8(ascii: "\\")),
            !bytes.contains(where: { $0 <= 0x20 || $0 >= 0x7f || $0 == UInt8(ascii: "\\") }),
            !ReservedPaths.isReserved(String(ReservedPaths.rawPath(candidate)))
        else { return "/" }
        return candidate
    }
}
