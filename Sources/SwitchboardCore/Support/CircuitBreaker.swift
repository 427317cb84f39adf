/// A per-instance circuit breaker: opens after `threshold` consecutive failures, lets one probe through
/// after `cooldown` (half-open), and closes on the probe's success. A state machine without I/O: the
/// caller passes the time.
public struct CircuitBreaker: Sendable, Equatable {
    /// The breaker's state, as the integrations API shows it.
    public enum State: Sendable, Equatable {
        case closed
        case open(until: ContinuousClock.Instant)
        case halfOpen

        /// A state without its data, named as the API names it.
        public enum Kind: String, CaseIterable, Sendable {
            case closed, open
            case halfOpen = "half_open"
        }

        public var kind: Kind {
            switch self {
            case .closed: .closed
            case .open: .open
            case .halfOpen: .halfOpen
            }
        }

        /// `closed`, `open` or `half_open`.
        public var name: String { kind.rawValue }
    }

    public private(set) var state: State = .closed
    public private(set) var consecutiveFailures = 0
    let threshold: Int
    let cooldown: Duration

    /// Creates a closed breaker.
    public init(threshold: Int, cooldown: Duration) {
        self.threshold = threshold
        self.cooldown = cooldown
    }

    /// Whether a call may go through at `now`; an expired open state becomes half-open and admits one probe.
    public mutating func admits(at now: ContinuousClock.Instant) -> Bool {
        switch state {
        case .closed: return true
        case .halfOpen: return false
        case .open(let until):
            guard now >= until else { return false }
            state = .halfOpen
            return true
        }
    }

    /// Records a success: the breaker closes.
    public mutating func recordSuccess() {
        consecutiveFailures = 0
        state = .closed
    }

    /// Records a failure at `now`: a failed probe or the threshold-th failure in a row opens the breaker.
    public mutating func recordFailure(at now: ContinuousClock.Instant) {
        consecutiveFailures += 1
        if state == .halfOpen || consecutiveFailures >= threshold {
            state = .open(until: now + cooldown)
        }
    }

    /// When an open breaker admits its probe; nil when not open.
    public var reopensAt: ContinuousClock.Instant? {
        if case .open(let until) = state { return until }
        return nil
    }
}
