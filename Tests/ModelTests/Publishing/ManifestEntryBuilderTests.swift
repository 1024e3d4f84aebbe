import Crypto
import Foundation
import Model
import SlipwayTestSupport
import Testing

/// How a file becomes a manifest entry: the rules the builder publishes by
/// and test fixtures are laid out with.
@Suite struct ManifestEntryBuilderTests {
    static let page = [UInt8](String(repeating: "<p>Slipway serves this page.</p>\n", count: 40).utf8)

    @Test func theETagIsTheFirst128BitsOfTheSHA256InHex() throws {
        let (file, _) = try ManifestEntryBuilder.entry(path: "index.html", bytes: Self.page)
        let digest = SHA256.hash(data: Self.page).map { String(format: "%02x", $0) }.joined()
        #expect(file.etag == String(digest.prefix(32)))
        #expect(file.size == Int64(Self.page.count))
        #expect(file.contentType == "text/html; charset=utf-8")
        #expect(!file.immutable && file.cacheControl == "public, max-age=0, must-revalidate")
    }

    @Test func compressibleTextGetsAGzipVariantWithItsOwnETag() throws {
        let (file, gzip) = try ManifestEntryBuilder.entry(path: "docs/index.html", bytes: Self.page)
        let variant = try #require(file.variants["gzip"])
        let bytes = try #require(gzip)
        #expect(variant.path == ".slipway/gzip/docs/index.html.gz")
        #expect(variant.size == Int64(bytes.count) && variant.size < file.size)
        #expect(variant.etag != file.etag)
        #expect(variant.etag == String(SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined().prefix(32)))
        #expect(try gunzip(bytes) == Self.page)
    }

    @Test func smallIncompressibleAndBinaryFilesGetNoVariant() throws {
        // Below 256 bytes: not worth the framing.
        #expect(try ManifestEntryBuilder.entry(path: "a.html", bytes: Array(Self.page.prefix(200))).gzip == nil)
        // Not a compressible type.
        #expect(try ManifestEntryBuilder.entry(path: "photo.png", bytes: Self.page).gzip == nil)
        // Compressible type, but random bytes do not shrink by 10%.
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let (file, gzip) = try ManifestEntryBuilder.entry(path: "noise.txt", bytes: noise)
        #expect(gzip == nil && file.variants.isEmpty)
    }

    @Test func hashedAssetsAreImmutable() throws {
        let (file, _) = try ManifestEntryBuilder.entry(path: "assets/app-3f9a1b2c.js", bytes: Self.page)
        #expect(file.immutable && file.cacheControl == "public, max-age=31536000, immutable")
    }

    @Test func feedingInChunksAndMovingTheVariantAwayGivesTheSameEntry() throws {
        let whole = try ManifestEntryBuilder.entry(path: "big.css", bytes: Self.page + Self.page + Self.page)
        let builder = try ManifestEntryBuilder(path: "big.css", expectedSize: Int64(Self.page.count * 3))
        var output: [UInt8] = []
        var spilled: [UInt8] = []
        for _ in 0..<3 {
            try Self.page.withUnsafeBytes { try builder.update($0, variantOutput: &output) }
            spilled += output
            output.removeAll() // as the builder does when it spills to a file
        }
        let entry = try builder.finish(variantOutput: &output)
        spilled += output
        #expect(entry == whole.file)
        #expect(spilled == whole.gzip)
    }
}
