import Foundation

/// What makes a site slug valid, shared by the catalog (which enforces it)
/// and the proxy (which routes by it).
///
/// A slug is one DNS label: `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`, without
/// `--` (preview hosts use `<n>--<slug>`) and not a reserved word.
public enum SlugRules {
    /// Names that stay free for the platform itself.
    public static let reserved: Set<String> = [
        "admin", "api", "www", "static", "app", "apps", "dashboard", "assets", "cdn", "mail", "status",
        "metrics", "health", "healthz", "readyz", "login", "auth", "slipway", "preview", "docs",
    ]

    /// Why `slug` is not acceptable, in a sentence that says what to do; nil when it is fine.
    public static func problem(with slug: String) -> String? {
        let bytes = Array(slug.utf8)
        if bytes.isEmpty { return "the slug is empty; use 1 to 63 characters from a-z, 0-9 and '-'" }
        if bytes.count > 63 { return "the slug '\(slug.prefix(70))' is longer than 63 characters" }
        for byte in bytes where !(isLowerAlnum(byte) || byte == UInt8(ascii: "-")) {
            return "the slug '\(slug)' may only contain lower-case letters a-z, digits and '-'"
        }
        if bytes.first == UInt8(ascii: "-") || bytes.last == UInt8(ascii: "-") {
            return "the slug '\(slug)' must start and end with a letter or digit"
        }
        if zip(bytes, bytes.dropFirst()).contains(where: { $0 == UInt8(ascii: "-") && $1 == UInt8(ascii: "-") }) {
            return "the slug '\(slug)' may not contain '--' (preview URLs use it)"
        }
        if reserved.contains(slug) { return "the slug '\(slug)' is reserved; choose another name" }
        return nil
    }

    /// Whether `slug` is acceptable.
    public static func isValid(_ slug: String) -> Bool { problem(with: slug) == nil }

    /// A valid slug derived from a repository URL or path
    /// (`https://github.com/acme/My_Site.git` -> `my-site`); `site` when
    /// nothing usable remains. The caller makes it unique.
    public static func derive(fromRepository repository: String) -> String {
        var name = Substring(repository)
        while name.hasSuffix("/") { name = name.dropLast() }
        if let slash = name.lastIndex(where: { $0 == "/" || $0 == ":" }) { name = name[name.index(after: slash)...] }
        if name.lowercased().hasSuffix(".git") { name = name.dropLast(4) }
        var out: [UInt8] = []
        for byte in name.lowercased().utf8 {
            if isLowerAlnum(byte) {
                out.append(byte)
            } else if out.last != UInt8(ascii: "-") {
                out.append(UInt8(ascii: "-"))
            }
        }
        var slug = String(decoding: out, as: UTF8.self)
        while slug.contains("--") { slug = slug.replacingOccurrences(of: "--", with: "-") }
        slug = String(slug.prefix(50)).trimmingCharacters(in: ["-"])
        if slug.isEmpty { return "site" }
        if reserved.contains(slug) { return slug + "-site" }
        return slug
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}

extension SlugRules {
    /// `base` itself when it is free, otherwise the first of `base-2`,
    /// `base-3`, … that is valid and not in `taken` (the base is shortened
    /// when the suffix would make it longer than 63 characters).
    /// - Precondition: `base` is a valid slug.
    public static func unique(_ base: String, avoiding taken: Set<String>) -> String {
        precondition(isValid(base), "unique(_:avoiding:) needs a valid base slug")
        if !taken.contains(base) { return base }
        var number = 2
        while true {
            let suffix = "-\(number)"
            var stem = String(base.prefix(63 - suffix.count))
            while stem.hasSuffix("-") { stem.removeLast() }
            let candidate = stem + suffix
            if !taken.contains(candidate) && isValid(candidate) { return candidate }
            number += 1
        }
    }
}
