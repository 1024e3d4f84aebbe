public import Foundation
public import Model
public import Storage
import Synchronization

/// The proxy's in-memory routing table: slug -> site, active build, SPA mode,
/// successful builds (for preview URLs), the state of unfinished builds
/// (for the building and failure pages), and the custom domains by host
/// name with their states.
///
/// It is loaded from the catalog at start and kept current by catalog events
/// (`SiteTable+Sync.swift`), so answering a request never waits on the
/// database. Lookups take one uncontended lock and copy out a value.
public final class SiteTable: Sendable {
    /// A build's number and status, as the pages show them.
    public struct BuildState: Sendable, Hashable {
        public var number: Int
        public var status: BuildStatus

        public init(number: Int, status: BuildStatus) {
            self.number = number
            self.status = status
        }
    }

    /// What a site can serve right now.
    public enum Availability: Sendable, Hashable {
        /// The active build.
        case live(BuildID)
        /// No active build yet, and a build is queued, running or about to be
        /// activated: the building page.
        case building(BuildState)
        /// No active build, and the newest build failed or was canceled: the failure page.
        case failed(BuildState)
        /// No active build and no build at all.
        case notDeployed
    }

    /// One site as the proxy knows it.
    public struct Entry: Sendable, Hashable {
        public var siteID: SiteID
        public var slug: String
        public var spa: SpaMode
        public var activeBuildID: BuildID?
        /// Successful builds by number: the builds preview URLs can reach.
        public var successfulBuilds: [Int: BuildID]
        /// Builds queued or running.
        public var unfinishedBuilds: [BuildID: BuildState]
        /// The newest build that has ended.
        public var latestFinished: BuildState?
        /// Who may visit (never the password's hash).
        public var protection: SiteProtection
        /// Successful builds that were the active build before, with when
        /// they were replaced: the few most recent (at most
        /// ``maxReplacedBuilds``), for skew protection.
        public var replacedBuilds: [BuildID: Date] = [:]

        /// How many replaced builds an entry remembers.
        public static let maxReplacedBuilds = 3

        public init(site: Site) {
            self.siteID = site.id
            self.slug = site.slug
            self.spa = site.spa
            self.activeBuildID = site.activeBuildID
            self.successfulBuilds = [:]
            self.unfinishedBuilds = [:]
            self.latestFinished = nil
            self.protection = site.protection
        }

        /// What the site serves: its active build, or which page explains why there is none.
        public var availability: Availability {
            if let activeBuildID { return .live(activeBuildID) }
            if let newest = unfinishedBuilds.values.max(by: { $0.number < $1.number }) { return .building(newest) }
            guard let latestFinished else { return .notDeployed }
            // A successful build that is not active yet is between its
            // success and its activation: it goes live in a moment.
            return latestFinished.status == .success ? .building(latestFinished) : .failed(latestFinished)
        }

        /// Takes a build's new status into account.
        mutating func record(_ build: Build) {
            let state = BuildState(number: build.number, status: build.status)
            if build.status.isFinal {
                unfinishedBuilds[build.id] = nil
                if latestFinished.map({ $0.number <= build.number }) ?? true { latestFinished = state }
            } else {
                unfinishedBuilds[build.id] = state
            }
            if build.status == .success {
                successfulBuilds[build.number] = build.id
                if let replacedAt = build.replacedAt, build.id != activeBuildID {
                    noteReplaced(build.id, at: replacedAt)
                }
            } else {
                if successfulBuilds[build.number] == build.id { successfulBuilds[build.number] = nil }
                replacedBuilds[build.id] = nil
            }
        }

        /// Remembers that `buildID` stopped being the active build at `date`,
        /// forgetting the oldest beyond ``maxReplacedBuilds``.
        mutating func noteReplaced(_ buildID: BuildID, at date: Date) {
            replacedBuilds[buildID] = max(date, replacedBuilds[buildID] ?? date)
            while replacedBuilds.count > Self.maxReplacedBuilds,
                let oldest = replacedBuilds.min(by: { $0.value < $1.value })?.key
            {
                replacedBuilds[oldest] = nil
            }
        }

