import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Reading request bodies strictly: bounded, JSON only, each key once per
/// object, no unknown fields, and every refusal naming what to fix.
enum StrictJSON {
    /// Reads the whole body, refusing more than `limit` bytes with 413.
    /// A `Content-Length` over the limit is refused before anything is read.
    static func collectBody(_ request: Request, limit: Int) async throws -> ByteBuffer {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw AdminError.bodyTooLarge(limit: limit)
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw AdminError.bodyTooLarge(limit: limit)
        }
    }

    /// Decodes the body as `T`. An empty body decodes as `{}` when
    /// `emptyIsObject`, and is refused otherwise.
    static func decode<T: Decodable>(
        _ type: T.Type, from request: Request, limit: Int, emptyIsObject: Bool = false
    ) async throws -> T {
        if let contentType = request.headers[.contentType], !isJSON(contentType) {
            throw AdminError.unsupportedMediaType(contentType)
        }
        var buffer = try await collectBody(request, limit: limit)
        var bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            guard emptyIsObject else { throw AdminError.badJSON("the request body is empty; send a JSON object") }
            bytes = Array("{}".utf8)
        }
        return try decode(type, from: Data(bytes))
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try refuseDuplicateKeys(in: data, subject: "the request body")
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as AdminError {
            throw error
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                throw AdminError.badJSON(
                    "the request body is not valid JSON (\(syntaxProblem(in: data))); send a JSON object")
            }
            throw describe(error)
        }
    }

    /// Refuses with 400 a JSON text that has a key twice in one object,
    /// naming the key and where its second copy starts. Decoders disagree on
    /// which copy counts (Foundation's keeps the first), so such a body
    /// could mean two things. A text that is not JSON at all is left to the
    /// decoder, so its syntax error is the one reported.
    /// - Parameter subject: what the text is, for the message ("the request body").
    static func refuseDuplicateKeys(in data: Data, subject: String) throws {
        guard let duplicate = DuplicateKeyScanner.firstDuplicate(in: Array(data)),
            syntaxError(in: data) == nil
        else { return }
        throw AdminError.badJSON(
            "\(subject) has the key '\(duplicate.path.prefix(200))' twice in one object (the second around character \(duplicate.offset)); send each key once"
        )
    }

    /// Where the JSON breaks, as Foundation's parser reports it
    /// ("Invalid value around character 10."); JSONDecoder itself does not say.
    static func syntaxProblem(in data: Data) -> String {
        syntaxError(in: data) ?? "it could not be parsed"
    }

    /// Foundation's description of the JSON's syntax error; nil when it parses.
    private static func syntaxError(in data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            if let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String, !detail.isEmpty {
                let trimmed = detail.hasSuffix(".") ? String(detail.dropLast()) : detail
                return trimmed.prefix(1).lowercased() + trimmed.dropFirst().prefix(200)
            }
            return "it could not be parsed"
        }
    }

    static func isJSON(_ contentType: String) -> Bool {
        let mediaType =
            contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }

    /// A decoding failure as the client should read it: syntax errors are
    /// 400 with where they are, wrong or missing fields 422 with their name.
    static func describe(_ error: DecodingError) -> AdminError {
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            let detail = (context.underlyingError.map { String(describing: $0) } ?? context.debugDescription)
            return .badJSON("the request body is not valid JSON (\(detail.prefix(300))); send a JSON object")
        case .dataCorrupted(let context):
            return .invalidBody("field '\(fieldPath(context.codingPath))' is invalid: \(context.debugDescription)")
        case .typeMismatch(let expected, let context):
            if context.codingPath.isEmpty { return .invalidBody("the request body must be a JSON object") }
            return .invalidBody("field '\(fieldPath(context.codingPath))' must be \(typeName(expected))")
        case .valueNotFound(let expected, let context):
            if context.codingPath.isEmpty { return .invalidBody("the request body must be a JSON object") }
            return .invalidBody("field '\(fieldPath(context.codingPath))' must be \(typeName(expected)), not null")
        case .keyNotFound(let key, let context):
            return .invalidBody("field '\(fieldPath(context.codingPath + [key]))' is required")
        @unknown default:
            return .invalidBody("the request body could not be read; check it against the API documentation")
        }
    }

    /// `env[2].secret` from a coding path.
    static func fieldPath(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}

/// A coding key for any field name, to see which fields a body has.
struct AnyCodingKey: CodingKey, Hashable {
    let stringValue: String
    let intValue: Int?

    init(_ name: String) {
        self.stringValue = name
        self.intValue = nil
    }

    init?(stringValue: String) { self.init(stringValue) }

    init?(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// One JSON object's fields, read strictly: unknown fields are refused, a
/// field may be absent, null or a value, and type errors name the field.
struct StrictObject {
    let container: KeyedDecodingContainer<AnyCodingKey>

    /// Opens the object `decoder` holds, refusing fields not in `allowed`.
    init(_ decoder: any Decoder, allowed: [String]) throws {
        self.container = try decoder.container(keyedBy: AnyCodingKey.self)
        let unknown = container.allKeys.map(\.stringValue).filter { !allowed.contains($0) }.sorted()
        if !unknown.isEmpty {
            let prefix = StrictJSON.fieldPath(container.codingPath)
            throw AdminError.unknownFields(unknown.map { prefix.isEmpty ? $0 : "\(prefix).\($0)" }, allowed: allowed)
        }
    }

    /// Whether the field is present at all (null included).
    func has(_ name: String) -> Bool { container.contains(AnyCodingKey(name)) }

    /// The field's value, nil when absent or null.
    func optional<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T? {
        try container.decodeIfPresent(type, forKey: AnyCodingKey(name))
    }

    /// The field's value; absent or null is refused.
    func required<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try container.decode(type, forKey: AnyCodingKey(name))
    }

    /// The field as a patch: absent, null (clear it) or a value.
    func patch<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> FieldPatch<T> {
        let key = AnyCodingKey(name)
        guard container.contains(key) else { return .absent }
        if try container.decodeNil(forKey: key) { return .null }
        return .value(try container.decode(type, forKey: key))
    }

    /// The field as a patch that may not be null.
    func nonNullPatch<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T? {
        switch try patch(name, as: type) {
        case .absent: return nil
        case .null:
            let path = StrictJSON.fieldPath(container.codingPath + [AnyCodingKey(name)])
            throw AdminError.invalidBody("field '\(path)' cannot be null; leave it out to keep its value")
        case .value(let value): return value
        }
    }
}

/// A field of a PATCH body.
enum FieldPatch<Value> {
    /// Not in the body: keep the current value.
    case absent
    /// `null`: clear the value.
    case null
    case value(Value)
}

extension FieldPatch: Sendable where Value: Sendable {}
