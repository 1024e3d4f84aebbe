import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import Proxy

@Suite struct ResponseHeadWriterTests {
    static let date = "Sun, 06 Nov 1994 08:49:37 GMT"
    /// What every head ends with when nothing else is set.
    static let tail = "X-Cache: MISS\r\nDate: \(date)\r\n\r\n"
    static let clock = HTTPDateClock { 784_111_777 }

    func text(_ status: HTTPResponseStatus, _ headers: HTTPHeaders) -> (String, Int) {
        let (buffer, dropped) = ResponseHeadWriter.start(
            status: status, headers: headers, contentLength: nil, cacheHit: false, allocator: ByteBufferAllocator())
        return (String(buffer: buffer) + String(buffer: HeadEndings(clock: Self.clock).ending(.keepAlive)), dropped)
    }

    @Test func theHeadIsAStatusLineFieldsAndABlankLine() {
        let (head, dropped) = text(.ok, ["Content-Type": "text/html; charset=utf-8", "Content-Length": "12"])
        #expect(
            head == "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 12\r\n" + Self.tail)
        #expect(dropped == 0)
    }

    @Test func theStartEndsWithTheFileFieldsAndTheEndingSaysTheConnection() {
        let (start, dropped) = ResponseHeadWriter.start(
            status: .ok, headers: ["ETag": "\"a\""], contentLength: 2048, cacheHit: true,
            allocator: ByteBufferAllocator())
        #expect(String(buffer: start) == "HTTP/1.1 200 OK\r\nETag: \"a\"\r\nContent-Length: 2048\r\nX-Cache: HIT\r\n")
        #expect(dropped == 0)
        let endings = HeadEndings(clock: Self.clock)
        #expect(String(buffer: endings.ending(.keepAlive)) == "Date: \(Self.date)\r\n\r\n")
        #expect(String(buffer: endings.ending(.close)) == "Connection: close\r\nDate: \(Self.date)\r\n\r\n")
        #expect(
            String(buffer: endings.ending(.keepAliveHTTP10)) == "Connection: keep-alive\r\nDate: \(Self.date)\r\n\r\n")
    }

    /// The endings follow the clock, made again when its second changes.
    @Test func theEndingsFollowTheClock() {
        let second = Mutex<Int64>(784_111_777)
        let endings = HeadEndings(clock: HTTPDateClock { second.withLock { $0 } })
        let first = endings.ending(.keepAlive)
        #expect(endings.ending(.keepAlive) == first)
        second.withLock { $0 += 1 }
        #expect(String(buffer: endings.ending(.keepAlive)) == "Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n\r\n")
    }

    @Test(arguments: [
        (HTTPResponseStatus.notModified, "304 Not Modified"), (.notFound, "404 Not Found"),
        (.partialContent, "206 Partial Content"),
        (.movedPermanently, "301 Moved Permanently"), (.rangeNotSatisfiable, "416 Range Not Satisfiable"),
        (.init(statusCode: 599), "599 "),
    ])
    func everyStatusHasItsLine(status: HTTPResponseStatus, line: String) {
        #expect(text(status, [:]).0 == "HTTP/1.1 \(line)\r\n" + Self.tail)
    }

    /// Nothing a header carries can split the response.
    @Test func fieldsThatAreNotValidHTTPAreLeftOut() {
        var headers = HTTPHeaders()
        headers.add(name: "X-Good", value: "a\tb")
        headers.add(name: "X-Empty", value: "")
        headers.add(name: "X-Split", value: "a\r\nSet-Cookie: stolen=1")
        headers.add(name: "X-Nul", value: "a\u{0}b")
        headers.add(name: "Bad Name", value: "x")
        headers.add(name: "", value: "x")
        headers.add(name: "X-Del", value: "\u{7f}")
        let (head, dropped) = text(.ok, headers)
        #expect(head == "HTTP/1.1 200 OK\r\nX-Good: a\tb\r\nX-Empty: \r\n" + Self.tail)
        #expect(dropped == 5)
    }
}
