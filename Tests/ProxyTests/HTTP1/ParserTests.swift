import NIOCore
import Testing

@testable import Proxy

/// What the parser made of some bytes, pulled until it needs more or fails.
struct Parsed {
    var heads: [HTTP1RequestHead] = []
    var bodies: [[UInt8]] = []
    var ends = 0
    var error: HTTP1ParseError?

    var head: HTTP1RequestHead? { heads.first }
    var body: [UInt8] { bodies.first ?? [] }
}

func parse(_ pieces: [[UInt8]], limits: HTTP1RequestParser.Limits = .init()) -> Parsed {
    var parser = HTTP1RequestParser(limits: limits)
    var parsed = Parsed()
    for piece in pieces {
        var buffer = ByteBuffer()
        buffer.writeBytes(piece)
        parser.feed(buffer)
        pull(&parser, into: &parsed)
    }
    return parsed
}

func pull(_ parser: inout HTTP1RequestParser, into parsed: inout Parsed) {
    while true {
        switch parser.next() {
        case .needMore:
            return
        case .error(let error):
            parsed.error = error
            return
        case .head(let head):
            parsed.heads.append(head)
            parsed.bodies.append([])
        case .body(let bytes):
            parsed.bodies[parsed.bodies.count - 1] += bytes.readableBytesView
        case .end:
            parsed.ends += 1
        }
    }
}

func parse(_ text: String, limits: HTTP1RequestParser.Limits = .init()) -> Parsed {
    parse([Array(text: text)], limits: limits)
}

/// The error of a request, or nil when it parses.
func error(_ text: String, limits: HTTP1RequestParser.Limits = .init()) -> HTTP1ParseError? {
    parse(text, limits: limits).error
}

func bad(_ reason: HTTP1ParseError.Reason) -> HTTP1ParseError { .badRequest(reason) }

let host = "Host: a.example\r\n"

@Suite struct RequestLineTests {
    @Test func browserGET() throws {
        let bytes = Corpus.browserGET
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        var parser = HTTP1RequestParser()
        parser.feed(buffer)
        guard case .head(let head) = parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(head.method == .get)
        #expect(head.version == .http11)
        #expect(head.targetForm == .origin)
        #expect(head.targetString == "/assets/app.css?v=3")
        #expect(head.originTarget == "/assets/app.css?v=3")
        #expect(head.hostString == "a.example")
        #expect(Array(head.hostBytes) == Array("a.example".utf8))
        #expect(head.firstValue(head.ifNoneMatch) == "\"5f3a-1c\"")
        #expect(head.firstValue(head.ifModifiedSince) == "Tue, 01 Jul 2025 10:00:00 GMT")
        #expect(head.firstValue(head.connection) == "keep-alive")
        #expect(!head.range.isPresent && !head.ifRange.isPresent && !head.expect.isPresent)
        #expect(head.acceptedEncodings == [.gzip, .br, .zstd])
        #expect(head.isKeepAlive && !head.hasBody && head.contentLength == nil && !head.isChunked)
        #expect(head.fieldCount == 9)
        #expect(head.bytes.readableBytes == bytes.count)
        // The head is a slice of the bytes fed: no copy.
        let fedBase = buffer.withUnsafeReadableBytes { $0.baseAddress }
        let headBase = head.bytes.withUnsafeReadableBytes { $0.baseAddress }
        #expect(fedBase == headBase)
        guard case .end = parser.next(), case .needMore = parser.next() else {
            Issue.record("no end")
            return
        }
    }

    @Test func fieldBytesAreCountedAsToday() throws {
        // name + value + 4: "Host" 4 + "a.example" 9 + 4, "X" 1 + "ab  " 4 + 4 (trailing OWS counts).
        let head = try #require(parse("GET / HTTP/1.1\r\n\(host)X:  ab  \r\n\r\n").head)
        #expect(head.fieldBytes == 17 + 9)
        #expect(head.values(named: "x") == ["ab"])
    }

