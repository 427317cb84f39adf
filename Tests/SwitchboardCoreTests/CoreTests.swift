import Foundation
import Testing

@testable import SwitchboardCore

@Suite(.timeLimit(.minutes(1))) struct TimeOrderedIDTests {
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

    @Test func anIDStartsWithItsMillisecond() {
        let id = TimeOrderedIDGenerator().make(now: Date(timeIntervalSince1970: 1_700_000_000.123))
        #expect(id.hasPrefix("018bcfe5-687b-7"))
    }

    @Test func malformedIDsAreRecognised() {
        #expect(!TimeOrderedIDGenerator.isWellFormed("not-an-id"))
        #expect(!TimeOrderedIDGenerator.isWellFormed("01A210FD-40A7-719B-B1A1-7F27CC409AC3"))
    }
}

@Suite(.timeLimit(.minutes(1))) struct ValidationTests {
    @Test func requiredTextIsTrimmedAndLimitedInCharacters() throws {
        #expect(try Validation.requiredText("  Ana \n", field: "name", maxLength: 3) == "Ana")
        #expect(try Validation.requiredText("Ana", field: "name", maxLength: 3) == "Ana")
        // Three characters in six bytes fit a limit of three characters.
        #expect(try Validation.requiredText("äöü", field: "name", maxLength: 3) == "äöü")
        #expect(throws: SwitchboardError.self) { try Validation.requiredText("Anna", field: "name", maxLength: 3) }
        #expect(throws: SwitchboardError.self) { try Validation.requiredText(" \t\n", field: "name", maxLength: 3) }
    }
}

