import Logging
import SwitchboardCore
import SwitchboardPluginHost

/// Measures what the host adds to a plugin: per-event dispatch in process and in a child process (in
/// batches of 256, as the delivery loop reads the log), against calling the plugin's `on_event` directly,
/// and one host-service round trip (`kv_get`).
/// Run by `switchboard-bench plugins FILE` (scripts/bench builds the test fixture for it).
enum PluginBenchmark {
    /// Nanoseconds per operation.
    struct Report: Sendable {
        var directEvent: Double
        var inProcessEvent: Double
        var subprocessEvent: Double
        var inProcessKVRoundTrip: Double
        var subprocessKVRoundTrip: Double
    }

    /// Runs each measurement `events` times with plugin `path`, whose manifest must ask for `kv` and whose
    /// `fixture.kv {"n": N}` call performs N `kv_get`s (Tests/Fixtures/plugins/fixture.c does).
    static func run(path: String, events: Int, store: any IntegrationStore, tenant: String, executable: String, logger: Logger) async throws -> Report {
        let (_, loaded) = try PluginLibrary.open(path: path, initialize: true, host: .shared)
        guard let library = loaded else { throw PluginRejection("not initialized") }
        let environment = PluginEnvironment.local(store: store, http: nil, metrics: nil, logger: logger)
        let event = try SwitchboardJSON.encode(
            Event(id: "bench", type: .messageReceived, tenantID: tenant, seq: 1, timestamp: 0, data: .object(["content": .string("hello")]), position: 1)
        )

        let inProcess = try await PluginInstance.create(library: library, tenant: tenant, config: Array("{}".utf8), environment: environment)
        let direct = measure(events) { _ in
            _ = inProcess.deliverDirectly(event: event)
        }
        let batch = Array(repeating: event, count: 256)
        let inProcessEvent = try await measureAsync(events / batch.count) { _ in _ = await inProcess.deliver(events: batch) } / Double(batch.count)
        // Where the child's restarts would run; none is expected here.
        let restarts = TaskPool()
        async let pool: Void = restarts.run()
        let subprocess = try await SubprocessInstance.create(
            library: library,
            tenant: tenant,
            config: Array("{}".utf8),
            environment: environment,
            launch: .init(executable: executable, tasks: restarts)
        )
        let subprocessEvent = try await measureAsync(events / batch.count) { _ in _ = await subprocess.deliver(events: batch) } / Double(batch.count)
        let args = Array("{\"n\":\(events)}".utf8)
        let start = ContinuousClock.now
        _ = await inProcess.call(op: "fixture.kv", args: args)
        let inProcessKV = Double((ContinuousClock.now - start) / .nanoseconds(1)) / Double(events)
        let subprocessStart = ContinuousClock.now
        _ = await subprocess.call(op: "fixture.kv", args: args)
        let subprocessKV = Double((ContinuousClock.now - subprocessStart) / .nanoseconds(1)) / Double(events)
        await subprocess.destroy()
        await inProcess.destroy()
        restarts.finish()
        await pool
        return Report(
            directEvent: direct,
            inProcessEvent: inProcessEvent,
            subprocessEvent: subprocessEvent,
            inProcessKVRoundTrip: inProcessKV,
            subprocessKVRoundTrip: subprocessKV
        )
    }

    private static func measure(_ count: Int, _ body: (Int) -> Void) -> Double {
        for index in 0..<min(count, 1_000) { body(index) }
        let start = ContinuousClock.now
        for index in 0..<count { body(index) }
        return Double((ContinuousClock.now - start) / .nanoseconds(1)) / Double(count)
    }

    private static func measureAsync(_ count: Int, _ body: (Int) async throws -> Void) async throws -> Double {
        for index in 0..<min(count, 1_000) { try await body(index) }
        let start = ContinuousClock.now
        for index in 0..<count { try await body(index) }
        return Double((ContinuousClock.now - start) / .nanoseconds(1)) / Double(count)
    }
}
