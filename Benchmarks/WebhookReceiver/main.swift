// sb-bench-receiver: the fast local webhook receiver of scripts/bench. POST /hook answers 204 and counts;
// GET /count tells how many arrived. Not part of the server.
import Hummingbird
import Synchronization

let port = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 18_081
let received = Atomic<Int>(0)
let router = Router()
router.post("/hook") { request, _ -> HTTPResponse.Status in
    _ = try await request.body.collect(upTo: 1 << 20)
    received.add(1, ordering: .relaxed)
    return .noContent
}
router.get("/count") { _, _ -> String in
    String(received.load(ordering: .relaxed))
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