    @Test(arguments: [
        ("GET", HTTP1Method.get), ("HEAD", .head), ("POST", .post), ("OPTIONS", .options), ("PUT", .put),
        ("DELETE", .delete), ("PATCH", .patch), ("TRACE", .trace), ("PROPFIND", .other), ("get", .other),
        ("M-SEARCH", .other), ("X!#$%&'*+-.^_`|~9", .other),
    ])
    func methods(_ name: String, _ method: HTTP1Method) throws {
        let head = try #require(parse("\(name) / HTTP/1.1\r\n\(host)\r\n").head)
        #expect(head.method == method)
        #expect(head.methodString == name)
    }

    @Test func connectMethodWithAuthorityIsRefused() {
        #expect(error("CONNECT a.example:443 HTTP/1.1\r\n\(host)\r\n") == bad(.unsupportedTargetForm))
        #expect(parse("CONNECT /x HTTP/1.1\r\n\(host)\r\n").head?.method == .connect)
    }

    @Test(arguments: ["GE(T", "GE\u{0}T", "GÉT", "GE/T", "GE:T", "GE\"T"])
    func methodMustBeAToken(_ method: String) {
        #expect(error("\(method) / HTTP/1.1\r\n\(host)\r\n") == bad(.invalidMethod))
    }

    @Test func versions() throws {
        #expect(try #require(parse("GET / HTTP/1.1\r\n\(host)\r\n").head).version == .http11)
        #expect(try #require(parse("GET / HTTP/1.0\r\n\(host)\r\n").head).version == .http10)
        for version in ["HTTP/2.0", "HTTP/1.2", "http/1.1", "HTTP/1", "HTTP/1.10", "HTTP/1.1x", "XTTP/1.1", "HTTP/11"] {
            #expect(error("GET / \(version)\r\n\(host)\r\n") == bad(.badVersion), "\(version)")
        }
    }

    @Test func singleSpacesOnly() {
        #expect(error("GET  / HTTP/1.1\r\n\(host)\r\n") == bad(.multipleSpaces))
        #expect(error("GET /  HTTP/1.1\r\n\(host)\r\n") == bad(.multipleSpaces))
        #expect(error("GET / HTTP/1.1 \r\n\(host)\r\n") == bad(.badVersion))
        #expect(error(" GET / HTTP/1.1\r\n\(host)\r\n") == bad(.badRequestLine))
        #expect(error("GET\t/ HTTP/1.1\r\n\(host)\r\n") == bad(.invalidMethod))
        #expect(error("GET /\r\n") == bad(.badRequestLine))
        #expect(error("GET\r\n") == bad(.badRequestLine))
    }

    @Test func targetBytes() {
        #expect(parse("GET /!$&'()*+,;=:@-._~%20[]{}|^`\\?a=b HTTP/1.1\r\n\(host)\r\n").head != nil)
        #expect(error("GET /café HTTP/1.1\r\n\(host)\r\n") == bad(.badTarget))
        #expect(error("GET /a\u{7F} HTTP/1.1\r\n\(host)\r\n") == bad(.badTarget))
        #expect(error("GET /a\u{0} HTTP/1.1\r\n\(host)\r\n") == bad(.badTarget))
        #expect(error("GET /a\tb HTTP/1.1\r\n\(host)\r\n") == bad(.badTarget))
        #expect(error("GET /a#b HTTP/1.1\r\n\(host)\r\n") == bad(.fragment))
    }

    @Test func targetForms() throws {
        func origin(_ target: String, host: String = "a.example") throws -> String {
            let head = try #require(parse("GET \(target) HTTP/1.1\r\nHost: \(host)\r\n\r\n").head)
            return head.originTarget
        }
        #expect(try origin("/x?y") == "/x?y")
        #expect(try origin("http://a.example/x?y") == "/x?y")
        #expect(try origin("https://a.example:8443/x") == "/x")
        #expect(try origin("HTTP://A.EXAMPLE./x", host: "a.example:80") == "/x")
        #expect(try origin("http://a.example") == "/")
        #expect(try origin("http://a.example?q=1") == "/?q=1")
        #expect(try origin("http://[::1]/x", host: "[::2]:80") == "/x")
        #expect(parse("GET http://a.example/ HTTP/1.1\r\n\(host)\r\n").head?.targetForm == .absolute)
        for target in ["*", "a.example:80", "index.html", "ftp://a.example/", "http:///x", "http://u@a.example/"] {
            #expect(error("GET \(target) HTTP/1.1\r\n\(host)\r\n") == bad(.unsupportedTargetForm), "\(target)")
        }
        #expect(error("OPTIONS * HTTP/1.1\r\n\(host)\r\n") == bad(.unsupportedTargetForm))
        for target in ["http://b.example/", "http://a.example:x/", "http://a.example:123456/", "http://a_b!/"] {
            #expect(error("GET \(target) HTTP/1.1\r\n\(host)\r\n") == bad(.hostMismatch), "\(target)")
        }
    }
}

