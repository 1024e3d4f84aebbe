import Foundation
import Model
import NIOCore
import NIOHTTP1
import Storage

/// What to send for a request.
enum ResponsePlan: Sendable {
    /// A reply whose bytes are all known: one of Slipway's pages, a redirect,
    /// a 304 or a 416. `headers` are complete.
    case immediate(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer?)
    /// A file of the build.
    case file(FileReply)
}

/// A file of the build to send.
struct FileReply: Sendable {
    /// 200, 206, or 404 for a `404.html` page.
    var status: HTTPResponseStatus
    /// Every header except `Content-Length` and `X-Cache`.
    var headers: HTTPHeaders
    var object: BodyObject
    /// The bytes of the object to send (all of it unless 206).
    var range: Range<Int64>
    /// False for HEAD: the same headers, no body, nothing read from the store.
    var sendsBody: Bool
}

/// A build chosen to answer a request.
struct ServedBuild: Sendable {
    var site: SiteTable.Entry
    var buildID: BuildID
    /// Reached through `<n>--<slug>`: answers carry `X-Robots-Tag: noindex`.
    var isPreview: Bool
    var path: RequestPath
}

/// The request path of a site as one linear function, in the order
/// `docs/development.md` (Boundaries) gives:
///
/// 1. method check — GET and HEAD only (405 with `Allow`);
/// 2. host and site — `Host` -> slug -> the site table (400, 404, building
///    and failure pages); sanitize the path (400);
/// 3. manifest lookup — the build's manifest from memory, or loaded once (the
///    caller does this between `route` and `plan`; 502/504 on failure);
/// 4. resolve — `_redirects`, exact file, directory index, `.html`, SPA
///    fallback, nearest `404.html`, built-in 404 (`PathResolver`);
/// 5. precompressed variant — `Accept-Encoding` (`Precompression`);
/// 6. ETag/304 — `If-None-Match`, `If-Modified-Since` (`ConditionalRequest`);
/// 7. range — 206, 416 or the whole body (`RangeRequest`);
/// 8. reply — headers (`SlipwayResponseHeaders`) and which bytes to send;
///    the caller then serves them from the body cache or the store.
///
/// Everything here is synchronous and free of I/O, so a request for a cached
/// build's cached file never leaves the event loop.
struct ServingPipeline: Sendable {
    enum Routed: Sendable {
        case reply(ResponsePlan)
        /// Reply, then close the connection: the request was malformed in a
        /// way that says nothing good about what follows on it.
        case replyAndClose(ResponsePlan)
        case build(ServedBuild)
        /// The host is protected (`Sources/Proxy/Protection`): what the
        /// request gets once its visitor is signed in.
        indirect case protected(ProtectedHost, Routed)
    }

    let appsDomain: String
    let siteTable: SiteTable
    let pages: SlipwayPages
    let maxCachedBodyBytes: Int
    /// The ACME account's thumbprint, for HTTP-01 answers; nil answers none.
    var acmeThumbprint: String? = nil
    /// The key of custom domains' routing probe (``DomainProbe``); nil answers none.
    var domainProbeKey: Data? = nil
    /// How long after a deploy the replaced builds' hashed assets are still
    /// served (skew protection); zero serves none.
    var skewWindow: Duration = .seconds(3600)
    /// The time, for the skew window.
    var now: @Sendable () -> Date = Date.init

    /// Skew protection: the builds (most recently replaced first) to look
    /// in for the requested file, when the live build lacks it and it is a
    /// hashed asset (``AssetClassifier/isImmutable(_:)``). A page opened
    /// before a deploy asks for the chunks of the build it came from; they
    /// are served from that build for ``skewWindow`` after it was replaced.
    /// Other paths, previews and builds replaced longer ago never fall
    /// back. Bounded: a few builds per site; a request for a file the live
    /// build has costs one dictionary lookup, and only then is the path
    /// classified and the window checked.
    func skewFallbacks(_ build: ServedBuild, in manifest: LoadedManifest) -> [BuildID] {
        guard !build.isPreview, skewWindow > .zero, !build.site.replacedBuilds.isEmpty,
            manifest.manifest.files[build.path.manifestPath] == nil, Self.skewPath(build.path) != nil
        else { return [] }
        return build.site.recentlyReplaced(within: skewWindow, now: now())
    }

