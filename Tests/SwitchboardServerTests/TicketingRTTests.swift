import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import SwitchboardCore
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// A real Request Tracker 5 (Debian's request-tracker5 with rt5-db-sqlite and rt5-standalone) on
/// loopback, on a copy of the database the package set up (user root, password "password").
final class RequestTracker: @unchecked Sendable {
    // @unchecked: one test owns it; its state is set in init and by start/stop from that test.
    static let template = "/var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb"
    let port: Int
    let directory: String
    private var process: SpawnedProcess?

    init() throws {
        port = try freeLoopbackPort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-rt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(directory)/site.d", withIntermediateDirectories: true)
        guard FileManager.default.fileExists(atPath: Self.template) else {
            throw FixtureError(message: "no RT database at \(Self.template): install request-tracker5 rt5-db-sqlite rt5-standalone")
        }
        try FileManager.default.copyItem(atPath: Self.template, toPath: "\(directory)/rtdb")
        let config = """
            Set($rtname, 'switchboard-test');
            Set($Organization, 'switchboard-test');
            Set($DatabaseType, 'SQLite');
            Set($DatabaseName, '\(directory)/rtdb');
            Set($WebPath, '');
            Set($WebDomain, '127.0.0.1');
            Set($WebPort, \(port));
            Set($WebBaseURL, 'http://127.0.0.1:\(port)');
            Set($LogToSTDERR, 'error');
            Set($LogToSyslog, undef);
            1;

            """
        try config.write(toFile: "\(directory)/site.pm", atomically: true, encoding: .utf8)
    }

    /// Starts `rt-server` and waits (at most 60 s) until REST2 answers.
    func start() async throws {
        process = try startDaemon(
            "/usr/share/request-tracker5/libexec/rt-server", ["--port", "\(port)"],
            environment: ["RT_SITE_CONFIG": "\(directory)/site.pm", "RT_SITE_CONFIG_DIR": "\(directory)/site.d", "PATH": "/usr/bin:/bin"],
            directory: directory
        )
        try await waitForDaemon("rt-server", seconds: 60) { (try? await call(.GET, "/REST/2.0/queues/all"))?.status == .ok }
    }

    func stop() { stopDaemon(process) }

