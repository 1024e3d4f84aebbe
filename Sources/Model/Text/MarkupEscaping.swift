/// Escapes the five characters that are significant in XML and HTML text and
/// attribute values. The apostrophe's entity differs between the two
/// (`&apos;` is XML's, `&#39;` works in every HTML version), so the caller names it.
public func escapeMarkup(_ text: String, apostrophe: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += apostrophe
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}
