import Logging
import ServiceLifecycle
import SwitchboardCore

/// Follows the event log from the server's start and publishes every committed event to the hub, and
/// once a second closes the hub's idle connections. On graceful shutdown it closes every connection
/// with 1001 and waits, at most the close timeout, for them to finish their close handshake: upgraded
/// connections are not tasks of the HTTP server, so its shutdown does not wait for them.
///
/// It keeps no cursor: connections that need earlier events replay them from the durable log.
struct RealtimeTail: Service {
    let log: any EventLog
    let hub: RealtimeHub
    let logger: Logger

    func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await follow() }
                group.addTask {
                    await cancelWhenGracefulShutdown {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .seconds(1))
                            hub.closeIdle()
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            // Open sockets would hold the server's shutdown: each gets 1001 and closes.
            for listener in hub.allListeners() { listener.mailbox.close(.shutdown) }
        }
        let deadline = ContinuousClock.now + RealtimeConnection.closeTimeout
        while hub.connectionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func follow() async {
        await cancelWhenGracefulShutdown {
            var position = (try? await log.lastPosition()) ?? 0
            while !Task.isCancelled {
                let generation = log.commits.generation
                do {
                    let batch = try await log.events(afterPosition: position, limit: 512)
                    guard let last = batch.last else {
                        await log.commits.wait(after: generation)
                        continue
                    }
                    try await hub.publish(batch)
                    position = last.position
                } catch {
                    // The batch is read and published again: no connection misses an event, none gets one twice.
                    logger.warning("Realtime tail cannot read the log or a conversation; retrying", metadata: ["sb.error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}
