/// Splits the multiplexed stream Docker sends for a container's logs (and
/// attach/exec output) when the container has no TTY.
///
/// The stream is a sequence of frames, each an 8-byte header then a payload:
///
/// ```
/// [stream: 1 byte][0, 0, 0][payload length: 4 bytes, big-endian][payload]
/// ```
///
/// where stream is 0 (stdin), 1 (stdout) or 2 (stderr) (Docker Engine API,
/// "Attach to a container", stream format). Network reads cut frames
/// anywhere, so this is a state machine over whatever bytes arrive: it keeps
/// at most the 8 bytes of a header and hands payload bytes on as they come,
/// never buffering a whole frame.
struct DockerLogDemuxer: Sendable {
    /// Which stream a payload chunk belongs to.
    enum Stream: UInt8, Sendable, Hashable {
        case stdin = 0
        case stdout = 1
        case stderr = 2
    }

    /// A piece of one frame's payload.
    struct Chunk: Sendable, Hashable {
        var stream: Stream
        var bytes: [UInt8]
    }

    /// The stream is not Docker's multiplexed format.
    struct FormatError: Error, Sendable, Hashable, CustomStringConvertible {
        var description: String
    }

    private enum State: Sendable, Hashable {
        /// Reading a header; holds the header bytes read so far.
        case header([UInt8])
        /// Reading `remaining` payload bytes of a frame of `stream`.
        case payload(Stream, remaining: Int)
    }

    private var state: State = .header([])

    /// Whether the stream ended cleanly: on a frame boundary.
    var isAtFrameBoundary: Bool {
        if case .header(let bytes) = state { return bytes.isEmpty }
        return false
    }

    /// Feeds `bytes`; returns the payload chunks they carry, in order.
    /// - Throws: `FormatError` for a header with an unknown stream byte or
    ///   non-zero padding.
    mutating func feed(_ bytes: some Collection<UInt8>) throws(FormatError) -> [Chunk] {
        var chunks: [Chunk] = []
        var index = bytes.startIndex
        while index != bytes.endIndex {
            switch state {
            case .header(var header):
                let take = min(8 - header.count, bytes.distance(from: index, to: bytes.endIndex))
                let end = bytes.index(index, offsetBy: take)
                header.append(contentsOf: bytes[index..<end])
                index = end
                guard header.count == 8 else {
                    state = .header(header)
                    continue
                }
                guard let stream = Stream(rawValue: header[0]), header[1] == 0, header[2] == 0, header[3] == 0 else {
                    throw FormatError(
                        description:
                            "unexpected log frame header \(header.map { String($0, radix: 16) }.joined(separator: " ")); is the container running with a TTY?"
                    )
                }
                let length = Int(header[4]) << 24 | Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
                state = length == 0 ? .header([]) : .payload(stream, remaining: length)
            case .payload(let stream, let remaining):
                let take = min(remaining, bytes.distance(from: index, to: bytes.endIndex))
                let end = bytes.index(index, offsetBy: take)
                chunks.append(Chunk(stream: stream, bytes: Array(bytes[index..<end])))
                index = end
                state = remaining == take ? .header([]) : .payload(stream, remaining: remaining - take)
            }
        }
        return chunks
    }
}
