import HTTPTypes
import Hummingbird
import Logging
import Model
import Storage

extension AdminAPI {
    /// `GET /api/builds/{id}/logs`: server-sent events when the client
    /// accepts `text/event-stream`, plain text otherwise.
    func logs(_ request: Request, _ context: AdminRequestContext) async throws -> Response {
        let text = try context.parameters.require("id")
        guard let id = BuildID(text) else { throw AdminError.buildNotFound(text) }
        let format: LogStreamer.Format =
            (request.headers[.accept] ?? "").lowercased().contains("text/event-stream") ? .eventStream : .plainText
        // Subscribe before reading the build so no status change is missed.
        let events = services.bus.subscribe()
        let build = try await catalog.build(id: id)
        let slug = try await catalog.site(id: build.siteID).slug
        let configuration = self.configuration
        let streamer = LogStreamer(services: services, configuration: configuration) { build in
            guard build.status == .success else { return nil }
            return configuration.previewURL(slug: slug, number: build.number)
        }
        var headers: HTTPFields = [.cacheControl: "no-store"]
        switch format {
        case .eventStream:
            headers[.contentType] = "text/event-stream; charset=utf-8"
            // Tells nginx-style proxies not to buffer the stream.
            headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        case .plainText:
            headers[.contentType] = "text/plain; charset=utf-8"
        }
        if build.status.isFinal, let stored = try await streamer.storedLogBody(for: build, format: format) {
            return Response(status: .ok, headers: headers, body: stored)
        }
        return Response(
            status: .ok, headers: headers, body: streamer.liveLogBody(for: build, format: format, events: events))
    }
}
