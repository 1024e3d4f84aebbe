import Synchronization

/// The certificates the TLS listener presents, by the name a client asks
/// for (SNI). Each comes from a source (the operator's files, a custom
/// domain's issued certificate: `DomainCertificateLoader`) and is replaced
/// whole when its source changes, without a restart: handshakes that start
/// afterwards get the new one.
///
/// A name is matched exactly, then against a wildcard one label up
/// (`docs.apps.example.com` is covered by `*.apps.example.com`, not
/// `a.docs.apps.example.com`; RFC 6125 §6.4.3). A name nothing covers gets
/// no certificate: its handshake fails, there is no default.
///
/// Two sources may claim the same name (the operator's certificate also
/// naming a custom domain): the one that claimed it last is presented, and
/// when it lets go the other one is again, so removing one source never
/// takes away a name another still holds.
public final class EdgeCertificates: Sendable {
    private struct State {
        var byName: [String: EdgeCertificate] = [:]
        /// What each source holds: its certificate and the names it put it under.
        var bySource: [String: (certificate: EdgeCertificate, names: [String])] = [:]
        /// The sources claiming each name, the most recent last.
        var claims: [String: [String]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Puts `certificate` under every name it covers for `source`, replacing
    /// what `source` had; nil removes what `source` had.
    public func replace(source: String, with certificate: EdgeCertificate?) {
        replace(source: source, with: certificate, names: certificate?.names ?? [])
    }

    /// Puts `certificate` under `names` only (names it covers, normalized)
    /// for `source`, replacing what `source` had; nil removes what `source`
    /// had. A custom domain's certificate is put under its own host name
    /// alone, whatever else the certificate names.
    func replace(source: String, with certificate: EdgeCertificate?, names: [String]) {
        state.withLock { state in
            if let previous = state.bySource.removeValue(forKey: source) {
                for name in previous.names {
                    var claimants = state.claims[name] ?? []
                    claimants.removeAll { $0 == source }
                    if let last = claimants.last, let holder = state.bySource[last] {
                        state.claims[name] = claimants
                        state.byName[name] = holder.certificate
                    } else {
                        state.claims[name] = nil
                        state.byName[name] = nil
                    }
                }
            }
            guard let certificate, !names.isEmpty else { return }
            state.bySource[source] = (certificate, names)
            for name in names {
                state.claims[name, default: []].append(source)
                state.byName[name] = certificate
            }
        }
    }

    /// The certificate for a name a client asked for, if any covers it.
    public func certificate(forServerName serverName: String) -> EdgeCertificate? {
        let name = Self.normalized(serverName)
        return state.withLock { state in
            if let exact = state.byName[name] { return exact }
            guard let wildcard = Self.wildcard(covering: name) else { return nil }
            return state.byName[wildcard]
        }
    }

    /// Whether any certificate is held.
    public var isEmpty: Bool { state.withLock { $0.byName.isEmpty } }

    /// A DNS name as compared: lower-case, without a trailing dot.
    static func normalized(_ name: String) -> String {
        var name = name.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return name
    }

    /// The wildcard name one label up that would cover `name` (normalized):
    /// `*.example.com` for `www.example.com`; nil for a single label.
    static func wildcard(covering name: String) -> String? {
        guard let dot = name.firstIndex(of: "."), name.index(after: dot) < name.endIndex else { return nil }
        return "*" + name[dot...]
    }
}
