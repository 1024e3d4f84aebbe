import Foundation
import Testing

@testable import Builder

#if canImport(Glibc)
    import Glibc
#endif

@Suite final class OutputScannerTests {
    let base = NSTemporaryDirectory() + "slipway-scan-" + UUID().uuidString
    let root: String
    let scanner = OutputScanner(maxFiles: 100, maxBytes: 1 << 20)

    init() throws {
        try FileManager.default.createDirectory(atPath: base + "/dist/assets", withIntermediateDirectories: true)
        root = FileSystem.realPath(base + "/dist")!
        try write("index.html", "<h1>hi</h1>")
        try write("assets/app-3f9a1b2c.js", "console.log(1)")
    }

    deinit {
        try? FileManager.default.removeItem(atPath: base)
    }

    func write(_ path: String, _ text: String) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
    }

    func link(_ path: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: root + "/" + path, withDestinationPath: target)
    }

    func rejection(_ body: () throws -> Void) -> BuildError? {
        do {
            try body()
            return nil
        } catch let error as BuildError {
            return error
        } catch {
            return nil
        }
    }

    @Test func regularFilesArePublishedSortedWithSizes() throws {
        let scan = try scanner.scan(root, shownAs: "dist")
        #expect(scan.files.map(\.path) == ["assets/app-3f9a1b2c.js", "index.html"])
        #expect(scan.totalBytes == 25)
    }

    @Test func aHardLinkToAFileOutsideTheOutputFailsTheBuild() throws {
        // A secret of the workspace, next to the output, linked into it.
        try "TOKEN=s3cr3t".write(toFile: base + "/secret.env", atomically: false, encoding: .utf8)
        #expect(Glibc.link(base + "/secret.env", root + "/assets/leak.txt") == 0)
        let error = rejection { _ = try scanner.scan(root, shownAs: "dist") }
        #expect(error?.code == .outputRejected)
        #expect(error?.message.contains("dist/assets/leak.txt is a hard link to a file outside the output") == true)
        #expect(error?.message.contains(base) == false)
    }

    @Test func hardLinksBetweenFilesOfTheOutputArePublished() throws {
        #expect(Glibc.link(root + "/index.html", root + "/200.html") == 0)
        // A directory seen twice through a symlink does not count its files twice.
        try link("again", to: "assets")
        #expect(Glibc.link(root + "/assets/app-3f9a1b2c.js", base + "/outside.js") == 0)
        #expect(rejection { _ = try scanner.scan(root, shownAs: "dist") }?.code == .outputRejected)
        #expect(unlink(base + "/outside.js") == 0)
        let scan = try scanner.scan(root, shownAs: "dist")
        #expect(scan.files.map(\.path).contains("200.html") && scan.files.map(\.path).contains("index.html"))
    }

    @Test func aSymlinkLeavingTheOutputFailsTheBuild() throws {
        try link("x", to: "/etc/passwd")
        let error = rejection { _ = try scanner.scan(root, shownAs: "dist") }
        #expect(error?.code == .outputRejected)
        #expect(error?.message.contains("dist/x is a symlink that leaves the output directory") == true)
    }

    @Test func aRelativeSymlinkClimbingOutFailsToo() throws {
        try write("../secret.txt", "do not publish")
        try link("assets/leak.txt", to: "../../secret.txt")
        #expect(rejection { _ = try scanner.scan(root, shownAs: "dist") }?.code == .outputRejected)
    }

    @Test func symlinksInsideTheOutputArePublishedWithTheTargetsBytes() throws {
        try link("home.html", to: "index.html")
        try link("latest", to: "assets")
        let scan = try scanner.scan(root, shownAs: "dist")
        #expect(
            scan.files.map(\.path) == ["assets/app-3f9a1b2c.js", "home.html", "index.html", "latest/app-3f9a1b2c.js"])
        #expect(scan.files.first { $0.path == "home.html" }?.source == root + "/index.html")
    }

    @Test func aSymlinkLoopIsCutNotFollowedForever() throws {
        try link("assets/again", to: "..")
        let scan = try scanner.scan(root, shownAs: "dist")
        #expect(scan.files.count == 2)
        #expect(scan.notes.contains { $0.contains("symlink loop") })
    }

    @Test func danglingSymlinksFIFOsAndSocketsFailTheBuild() throws {
        try link("gone", to: "nowhere.html")
        #expect(rejection { _ = try scanner.scan(root, shownAs: "dist") }?.message.contains("leads nowhere") == true)
        try FileManager.default.removeItem(atPath: root + "/gone")

        #expect(mkfifo(root + "/pipe", 0o644) == 0)
        #expect(
            rejection { _ = try scanner.scan(root, shownAs: "dist") }?.message.contains("dist/pipe is a FIFO") == true)
        try FileManager.default.removeItem(atPath: root + "/pipe")

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = root + "/control.sock"
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        #expect(rejection { _ = try scanner.scan(root, shownAs: "dist") }?.message.contains("is a socket") == true)
    }

    @Test func limitsOnFileCountAndSizeFailCleanly() throws {
        for index in 0..<5 { try write("page-\(index).html", String(repeating: "z", count: 100)) }
        let few = OutputScanner(maxFiles: 3, maxBytes: 1 << 20)
        let countError = rejection { _ = try few.scan(root, shownAs: "dist") }
        #expect(countError?.code == .limitExceeded)
        #expect(countError?.message.contains("more than 3 files") == true)
        let small = OutputScanner(maxFiles: 100, maxBytes: 300)
        let sizeError = rejection { _ = try small.scan(root, shownAs: "dist") }
        #expect(sizeError?.code == .limitExceeded)
        #expect(sizeError?.message.contains("larger than 300 B") == true)
    }

    @Test func rulesFilesAreReadNotPublishedAndGitAndReservedNamesAreHandled() throws {
        try write("_headers", "/*\n  X-Test: 1\n")
        try write("_redirects", "/a /b 301\n")
        try write("docs/_headers", "published: only the top-level one is a rules file")
        try write(".git/config", "[core]")
        let scan = try scanner.scan(root, shownAs: "dist")
        #expect(scan.headersFile == root + "/_headers")
        #expect(scan.redirectsFile == root + "/_redirects")
        #expect(scan.files.map(\.path) == ["assets/app-3f9a1b2c.js", "docs/_headers", "index.html"])
        #expect(scan.notes.contains { $0.contains("dist/.git") })

        try write(".slipway/gzip/index.html.gz", "forged variant")
        let error = rejection { _ = try scanner.scan(root, shownAs: "dist") }
        #expect(error?.code == .outputRejected)
        #expect(error?.message.contains("reserved") == true)
    }

    @Test func namesThatCannotBeKeysAreRejected() throws {
        try write("bad\\name.html", "x")
        #expect(rejection { _ = try scanner.scan(root, shownAs: "dist") }?.message.contains("backslash") == true)
    }
}
