import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1

@testable import Proxy

/// A request as an edge would serve it, in the terms both edges share, so
/// that today's edge and the new parser can be compared field by field.
struct ServedRequest: Hashable, CustomStringConvertible {
    var method: String
    /// The origin-form target (after `RequestTarget.originForm`).
    var target: String
    var host: String
    var isKeepAlive: Bool
    var contentLength: Int?
    var isChunked: Bool
    /// The values of the fields the proxy reads, by lower-case name, in order.
    var fields: [String: [String]]
    var gzip: Bool
    var br: Bool
    var zstd: Bool
    var body: [UInt8]
    /// Served before its body (`Expect` with a body); nothing more is read.
    var servedBeforeBody: Bool

    static let proxyFields = [
        "if-none-match", "if-modified-since", "range", "if-range", "accept-encoding", "connection", "expect",
        "upgrade",
    ]

    var description: String {
        "\(method) \(target) host=\(host) keepAlive=\(isKeepAlive) cl=\(contentLength.map(String.init) ?? "-") "
            + "chunked=\(isChunked) fields=\(fields) ae=\(gzip ? "g" : "")\(br ? "b" : "")\(zstd ? "z" : "") "
            + "body=\(body.count)B early=\(servedBeforeBody)"
    }
}

/// How the bytes of one connection ended up.
enum Ending: Hashable {
    /// Refused with this page; the connection closes.
    case rejected(SlipwayPages.Kind)
    /// The last request asked to close (or was served before its body): nothing more is read.
    case closed
    /// Every byte was read and more are awaited.
    case needMore
}

struct Outcome: Hashable, CustomStringConvertible {
    var requests: [ServedRequest] = []
    var ending = Ending.needMore

    var description: String {
        requests.enumerated().map { "  #\($0.offset): \($0.element)" }.joined(separator: "\n") + "\n  -> \(ending)"
    }
}

let referenceLimits = HTTP1RequestParser.Limits()

// MARK: - Today's edge

