import NIOCore
import NIOHTTP2

/// Sets up a connection that chose HTTP/2 by ALPN: swift-nio-http2's
/// handler with the limits of ``ProxyConfiguration/HTTP2`` (the settings
/// sent to the client, and the rates past which a client is cut off), an
/// ``HTTP2StreamHandler`` on every stream the client opens, and the
/// ``HTTP2ConnectionGuard`` after it.
///
/// What each limit answers:
/// - `SETTINGS_MAX_CONCURRENT_STREAMS`: a client that opens a stream over
///   it gets a GOAWAY (`PROTOCOL_ERROR`) and the connection closes;
/// - `SETTINGS_MAX_HEADER_LIST_SIZE` (the HTTP/1.1 header byte limit) and
///   the CONTINUATION frame limit: a header block over them ends the
///   connection, before it is held in memory;
/// - the reset and stream-error rates (rapid reset, CVE-2023-44487), the
///   control-frame rate (PING, SETTINGS, PRIORITY floods) and the queue of
///   control frames a client does not read: a GOAWAY, then the connection
///   closes;
/// - flow control: a stream's body goes out only as the client grants
///   window; a stream left at zero is reset at the write-idle timeout, and
///   a connection with no stream open closes at the idle timeout.
enum HTTP2Edge {
    static func configure(
        _ channel: any Channel, limits: ProxyConfiguration.HTTP2, services: ProxyServices,
        timeouts: ConnectionTimeouts.Configuration, connection: EdgeConnection, metrics: ProxyMetrics
    ) throws {
        let client = NIOLoopBound(connection, eventLoop: channel.eventLoop)
        let connectionGuard = HTTP2ConnectionGuard(idleTimeout: timeouts.idle) {
            metrics.connectionClosed(.idleTimeout)
        }
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: limits.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: services.intakeLimits.maxHeaderBytes),
            HTTP2Setting(parameter: .initialWindowSize, value: limits.initialWindowSize),
            HTTP2Setting(parameter: .headerTableSize, value: limits.headerTableSize),
        ]
        connection.targetWindowSize = limits.initialWindowSize
        connection.maximumBufferedControlFrames = limits.maxBufferedControlFrames
        connection.maximumSequentialContinuationFrames = limits.maxContinuationFrames
        connection.controlFrameRateLimit.maximumCount = limits.maxControlFramesPerWindow
        connection.controlFrameRateLimit.windowLength = TimeAmount(limits.rateWindow)
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = limits.initialWindowSize
        stream.streamResetFrameRateLimit.maximumCount = limits.maxResetsPerWindow
        stream.streamResetFrameRateLimit.windowLength = TimeAmount(limits.rateWindow)
        stream.streamErrorRateLimit.maximumCount = limits.maxResetsPerWindow
        stream.streamErrorRateLimit.windowLength = TimeAmount(limits.rateWindow)

        let pipeline = channel.pipeline.syncOperations
        _ = try pipeline.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: stream,
            streamDelegate: connectionGuard.delegate(on: channel.eventLoop)
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(
                    HTTP2StreamHandler(
                        services: services, timeouts: timeouts, connection: client.value,
                        onTimeout: { metrics.connectionClosed($0) }))
            }
        }
        try pipeline.addHandler(connectionGuard)
    }
}