    /// A REST2 request as root.
    func call(_ method: HTTPMethod, _ path: String, json: JSONValue? = nil) async throws -> (status: HTTPResponseStatus, json: JSONValue) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "Authorization", value: "Basic " + Data("root:password".utf8).base64EncodedString())
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(json)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (response.status, (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body))) ?? .null)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Tickets through the ticketing-rt plugin (Swift, loaded with dlopen) against a real RT 5.
@Suite(.timeLimit(.minutes(5))) struct TicketingRTTests {
    @Test func ticketsReachRTOnceItIsUpAndStatusChangesThereComeBack() async throws {
        let server = try await TestServer.make {
            $0.plugins.directory = try PluginFixtures.directory(["ticketing-rt"])
            $0.plugins.allowsPrivateNetworks = true
            $0.plugins.ticketingSyncSeconds = 1
            $0.webhooks.allowsPrivateNetworks = true
            $0.webhooks.allowsHTTP = true
            $0.metrics.token = "scrape"
        }
        let rt = try RequestTracker()
        let receiver = WebhookReceiver()
        try await receiver.run { hook in
            try await server.run { client in
                let key = server.tenantA.key
                let port = try #require(client.port)
                let noCredentials = try await client.call(
                    .put, "/api/v1/integrations/ticketing-rt", key: key, json: ["enabled": true, "config": ["url": .string("http://127.0.0.1:\(rt.port)")]]
                )
                #expect(noCredentials.status == .unprocessableContent)
                #expect(noCredentials["code"]?.string == "plugin_refused_config")
                let config: JSONValue = ["url": .string("http://127.0.0.1:\(rt.port)"), "username": "root", "password": "password", "queue": "General"]
                #expect(try await client.call(.put, "/api/v1/integrations/ticketing-rt", key: key, json: ["enabled": true, "config": config]).status == .ok)
                let webhook = try await client.call(.post, "/api/v1/webhooks", key: key, json: ["url": .string(hook), "events": ["ticket.*"]])
                #expect(webhook.status == .created)

                // RT is down: the ticket is accepted here and waits for it.
                let (conversation, _, _) = try await Fixtures(client: client, key: key).conversation()
                let created = try await client.call(
                    .post, "/api/v1/tickets", key: key,
                    json: ["title": "Printer on fire", "content": "Since this morning.", "priority": "urgent", "conversation_id": .string(conversation)]
                )
                #expect(created.status == .created)
                let ticket = try #require(created["ticket_id"]?.string)
                // The host's client keeps trying to connect until the plugin's 10 s HTTP deadline.
                try await eventually(limit: .seconds(30)) {
                    try await client.call(.get, "/api/v1/integrations/ticketing-rt", key: key)["health"]?["status"]?.string == "unavailable"
                }
                #expect(try await client.call(.get, "/api/v1/tickets/\(ticket)", key: key)["external"] == .null)
                #expect(try await client.call(.get, "/api/v1/conversations/\(conversation)", key: key).status == .ok, "chat goes on")

                // RT comes up: the queued ticket is created there once.
                try await rt.start()
                var external: JSONValue = .null
                try await eventually(limit: .seconds(60)) {
                    external = try await client.call(.get, "/api/v1/tickets/\(ticket)", key: key)["external"] ?? .null
                    return external != .null
                }
                #expect(external["system"]?.string == "ticketing-rt")
                let rtID = try #require(external["id"]?.string)
                let inRT = try await rt.call(.GET, "/REST/2.0/ticket/\(rtID)")
                #expect(inRT.json["Subject"]?.string == "Printer on fire")
                #expect(inRT.json["Priority"]?.string == "100")
                #expect(inRT.json["Status"]?.string == "new")
                #expect(try await rt.call(.GET, "/REST/2.0/tickets?query=id>0").json["total"]?.int == 1, "created once")

                // Resolved in RT → ticket.status_changed on the socket and the webhook.
                try await withSocket(port: port, query: "token=\(key)") { socket in
                    #expect(try await socket.next(type: "ready") != nil)
                    #expect(try await rt.call(.PUT, "/REST/2.0/ticket/\(rtID)", json: ["Status": "resolved"]).status == .ok)
                    var frame: JSONValue?
                    repeat {
                        frame = try await socket.next(type: "event")
                    } while frame != nil && frame?["action"]?.string != "ticket.status_changed"
                    #expect(frame?["data"]?["ticket_id"]?.string == ticket)
                    #expect(frame?["data"]?["status"]?.string == "resolved")
                    #expect(frame?["data"]?["previous_status"]?.string == "new")
                    #expect(frame?["seq"]?.int != nil)
                }
                try await eventually(limit: .seconds(20)) {
                    await receiver.received.contains { $0.json["event"]?.string == "ticket.status_changed" }
                }
                let delivered = await receiver.received.first { $0.json["event"]?.string == "ticket.status_changed" }
                #expect(delivered?.json["data"]?["status"]?.string == "resolved")

                // A status set here is not undone by syncs that see nothing new in RT.
                let syncs = try await client.pluginCalls("ticketing-rt", op: "ticketing.sync", metricsToken: "scrape")
                #expect(try await client.call(.put, "/api/v1/tickets/\(ticket)", key: key, json: ["status": "open"]).status == .ok)
                // Two more rounds: at least one began after the change.
                try await eventually(limit: .seconds(30)) { try await client.pluginCalls("ticketing-rt", op: "ticketing.sync", metricsToken: "scrape") >= syncs + 2 }
                #expect(try await client.call(.get, "/api/v1/tickets/\(ticket)", key: key)["status"]?.string == "open")
                // An RT scrip may post a change to the inbound route instead; the plugin checks its token.
                let token = "inbound-secret-0123456789"
                var withInbound = config
                if case .object(var fields) = withInbound {
                    fields["inbound_token"] = .string(token)
                    fields["password"] = "********"
                    withInbound = .object(fields)
                }
                let inbound = "/api/v1/integrations/ticketing-rt/inbound/\(server.tenantA.tenantID)"
                let change = #"{"ticket": \#(rtID), "status": "stalled", "owner": "root"}"#
                #expect(try await client.call(.post, inbound, key: nil, body: change).status == .notFound, "inbound is off without a token")
                #expect(try await client.call(.put, "/api/v1/integrations/ticketing-rt", key: key, json: ["enabled": true, "config": withInbound]).status == .ok)
                #expect(try await client.call(.post, inbound, key: nil, body: change).status == .unauthorized)
                #expect(try await client.call(.post, inbound, key: nil, body: change, headers: [.authorization: "Bearer wrong-token-000000000"]).status == .unauthorized)
                let malformed = try await client.call(.post, inbound, key: nil, body: #"{"ticket": "x"}"#, headers: [.authorization: "Bearer \(token)"])
                #expect(malformed.status == .unprocessableContent)
                #expect(malformed["code"]?.string == "inbound_invalid")
                let elsewhere = "/api/v1/integrations/ticketing-rt/inbound/\(server.tenantB.tenantID)"
                #expect(try await client.call(.post, elsewhere, key: nil, body: change, headers: [.authorization: "Bearer \(token)"]).status == .notFound)
                // RT holds what the scrip reports, so a timed sync that runs first applies the same change.
                #expect(try await rt.call(.PUT, "/REST/2.0/ticket/\(rtID)", json: ["Status": "stalled", "Owner": "root"]).status == .ok)
                let accepted = try await client.call(.post, inbound, key: nil, body: change, headers: [.authorization: "Bearer \(token)"])
                #expect(accepted.status == .ok)
                #expect(accepted["accepted"] == .bool(true))
                let stalled = try await client.call(.get, "/api/v1/tickets/\(ticket)", key: key)
                #expect(stalled["status"]?.string == "pending")
                #expect(stalled["handler"]?.string == "root")
                #expect(stalled["external"]?["status"]?.string == "stalled")

                // A ticket for a closed conversation is refused before anything reaches RT.
                _ = try await client.call(.delete, "/api/v1/conversations/\(conversation)", key: key)
                let late = try await client.call(.post, "/api/v1/tickets", key: key, json: ["title": "Late", "content": "x", "conversation_id": .string(conversation)])
                #expect(late.status == .conflict)
            }
        }
    }
}