/// Today's edge: the connection guard's request-line watch, NIO's
/// `HTTPRequestDecoder` (llhttp) configured as `ProxyServer` does, then
/// `RequestIntake` (the copied head checks and body limit), driven the way
/// `ProxyRequestHandler` drives it.
enum ReferenceEdge {
    /// Parts and errors as the request handler receives them, in order.
    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        enum Item {
            case part(HTTPServerRequestPart)
            case error(any Error)
        }
        var items: [Item] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            items.append(.part(unwrapInboundIn(data)))
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            items.append(.error(error))
        }
    }

    static func run(_ pieces: [[UInt8]], limits: HTTP1RequestParser.Limits = referenceLimits) -> Outcome {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        let headLimit = limits.maxRequestLineBytes + limits.maxHeaderBytes
        decoderLimits.maxHeaderFieldSize = headLimit
        decoderLimits.maxHeaderListSize = headLimit
        decoderLimits.maxHeaderFieldCount = limits.maxHeaderCount
        let channel = EmbeddedChannel()
        let collector = Collector()
        do {
            try channel.pipeline.syncOperations.addHandler(
                ByteToMessageHandler(
                    HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: decoderLimits)))
            try channel.pipeline.syncOperations.addHandler(collector)
        } catch {
            fatalError("cannot set up the reference pipeline: \(error)") // test set-up only
        }
        defer { _ = try? channel.finish() }

        var intake = RequestIntake(
            limits: .init(
                maxRequestLineBytes: limits.maxRequestLineBytes, maxHeaderBytes: limits.maxHeaderBytes,
                maxHeaderCount: limits.maxHeaderCount, maxRequestBodyBytes: limits.maxBodyBytes))
        var outcome = Outcome()
        var processed = 0
        // The previous edge's connection guard: the first request line's length, before the parser sees a read.
        var lineSeen: Int? = 0
        var currentBody: [UInt8] = []
        var currentHead: HTTPRequestHead?

        func served(_ request: IncomingRequest, head: HTTPRequestHead, early: Bool) -> ServedRequest {
            var fields: [String: [String]] = [:]
            for name in ServedRequest.proxyFields {
                let values = head.headers[name]
                if !values.isEmpty { fields[name] = values }
            }
            // Values trimmed of trailing OWS, as they are compared (see `IntendedDifference.hostTrailingOWS`).
            let accepted = Precompression.acceptedCodings(
                HTTPHeaders(head.headers.map { ($0.name, String($0.value.trimmingSpaces())) }))
            return ServedRequest(
                method: request.method.rawValue, target: request.target, host: request.host,
                isKeepAlive: request.isKeepAlive,
                contentLength: head.headers.first(name: "content-length").flatMap {
                    Int($0)
                }, isChunked: head.headers.contains(name: "transfer-encoding"), fields: fields,
                gzip: accepted("gzip"), br: accepted("br"), zstd: accepted("zstd"), body: early ? [] : currentBody,
                servedBeforeBody: early)
        }

        for piece in pieces {
            if let seen = lineSeen {
                let length: Int
                if let lineFeed = piece.firstIndex(of: UInt8(ascii: "\n")) {
                    length = seen + lineFeed
                    lineSeen = nil
                } else {
                    length = seen + piece.count
                    lineSeen = length
                }
                if length > limits.maxRequestLineBytes + 1 {
                    outcome.ending = .rejected(.uriTooLong)
                    return outcome
                }
            }
            var buffer = channel.allocator.buffer(capacity: piece.count)
            buffer.writeBytes(piece)
            _ = try? channel.writeInbound(buffer)
            while processed < collector.items.count {
                let item = collector.items[processed]
                processed += 1
                let action: RequestIntake.Action
                switch item {
                case .error(let error):
                    // (The guard's 414 returned above, before the parser saw the read.)
                    let kind: SlipwayPages.Kind =
                        if let parserError = error as? HTTPParserError, parserError == .headerOverflow {
                            .headersTooLarge
                        } else {
                            .badRequest
                        }
                    outcome.ending = .rejected(kind)
                    return outcome
                case .part(.head(let head)):
                    currentHead = head
                    currentBody = []
                    action = intake.headReceived(head)
                case .part(.body(let body)):
                    currentBody += body.readableBytesView
                    action = intake.bodyReceived(bytes: body.readableBytes)
                case .part(.end):
                    action = intake.endReceived()
                }
                switch action {
                case .none:
                    break
                case .reject(let kind):
                    outcome.ending = .rejected(kind)
                    return outcome
                case .serve(let request):
                    guard let head = currentHead else { continue }
                    outcome.requests.append(served(request, head: head, early: false))
                    if !request.isKeepAlive {
                        outcome.ending = .closed
                        return outcome
                    }
                case .serveAndClose(let request):
                    guard let head = currentHead else { continue }
                    outcome.requests.append(served(request, head: head, early: true))
                    outcome.ending = .closed
                    return outcome
                }
            }
        }
        return outcome
    }
}

// MARK: - The new parser

/// The edge with the new parser, driven the same way: a request is served at
/// its end (or at its head when it expects `100-continue` with a body), and
/// nothing more is read after a request that closes or after an error.
enum SlipwayEdge {
    struct Run {
        var outcome = Outcome()
        var heads: [HTTP1RequestHead] = []
        var error: HTTP1ParseError?
        /// The parser took more steps than its bytes allow: each `next()`
        /// either moves past bytes or ends a request whose head did, so a few
        /// events per byte at most. More means it loops.
        var looped = false
    }

