/// The durable, per-tenant, gap-free event log and the cursors of its consumers.
public protocol EventLog: Sendable {
    /// Events of one tenant with `seq > after`, in order.
    func events(tenant: String, after seq: Int64, limit: Int) async throws -> [Event]
    /// Events of every tenant after a log position, in commit order.
    func events(afterPosition position: Int64, limit: Int) async throws -> [Event]
    /// The tenant's oldest retained `seq`: events after `seq - 1` can be read; the tenant's next seq when
    /// retention removed every event.
    func firstRetainedSeq(tenant: String) async throws -> Int64
    /// The tenant's newest `seq`, 0 before its first event.
    func lastSeq(tenant: String) async throws -> Int64
    /// The newest position in the log, 0 when empty.
    func lastPosition() async throws -> Int64
    /// The persisted position of a consumer, 0 when it never saved one.
    func cursor(consumer: String) async throws -> Int64
    /// Every consumer's persisted position, by name.
    func cursors() async throws -> [String: Int64]
    /// Persists a consumer's position.
    func saveCursor(consumer: String, position: Int64) async throws
    /// Appends events with the times they happened, as an import does (history for a benchmark, a moved
    /// deployment); they get the tenant's next seqs like any other.
    func importEvents(_ events: [(event: DomainEvent, timestamp: Int64)], tenant: String) async throws
    /// Signalled after every commit that may have appended events.
    var commits: CommitSignal { get }
}