@Suite struct LineEndingTests {
    @Test func bareLF() {
        #expect(error("GET / HTTP/1.1\n\(host)\r\n") == bad(.bareLF))
        #expect(error("GET / HTTP/1.1\r\nHost: a.example\n\r\n") == bad(.bareLF))
        #expect(error("GET / HTTP/1.1\r\n\(host)\n") == bad(.bareLF))
        #expect(error("GET / HTTP/1.1\r\n\(host)X:\n\r\n") == bad(.bareLF))
        #expect(error("GET /\n") == bad(.bareLF))
    }

    @Test func bareCR() {
        #expect(error("GET / HTTP/1.1\r\r\n\(host)\r\n") == bad(.bareCR))
        #expect(error("GET / HTTP/1.1\r\n\(host)X: a\rb\r\n\r\n") == bad(.bareCR))
        #expect(error("GET / HTTP/1.1\r\n\(host)X\rY: a\r\n\r\n") == bad(.invalidFieldName))
        #expect(error("GET / HTTP/1.1\r\n\(host)\r\r\n") == bad(.bareCR))
        #expect(error("GET / HTTP/1.1\r\n\(host)X: a\r\r\n\r\n") == bad(.bareCR))
    }

    @Test func leadingEmptyLines() {
        for count in 0...4 {
            let text = String(repeating: "\r\n", count: count) + "GET / HTTP/1.1\r\n\(host)\r\n"
            #expect(parse(text).head?.targetString == "/", "\(count) empty lines")
            // The head starts at the request line.
            #expect(parse(text).head?.bytes.readableBytesView.first == UInt8(ascii: "G"))
        }
        #expect(error(String(repeating: "\r\n", count: 5) + "GET / HTTP/1.1\r\n\(host)\r\n") == bad(.tooManyEmptyLines))
        #expect(error("\nGET / HTTP/1.1\r\n\(host)\r\n") == bad(.badEmptyLine))
        #expect(error("\rGET / HTTP/1.1\r\n\(host)\r\n") == bad(.badEmptyLine))
    }
}

@Suite struct FieldTests {
    @Test func obsFold() {
        #expect(error("GET / HTTP/1.1\r\n\(host)X: a\r\n b\r\n\r\n") == bad(.obsFold))
        #expect(error("GET / HTTP/1.1\r\n\(host)X: a\r\n\tb\r\n\r\n") == bad(.obsFold))
        #expect(error("GET / HTTP/1.1\r\n \(host)\r\n") == bad(.obsFold))
    }

    @Test func names() {
        #expect(error("GET / HTTP/1.1\r\n\(host)X : a\r\n\r\n") == bad(.spaceBeforeColon))
        #expect(error("GET / HTTP/1.1\r\n\(host)X\t: a\r\n\r\n") == bad(.spaceBeforeColon))
        #expect(error("GET / HTTP/1.1\r\n\(host): a\r\n\r\n") == bad(.emptyFieldName))
        #expect(error("GET / HTTP/1.1\r\n\(host)X\r\n\r\n") == bad(.invalidFieldName))
        for name in ["X(Y)", "X/Y", "X@Y", "X\"Y", "Xé", "X\u{0}Y", "X\u{7F}", "[X]"] {
            #expect(error("GET / HTTP/1.1\r\n\(host)\(name): a\r\n\r\n") == bad(.invalidFieldName), "\(name)")
        }
    }

