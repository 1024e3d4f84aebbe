import Foundation
package import Logging
public import Model
package import PostgresNIO
public import Storage

/// How catalog events travel between the processes of a fleet.
///
/// The catalog writes each event into `catalog_event` and announces it with
/// `pg_notify` *inside the transaction that causes it*: PostgreSQL delivers
/// the notification at commit, in commit order, and never for a transaction
/// that rolled back. Every process's ``PostgresEventBus`` listens on the
/// schema's channel and hands the events to its subscribers.
///
/// A notification's payload is `<seq>` or `<seq> <json>`: the event itself
/// rides along only for builds and activations, whose JSON holds no secret
/// and fits under PostgreSQL's 8,000-byte payload limit; a site's events
/// (whose settings hold secret values) and anything larger are read back from
/// the table by their sequence number.
public enum EventOutbox {
    /// The largest event JSON sent inside a notification.
    public static let inlineLimit = 7_000

    /// The tables events and live logs are kept in, for the schema migration.
    public static let tables: [String] = [
        """
        CREATE TABLE catalog_event (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at bigint NOT NULL,
            payload text NOT NULL
        )
        """,
        "CREATE INDEX catalog_event_at ON catalog_event (at)",
        """
        CREATE TABLE build_log_chunk (
            build_id text NOT NULL,
            seq bigint GENERATED ALWAYS AS IDENTITY,
            at bigint NOT NULL,
            line_count integer NOT NULL,
            bytes integer NOT NULL,
            lines text NOT NULL,
            PRIMARY KEY (build_id, seq)
        )
        """,
        "CREATE INDEX build_log_chunk_at ON build_log_chunk (at)",
        """
        CREATE TABLE build_log_end (
            build_id text PRIMARY KEY,
            at bigint NOT NULL
        )
        """,
    ]

    /// Records `event` and notifies `channel`, on `connection`, inside the
    /// caller's transaction.
    /// - Parameters:
    ///   - now: the transaction's time, milliseconds since 1970.
    ///   - origin: for an event a bus published itself, `<bus id>:<number>`,
    ///     so that its subscribers from before the publication can skip it.
    ///   - sealed: seals a site event's secrets; nil keeps them as they are
    ///     (a bus without a keyring, publishing its own events).
    package static func record(
        _ event: CatalogEvent, on connection: PostgresConnection, channel: String, now: Int64, logger: Logger,
        origin: String? = nil, sealed: SealedFields? = nil
    ) async throws {
        let json = try StoredEvent(event, sealed: sealed).encoded()
        let rows = try await connection.query(
            "INSERT INTO catalog_event (at, payload) VALUES (\(now), \(json)) RETURNING seq", logger: logger)
        var seq: Int64 = 0
        for try await value in rows.decode(Int64.self) { seq = value }
        let carriesNoSecret: Bool
        switch event {
        case .buildChanged, .activated, .domainChanged, .domainRemoved: carriesNoSecret = true
        case .siteCreated, .siteUpdated, .siteDeleted: carriesNoSecret = false
        }
        let head = origin.map { "\(seq)/\($0)" } ?? "\(seq)"
        let payload = carriesNoSecret && json.utf8.count <= inlineLimit ? "\(head) \(json)" : head
        _ = try await connection.query("SELECT pg_notify(\(channel), \(payload))", logger: logger)
    }

    /// A notification's payload, `<seq>[/<origin>][ <json>]`: the event's
    /// sequence number, the origin of a bus's own publication, and the event
    /// when it came inline.
    public static func parse(payload: String) -> (seq: Int64, origin: Substring?, event: CatalogEvent?)? {
        let parts = payload.split(separator: " ", maxSplits: 1)
        guard let head = parts.first else { return nil }
        let headParts = head.split(separator: "/", maxSplits: 1)
        guard let seq = Int64(headParts[0]) else { return nil }
        let origin = headParts.count == 2 ? headParts[1] : nil
        guard parts.count == 2 else { return (seq, origin, nil) }
        // Inline events are never site events, which carry sealed secrets.
        return (seq, origin, (try? StoredEvent.decode(String(parts[1])))?.event())
    }
}

/// A ``CatalogEvent`` as JSON: `{"kind": "activated", "activation": {…}}`.
public struct StoredEvent: Codable, Sendable {
    public var kind: String
    public var site: Site?
    public var build: Build?
    public var activation: Activation?
    public var domain: CustomDomain?

    /// A site event is kept with the site's secrets sealed (see
    /// `SealedFields`): the table is read by every node and kept for hours.
    package init(_ event: CatalogEvent, sealed: SealedFields? = nil) {
        let keep: (Site) -> Site = { site in sealed?.seal(site) ?? site }
        switch event {
        case .siteCreated(let site): self.init(kind: "siteCreated", site: keep(site))
        case .siteUpdated(let site): self.init(kind: "siteUpdated", site: keep(site))
        case .siteDeleted(let site): self.init(kind: "siteDeleted", site: keep(site))
        case .buildChanged(let build): self.init(kind: "buildChanged", build: build)
        case .activated(let activation): self.init(kind: "activated", activation: activation)
        case .domainChanged(let domain): self.init(kind: "domainChanged", domain: domain)
        case .domainRemoved(let domain): self.init(kind: "domainRemoved", domain: domain)
        }
    }

    private init(
        kind: String, site: Site? = nil, build: Build? = nil, activation: Activation? = nil,
        domain: CustomDomain? = nil
    ) {
        self.kind = kind
        self.site = site
        self.build = build
        self.activation = activation
        self.domain = domain
    }

    /// The event, a site's secrets opened with `sealed`; nil for a kind or
    /// shape this version does not know, or secrets that do not open.
    package func event(opening sealed: SealedFields? = nil) -> CatalogEvent? {
        let site = self.site.flatMap { site in sealed.map { try? $0.open(site) } ?? site }
        return switch kind {
        case "siteCreated": site.map(CatalogEvent.siteCreated)
        case "siteUpdated": site.map(CatalogEvent.siteUpdated)
        case "siteDeleted": site.map(CatalogEvent.siteDeleted)
        case "buildChanged": build.map(CatalogEvent.buildChanged)
        case "activated": activation.map(CatalogEvent.activated)
        case "domainChanged": domain.map(CatalogEvent.domainChanged)
        case "domainRemoved": domain.map(CatalogEvent.domainRemoved)
        default: nil
        }
    }

    public func encoded() throws -> String {
        String(decoding: try OutboxJSON.encoder.encode(self), as: UTF8.self)
    }

    public static func decode(_ json: String) throws -> StoredEvent {
        try OutboxJSON.decoder.decode(StoredEvent.self, from: Data(json.utf8))
    }
}

/// The JSON of events and log lines kept in PostgreSQL: times to the
/// millisecond, as the catalog keeps them.
enum OutboxJSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()
}
