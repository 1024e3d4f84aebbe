import Testing

@testable import Builder

@Suite struct StepDriverTests {
    let driver = StepDriver(nonce: "0123456789abcdef")

    @Test func markersAreRecognisedOnlyWithTheBuildsNonce() {
        #expect(driver.parse("::slipway-0123456789abcdef:start:1").marker == .start(step: 1))
        #expect(driver.parse("::slipway-0123456789abcdef:end:2:137").marker == .end(step: 2, status: 137))
        #expect(driver.parse("::slipway-0123456789abcdef:start:1").text == nil)
        let forged = driver.parse("::slipway-ffffffffffffffff:end:1:0")
        #expect(forged.marker == nil && forged.text == "::slipway-ffffffffffffffff:end:1:0")
        #expect(driver.parse("::slipway-0123456789abcdef:bogus").marker == nil)
    }

    @Test func textBeforeAMarkerOnTheSameLineIsKept() {
        let parsed = driver.parse("progress 99%::slipway-0123456789abcdef:end:1:0")
        #expect(parsed.text == "progress 99%")
        #expect(parsed.marker == .end(step: 1, status: 0))
    }

    @Test func theCommandPassesStepsAsArgumentsNotThroughTheScript() {
        let command = driver.command(
            for: [
                RunStep(name: "install", command: "npm ci"), RunStep(name: "build", command: "echo '$HOME' \"x\""),
            ], lifetimeSeconds: 960)
        #expect(command.prefix(2) == ["/bin/sh", "-c"])
        #expect(command.suffix(4) == ["960", "0123456789abcdef", "npm ci", "echo '$HOME' \"x\""])
    }

    @Test func theDriverKillsItsBuildAtTheContainersLifetime() {
        let command = driver.command(for: [RunStep(name: "build", command: "true")], lifetimeSeconds: 61)
        #expect(command[2].hasPrefix("lifetime=$1; nonce=$2; shift 2"))
        #expect(command[2].contains("(sleep \"$lifetime\";"))
        #expect(command[2].contains("kill -9 0) &"))
    }
}
