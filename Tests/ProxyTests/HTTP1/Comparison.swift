import NIOCore

@testable import Proxy

/// Where the new parser knowingly parts from today's edge (NIO's llhttp and
/// `RequestIntake`). The differential and generated tests fail on any other
/// difference.
enum IntendedDifference: String, CaseIterable, Sendable {
    /// llhttp skips any number of CR and LF bytes before a request line.
    /// RFC 9112 §2.2 asks a server to ignore at least one empty line (CRLF);
    /// Slipway ignores up to four CRLF and refuses more, or a lone CR or LF.
    case leadingEmptyLines
    /// llhttp accepts several spaces before the target ("GET  / HTTP/1.1").
    /// RFC 9112 §3 has exactly one SP; a lenient split of the request line is
    /// a known smuggling lever between parsers: Slipway refuses it.
    case multipleSpaces
    /// llhttp accepts a fragment in the target and today's edge passes it on.
    /// No request-target form has one (RFC 9112 §3.2); clients strip it.
    case fragment
    /// llhttp reads a chunk size of any length as long as it does not
    /// overflow (leading zeros) and chunk extensions of any length. Slipway
    /// takes at most 16 hex digits and a bounded size line.
    case chunkLineTooLong
    /// llhttp accepts a chunk extension with an empty name (`5;=v`); RFC 9112
    /// §7.1.1 wants a token. Extensions are ignored, but Slipway keeps their grammar.
    case chunkExtension
    /// The new parser refuses at the first byte that breaks a rule, where
    /// llhttp sometimes reads on: an HTTP/0.9-style request line (`GET /` CRLF,
    /// which llhttp refuses only once the head ends), a request line whose
    /// byte past the limit arrived but not its end. Today's edge would refuse
    /// such a request once more bytes came; the new one does not wait for them.
    case rejectedEarlier
    /// llhttp knows a fixed list of methods and refuses other tokens (and
    /// lower-case ones) with 400. Slipway parses any token method as
    /// `.other` (RFC 9110 §9.1: methods are extensible) and the server
    /// answers it as an unsupported method; framing is unaffected.
    case unknownMethod
    /// NIO keeps trailing OWS in a field value; RFC 9112 §5 says it is not
    /// part of the value, and Slipway trims it. Today an absolute-form target
    /// then never matches `Host: a.example ` (400); Slipway compares the
    /// trimmed host and serves it. (Field values are otherwise compared
    /// trimmed on both sides.)
    case hostTrailingOWS
    /// An HTTP/1.0 request with both `keep-alive` and `close` in
    /// `Connection`: llhttp keeps the connection open, Slipway closes it
    /// (closing is always safe, and `close` is the stronger signal).
    case http10KeepAliveAndClose
    /// llhttp skips spaces after a `Connection` token but not tabs, so
    /// `Connection: keep-alive<HTAB>` (HTTP/1.0) or `close<HTAB>` go
    /// unrecognised today. Slipway trims OWS (SP and HTAB) around each token.
    case connectionTokenTabs
    /// llhttp stops parsing after a request with `Connection: upgrade` and an
    /// `Upgrade` field (the rest belongs to the new protocol), so today a
    /// pipelined request behind it waits forever. Slipway never switches
    /// protocols and ignores `Upgrade` (RFC 9110 §7.8): it parses on.
    case upgradeStopsLLHTTP
}

/// llhttp's methods in request mode (`HTTP_METHOD_MAP` of NIO's vendored llhttp 9.3).
let llhttpMethods: Set<String> = [
    "DELETE", "GET", "HEAD", "POST", "PUT", "CONNECT", "OPTIONS", "TRACE", "COPY", "LOCK", "MKCOL", "MOVE",
    "PROPFIND", "PROPPATCH", "SEARCH", "UNLOCK", "BIND", "REBIND", "UNBIND", "ACL", "REPORT", "MKACTIVITY",
    "CHECKOUT", "MERGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PATCH", "PURGE", "MKCALENDAR", "LINK",
    "UNLINK", "SOURCE", "QUERY",
]

enum Verdict: Equatable {
    case same
    case intended(IntendedDifference)
    /// The new parser is stricter in a way the list does not explain.
    case unexpectedStricter(String)
    /// The new parser accepts or reads something differently.
    case unexpected(String)
    /// The reference refused where the new parser still waits for bytes (an
    /// unknown method's first bytes, which llhttp refuses at once; a target
    /// form that Slipway refuses once the head is complete). Nothing was
    /// accepted: fine for truncated or random bytes, a failure for the
    /// corpus's complete requests.
    case undecided(String)

    var isFailure: Bool {
        switch self {
        case .same, .intended: false
        case .unexpectedStricter, .unexpected, .undecided: true
        }
    }

    var isUndecided: Bool {
        if case .undecided = self { return true }
        return false
    }
}

