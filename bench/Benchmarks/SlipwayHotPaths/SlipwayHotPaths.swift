import Benchmark
import Model
@_spi(Benchmarks) import Proxy
import Storage

/// The per-request hot paths of the edge proxy, measured in isolation:
/// sanitising the request target, resolving it against a build's manifest,
/// and the LRU cache in front of the store. Each benchmark reports wall
/// clock, throughput and mallocs per operation.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // MARK: a prepared answer

    // What the edge itself does for a cache hit answered from its prepared
    // form (parse, key, lookup, connection state, head ending): the
    // allocation count here is the hit's.
    let probe = PreparedHitProbe(
        request: "GET /assets/app.3f9a1c2b.js HTTP/1.1\r\nHost: shop.apps.example.com\r\n"
            + "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n"
            + "Accept: */*\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n",
        bodyBytes: 2048)
    Benchmark("Prepared answer: a browser's GET, parsed and answered") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(probe.answer())
        }
    }

    // MARK: path sanitising

    for (name, target) in [
        ("page", "/index.html"),
        ("hashed asset", "/assets/app.3f9a1c2be07d.js?v=1"),
        ("percent-encoded", "/blog/2024/hello%20world/caf%C3%A9/"),
        ("traversal (rejected)", "/assets/%2e%2e/%2e%2e/etc/passwd"),
    ] {
        Benchmark("RequestPath sanitise: \(name)") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try? RequestPath(target: target))
            }
        }
    }

    // MARK: resolution

    let manifest = makeManifest(files: 1_000)
    let redirects = RedirectRules.parse(
        """
        /old/*    /new/:splat   301
        /docs/:section/:page  /handbook/:section/:page  302
        /api/*    /index.html   200
        """
    ).rules
    var withRules = manifest
    withRules.redirects = redirects
    for (name, target, spa, m) in [
        ("exact file", "/assets/chunk-0500.8f3a2c1d.js", true, manifest),
        ("directory index", "/docs/page-0250/", true, manifest),
        ("SPA deep link", "/app/settings/profile", true, manifest),
        ("missing asset 404", "/assets/missing.0000.js", true, manifest),
        ("redirect rule", "/old/a/b/c", true, withRules),
    ] {
        guard let request = try? RequestPath(target: target) else { fatalError("bad target \(target)") }
        let routes = RouteIndex(m)
        Benchmark("PathResolver: \(name) (1,000 files)") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(PathResolver.resolve(request, in: m, routes: routes, spaFallback: spa))
            }
        }
    }

    // MARK: LRU cache

    let keys = (0..<10_000).map { "sites/01hz/01hb/page-\($0).html" }
    let body = [UInt8](repeating: 0x61, count: 2_048)
    Benchmark("LRUCache get: hit (10,000 entries)") { benchmark in
        let cache = LRUCache<String, [UInt8]>(capacityBytes: 64 << 20, maxEntryBytes: 1 << 20)
        for key in keys { _ = cache.put(key, body, cost: body.count) }
        benchmark.startMeasurement()
        var i = 0
        for _ in benchmark.scaledIterations {
            blackHole(cache.get(keys[i]))
            i = (i &+ 7_919) % keys.count
        }
    }
    Benchmark("LRUCache get: miss") { benchmark in
        let cache = LRUCache<String, [UInt8]>(capacityBytes: 64 << 20, maxEntryBytes: 1 << 20)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(cache.get("sites/01hz/01hb/absent.html"))
        }
    }
    Benchmark("LRUCache put: with eviction (full 4 MiB cache)") { benchmark in
        let cache = LRUCache<String, [UInt8]>(capacityBytes: 4 << 20, maxEntryBytes: 1 << 20)
        for key in keys { _ = cache.put(key, body, cost: body.count) }
        benchmark.startMeasurement()
        var i = 0
        for _ in benchmark.scaledIterations {
            blackHole(cache.put(keys[i], body, cost: body.count))
            i = (i &+ 1) % keys.count
        }
    }
}

/// A build of `files` files: pages in directories, hashed assets, an index.
func makeManifest(files: Int) -> BuildManifest {
    var entries: [String: ManifestFile] = [
        "index.html": ManifestFile(
            size: 2_048, etag: "\"i\"", contentType: "text/html; charset=utf-8", immutable: false)
    ]
    for n in 0..<files / 2 {
        let page = "docs/page-\(pad4(n))/index.html"
        entries[page] = ManifestFile(
            size: 4_096, etag: "\"p\(n)\"", contentType: "text/html; charset=utf-8", immutable: false)
        let asset = "assets/chunk-\(pad4(n)).8f3a2c1d.js"
        entries[asset] = ManifestFile(
            size: 30_000, etag: "\"a\(n)\"", contentType: "text/javascript; charset=utf-8", immutable: true)
    }
    return BuildManifest(siteID: "01hzbench0000000000000000", buildID: "01hzbuild0000000000000000", files: entries)
}

/// `n` as at least four digits (`7` -> `0007`).
func pad4(_ n: Int) -> String {
    let digits = String(n)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
