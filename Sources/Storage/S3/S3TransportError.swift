import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns a failure below HTTP (connect, DNS, TLS, timeouts, a dropped
/// connection) into an `ObjectStoreError`, and says whether trying again may help.
enum S3TransportError {
    /// The typed error and whether the request may be repeated.
    struct Classified: Error {
        var error: ObjectStoreError
        var isRetryable: Bool
    }

    /// Classifies `error`; `CancellationError` is not an object-store error
    /// and comes back as nil so the caller can rethrow it unchanged.
    static func classify(_ error: any Error, context: S3ErrorContext, timeouts: S3Configuration.Timeouts) -> Classified?
    {
        let what = "\(context.operation) \(context.target)"
        let origin = context.origin
        let attempts = context.attemptsNote
        func unreachable(_ reason: String, retryable: Bool = true, hint: String? = nil) -> Classified {
            Classified(
                error: ObjectStoreError(
                    code: .unreachable,
                    message:
                        "cannot reach the object store at \(origin) for \(what) (\(reason))\(attempts): \(hint ?? "check SLIPWAY_S3_ENDPOINT and that the store is running")"
                ),
                isRetryable: retryable
            )
        }
        func timedOut(_ reason: String) -> Classified {
            Classified(
                error: ObjectStoreError(
                    code: .timeout,
                    message:
                        "the object store at \(origin) did not answer \(what) in time (\(reason))\(attempts): check the store's health and the network"
                ),
                isRetryable: true
            )
        }

        switch error {
        case is CancellationError:
            return nil
        case let error as ObjectStoreError:
            return Classified(error: error, isRetryable: error.isTransient)
        case let error as HTTPClientError:
            switch error {
            case .cancelled:
                return nil
            case .connectTimeout:
                return timedOut("no connection within \(timeouts.connect)")
            case .tlsHandshakeTimeout:
                return timedOut("no TLS handshake within \(timeouts.connect)")
            case .deadlineExceeded:
                return timedOut("no response within the deadline")
            case .readTimeout:
                return timedOut("nothing received for \(timeouts.idleRead)")
            case .writeTimeout:
                return timedOut("could not send for \(timeouts.idleRead)")
            case .remoteConnectionClosed:
                return unreachable(
                    "the connection was closed before the response ended", hint: "check the store's health")
            case .alreadyShutdown:
                return unreachable(
                    "the store's HTTP client was shut down", retryable: false,
                    hint: "do not use the store after shutdown()")
            default:
                return Classified(
                    error: ObjectStoreError(
                        code: .invalidResponse,
                        message: "the request \(what) to \(origin) failed: \(error.shortDescription)"
                    ),
                    isRetryable: false
                )
            }
        case let error as HTTPParserError:
            if case .invalidEOFState = error {
                return unreachable(
                    "the connection was closed before the response ended", hint: "check the store's health")
            }
            return Classified(
                error: ObjectStoreError(
                    code: .invalidResponse,
                    message:
                        "the store at \(origin) sent a malformed HTTP answer to \(what) (\(error)): check that the endpoint is an S3-compatible store"
                ),
                isRetryable: false
            )
        case let error as NIOConnectionError:
            if error.connectionErrors.isEmpty, error.dnsAError != nil || error.dnsAAAAError != nil {
                return unreachable("cannot resolve host '\(error.host)'")
            }
            let reasons = Set(error.connectionErrors.map { describe($0.error) }).sorted().joined(separator: ", ")
            return unreachable(reasons.isEmpty ? "cannot connect to \(error.host):\(error.port)" : reasons)
        case let error as IOError:
            return unreachable(describe(error))
        case let error as ChannelError:
            if case .connectTimeout = error { return timedOut("no connection within \(timeouts.connect)") }
            return unreachable("connection failed: \(error)")
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            return unreachable(
                "TLS handshake failed: \(error)", retryable: false,
                hint:
                    "if the store uses a private or self-signed certificate, point SLIPWAY_S3_CA_FILE at its CA certificate (PEM)"
            )
        default:
            return Classified(
                error: ObjectStoreError(
                    code: .invalidResponse, message: "the request \(what) to \(origin) failed: \(error)"),
                isRetryable: false
            )
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ECONNRESET: return "connection reset"
            case EHOSTUNREACH, ENETUNREACH: return "host unreachable"
            case ETIMEDOUT: return "connection timed out"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }
}