/// Compares what both edges made of the same bytes, request by request, up
/// to the first difference, and explains that difference if it is intended.
func compare(reference: Outcome, new run: SlipwayEdge.Run) -> Verdict {
    let mine = run.outcome
    let theirs = reference.requests.map(trimmedValues)
    var index = 0
    while index < theirs.count && index < mine.requests.count {
        if theirs[index] != mine.requests[index] { break }
        index += 1
    }
    let details =
        "at request #\(index)\nreference:\n\(reference)\nnew:\n\(mine)\nnew error: \(String(describing: run.error))"
    if index == theirs.count && index == mine.requests.count {
        if reference.ending == mine.ending { return .same }
        // Both refused the same request: the same decision (the corpus test
        // compares the kinds of rejection separately).
        if case .rejected = reference.ending, case .rejected = mine.ending { return .same }
    }

    // The reference stopped parsing after an upgrade request.
    if index > 0, index == theirs.count, reference.ending == .needMore, isUpgrade(theirs[index - 1]) {
        return .intended(.upgradeStopsLLHTTP)
    }

    // Both served request #index, differently.
    if index < theirs.count && index < mine.requests.count {
        var adjusted = theirs[index]
        adjusted.isKeepAlive = mine.requests[index].isKeepAlive
        if adjusted == mine.requests[index], theirs[index].isKeepAlive, !mine.requests[index].isKeepAlive,
            index < run.heads.count, run.heads[index].version == .http10,
            connectionTokens(mine.requests[index]).isSuperset(of: ["keep-alive", "close"])
        {
            return .intended(.http10KeepAliveAndClose)
        }
        if adjusted == mine.requests[index],
            (reference.requests[index].fields["connection"] ?? []).contains(where: { $0.contains("\t") })
        {
            return .intended(.connectionTokenTabs)
        }
        return .unexpected("served differently " + details)
    }

    // The new parser served request #index; the reference did not.
    if index < mine.requests.count {
        guard case .rejected(.badRequest) = reference.ending, index == theirs.count, index < run.heads.count else {
            return .unexpected("served by the new parser only " + details)
        }
        let head = run.heads[index]
        if head.method == .other && !llhttpMethods.contains(head.methodString) { return .intended(.unknownMethod) }
        if head.targetForm == .absolute, let raw = rawHostValue(head), raw.last == " " || raw.last == "\t" {
            return .intended(.hostTrailingOWS)
        }
        return .unexpected("served by the new parser only " + details)
    }

    if case .rejected = reference.ending, mine.ending == .needMore, index == theirs.count,
        index == mine.requests.count
    {
        return .undecided(details)
    }

    // The new parser refused (or waits) where the reference served request #index or went on.
    if case .badRequest(let reason) = run.error {
        switch reason {
        case .tooManyEmptyLines, .badEmptyLine: return .intended(.leadingEmptyLines)
        case .multipleSpaces: return .intended(.multipleSpaces)
        case .fragment: return .intended(.fragment)
        case .chunkLineTooLong: return .intended(.chunkLineTooLong)
        case .badChunkExtension: return .intended(.chunkExtension)
        default: break
        }
    }
    if run.error != nil, reference.ending == .needMore, index == theirs.count, index == mine.requests.count {
        return .intended(.rejectedEarlier)
    }
    return .unexpectedStricter(details)
}

/// A reference request with field values and host trimmed of trailing OWS,
/// which NIO keeps and RFC 9112 §5 leaves out of the value.
private func trimmedValues(_ request: ServedRequest) -> ServedRequest {
    var request = request
    request.host = String(request.host.trimmingSpaces())
    request.fields = request.fields.mapValues { $0.map { String($0.trimmingSpaces()) } }
    return request
}

private func connectionTokens(_ request: ServedRequest) -> Set<String> {
    Set(
        (request.fields["connection"] ?? []).flatMap { $0.split(separator: ",") }.map {
            $0.trimmingSpaces().lowercased()
        })
}

/// llhttp's upgrade: an `Upgrade` field and the `upgrade` token in `Connection`.
private func isUpgrade(_ request: ServedRequest) -> Bool {
    request.fields["upgrade"] != nil && connectionTokens(request).contains("upgrade")
}

/// The Host field's value as sent, with trailing OWS (the head keeps the bytes).
private func rawHostValue(_ head: HTTP1RequestHead) -> String? {
    var raw: String?
    head.forEachField { name, value in
        guard head.string(name).lowercased() == "host" else { return }
        // From the value's start to the end of the line.
        let line = head.bytes.readableBytesView.dropFirst(Int(value.lowerBound))
        let end = line.firstIndex(of: 0x0D) ?? line.endIndex
        raw = String(decoding: line[..<end], as: UTF8.self)
    }
    return raw
}
