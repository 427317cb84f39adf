import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardPluginHost

@Suite(.timeLimit(.minutes(5))) struct ManifestOpsTests {
    func manifest(_ fields: String) throws -> PluginManifest {
        try PluginManifest(json: Array(#"{"id":"p","version":"1","capabilities":["crm"]\#(fields)}"#.utf8))
    }

    /// A JSON array of `count` distinct op names.
    func ops(_ count: Int) -> String {
        "[" + (0..<count).map { "\"p.op\($0)\"" }.joined(separator: ",") + "]"
    }

    // Guards the bounded op labels fix: a manifest declares its ops, the only plugin ops that get a label.
    @Test func declaredOpsAreTaken() throws {
        #expect(try manifest(#","ops":["echo.ping"]"#).ops == ["echo.ping"])
        #expect(try manifest("").ops.isEmpty)
        #expect(try manifest(#","ops":\#(ops(64))"#).ops.count == 64)
    }

    // Guards the bound on label values a manifest can make: more than 64 ops, an empty op or an op
    // over 128 bytes is refused.
    @Test func tooManyOrEmptyOpsAreRefused() {
        let cases = [
            #","ops":\#(ops(65))"#,
            #","ops":[""]"#,
            #","ops":["echo.ping",""]"#,
            #","ops":["\#(String(repeating: "x", count: 129))"]"#,
        ]
        for fields in cases {
            #expect {
                try manifest(fields)
            } throws: { error in
                "\(error)".contains("\"ops\"")
            }
        }
        #expect(throws: ManifestError.self) { try manifest(#","ops":[1]"#) }
        #expect(throws: ManifestError.self) { try manifest(#","ops":"echo.ping""#) }
    }

    // Guards the metric label bound: a caller-chosen op became a label value of its own, so sending
    // arbitrary ops grew the metrics without limit; now only declared and host ops are labels.
    @Test func theMetricLabelIsADeclaredOrHostOpElseOther() throws {
        let plugin = try manifest(#","ops":["echo.ping"]"#)
        #expect(plugin.metricLabel(op: "echo.ping") == "echo.ping")
        for hostOp in ["crm.lookup_customer", "ticketing.create_ticket", "ticketing.sync", "inbound.receive", "stats.push", "auth.verify"] {
            #expect(plugin.metricLabel(op: hostOp) == hostOp)
        }
        for op in ["echo.pong", "", "ECHO.PING", "crm.lookup_customer2", UUID().uuidString] {
            #expect(plugin.metricLabel(op: op) == "other", "\(op)")
        }
        #expect(try manifest("").metricLabel(op: "echo.ping") == "other")
    }
}