        /// The builds replaced less than `window` before `now`, most recently replaced first.
        public func recentlyReplaced(within window: Duration, now: Date) -> [BuildID] {
            guard !replacedBuilds.isEmpty else { return [] }
            let cutoff = now.addingTimeInterval(-Double(window.components.seconds))
            return replacedBuilds.filter { $0.value > cutoff && $0.key != activeBuildID }
                .sorted { $0.value > $1.value }.map(\.key)
        }

        /// Takes new site settings (slug, SPA mode, active build) into account.
        mutating func update(from site: Site) {
            slug = site.slug
            spa = site.spa
            activeBuildID = site.activeBuildID
            protection = site.protection
        }
    }

    struct Table: Sendable {
        var bySlug: [String: Entry] = [:]
        var slugByID: [SiteID: String] = [:]
        /// Custom domains, by host name, whatever their state.
        var domains: [String: CustomDomain] = [:]

        mutating func upsert(_ site: Site) {
            if let oldSlug = slugByID[site.id], var entry = bySlug.removeValue(forKey: oldSlug) {
                entry.update(from: site)
                insert(entry)
            } else {
                insert(Entry(site: site))
            }
        }

        mutating func insert(_ entry: Entry) {
            // A slug freed by one site and taken by another: the newer owner wins.
            if let previous = bySlug[entry.slug], previous.siteID != entry.siteID { slugByID[previous.siteID] = nil }
            bySlug[entry.slug] = entry
            slugByID[entry.siteID] = entry.slug
        }

        mutating func remove(siteID: SiteID) {
            guard let slug = slugByID.removeValue(forKey: siteID) else { return }
            if bySlug[slug]?.siteID == siteID { bySlug[slug] = nil }
        }

        mutating func modify(siteID: SiteID, _ change: (inout Entry) -> Void) {
            guard let slug = slugByID[siteID], var entry = bySlug[slug] else { return }
            change(&entry)
            bySlug[slug] = entry
        }

        mutating func apply(_ event: CatalogEvent, at now: Date) {
            switch event {
            case .siteCreated(let site), .siteUpdated(let site):
                upsert(site)
            case .siteDeleted(let site):
                remove(siteID: site.id)
                domains = domains.filter { $0.value.siteID != site.id }
            case .buildChanged(let build):
                modify(siteID: build.siteID) { $0.record(build) }
            case .activated(let activation):
                modify(siteID: activation.siteID) { entry in
                    entry.activeBuildID = activation.buildID
                    entry.successfulBuilds[activation.buildNumber] = activation.buildID
                    entry.replacedBuilds[activation.buildID] = nil
                    if let previous = activation.previousBuildID, previous != activation.buildID {
                        entry.noteReplaced(previous, at: now)
                    }
                }
            case .domainChanged(let domain):
                domains[domain.hostname] = domain
            case .domainRemoved(let domain):
                if domains[domain.hostname]?.siteID == domain.siteID { domains[domain.hostname] = nil }
            }
        }
    }

    private struct State: Sendable {
        var table = Table()
        /// Events applied while a reload is reading the catalog; replayed on
        /// top of the reloaded table so that none is lost.
        var recording: [(event: CatalogEvent, at: Date)]?
        var generation = 0
    }

    private let state = Mutex(State())
    /// Whether any custom domain is known: requests to apps-domain hosts
    /// skip the domain lookups while none is.
    private let anyDomain = Atomic<Bool>(false)
    /// Counts changes; see ``version``.
    private let changes = Atomic<UInt64>(0)

    /// What the time is when an activation is applied (when its previous
    /// build was replaced).
    private let clock: @Sendable () -> Date

    /// An empty table; fill it with ``reload(from:)``.
    public init(clock: @escaping @Sendable () -> Date = Date.init) {
        self.clock = clock
    }

    /// The site answering at `slug`, if any.
    public func lookup(slug: String) -> Entry? {
        state.withLock { $0.table.bySlug[slug] }
    }

    /// The site with this id, if any.
    public func lookup(siteID: SiteID) -> Entry? {
        state.withLock { state in state.table.slugByID[siteID].flatMap { state.table.bySlug[$0] } }
    }

    /// The custom domain with this host name (lower-case, no port), whatever its state.
    public func domain(host: String) -> CustomDomain? {
        state.withLock { $0.table.domains[host] }
    }

