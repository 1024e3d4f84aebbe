import HTTPTypes
import Hummingbird

/// Answers 405 with an `Allow` header when the path is a route of the API but
/// the method is not one of its methods (Hummingbird's router would say 404).
///
/// Added after every route: the router runs it only for requests no route
/// matched, so it never sits in the way of a real endpoint.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Each route's path split into segments (`{name}` matches any one
    /// segment), with the methods it accepts.
    let routes: [(segments: [Substring], methods: [HTTPRequest.Method])]

    init(routes: [(path: String, method: HTTPRequest.Method)]) {
        var byPath: [String: [HTTPRequest.Method]] = [:]
        var order: [String] = []
        for route in routes {
            if byPath[route.path] == nil { order.append(route.path) }
            byPath[route.path, default: []].append(route.method)
        }
        self.routes = order.map { path in
            (path.split(separator: "/"), byPath[path]!.sorted { $0.rawValue < $1.rawValue })
        }
    }

    /// The methods the route matching `path` accepts; nil when no route matches.
    func methods(for path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/")
        var allowed: [HTTPRequest.Method] = []
        var matched = false
        for route in routes where route.segments.count == segments.count {
            let fits = zip(route.segments, segments).allSatisfy { pattern, segment in
                (pattern.hasPrefix("{") && pattern.hasSuffix("}")) || pattern == segment
            }
            if fits {
                matched = true
                allowed += route.methods.filter { !allowed.contains($0) }
            }
        }
        return matched ? allowed : nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let allowed = methods(for: request.uri.path), !allowed.contains(request.method) else {
            return try await next(request, context)
        }
        let list = allowed.map(\.rawValue).joined(separator: ", ")
        throw AdminError(
            status: .methodNotAllowed, code: "method_not_allowed",
            message:
                "\(request.uri.path.prefix(200)) does not accept \(request.method.rawValue.prefix(20)); it accepts \(list)",
            headers: [.allow: list])
    }
}
