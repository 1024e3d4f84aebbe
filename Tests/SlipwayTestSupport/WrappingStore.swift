import Model
public import Storage
import Synchronization

/// An object store that hands everything to `base`: a test's wrapper
/// implements only what it changes (counting, failing, dying).
public protocol WrappingStore: ObjectStore {
    var base: any ObjectStore { get }
}

extension WrappingStore {
    public func put(_ key: String, body: ObjectBody, options: PutOptions) async throws -> ObjectInfo {
        try await base.put(key, body: body, options: options)
    }
    public func get(_ key: String, range: ByteRange?) async throws -> ObjectDownload {
        try await base.get(key, range: range)
    }
    public func head(_ key: String) async throws -> ObjectInfo { try await base.head(key) }
    public func delete(_ keys: [String]) async throws { try await base.delete(keys) }
    public func deletePrefix(_ prefix: String) async throws -> Int { try await base.deletePrefix(prefix) }
    public func list(prefix: String, after: String?, limit: Int) async throws -> ObjectListPage {
        try await base.list(prefix: prefix, after: after, limit: limit)
    }
    public func presignedGET(key: String, expiresIn: Duration) throws -> PresignedURL {
        try base.presignedGET(key: key, expiresIn: expiresIn)
    }
    /// The base's local files (the disk store's, which the proxy sends with
    /// `sendfile`); reads through them bypass the wrapper.
    public var localFiles: (any LocalObjectFiles)? { base.localFiles }
}

/// Counts the puts that reach the store (and which were blobs).
public final class CountingStore: WrappingStore {
    public let base: any ObjectStore
    private let state = Mutex<[String]>([])

    public init(base: any ObjectStore) { self.base = base }

    /// The keys put, in order.
    public var keys: [String] { state.withLock { $0 } }
    public var puts: Int { keys.count }
    public var blobPuts: Int { keys.filter { $0.hasPrefix(ContentAddress.prefix) }.count }
    public func reset() { state.withLock { $0 = [] } }

    public func put(_ key: String, body: ObjectBody, options: PutOptions) async throws -> ObjectInfo {
        let info = try await base.put(key, body: body, options: options)
        state.withLock { $0.append(key) }
        return info
    }
}
