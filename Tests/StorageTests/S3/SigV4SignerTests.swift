import Crypto
import Foundation
import Synchronization
import Testing

@testable import Storage

/// The worked examples of the AWS S3 documentation ("Signature Calculations
/// for the Authorization Header" and "Authenticating Requests: Using Query
/// Parameters"), with their published signatures.
@Suite struct SigV4SignerTests {
    static let accessKey = "AKIAIOSFODNN7EXAMPLE"
    static let secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    /// 2013-05-24T00:00:00Z, the examples' time.
    static let exampleDate = Date(timeIntervalSince1970: 1_369_353_600)
    static let host = "examplebucket.s3.amazonaws.com"

    static func exampleSigner() -> SigV4Signer {
        SigV4Signer(accessKeyID: accessKey, secretAccessKey: secretKey, region: "us-east-1", service: "s3") {
            exampleDate
        }
    }

    static func sha256Hex(_ text: String) -> String {
        SigV4Signer.hex(SHA256.hash(data: Data(text.utf8)))
    }

    @Test func getObjectExampleMatchesPublishedSignature() {
        let signature = Self.exampleSigner().signHeaders(
            method: "GET", host: Self.host, encodedPath: "/test.txt", headers: [("Range", "bytes=0-9")],
            payloadHash: SigV4Signer.emptyPayloadHash
        )
        #expect(
            Self.sha256Hex(signature.canonicalRequest)
                == "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
        #expect(
            signature.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
        #expect(signature.amzDate == "20130524T000000Z")
    }