    static func run(_ pieces: [[UInt8]], limits: HTTP1RequestParser.Limits = referenceLimits) -> Run {
        var parser = HTTP1RequestParser(limits: limits)
        var run = Run()
        var current: (head: HTTP1RequestHead, body: [UInt8])?
        var steps = 0
        var stepBudget = 0
        for piece in pieces {
            var buffer = ByteBuffer()
            buffer.writeBytes(piece)
            parser.feed(buffer)
            stepBudget += 3 * piece.count + 4
            while true {
                steps += 1
                if steps > stepBudget {
                    run.looped = true
                    return run
                }
                switch parser.next() {
                case .needMore:
                    break
                case .error(let error):
                    run.outcome.ending = .rejected(kind(error))
                    run.error = error
                    return run
                case .head(let head):
                    run.heads.append(head)
                    if head.expectation != .none && head.hasBody {
                        // Today's edge answers any `Expect` with a body at once; so does the new one.
                        run.outcome.requests.append(served(head, body: [], early: true))
                        run.outcome.ending = .closed
                        return run
                    }
                    current = (head, [])
                    continue
                case .body(let bytes):
                    current?.body += bytes.readableBytesView
                    continue
                case .end:
                    guard let (head, body) = current else { continue }
                    current = nil
                    run.outcome.requests.append(served(head, body: body, early: false))
                    if !head.isKeepAlive {
                        run.outcome.ending = .closed
                        return run
                    }
                    continue
                }
                break
            }
        }
        return run
    }

    static func kind(_ error: HTTP1ParseError) -> SlipwayPages.Kind {
        switch error {
        case .badRequest: .badRequest
        case .uriTooLong: .uriTooLong
        case .headersTooLarge: .headersTooLarge
        case .payloadTooLarge: .payloadTooLarge
        }
    }

    static func served(_ head: HTTP1RequestHead, body: [UInt8], early: Bool) -> ServedRequest {
        var fields: [String: [String]] = [:]
        for name in ServedRequest.proxyFields {
            let values = head.values(named: name)
            if !values.isEmpty { fields[name] = values }
        }
        // The slots must agree with the re-scan.
        let slots: [String: HTTP1FieldSlot] = [
            "if-none-match": head.ifNoneMatch, "if-modified-since": head.ifModifiedSince, "range": head.range,
            "if-range": head.ifRange, "accept-encoding": head.acceptEncoding, "connection": head.connection,
            "expect": head.expect, "upgrade": HTTP1FieldSlot(value: 0..<0, count: Int32(fields["upgrade"]?.count ?? 0)),
        ]
        for (name, slot) in slots {
            precondition(Int(slot.count) == fields[name]?.count ?? 0, "slot count of \(name)")
            precondition(name == "upgrade" || head.firstValue(slot) == fields[name]?.first, "slot value of \(name)")
        }
        return ServedRequest(
            method: head.methodString, target: head.originTarget, host: head.hostString,
            isKeepAlive: head.isKeepAlive, contentLength: head.contentLength, isChunked: head.isChunked,
            fields: fields, gzip: head.acceptedEncodings.contains(.gzip), br: head.acceptedEncodings.contains(.br),
            zstd: head.acceptedEncodings.contains(.zstd), body: body, servedBeforeBody: early)
    }
}

// MARK: - Helpers

extension Array where Element == UInt8 {
    /// The bytes of `text` (UTF-8).
    init(text: String) { self = Array(text.utf8) }
}

/// Printable form of bytes for failure messages.
func printable(_ bytes: [UInt8], limit: Int = 400) -> String {
    var text = ""
    for byte in bytes.prefix(limit) {
        switch byte {
        case 0x0D: text += "\\r"
        case 0x0A: text += "\\n"
        case 0x09: text += "\\t"
        case 0x20...0x7E: text.unicodeScalars.append(Unicode.Scalar(byte))
        default: text += "\\x" + String(byte, radix: 16)
        }
    }
    if bytes.count > limit { text += "…(\(bytes.count) bytes)" }
    return text
}

/// Runs a long stretch of parsing on a thread of its own and returns what it
/// found. The test suites share a small pool of threads (two on a 2-core
/// machine) with every other suite's timers, lease renewals and socket
/// callbacks; tens of seconds of parsing there starves them, while a thread
/// of its own is only one more for the kernel to share the cores with.
/// `work` returns the failures it found, which the caller records: issues
/// are recorded from the test's own task, where the test is known.
func offTheSharedPool(_ work: @escaping @Sendable () -> [String]) async -> [String] {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.name = "parser-test"
        thread.stackSize = 8 << 20
        thread.start()
    }
}
