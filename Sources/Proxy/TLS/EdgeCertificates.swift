import Synchronization

/// The certificates the TLS listener presents, by the name a client asks
/// for (SNI). Each comes from a source (the operator's files today, a
/// custom domain's issued certificate tomorrow) and is replaced whole when
/// its source changes, without a restart: handshakes that start afterwards
/// get the new one.
///
/// A name is matched exactly, then against a wildcard one label up
/// (`docs.apps.example.com` is covered by `*.apps.example.com`, not
/// `a.docs.apps.example.com`; RFC 6125 §6.4.3). A name nothing covers gets
/// no certificate: its handshake fails, there is no default.
public final class EdgeCertificates: Sendable {
    private struct State {
        var byName: [String: EdgeCertificate] = [:]
        /// The names each source put in `byName`.
        var namesBySource: [String: [String]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Puts `certificate` under every name it covers for `source`, replacing
    /// what `source` had; nil removes what `source` had.
    public func replace(source: String, with certificate: EdgeCertificate?) {
        state.withLock { state in
            for name in state.namesBySource.removeValue(forKey: source) ?? [] {
                state.byName.removeValue(forKey: name)
            }
            guard let certificate else { return }
            for name in certificate.names { state.byName[name] = certificate }
            state.namesBySource[source] = certificate.names
        }
    }

    /// The certificate for a name a client asked for, if any covers it.
    public func certificate(forServerName serverName: String) -> EdgeCertificate? {
        let name = Self.normalized(serverName)
        return state.withLock { state in
            if let exact = state.byName[name] { return exact }
            guard let dot = name.firstIndex(of: "."), name.index(after: dot) < name.endIndex else { return nil }
            return state.byName["*" + name[dot...]]
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
}
