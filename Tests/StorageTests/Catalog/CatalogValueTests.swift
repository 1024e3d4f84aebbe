import Foundation
import Testing

@testable import Model
@testable import Storage

@Suite struct CatalogValueTests {
    @Test func identifiersAreTwentySixLowerCaseBase32CharactersOrderedByTime() throws {
        let early = SiteID.generate(at: Date(timeIntervalSince1970: 1_700_000_000))
        let late = SiteID.generate(at: Date(timeIntervalSince1970: 1_700_000_000.001))
        #expect(early.rawValue.count == 26)
        #expect(early.rawValue.allSatisfy { "0123456789abcdefghjkmnpqrstvwxyz".contains($0) })
        #expect(early < late)
        #expect(SiteID(early.rawValue) == early)
        let many = Set((0..<1000).map { _ in BuildID.generate(at: Date(timeIntervalSince1970: 1_700_000_000)) })
        #expect(many.count == 1000)
    }

    @Test func malformedIdentifiersAreRejected() {
        for text in [
            "", "01J00000000000000000000000", "01j0000000000000000000000", "01j000000000000000000000000",
            "01i00000000000000000000000",
            "81j00000000000000000000000", "../../../../../../../../etc",
        ] {
            #expect(SiteID(text) == nil, "\(text)")
            #expect(BuildID(text) == nil, "\(text)")
        }
    }

    @Test func identifiersRoundTripThroughJSONAndRefuseGarbage() throws {
        let id = BuildID.generate()
        let data = try JSONEncoder().encode([id])
        #expect(String(decoding: data, as: UTF8.self) == "[\"\(id.rawValue)\"]")
        #expect(try JSONDecoder().decode([BuildID].self, from: data) == [id])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([BuildID].self, from: Data("[\"x/y\"]".utf8)) }
    }

    @Test func backoffDoublesFromItsBaseUpToItsCap() {
        let settings = QueueSettings(backoffBase: .seconds(5), backoffCap: .seconds(300))
        #expect(
            (1...8).map { settings.backoff(afterAttempt: $0) }
                == [5, 10, 20, 40, 80, 160, 300, 300].map { .seconds($0) })
        #expect(settings.backoff(afterAttempt: 1_000) == .seconds(300))
    }

    @Test func nonsensicalQueueSettingsAreRefusedOnOpen() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-settings-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for settings in [
            QueueSettings(maxQueued: 0), QueueSettings(maxAttempts: 0), QueueSettings(leaseDuration: .zero),
            QueueSettings(backoffBase: .seconds(10), backoffCap: .seconds(1)),
        ] {
            #expect(throws: CatalogError.self) { try SQLiteCatalog(dataDirectory: directory.path, settings: settings) }
        }
    }

    @Test func onlyTheDocumentedStatusChangesAreAllowed() {
        let allowed: Set<[BuildStatus]> = [
            [.queued, .building], [.queued, .canceled], [.building, .success], [.building, .failed],
            [.building, .canceled],
            [.building, .queued],
        ]
        for from in BuildStatus.allCases {
            for to in BuildStatus.allCases {
                #expect(from.canChange(to: to) == allowed.contains([from, to]), "\(from) -> \(to)")
            }
        }
        #expect(BuildStatus.allCases.filter(\.isFinal) == [.success, .failed, .canceled])
    }

    @Test func secretValuesNeverShowWhenAVariableOrASiteIsPrinted() {
        let secret = BuildVariable(name: "TOKEN", value: "hunter2", secret: true)
        let plain = BuildVariable(name: "MODE", value: "prod")
        #expect(secret.description == "TOKEN=***")
        #expect(plain.description == "MODE=prod")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        let site = Site(
            id: .generate(), slug: "blog", repoURL: "https://h/r", branch: "main", rootDir: nil, installCommand: nil,
            buildCommand: nil, outputDir: nil, spa: .auto, env: [secret, plain], activeBuildID: nil, createdAt: Date(),
            updatedAt: Date()
        )
        #expect(!String(describing: site).contains("hunter2"))
        #expect(!String(reflecting: site).contains("hunter2"))
        #expect(!"\([secret])".contains("hunter2"))
    }

    @Test func errorCodesAreStableSnakeCaseWithHTTPStatuses() {
        let build = Build(
            id: .generate(), siteID: .generate(), number: 4, status: .success, priority: 0, trigger: nil,
            commitSHA: nil,
            commitMessage: nil, error: nil, attempt: 1, queuedAt: Date(), startedAt: nil, finishedAt: nil,
            notBefore: Date(),
            leaseOwner: nil, leaseExpiresAt: nil, fileCount: nil, bytes: nil
        )
        let cases: [(CatalogError, String, Int)] = [
            (.slugTaken("blog"), "slug_taken", 409),
            (.siteNotFound(slug: "blog"), "site_not_found", 404),
            (.queueFull(limit: 100), "queue_full", 429),
            (.illegalTransition(build, to: "cancel", allowedFrom: "queued or building"), "illegal_transition", 409),
            (.leaseLost(build, workerID: "w1"), "lease_lost", 409),
            (.invalidInput("x"), "invalid_input", 422),
            (.closed, "closed", 503),
        ]
        for (error, code, status) in cases {
            #expect(error.code.rawValue == code)
            #expect(error.httpStatus == status)
            #expect(error.description.hasPrefix(code + ": "))
        }
        #expect(
            CatalogError.illegalTransition(build, to: "cancel", allowedFrom: "queued or building").message.contains(
                "#4"))
    }
}