    @Test func values() throws {
        for control: UInt8 in [0x00, 0x01, 0x08, 0x0B, 0x0C, 0x1B, 0x1F, 0x7F] {
            let bytes = Array(text: "GET / HTTP/1.1\r\n\(host)X: a") + [control] + Array(text: "b\r\n\r\n")
            #expect(parse([bytes]).error == bad(.badHeaderValue), "\(control)")
            let leading = Array(text: "GET / HTTP/1.1\r\n\(host)X: ") + [control] + Array(text: "\r\n\r\n")
            #expect(parse([leading]).error == bad(.badHeaderValue), "\(control) leading")
        }
        // obs-text, HTAB and SP are fine; OWS around the value is not part of it.
        let bytes = Array(text: "GET / HTTP/1.1\r\n\(host)X: \t a\u{9}\u{80}\u{FF} b \t\r\n\r\n")
        let head = try #require(parse([bytes]).head)
        #expect(head.values(named: "X").first?.utf8.count == Array("a\t\u{80}\u{FF} b".utf8).count)
        let raw = Array(text: "GET / HTTP/1.1\r\n\(host)X: a") + [0x80, 0xFF] + Array(text: "\r\n\r\n")
        #expect(parse([raw]).head != nil)
        #expect(try #require(parse("GET / HTTP/1.1\r\n\(host)X:\r\nY:   \r\n\r\n").head).values(named: "y") == [""])
    }

    @Test func repeatedProxyFields() throws {
        let head = try #require(
            parse(
                "GET / HTTP/1.1\r\n\(host)If-None-Match: \"a\"\r\nRange: bytes=0-1\r\nif-none-match: \"b\"\r\n"
                    + "RANGE: bytes=2-3\r\nIf-Range: x\r\n\r\n"
            ).head)
        #expect(head.ifNoneMatch.count == 2 && head.firstValue(head.ifNoneMatch) == "\"a\"")
        #expect(head.values(named: "If-None-Match") == ["\"a\"", "\"b\""])
        #expect(head.range.count == 2 && head.ifRange.count == 1)
        #expect(head.values(named: "range") == ["bytes=0-1", "bytes=2-3"])
    }
}

@Suite struct FramingTests {
    func post(_ fields: String, body: String = "", version: String = "HTTP/1.1") -> Parsed {
        parse("POST / \(version)\r\n\(host)\(fields)\r\n\(body)")
    }

    @Test func contentLength() throws {
        let parsed = post("Content-Length: 5\r\n", body: "hello")
        #expect(parsed.head?.contentLength == 5 && parsed.body == Array("hello".utf8) && parsed.ends == 1)
        #expect(post("Content-Length: 0\r\n").ends == 1)
        #expect(post("Content-Length: 0005\r\n", body: "hello").head?.contentLength == 5)
        #expect(post("Content-Length:\t 5\r\n", body: "hello").head?.contentLength == 5)
        #expect(post("Content-Length: 000000000000000005\r\n", body: "hello").head?.contentLength == 5)
        for value in ["5, 5", "+5", "-1", "", "5a", "0x5", "1 0", "5 ", "5\t", "0000000000000000005"] {
            #expect(post("Content-Length: \(value)\r\n").error == bad(.badContentLength), "\(value)")
        }
        #expect(post("Content-Length: 5\r\nContent-Length: 5\r\n").error == bad(.duplicateContentLength))
        #expect(post("Content-Length: 5\r\ncontent-length: 6\r\n").error == bad(.duplicateContentLength))
    }

    @Test func conflictingFraming() {
        #expect(post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n").error == bad(.conflictingFraming))
        #expect(post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n").error == bad(.conflictingFraming))
    }

    @Test func transferEncoding() {
        for value in ["chunked", "Chunked", "CHUNKED", "chunked ", "\tchunked", " chunked  "] {
            let parsed = post("Transfer-Encoding:\(value)\r\n", body: "0\r\n\r\n")
            #expect(parsed.head?.isChunked == true && parsed.ends == 1, "\(value)")
        }
        #expect(post("Transfer-encoding: chunked\r\n", body: "0\r\n\r\n").ends == 1)
        for value in [
            "chunked, chunked", "gzip, chunked", "xchunked", "chunked;x", "identity", "chunked, identity", "",
            "chunked\t", "chunked \t",
        ] {
            #expect(post("Transfer-Encoding: \(value)\r\n").error == bad(.badTransferEncoding), "\(value)")
        }
        #expect(
            post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n").error == bad(.badTransferEncoding))
        #expect(post("Transfer-Encoding : chunked\r\n").error == bad(.spaceBeforeColon))
        #expect(post("Transfer-Encoding: chunked\r\n", version: "HTTP/1.0").error == bad(.transferEncodingInHTTP10))
        #expect(post("Transfer-Encoding: identity\r\n", version: "HTTP/1.0").error == bad(.transferEncodingInHTTP10))
    }