    /// The manifest path of a request that may fall back: a hashed asset's.
    static func skewPath(_ path: RequestPath) -> String? {
        let relative = path.manifestPath
        guard !relative.isEmpty, relative.utf8.last != UInt8(ascii: "/"), AssetClassifier.isImmutable(relative) else {
            return nil
        }
        return relative
    }

    /// Steps 1–2.
    func route(_ request: IncomingRequest) -> Routed {
        // 1. Method. The sign-in and sign-out forms of protected sites are
        // the only POSTs (`/.slipway/auth`, `/.slipway/logout`).
        guard
            MethodCheck.isAllowed(request.method)
                || (request.method == .POST && ReservedPaths.takesPost(target: request.target))
        else {
            var extra = HTTPHeaders()
            extra.add(name: "Allow", value: MethodCheck.allowHeader)
            return .reply(page(pages.page(.methodNotAllowed), extra: extra, isPreview: false))
        }
        // 2. Host, path, site.
        let slug: String
        var previewNumber: Int?
        switch HostRoute(host: request.host, appsDomain: appsDomain) {
        case .invalid: return .replyAndClose(page(pages.page(.badRequest), isPreview: false))
        case .noSite:
            // A custom domain (`Sources/Proxy/Domains/CustomDomainRoute.swift`), or no site.
            guard let host = HostRoute.normalizedHost(request.host),
                let custom = CustomDomainRoute.route(
                    host: host, request: request, table: siteTable, acmeThumbprint: acmeThumbprint,
                    probeKey: domainProbeKey)
            else { return .reply(page(pages.page(.noSite), isPreview: false)) }
            switch custom {
            case .answer(let status, let headers, let body):
                var headers = headers
                headers.add(name: "Content-Length", value: "\(body.utf8.count)")
                return .reply(.immediate(status: status, headers: headers, body: ByteBuffer(string: body)))
            case .site(let name): slug = name
            }
        case .site(let name): slug = name
        case .preview(let name, let number):
            slug = name
            previewNumber = number
        }
        let isPreview = previewNumber != nil
        let path: RequestPath
        do {
            path = try RequestPath(target: request.target)
        } catch .tooManySegments {
            return .reply(page(pages.page(.uriTooLong), isPreview: isPreview))
        } catch {
            return .reply(page(pages.page(.badRequest), isPreview: isPreview))
        }
        guard let site = siteTable.lookup(slug: slug) else {
            return .reply(page(pages.page(.noSite), isPreview: isPreview))
        }
        // 2b. Protection: a protected host answers only signed-in visitors,
        // whatever it would answer; `/.slipway/…` is never a site's file.
        let routed: Routed =
            ReservedPaths.isReserved(path.path) || request.method == .POST
            ? .reply(page(pages.page(.notFound), isPreview: isPreview))
            : routeSite(site, previewNumber: previewNumber, path: path)
        guard site.protection.applies(isPreview: isPreview), let host = HostRoute.normalizedHost(request.host) else {
            return routed
        }
        return .protected(
            ProtectedHost(siteID: site.siteID, host: host, protection: site.protection, isPreview: isPreview), routed)
    }

    /// What a site answers once its host and path are known.
    private func routeSite(_ site: SiteTable.Entry, previewNumber: Int?, path: RequestPath) -> Routed {
        if let previewNumber {
            guard let buildID = site.successfulBuilds[previewNumber] else {
                return .reply(page(pages.page(.previewNotFound), isPreview: true))
            }
            return .build(ServedBuild(site: site, buildID: buildID, isPreview: true, path: path))
        }
        switch site.availability {
        case .live(let buildID):
            return .build(ServedBuild(site: site, buildID: buildID, isPreview: false, path: path))
        case .building(let build):
            let state =
                switch build.status {
                case .queued: "queued"
                case .building: "building"
                default: "going live"
                }
            return .reply(
                page(
                    pages.building(slug: site.slug, buildNumber: build.number, state: state), isPreview: false))
        case .failed(let build):
            let state = build.status == .canceled ? "was canceled" : "failed"
            return .reply(
                page(
                    pages.failure(slug: site.slug, buildNumber: build.number, state: state), isPreview: false))
        case .notDeployed:
            return .reply(page(pages.page(.notDeployed), isPreview: false))
        }
    }

