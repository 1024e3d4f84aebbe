import Foundation
import Testing

@testable import slipway

/// `SLIPWAY_AUDIT_RETENTION` (`admin.audit_retention`): how long the admin
/// API's audit log is kept.
@Suite struct AuditRetentionConfigurationTests {
    @Test func theRetentionDefaultsTo90DaysAndComesFromTheEnvironmentOrTheFile() async throws {
        let base = ConfigurationTests()
        #expect(try await base.load().auditRetention == .seconds(90 * 86_400))
        #expect(try await base.load(["SLIPWAY_AUDIT_RETENTION": "720h"]).auditRetention == .seconds(30 * 86_400))
        let fromFile = try await base.load(file: ("slipway.yaml", "admin:\n  audit_retention: 48h\n"))
        #expect(fromFile.auditRetention == .seconds(2 * 86_400))
        #expect(Setting.all.contains(.auditRetention))
        for value in ["30m", "soon", "0"] {
            do {
                _ = try await base.load(["SLIPWAY_AUDIT_RETENTION": value])
                Issue.record("SLIPWAY_AUDIT_RETENTION=\(value) was accepted")
            } catch {
                #expect(error.message.contains("SLIPWAY_AUDIT_RETENTION"), "\(error.message)")
            }
        }
    }
}
