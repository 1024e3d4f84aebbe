import Testing

@testable import Proxy

@Suite struct RequestPathTests {
    /// Plain paths take a shortcut; a `%`-escape forces the general rules.
    /// Both must give the same answer for every path.
    @Test(arguments: [
        "/", "/index.html", "/a/b/", "/assets/app.3f9a1c2be07d.js", "/a//b", "//", "/./a", "/a/.", "/a/..", "/../x",
        "/a/.../b", "/a/..b/", "/.well-known/x", "/a?b=c", "/a/./", "/x~y/(1)/'q'", "/a#b",
    ])
    func theShortcutForPlainPathsAgreesWithTheGeneralRules(path: String) {
        // Escape the byte after the first `/` when there is one that can be escaped harmlessly.
        let bytes = Array(path.utf8)
        var escaped = path
        if bytes.count > 1, bytes[1] != UInt8(ascii: "/"), bytes[1] != UInt8(ascii: "?"), bytes[1] != UInt8(ascii: "#")
        {
            escaped = "/%" + String(bytes[1], radix: 16, uppercase: true) + String(decoding: bytes[2...], as: UTF8.self)
        }
        let plain = Result { () throws(RequestPath.Rejection) in try RequestPath(target: path) }
        let general = Result { () throws(RequestPath.Rejection) in try RequestPath(target: escaped) }
        #expect(plain == general, "\(path) vs \(escaped)")
    }

    @Test func pathsAreDecodedExactlyOnce() throws {
        #expect(try RequestPath(target: "/a%20b/c").path == "/a b/c")
        #expect(try RequestPath(target: "/%2541").path == "/%41")
        #expect(try RequestPath(target: "/caf%C3%A9").path == "/café")
    }

    @Test func queriesAreKeptRawAndSeparate() throws {
        let request = try RequestPath(target: "/search/?q=a%20b&x=1")
        #expect(request.path == "/search/" && request.query == "q=a%20b&x=1")
        #expect(try RequestPath(target: "/").query == nil)
    }

    @Test func dotSegmentsAndRepeatedSlashesCollapse() throws {
        #expect(try RequestPath(target: "//a///b/./c/").path == "/a/b/c/")
        #expect(try RequestPath(target: "/./").path == "/")
        #expect(try RequestPath(target: "/%2e/x").path == "/x")
    }

    @Test func traversalAndSmugglingAttemptsAreRejected() {
        let cases: [(String, RequestPath.Rejection)] = [
            ("/../etc/passwd", .dotDotSegment), ("/a/../../b", .dotDotSegment), ("/%2e%2e/x", .dotDotSegment),
            ("/.%2e/x", .dotDotSegment), ("/a%2fb", .forbiddenByte), ("/a%2Fb", .forbiddenByte),
            ("/a%5cb", .forbiddenByte), ("/a\\b", .forbiddenByte), ("/a%00b", .forbiddenByte),
            ("/a%0d%0aSet-Cookie:x", .forbiddenByte), ("/a%7f", .forbiddenByte), ("/a%zz", .badEscape),
            ("/a%4", .badEscape), ("/a%", .badEscape), ("/%c0%ae%c0%ae/x", .invalidUTF8), ("/%ff", .invalidUTF8),
            ("/%ed%a0%80", .invalidUTF8), ("a/b", .notOriginForm), ("*", .notOriginForm),
            ("http://x/", .notOriginForm), ("/a#frag", .forbiddenByte),
        ]
        for (target, expected) in cases {
            #expect(throws: expected, "\(target)") { try RequestPath(target: target) }
        }
    }

    @Test func everyAcceptedPathIsASafeObjectKeySuffix() throws {
        // Property: random targets either fail or yield keys with no empty, '.' or '..' segment.
        let alphabet = Array("/.%2eEfF5cC0a\\b-_~é ")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let length = Int.random(in: 1...16, using: &generator)
            let target = "/" + String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            guard let request = try? RequestPath(target: target) else { continue }
            // Directory paths resolve to their index.html.
            let key = "sites/s/b/" + request.manifestPath + (request.path.hasSuffix("/") ? "index.html" : "")
            #expect(keyHasOnlySafeSegments(key), "\(target) -> \(key)")
        }
    }

    @Test func aSegmentOfCombiningMarksStaysItsOwnSegment() throws {
        // U+033E joins the '/' before it into one Character; object keys are bytes, so it is still a segment.
        let request = try RequestPath(target: "/%cc%be/%c3%a9~c")
        #expect(request.path == "/\u{33E}/é~c")
        #expect(keyHasOnlySafeSegments("sites/s/b/" + request.manifestPath))
    }

    /// Object keys are compared as bytes by every store, so the segments are split on the byte '/', never on
    /// Characters (a combining mark after '/' would hide the separator inside one grapheme).
    private func keyHasOnlySafeSegments(_ key: String) -> Bool {
        let segments = key.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst(3)
        let forbidden: [[UInt8]] = [[], Array(".".utf8), Array("..".utf8)]
        return segments.allSatisfy { !forbidden.contains(Array($0)) }
            && !key.utf8.contains(UInt8(ascii: "\\")) && !key.utf8.contains(0)
    }

    @Test func locationsAreEncodedAndNeverProtocolRelative() {
        #expect(encodePathForLocation("/a b/é/") == "/a%20b/%C3%A9/")
        #expect(encodePathForLocation("/x?y#z") == "/x%3Fy%23z")
    }
}
