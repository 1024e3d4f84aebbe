public import Foundation
public import NIOCore

/// Where published files, manifests and build logs live: Cloudflare R2 or any
/// S3-compatible bucket in production, a directory on local disk by default.
///
/// Keys are `/`-separated, never start with `/`, and never contain an empty,
/// `.` or `..` segment. Implementations are safe to share between tasks and
/// event-loop threads.
public protocol ObjectStore: Sendable {
    /// Stores `body` under `key`, replacing any object there. A reader sees
    /// either the old object or the whole new one, never a part.
    /// - Returns: what the store now holds (size and ETag at least).
    @discardableResult
    func put(_ key: String, body: ObjectBody, options: PutOptions) async throws -> ObjectInfo

    /// Streams the object under `key`, or one byte range of it.
    /// The body must be consumed (or dropped) by the caller; reading it is what
    /// pulls bytes from the store, so a slow reader slows the transfer instead
    /// of buffering it.
    /// - Throws: `ObjectStoreError.notFound` when there is no such object,
    ///   `ObjectStoreError.invalidRange` when `range` starts past its end.
    func get(_ key: String, range: ByteRange?) async throws -> ObjectDownload

    /// Size, ETag, content type and last-modified time of the object under `key`.
    func head(_ key: String) async throws -> ObjectInfo

    /// Deletes the given keys. Keys that do not exist are not an error.
    func delete(_ keys: [String]) async throws

    /// Deletes every object whose key starts with `prefix`.
    /// - Returns: how many objects were deleted.
    @discardableResult
    func deletePrefix(_ prefix: String) async throws -> Int

    /// One page of the keys under `prefix`, in key order.
    /// - Parameters:
    ///   - after: the `nextMarker` of the previous page, or nil for the first page.
    ///   - limit: at most this many objects (the store may return fewer).
    func list(prefix: String, after: String?, limit: Int) async throws -> ObjectListPage

    /// A URL that lets anyone holding it GET `key` until it expires, without
    /// credentials.
    /// - Throws: `ObjectStoreError.presignUnsupported` for stores without URLs
    ///   (the disk store: its files are read directly).
    func presignedGET(key: String, expiresIn: Duration) throws -> PresignedURL

    /// The store's objects as files on this machine, when it keeps them so
    /// (the disk store); nil for remote stores. A default returns nil.
    var localFiles: (any LocalObjectFiles)? { get }
}

extension ObjectStore {
    /// Stores `body` with default options (binary content type, no cache-control).
    @discardableResult
    public func put(_ key: String, body: ObjectBody) async throws -> ObjectInfo {
        try await put(key, body: body, options: PutOptions())
    }

    /// Streams the whole object under `key`.
    public func get(_ key: String) async throws -> ObjectDownload {
        try await get(key, range: nil)
    }

    /// Reads the whole object under `key` into memory, refusing objects larger
    /// than `limit` bytes.
    public func getBytes(_ key: String, limit: Int = 64 << 20) async throws -> ByteBuffer {
        let download = try await get(key, range: nil)
        return try await download.body.collect(upTo: limit)
    }

    /// Every key under `prefix`, following pagination to the end.
    public func listAll(prefix: String, pageSize: Int = 1000) async throws -> [ObjectSummary] {
        var all: [ObjectSummary] = []
        var marker: String?
        repeat {
            let page = try await list(prefix: prefix, after: marker, limit: pageSize)
            all.append(contentsOf: page.objects)
            marker = page.nextMarker
        } while marker != nil
        return all
    }
}

/// Headers stored with an object and returned when it is read.
public struct PutOptions: Sendable, Hashable {
    /// `Content-Type` of the object; `application/octet-stream` when nil.
    public var contentType: String?
    /// `Cache-Control` stored with the object.
    public var cacheControl: String?
    /// `Content-Encoding` stored with the object (e.g. `gzip` for a precompressed variant).
    public var contentEncoding: String?

    public init(contentType: String? = nil, cacheControl: String? = nil, contentEncoding: String? = nil) {
        self.contentType = contentType
        self.cacheControl = cacheControl
        self.contentEncoding = contentEncoding
    }
}

/// What a store knows about one object.
public struct ObjectInfo: Sendable, Hashable {
    public var key: String
    /// Size of the whole object in bytes (not of a requested range).
    public var size: Int64
    /// The store's entity tag, without quotes.
    public var etag: String
    public var contentType: String?
    public var cacheControl: String?
    public var contentEncoding: String?
    public var lastModified: Date?

    public init(
        key: String, size: Int64, etag: String, contentType: String? = nil, cacheControl: String? = nil,
        contentEncoding: String? = nil, lastModified: Date? = nil
    ) {
        self.key = key
        self.size = size
        self.etag = etag
        self.contentType = contentType
        self.cacheControl = cacheControl
        self.contentEncoding = contentEncoding
        self.lastModified = lastModified
    }
}

/// An inclusive byte range of an object: `first...last`, or from `first` to
/// the end when `last` is nil (HTTP `bytes=first-last` / `bytes=first-`).
public struct ByteRange: Sendable, Hashable, CustomStringConvertible {
    public var first: Int64
    public var last: Int64?

    public init(first: Int64, last: Int64? = nil) {
        precondition(
            first >= 0 && (last ?? first) >= first, "invalid byte range \(first)-\(last.map(String.init) ?? "")")
        self.first = first
        self.last = last
    }

    /// The value of an HTTP `Range` header for this range.
    public var headerValue: String { "bytes=\(first)-\(last.map(String.init) ?? "")" }

    public var description: String { headerValue }

    /// The concrete byte offsets inside an object of `size` bytes, or nil
    /// when the range starts at or past the end.
    public func clamped(toSize size: Int64) -> Range<Int64>? {
        guard first < size else { return nil }
        return first..<(min(last ?? (size - 1), size - 1) + 1)
    }
}

/// A streamed object: what it is, which bytes are coming, and the bytes.
public struct ObjectDownload: Sendable {
    /// The whole object's metadata (`size` is the whole object's size).
    public var info: ObjectInfo
    /// The byte offsets the body carries: the whole object, or the requested
    /// range clamped to the object's size. Empty for an empty object.
    public var range: Range<Int64>
    public var body: ObjectByteStream

    public init(info: ObjectInfo, range: Range<Int64>, body: ObjectByteStream) {
        self.info = info
        self.range = range
        self.body = body
    }

    /// Number of bytes the body carries.
    public var contentLength: Int64 { range.upperBound - range.lowerBound }

    /// Whether the body is a part of the object rather than all of it.
    public var isPartial: Bool { contentLength != info.size }
}

/// One page of a listing.
public struct ObjectListPage: Sendable {
    public var objects: [ObjectSummary]
    /// Pass as `after:` to get the next page; nil on the last page.
    public var nextMarker: String?

    public init(objects: [ObjectSummary], nextMarker: String?) {
        self.objects = objects
        self.nextMarker = nextMarker
    }
}

/// A listed object.
public struct ObjectSummary: Sendable, Hashable {
    public var key: String
    public var size: Int64
    public var etag: String
    public var lastModified: Date?

    public init(key: String, size: Int64, etag: String, lastModified: Date? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// A time-limited URL for one object. Its `description` hides the signature,
/// so logging one never hands out access.
public struct PresignedURL: Sendable, Hashable, CustomStringConvertible {
    /// The full URL, signature included. Treat it as a credential.
    public var url: String
    /// When the URL stops working.
    public var expires: Date

    public init(url: String, expires: Date) {
        self.url = url
        self.expires = expires
    }

    public var description: String {
        let base = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
        return "\(base)?<signature redacted>"
    }
}