    @Test func putObjectExampleEncodesDollarAndSignsExtraHeaders() {
        let body = "Welcome to Amazon S3."
        let payloadHash = Self.sha256Hex(body)
        #expect(payloadHash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let signature = Self.exampleSigner().signHeaders(
            method: "PUT", host: Self.host, encodedPath: SigV4Signer.encodePath("/test$file.text"),
            headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
            payloadHash: payloadHash
        )
        #expect(signature.canonicalRequest.split(separator: "\n")[1] == "/test%24file.text")
        #expect(
            Self.sha256Hex(signature.canonicalRequest)
                == "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d")
        #expect(
            signature.authorization.hasSuffix(
                "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))
        #expect(
            signature.authorization.contains(
                " SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "))
    }

    @Test func getBucketLifecycleExampleSignsAParameterWithoutValue() {
        let signature = Self.exampleSigner().signHeaders(
            method: "GET", host: Self.host, encodedPath: "/", query: [("lifecycle", "")],
            payloadHash: SigV4Signer.emptyPayloadHash
        )
        #expect(signature.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2] == "lifecycle=")
        #expect(
            signature.authorization.hasSuffix(
                "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"))
    }

    @Test func listObjectsExampleSortsQueryParameters() {
        let signature = Self.exampleSigner().signHeaders(
            method: "GET", host: Self.host, encodedPath: "/", query: [("prefix", "J"), ("max-keys", "2")],
            payloadHash: SigV4Signer.emptyPayloadHash
        )
        #expect(
            signature.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2]
                == "max-keys=2&prefix=J")
        #expect(
            signature.authorization.hasSuffix(
                "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
    }

    @Test func presignedURLExampleMatchesPublishedSignature() throws {
        let presigned = try Self.exampleSigner().presignURL(
            method: "GET", scheme: "https", host: Self.host, encodedPath: "/test.txt", expiresIn: 86_400
        )
        #expect(
            presigned.url
                == "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        )
        #expect(presigned.expires == Self.exampleDate.addingTimeInterval(86_400))
    }

    @Test func presignRejectsLifetimesOutsideOneSecondToSevenDays() throws {
        let signer = Self.exampleSigner()
        for seconds in [0, -1, 604_801] {
            let error = #expect(throws: ObjectStoreError.self) {
                try signer.presignURL(
                    method: "GET", scheme: "https", host: Self.host, encodedPath: "/a", expiresIn: seconds)
            }
            #expect(error?.code == .invalidArgument)
        }
        _ = try signer.presignURL(
            method: "GET", scheme: "https", host: Self.host, encodedPath: "/a", expiresIn: 604_800)
        _ = try signer.presignURL(method: "GET", scheme: "https", host: Self.host, encodedPath: "/a", expiresIn: 1)
    }

    @Test func uriEncodingKeepsOnlyUnreservedCharactersAndSlashesInPaths() {
        #expect(SigV4Signer.encodePath("a b/c+d%e~f_g.h-i") == "a%20b/c%2Bd%25e~f_g.h-i")
        #expect(SigV4Signer.uriEncode("a/b", encodeSlash: true) == "a%2Fb")
        #expect(SigV4Signer.encodePath("é") == "%C3%A9")
        #expect(SigV4Signer.encodePath("e\u{301}") == "e%CC%81")
        #expect(SigV4Signer.encodePath("!*'()") == "%21%2A%27%28%29")
        // An already-encoded key is encoded again: S3 keys are literal.
        #expect(SigV4Signer.encodePath("%20") == "%2520")
    }

    @Test func canonicalQuerySortsByEncodedBytesNotByUnicodeEquivalence() {
        let query = SigV4Signer.canonicalQuery([
            ("b", "2"), ("a", "z"), ("a", "y"), ("A", "1"), ("é", ""), ("e\u{301}", ""),
        ])
        // '%' (0x25) sorts before letters; NFC and NFD forms are different keys.
        #expect(query == "%C3%A9=&A=1&a=y&a=z&b=2&e%CC%81=")
    }

    @Test func headerValuesAreTrimmedAndRepeatedHeadersJoined() {
        let (canonical, signed) = SigV4Signer.canonicalHeaders([
            ("X-Amz-Meta-A", "  one   two "), ("x-amz-meta-a", "three"), ("Host", "h"),
        ])
        #expect(canonical == "host:h\nx-amz-meta-a:one two,three\n")
        #expect(signed == "host;x-amz-meta-a")
    }

    @Test func signingKeysAreCachedPerDayAndBounded() {
        let clock = TestClock(Self.exampleDate)
        let signer = SigV4Signer(accessKeyID: Self.accessKey, secretAccessKey: Self.secretKey, region: "auto") {
            clock.now
        }
        let first = signer.signHeaders(
            method: "GET", host: "h", encodedPath: "/a", payloadHash: SigV4Signer.emptyPayloadHash)
        let again = signer.signHeaders(
            method: "GET", host: "h", encodedPath: "/a", payloadHash: SigV4Signer.emptyPayloadHash)
        #expect(first == again)
        for day in 1...20 {
            clock.now = Self.exampleDate.addingTimeInterval(TimeInterval(day * 86_400))
            _ = signer.signHeaders(
                method: "GET", host: "h", encodedPath: "/a", payloadHash: SigV4Signer.emptyPayloadHash)
        }
        #expect(signer.cachedSigningKeyCount <= SigningKeyCache.capacity)
        // A key rebuilt after eviction signs exactly as before.
        clock.now = Self.exampleDate
        #expect(
            signer.signHeaders(method: "GET", host: "h", encodedPath: "/a", payloadHash: SigV4Signer.emptyPayloadHash)
                == first)
    }

    @Test func descriptionsNeverShowTheSecret() {
        let signer = Self.exampleSigner()
        var dumped = ""
        dump(signer, to: &dumped)
        for text in [String(describing: signer), String(reflecting: signer), dumped] {
            #expect(!text.contains(Self.secretKey))
            #expect(text.contains(Self.accessKey))
        }
    }

    @Test func amzDatesAreUTCAcrossLeapYearsAndCenturies() {
        #expect(SigV4Time(Date(timeIntervalSince1970: 0)).amzDate == "19700101T000000Z")
        #expect(SigV4Time(Date(timeIntervalSince1970: 951_825_599)).amzDate == "20000229T115959Z")
        #expect(SigV4Time(Date(timeIntervalSince1970: 4_102_444_799.9)).amzDate == "20991231T235959Z")
        // 2100 is not a leap year.
        #expect(SigV4Time(Date(timeIntervalSince1970: 4_107_542_399)).amzDate == "21000228T235959Z")
        #expect(SigV4Time(Date(timeIntervalSince1970: 4_107_542_400)).amzDate == "21000301T000000Z")
        #expect(S3Dates.parseHTTPDate("Wed, 12 Oct 2009 17:50:00 GMT") == Date(timeIntervalSince1970: 1_255_369_800))
        #expect(S3Dates.parseISO8601("2009-10-12T17:50:30.500Z") == Date(timeIntervalSince1970: 1_255_369_830.5))
        #expect(S3Dates.parseISO8601("2009-10-12T17:50:30Z") == Date(timeIntervalSince1970: 1_255_369_830))
        #expect(S3Dates.parseHTTPDate("Wed, 12 Foo 2009 17:50:00 GMT") == nil)
        #expect(S3Dates.parseISO8601("2009-13-12T17:50:30Z") == nil)
    }
}

/// A settable clock for signing tests.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date) { current = Mutex(start) }

    var now: Date {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}