@Suite(.timeLimit(.minutes(1))) struct ConversationRulesTests {
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

@Suite(.timeLimit(.minutes(1))) struct CommitSignalTests {
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

    @Test func aWaitWithADeadlineSaysWhichCameFirst() async {
        let signal = CommitSignal()
        let clock = ContinuousClock()
        let quiet = await signal.wait(after: signal.generation, until: clock.now + .milliseconds(20), clock: clock)
        #expect(!quiet, "nothing was committed before the deadline")
        let seen = signal.generation
        signal.notify()
        let woken = await signal.wait(after: seen, until: clock.now + .seconds(60), clock: clock)
        #expect(woken, "a notify ends the wait long before its deadline")
    }

    @Test func aWaiterForATargetSleepsThroughSmallerAdvances() async {
        let signal = CommitSignal()
        let target = signal.generation + 5
        let clock = ContinuousClock()
        async let woken = signal.wait(reaching: target, until: clock.now + .seconds(60), clock: clock)
        signal.notify(advancingBy: 2)
        signal.notify(advancingBy: 2)
        #expect(signal.generation == target - 1)
        let early = await signal.wait(reaching: target, until: clock.now + .milliseconds(20), clock: clock)
        #expect(!early, "four of five is not enough")
        signal.notify(advancingBy: 3)
        #expect(await woken, "the notify that passes the target ends the wait, long before its deadline")
        await signal.wait(reaching: target)
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }
}

@Suite(.timeLimit(.minutes(1))) struct JSONStreamEncoderTests {
    /// Foundation's encoder with the conventions the stream encoder replaces.
    func foundation(_ value: some Encodable) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return try JSONDecoder().decode(JSONValue.self, from: encoder.encode(value))
    }

    func stream(_ value: some Encodable) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(JSONStreamEncoder.encode(value)))
    }

    @Test func modelsEncodeAsFoundationEncodesThem() throws {
        let now = Date(timeIntervalSince1970: 1_764_050_000.25)
        let metadata: [String: JSONValue] = [
            "nested": .object(["list": .array([.number(1), .number(2.5), .null, .bool(true), .object([:]), .array([])])]),
            "text": .string("quote \" backslash \\ slash / newline \n tab \t bell \u{7} emoji 🎧"),
        ]
        var conversation = Conversation.make(NewConversation(visitorID: "v", subject: "Hi", metadata: metadata), id: "c", now: now).0
        conversation.endedAt = now
        #expect(try stream(conversation) == foundation(conversation))
        let agent = Agent.make(NewAgent(name: "Ada"), id: "a", now: now).0
        #expect(try stream(agent) == foundation(agent))
        #expect(try stream([agent, agent]) == foundation([agent, agent]))
        #expect(try stream(metadata) == foundation(metadata))
        for message in Self.messages(at: now) { #expect(try stream(message) == foundation(message)) }
        for visitor in Self.visitors(at: now) { #expect(try stream(visitor) == foundation(visitor)) }
    }

    /// A message with every optional field empty, and one with each set (a deleted, edited reply).
    static func messages(at now: Date) -> [Message] {
        let sent = Message(
            id: "m",
            conversationID: "c",
            from: "v",
            to: nil,
            content: "Hi \"there\"",
            contentType: "text/plain",
            clientMessageID: nil,
            timestamp: 1_764_050_000,
            createdAt: now
        )
        var changed = sent
        changed.to = "a"
        changed.clientMessageID = "client-1"
        changed.editedAt = now.addingTimeInterval(60)
        changed.deletedAt = now.addingTimeInterval(120)
        changed.version = 3
        return [sent, changed]
    }

    static func visitors(at now: Date) -> [Visitor] {
        [Visitor(id: "v", externalID: nil, name: nil, createdAt: now), Visitor(id: "w", externalID: "crm-7", name: "Ada \u{1F3A7}", createdAt: now)]
    }

    @Test func recordsWriteTheBytesTheirEncodeMethodWrites() throws {
        /// The value through its `encode(to:)` and a keyed container, rather than a record's direct path.
        struct ThroughEncoder<Value: Encodable>: Encodable {
            let value: Value
            func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
        }
        func expectSameBytes(_ value: some Encodable) throws {
            #expect(try JSONStreamEncoder.encode(value) == JSONStreamEncoder.encode(ThroughEncoder(value: value)))
        }
        let now = Date(timeIntervalSince1970: 1_764_050_000)
        var agent = Agent.make(NewAgent(name: "Ada", email: "ada@example.com"), id: "a", now: now).0
        try expectSameBytes(agent)
        agent.deletedAt = now
        try expectSameBytes(agent)
        var conversation = Conversation.make(
            NewConversation(visitorID: "v", metadata: ["tier": .string("gold"), "n": .number(2)]),
            id: "c",
            now: now
        ).0
        try expectSameBytes(conversation)
        conversation.agentID = "a"
        conversation.subject = "Refund"
        conversation.endedAt = now
        try expectSameBytes(conversation)
        for message in Self.messages(at: now) { try expectSameBytes(message) }
        for visitor in Self.visitors(at: now) { try expectSameBytes(visitor) }
        try expectSameBytes(["data": [agent, agent]])
    }

    @Test func datesMatchFoundationISO8601AcrossEras() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        for seconds in stride(from: -2_208_988_800.0, through: 4_102_444_800.0, by: 7_654_321.5) + [0, 951_782_400, 1_709_164_800.999] {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(try JSONStreamEncoder.encode([date]) == Array(encoder.encode([date])))
        }
    }

    @Test func integersAndStringsAreWrittenAsFoundationWritesThem() throws {
        let integers: [Int64] = [0, -1, 7, 9, 10, 99, 100, 1_000_000, -987_654_321, Int64.max, Int64.min]
        #expect(try JSONStreamEncoder.encode(integers) == Array(JSONEncoder().encode(integers)))
        let unsigned: [UInt64] = [0, 42, UInt64.max]
        #expect(try JSONStreamEncoder.encode(unsigned) == Array(JSONEncoder().encode(unsigned)))
        let strings = ["", "plain", "a\"b", "back\\slash", "ctl\u{1}\u{1F}", "caf\u{E9} \u{1F3A7}", "\u{7F}"]
        #expect(try stream(strings) == foundation(strings))
    }

    @Test func freeFormJSONIsWrittenDirectlyAsItsEncoderWouldWriteIt() throws {
        let value: JSONValue = .object(["a": .array([.number(1), .number(2.5), .number(-9_007_199_254_740_993), .null, .bool(true), .string("x\n")])])
        #expect(String(decoding: try JSONStreamEncoder.encode(value), as: UTF8.self) == #"{"a":[1,2.5,-9007199254740992.0,null,true,"x\n"]}"#)
        #expect(try stream(value) == foundation(value))
        #expect(throws: EncodingError.self) { try JSONStreamEncoder.encode(JSONValue.array([.number(.nan)])) }
    }

    @Test func nonFiniteNumbersAreRejected() {
        #expect(throws: EncodingError.self) { try JSONStreamEncoder.encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try JSONStreamEncoder.encode(["x": Double.infinity]) }
    }

    @Test func aSecondKeyedContainerAddsToTheSameObject() throws {
        struct Wrapped: Encodable {
            let agent: Agent
            func encode(to encoder: any Encoder) throws {
                try agent.encode(to: encoder)
                var container = encoder.container(keyedBy: Extra.self)
                try container.encode("s", forKey: .secret)
            }
            enum Extra: String, CodingKey { case secret }
        }
        let agent = Agent.make(NewAgent(name: "Ada"), id: "a", now: Date(timeIntervalSince1970: 0)).0
        #expect(try stream(Wrapped(agent: agent)) == foundation(Wrapped(agent: agent)))
    }

    @Test func outputIsCompactAndKeepsSlashes() throws {
        #expect(String(decoding: try JSONStreamEncoder.encode(["a/b": [1, 2]]), as: UTF8.self) == #"{"a/b":[1,2]}"#)
    }
}

@Suite(.timeLimit(.minutes(1))) struct WebhookSignatureTests {
    @Test func signaturesMatchTheStandardWebhooksTestVector() {
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let signature = WebhookSignature.sign(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body, secret: secret)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        let header = "v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        #expect(WebhookSignature.verify(header: header, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body, secret: secret))
        #expect(!WebhookSignature.verify(header: header, id: "msg_other", timestamp: 1_614_265_330, body: body, secret: secret))
        #expect(WebhookSignature.makeSecret().hasPrefix("whsec_"))
        #expect(WebhookSignature.key(of: WebhookSignature.makeSecret())?.count == 32)
    }

    @Test func eventPatternsMatchExactPrefixAndAll() {
        let patterns = ["message.*", "agent.status_changed"].compactMap(EventPattern.init)
        #expect(patterns.matches("message.received"))
        #expect(patterns.matches("agent.status_changed"))
        #expect(!patterns.matches("agent.created"))
        #expect(EventPattern("*")!.matches("plugin.x.y"))
        #expect(EventPattern("Message") == nil)
        #expect(EventPattern("a..b") == nil)
    }
}
