import Foundation
import Model
import Testing

@testable import Builder

/// The labels and deadline of a build container and the reaper's decision,
/// as pure values: no Docker engine needed.
@Suite struct ContainerReaperTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let own = "0011223344556677"
    static let other = "8899aabbccddeeff"
    static let grace = Duration.seconds(30)

    static func labels(installation: String = own, attempt: Int = 2, deadline: Int64? = 1_800_000_600)
        -> BuildContainerLabels
    {
        BuildContainerLabels(
            buildID: "01hzzzzzzzzzzzzzzzzzzzzzzz", attempt: attempt, siteID: "01hyyyyyyyyyyyyyyyyyyyyyyy",
            installation: installation, deadline: deadline)
    }

    static func build(_ status: BuildStatus, attempt: Int = 2, leaseExpiresAt: Date? = now.addingTimeInterval(20))
        -> Build
    {
        Build(
            id: BuildID(unchecked: "01hzzzzzzzzzzzzzzzzzzzzzzz"),
            siteID: SiteID(unchecked: "01hyyyyyyyyyyyyyyyyyyyyyyy"),
            number: 7, status: status, priority: 0, trigger: nil, commitSHA: nil, commitMessage: nil, error: nil,
            attempt: attempt, queuedAt: now, startedAt: now, finishedAt: nil, notBefore: now,
            leaseOwner: status == .building ? "host-1-abc-w1" : nil,
            leaseExpiresAt: status == .building ? leaseExpiresAt : nil, fileCount: nil, bytes: nil)
    }

    static func decide(
        _ attempt: AttemptLookup, labels: BuildContainerLabels = labels(), now: Date = now
    ) -> ContainerReaper.Decision {
        ContainerReaper.decide(labels, ownInstallation: own, attempt: attempt, now: now, leaseGrace: grace)
    }

    static func removes(_ decision: ContainerReaper.Decision, because text: String) -> Bool {
        if case .remove(let why) = decision { return why.contains(text) }
        return false
    }

    // MARK: Labels and deadline

    @Test func theLifetimeIsTheTimeoutPlusTheMarginRoundedUp() {
        #expect(BuildContainerLabels.lifetimeSeconds(timeout: .seconds(900), margin: .seconds(60)) == 960)
        #expect(BuildContainerLabels.lifetimeSeconds(timeout: .milliseconds(1500), margin: .zero) == 2)
        #expect(BuildContainerLabels.lifetimeSeconds(timeout: .milliseconds(1), margin: .zero) == 1)
        let created = Date(timeIntervalSince1970: 1_800_000_000.25)
        #expect(
            BuildContainerLabels.deadline(created: created, timeout: .seconds(900), margin: .seconds(60))
                == 1_800_000_961)
    }

    @Test func labelsRoundTripAndOnlySlipwayContainersAreRead() throws {
        let labels = Self.labels()
        #expect(labels.labels["slipway.managed"] == "true")
        #expect(labels.labels["slipway.deadline"] == "1800000600")
        #expect(labels.labels["slipway.attempt"] == "2")
        #expect(BuildContainerLabels(labels.labels) == labels)
        var foreign = labels.labels
        foreign["slipway.managed"] = nil
        #expect(BuildContainerLabels(foreign) == nil)
        var broken = labels.labels
        broken["slipway.attempt"] = "two"
        #expect(BuildContainerLabels(broken) == nil)
        // A container of a Slipway without deadlines is still read.
        var old = labels.labels
        old["slipway.deadline"] = nil
        #expect(try #require(BuildContainerLabels(old)).deadline == nil)
    }

    @Test func theContainerSpecCarriesTheLabelsAndItsOwnLifetime() async throws {
        var configuration = BuilderConfiguration(dataDirectory: "/tmp/slipway-reaper-tests")
        configuration.containerDeadlineMargin = .seconds(45)
        let runner = try DockerRunner(configuration: configuration)
        // No request is made: the engine is not needed.
        defer { Task { await runner.shutdown() } }
        let job = RunJob(
            siteID: "01hyyyyyyyyyyyyyyyyyyyyyyy", buildID: "01hzzzzzzzzzzzzzzzzzzzzzzz", attempt: 3,
            steps: [RunStep(name: "build", command: "npm run build")], checkoutDirectory: "/tmp/c", projectPath: "",
            homeDirectory: "/tmp/h", temporaryDirectory: "/tmp/t", cacheDirectory: "/tmp/n", environment: [:],
            user: .init(uid: 10_000, gid: 10_000), timeout: .seconds(600))
        let spec = runner.containerSpec(
            for: job, driver: StepDriver(nonce: "0123456789abcdef"), created: Date(timeIntervalSince1970: 1_800_000_000)
        )
        let labels = try #require(BuildContainerLabels(spec.labels))
        #expect(labels.buildID == job.buildID && labels.attempt == 3 && labels.siteID == job.siteID)
        #expect(labels.installation == runner.installation)
        #expect(labels.deadline == 1_800_000_645)
        #expect(spec.command.suffix(3) == ["645", "0123456789abcdef", "npm run build"])
    }

    // MARK: Decisions

    @Test func aContainerPastItsDeadlineIsRemovedWhateverTheCatalogSays() {
        let past = Self.now.addingTimeInterval(601)
        for attempt: AttemptLookup in [.runningHere, .unknown, .notFound, .build(Self.build(.building))] {
            #expect(Self.removes(Self.decide(attempt, now: past), because: "deadline passed"), "\(attempt)")
            #expect(
                Self.removes(
                    Self.decide(attempt, labels: Self.labels(installation: Self.other), now: past), because: "deadline")
            )
        }
    }

    @Test func aRunningAttemptWithALiveLeaseIsKept() {
        #expect(Self.decide(.runningHere) == .keep)
        #expect(Self.decide(.build(Self.build(.building))) == .keep)
        #expect(Self.decide(.build(Self.build(.building)), labels: Self.labels(installation: Self.other)) == .keep)
        // Expired, but within the grace (clock skew, a holder still retrying its renewal).
        let justExpired = Self.build(.building, leaseExpiresAt: Self.now.addingTimeInterval(-29))
        #expect(Self.decide(.build(justExpired)) == .keep)
        // No deadline label (an older Slipway): only the catalog decides.
        #expect(Self.decide(.build(Self.build(.building)), labels: Self.labels(deadline: nil)) == .keep)
    }

    @Test func anUnreachableCatalogKeepsEverythingBeforeItsDeadline() {
        #expect(Self.decide(.unknown) == .keep)
        #expect(Self.decide(.unknown, labels: Self.labels(installation: Self.other)) == .keep)
    }

    @Test func aLapsedLeaseRemovesTheContainerOfAnyInstallation() {
        let lapsed = Self.build(.building, leaseExpiresAt: Self.now.addingTimeInterval(-31))
        for labels in [Self.labels(), Self.labels(installation: Self.other)] {
            #expect(Self.removes(Self.decide(.build(lapsed), labels: labels), because: "lease expired"))
            #expect(Self.removes(Self.decide(.build(Self.build(.queued)), labels: labels), because: "build is queued"))
            #expect(Self.removes(Self.decide(.build(Self.build(.failed)), labels: labels), because: "build is failed"))
            #expect(
                Self.removes(Self.decide(.build(Self.build(.success)), labels: labels), because: "build is success"))
            #expect(
                Self.removes(Self.decide(.build(Self.build(.canceled)), labels: labels), because: "build is canceled"))
            #expect(
                Self.removes(
                    Self.decide(.build(Self.build(.building, attempt: 3)), labels: labels), because: "on attempt 3"))
        }
    }

    @Test func aBuildMissingFromTheCatalogRemovesOnlyThisInstallationsContainer() {
        #expect(Self.removes(Self.decide(.notFound), because: "not in the catalog"))
        // Another installation's may belong to another catalog: it waits for its deadline.
        #expect(Self.decide(.notFound, labels: Self.labels(installation: Self.other)) == .keep)
        let past = Self.now.addingTimeInterval(600)
        #expect(
            Self.removes(
                Self.decide(.notFound, labels: Self.labels(installation: Self.other), now: past), because: "deadline"))
    }
}
