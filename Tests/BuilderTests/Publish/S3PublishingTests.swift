import Foundation
import Model
import SlipwayTestSupport
import Storage
import Testing

@testable import Builder

/// Publishing to the real S3 implementation (Ceph RADOS Gateway) that
/// `scripts/test` starts, one fresh bucket per test.
@Suite(
    .serialized,
    .enabled(
        if: TestS3.shouldRun && TestDocker.shouldRun,
        "needs the Ceph gateway (S3_ENDPOINT…) and a Docker engine (SLIPWAY_TEST_BUILD_IMAGE): run scripts/test"
    )
)
struct S3PublishingTests {
    @Test func theSPAIsPublishedToTheGatewayByteForByte() async throws {
        try await TestS3.withBucket { store in
            try await BuilderHarness.with(runner: .docker, store: store) { harness in
                let site = try await harness.site(repository: try await harness.repository("vite-spa"))
                let build = try await harness.buildAndWait(site)
                try #require(build.status == .success, "\(build.error ?? "")")
                let reference = try await PublishedBuild.referenceOutput(of: "vite-spa", in: harness.root)
                let manifest = try await PublishedBuild.verify(
                    build, in: store, matches: try PublishedBuild.files(in: reference))
                // Each file is the blob of its digest (the proxy takes its
                // headers from the manifest, never from the object).
                for (path, entry) in manifest.files {
                    let key = manifest.objectKey(for: path)
                    #expect(key == ContentAddress.key(sha256: try #require(entry.sha256)), "\(path)")
                    let info = try await store.head(key)
                    #expect(info.size == entry.size, "\(path)")
                }
                #expect(try await harness.storedLog(build).contains("build #1 is live"))
                #expect(try await harness.catalog.site(id: site.id).activeBuildID == build.id)
            }
        }
    }

    @Test func aFailedBuildLeavesNothingServableInTheBucket() async throws {
        try await TestS3.withBucket { store in
            try await BuilderHarness.with(runner: .docker, store: store) { harness in
                let build = try await harness.buildAndWait(
                    try await harness.site(repository: try await harness.repository("symlink-escape")))
                #expect(build.status == .failed)
                #expect(try await store.listAll(prefix: build.artifactPrefix).isEmpty)
                #expect(try await store.listAll(prefix: ContentAddress.prefix).isEmpty)
                await #expect(throws: ObjectStoreError.self) { try await store.head(build.manifestKey) }
                #expect(try await harness.storedLog(build).contains("leaves the output directory"))
            }
        }
    }
}
