import Foundation
package import Model

/// How a catalog keeps a deployment's secrets: sealed with the keyring
/// (``SecretKeyring``) in the columns that hold them, so a copy of the
/// database file, a backup or a database dump never shows one in clear.
///
/// Sealed: the values of build variables marked secret (inside the `env`
/// JSON), the webhook secret, the notify URL (whose userinfo and query may
/// hold credentials) and the repository access token. Each is sealed for its
/// deployment and field, so a sealed value moved to another row does not open.
///
/// A value written before sealing existed reads as it is; the catalog seals
/// such values, and values sealed under a key that is no longer the first,
/// when it opens (``SQLiteCatalog`` at start, ``Catalog/resealSecrets()``).
package struct SealedFields: Sendable {
    package enum Field: String, Sendable {
        case env
        case webhookSecret = "webhook-secret"
        case notifyURL = "notify-url"
        case repoToken = "repo-token"
    }

    package let keyring: SecretKeyring

    package init(keyring: SecretKeyring) {
        self.keyring = keyring
    }

    package static func purpose(_ field: Field, siteID: SiteID) -> String {
        "site/\(siteID.rawValue)/\(field.rawValue)"
    }

    /// `value` sealed for the deployment's `field`; nil stays nil.
    package func seal(_ value: String?, _ field: Field, siteID: SiteID) -> String? {
        value.map { keyring.seal($0, purpose: Self.purpose(field, siteID: siteID)) }
    }

    /// The clear value of a stored one; a value from before sealing is returned as it is.
    /// - Throws: `unavailable` when it does not open (a key is missing, or it was altered).
    package func open(_ stored: String?, _ field: Field, siteID: SiteID) throws(CatalogError) -> String? {
        guard let stored, SecretKeyring.isSealed(stored) else { return stored }
        do {
            return try keyring.open(stored, purpose: Self.purpose(field, siteID: siteID))
        } catch {
            throw CatalogError.unavailable(
                "the \(field.rawValue) of deployment \(siteID.rawValue) cannot be opened: \(error)")
        }
    }

    /// The variables with every secret value sealed.
    package func seal(_ env: [BuildVariable], siteID: SiteID) -> [BuildVariable] {
        env.map { variable in
            guard variable.secret else { return variable }
            var sealed = variable
            sealed.value = keyring.seal(variable.value, purpose: Self.purpose(.env, siteID: siteID))
            return sealed
        }
    }

    /// The variables with every secret value opened.
    package func open(_ env: [BuildVariable], siteID: SiteID) throws(CatalogError) -> [BuildVariable] {
        var opened = env
        for index in opened.indices where opened[index].secret {
            opened[index].value = try open(opened[index].value, .env, siteID: siteID) ?? ""
        }
        return opened
    }

    /// The `env` column's JSON, secret values sealed.
    package func envJSON(_ env: [BuildVariable], siteID: SiteID) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(seal(env, siteID: siteID)), as: UTF8.self)
    }

    /// The variables of an `env` column, secret values opened.
    package func env(json: String, siteID: SiteID) throws(CatalogError) -> [BuildVariable] {
        let stored: [BuildVariable]
        do {
            stored = try JSONDecoder().decode([BuildVariable].self, from: Data(json.utf8))
        } catch {
            throw CatalogError.unavailable(
                "deployment \(siteID.rawValue) holds unreadable env JSON; restore the catalog from a backup")
        }
        return try open(stored, siteID: siteID)
    }

    /// A site as an event kept in the database carries it: its secrets sealed.
    package func seal(_ site: Site) -> Site {
        site.replacingSecrets(
            env: seal(site.env, siteID: site.id), notifyURL: seal(site.notifyURL, .notifyURL, siteID: site.id))
    }

    /// A site read back from a kept event: its secrets opened.
    package func open(_ site: Site) throws(CatalogError) -> Site {
        site.replacingSecrets(
            env: try open(site.env, siteID: site.id), notifyURL: try open(site.notifyURL, .notifyURL, siteID: site.id))
    }

    /// Whether a stored value should be written again: it is clear, or
    /// sealed under a key that is no longer the first.
    package func needsSealing(_ stored: String?) -> Bool {
        guard let stored else { return false }
        return keyring.needsSealing(stored)
    }

    /// A repository URL with credentials in it (written before they had a
    /// field of their own) split into the URL without them and the token
    /// they make (`USER:PASSWORD`, or the user alone, percent-decoded); nil
    /// when the URL has none.
    package static func splitCredentials(ofRepoURL url: String) -> (url: String, token: String)? {
        guard let userinfo = URLUserinfo.userinfo(of: url) else { return nil }
        let parts = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map {
            String($0).removingPercentEncoding ?? String($0)
        }
        let token = parts.count == 2 && !parts[1].isEmpty ? "\(parts[0]):\(parts[1])" : parts[0]
        return (URLUserinfo.removed(from: url), token)
    }

    /// The columns of a `site` row that hold secrets (and the repository
    /// URL, whose old credentials move to the token).
    package struct SiteColumns: Sendable, Equatable {
        package var repoURL: String
        package var env: String
        package var webhookSecret: String?
        package var notifyURL: String?
        package var repoToken: String?

        package init(repoURL: String, env: String, webhookSecret: String?, notifyURL: String?, repoToken: String?) {
            self.repoURL = repoURL
            self.env = env
            self.webhookSecret = webhookSecret
            self.notifyURL = notifyURL
            self.repoToken = repoToken
        }
    }

    /// A site row's columns as they should be stored: every secret sealed
    /// under the current key, credentials in the repository URL moved to
    /// the token; nil when the row is already so.
    package func resealed(_ stored: SiteColumns, siteID id: SiteID) throws -> SiteColumns? {
        let split = Self.splitCredentials(ofRepoURL: stored.repoURL)
        guard
            split != nil || needsSealing(envJSON: stored.env) || needsSealing(stored.webhookSecret)
                || needsSealing(stored.notifyURL) || needsSealing(stored.repoToken)
        else { return nil }
        var token = try open(stored.repoToken, .repoToken, siteID: id)
        if let split, token == nil { token = split.token }
        return SiteColumns(
            repoURL: split?.url ?? stored.repoURL,
            env: try envJSON(try env(json: stored.env, siteID: id), siteID: id),
            webhookSecret: seal(try open(stored.webhookSecret, .webhookSecret, siteID: id), .webhookSecret, siteID: id),
            notifyURL: seal(try open(stored.notifyURL, .notifyURL, siteID: id), .notifyURL, siteID: id),
            repoToken: seal(token, .repoToken, siteID: id))
    }

    /// Whether an `env` column holds a secret value that should be written again.
    package func needsSealing(envJSON json: String) -> Bool {
        guard let stored = try? JSONDecoder().decode([BuildVariable].self, from: Data(json.utf8)) else { return false }
        return stored.contains { $0.secret && keyring.needsSealing($0.value) }
    }
}
