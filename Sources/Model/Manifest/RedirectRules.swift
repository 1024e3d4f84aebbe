import Foundation

/// One `_redirects` rule: `from to [status][!]`.
public struct RedirectRule: Codable, Sendable, Equatable {
    public var from: RoutePattern
    /// A site path (`/…`), or for redirects also an absolute `https://` URL;
    /// may use `:name` placeholders from `from` and `:splat`.
    public var to: String
    /// 301/302/303/307/308 redirect, 200 rewrites, 404 serves `to` with 404.
    public var status: Int
    /// `!`: applies even when a file exists at the requested path.
    public var force: Bool
    /// Line number in `_redirects`, for messages.
    public var line: Int

    public init(from: RoutePattern, to: String, status: Int, force: Bool, line: Int) {
        self.from = from
        self.to = to
        self.status = status
        self.force = force
        self.line = line
    }

    public var isRedirect: Bool { RedirectRules.redirectStatuses.contains(status) }

    /// `to` with the placeholders of a match of `path` filled in, or nil when
    /// the rule does not match. For site-relative targets the result always
    /// starts with exactly one `/`, so it can never name another host.
    /// - Parameter encodeValue: applied to each placeholder value before it is
    ///   inserted (percent-encoding for a `Location` header).
    public func target(for path: String, encodeValue: (String) -> String = { $0 }) -> String? {
        guard let values = from.match(path) else { return nil }
        return target(values: values, encodeValue: encodeValue)
    }

    /// `to` with the placeholder `values` of a match of ``from`` filled in.
    public func target(values: [String: String], encodeValue: (String) -> String = { $0 }) -> String {
        var target = to
        if !values.isEmpty {
            // Longest names first so `:splat` is not eaten by a shorter `:s…` placeholder.
            for (name, value) in values.sorted(by: { $0.key.count > $1.key.count }) {
                target = target.replacingOccurrences(of: ":" + name, with: encodeValue(value))
            }
        }
        if target.hasPrefix("/") {
            var scalars = Substring(target)
            while scalars.hasPrefix("//") || scalars.hasPrefix("/\\") { scalars = scalars.dropFirst() }
            target = String(scalars)
        }
        return target
    }
}

/// A line of `_redirects` or `_headers` that was skipped, and why.
public struct RuleProblem: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file) line \(line): \(message)" }

    /// The lines of a rules file, which end with LF or CRLF. (`"\r\n"` is a
    /// single `Character`: splitting on `"\n"` alone would leave a CRLF file
    /// one long line.)
    static func lines(of text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    }
}

/// Parsing of Netlify-style `_redirects` files (the subset `docs/site-rules.md`
/// defines), with LF or CRLF line ends.
public enum RedirectRules {
    public static let maxRules = 2_000
    public static let maxLineLength = 1_000
    static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]
    static let allowedStatuses: Set<Int> = redirectStatuses.union([200, 404])

    /// Parses `text`; invalid lines are skipped and reported, never fatal.
    public static func parse(_ text: String) -> (rules: [RedirectRule], problems: [RuleProblem]) {
        var rules: [RedirectRule] = []
        var problems: [RuleProblem] = []
        func problem(_ line: Int, _ message: String) {
            problems.append(RuleProblem(file: "_redirects", line: line, message: message))
        }
        for (index, rawLine) in RuleProblem.lines(of: text).enumerated() {
            let number = index + 1
            if rawLine.utf8.count > maxLineLength {
                problem(number, "line is longer than \(maxLineLength) characters")
                continue
            }
            let line = stripComment(rawLine)
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if fields.isEmpty { continue }
            if rules.count == maxRules {
                problem(number, "more than \(maxRules) rules; this and later rules are ignored")
                break
            }
            guard fields.count == 2 || fields.count == 3 else {
                problem(
                    number,
                    fields.count < 2
                        ? "expected 'from to [status]', found only '\(fields[0].prefix(100))'"
                        : "expected 'from to [status]'; query and country conditions are not supported")
                continue
            }
            var status = 301
            var force = false
            if fields.count == 3 {
                var code = Substring(fields[2])
                if code.hasSuffix("!") {
                    force = true
                    code = code.dropLast()
                }
                guard let value = Int(code), allowedStatuses.contains(value) else {
                    problem(
                        number,
                        "status '\(fields[2].prefix(20))' is not one of 200, 301, 302, 303, 307, 308, 404 (optionally followed by '!')"
                    )
                    continue
                }
                status = value
            }
            let from: RoutePattern
            do { from = try RoutePattern(fields[0]) } catch {
                problem(number, error.message)
                continue
            }
            let to = fields[1]
            if to.hasPrefix("/") && !to.hasPrefix("//") {
                // A site path.
            } else if to.lowercased().hasPrefix("https://") && to.count > "https://".count {
                guard redirectStatuses.contains(status) else {
                    problem(
                        number,
                        "an absolute URL target is only allowed for redirects (301, 302, 303, 307, 308), not \(status)")
                    continue
                }
            } else {
                problem(number, "target '\(to.prefix(100))' must be a path starting with '/' or an https:// URL")
                continue
            }
            if to.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
                problem(number, "target contains control characters")
                continue
            }
            rules.append(RedirectRule(from: from, to: to, status: status, force: force, line: number))
        }
        return (rules, problems)
    }

    /// Drops a `#` comment: a `#` at the start of the line or after white space.
    static func stripComment(_ line: Substring) -> Substring {
        var previousIsSpace = true
        for index in line.indices {
            let character = line[index]
            if character == "#" && previousIsSpace { return line[..<index] }
            previousIsSpace = character == " " || character == "\t"
        }
        return line
    }
}
