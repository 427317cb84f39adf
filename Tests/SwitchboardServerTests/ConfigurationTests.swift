import Foundation
import Testing

@testable import SwitchboardServer

@Suite(.timeLimit(.minutes(5))) struct ConfigurationTests {
    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-\(UUID().uuidString).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func shippedConfigurationFileLoadsAndMatchesTheDefaults() throws {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Config/switchboard.toml").path
        let configuration = try SwitchboardConfiguration.load(path: shipped, environment: [:])
        let defaults = SwitchboardConfiguration()
        #expect(configuration.server.port == defaults.server.port)
        #expect(configuration.server.bodyLimit == defaults.server.bodyLimit)
        #expect(configuration.database.path == defaults.database.path)
        #expect(configuration.database.synchronous == defaults.database.synchronous)
        // Each key is documented in its own section, set or commented out: `[webhooks]` then `breaker_threshold =`.
        var section = ""
        var documented: Set<String> = []
        for line in try String(contentsOfFile: shipped, encoding: .utf8).split(separator: "\n") {
            if let header = line.wholeMatch(of: /\[([a-z_]+)\]/) {
                section = String(header.1)
            } else if let key = line.prefixMatch(of: /(?:# )?([a-z_]+) =/) {
                documented.insert("\(section).\(key.1)")
            }
        }
        for setting in SwitchboardConfiguration.settings {
            #expect(documented.contains(setting.key), "Config/switchboard.toml does not document \(setting.key) in its section")
        }
    }

    @Test func fileThenEnvironmentOverrideDefaults() throws {
        let path = try write(
            """
            # comment
            [server]
            port = 9_090 # trailing comment
            host = "0.0.0.0"

            [database]
            path = 'var/db.sqlite'
            synchronous = "normal"
            """
        )
        let configuration = try SwitchboardConfiguration.load(
            path: path,
            environment: ["SWITCHBOARD_SERVER_PORT": "7000", "SWITCHBOARD_BOOTSTRAP_DEMO_TENANT": "false", "SWITCHBOARD_LOG_LEVEL": "debug"]
        )
        #expect(configuration.server.port == 7000)
        #expect(configuration.server.host == "0.0.0.0")
        #expect(configuration.database.path == "var/db.sqlite")
        #expect(configuration.database.synchronous == .normal)
        #expect(configuration.bootstrap.createsDemoTenant == false)
        #expect(configuration.logLevel == .debug)
    }

    @Test(arguments: [
        ("[server]\nport = \"x\"", "line 2"),
        ("[server]\nprot = 1", "unknown key 'server.prot'"),
        ("[server]\nport = 70000", "server.port"),
        ("[server\nport = 1", "line 1"),
        ("[database]\nsynchronous = \"off\"", "database.synchronous"),
        ("[server]\nport = 1\nport = 2", "set twice"),
        ("[log]\nlevel = loud", "line 2"),
    ])
    func badFilesAreRejectedWithTheLineOrKey(text: String, expected: String) throws {
        let path = try write(text)
        #expect {
            try SwitchboardConfiguration.load(path: path, environment: [:])
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func listsAreArraysInTheFileAndCommaSeparatedInTheEnvironment() throws {
        let path = try write(
            """
            [security]
            trusted_proxies = ["10.0.0.0/8", "::1"]
            [webhooks]
            retry_schedule_ms = [100, 2_000]
            [plugins]
            subprocess = ["crash"]
            """
        )
        let fromFile = try SwitchboardConfiguration.load(path: path, environment: [:])
        #expect(fromFile.security.trustedProxies.map(\.description) == ["10.0.0.0/8", "::1/128"])
        #expect(fromFile.webhooks.retrySchedule == [.milliseconds(100), .milliseconds(2_000)])
        #expect(fromFile.plugins.subprocessPlugins == ["crash"])
        let fromEnvironment = try SwitchboardConfiguration.load(
            path: nil,
            environment: ["SWITCHBOARD_SECURITY_TRUSTED_PROXIES": "10.0.0.0/8, ::1", "SWITCHBOARD_WEBHOOKS_RETRY_SCHEDULE_MS": "100,2000"]
        )
        #expect(fromEnvironment.security.trustedProxies == fromFile.security.trustedProxies)
        #expect(fromEnvironment.webhooks.retrySchedule == fromFile.webhooks.retrySchedule)
        for (text, expected) in [
            ("[security]\ntrusted_proxies = \"10.0.0.0/8\"", "must be an array of strings"),
            ("[security]\ntrusted_proxies = [\"10.0.0.300\"]", "'10.0.0.300' is not an address"),
            ("[webhooks]\nretry_schedule_ms = [-1]", "array of integers from 0"),
            ("[webhooks]\nretry_schedule_ms = []", "at least one pause"),
        ] {
            let path = try write(text)
            #expect {
                try SwitchboardConfiguration.load(path: path, environment: [:])
            } throws: { error in
                "\(error)".contains(expected)
            }
        }
    }

    @Test func anUnknownVariableStopsTheLoadNamingIt() {
        #expect {
            try SwitchboardConfiguration.load(path: nil, environment: ["SWITCHBOARD_SERVER_PORTT": "1", "HOME": "/root"])
        } throws: { error in
            "\(error)".contains("SWITCHBOARD_SERVER_PORTT: unknown setting")
        }
        #expect(throws: Never.self) { try SwitchboardConfiguration.load(path: nil, environment: ["SWITCHBOARD_CONFIG": "x", "SWITCHBOARDX": "1"]) }
    }

    @Test func badEnvironmentValuesNameTheVariable() {
        #expect {
            try SwitchboardConfiguration.load(path: nil, environment: ["SWITCHBOARD_SERVER_PORT": "eighty"])
        } throws: { error in
            "\(error)".contains("SWITCHBOARD_SERVER_PORT")
        }
    }

    @Test func missingFileIsAnError() {
        #expect(throws: ConfigurationError.self) { try SwitchboardConfiguration.load(path: "/nonexistent/switchboard.toml", environment: [:]) }
    }

    /// Found by the TOML fuzz target (Fuzz/TOML/regressions): a file with CRLF line endings was one
    /// line, since "\r\n" is a single Character that never equals "\n".
    @Test func crlfLineEndingsAreLines() throws {
        let document = try TOMLDocument(parsing: "[server]\r\nport = 8080\r\nhost = \"::1\"\r\n")
        #expect(document.values["server.port"]?.value == .integer(8080))
        #expect(document.values["server.host"]?.line == 3)
    }

    /// Found by the TOML fuzz target: 20,000 nested `[` overflowed the stack; nesting is bounded.
    @Test func deeplyNestedArraysAreRefusedNotAStackOverflow() throws {
        #expect(throws: TOMLDocument.ParseError.self) { try TOMLDocument(parsing: "a = " + String(repeating: "[", count: 20_000)) }
        let nested = "a = " + String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(try TOMLDocument(parsing: nested).values["a"] != nil)
    }
}
