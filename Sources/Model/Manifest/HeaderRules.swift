/// One `_headers` block: a path pattern and the header changes for paths it matches.
public struct HeaderRule: Codable, Sendable, Equatable {
    public var pattern: RoutePattern
    public var operations: [HeaderOperation]
    /// Line number of the pattern in `_headers`, for messages.
    public var line: Int

    public init(pattern: RoutePattern, operations: [HeaderOperation], line: Int) {
        self.pattern = pattern
        self.operations = operations
        self.line = line
    }
}

/// Set a header (`Name: value`) or, with a nil value, remove it (`! Name`).
public struct HeaderOperation: Codable, Sendable, Equatable {
    public var name: String
    public var value: String?

    public init(name: String, value: String?) {
        self.name = name
        self.value = value
    }
}

/// The outcome of every `_headers` block matching one path.
public struct CustomHeaders: Sendable, Equatable {
    /// Headers to send, in first-set order; a header set by several blocks
    /// has its values joined with `, `.
    public var headers: [(name: String, value: String)] = []
    /// Lower-cased names to remove from the response (including Slipway's defaults).
    public var removed: Set<String> = []

    public init() {}

    public var isEmpty: Bool { headers.isEmpty && removed.isEmpty }

    public static func == (lhs: CustomHeaders, rhs: CustomHeaders) -> Bool {
        lhs.removed == rhs.removed
            && lhs.headers.map { "\($0.name)\u{0}\($0.value)" } == rhs.headers.map { "\($0.name)\u{0}\($0.value)" }
    }
}

/// Parsing and applying Netlify-style `_headers` files (the subset
/// `docs/site-rules.md` defines), with LF or CRLF line ends.
public enum HeaderRules {
    public static let maxRules = 100
    public static let maxLineLength = 2_000
    /// Headers a site can never set or remove: framing, encoding and what
    /// would let one site act on another's cookies or redirects.
    public static let forbidden: Set<String> = [
        "content-length", "content-encoding", "content-range", "transfer-encoding", "connection", "set-cookie",
        "location", "keep-alive", "upgrade", "te", "trailer", "proxy-connection",
    ]

    /// Parses `text`; invalid lines are skipped and reported, never fatal.
    public static func parse(_ text: String) -> (rules: [HeaderRule], problems: [RuleProblem]) {
        var rules: [HeaderRule] = []
        var problems: [RuleProblem] = []
        var current: HeaderRule?
        var skippingBlock = false
        func problem(_ line: Int, _ message: String) {
            problems.append(RuleProblem(file: "_headers", line: line, message: message))
        }
        func finish() {
            if let rule = current, !rule.operations.isEmpty { rules.append(rule) }
            current = nil
        }
        for (index, rawLine) in RuleProblem.lines(of: text).enumerated() {
            let number = index + 1
            if rawLine.utf8.count > maxLineLength {
                problem(number, "line is longer than \(maxLineLength) characters")
                continue
            }
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let indented = line.first == " " || line.first == "\t"
            if !indented {
                finish()
                skippingBlock = false
                if rules.count == maxRules {
                    problem(number, "more than \(maxRules) rules; this and later rules are ignored")
                    break
                }
                do {
                    current = HeaderRule(pattern: try RoutePattern(String(trimmed)), operations: [], line: number)
                } catch {
                    problem(number, error.message)
                    skippingBlock = true
                }
                continue
            }
            if skippingBlock { continue }
            guard current != nil else {
                problem(number, "a header line must follow a path line such as '/*'")
                continue
            }
            if trimmed.hasPrefix("!") {
                let name = String(trimmed.dropFirst().trimmingSpaces())
                guard let problemText = check(name: name) else {
                    current!.operations.append(HeaderOperation(name: name, value: nil))
                    continue
                }
                problem(number, problemText)
                continue
            }
            guard let colon = trimmed.firstIndex(of: ":") else {
                problem(number, "expected 'Name: value' or '! Name'")
                continue
            }
            let name = String(trimmed[..<colon].trimmingSpaces())
            let value = String(trimmed[trimmed.index(after: colon)...].trimmingSpaces())
            if let problemText = check(name: name) {
                problem(number, problemText)
                continue
            }
            if value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7f }) {
                problem(number, "the value of '\(name)' contains control characters")
                continue
            }
            current!.operations.append(HeaderOperation(name: name, value: value))
        }
        finish()
        return (rules, problems)
    }

    /// Applies every rule matching `path`, in order.
    public static func resolve(_ rules: [HeaderRule], for path: String) -> CustomHeaders {
        var result = CustomHeaders()
        guard !rules.isEmpty else { return result }
        // Split once for every rule: the cost stays linear in the path.
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let trailingSlash = path.hasSuffix("/")
        for rule in rules where rule.pattern.match(segments: segments, trailingSlash: trailingSlash) != nil {
            for operation in rule.operations {
                let lower = operation.name.lowercased()
                if let value = operation.value {
                    result.removed.remove(lower)
                    if let existing = result.headers.firstIndex(where: { $0.name.lowercased() == lower }) {
                        result.headers[existing].value += ", " + value
                    } else {
                        result.headers.append((operation.name, value))
                    }
                } else {
                    result.headers.removeAll { $0.name.lowercased() == lower }
                    result.removed.insert(lower)
                }
            }
        }
        return result
    }

    /// Why `name` cannot be used, or nil when it can.
    static func check(name: String) -> String? {
        if name.isEmpty { return "empty header name" }
        let tokenCharacters = Set(
            "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".unicodeScalars)
        guard name.unicodeScalars.allSatisfy({ tokenCharacters.contains($0) }) else {
            return "'\(name.prefix(100))' is not a valid header name"
        }
        if forbidden.contains(name.lowercased()) { return "'\(name)' cannot be set from _headers" }
        return nil
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}
