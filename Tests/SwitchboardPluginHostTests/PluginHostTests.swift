import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardPluginHost

@Suite(.timeLimit(.minutes(5))) struct ConfigSchemaTests {
    func schema(_ json: String) throws -> ConfigSchema {
        try ConfigSchema(JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)))
    }

    func value(_ json: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
    }

    @Test func schemasThatAreNotValidOrUseUnsupportedKeywordsAreRefused() throws {
        let cases = [
            (#"{"type":"array"}"#, "\"type\": \"object\""),
            (#"{"type":"object","properties":{"a":{"type":"strin"}}}"#, "config_schema.properties.a.type must be one of"),
            (#"{"type":"object","required":"a"}"#, "config_schema.required must be an array of strings"),
            (#"{"type":"object","properties":{"a":{"pattern":"("}}}"#, "a valid regular expression"),
            (#"{"type":"object","properties":{"a":{"minLength":-1}}}"#, "a non-negative integer"),
            (#"{"type":"object","oneOf":[]}"#, "the keyword 'oneOf' is not supported"),
        ]
        for (json, message) in cases {
            #expect {
                try schema(json)
            } throws: { error in
                "\(error)".contains(message)
            }
        }
    }

    @Test func valuesAreValidatedWithTheFailingFieldNamed() throws {
        let schema = try schema(
            #"""
            {"type":"object","required":["url"],"additionalProperties":false,"properties":{
              "url":{"type":"string","pattern":"^https://"},
              "retries":{"type":"integer","minimum":0,"maximum":5},
              "mode":{"enum":["a","b"]},
              "tags":{"type":"array","items":{"type":"string","maxLength":3},"maxItems":2},
              "auth":{"type":"object","properties":{"password":{"type":"string","writeOnly":true}}}}}
            """#
        )
        #expect(schema.secretPaths == [["auth", "password"]])
        #expect(schema.violation(of: try value(#"{"url":"https://x","retries":2,"tags":["a"],"auth":{"password":"p"}}"#)) == nil)
        let cases = [
            (#"{}"#, "config.url"),
            (#"{"url":"http://x"}"#, "config.url"),
            (#"{"url":"https://x","retries":1.5}"#, "config.retries"),
            (#"{"url":"https://x","retries":6}"#, "config.retries"),
            (#"{"url":"https://x","mode":"c"}"#, "config.mode"),
            (#"{"url":"https://x","tags":["long"]}"#, "config.tags.0"),
            (#"{"url":"https://x","tags":["a","b","c"]}"#, "config.tags"),
            (#"{"url":"https://x","other":1}"#, "config.other"),
        ]
        for (json, field) in cases {
            #expect(schema.violation(of: try value(json))?.field == field, "\(json)")
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct PluginManifestTests {
    func manifest(_ fields: String) throws -> PluginManifest {
        try PluginManifest(json: Array(#"{"id":"p","version":"1","capabilities":["crm"]\#(fields)}"#.utf8))
    }

    @Test func eventPatternsMatchExactPrefixAndAll() throws {
        let patterns = try manifest(#","events":["message.*","agent.status_changed"]"#)
        #expect(patterns.wants("message.received"))
        #expect(patterns.wants("agent.status_changed"))
        #expect(!patterns.wants("agent.created"))
        #expect(!patterns.wants("messages.x"))
        #expect(try manifest(#","events":["*"]"#).wants("plugin.x.y"))
        #expect(try manifest("").callTimeout == .seconds(5))
    }

    @Test func malformedManifestsAreRefusedWithTheReason() {
        let cases = [
            (#"{"id":"P","version":"1","capabilities":["crm"]}"#, "\"id\""),
            (#"{"id":"p","capabilities":["crm"]}"#, "\"version\""),
            (#"{"id":"p","version":"1","capabilities":[]}"#, "at least one capability"),
            (#"{"id":"p","version":"1","capabilities":["chat"]}"#, "capability 'chat' is unknown"),
            (#"{"id":"p","version":"1","capabilities":["crm"],"services":["disk"]}"#, "service 'disk' is unknown"),
            (#"{"id":"p","version":"1","capabilities":["crm"],"events":["Message"]}"#, "event pattern 'Message'"),
            (#"{"id":"p","version":"1","capabilities":["crm"],"call_timeout_ms":0}"#, "call_timeout_ms"),
            (#"{"id":"p","version":"1","capabilities":["crm"],"colour":"red"}"#, "field 'colour' is unknown"),
        ]
        for (json, message) in cases {
            #expect {
                try PluginManifest(json: Array(json.utf8))
            } throws: { error in
                "\(error)".contains(message)
            }
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct CircuitBreakerTests {
    @Test func opensAfterTheThresholdProbesAfterTheCooldownAndClosesOnSuccess() {
        var breaker = CircuitBreaker(threshold: 3, cooldown: .seconds(10))
        let start = ContinuousClock.now
        func admits(after seconds: Int) -> Bool { breaker.admits(at: start + .seconds(seconds)) }
        breaker.recordFailure(at: start)
        breaker.recordFailure(at: start)
        let closedAdmits = admits(after: 0)
        #expect(closedAdmits)
        breaker.recordFailure(at: start)
        #expect(breaker.state.name == "open")
        let earlyAdmits = admits(after: 9)
        #expect(!earlyAdmits)
        let probeAdmits = admits(after: 10)
        #expect(probeAdmits)
        #expect(breaker.state == .halfOpen)
        let secondProbe = admits(after: 10)
        #expect(!secondProbe)
        breaker.recordFailure(at: start + .seconds(11))
        #expect(breaker.reopensAt == start + .seconds(21))
        let reopenedAdmits = admits(after: 21)
        #expect(reopenedAdmits)
        breaker.recordSuccess()
        #expect(breaker.state == .closed)
        #expect(breaker.consecutiveFailures == 0)
    }
}

@Suite(.timeLimit(.minutes(5))) struct SecretBoxTests {
    let key = Data((0..<32).map { UInt8($0) }).base64EncodedString()

    @Test func sealedSecretsOpenOnlyWithTheirKeyAndScope() throws {
        let box = try SecretBox(base64Key: key)
        let config: JSONValue = .object(["url": .string("https://crm"), "auth": .object(["password": .string("s3cret")])])
        let sealed = try box.seal(config, paths: [["auth", "password"]], scope: "t/p")
        #expect(!"\(sealed)".contains("s3cret"))
        #expect(SecretBox.containsSealed(sealed))
        #expect(try box.open(sealed, paths: [["auth", "password"]], scope: "t/p") == config)
        #expect(throws: SecretBoxError.self) { try box.open(sealed, paths: [["auth", "password"]], scope: "other/p") }
        let otherKey = try SecretBox(base64Key: Data(repeating: 7, count: 32).base64EncodedString())
        #expect(throws: SecretBoxError.self) { try otherKey.open(sealed, paths: [["auth", "password"]], scope: "t/p") }
        #expect(throws: SecretBoxError.self) { try SecretBox(base64Key: nil).seal(config, paths: [["auth", "password"]], scope: "t/p") }
        #expect(throws: SecretBoxError.self) { try SecretBox(base64Key: "c2hvcnQ=") }
        #expect(SecretBox.masked(sealed, paths: [["auth", "password"]]).value(at: ["auth", "password"]) == .string(SecretBox.mask))
    }
}

@Suite(.timeLimit(.minutes(5))) struct PluginFrameTests {
    @Test func framesRoundTripThroughAPipe() throws {
        var descriptors: [Int32] = [0, 0]
        #expect(pipe(&descriptors) == 0)
        let channel = FrameChannel(input: descriptors[0], output: descriptors[1])
        let frame = PluginFrame(kind: .call, id: 42, code: -7, parts: [Array("op".utf8), [], Array(repeating: 9, count: 30_000)])
        #expect(channel.send(frame))
        #expect(channel.receive() == frame)
        close(descriptors[1])
        #expect(channel.receive() == nil)
        close(descriptors[0])
        #expect(PluginFrame(body: [1, 2, 3]) == nil)
    }
}

@Suite(.timeLimit(.minutes(5))) struct OutboundAddressPolicyTests {
    @Test func privateAndReservedAddressesAreRefusedUnlessAllowed() {
        let refused: [[UInt8]] = [
            [127, 0, 0, 1], [10, 1, 2, 3], [172, 16, 0, 1], [192, 168, 1, 1], [169, 254, 169, 254], [100, 64, 0, 1], [0, 0, 0, 0],
            [224, 0, 0, 1], Array(repeating: 0, count: 15) + [1], [0xFE, 0x80] + Array(repeating: 0, count: 14),
            [0xFD] + Array(repeating: 0, count: 15), Array(repeating: 0, count: 10) + [0xFF, 0xFF, 127, 0, 0, 1],
        ]
        for address in refused { #expect(!OutboundAddressPolicy().permits(address), "\(address)") }
        #expect(OutboundAddressPolicy().permits([93, 184, 216, 34]))
        #expect(OutboundAddressPolicy().permits([0x26, 0x06, 0x28, 0x00] + Array(repeating: 1, count: 12)))
        #expect(OutboundAddressPolicy(allowsPrivateNetworks: true).permits([127, 0, 0, 1]))
    }

    @Test func literalAddressesAreCheckedWithoutALookupAndOtherSpellingsAreResolved() async {
        #expect(OutboundAddressPolicy.literal("127.0.0.1") == [127, 0, 0, 1])
        #expect(OutboundAddressPolicy.literal("[::1]") == Array(repeating: 0, count: 15) + [1])
        #expect(OutboundAddressPolicy.literal("::ffff:10.0.0.1") == Array(repeating: 0, count: 10) + [0xFF, 0xFF, 10, 0, 0, 1])
        #expect(OutboundAddressPolicy.literal("localhost") == nil)
        // Short and numeric spellings are not literals here; the resolver reads them and the guard still refuses.
        #expect(OutboundAddressPolicy.literal("127.1") == nil)
        for host in ["127.0.0.1", "[::1]", "169.254.169.254", "127.1", "2130706433", "localhost"] {
            #expect(await OutboundAddressPolicy().check(host: host) == .refused, "\(host)")
        }
        #expect(await OutboundAddressPolicy().check(host: "93.184.216.34") == .permitted(address: [93, 184, 216, 34]))
    }
}

@Suite(.timeLimit(.minutes(5))) struct PluginScaffoldTests {
    @Test func theEmbeddedHeadersAreTheABIHeaderAndTheJSONHelper() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let include = root.appendingPathComponent("Sources/CSwitchboardPlugin/include")
        #expect(PluginScaffold.header == (try String(contentsOf: include.appendingPathComponent("switchboard_plugin.h"), encoding: .utf8)), "run python3 scripts/embed-header.py")
        #expect(PluginScaffold.jsonHeader == (try String(contentsOf: include.appendingPathComponent("switchboard_json.h"), encoding: .utf8)), "run python3 scripts/embed-header.py")
    }

    @Test func aCScaffoldBuildsAndLoads() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-scaffold-\(UUID().uuidString)").path
        let scaffold = try PluginScaffold(id: "my-crm", language: .c)
        try scaffold.write(to: parent + "/my-crm")
        let make = SpawnedProcess()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        make.arguments = ["-s", "-C", parent + "/my-crm"]
        let output = Pipe()
        make.standardOutput = output
        make.standardError = output
        try make.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        make.waitUntilExit()
        #expect(make.terminationStatus == 0)
        // -Wall -Wextra -Wpedantic -Wconversion and -fvisibility=hidden: no warning, and the entry points still load.
        #expect(!printed.contains("warning"), "\(printed)")
        let manifest = try PluginCatalog.readManifest(path: parent + "/my-crm/" + scaffold.libraryPath)
        #expect(manifest.id == "my-crm")
        #expect(throws: ManifestError.self) { try PluginScaffold(id: "My CRM", language: .swift) }
    }
}