    /// Steps 4–8, once the build's manifest is at hand.
    func plan(_ request: IncomingRequest, build: ServedBuild, manifest loaded: LoadedManifest)
        -> ResponsePlan
    {
        let manifest = loaded.manifest
        let spaFallback =
            switch build.site.spa {
            case .spa: true
            case .static: false
            case .auto: loaded.isSPAByDefault
            }

        // 4. Resolve.
        let resolvedPath: String
        let resolvedStatus: Int
        switch PathResolver.resolve(build.path, in: manifest, routes: loaded.routes, spaFallback: spaFallback) {
        case .redirect(let location, let status):
            let headers = SlipwayResponseHeaders.redirectHeaders(
                location: location, isPreview: build.isPreview)
            return .immediate(status: HTTPResponseStatus(statusCode: status), headers: headers, body: nil)
        case .notFound:
            return page(pages.page(.notFound), isPreview: build.isPreview)
        case .file(let path, let status):
            resolvedPath = path
            resolvedStatus = status
        }
        guard let file = manifest.files[resolvedPath] else {
            // The resolver only returns paths of the manifest; never reached.
            return page(pages.page(.notFound), isPreview: build.isPreview)
        }
        let isSuccess = resolvedStatus == 200
        let hasRange = isSuccess && request.headers.contains(name: "range")

        // 5. Precompressed variant. Ranges are served from the identity body,
        // so a byte offset always means the same bytes.
        let chosen = hasRange ? nil : Precompression.choose(request.headers, variants: file.variants)
        let etag = chosen?.variant.etag ?? file.etag
        let size = chosen?.variant.size ?? file.size
        let storedPath = chosen?.variant.path ?? resolvedPath
        var headers = SlipwayResponseHeaders.fileHeaders(
            file, coding: chosen?.coding, etag: etag, lastModified: loaded.lastModifiedText,
            custom: HeaderRules.resolve(manifest.headers, for: build.path.path), isPreview: build.isPreview)

        // 6. ETag / 304 (only for what would be a 200).
        if isSuccess && ConditionalRequest.isNotModified(request.headers, etag: etag, lastModified: loaded.lastModified)
        {
            return .immediate(
                status: .notModified, headers: SlipwayResponseHeaders.notModified(from: headers), body: nil)
        }

        // 7. Range.
        var status = HTTPResponseStatus(statusCode: resolvedStatus)
        var bytes: Range<Int64> = 0..<size
        if hasRange
            && ConditionalRequest.ifRangeAllowsPartial(request.headers, etag: etag, lastModified: loaded.lastModified)
        {
            switch RangeRequest.evaluate(request.headers, size: size) {
            case .full:
                break
            case .partial(let range):
                status = .partialContent
                bytes = range
                headers.add(name: "Content-Range", value: RangeRequest.contentRange(range, size: size))
            case .unsatisfiable:
                var unsatisfiable = HTTPHeaders()
                unsatisfiable.add(name: "Content-Range", value: RangeRequest.unsatisfiedContentRange(size: size))
                unsatisfiable.add(name: "Content-Length", value: "0")
                SlipwayResponseHeaders.finish(&unsatisfiable, isPreview: build.isPreview)
                return .immediate(status: .rangeNotSatisfiable, headers: unsatisfiable, body: nil)
            }
        }

        // 8. Reply.
        let objectKey = manifest.objectKey(for: storedPath, sha256: chosen?.variant.sha256 ?? file.sha256)
        let object = BodyObject(
            cacheKey: BodyCache.key(objectKey: objectKey), objectKey: objectKey, size: size,
            isCacheable: size <= Int64(maxCachedBodyBytes))
        return .file(
            FileReply(
                status: status, headers: headers, object: object, range: bytes, sendsBody: request.method != .HEAD))
    }

    /// The answer to a plain request for a host served over HTTPS: 308 to
    /// `location` (the same URL over https; the method and body are kept).
    func httpsRedirect(to location: String) -> ResponsePlan {
        .immediate(
            status: .permanentRedirect,
            headers: SlipwayResponseHeaders.redirectHeaders(location: location, isPreview: false), body: nil)
    }

    /// One of Slipway's pages, with its headers.
    func page(_ rendered: SlipwayPages.Rendered, extra: HTTPHeaders = [:], isPreview: Bool)
        -> ResponsePlan
    {
        var headers = HTTPHeaders()
        SlipwayResponseHeaders.addPageHeaders(to: &headers, bodyLength: rendered.body.readableBytes)
        for (name, value) in rendered.headers { headers.add(name: name, value: value) }
        headers.add(contentsOf: extra)
        if isPreview { headers.add(name: "X-Robots-Tag", value: "noindex") }
        return .immediate(status: rendered.status, headers: headers, body: rendered.body)
    }
}
