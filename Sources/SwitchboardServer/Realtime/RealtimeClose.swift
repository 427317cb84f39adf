/// A WebSocket close the server starts: its code and reason (the README's table of close codes).
struct RealtimeClose: Error, Equatable, Sendable {
    let code: UInt16
    let reason: String

    static let shutdown = RealtimeClose(code: 1001, reason: "server_shutdown")
    static let protocolError = RealtimeClose(code: 1002, reason: "protocol_error")
    static let invalidText = RealtimeClose(code: 1007, reason: "invalid_utf8")
    static let messageTooLarge = RealtimeClose(code: 1009, reason: "message_too_large")
    static let unavailable = RealtimeClose(code: 1011, reason: "unavailable")
    static let idle = RealtimeClose(code: 4000, reason: "idle_timeout")
    static let slowConsumer = RealtimeClose(code: 4001, reason: "slow_consumer: reconnect with since=")
    static let rateLimited = RealtimeClose(code: 4002, reason: "rate_limited")
    static let tooManyForPrincipal = RealtimeClose(code: 4003, reason: "too_many_connections_for_principal")
    static let tooManyForTenant = RealtimeClose(code: 4004, reason: "too_many_connections_for_tenant")
    /// Every close the server starts.
    static let startedByServer: [RealtimeClose] = [
        .shutdown, .protocolError, .invalidText, .messageTooLarge, .unavailable, .idle, .slowConsumer, .rateLimited, .tooManyForPrincipal, .tooManyForTenant,
    ]

    /// The reason's code, without the advice some reasons carry (`slow_consumer`).
    var metricName: String { String(reason.prefix { $0 != ":" }) }

    /// The client closed or vanished: nothing more goes out, not even a close frame (1006 is never sent).
    static let gone = RealtimeClose(code: 1006, reason: "")
}
