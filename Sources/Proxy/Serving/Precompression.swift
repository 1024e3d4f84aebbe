import Model
import NIOHTTP1
import Storage

/// Step 5 of the serving pipeline: the precompressed variant to send, when
/// the build has one the client accepts (`Accept-Encoding`, RFC 9110 §12.5.3).
enum Precompression {
    /// Content codings in order of preference.
    static let preference = ["br", "gzip"]

    /// The coding and variant to serve, or nil for the identity body.
    static func choose(_ headers: HTTPHeaders, variants: [String: ManifestVariant]) -> (
        coding: String, variant: ManifestVariant
    )? {
        guard !variants.isEmpty else { return nil }
        let accepted = acceptedCodings(headers)
        for coding in preference {
            if let variant = variants[coding], accepted(coding) { return (coding, variant) }
        }
        return nil
    }

    /// Whether each coding is acceptable: listed with q > 0 (`x-gzip` counts
    /// as `gzip`), or covered by `*` with q > 0 and not listed with q = 0.
    static func acceptedCodings(_ headers: HTTPHeaders) -> (String) -> Bool {
        var qualities: [String: Bool] = [:]
        var wildcard: Bool?
        for value in headers["accept-encoding"] {
            for element in value.split(separator: ",") {
                let parts = element.split(separator: ";")
                guard var coding = parts.first?.trimmingSpaces().lowercased(), !coding.isEmpty else { continue }
                if coding == "x-gzip" { coding = "gzip" }
                var acceptable = true
                for parameter in parts.dropFirst() {
                    let pair = parameter.split(separator: "=", maxSplits: 1)
                    guard pair.count == 2, pair[0].trimmingSpaces().lowercased() == "q" else { continue }
                    acceptable = (Double(pair[1].trimmingSpaces()) ?? 0) > 0
                }
                if coding == "*" { wildcard = acceptable } else { qualities[coding] = acceptable }
            }
        }
        return { coding in qualities[coding] ?? wildcard ?? false }
    }
}