    /// Whether any custom domain is known.
    public var hasDomains: Bool { anyDomain.load(ordering: .relaxed) }

    /// Every custom domain, by host name.
    public var domains: [String: CustomDomain] { state.withLock { $0.table.domains } }

    /// Every site, by slug (diagnostics and tests).
    public var entries: [String: Entry] { state.withLock { $0.table.bySlug } }

    /// Grows after every change to the table (an event applied, a reload).
    /// An answer worked out from the table is still right while the version
    /// is the one read before the table was: a prepared answer
    /// (``PreparedAnswers``) is dropped when it is not.
    public var version: UInt64 { changes.load(ordering: .acquiring) }

    /// How many times the table was replaced by a reload.
    public var reloadCount: Int { state.withLock { $0.generation } }

    /// Forgets a replaced build of a site whose manifest could not be
    /// loaded (deleted by retention since), so that skew protection does
    /// not ask the store for it again.
    public func forgetReplaced(_ buildID: BuildID, of siteID: SiteID) {
        state.withLock { state in
            state.table.modify(siteID: siteID) { $0.replacedBuilds[buildID] = nil }
        }
        changes.add(1, ordering: .releasing)
    }

    /// Applies one catalog event.
    public func apply(_ event: CatalogEvent) {
        let now = clock()
        let hasDomains = state.withLock { state in
            state.table.apply(event, at: now)
            state.recording?.append((event, now))
            return !state.table.domains.isEmpty
        }
        anyDomain.store(hasDomains, ordering: .relaxed)
        changes.add(1, ordering: .releasing)
    }

    /// Replaces the table with what the catalog holds now. Events applied
    /// while the catalog is read are replayed on the new table, so a reload
    /// never undoes a newer event.
    /// - Returns: the sites whose active build the reload changed (what
    ///   events this table did not hear about would have said).
    /// - Throws: `ProxyError.catalogUnavailable` when the catalog cannot be
    ///   read; the table is left as it was.
    @discardableResult
    public func reload(from catalog: any Catalog) async throws -> [Activation] {
        startRecording()
        let loaded: Table
        do {
            loaded = try await Self.read(catalog)
        } catch {
            state.withLock { $0.recording = nil }
            throw ProxyError.catalogUnavailable(
                "cannot read the sites from the catalog (\(error)); the proxy keeps its current table")
        }
        return install(loaded)
    }

    /// Starts keeping the events applied from now on (a reload begins).
    func startRecording() {
        state.withLock { $0.recording = [] }
    }

    /// Replaces the table with `loaded` plus the events recorded since
    /// `startRecording()` (a reload ends).
    /// - Returns: the sites whose active build changed.
    @discardableResult
    func install(_ loaded: Table) -> [Activation] {
        defer { changes.add(1, ordering: .releasing) }
        return state.withLock { state in
            var table = loaded
            for (event, at) in state.recording ?? [] { table.apply(event, at: at) }
            let before = state.table
            state.table = table
            state.recording = nil
            state.generation += 1
            anyDomain.store(!table.domains.isEmpty, ordering: .relaxed)
            return table.bySlug.values.compactMap { entry -> Activation? in
                guard let active = entry.activeBuildID,
                    let number = entry.successfulBuilds.first(where: { $0.value == active })?.key
                else { return nil }
                let previous = before.slugByID[entry.siteID].flatMap { before.bySlug[$0] }?.activeBuildID
                guard previous != active else { return nil }
                return Activation(siteID: entry.siteID, buildID: active, buildNumber: number, previousBuildID: previous)
            }
        }
    }

    private static func read(_ catalog: any Catalog) async throws -> Table {
        var table = Table()
        for domain in try await catalog.allDomains() { table.domains[domain.hostname] = domain }
        for site in try await catalog.sites() {
            var entry = Entry(site: site)
            var before: Int?
            do {
                repeat {
                    let page = try await catalog.builds(siteID: site.id, limit: 200, before: before)
                    // `record` keeps the highest-numbered finished build, so
                    // the order pages arrive in does not matter.
                    for build in page.builds { entry.record(build) }
                    before = page.nextBefore
                } while before != nil
            } catch let error as CatalogError where error.code == .siteNotFound {
                continue // deleted while we were reading
            }
            table.insert(entry)
        }
        return table
    }
}
