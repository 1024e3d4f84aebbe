import Foundation
import Logging
import Testing

@testable import Storage

/// Byte-for-byte agreement with botocore, the reference S3 signer, on the
/// vectors `scripts/sigv4-vectors.py` generated into
/// `Fixtures/sigv4-vectors.json`: awkward keys (spaces, `+`, `%`, `#`, `?`,
/// `=`, NFC and NFD Unicode, a ~900-byte key), path-style and virtual-hosted
/// addressing, regions `auto` and `us-east-1`.
@Suite struct SigV4VectorTests {
    struct Vectors: Decodable {
        var accessKeyId: String
        var secretAccessKey: String
        var date: String
        var presigned: [Presigned]
        var signed: [Signed]
    }

    struct Presigned: Decodable {
        var name: String
        var endpoint: String
        var region: String
        var addressing: String
        var bucket: String
        var key: String
        var expiresIn: Int
        var url: String
    }

    struct Signed: Decodable {
        var name: String
        var method: String
        var endpoint: String
        var region: String
        var addressing: String
        var bucket: String
        var key: String?
        var url: String
        var path: String
        var query: [[String]]
        var headers: [String: String]
        var payloadHash: String
        var authorization: String
    }

    static let vectors: Vectors = {
        guard
            let url = Bundle.module.url(forResource: "sigv4-vectors", withExtension: "json", subdirectory: "Fixtures"),
            let data = try? Data(contentsOf: url),
            let vectors = try? JSONDecoder().decode(Vectors.self, from: data)
        else {
            fatalError("Fixtures/sigv4-vectors.json is missing or unreadable: run scripts/sigv4-vectors.py")
        }
        return vectors
    }()

    /// The vectors' frozen time (2024-05-17T12:34:56Z).
    static let date = Date(timeIntervalSince1970: 1_715_949_296)

    static func addressing(_ name: String) -> S3Configuration.Addressing {
        name == "virtual" ? .virtualHosted : .path
    }

    @Test func vectorsCoverEveryKeyKindAddressingAndRegion() {
        let vectors = Self.vectors
        #expect(vectors.date == "20240517T123456Z")
        #expect(SigV4Time(Self.date).amzDate == vectors.date)
        #expect(vectors.presigned.count >= 100)
        #expect(vectors.signed.count >= 50)
        #expect(Set(vectors.presigned.map(\.region)) == ["auto", "us-east-1"])
        #expect(Set(vectors.presigned.map(\.addressing)) == ["path", "virtual"])
        let keys = vectors.presigned.map(\.key)
        #expect(keys.contains { $0.utf8.count > 850 })
        #expect(keys.contains { $0.unicodeScalars.contains("\u{301}") })
        #expect(keys.contains { $0.unicodeScalars.contains("\u{E9}") })
        for character in [" ", "+", "%", "#", "?", "="] {
            #expect(keys.contains { $0.contains(character) }, "no key with '\(character)'")
        }
    }

    @Test func presignedURLsFromTheStoreMatchBotocore() async throws {
        let vectors = Self.vectors
        let groups = Dictionary(grouping: vectors.presigned) {
            "\($0.endpoint)|\($0.region)|\($0.addressing)|\($0.bucket)"
        }
        for group in groups.values {
            let first = group[0]
            let configuration = S3Configuration(
                endpoint: first.endpoint, bucket: first.bucket, region: first.region, accessKeyID: vectors.accessKeyId,
                secretAccessKey: vectors.secretAccessKey, addressing: Self.addressing(first.addressing)
            )
            let store = try S3ObjectStore(configuration: configuration, logger: Logger(label: "test")) { Self.date }
            for vector in group {
                let presigned = try store.presignedGET(key: vector.key, expiresIn: .seconds(vector.expiresIn))
                #expect(presigned.url == vector.url, "\(vector.name)")
                #expect(
                    presigned.expires == Self.date.addingTimeInterval(TimeInterval(vector.expiresIn)), "\(vector.name)")
            }
            try await store.shutdown()
        }
    }

    @Test func headerSignaturesMatchBotocore() throws {
        let vectors = Self.vectors
        let signed = Set(["host", "x-amz-date", "x-amz-content-sha256"])
        for vector in vectors.signed {
            let endpoint = try S3Endpoint(parsing: vector.endpoint)
            let target = endpoint.target(
                bucket: vector.bucket, key: vector.key, addressing: Self.addressing(vector.addressing))
            #expect(target.host == vector.headers["host"], "\(vector.name)")
            #expect(target.encodedPath == vector.path, "\(vector.name)")
            let query = vector.query.map { (name: $0[0], value: $0[1]) }
            if query.isEmpty {
                #expect(target.url(canonicalQuery: "") == vector.url, "\(vector.name)")
            }
            let signer = SigV4Signer(
                accessKeyID: vectors.accessKeyId, secretAccessKey: vectors.secretAccessKey, region: vector.region
            ) { Self.date }
            let signature = signer.signHeaders(
                method: vector.method, host: target.host, encodedPath: target.encodedPath, query: query,
                headers: vector.headers.filter { !signed.contains($0.key) }.map { ($0.key, $0.value) },
                payloadHash: vector.payloadHash
            )
            #expect(signature.authorization == vector.authorization, "\(vector.name)")
            #expect(signature.amzDate == vector.headers["x-amz-date"], "\(vector.name)")
        }
    }
}
