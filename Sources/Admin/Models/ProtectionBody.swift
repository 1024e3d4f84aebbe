import Foundation
import Model

/// `protection` in a create or update body: `{mode, username, password,
/// previewsOnly}`, every field optional. The password is write-only: it is
/// hashed here (``PasswordHash``) and never stored, logged or returned.
struct ProtectionInput: Decodable, Sendable {
    let mode: ProtectionMode?
    let username: FieldPatch<String>
    let password: String?
    let previewsOnly: Bool?

    static let fields = ["mode", "username", "password", "previewsOnly"]

    init(from decoder: any Decoder) throws {
        let object = try StrictObject(decoder, allowed: Self.fields)
        mode = try object.optional("mode", as: ProtectionModeInput.self)?.mode
        username = try object.patch("username")
        password = try object.optional("password")
        previewsOnly = try object.optional("previewsOnly")
    }

    /// The protection after this input is applied to `current`, and the
    /// new password, checked (hashed by ``hashed(_:)``). Whether a password
    /// is needed at all (turning protection on, changing its mode or
    /// username) is the catalog's rule; the message it gives names
    /// `protection.password`.
    /// - Throws: `invalid_input` (422) saying what to fix.
    func applied(to current: SiteProtection) throws -> (protection: SiteProtection, password: String?) {
        var next = current
        if let mode { next.mode = mode }
        if let previewsOnly { next.previewsOnly = previewsOnly }
        switch username {
        case .absent: break
        case .null: next.username = nil
        case .value(let name):
            guard next.mode == .basic else {
                throw AdminError.invalidBody("protection.username is only used with mode 'basic'; leave it out")
            }
            next.username = name
        }
        if next.mode != .basic { next.username = nil }
        if next.mode == .basic {
            guard let name = next.username else {
                throw AdminError.invalidBody(
                    "protection.username is required with mode 'basic'; give the name visitors sign in with")
            }
            if let problem = SiteProtection.usernameProblem(name) { throw AdminError.invalidBody(problem) }
        }
        guard let password else { return (next, nil) }
        guard next.mode != .none else {
            throw AdminError.invalidBody(
                "protection.password is only taken with mode 'password' or 'basic'; leave it out to turn protection off"
            )
        }
        if let problem = SiteProtection.passwordProblem(password) { throw AdminError.invalidBody(problem) }
        return (next, password)
    }

    /// The hash of a new password, computed off the request's thread of
    /// control (scrypt takes tens of milliseconds on purpose).
    static func hashed(_ password: String?) async -> String? {
        guard let password else { return nil }
        return await Task.detached { PasswordHash.make(password) }.value
    }
}

/// A protection mode named in a body, refused with the accepted names when unknown.
struct ProtectionModeInput: Decodable, Sendable {
    let mode: ProtectionMode

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let mode = ProtectionMode(rawValue: text) else {
            let path = StrictJSON.fieldPath(decoder.codingPath)
            throw AdminError.invalidBody(
                "field '\(path)' must be one of \(ProtectionMode.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")), not '\(text.prefix(40))'"
            )
        }
        self.mode = mode
    }
}

/// `protection` as the API returns it: never the password or its hash.
struct ProtectionJSON: Encodable, Sendable {
    let protection: SiteProtection

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        try container.encode(protection.mode.rawValue, forKey: AnyCodingKey("mode"))
        try container.encode(protection.username, forKey: AnyCodingKey("username"))
        try container.encode(protection.previewsOnly, forKey: AnyCodingKey("previewsOnly"))
        try container.encode(protection.version, forKey: AnyCodingKey("version"))
    }
}
