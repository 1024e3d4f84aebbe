import NIOCore
import NIOHTTP1
import Testing

@testable import Proxy

@Suite struct ResponseHeadWriterTests {
    static let date = "Sun, 06 Nov 1994 08:49:37 GMT"
    /// What every head ends with when nothing else is set.
    static let tail = "Date: \(date)\r\nX-Cache: MISS\r\n\r\n"

    func text(_ status: HTTPResponseStatus, _ headers: HTTPHeaders) -> (String, Int) {
        let (buffer, dropped) = ResponseHeadWriter.head(
            status: status, headers: headers, extra: .init(date: Self.date), allocator: ByteBufferAllocator())
        return (String(buffer: buffer), dropped)
    }

    @Test func theHeadIsAStatusLineFieldsAndABlankLine() {
        let (head, dropped) = text(.ok, ["Content-Type": "text/html; charset=utf-8", "Content-Length": "12"])
        #expect(
            head == "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 12\r\n" + Self.tail)
        #expect(dropped == 0)
    }

    @Test func extraFieldsFollowTheReplysOwn() {
        let extra = ResponseHeadWriter.ExtraFields(
            date: Self.date, contentLength: 2048, cacheHit: true, connection: "close")
        let (buffer, dropped) = ResponseHeadWriter.head(
            status: .ok, headers: ["ETag": "\"a\""], extra: extra, allocator: ByteBufferAllocator())
        #expect(
            String(buffer: buffer)
                == "HTTP/1.1 200 OK\r\nETag: \"a\"\r\nDate: \(Self.date)\r\nContent-Length: 2048\r\nX-Cache: HIT\r\n"
                + "Connection: close\r\n\r\n"
        )
        #expect(dropped == 0)
        let miss = ResponseHeadWriter.head(
            status: .ok, headers: [:], extra: .init(date: Self.date, contentLength: 0), allocator: ByteBufferAllocator()
        ).0
        #expect(
            String(buffer: miss)
                == "HTTP/1.1 200 OK\r\nDate: \(Self.date)\r\nContent-Length: 0\r\nX-Cache: MISS\r\n\r\n")
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
