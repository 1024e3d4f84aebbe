import Storage

/// An object store that hands everything to `base`: a test's wrapper
/// implements only what it changes (counting, failing, dying).
protocol WrappingStore: ObjectStore {
    var base: any ObjectStore { get }
}

extension WrappingStore {
    func put(_ key: String, body: ObjectBody, options: PutOptions) async throws -> ObjectInfo {
        try await base.put(key, body: body, options: options)
    }
    func get(_ key: String, range: ByteRange?) async throws -> ObjectDownload { try await base.get(key, range: range) }
    func head(_ key: String) async throws -> ObjectInfo { try await base.head(key) }
    func delete(_ keys: [String]) async throws { try await base.delete(keys) }
    func deletePrefix(_ prefix: String) async throws -> Int { try await base.deletePrefix(prefix) }
    func list(prefix: String, after: String?, limit: Int) async throws -> ObjectListPage {
        try await base.list(prefix: prefix, after: after, limit: limit)
    }
    func presignedGET(key: String, expiresIn: Duration) throws -> PresignedURL {
        try base.presignedGET(key: key, expiresIn: expiresIn)
    }
}
