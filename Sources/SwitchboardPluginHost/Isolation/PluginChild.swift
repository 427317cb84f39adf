import Dispatch
import Foundation
import Logging
import Synchronization
import SwitchboardCore

/// The `switchboard plugin-host PATH` process: loads one plugin and runs one instance of it for the
/// server, which talks to it in frames over stdin and stdout. A crash or hang here costs the server
/// only this process.
public enum PluginChild {
    /// Serves frames until stdin closes or a destroy frame arrives.
    /// - Returns: the exit status (0 after a clean destroy or end of input, 3 when the plugin cannot load).
    public static func run(path: String, logger: Logger) async -> Int32 {
        // Frames own the original stdout; anything the plugin prints goes to stderr instead.
        let framesOut = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        let library: PluginLibrary
        do {
            guard let loaded = try PluginLibrary.open(path: path, initialize: true, host: .shared).1 else { return 3 }
            library = loaded
        } catch {
            logger.error("Plugin host cannot load the plugin", metadata: ["sb.path": .string(path), "sb.reason": "\(error)"])
            return 3
        }
        let channel = FrameChannel(input: STDIN_FILENO, output: framesOut)
        let services = ForwardingPluginServices(channel: channel)
        let environment = PluginEnvironment(services: services, calls: services.calls, logger: logger)
        // The hooks' invocations run in this pool; each ends by its call timeout at the latest.
        let invocations = TaskPool()
        async let pool: Void = invocations.run()
        let server = ChildServer(library: library, channel: channel, environment: environment, invocations: invocations)
        let frames = AsyncStream<PluginFrame> { continuation in
            Thread.detachNewThread {
                while let frame = channel.receive() {
                    if frame.kind == .serviceReply {
                        services.answer(frame)
                    } else {
                        continuation.yield(frame)
                    }
                }
                continuation.finish()
            }
        }
        for await frame in frames {
            if await server.handle(frame) == false { break }
        }
        await server.shutdown()
        invocations.finish()
        await pool
        return 0
    }
}

/// The child's one instance and the hooks the server asks for.
private actor ChildServer {
    let library: PluginLibrary
    let channel: FrameChannel
    let environment: PluginEnvironment
    let invocations: TaskPool
    var instance: PluginInstance?

    init(library: PluginLibrary, channel: FrameChannel, environment: PluginEnvironment, invocations: TaskPool) {
        self.library = library
        self.channel = channel
        self.environment = environment
        self.invocations = invocations
    }

    /// Starts the work a frame asks for; false after destroy.
    func handle(_ frame: PluginFrame) async -> Bool {
        switch frame.kind {
        case .create:
            do {
                instance = try await PluginInstance.create(library: library, tenant: frame.text(0), config: frame.part(1), environment: environment)
                reply(frame.id, CallOutcome(status: .ok))
            } catch let error as PluginCallError {
                reply(frame.id, CallOutcome(status: error.status, body: Array(error.message.utf8)))
            } catch {
                reply(frame.id, CallOutcome(status: .internal))
            }
        case .destroy:
            await shutdown()
            reply(frame.id, CallOutcome(status: .ok))
            return false
        default:
            guard let instance else {
                reply(frame.id, CallOutcome(status: .unavailable, body: Array("no instance".utf8)))
                return true
            }
            let channel = channel
            invocations.start {
                let outcome: CallOutcome
                switch frame.kind {
                case .reconfigure:
                    do {
                        outcome = CallOutcome(status: try await instance.reconfigure(config: frame.part(0)) ? .ok : .unsupported)
                    } catch let error as PluginCallError {
                        outcome = CallOutcome(status: error.status, body: Array(error.message.utf8))
                    } catch {
                        outcome = CallOutcome(status: .internal)
                    }
                case .events:
                    let id = frame.id
                    _ = await instance.deliver(events: frame.parts) { progress in
                        channel.send(PluginFrame(kind: .progress, id: id, code: Int64(progress.status.code)))
                    }
                    outcome = CallOutcome(status: .ok)
                case .call: outcome = await instance.call(op: frame.text(0), args: frame.part(1))
                case .health: outcome = await instance.health()
                default: outcome = CallOutcome(status: .unsupported)
                }
                channel.send(PluginFrame(kind: .result, id: frame.id, code: Int64(outcome.status.code), parts: [outcome.body]))
            }
        }
        return true
    }

    func shutdown() async {
        await instance?.destroy()
        instance = nil
    }

    private func reply(_ id: UInt64, _ outcome: CallOutcome) {
        channel.send(PluginFrame(kind: .result, id: id, code: Int64(outcome.status.code), parts: [outcome.body]))
    }
}