    @Test func hostField() {
        #expect(error("GET / HTTP/1.1\r\n\r\n") == bad(.missingHost))
        #expect(error("GET / HTTP/1.0\r\n\r\n") == bad(.missingHost))
        #expect(error("GET / HTTP/1.0\r\nAccept: */*\r\n\r\n") == bad(.missingHost))
        #expect(error("GET / HTTP/1.1\r\nHost:\r\n\r\n") == bad(.emptyHost))
        #expect(error("GET / HTTP/1.1\r\nHost:   \r\n\r\n") == bad(.emptyHost))
        #expect(error("GET / HTTP/1.1\r\n\(host)\(host)\r\n") == bad(.duplicateHost))
        #expect(error("GET / HTTP/1.0\r\n\(host)host: b\r\n\r\n") == bad(.duplicateHost))
        #expect(parse("GET / HTTP/1.0\r\nHOST: a.example:81\r\n\r\n").head?.hostString == "a.example:81")
    }

    @Test func keepAlive() throws {
        func keepAlive(_ version: String, _ connection: [String]) throws -> Bool {
            let fields = connection.map { "Connection: \($0)\r\n" }.joined()
            return try #require(parse("GET / \(version)\r\n\(host)\(fields)\r\n").head).isKeepAlive
        }
        #expect(try keepAlive("HTTP/1.1", []))
        #expect(try keepAlive("HTTP/1.1", ["keep-alive"]))
        #expect(try keepAlive("HTTP/1.1", ["closed"]))
        #expect(try !keepAlive("HTTP/1.1", ["close"]))
        #expect(try !keepAlive("HTTP/1.1", ["Close"]))
        #expect(try !keepAlive("HTTP/1.1", ["foo ,  close , bar"]))
        #expect(try !keepAlive("HTTP/1.1", ["foo", "close"]))
        #expect(try !keepAlive("HTTP/1.1", ["close, keep-alive"]))
        #expect(try !keepAlive("HTTP/1.0", []))
        #expect(try !keepAlive("HTTP/1.0", ["foo"]))
        #expect(try keepAlive("HTTP/1.0", ["keep-alive"]))
        #expect(try keepAlive("HTTP/1.0", ["Keep-Alive"]))
        #expect(try keepAlive("HTTP/1.0", ["foo,keep-alive"]))
        #expect(try !keepAlive("HTTP/1.0", ["keep-alive, close"]))
        #expect(try !keepAlive("HTTP/1.0", ["keep-alive", "close"]))
    }

    @Test func expect() throws {
        let early = try #require(post("Expect: 100-continue\r\nContent-Length: 5\r\n").head)
        #expect(early.expectation == .continue && early.expectsContinue)
        #expect(try #require(post("Expect: 100-CONTINUE\r\nTransfer-Encoding: chunked\r\n").head).expectsContinue)
        #expect(try !#require(post("Expect: 100-continue\r\nContent-Length: 0\r\n").head).expectsContinue)
        #expect(try !#require(post("Expect: 100-continue\r\n").head).expectsContinue)
        let other = try #require(post("Expect: foo\r\nContent-Length: 5\r\n").head)
        #expect(other.expectation == .other && !other.expectsContinue)
        #expect(try #require(post("Expect: 100-continue\r\nExpect: x\r\n").head).expectation == .other)
    }
}

@Suite struct ChunkedTests {
    func chunked(_ body: String, limits: HTTP1RequestParser.Limits = .init()) -> Parsed {
        parse("POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n\(body)", limits: limits)
    }

    @Test func bodies() {
        let parsed = chunked("3\r\nabc\r\nA;x=y;z=\"q\\\"\";w\r\n0123456789\r\n0;last\r\nX-T: 1\r\n\r\n")
        #expect(parsed.error == nil && parsed.ends == 1)
        #expect(parsed.body == Array("abc0123456789".utf8))
        #expect(chunked("0000000000000003\r\nabc\r\n0\r\n\r\n").body == Array("abc".utf8))
        #expect(chunked("5;a=\r\nhello\r\n0\r\n\r\n").ends == 1)
    }

