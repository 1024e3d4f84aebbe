import Foundation
import Testing

@testable import Builder

@Suite final class LocatorTests {
    let checkout: String

    init() throws {
        let base = NSTemporaryDirectory() + "slipway-locate-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        checkout = FileSystem.realPath(base)!
    }

    deinit {
        try? FileManager.default.removeItem(atPath: checkout)
    }

    func write(_ path: String, _ text: String = "x") throws {
        let full = checkout + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
    }

    func code(_ body: () throws -> Void) -> BuildError.Code? {
        do {
            try body()
            return nil
        } catch let error as BuildError {
            return error.code
        } catch {
            return nil
        }
    }

    @Test func theShallowestPackageJSONWinsAndNodeModulesAreIgnored() throws {
        try write("node_modules/pkg/package.json", "{}")
        try write("packages/zeta/web/package.json", "{}")
        try write("apps/web/package.json", "{}")
        try write("apps/web/package-lock.json", "{}")
        try write("apps/api/package.json", "{}")
        let project = try ProjectLocator().locate(checkout: checkout, rootDirectory: nil)
        #expect(project.relativePath == "apps/api")
        #expect(project.hasPackageJSON && !project.hasLockfile)
        try write("package.json", "{}")
        #expect(try ProjectLocator().locate(checkout: checkout, rootDirectory: nil).relativePath == "")
    }

    @Test func withoutPackageJSONTheCheckoutIsTheRoot() throws {
        try write("public/index.html")
        let project = try ProjectLocator().locate(checkout: checkout, rootDirectory: nil)
        #expect(project.relativePath == "" && !project.hasPackageJSON)
    }

    @Test func theRootDirectoryMustStayInsideTheCheckout() throws {
        try write("apps/web/package.json", "{}")
        try write("apps/web/package-lock.json", "{}")
        let project = try ProjectLocator().locate(checkout: checkout, rootDirectory: "./apps//web/")
        #expect(project.relativePath == "apps/web" && project.hasLockfile)
        #expect(
            code { _ = try ProjectLocator().locate(checkout: checkout, rootDirectory: "../outside") } == .projectInvalid
        )
        #expect(code { _ = try ProjectLocator().locate(checkout: checkout, rootDirectory: "/etc") } == .projectInvalid)
        #expect(
            code { _ = try ProjectLocator().locate(checkout: checkout, rootDirectory: "missing") } == .projectInvalid)
        try FileManager.default.createSymbolicLink(atPath: checkout + "/escape", withDestinationPath: "/etc")
        #expect(
            code { _ = try ProjectLocator().locate(checkout: checkout, rootDirectory: "escape") } == .projectInvalid)
    }

    @Test func theFirstCandidateHoldingFilesIsTheOutput() throws {
        try FileManager.default.createDirectory(atPath: checkout + "/dist", withIntermediateDirectories: true)
        try write("build/empty/.keep-dir/placeholder-dir-marker", "")
        try FileManager.default.removeItem(atPath: checkout + "/build/empty/.keep-dir/placeholder-dir-marker")
        try write("public/index.html")
        try write("out/index.html")
        let output = try OutputLocator().locate(root: checkout, outputDirectory: nil)
        #expect(output.relative == "public")
        try write("dist/index.html")
        #expect(try OutputLocator().locate(root: checkout, outputDirectory: nil).relative == "dist")
    }

    @Test func noOutputSaysWhatToDo() throws {
        try write("src/main.js")
        let error = #expect(throws: BuildError.self) {
            try OutputLocator().locate(root: checkout, outputDirectory: nil)
        }
        #expect(error?.code == .outputMissing)
        #expect(error?.message.contains("dist, build, public, out") == true)
    }

    @Test func aConfiguredOutputMustExistAndStayInsideTheRoot() throws {
        try write("site/_site/index.html")
        #expect(try OutputLocator().locate(root: checkout, outputDirectory: "site/_site").relative == "site/_site")
        #expect(code { _ = try OutputLocator().locate(root: checkout, outputDirectory: "nope") } == .outputMissing)
        #expect(code { _ = try OutputLocator().locate(root: checkout, outputDirectory: "../x") } == .projectInvalid)
        try FileManager.default.createSymbolicLink(atPath: checkout + "/dist", withDestinationPath: "/usr/share")
        #expect(code { _ = try OutputLocator().locate(root: checkout, outputDirectory: "dist") } == .outputRejected)
        // A detected candidate that escapes is skipped, not followed.
        #expect(code { _ = try OutputLocator().locate(root: checkout, outputDirectory: nil) } == .outputMissing)
        try write("out/index.html")
        #expect(try OutputLocator().locate(root: checkout, outputDirectory: nil).relative == "out")
    }
}
