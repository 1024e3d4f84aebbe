import NIOConcurrencyHelpers
public import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bytes to store: a buffer already in memory, or a stream read chunk by
/// chunk (a file, a response body), so that large objects never need to fit
/// in memory.
public struct ObjectBody: Sendable {
    enum Source: Sendable {
        case buffer(ByteBuffer)
        case stream(ObjectByteStream)
    }

    let source: Source

    /// A body held in memory.
    public static func bytes(_ buffer: ByteBuffer) -> ObjectBody {
        ObjectBody(source: .buffer(buffer))
    }

    /// A body held in memory.
    public static func bytes(_ bytes: some Sequence<UInt8>) -> ObjectBody {
        ObjectBody(source: .buffer(ByteBuffer(bytes: bytes)))
    }

    /// A body held in memory.
    public static func string(_ string: String) -> ObjectBody {
        ObjectBody(source: .buffer(ByteBuffer(string: string)))
    }

    /// A body read from `stream` as the store consumes it.
    public static func stream(_ stream: ObjectByteStream) -> ObjectBody {
        ObjectBody(source: .stream(stream))
    }

    /// A body read from the file at `path` in chunks as the store consumes it.
    public static func file(atPath path: String, chunkSize: Int = 256 << 10) -> ObjectBody {
        .stream(ObjectByteStream.file(atPath: path, chunkSize: chunkSize))
    }

    /// The body as a stream of chunks, whatever its source.
    public var chunks: ObjectByteStream {
        switch source {
        case .buffer(let buffer): ObjectByteStream.single(buffer)
        case .stream(let stream): stream
        }
    }
}

/// A type-erased, pull-driven stream of byte chunks. Each `next()` asks the
/// underlying source for more, so consuming it slowly slows the producer: it is
/// how backpressure crosses the storage layer.
public struct ObjectByteStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public typealias Failure = any Error

    private let makeNext: @Sendable () -> (@Sendable () async throws -> ByteBuffer?)

    /// Wraps any sendable sequence of byte buffers.
    public init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == ByteBuffer {
        self.makeNext = {
            let box = IteratorBox(sequence.makeAsyncIterator())
            return { try await box.next() }
        }
    }

    private init(makeNext: @escaping @Sendable () -> (@Sendable () async throws -> ByteBuffer?)) {
        self.makeNext = makeNext
    }

    /// A stream of one buffer.
    public static func single(_ buffer: ByteBuffer) -> ObjectByteStream {
        ObjectByteStream(makeNext: {
            let box = OnceBox(buffer)
            return { box.take() }
        })
    }

    /// The file at `path`, read in chunks of `chunkSize` bytes on demand.
    /// Each iteration opens the file anew, so the stream can be replayed
    /// (a retried upload reads the file again).
    public static func file(atPath path: String, chunkSize: Int = 256 << 10) -> ObjectByteStream {
        ObjectByteStream(makeNext: {
            let reader = FileChunkReader(path: path, chunkSize: chunkSize)
            return { try await reader.next() }
        })
    }

    /// Chunks from `reader`. The stream is single-pass: iterating it twice
    /// continues where the first iteration stopped.
    init(reader: FileChunkReader) {
        self.init(makeNext: { { try await reader.next() } })
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let nextChunk: @Sendable () async throws -> ByteBuffer?
        public mutating func next() async throws -> ByteBuffer? { try await nextChunk() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(nextChunk: makeNext()) }

    /// Reads the whole stream into one buffer.
    /// - Throws: `ObjectStoreError.tooLarge` past `limit` bytes.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var result = ByteBuffer()
        for try await var chunk in self {
            guard result.readableBytes + chunk.readableBytes <= limit else {
                throw ObjectStoreError.tooLarge(limit: limit)
            }
            result.writeBuffer(&chunk)
        }
        return result
    }
}

/// Holds an iterator that is not itself Sendable. An async sequence's
/// iterator is driven by one task at a time (the consumer awaits each
/// `next()` before asking again), which is the guarantee that makes the
/// unchecked conformance sound.
private final class IteratorBox<Base: AsyncIteratorProtocol>: @unchecked Sendable where Base.Element == ByteBuffer {
    private var base: Base
    init(_ base: Base) { self.base = base }
    func next() async throws -> ByteBuffer? {
        var iterator = base
        defer { base = iterator }
        return try await iterator.next()
    }
}

private final class OnceBox: @unchecked Sendable {
    // Only touched from the single task that consumes the stream.
    private var buffer: ByteBuffer?
    init(_ buffer: ByteBuffer) { self.buffer = buffer }
    func take() -> ByteBuffer? {
        defer { buffer = nil }
        return buffer
    }
}

/// Reads a file sequentially on NIO's blocking-I/O thread pool, from an
/// already open descriptor or from a path opened on the first read. The
/// descriptor is closed at the end, on error, or when the stream is dropped
/// half-read.
final class FileChunkReader: Sendable {
    private struct State {
        var fd: CInt
        var offset: Int64
        var remaining: Int64?
        var finished = false
    }

    let path: String
    let chunkSize: Int
    private let state: NIOLockedValueBox<State>

    /// Reads `path`, opening it on the first read.
    init(path: String, chunkSize: Int) {
        self.path = path
        self.chunkSize = chunkSize
        self.state = NIOLockedValueBox(State(fd: -1, offset: 0, remaining: nil))
    }

    /// Reads `length` bytes (to the end when nil) from `offset` of the open
    /// descriptor `fd`, which the reader now owns.
    init(descriptor fd: CInt, path: String, offset: Int64, length: Int64?, chunkSize: Int) {
        self.path = path
        self.chunkSize = chunkSize
        self.state = NIOLockedValueBox(State(fd: fd, offset: offset, remaining: length))
    }

    deinit {
        state.withLockedValue { if $0.fd >= 0 { _ = closeFile($0.fd) } }
    }

    func next() async throws -> ByteBuffer? {
        try await NIOThreadPool.singleton.runIfActive { [self] in
            try state.withLockedValue { state -> ByteBuffer? in
                if state.finished { return nil }
                if state.fd < 0 {
                    let fd = openFile(path)
                    guard fd >= 0 else {
                        state.finished = true
                        throw ObjectStoreError.io("cannot open \(path): \(errnoDescription())")
                    }
                    state.fd = fd
                }
                let want = state.remaining.map { Int(min(Int64(chunkSize), $0)) } ?? chunkSize
                var buffer = ByteBufferAllocator().buffer(capacity: want)
                var count = 0
                if want > 0 {
                    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                        count = preadFile(state.fd, raw.baseAddress, want, state.offset)
                        return max(count, 0)
                    }
                }
                if count <= 0 {
                    _ = closeFile(state.fd)
                    state.fd = -1
                    state.finished = true
                    if count < 0 { throw ObjectStoreError.io("cannot read \(path): \(errnoDescription())") }
                    if let remaining = state.remaining, remaining > 0 {
                        throw ObjectStoreError.io("\(path) ended \(remaining) bytes early")
                    }
                    return nil
                }
                state.offset += Int64(count)
                state.remaining = state.remaining.map { $0 - Int64(count) }
                return buffer
            }
        }
    }
}
