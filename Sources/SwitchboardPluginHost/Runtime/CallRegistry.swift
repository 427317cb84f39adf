import Synchronization

/// The result of one hook invocation or call: a status and the bytes the plugin handed over
/// (a JSON result on `.ok`, else an optional message).
public struct CallOutcome: Sendable, Equatable {
    public var status: PluginStatus
    public var body: [UInt8]

    /// Creates an outcome.
    public init(status: PluginStatus, body: [UInt8] = []) {
        self.status = status
        self.body = body
    }

    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The status with the plugin's message, when it gave one: `unavailable: backend down`.
    public var failureDescription: String { text.isEmpty ? status.name : "\(status.name): \(text)" }
}

/// Calls waiting for their outcome, by id. Whoever finishes a call first — the hook returning, the
/// plugin's `complete`, the timeout — resumes its waiter; later finishes are ignored.
///
/// - Important: Thread-safe; `finish` may be called from any thread, including plugin threads.
final class CallRegistry: Sendable {
    private struct Waiter {
        let owner: ObjectIdentifier
        let continuation: CheckedContinuation<CallOutcome, Never>
    }
    // Guards the next id and the waiting continuations.
    private let state = Mutex<(next: UInt64, waiting: [UInt64: Waiter])>((1, [:]))

    /// A new call id, unique in the process.
    func makeID() -> UInt64 {
        state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
    }

    /// Registers the waiter of `id`, a call of the instance whose host context is `owner`.
    func register(_ id: UInt64, owner: ObjectIdentifier, _ continuation: CheckedContinuation<CallOutcome, Never>) {
        state.withLock { $0.waiting[id] = Waiter(owner: owner, continuation: continuation) }
    }

    /// Resumes the waiter of `id` with `outcome`. With an `owner`, only a call of that instance is finished,
    /// so a plugin cannot complete another instance's call.
    /// - Returns: whether a waiter was still there (false: the call was already finished).
    @discardableResult
    func finish(_ id: UInt64, _ outcome: CallOutcome, owner: ObjectIdentifier? = nil) -> Bool {
        let waiter = state.withLock { state -> Waiter? in
            guard let waiter = state.waiting[id], owner == nil || waiter.owner == owner else { return nil }
            state.waiting[id] = nil
            return waiter
        }
        guard let waiter else { return false }
        waiter.continuation.resume(returning: outcome)
        return true
    }

    /// Registers call `id` of `owner`, runs `start`, and waits until the call finishes or `timeout` passes
    /// (then it finishes as `.timeout`).
    func wait(_ id: UInt64, owner: ObjectIdentifier, timeout: Duration, start: @escaping @Sendable () -> Void) async -> CallOutcome {
        await withTaskGroup(of: CallOutcome?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    self.register(id, owner: owner, continuation)
                    start()
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled {
                    self.finish(id, CallOutcome(status: .timeout, body: Array("the plugin did not answer within \(timeout)".utf8)))
                }
                return nil
            }
            for await outcome in group {
                if let outcome {
                    group.cancelAll()
                    return outcome
                }
            }
            return CallOutcome(status: .internal)
        }
    }

    /// Finishes every waiting call of `owner` with `outcome`.
    func failAll(_ outcome: CallOutcome, owner: ObjectIdentifier) {
        let waiters = state.withLock { state -> [Waiter] in
            let mine = state.waiting.filter { $0.value.owner == owner }
            for id in mine.keys { state.waiting[id] = nil }
            return Array(mine.values)
        }
        for waiter in waiters { waiter.continuation.resume(returning: outcome) }
    }

}
