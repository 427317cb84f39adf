import Foundation
import Testing

@testable import SwitchboardCore

@Suite struct TimeOrderedIDTests {
    @Test func idsAreWellFormedVersion7AndStrictlyIncreasing() {
        let generator = TimeOrderedIDGenerator()
        let now = Date()
        let ids = (0..<10_000).map { _ in generator.make(now: now) }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(100) {
            #expect(TimeOrderedIDGenerator.isWellFormed(id))
            #expect(Array(id)[14] == "7")
            #expect("89ab".contains(Array(id)[19]))
        }
    }

    @Test func aClockGoingBackwardsStillOrdersIDs() {
        let generator = TimeOrderedIDGenerator()
        let first = generator.make(now: Date(timeIntervalSince1970: 2_000_000))
        let second = generator.make(now: Date(timeIntervalSince1970: 1_000_000))
        #expect(first < second)
    }

    @Test func malformedIDsAreRecognised() {
        #expect(!TimeOrderedIDGenerator.isWellFormed("not-an-id"))
        #expect(!TimeOrderedIDGenerator.isWellFormed("01A210FD-40A7-719B-B1A1-7F27CC409AC3"))
    }
}

@Suite struct ConversationRulesTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func open() -> Conversation {
        Conversation.make(NewConversation(visitorID: "v"), id: "c", now: now).0
    }

    @Test func closingThroughAnUpdateEndsTheConversation() throws {
        var conversation = open()
        let events = try conversation.apply(ConversationChanges(status: .closed), now: now)
        #expect(events.map(\.type) == [.conversationUpdated, .conversationEnded])
        #expect(conversation.endedAt == now)
        #expect(conversation.version == 2)
    }

    @Test func aClosedConversationTakesNoChangeOrMessage() throws {
        var conversation = open()
        _ = conversation.end(now: now)
        #expect(throws: SwitchboardError.conversationClosed) { try conversation.apply(ConversationChanges(status: .open), now: now) }
        #expect(throws: SwitchboardError.conversationClosed) {
            try Message.make(NewMessage(conversationID: "c", from: "v", content: "hi"), in: conversation, id: "m", now: now)
        }
        #expect(conversation.end(now: now).isEmpty)
    }

    @Test func anUnchangedUpdateEmitsNothing() throws {
        var conversation = open()
        #expect(try conversation.apply(ConversationChanges(status: .open), now: now).isEmpty)
        #expect(conversation.version == 1)
    }

    @Test func messageGoesToTheOtherParticipant() throws {
        var conversation = open()
        _ = try conversation.apply(ConversationChanges(assignment: .assign("a")), now: now)
        let (fromVisitor, _) = try Message.make(NewMessage(conversationID: "c", from: "v", content: "hi"), in: conversation, id: "m1", now: now)
        let (fromAgent, events) = try Message.make(NewMessage(conversationID: "c", from: "a", content: "hi"), in: conversation, id: "m2", now: now)
        #expect(fromVisitor.to == "a")
        #expect(fromAgent.to == "v")
        #expect(events.first?.data["message_id"] == .string("m2"))
    }

    @Test func statusChangeOfAnAgentIsItsOwnEvent() throws {
        var agent = Agent.make(NewAgent(name: "A"), id: "a", now: now).0
        let events = try agent.apply(AgentChanges(status: .online), now: now)
        #expect(events.map(\.type) == [.agentUpdated, .agentStatusChanged])
        #expect(events[1].data["status"] == .string("online"))
        #expect(events[1].data["previous_status"] == .string("offline"))
    }
}

@Suite struct CommitSignalTests {
    @Test func aWaiterWakesOnTheNextNotify() async {
        let signal = CommitSignal()
        let seen = signal.generation
        async let woken: Void = signal.wait(after: seen)
        try? await Task.sleep(for: .milliseconds(10))
        signal.notify()
        await woken
        #expect(signal.generation == seen + 1)
    }

    @Test func aNotifyBeforeTheWaitIsNotMissed() async {
        let signal = CommitSignal()
        let seen = signal.generation
        signal.notify()
        await signal.wait(after: seen)
    }

    @Test func cancellationEndsAWait() async {
        let signal = CommitSignal()
        let task = Task { await signal.wait(after: signal.generation) }
        task.cancel()
        await task.value
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }
}
