import Foundation
import SlipwayTestSupport
import Testing

@testable import Storage

@Suite struct S3ConfigurationTests {
    static let secret = "very-secret-key-0123456789"

    static func valid() -> S3Configuration {
        S3Configuration(
            endpoint: "https://account.r2.cloudflarestorage.com", bucket: "sites", accessKeyID: "AKID",
            secretAccessKey: secret
        )
    }

    @Test func descriptionsAndReflectionNeverShowTheSecret() {
        let configuration = Self.valid()
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in [String(describing: configuration), String(reflecting: configuration), dumped, "\(configuration)"] {
            #expect(!text.contains(Self.secret))
            #expect(text.contains("<redacted>"))
            #expect(text.contains("AKID"))
        }
    }

    @Test func aValidConfigurationResolvesItsEndpoint() throws {
        let endpoint = try Self.valid().validated()
        #expect(endpoint.scheme == "https")
        #expect(endpoint.host == "account.r2.cloudflarestorage.com")
        #expect(endpoint.port == nil)
        var ceph = Self.valid()
        ceph.endpoint = "http://127.0.0.1:7480/"
        let local = try ceph.validated()
        #expect(local.authority(bucket: nil) == "127.0.0.1:7480")
        #expect(local.isIPAddress)
        ceph.endpoint = "https://[::1]:9000"
        #expect(try ceph.validated().authority(bucket: nil) == "[::1]:9000")
        ceph.endpoint = "https://store.example:443"
        #expect(try ceph.validated().port == nil)
    }

    @Test(arguments: [
        ("ftp://store.example", "http:// or https://"),
        ("https://store.example/bucket", "path"),
        ("https://user:pw@store.example", "credentials"),
        ("store.example", "is not a URL"),
        ("https://", "host"),
    ])
    func badEndpointsSayHowToWriteOne(endpoint: String, mention: String) {
        var configuration = Self.valid()
        configuration.endpoint = endpoint
        let error = #expect(throws: ObjectStoreError.self) { try configuration.validated() }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(mention) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("SLIPWAY_S3_ENDPOINT") == true)
    }

    @Test func invalidSettingsAreRefusedWithTheSettingToFix() {
        func problem(_ change: (inout S3Configuration) -> Void) -> ObjectStoreError? {
            var configuration = Self.valid()
            change(&configuration)
            return #expect(throws: ObjectStoreError.self) { try configuration.validated() }
        }
        #expect(problem { $0.bucket = "Has_Upper" }?.message.contains("SLIPWAY_S3_BUCKET") == true)
        #expect(problem { $0.bucket = "ab" } != nil)
        #expect(problem { $0.bucket = "a..b" } != nil)
        #expect(problem { $0.secretAccessKey = "" }?.message.contains("SLIPWAY_S3_SECRET_ACCESS_KEY") == true)
        #expect(problem { $0.accessKeyID = "has space" }?.message.contains("SLIPWAY_S3_ACCESS_KEY_ID") == true)
        #expect(problem { $0.region = "" }?.message.contains("SLIPWAY_S3_REGION") == true)
        #expect(problem { $0.partSize = 1 << 20 }?.message.contains("minimum") == true)
        #expect(problem { $0.multipartThreshold = 6 << 20 } != nil)
        #expect(problem { $0.keyPrefix = "no-slash" } != nil)
        #expect(problem { $0.keyPrefix = "a/../" } != nil)
        #expect(problem { $0.retry = RetryPolicy(maxAttempts: 0) } != nil)
        #expect(
            problem {
                $0.endpoint = "http://127.0.0.1:7480"
                $0.addressing = .virtualHosted
            }?.message.contains("path-style") == true)
        for error in [problem { $0.bucket = "x" }, problem { $0.partSize = 0 }] {
            #expect(error.map { !"\($0)".contains(Self.secret) } == true)
        }
    }

    @Test func aMissingCAFileIsAConfigurationError() {
        var configuration = Self.valid()
        configuration.caCertificateFile = "/nonexistent/slipway-ca.pem"
        let error = #expect(throws: ObjectStoreError.self) {
            try S3ObjectStore(configuration: configuration, logger: TestS3.logger)
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("SLIPWAY_S3_CA_FILE") == true)
    }

    @Test func requestTargetsFollowTheAddressingStyle() throws {
        let endpoint = try S3Endpoint(parsing: "https://s3.example:8443")
        let path = endpoint.target(bucket: "b", key: "a b/c.txt", addressing: .path)
        #expect(path.url(canonicalQuery: "") == "https://s3.example:8443/b/a%20b/c.txt")
        let virtual = endpoint.target(bucket: "b", key: "a b/c.txt", addressing: .virtualHosted)
        #expect(virtual.url(canonicalQuery: "x=1") == "https://b.s3.example:8443/a%20b/c.txt?x=1")
        #expect(endpoint.target(bucket: "b", key: nil, addressing: .path).encodedPath == "/b")
        #expect(endpoint.target(bucket: "b", key: nil, addressing: .virtualHosted).encodedPath == "/")
    }

    @Test func uploadDeadlinesGrowWithTheBodySize() {
        let timeouts = S3Configuration.Timeouts(response: .seconds(30), minimumUploadRate: 1 << 20)
        #expect(timeouts.responseDeadline(bodyBytes: 0) == .seconds(30))
        #expect(timeouts.responseDeadline(bodyBytes: 8 << 20) == .seconds(38))
    }
}
