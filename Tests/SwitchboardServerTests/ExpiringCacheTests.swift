import SwitchboardCore
import Testing

@testable import SwitchboardServer

/// The request path's caches (API keys, tenant settings): an entry is used until its lifetime ends or
/// the store signals a settings change, whichever comes first. Time is passed in, not read.
@Suite(.timeLimit(.minutes(1))) struct ExpiringCacheTests {
    /// Counts the loads, answering `value` each time.
    final class Loads: @unchecked Sendable {
        var count = 0
        func load(_ value: String?) -> String? {
            count += 1
            return value
        }
    }

    @Test func anEntryIsKeptForItsLifetimeAndLoadedAgainAfter() async {
        let cache = ExpiringCache<String, String>(lifetime: 5)
        let loads = Loads()
        #expect(await cache.value("k", now: 100) { loads.load("a") } == "a")
        #expect(await cache.value("k", now: 104.9) { loads.load("b") } == "a")
        #expect(await cache.value("k", now: 105) { loads.load("c") } == "c")
        #expect(loads.count == 2)
    }

    @Test func aSettingsSignalEndsEveryEntryAtOnce() async {
        let signal = CommitSignal()
        let cache = ExpiringCache<String, String>(lifetime: 3_600, invalidatedBy: signal)
        let loads = Loads()
        #expect(await cache.value("k", now: 0) { loads.load("old") } == "old")
        signal.notify()
        #expect(await cache.value("k", now: 1) { loads.load("new") } == "new")
        #expect(await cache.value("k", now: 2) { loads.load("newer") } == "new")
        #expect(loads.count == 2)
    }

    @Test func anAbsentValueIsNotCached() async {
        let cache = ExpiringCache<String, String>(lifetime: 3_600)
        let loads = Loads()
        #expect(await cache.value("k", now: 0) { loads.load(nil) } == nil)
        #expect(await cache.value("k", now: 1) { loads.load("made") } == "made")
        #expect(loads.count == 2)
    }
}
