import SwitchboardCore
import Testing

@testable import SwitchboardStore

/// The read window answers only inside what a database read covered, and never that nothing follows.
@Suite(.timeLimit(.minutes(1))) struct LogReadWindowTests {
    static func entries(_ positions: [Int64], dataBytes: Int = 10) -> [RecentEvents.Entry] {
        positions.map { SQLiteStoreTests.entry($0, dataBytes: dataBytes) }
    }

    @Test func aReadCoversFromWhereItStartedToItsLastEvent() {
        let window = LogReadWindow()
        #expect(window.events(after: 0, limit: 10) == nil)
        // A read after 10 found 12 and 15: 11, 13 and 14 were rolled back, and never come.
        window.record(after: 10, Self.entries([12, 15]))
        #expect(window.events(after: 10, limit: 10)?.map(\.position) == [12, 15])
        #expect(window.events(after: 13, limit: 10)?.map(\.position) == [15])
        #expect(window.events(after: 10, limit: 1)?.map(\.position) == [12])
        // Not before the read's start, and not at or past its end: only the database knows what follows.
        #expect(window.events(after: 9, limit: 10) == nil)
        #expect(window.events(after: 15, limit: 10) == nil)
    }

    @Test func aReadThatStartsInsideOrAtTheEndWidensTheWindowAndAnotherReplacesIt() {
        let window = LogReadWindow()
        window.record(after: 10, Self.entries([11, 12]))
        window.record(after: 12, Self.entries([13, 14]))
        window.record(after: 13, Self.entries([14, 16]))
        #expect(window.events(after: 10, limit: 10)?.map(\.position) == [11, 12, 13, 14, 16])
        // A read far behind (a lagging consumer) starts a window of its own.
        window.record(after: 2, Self.entries([3]))
        #expect(window.events(after: 10, limit: 10) == nil)
        #expect(window.events(after: 2, limit: 10)?.map(\.position) == [3])
        #expect(window.events(after: 3, limit: 10) == nil, "3 is the end: what follows is unknown")
        // Nothing read records nothing.
        window.record(after: 3, [])
        #expect(window.events(after: 3, limit: 10) == nil)
    }

    @Test func theOldestEventsGoBeyondTheBudgetsAndTheWindowStartsAfterThem() {
        let window = LogReadWindow(capacity: 3, maxDataBytes: 1_000)
        window.record(after: 0, Self.entries([1, 2, 3, 4, 5]))
        #expect(window.events(after: 1, limit: 10) == nil)
        #expect(window.events(after: 2, limit: 10)?.map(\.position) == [3, 4, 5])
        let small = LogReadWindow(capacity: 100, maxDataBytes: 25)
        small.record(after: 0, Self.entries([1, 2, 3]))
        #expect(small.events(after: 1, limit: 10)?.map(\.position) == [2, 3])
        #expect(small.events(after: 0, limit: 10) == nil)
    }
}
