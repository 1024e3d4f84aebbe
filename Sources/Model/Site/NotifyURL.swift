import Foundation

/// A deployment's notify URL, checked and taken apart: where its signed
/// `build.finished` POSTs go.
///
/// Accepted: an absolute `http://` or `https://` URL (the scheme in any
/// case) with a host, an optional port from 1 to 65535 and no fragment, at
/// most ``SiteSettings/maxNotifyURLLength`` bytes of printable ASCII — no
/// whitespace; anything else must be percent-encoded, and hosts written in
/// their punycode form. Userinfo (`https://user:password@host/…`) is sent as
/// HTTP Basic credentials, never in the request line.
///
/// A query string or userinfo often carries a token, so ``redacted`` (the
/// form every log line and error message uses) leaves both out.
public struct NotifyURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL as the deployment holds it.
    public let text: String
    public let isTLS: Bool
    /// The host, as written (an IPv6 literal keeps its brackets).
    public let host: String
    /// The explicit port, if any.
    public let port: Int?
    /// The user of the userinfo, percent-decoded.
    public let user: String?
    /// The password of the userinfo, percent-decoded.
    public let password: String?
    /// The URL the request goes to: ``text`` without its userinfo.
    public let requestURL: String

    /// Checks `text`.
    /// - Throws: `invalid_input` naming `notifyUrl` and saying what to change.
    public init(_ text: String) throws(CatalogError) {
        let shown = "'\(Self.redact(text).prefix(200))'"
        if text.utf8.count > SiteSettings.maxNotifyURLLength {
            throw .invalidInput("notifyUrl is longer than \(SiteSettings.maxNotifyURLLength) bytes; shorten it")
        }
        if !text.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) {
            throw .invalidInput(
                "notifyUrl contains whitespace, control or non-ASCII characters; percent-encode them (and write the host in its punycode form)"
            )
        }
        guard let parts = Self.split(text), parts.scheme == "http" || parts.scheme == "https" else {
            throw .invalidInput(
                "notifyUrl \(shown) must be an absolute http:// or https:// URL, like https://hooks.example.com/slipway"
            )
        }
        if text.contains("#") {
            throw .invalidInput("notifyUrl \(shown) has a fragment ('#…'); remove it, a fragment is never sent")
        }
        var hostPort = Substring(parts.authority)
        var userinfo: Substring?
        if let at = hostPort.lastIndex(of: "@") {
            userinfo = hostPort[..<at]
            hostPort = hostPort[hostPort.index(after: at)...]
        }
        var host = hostPort
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            // An IPv6 literal: `[…]` then an optional `:port`.
            guard let close = hostPort.firstIndex(of: "]") else {
                throw .invalidInput("notifyUrl \(shown) has an IPv6 address without its closing ']'")
            }
            host = hostPort[...close]
            let rest = hostPort[hostPort.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else {
                    throw .invalidInput("notifyUrl \(shown) has text after its IPv6 address; only ':port' may follow")
                }
                portText = rest.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        }
        if host.isEmpty || host == "[]" {
            throw .invalidInput("notifyUrl \(shown) has no host; give one, like https://hooks.example.com/slipway")
        }
        var port: Int?
        if let portText {
            guard !portText.isEmpty, portText.utf8.count <= 5, portText.allSatisfy(\.isASCIIDigit),
                let number = Int(portText),
                (1...65535).contains(number)
            else {
                throw .invalidInput(
                    "notifyUrl \(shown) has the port '\(portText.prefix(10))'; give a number from 1 to 65535 or leave it out"
                )
            }
            port = number
        }
        guard Self.usesOnlyURLCharacters(text) else {
            throw .invalidInput(
                "notifyUrl \(shown) is not a valid URL; percent-encode characters such as '{', '}', '^', '|', '\"' and a '%' that starts no escape"
            )
        }
        self.text = text
        self.isTLS = parts.scheme == "https"
        self.host = String(host)
        self.port = port
        if let userinfo {
            let pair = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            self.user = String(pair[0]).removingPercentEncoding ?? String(pair[0])
            self.password = pair.count > 1 ? (String(pair[1]).removingPercentEncoding ?? String(pair[1])) : ""
        } else {
            self.user = nil
            self.password = nil
        }
        self.requestURL = "\(text[..<parts.authorityStart])\(hostPort)\(text[parts.authorityEnd...])"
    }

    /// For logs and messages: ``text`` without userinfo, its query replaced by `?…`.
    public var redacted: String { Self.redact(text) }

    public var description: String { redacted }

    /// `text` (any text, valid or not) without userinfo and with its query
    /// replaced by `?…`; a fragment is dropped.
    public static func redact(_ text: String) -> String {
        var kept = Substring(text)
        var query = ""
        if let mark = kept.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            if kept[mark] == "?" { query = "?…" }
            kept = kept[..<mark]
        }
        let authorityStart = kept.range(of: "://").map(\.upperBound) ?? kept.startIndex
        let authorityEnd = kept[authorityStart...].firstIndex(of: "/") ?? kept.endIndex
        if let at = kept[authorityStart..<authorityEnd].lastIndex(of: "@") {
            return "\(kept[..<authorityStart])\(kept[kept.index(after: at)...])\(query)"
        }
        return String(kept) + query
    }

    /// Whether every character may stand in a URL (RFC 3986, section 2):
    /// unreserved and reserved characters, and `%` only before two hex digits.
    private static func usesOnlyURLCharacters(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=".utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, isHexDigit(bytes[index + 1]), isHexDigit(bytes[index + 2]) else {
                    return false
                }
                index += 3
            } else {
                guard allowed.contains(bytes[index]) else { return false }
                index += 1
            }
        }
        return true
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }

    /// The lower-cased scheme and where the authority starts and ends; nil
    /// without `scheme://`.
    private static func split(_ text: String) -> (
        scheme: String, authority: Substring, authorityStart: String.Index, authorityEnd: String.Index
    )? {
        guard let separator = text.range(of: "://") else { return nil }
        let scheme = text[..<separator.lowerBound].lowercased()
        let start = separator.upperBound
        let end = text[start...].firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? text.endIndex
        return (scheme, text[start..<end], start, end)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