    @Test func framingErrors() {
        #expect(chunked("00000000000000003\r\nabc\r\n0\r\n\r\n").error == bad(.chunkLineTooLong))
        #expect(chunked("fffffffffffffffff\r\n").error == bad(.chunkLineTooLong))
        #expect(chunked("3;a=" + String(repeating: "b", count: 1020) + "\r\nabc\r\n0\r\n\r\n").error == nil)
        #expect(chunked("3;a=" + String(repeating: "b", count: 1021) + "\r\n").error == bad(.chunkLineTooLong))
        for body in [
            "3 \r\nabc\r\n", "\r\n", "-3\r\n", "0x3\r\n", "3\nabc\r\n", "3\r\nabcd\r\n", "3\r\nabc\n0\r\n", "g\r\n",
        ] {
            #expect(chunked(body).error == bad(.badChunk), "\(body)")
        }
        for body in ["3;\r\n", "3 ;a\r\n", "3; a\r\n", "3;a=b c\r\n", "3;=b\r\n", "3;a=\"b\"c\r\n", "3;a=b;\r\n"] {
            let expected: HTTP1ParseError = body.hasPrefix("3 ") ? bad(.badChunk) : bad(.badChunkExtension)
            #expect(chunked(body).error == expected, "\(body)")
        }
    }

    @Test func trailers() {
        #expect(chunked("0\r\nA: 1\r\nB: 2\r\n\r\n").ends == 1)
        #expect(chunked("0\r\nA: 1\r\n 2\r\n\r\n").error == bad(.obsFold))
        #expect(chunked("0\r\nA: \u{0}\r\n\r\n").error == bad(.badHeaderValue))
        #expect(chunked("0\r\nA\r\n\r\n").error == bad(.invalidFieldName))
        #expect(chunked("0\r\nContent-Length: 5\r\n\r\n").error == bad(.conflictingFraming))
        #expect(chunked("0\r\nTransfer-Encoding: chunked\r\n\r\n").error == bad(.conflictingFraming))
        #expect(chunked("0\r\n\n").error == bad(.bareLF))
        let limits = HTTP1RequestParser.Limits(maxHeaderBytes: 64, maxHeaderCount: 3)
        #expect(chunked("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits).ends == 1)
        #expect(chunked("0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits: limits).error == .headersTooLarge)
        #expect(chunked("0\r\nA: " + String(repeating: "v", count: 59) + "\r\n\r\n", limits: limits).ends == 1)
        #expect(chunked("0\r\nA: " + String(repeating: "v", count: 60), limits: limits).error == .headersTooLarge)
    }

    @Test func bodyLimit() {
        let limits = HTTP1RequestParser.Limits(maxBodyBytes: 10)
        #expect(chunked("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", limits: limits).ends == 1)
        #expect(chunked("5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", limits: limits).error == .payloadTooLarge)
        // Found at the byte past the limit, without waiting for the rest of the chunk.
        #expect(chunked("5\r\nhello\r\n100\r\nworld!", limits: limits).error == .payloadTooLarge)
        #expect(chunked("5\r\nhello\r\n100\r\nworld", limits: limits).error == nil)
    }
}

