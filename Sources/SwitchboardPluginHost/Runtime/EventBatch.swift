import Synchronization

extension PluginStatus {
    /// Whether `on_event` answering this lets delivery move past the event: OK and UNSUPPORTED acknowledge,
    /// INVALID drops it; anything else means the same event is delivered again later.
    public var acknowledgesEvent: Bool { self == .ok || self == .unsupported || self == .invalid }
}

/// The outcomes of a batch of events delivered one after another, as they arrive.
///
/// - Important: Thread-safe: the delivering thread appends, a watchdog reads and may close it.
final class EventBatchProgress: Sendable {
    // Guards the outcomes so far and whether the batch was given up (after a timeout).
    private let state = Mutex<(outcomes: [CallOutcome], isClosed: Bool)>(([], false))

    /// Records the next event's outcome.
    /// - Returns: whether to deliver the next event (false after a failure or once the batch was given up).
    @discardableResult
    func append(_ outcome: CallOutcome) -> Bool {
        state.withLock { state in
            guard !state.isClosed else { return false }
            state.outcomes.append(outcome)
            return outcome.status.acknowledgesEvent
        }
    }

    var count: Int { state.withLock { $0.outcomes.count } }

    /// Gives the batch up: the event in delivery gets `outcome`, later appends are ignored.
    func close(with outcome: CallOutcome) {
        state.withLock { state in
            guard !state.isClosed else { return }
            state.isClosed = true
            state.outcomes.append(outcome)
        }
    }

    var outcomes: [CallOutcome] { state.withLock { $0.outcomes } }

    /// Whether the batch was given up.
    var isClosed: Bool { state.withLock { $0.isClosed } }

    /// Runs `start` and waits until call `id` in `registry` finishes, giving the batch up when no event
    /// finished for `timeout`.
    /// - Returns: the outcome that finished the call; a failure other than a timeout also closes the batch.
    @discardableResult
    func wait(id: UInt64, registry: CallRegistry, owner: ObjectIdentifier, timeout: Duration, start: @escaping @Sendable () -> Void) async -> CallOutcome {
        let deadline = CallDeadline()
        let finished = await withTaskGroup(of: CallOutcome?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    deadline.register(id, owner: owner, in: registry, continuation, start: start, orResume: CallOutcome(status: .timeout))
                }
            }
            group.addTask {
                var seen = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: timeout)
                    let now = self.count
                    if now == seen, !Task.isCancelled {
                        self.close(with: CallOutcome(status: .timeout, body: Array("the plugin did not finish an event within \(timeout)".utf8)))
                        deadline.pass(finishing: id, in: registry, with: CallOutcome(status: .timeout))
                        return nil
                    }
                    seen = now
                }
                return nil
            }
            var finished = CallOutcome(status: .internal)
            for await outcome in group {
                if let outcome {
                    finished = outcome
                    break
                }
            }
            group.cancelAll()
            return finished
        }
        if finished.status != .ok { close(with: finished) }
        return finished
    }
}
