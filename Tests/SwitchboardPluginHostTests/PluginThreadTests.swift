import AsyncHTTPClient
import Dispatch
import Foundation
import Logging
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardPluginHost

/// These tests wait with semaphores, not with Swift concurrency: on Linux the cooperative pool is the
/// same dispatch pool that the old way of running hooks blocked, so an `await` would stall with it.
@Suite(.timeLimit(.minutes(2))) struct HookRunnerTests {
    /// Waits for `count` signals of `semaphore` until 10 s from now; returns how many came.
    private func signals(_ semaphore: DispatchSemaphore, count: Int) -> Int {
        let deadline = DispatchTime.now() + .seconds(10)
        for received in 0..<count where semaphore.wait(timeout: deadline) == .timedOut { return received }
        return count
    }

    /// Hooks that block keep their threads. On a pool as wide as the cores (a concurrent dispatch queue)
    /// the rest would wait for it to add a thread, about one a second; each hook must start at once,
    /// and another instance's hooks must not queue behind them.
    @Test func blockedHooksDelayNoOtherHook() {
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let blocking = ProcessInfo.processInfo.activeProcessorCount + 30
        let hung = HookRunner(label: "test.hung", serializesCalls: false)
        for _ in 0..<blocking {
            hung.run {
                started.signal()
                release.wait()
            }
        }
        defer { for _ in 0..<blocking { release.signal() } }
        let otherRan = DispatchSemaphore(value: 0)
        HookRunner(label: "test.other", serializesCalls: false).run { otherRan.signal() }
        #expect(signals(otherRan, count: 1) == 1)
        #expect(signals(started, count: blocking) == blocking)
    }

    /// A serialized instance's hooks run one at a time in order, a concurrent one's do not wait for each
    /// other; either way the last work (the instance's destroy) runs only after every hook handed over
    /// before it returned.
    @Test(arguments: [true, false]) func theLastWorkWaitsForEveryHook(serializes: Bool) {
        let runner = HookRunner(label: "test.order", serializesCalls: serializes)
        let log = Mutex<[Int]>([])
        let release = DispatchSemaphore(value: 0)
        let ran = DispatchSemaphore(value: 0)
        runner.run {
            release.wait()
            log.withLock { $0.append(0) }
        }
        for index in 1...20 {
            runner.run {
                log.withLock { $0.append(index) }
                ran.signal()
            }
        }
        let lastRan = DispatchSemaphore(value: 0)
        runner.runLast {
            log.withLock { $0.append(-1) }
            lastRan.signal()
        }
        if !serializes { #expect(signals(ran, count: 20) == 20, "concurrent hooks do not wait for the blocked one") }
        #expect(lastRan.wait(timeout: .now()) == .timedOut, "a hook still runs")
        release.signal()
        #expect(signals(lastRan, count: 1) == 1)
        let order = log.withLock { $0 }
        #expect(order.count == 22 && order.last == -1)
        if serializes { #expect(order == Array(0...20) + [-1]) }
    }
}

/// Serialized: the process's count of overdue hooks is shared by every runner.
@Suite(.serialized, .timeLimit(.minutes(2))) struct HookDeadlineTests {
    /// Whether `condition` holds within 10 s, checked every millisecond (on this thread: see HookRunnerTests).
    static func becomes(_ condition: () -> Bool) -> Bool {
        let deadline = DispatchTime.now() + .seconds(10)
        while DispatchTime.now() < deadline {
            if condition() { return true }
            usleep(1_000)
        }
        return condition()
    }

    /// Hooks past their deadline count until they return: at the limit the instance takes no new hook,
    /// so that one hanging plugin cannot take every thread; one returning makes room again.
    @Test func overdueHooksStopTheInstanceTakingNewOnes() {
        let runner = HookRunner(label: "test.overdue", serializesCalls: false)
        let release = DispatchSemaphore(value: 0)
        let quick = HookRunner.Hook()
        #expect(runner.run(quick) {})
        #expect(Self.becomes { quick.hasReturned })
        // Its deadline passing after it returned counts nothing.
        runner.deadlinePassed(for: quick)
        for _ in 0..<HookRunner.overdueLimit {
            let hook = HookRunner.Hook()
            #expect(runner.run(hook) { release.wait() })
            runner.deadlinePassed(for: hook)
        }
        #expect(!runner.run {}, "every overdue slot is taken")
        release.signal()
        #expect(Self.becomes { runner.run {} }, "one returned")
        for _ in 1..<HookRunner.overdueLimit { release.signal() }
        runner.runLast {}
        #expect(!runner.run {}, "nothing is taken after the last work")
    }

    /// Past the process's limit of overdue hooks, an instance with one overdue takes no new hook, and
    /// an instance without one still does.
    @Test func overdueHooksAcrossInstancesStopOnlyTheInstancesThatHaveThem() {
        let release = DispatchSemaphore(value: 0)
        let runners = (0..<HookRunner.processOverdueLimit).map { HookRunner(label: "test.process.\($0)", serializesCalls: false) }
        for runner in runners {
            let hook = HookRunner.Hook()
            #expect(runner.run(hook) { release.wait() })
            runner.deadlinePassed(for: hook)
        }
        #expect(!runners[0].run {}, "an instance with an overdue hook, at the process's limit")
        #expect(HookRunner(label: "test.process.fresh", serializesCalls: false).run {}, "an instance without one")
        for _ in runners { release.signal() }
        #expect(Self.becomes { runners[0].run {} })
    }

    /// A timer that fires before the waiter registered leaves nothing waiting: the waiter, registering
    /// late, is answered at once, and the call is not started unless it must be.
    @Test(arguments: [false, true]) func aWaiterRegisteringAfterItsDeadlineIsAnsweredAtOnce(alwaysStarts: Bool) async {
        let registry = CallRegistry()
        let deadline = CallDeadline()
        let id = registry.makeID()
        #expect(!deadline.pass(finishing: id, in: registry, with: CallOutcome(status: .timeout)), "the timer finds no waiter")
        let started = Mutex(false)
        let outcome = await withCheckedContinuation { continuation in
            deadline.register(id, owner: ObjectIdentifier(registry), in: registry, continuation, start: { started.withLock { $0 = true } }, orResume: CallOutcome(status: .timeout), alwaysStarts: alwaysStarts)
        }
        #expect(outcome.status == .timeout)
        #expect(started.withLock { $0 } == alwaysStarts)
        #expect(!registry.finish(id, CallOutcome(status: .ok)), "nothing left registered")
    }
}

@Suite(.timeLimit(.minutes(2))) struct PluginHTTPLimitTests {
    /// A listening socket nobody accepts on: connections complete, requests are never answered.
    static func silentListener() throws -> (descriptor: Int32, port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard descriptor >= 0, bound == 0, listen(descriptor, 256) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// An instance can have 32 requests in flight; the next is refused at once, and one finishing makes
    /// room again, so a plugin cannot queue requests (and name resolutions) without bound.
    @Test func anInstanceHasAtMost32RequestsInFlight() async throws {
        let listener = try Self.silentListener()
        defer { close(listener.descriptor) }
        let outbound = OutboundHTTPClient(configuration: HTTPClient.Configuration())
        let services = LocalPluginServices(
            store: nil, http: PluginHTTPClient(client: outbound, policy: OutboundAddressPolicy(allowsPrivateNetworks: true)), metrics: nil, calls: CallRegistry()
        )
        let manifest = try PluginManifest(json: Array(#"{"id":"p","version":"1","capabilities":["crm"],"services":["http"],"http_timeout_ms":60000}"#.utf8))
        let context = HostContext(manifest: manifest, tenantID: "t", environment: PluginEnvironment(services: services, calls: CallRegistry(), logger: Logger(label: "test")))
        let (finished, finish) = AsyncStream<Void>.makeStream()
        func request(timeout milliseconds: UInt32) -> PluginStatus {
            services.http(context, PluginHTTPRequest(method: "GET", url: "http://127.0.0.1:\(listener.port)/", headers: [], body: [], timeoutMilliseconds: milliseconds)) { _ in
                finish.yield()
            }
        }
        // One short request, then 31 that wait until the client shuts down.
        #expect(request(timeout: 200) == .pending)
        for _ in 1..<HostContext.maxHTTPInFlight { #expect(request(timeout: 60_000) == .pending) }
        #expect(request(timeout: 60_000) == .unavailable)
        // The short request timed out (the suite's time limit bounds the wait).
        for await _ in finished { break }
        #expect(request(timeout: 60_000) == .pending, "its place is free")
        try await outbound.shutdown()
    }
}