/// Host services of the child: each request goes to the server, which checks and performs it with its
/// own services for this instance, and the plugin thread waits for the answer.
final class ForwardingPluginServices: PluginServices {
    let channel: FrameChannel
    let calls = CallRegistry()
    // Guards the next request id and the callbacks waiting for answers.
    private let waiting = Mutex<(next: UInt64, replies: [UInt64: @Sendable (PluginFrame) -> Void])>((1, [:]))

    init(channel: FrameChannel) {
        self.channel = channel
    }

    /// Hands a service reply to its waiter.
    func answer(_ frame: PluginFrame) {
        let reply = waiting.withLock { $0.replies.removeValue(forKey: frame.id) }
        reply?(frame)
    }

    /// Sends a request; `reply` gets the answer (a `.unavailable` one when the server is gone).
    private func request(_ service: PluginFrame.ServiceKind, _ parts: [[UInt8]], reply: (@Sendable (PluginFrame) -> Void)?) {
        let id = waiting.withLock { state in
            defer { state.next += 1 }
            if let reply { state.replies[state.next] = reply }
            return state.next
        }
        if !channel.send(PluginFrame(kind: .service, id: id, code: service.rawValue, parts: parts)) {
            answer(PluginFrame(kind: .serviceReply, id: id, code: Int64(PluginStatus.unavailable.code)))
        }
    }

    /// Sends a request and blocks the calling plugin thread for the answer.
    private func ask(_ service: PluginFrame.ServiceKind, _ parts: [[UInt8]]) -> PluginFrame {
        let semaphore = DispatchSemaphore(value: 0)
        let box = FrameBox()
        request(service, parts) { frame in
            box.frame = frame
            semaphore.signal()
        }
        semaphore.wait()
        return box.frame!
    }

    func log(_ context: HostContext, level: Logger.Level, message: String) {
        request(.log, [Array(level.rawValue.utf8), Array(message.utf8)], reply: nil)
    }

    func kvGet(_ context: HostContext, key: String) -> (PluginStatus, PluginValue?) {
        let answer = ask(.kvGet, [Array(key.utf8)])
        let status = PluginStatus(code: answer.code)
        return (status, status == .ok ? PluginValue(bytes: answer.part(0), version: answer.number(1)) : nil)
    }

    func kvPut(_ context: HostContext, key: String, bytes: [UInt8], expected: ExpectedVersion) -> (PluginStatus, UInt64) {
        let answer = ask(.kvPut, [Array(key.utf8), bytes, Array(littleEndian: expected.raw)])
        return (PluginStatus(code: answer.code), answer.number(0))
    }

    func kvDelete(_ context: HostContext, key: String, expected: ExpectedVersion) -> PluginStatus {
        PluginStatus(code: ask(.kvDelete, [Array(key.utf8), Array(littleEndian: expected.raw)]).code)
    }

    func emit(_ context: HostContext, name: String, data: [UInt8]) -> PluginStatus {
        PluginStatus(code: ask(.emit, [Array(name.utf8), data]).code)
    }

    func http(_ context: HostContext, _ request: PluginHTTPRequest, reply: @escaping @Sendable (PluginHTTPClient.Outcome) -> Void) -> PluginStatus {
        let parts = [Array(request.method.utf8), Array(request.url.utf8), request.headers, request.body, Array(littleEndian: request.timeoutMilliseconds)]
        self.request(.http, parts) { frame in
            var outcome = PluginHTTPClient.Outcome(status: PluginStatus(code: frame.code), code: Int(frame.number(0)), body: frame.part(2))
            if case .object(let fields)? = try? JSONValue(parsing: frame.part(1)) {
                for case (let name, .string(let value)) in fields { outcome.headers[name] = value }
            }
            reply(outcome)
        }
        return .pending
    }

    func metric(_ context: HostContext, name: String, value: Double, isHistogram: Bool) {
        request(.metric, [Array(name.utf8), Array(littleEndian: value.bitPattern), [isHistogram ? 1 : 0]], reply: nil)
    }

    func complete(_ context: HostContext, callID: UInt64, _ outcome: CallOutcome) {
        calls.finish(callID, outcome, owner: ObjectIdentifier(context))
    }
}

private final class FrameBox: @unchecked Sendable {
    // @unchecked: written once before the semaphore signals, read once after the wait.
    var frame: PluginFrame?
}
