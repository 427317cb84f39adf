// sb-bench-client: the ceiling of scripts/bench's webhook figure. It POSTs a webhook-sized body with
// webhook-style headers through async-http-client, configured as the server's outgoing client, with a
// fixed number of requests in flight, and prints requests/s. No store, no signing: what the HTTP client
// alone costs on this machine. Not part of the server.
import AsyncHTTPClient
import Foundation
import NIOCore

let arguments = CommandLine.arguments
guard arguments.count == 4, let total = Int(arguments[2]), let concurrency = Int(arguments[3]), total > 0, concurrency > 0 else {
    FileHandle.standardError.write(Data("usage: sb-bench-client URL REQUESTS CONCURRENCY\n".utf8))
    exit(2)
}
let url = arguments[1]
var configuration = HTTPClient.Configuration()
configuration.redirectConfiguration = .disallow
configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = concurrency
let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
let body = ByteBuffer(string: #"{"id":"01a22a0c-e930-71e7-a6ab-547efb0ce8b1","event":"message.received","version":1,"tenant_id":"01a22a0c-e930-71e7-a6ab-547efb0ce8b2","seq":12345,"timestamp":1795581362,"data":{"message_id":"01a22a0c-e930-71e7-a6ab-547efb0ce8b3","conversation_id":"01a22a0c-e930-71e7-a6ab-547efb0ce8b4","content":"How long does shipping take to Lisbon?"}}"#)

func post(_ number: Int) async -> Bool {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "content-type", value: "application/json")
    request.headers.add(name: "user-agent", value: "switchboard-webhooks/1")
    request.headers.add(name: "webhook-id", value: "msg_\(number)")
    request.headers.add(name: "webhook-timestamp", value: "1795581362")
    request.headers.add(name: "webhook-signature", value: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=")
    request.body = .bytes(body)
    guard let response = try? await client.execute(request, timeout: .seconds(10)) else { return false }
    _ = try? await response.body.collect(upTo: 1_024)
    return (200..<300).contains(response.status.code)
}

let start = ContinuousClock.now
let succeeded = await withTaskGroup(of: Int.self) { group in
    for worker in 0..<concurrency {
        group.addTask {
            var succeeded = 0
            for number in stride(from: worker, to: total, by: concurrency) where await post(number) { succeeded += 1 }
            return succeeded
        }
    }
    var succeeded = 0
    for await count in group { succeeded += count }
    return succeeded
}
let seconds = (ContinuousClock.now - start) / .seconds(1)
print("\(succeeded) \(Int(Double(succeeded) / seconds))")
try await client.shutdown().get()
