import Crypto
import Foundation
import Model
import NIOCore
import SlipwayTestSupport
import Storage
import Testing

@testable import Builder

/// Checks of what a build left in the object store against a reference tree.
enum PublishedBuild {
    /// Every regular file under `directory` (relative paths), as the builder
    /// would publish them: `_headers` and `_redirects` at the top are rules.
    static func files(in directory: String) throws -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let path = enumerator?.nextObject() as? String {
            let full = directory + "/" + path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue else {
                continue
            }
            if path == "_headers" || path == "_redirects" { continue }
            result[path] = Array(try Data(contentsOf: URL(fileURLWithPath: full)))
        }
        return result
    }

    /// Runs the fixture's build on the host (the same deterministic script)
    /// and returns its output tree.
    static func referenceOutput(of fixture: String, in scratch: String, output: String = "dist") async throws -> String
    {
        let directory = scratch + "/reference-\(fixture)-\(UUID().uuidString.prefix(6))"
        try FileManager.default.copyItem(atPath: try FixtureRepository.fixturePath(fixture), toPath: directory)
        let lines = LineTail(limit: 50)
        let outcome = try await ChildProcess.run(
            executable: "/bin/sh", arguments: ["-c", "node build.mjs"],
            environment: ["PATH": "/usr/local/bin:/usr/bin:/bin"],
            workingDirectory: directory, timeout: .seconds(60), maxLineBytes: 4096
        ) { line, _ in lines.append(line) }
        guard outcome.exitCode == 0 else {
            throw TestFailure("the reference build failed: \(lines.lines.joined(separator: "\n"))")
        }
        return directory + "/" + output
    }

    static func etag(_ bytes: [UInt8]) -> String {
        String(SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined().prefix(32))
    }

    /// Asserts that the build's manifest and objects match `expected` byte for byte.
    static func verify(_ build: Build, in store: any ObjectStore, matches expected: [String: [UInt8]]) async throws
        -> BuildManifest
    {
        let manifest = try BuildManifest.decode(Data(try await store.getBytes(build.manifestKey).readableBytesView))
        #expect(manifest.siteID == build.siteID.rawValue && manifest.buildID == build.id.rawValue)
        #expect(Set(manifest.files.keys) == Set(expected.keys))
        for (path, bytes) in expected {
            guard let entry = manifest.files[path] else { continue }
            #expect(entry.size == Int64(bytes.count), "\(path)")
            #expect(entry.etag == etag(bytes), "\(path)")
            #expect(entry.contentType == ContentTypes.forPath(path), "\(path)")
            #expect(entry.immutable == AssetClassifier.isImmutable(path), "\(path)")
            let stored = try await store.getBytes(manifest.objectKey(for: path), limit: 64 << 20)
            #expect(Array(stored.readableBytesView) == bytes, "stored bytes of \(path)")
            if let gzip = entry.variants["gzip"] {
                #expect(gzip.path == ".slipway/gzip/\(path).gz")
                let variant = Array(
                    try await store.getBytes(manifest.objectKey(for: gzip.path), limit: 64 << 20).readableBytesView)
                #expect(Int64(variant.count) == gzip.size)
                #expect(gzip.etag == etag(variant))
                #expect(Double(variant.count) <= Double(bytes.count) * 0.9, "\(path): a variant must save 10%")
                #expect(try gunzip(variant) == bytes, "gzip variant of \(path)")
                // Stored by content: the blob of the variant's own digest.
                #expect(manifest.objectKey(for: gzip.path) == ContentAddress.key(sha256: try #require(gzip.sha256)))
            }
        }
        return manifest
    }
}