@Suite struct LimitTests {
    @Test func requestLine() {
        let limits = HTTP1RequestParser.Limits(maxRequestLineBytes: 100)
        // "GET " + target + " HTTP/1.1": target + 13 bytes.
        let atLimit = "GET /" + String(repeating: "a", count: 86) + " HTTP/1.1"
        #expect(atLimit.utf8.count == 100)
        #expect(parse(atLimit + "\r\n\(host)\r\n", limits: limits).head != nil)
        #expect(
            error("GET /" + String(repeating: "a", count: 87) + " HTTP/1.1\r\n\(host)\r\n", limits: limits)
                == .uriTooLong)
        // Found as soon as the line is over, without its end.
        #expect(parse("GET /" + String(repeating: "a", count: 96), limits: limits).error == .uriTooLong)
        #expect(parse("GET /" + String(repeating: "a", count: 95), limits: limits).error == nil)
        #expect(parse(String(repeating: "G", count: 101), limits: limits).error == .uriTooLong)
        // The default.
        #expect(error("GET /" + String(repeating: "a", count: 8192 - 14) + " HTTP/1.1\r\n\(host)\r\n") == nil)
        #expect(error("GET /" + String(repeating: "a", count: 8192 - 13) + " HTTP/1.1\r\n\(host)\r\n") == .uriTooLong)
    }

    @Test func headerBytes() {
        let limits = HTTP1RequestParser.Limits(maxHeaderBytes: 100)
        // Host counts 17; X counts 1 + value + 4.
        let room = 100 - 17 - 5
        #expect(
            parse("GET / HTTP/1.1\r\n\(host)X: \(String(repeating: "v", count: room))\r\n\r\n", limits: limits).head
                != nil)
        #expect(
            parse("GET / HTTP/1.1\r\n\(host)X: \(String(repeating: "v", count: room + 1))\r\n\r\n", limits: limits)
                .error == .headersTooLarge)
        // Trailing OWS counts, leading OWS does not.
        #expect(
            parse("GET / HTTP/1.1\r\n\(host)X:    \(String(repeating: "v", count: room - 1)) \r\n\r\n", limits: limits)
                .head != nil)
        #expect(
            parse("GET / HTTP/1.1\r\n\(host)X: \(String(repeating: "v", count: room - 1))  \r\n\r\n", limits: limits)
                .error == .headersTooLarge)
        // Found at the first byte over, without the end of the line.
        #expect(
            parse("GET / HTTP/1.1\r\n\(host)X: \(String(repeating: "v", count: room + 1))", limits: limits).error
                == .headersTooLarge)
        #expect(
            parse("GET / HTTP/1.1\r\n\(host)X: \(String(repeating: "v", count: room))", limits: limits).error == nil)
        // A long name, too.
        #expect(
            parse("GET / HTTP/1.1\r\n\(host)\(String(repeating: "N", count: 80))", limits: limits).error
                == .headersTooLarge)
        // The default.
        let defaultRoom = 32768 - 17 - 5
        #expect(error("GET / HTTP/1.1\r\n\(host)X: \(String(repeating: "v", count: defaultRoom))\r\n\r\n") == nil)
        #expect(
            error("GET / HTTP/1.1\r\n\(host)X: \(String(repeating: "v", count: defaultRoom + 1))\r\n\r\n")
                == .headersTooLarge)
    }

    @Test func rawBytesAreBounded() {
        // OWS is not counted, but never buffered without bound either.
        let limits = HTTP1RequestParser.Limits(maxRequestLineBytes: 100, maxHeaderBytes: 100)
        let spaces = String(repeating: " ", count: 400)
        #expect(parse("GET / HTTP/1.1\r\n\(host)X:\(spaces)", limits: limits).error == .headersTooLarge)
    }

    @Test func headerCount() {
        let fields = (1..<100).map { "X-\($0): v\r\n" }.joined()
        #expect(error("GET / HTTP/1.1\r\n\(host)\(fields)\r\n") == nil)
        #expect(error("GET / HTTP/1.1\r\n\(host)\(fields)Y: v\r\n\r\n") == .headersTooLarge)
        // Found at the first byte of the field over the count.
        #expect(error("GET / HTTP/1.1\r\n\(host)\(fields)Y") == .headersTooLarge)
        #expect(error("GET / HTTP/1.1\r\n\(host)\(fields)") == nil)
    }

    @Test func declaredBody() {
        let atLimit = parse(
            "POST / HTTP/1.1\r\n\(host)Content-Length: 1024\r\n\r\n" + String(repeating: "a", count: 1024))
        #expect(atLimit.ends == 1 && atLimit.body.count == 1024)
        #expect(error("POST / HTTP/1.1\r\n\(host)Content-Length: 1025\r\n\r\n") == .payloadTooLarge)
        #expect(error("POST / HTTP/1.1\r\n\(host)Content-Length: 999999999999999999\r\n\r\n") == .payloadTooLarge)
    }
}

