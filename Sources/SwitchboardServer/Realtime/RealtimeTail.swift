import Logging
import ServiceLifecycle
import SwitchboardCore
import Synchronization

/// Follows the event log from the server's start and publishes every committed event to the hub, and
/// once a second closes the hub's idle connections. On graceful shutdown it closes every connection
/// with 1001 and waits, at most the close timeout, for them to finish their close handshake: upgraded
/// connections are not tasks of the HTTP server, so its shutdown does not wait for them.
///
/// It keeps no cursor: connections that need earlier events replay them from the durable log.
struct RealtimeTail: Service {
    let log: any EventLog
    let hub: RealtimeHub
    let follower: LogFollower
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

    static let batchSize = 512

    private func follow() async {
        await cancelWhenGracefulShutdown {
            var position = (try? await log.lastPosition()) ?? 0
            follower.read(upTo: position, isAtHead: true)
            while !Task.isCancelled {
                let generation = log.commits.generation
                do {
                    let batch = try await log.events(afterPosition: position, limit: Self.batchSize)
                    guard let last = batch.last else {
                        follower.read(upTo: position, isAtHead: true)
                        await log.commits.wait(after: generation)
                        continue
                    }
                    try await hub.publish(batch)
                    position = last.position
                    follower.read(upTo: position, isAtHead: batch.count < Self.batchSize)
                } catch {
                    // The batch is read and published again: no connection misses an event, none gets one twice.
                    logger.warning("Realtime tail cannot read the log or a conversation; retrying", metadata: ["sb.error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}

/// How far this server's realtime tail has read the log, for `/ready`: a server whose tail is behind
/// the log's head and has not reached it for `staleAfter` (it does not hear other servers' commits,
/// or cannot keep up) is not ready.
/// - Important: Thread-safe: the state lives behind a mutex.
package final class LogFollower: Sendable {
    private let staleAfter: Duration
    private let state = Mutex<(position: Int64, reachedHeadAt: ContinuousClock.Instant)>((0, .now))

    package init(staleAfter: Duration = .seconds(10)) {
        self.staleAfter = staleAfter
    }

    /// The tail read up to `position`; `isAtHead` when nothing was after it at the time.
    package func read(upTo position: Int64, isAtHead: Bool) {
        state.withLock { state in
            state.position = position
            if isAtHead { state.reachedHeadAt = .now }
        }
    }

    /// Whether the tail has read up to `head`, or was at the head within `staleAfter`.
    package func isCaughtUp(head: Int64) -> Bool {
        state.withLock { $0.position >= head || ContinuousClock.now - $0.reachedHeadAt <= staleAfter }
    }
}
