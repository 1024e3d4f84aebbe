import Model
import NIOHTTP1

/// Step 7 of the serving pipeline: byte ranges (RFC 9110 §14).
///
/// Slipway serves one range per response: a single satisfiable range is a
/// 206, an unsatisfiable one a 416 with `Content-Range: bytes */N`, and
/// several ranges (overlapping or not) get the whole body with 200 — a
/// client can never make the proxy send more than the object
/// (no amplification) and no multipart body is ever built.
enum RangeRequest {
    enum Outcome: Sendable, Hashable {
        /// Send the whole representation with 200 (no range, an ignored or
        /// malformed one, or several).
        case full
        /// Send these bytes with 206.
        case partial(Range<Int64>)
        /// 416 with `Content-Range: bytes */<size>`.
        case unsatisfiable
    }

    /// The outcome of the request's `Range` header for a representation of `size` bytes.
    static func evaluate(_ headers: HTTPHeaders, size: Int64) -> Outcome {
        let values = headers["range"]
        guard values.count == 1 else { return .full }
        return evaluate(values[0], size: size)
    }

    /// The outcome of one `Range` header value.
    static func evaluate(_ value: String, size: Int64) -> Outcome {
        let trimmed = value.trimmingSpaces()
        guard let equals = trimmed.firstIndex(of: "="),
            trimmed[..<equals].trimmingSpaces().lowercased() == "bytes"
        else { return .full } // another unit: ignored
        let specs = trimmed[trimmed.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingSpaces() }
        var parsed: [Spec] = []
        for spec in specs {
            if spec.isEmpty { continue } // `bytes=0-1,` tolerates empty list elements (RFC 9110 §5.6.1)
            guard let one = Spec(spec) else { return .full } // malformed: ignore the header
            parsed.append(one)
        }
        guard parsed.count == 1 else { return .full }
        return parsed[0].resolve(size: size).map { .partial($0) } ?? .unsatisfiable
    }

    /// `Content-Range` of a partial response.
    static func contentRange(_ range: Range<Int64>, size: Int64) -> String {
        "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)"
    }

    /// `Content-Range` of a 416.
    static func unsatisfiedContentRange(size: Int64) -> String {
        "bytes */\(size)"
    }

    private enum Spec {
        case fromTo(Int64, Int64?)
        case suffix(Int64)

        init?(_ text: Substring) {
            guard let dash = text.firstIndex(of: "-") else { return nil }
            let first = text[..<dash]
            let last = text[text.index(after: dash)...]
            if first.isEmpty {
                guard let length = Self.number(last) else { return nil }
                self = .suffix(length)
            } else {
                guard let start = Self.number(first) else { return nil }
                if last.isEmpty {
                    self = .fromTo(start, nil)
                } else {
                    guard let end = Self.number(last), end >= start else { return nil }
                    self = .fromTo(start, end)
                }
            }
        }

        /// Digits only, at most 18 of them (no sign, no overflow).
        static func number(_ text: Substring) -> Int64? {
            guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                return nil
            }
            return Int64(text)
        }

        func resolve(size: Int64) -> Range<Int64>? {
            switch self {
            case .fromTo(let start, let end):
                guard start < size else { return nil }
                return start..<(min(end ?? (size - 1), size - 1) + 1)
            case .suffix(let length):
                guard length > 0, size > 0 else { return nil }
                return max(0, size - length)..<size
            }
        }
    }
}
