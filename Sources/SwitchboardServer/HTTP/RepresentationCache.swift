import Hummingbird
import NIOCore
import SwitchboardCore
import Synchronization

/// The JSON bodies of versioned records (agents, conversations) by tenant, id and version, so that
/// a record read again is not encoded again. A record's version grows with every change to it, so an
/// entry is never stale: the cache needs no invalidation, only a bound on its size.
///
/// - Important: Thread-safe: the bodies live behind one mutex, held for a dictionary operation.
final class RepresentationCache: Sendable {
    private struct Key: Hashable {
        let tenant: String
        let id: String
        let version: Int64
    }

    private let bodies = Mutex<[Key: ByteBuffer]>([:])
    private let capacity: Int

    /// A cache of at most `capacity` bodies; a full cache starts over.
    init(capacity: Int = 10_000) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// `record` as a 200 JSON response with its `ETag`.
    func response(for record: some Encodable, tenant: String, id: String, version: Int64) throws -> Response {
        let key = Key(tenant: tenant, id: id, version: version)
        let body: ByteBuffer
        if let cached = bodies.withLock({ $0[key] }) {
            body = cached
        } else {
            body = ByteBuffer(bytes: try SwitchboardJSON.encode(record))
            bodies.withLock { bodies in
                if bodies.count >= capacity { bodies.removeAll(keepingCapacity: true) }
                bodies[key] = body
            }
        }
        return .json(buffer: body, version: version)
    }
}
