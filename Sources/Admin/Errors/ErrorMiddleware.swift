import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Model
import NIOCore
import Storage

/// Turns every error a handler or an inner middleware throws into the API's
/// JSON error shape, `{"error": {"code": …, "message": …}}`, with the right
/// status. Unexpected errors become a generic 500 and a log line: their
/// details never reach the client.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let refusal = Self.adminError(for: error)
            if refusal.status.code >= 500 {
                logger.error(
                    "admin request failed",
                    metadata: [
                        "method": "\(request.method)", "path": "\(request.uri.path)",
                        "error": "\(String(reflecting: error))",
                    ])
            }
            return Self.response(for: refusal)
        }
    }

    /// The `Retry-After` of a build refused because the queue is full:
    /// about the time a queued build waits for a worker when all are busy.
    static var queueFullRetryAfter: Duration { .seconds(30) }

    /// The client-facing form of `error`.
    static func adminError(for error: any Error) -> AdminError {
        switch error {
        case let error as AdminError:
            return error
        case let error as CatalogError:
            let status = HTTPResponse.Status(code: error.httpStatus)
            if status.code >= 500 {
                return AdminError(
                    status: status, code: error.code.rawValue,
                    message: "the catalog is unavailable; retry shortly, and check the server's log if it persists")
            }
            if error.code == .queueFull {
                // The queue drains as builds start; asking again sooner only adds load.
                return AdminError(
                    status: status, code: error.code.rawValue, message: error.message,
                    headers: [.retryAfter: RetryAfter.header(for: queueFullRetryAfter)])
            }
            return AdminError(status: status, code: error.code.rawValue, message: error.message)
        case is ObjectStoreError:
            return AdminError(
                status: .badGateway, code: "store_failed",
                message: "the object store failed; retry shortly, and check the server's log if it persists")
        case is NIOTooManyBytesError:
            return AdminError(
                status: .contentTooLarge, code: "body_too_large",
                message: "the request body is too large; send a smaller body")
        case let error as HTTPError:
            return AdminError(status: error.status, code: code(for: error.status), message: message(for: error))
        default:
            return AdminError(
                status: .internalServerError, code: "internal_error",
                message: "Slipway failed to handle the request; the server's log has the details")
        }
    }

    static func response(for error: AdminError) -> Response {
        Response(status: error.status, headers: error.responseHeaders, body: ResponseBody(byteBuffer: error.jsonBody))
    }

    private static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .contentTooLarge: "body_too_large"
        case .badRequest: "bad_request"
        default: status.code >= 500 ? "internal_error" : "http_\(status.code)"
        }
    }

    private static func message(for error: HTTPError) -> String {
        switch error.status {
        case .notFound: "no such endpoint; the admin API lives under /api (see the interface documentation)"
        case .methodNotAllowed: "this endpoint does not accept that method"
        default:
            if error.status.code < 500, let body = error.body, !body.isEmpty { body } else { error.status.reasonPhrase }
        }
    }
}

extension AdminError {
    /// The error's own headers, with the JSON content type and `no-store`.
    var responseHeaders: HTTPFields {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return headers
    }

    /// `{"error": {"code": …, "message": …}}`.
    var jsonBody: ByteBuffer {
        let body = ErrorBody(error: .init(code: code, message: message))
        let data =
            (try? JSONEncoder().encode(body)) ?? Data(#"{"error":{"code":"internal_error","message":"error"}}"#.utf8)
        return ByteBuffer(bytes: data)
    }
}

private struct ErrorBody: Encodable {
    struct Detail: Encodable {
        let code: String
        let message: String
    }
    let error: Detail
}
