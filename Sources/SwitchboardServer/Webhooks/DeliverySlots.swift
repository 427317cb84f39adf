import Synchronization

/// A bound on webhook requests in flight across all endpoints: a counting semaphore for async code.
/// A free slot is taken without a suspension; only a full bound makes the caller wait.
/// - Important: Thread-safe: the count and the waiters are behind one mutex.
final class DeliverySlots: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(_ count: Int) {
        state = Mutex(State(free: count))
    }

    /// Waits for a free slot and takes it.
    func acquire() async {
        let taken = state.withLock { state in
            guard state.free > 0 else { return false }
            state.free -= 1
            return true
        }
        if taken { return }
        await withCheckedContinuation { continuation in
            let resume = state.withLock { state in
                // A slot may have come back between the two locks.
                guard state.free > 0 else {
                    state.waiting.append(continuation)
                    return false
                }
                state.free -= 1
                return true
            }
            if resume { continuation.resume() }
        }
    }

    /// Gives a slot back, to the longest waiter first.
    func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        waiter?.resume()
    }
}
