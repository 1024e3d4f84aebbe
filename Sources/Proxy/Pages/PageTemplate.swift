import Foundation
import Model
import Storage

/// One of Slipway's own HTML pages with `{{name}}` placeholders.
///
/// Every value is HTML-escaped when it is inserted, so a slug, a build state
/// or a message can never become markup. Pages never receive request text.
struct PageTemplate: Sendable, Hashable {
    enum Part: Sendable, Hashable {
        case literal(String)
        case placeholder(String)
    }

    let name: String
    let parts: [Part]

    /// Parses `source`; only the placeholders in `allowed` may appear.
    /// - Throws: `ProxyError.pagesUnavailable` naming the unknown or unclosed placeholder.
    init(name: String, source: String, allowed: Set<String>) throws(ProxyError) {
        var parts: [Part] = []
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<open.lowerBound]))) }
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}") else {
                throw ProxyError.pagesUnavailable("page '\(name)' has a '{{' without a closing '}}'; fix the template")
            }
            let placeholder = afterOpen[..<close.lowerBound].trimmingCharacters(in: " ")
            guard allowed.contains(placeholder) else {
                let known = allowed.sorted().map { "{{\($0)}}" }.joined(separator: ", ")
                throw ProxyError.pagesUnavailable(
                    "page '\(name)' uses the unknown placeholder '{{\(placeholder.prefix(40))}}'; it may use \(known)")
            }
            parts.append(.placeholder(placeholder))
            rest = afterOpen[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.name = name
        self.parts = parts
    }

    /// The page with each placeholder replaced by its escaped value (empty when missing).
    func render(_ values: [String: String]) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let text): out += text
            case .placeholder(let name): out += escapeHTML(values[name] ?? "")
            }
        }
        return out
    }
}

/// Escapes text for Slipway's HTML pages.
func escapeHTML(_ text: String) -> String {
    escapeMarkup(text, apostrophe: "&#39;")
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var result = self
        while result.first == set { result = result.dropFirst() }
        while result.last == set { result = result.dropLast() }
        return String(result)
    }
}
