public import Model

/// Stores blobs for one site in the order that keeps them safe from the
/// collector: reserve them in the catalog (which keeps the collector away
/// for the grace period), write their bytes, then record that the site has
/// them. A blob the collector is deleting at that moment is reserved again
/// once it is gone, and its bytes written after that.
public struct SiteBlobWriter: Sendable {
    public var catalog: any Catalog
    public var siteID: SiteID
    /// How long to wait for the collector between reservations.
    public var collectingPause: Duration
    /// Reservations tried before giving up (the collector deletes a blob
    /// within seconds).
    public var attempts: Int

    public init(catalog: any Catalog, siteID: SiteID, collectingPause: Duration = .seconds(1), attempts: Int = 30) {
        self.catalog = catalog
        self.siteID = siteID
        self.collectingPause = collectingPause
        self.attempts = attempts
    }

    /// Reserves `blobs`, runs `write` (which must store each blob's exact
    /// bytes under ``ContentAddress/key(sha256:)``), then records them for
    /// the site.
    /// - Throws: what `write` or the catalog throws; `blob_collecting` when
    ///   the collector held a blob through every attempt.
    public func store(_ blobs: [StoredBlob], write: () async throws -> Void) async throws {
        guard !blobs.isEmpty else { return }
        var attempt = 1
        while true {
            let collecting = try await catalog.reserveBlobs(blobs)
            if collecting.isEmpty {
                try await write()
                do {
                    try await catalog.recordBlobs(siteID: siteID, digests: blobs.map(\.sha256))
                    return
                } catch let error as CatalogError where error.code == .blobCollecting && attempt < attempts {
                    // Reserved too long ago (over the grace period): store it anew.
                }
            } else if attempt >= attempts {
                throw BlobRules.collecting(collecting)
            }
            attempt += 1
            try await Task.sleep(for: collectingPause)
        }
    }
}
