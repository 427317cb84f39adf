import Foundation
import Logging
import NIOCore
import NIOEmbedded
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardServer

/// The hub's fan-out when the store cannot say whose conversation a message is in.
@Suite(.timeLimit(.minutes(5))) struct RealtimeHubTests {
    /// A store that knows one conversation and fails to read it while `isFailing`; the hub reads nothing else.
    final class FlakyConversations: ChatStore {
        struct Unavailable: Error {}
        let conversation: Conversation
        let isFailing = Atomic(true)

        init(_ conversation: Conversation) { self.conversation = conversation }

        func conversation(id: String, tenant: String) throws -> Conversation? {
            if isFailing.load(ordering: .relaxed) { throw Unavailable() }
            return id == conversation.id ? conversation : nil
        }
        func agent(id: String, tenant: String) throws -> Agent? { throw Unavailable() }
        func agents(tenant: String, status: Agent.Status?, page: PageRequest) throws -> Page<Agent> { throw Unavailable() }
        func visitor(id: String, tenant: String) throws -> Visitor? { throw Unavailable() }
        func visitor(externalID: String, tenant: String) throws -> Visitor? { throw Unavailable() }
        func conversations(tenant: String, filter: ConversationFilter, page: PageRequest) throws -> Page<Conversation> { throw Unavailable() }
        func message(id: String, tenant: String) throws -> Message? { throw Unavailable() }
        func messages(conversationID: String, tenant: String, page: PageRequest) throws -> Page<Message> { throw Unavailable() }
        func customer(id: String, tenant: String) throws -> Customer? { throw Unavailable() }
        func customers(tenant: String, filter: CustomerFilter, page: PageRequest) throws -> Page<Customer> { throw Unavailable() }
        func order(id: String, tenant: String) throws -> Order? { throw Unavailable() }
        func orders(customerID: String, tenant: String, page: PageRequest) throws -> Page<Order> { throw Unavailable() }
        func recentOrders(customerID: String, tenant: String, limit: Int) throws -> [Order] { throw Unavailable() }
        func ticket(id: String, tenant: String) throws -> Ticket? { throw Unavailable() }
        func tickets(tenant: String, filter: TicketFilter, page: PageRequest) throws -> Page<Ticket> { throw Unavailable() }
        func execute(_ command: ChatCommand, tenant: String, idempotency: IdempotencyKey?) async throws -> CommandOutcome { throw Unavailable() }
    }

    @Test func aMessageWhoseConversationCannotBeReadIsPublishedOnceTheReadSucceedsAndEarlierOnesNotTwice() async throws {
        let conversation = Conversation(
            id: "c1",
            visitorID: "v1",
            agentID: "a1",
            status: .open,
            channel: "web",
            subject: nil,
            metadata: [:],
            createdAt: Date(),
            updatedAt: Date()
        )
        let store = FlakyConversations(conversation)
        let hub = RealtimeHub(store: store, limits: SwitchboardConfiguration.Realtime(), logger: Logger(label: "test"))
        let channel = EmbeddedChannel()
        let mailbox = Mailbox(limit: 16, eventLoop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(mailbox)
        mailbox.finishReplay()
        let agent = Principal(tenantID: "t1", subject: "a1", role: .agent, scopes: [], method: .jwt)
        _ = try hub.register(principal: agent, visibility: .agent(id: "a1", seesQueue: false), mailbox: mailbox, receivesEvents: true)

        func event(_ seq: Int64, _ type: EventType, _ data: JSONValue) -> Event {
            Event(id: "e\(seq)", type: type, tenantID: "t1", seq: seq, timestamp: 0, data: data, position: seq)
        }
        let batch = [
            event(1, .agentStatusChanged, ["agent_id": "a1", "status": "online"]),
            event(2, .messageReceived, ["message_id": "m1", "conversation_id": "c1", "content": "hello"]),
        ]
        func written() throws -> [Int64] {
            channel.embeddedEventLoop.run()
            var seqs: [Int64] = []
            while let frame = try channel.readOutbound(as: ByteBuffer.self) {
                // The header is 2 bytes for a payload under 126 bytes, else 4 (these frames are short).
                let payload = try JSONValue(parsing: frame.readableBytesView.dropFirst(frame.readableBytes < 128 ? 2 : 4))
                seqs.append(try #require(payload["seq"]?.int.map(Int64.init)))
            }
            return seqs
        }

        await #expect(throws: FlakyConversations.Unavailable.self) { try await hub.publish(batch) }
        #expect(try written() == [1], "the event before the failed read goes out; the message waits")
        store.isFailing.store(false, ordering: .relaxed)
        try await hub.publish(batch)
        #expect(try written() == [2], "published again, the batch delivers the message and not the first event twice")
    }
}

/// `/ready`'s view of the realtime tail.
@Suite(.timeLimit(.minutes(1))) struct LogFollowerTests {
    @Test func aTailBehindTheHeadIsCaughtUpOnlyWhileItReachedTheHeadRecently() {
        let patient = LogFollower(staleAfter: .seconds(3_600))
        patient.read(upTo: 10, isAtHead: true)
        #expect(patient.isCaughtUp(head: 10))
        #expect(patient.isCaughtUp(head: 50), "behind, but at the head moments ago")

        let strict = LogFollower(staleAfter: .zero)
        strict.read(upTo: 10, isAtHead: true)
        #expect(strict.isCaughtUp(head: 10), "at the head")
        #expect(!strict.isCaughtUp(head: 11), "behind, and not at the head within the allowed time")
        strict.read(upTo: 11, isAtHead: false)
        #expect(strict.isCaughtUp(head: 11))
    }
}