@Suite struct StreamTests {
    @Test func pipelinedInOrderWithoutReadingAhead() throws {
        let first = "POST /a HTTP/1.1\r\n\(host)Content-Length: 3\r\n\r\nabc"
        let second = "GET /b HTTP/1.1\r\n\(host)\r\n"
        var buffer = ByteBuffer()
        buffer.writeString(first + second + "BAD\u{0}")
        var parser = HTTP1RequestParser()
        parser.feed(buffer)
        guard case .head(let a) = parser.next(), case .body(let body) = parser.next(), case .end = parser.next() else {
            Issue.record("first request")
            return
        }
        #expect(a.targetString == "/a" && body.readableBytes == 3)
        // The caller may stop here; the bad bytes have not been looked at yet.
        guard case .head(let b) = parser.next(), case .end = parser.next() else {
            Issue.record("second request")
            return
        }
        #expect(b.targetString == "/b")
        #expect(errorOf(parser.next()) == bad(.invalidMethod))
    }

    @Test func deadAfterAnError() {
        var parser = HTTP1RequestParser()
        var buffer = ByteBuffer()
        buffer.writeString("GET / HTTP/1.1\r\nX : y\r\n")
        parser.feed(buffer)
        #expect(errorOf(parser.next()) == bad(.spaceBeforeColon))
        var more = ByteBuffer()
        more.writeString("\r\nGET / HTTP/1.1\r\n\(host)\r\n")
        parser.feed(more)
        #expect(errorOf(parser.next()) == bad(.spaceBeforeColon))
        #expect(errorOf(parser.next()) == bad(.spaceBeforeColon))
    }

    @Test func headSpanningReads() throws {
        let text = Array(text: "GET /x HTTP/1.1\r\n\(host)Accept-Encoding: br\r\n\r\n")
        for split in 1..<text.count {
            let parsed = parse([Array(text[..<split]), Array(text[split...])])
            #expect(parsed.head?.targetString == "/x" && parsed.head?.acceptedEncodings == [.br], "\(split)")
            #expect(parsed.ends == 1)
        }
        let byteByByte = parse(text.map { [$0] })
        #expect(byteByByte.head?.hostString == "a.example" && byteByByte.ends == 1)
    }

    @Test func emptyFeedsAreHarmless() {
        var parser = HTTP1RequestParser()
        parser.feed(ByteBuffer())
        #expect(isNeedMore(parser.next()))
    }
}

@Suite struct AcceptEncodingTests {
    static let cases: [(String, HTTP1AcceptedEncodings)] = [
        ("gzip, deflate, br, zstd", [.gzip, .br, .zstd]),
        ("gzip;q=0, br", [.br]),
        ("*;q=0", []),
        ("*", [.gzip, .br, .zstd]),
        ("gzip;q=0, *", [.br, .zstd]),
        ("br;q=0.5, gzip;q=0.000, zstd;q=1.0", [.br, .zstd]),
        ("identity", []),
        ("X-GZIP, BR", [.gzip, .br]),
        (" gzip ; q=0.1 ,  br ; Q=0 ", [.gzip]),
        ("gzip, gzip;q=0", []),
        (",, gzip ,;q=0, br;;q=1", [.gzip, .br]),
        ("gzip;q=abc, br;q=, zstd;q=-1", [.br]),
        ("gzip;q=1e-1, br;q=.5, zstd;q=0.", [.gzip, .br]),
        ("", []),
    ]

    @Test(arguments: cases)
    func flags(_ value: String, _ expected: HTTP1AcceptedEncodings) throws {
        let head = try #require(parse("GET / HTTP/1.1\r\n\(host)Accept-Encoding: \(value)\r\n\r\n").head)
        #expect(head.acceptedEncodings == expected)
    }

    @Test func severalFields() throws {
        let head = try #require(
            parse("GET / HTTP/1.1\r\n\(host)Accept-Encoding: gzip\r\naccept-encoding: br;q=0, zstd\r\n\r\n").head)
        #expect(head.acceptedEncodings == [.gzip, .zstd])
        #expect(head.acceptEncoding.count == 2)
    }
}

/// The error of an event, if it is one.
func errorOf(_ event: HTTP1RequestParser.Event) -> HTTP1ParseError? {
    if case .error(let error) = event { return error }
    return nil
}

func isNeedMore(_ event: HTTP1RequestParser.Event) -> Bool {
    if case .needMore = event { return true }
    return false
}
