import Foundation
import Testing

@testable import SwitchboardCore

/// The raw JSON number texts a hostile client may put in a numeric field, with the integer each
/// stands for exactly, or nil when no `Int64` holds it exactly.
private let hostileNumbers: [(text: String, exact: Int64?)] = [
    ("1e300", nil),
    ("-1e19", nil),
    ("1e-300", nil),
    ("9.3e18", nil),
    ("-0", 0),
    ("1.5", nil),
    // An integer text is read exactly up to Int64's bounds; one past them is a Double, which no Int64 holds.
    ("9223372036854775807", Int64.max),
    ("9223372036854775808", nil),
    ("-9223372036854775808", Int64.min),
    ("-9223372036854775809", nil),
]

@Suite(.timeLimit(.minutes(1))) struct ClientFrameNumberTests {
    /// A frame of every type whose `id` is the number text `n`, written as raw text so the exact text
    /// reaches the parser, with what the frame asks for when the id is taken.
    static func framesWithID(_ n: String) -> [(text: String, command: ClientFrame.Command)] {
        [
            (#"{"type":"ping","id":\#(n)}"#, .ping),
            (
                #"{"type":"message","action":"send","id":\#(n),"data":{"from":"v1","content":"hi"}}"#,
                .sendMessage(ClientFrame.Message(conversationID: nil, from: "v1", to: nil, content: "hi", timestamp: nil))
            ),
            (#"{"type":"presence","id":\#(n),"data":{"status":"away"}}"#, .setStatus(.away)),
            (#"{"type":"event","action":"status_change","id":\#(n),"data":{"status":"busy"}}"#, .setStatus(.busy)),
            (#"{"type":"subscribe","id":\#(n),"since":0}"#, .subscribe(since: 0)),
        ]
    }

    /// The error of a refused frame, or nil when it was taken.
    func refusal(_ frame: ClientFrame) -> SwitchboardError? {
        if case .failure(let error) = frame.command { error } else { nil }
    }

    // Guards the no-trap fix: `since` was converted with `Int64(double)`, which traps on 1e300, -1e19,
    // 9.3e18 and 2^63; now it is taken only when exact and non-negative, else refused naming `since`.
    @Test func sinceIsExactOrRefusedNamingTheField() {
        for (text, exact) in hostileNumbers {
            let frame = ClientFrame(parsing: #"{"type":"subscribe","since":\#(text)}"#)
            if let exact, exact >= 0 {
                #expect(frame.command == .success(.subscribe(since: exact)), "since \(text)")
            } else {
                #expect(refusal(frame)?.code == "invalid_field", "since \(text)")
                #expect(refusal(frame)?.field == "since", "since \(text)")
            }
        }
        #expect(ClientFrame(parsing: #"{"type":"subscribe","since":0}"#).command == .success(.subscribe(since: 0)))
        #expect(refusal(ClientFrame(parsing: #"{"type":"subscribe","since":-1}"#))?.field == "since")
        #expect(ClientFrame(parsing: #"{"type":"subscribe","since":9007199254740992}"#).command == .success(.subscribe(since: 9_007_199_254_740_992)))
    }

    // Guards the no-trap fix for ids: a numeric `id` of any frame type became an idempotency key through
    // `Int64(double)`; now it is taken only when exact (echoed, and its decimal is the client id), else
    // the frame is refused naming `id`.
    @Test func everyFrameTypesIDIsExactOrRefusedNamingTheField() {
        for (text, exact) in hostileNumbers {
            for (frameText, command) in Self.framesWithID(text) {
                let frame = ClientFrame(parsing: frameText)
                if let exact {
                    #expect(frame.command == .success(command), "\(frameText)")
                    #expect(frame.id.integerValue == exact, "\(frameText)")
                    #expect(frame.clientID == String(exact), "\(frameText)")
                } else {
                    #expect(refusal(frame)?.code == "invalid_field", "\(frameText)")
                    #expect(refusal(frame)?.field == "id", "\(frameText)")
                    #expect(frame.clientID == nil, "\(frameText)")
                }
            }
        }
        // A string id is taken as it is.
        #expect(ClientFrame(parsing: #"{"type":"ping","id":"1e300"}"#).clientID == "1e300")
    }

    // Guards the no-trap fix for a sent message's `data.timestamp`: taken only when exact (its range is
    // the message rules' business), else refused naming `data.timestamp`.
    @Test func aSentMessagesTimestampIsExactOrRefusedNamingTheField() {
        for (text, exact) in hostileNumbers {
            let frame = ClientFrame(parsing: #"{"type":"message","action":"send","data":{"from":"v1","content":"hi","timestamp":\#(text)}}"#)
            if let exact {
                let message = ClientFrame.Message(conversationID: nil, from: "v1", to: nil, content: "hi", timestamp: exact)
                #expect(frame.command == .success(.sendMessage(message)), "timestamp \(text)")
            } else {
                #expect(refusal(frame)?.code == "invalid_field", "timestamp \(text)")
                #expect(refusal(frame)?.field == "data.timestamp", "timestamp \(text)")
            }
        }
    }

    // Guards `JSONValue.integerValue`, the one conversion of outside numbers: exact or nil, never a trap.
    @Test func integerValueIsExactOrNil() throws {
        for (text, exact) in hostileNumbers {
            #expect(try JSONValue(parsing: text).integerValue == exact, "\(text)")
        }
        #expect(JSONValue.number(.greatestFiniteMagnitude).integerValue == nil)
        #expect(JSONValue.number(-.greatestFiniteMagnitude).integerValue == nil)
        #expect(JSONValue.number(.infinity).integerValue == nil)
        #expect(JSONValue.number(.nan).integerValue == nil)
        #expect(JSONValue.number(.leastNonzeroMagnitude).integerValue == nil)
        #expect(JSONValue.number(4_611_686_018_427_387_904).integerValue == nil, "a Double past 2^53 may not be what was written")
        #expect(JSONValue.integer(4_611_686_018_427_387_904).integerValue == 4_611_686_018_427_387_904)
        #expect(JSONValue.string("7").integerValue == nil)
        #expect(JSONValue.number(42).integerValue == 42)
    }
}

@Suite(.timeLimit(.minutes(1))) struct OutboundAddressRangesTests {
    func isPublic(_ text: String) throws -> Bool {
        OutboundAddressPolicy.isPublic(try #require(IPAddressRange.parseAddress(text), "\(text) does not parse"))
    }

    // Guards the RFC 6890 ranges fix: IPv4-compatible and 6to4 spellings of internal IPv4 addresses,
    // site-local, the documentation and 6to4-relay IPv4 ranges, 3fff::/20 and 2001::/23 were reachable.
    @Test func specialPurposeAddressesAreRefused() throws {
        let refused = [
            "::127.0.0.1", "::7f00:1", "2002:7f00:1::", "2002:a00:1::", "fec0::1", "192.0.2.1", "198.51.100.7", "203.0.113.9",
            "192.88.99.1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "2001:db8::1", "3fff::1", "2001::1", "100::1", "fc00::1", "fe80::1",
            "ff02::1", "::", "::1", "0.0.0.0", "10.1.2.3", "100.64.0.1", "169.254.169.254", "172.16.0.1", "192.168.1.1", "198.18.0.1",
            "224.0.0.1", "255.255.255.255", "240.0.0.1",
        ]
        for text in refused {
            #expect(try !isPublic(text), "\(text)")
        }
    }

    // Guards against the fix refusing too much: public addresses, also inside 6to4, NAT64 and mapped forms.
    @Test func globalAddressesArePermitted() throws {
        for text in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2002:808:808::", "64:ff9b::808:808", "::ffff:8.8.8.8"] {
            #expect(try isPublic(text), "\(text)")
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct RedactedURLTests {
    // Guards the redacted access log: a token in the query of a request target is not written to the log.
    @Test func credentialParametersAreRedactedAndOthersKept() {
        #expect(RedactedURL.redact("/ws?token=sb_live_abc&since=4") == "/ws?token=REDACTED&since=4")
        #expect(RedactedURL.redact("/ws?since=4&Access_Token=abc") == "/ws?since=4&Access_Token=REDACTED")
    }

    // Guards the redaction of user information and of a credential named `access_token` in a full URL.
    @Test func userInfoAndTokensOfAFullURLAreRedacted() {
        #expect(RedactedURL.redact("https://user:pw@host/x?access_token=y") == "https://REDACTED@host/x?access_token=REDACTED")
        #expect(RedactedURL.redact("https://user:pw@host") == "https://REDACTED@host")
    }

    // Guards the redaction by value: a Switchboard secret is recognised under any parameter name.
    @Test func aSwitchboardSecretIsRedactedUnderAnyName() {
        #expect(RedactedURL.redact("/x?foo=sb_live_x") == "/x?foo=REDACTED")
        #expect(RedactedURL.redact("/x?a=1&b=whsec_abc") == "/x?a=1&b=REDACTED")
    }

    // Guards against the redaction mangling what it need not touch.
    @Test func aURLWithoutQueryIsUnchangedAndTheFragmentIsKept() {
        for text in ["/ws", "https://host/a/b", "/v1/conversations/c1/messages", "/x#frag", ""] {
            #expect(RedactedURL.redact(text) == text)
        }
        #expect(RedactedURL.redact("/x?token=t&a=b#frag") == "/x?token=REDACTED&a=b#frag")
        #expect(RedactedURL.redact("/x?a=b#token=t") == "/x?a=b#token=t")
    }

    // Guards that a URL inside the query is data: `://` there must not be taken for the scheme,
    // which left the whole target, token and all, unredacted.
    @Test func aURLInTheQueryDoesNotStopTheRedaction() {
        #expect(RedactedURL.redact("/ws?token=sb_live_abc&origin=https://app.example") == "/ws?token=REDACTED&origin=https://app.example")
        #expect(RedactedURL.redact("/ws?origin=https://app.example/&token=abc") == "/ws?origin=https://app.example/&token=REDACTED")
    }
}

@Suite(.timeLimit(.minutes(1))) struct MaskedSecretTests {
    let paths = [["token"]]
    let previous: JSONValue = ["url": "https://crm.example.com/api", "token": "stored-token", "timeout": 3]

    // Guards that a masked secret is still kept when the destination stays the same.
    @Test func aMaskedSecretIsKeptWhenTheURLIsUnchanged() throws {
        let config: JSONValue = ["url": "https://crm.example.com/api", "token": .string(SecretBox.mask), "timeout": 5]
        let kept = try SecretBox.keepingMaskedSecrets(config, previous: previous, paths: paths)
        #expect(kept == ["url": "https://crm.example.com/api", "token": "stored-token", "timeout": 5])
    }

    // Guards "secrets do not follow changed URLs": a masked token sent with a new URL was filled in from
    // the stored config, so a config change sent the stored token to a host of the caller's choice.
    @Test func aMaskedSecretIsRefusedWhenTheURLChanged() {
        let config: JSONValue = ["url": "https://attacker.example.net/api", "token": .string(SecretBox.mask), "timeout": 3]
        #expect {
            try SecretBox.keepingMaskedSecrets(config, previous: previous, paths: paths)
        } throws: { error in
            (error as? SwitchboardError)?.code == "secret_required" && (error as? SwitchboardError)?.field == "config.token"
        }
    }

    // Guards against the fix refusing a caller who gives the secret again with the new URL.
    @Test func aNewSecretWithAChangedURLIsAccepted() throws {
        let config: JSONValue = ["url": "https://crm2.example.com/api", "token": "new-token", "timeout": 3]
        #expect(try SecretBox.keepingMaskedSecrets(config, previous: previous, paths: paths) == config)
    }

    // A config PUT replaces the config whole, but a secret it leaves out is kept; null removes it.
    @Test func aLeftOutSecretIsKeptAndANullOneRemoved() throws {
        let kept = try SecretBox.keepingMaskedSecrets(["url": "https://crm.example.com/api", "timeout": 5], previous: previous, paths: paths)
        #expect(kept["token"] == "stored-token" && kept["timeout"] == 5)
        let removed = try SecretBox.keepingMaskedSecrets(["url": "https://crm.example.com/api", "token": .null], previous: previous, paths: paths)
        #expect(removed["token"] == .null)
        #expect(throws: SwitchboardError.self) { try SecretBox.keepingMaskedSecrets(["url": "https://elsewhere.example"], previous: previous, paths: paths) }
    }

    // Guards the review's finding: a list of servers (LDAP's "ldap://a,ldap://b") is no single URL,
    // yet changing it must not keep the stored secret either.
    @Test func aChangedListOfURLsRefusesAMaskedSecretToo() throws {
        let stored: JSONValue = ["url": "ldap://dc1:389,ldap://dc2:389", "token": "stored-token"]
        let changed: JSONValue = ["url": "ldap://attacker:389,ldap://dc2:389", "token": "********"]
        #expect(throws: SwitchboardError.self) { try SecretBox.keepingMaskedSecrets(changed, previous: stored, paths: paths) }
    }
}

@Suite(.timeLimit(.minutes(1))) struct CredentialAuthorityTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func range(_ text: String) -> IPAddressRange {
        try! IPAddressRange(parsing: text)
    }

    func key(
        _ id: String,
        scopes: Set<Scope> = [.agentsRead],
        expiresAt: Date? = nil,
        allowedIPs: [String] = [],
        rateLimit: Int? = nil
    ) -> APIKey {
        APIKey(
            id: id, tenantID: "t1", name: id, prefix: "sb_live_ab", scopes: scopes, expiresAt: expiresAt, allowedIPs: allowedIPs.map(range),
            rateLimit: rateLimit, createdAt: now
        )
    }

    /// The manager's own key: may manage keys and read agents, expires in a day, 10.0.0.0/8 only, 100 a minute.
    var ownKey: APIKey {
        key("own", scopes: [.keysManage, .agentsRead], expiresAt: now + 86_400, allowedIPs: ["10.0.0.0/8"], rateLimit: 100)
    }

    var manager: CredentialAuthority {
        CredentialAuthority(principal: ownKey.principal, ownKey: ownKey)
    }

    /// A key the manager may manage: no scope it lacks, and at least as restricted as its own key.
    var within: APIKey {
        key("k", scopes: [.agentsRead], expiresAt: now + 3_600, allowedIPs: ["10.1.0.0/16"], rateLimit: 50)
    }

    func code(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return (error as? SwitchboardError)?.code ?? "\(error)"
        }
    }

    func field(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return (error as? SwitchboardError)?.field
        }
    }

    // Guards "key managers act only on credentials within their own scopes": rotating a key with a
    // scope the manager lacks would hand over that scope.
    @Test func aKeyWithAScopeThePrincipalLacksIsNotManageable() {
        #expect(code { try manager.checkManageable(within) } == nil)
        var stronger = within
        stronger.scopes = [.agentsRead, .agentsWrite]
        #expect(code { try manager.checkManageable(stronger) } == "credential_not_manageable")
        stronger.scopes = [.admin]
        #expect(code { try manager.checkManageable(stronger) } == "credential_not_manageable")
    }

    // Guards "... and their own restrictions": a key without the manager's expiry, networks or rate
    // limit is a stronger credential than the manager's own.
    @Test func aKeyLessRestrictedThanTheOwnKeyIsNotManageable() {
        var looser = within
        looser.expiresAt = nil
        #expect(code { try manager.checkManageable(looser) } == "credential_not_manageable")
        looser = within
        looser.expiresAt = now + 2 * 86_400
        #expect(code { try manager.checkManageable(looser) } == "credential_not_manageable")
        looser = within
        looser.allowedIPs = []
        #expect(code { try manager.checkManageable(looser) } == "credential_not_manageable")
        looser = within
        looser.allowedIPs = [range("0.0.0.0/0")]
        #expect(code { try manager.checkManageable(looser) } == "credential_not_manageable")
        looser = within
        looser.allowedIPs = [range("10.1.0.0/16"), range("192.168.0.0/16")]
        #expect(code { try manager.checkManageable(looser) } == "credential_not_manageable")
        looser = within
        looser.rateLimit = 200
        #expect(code { try manager.checkManageable(looser) } == "credential_not_manageable")
        looser = within
        looser.rateLimit = nil
        #expect(code { try manager.checkManageable(looser) } == "credential_not_manageable")
        // As restricted as the own key is manageable.
        #expect(code { try manager.checkManageable(ownKey) } == nil)
    }

    // Guards that a new key inherits the manager's restrictions it does not set, and cannot set looser ones.
    @Test func aNewKeyTakesTheOwnRestrictionsAndCannotLiftThem() throws {
        let filled = try manager.newKeySettings(APIKeySettings(name: "n", scopes: [.agentsRead]))
        #expect(filled.expiresAt == .some(ownKey.expiresAt))
        #expect(filled.allowedIPs == ownKey.allowedIPs)
        #expect(filled.rateLimit == .some(100))
        #expect(filled.scopes == [.agentsRead])

        let tighter = APIKeySettings(expiresAt: .some(now + 60), allowedIPs: [range("10.9.9.9")], rateLimit: .some(10))
        #expect(try manager.newKeySettings(tighter) == tighter)

        let looser: [(APIKeySettings, String)] = [
            (APIKeySettings(expiresAt: .some(nil)), "expires_at"),
            (APIKeySettings(expiresAt: .some(now + 2 * 86_400)), "expires_at"),
            (APIKeySettings(allowedIPs: []), "allowed_ips"),
            (APIKeySettings(allowedIPs: [range("192.168.0.0/16")]), "allowed_ips"),
            (APIKeySettings(allowedIPs: [range("::/0")]), "allowed_ips"),
            (APIKeySettings(rateLimit: .some(nil)), "rate_limit"),
            (APIKeySettings(rateLimit: .some(101)), "rate_limit"),
        ]
        for (settings, name) in looser {
            #expect(code { _ = try manager.newKeySettings(settings) } == "restriction_not_liftable", "\(settings)")
            #expect(field { _ = try manager.newKeySettings(settings) } == name, "\(settings)")
        }
    }

    // Guards that a manager cannot lift its own key's restrictions by updating it.
    @Test func anUpdateCannotLiftTheOwnRestrictions() {
        #expect(code { try manager.checkUpdate(of: ownKey, to: APIKeySettings(name: "renamed")) } == nil)
        #expect(code { try manager.checkUpdate(of: ownKey, to: APIKeySettings(expiresAt: .some(nil))) } == "restriction_not_liftable")
        #expect(code { try manager.checkUpdate(of: ownKey, to: APIKeySettings(allowedIPs: [])) } == "restriction_not_liftable")
        #expect(code { try manager.checkUpdate(of: ownKey, to: APIKeySettings(rateLimit: .some(nil))) } == "restriction_not_liftable")
        #expect(code { try manager.checkUpdate(of: within, to: APIKeySettings(rateLimit: .some(1_000))) } == "restriction_not_liftable")
        #expect(code { try manager.checkUpdate(of: within, to: APIKeySettings(scopes: [.agentsWrite])) } == "scope_not_grantable")
        #expect(code { try manager.checkUpdate(of: within, to: APIKeySettings(rateLimit: .some(100))) } == nil)
    }

    // Guards against the fix hobbling an admin that signed in without an API key (no restrictions of its own).
    @Test func anAdminWithoutOwnKeyMayDoEverything() throws {
        let admin = CredentialAuthority(
            principal: Principal(tenantID: "t1", subject: "u1", role: .admin, scopes: [.admin], method: .jwt), ownKey: nil
        )
        let unrestricted = key("k", scopes: [.admin, .agentsWrite])
        try admin.checkManageable(unrestricted)
        try admin.checkManageable(ownKey)
        try admin.checkGrantable(Set(Scope.all))
        let settings = APIKeySettings(name: "n", scopes: [.admin], expiresAt: .some(nil), allowedIPs: [], rateLimit: .some(nil))
        #expect(try admin.newKeySettings(settings) == settings)
        #expect(try admin.newKeySettings(APIKeySettings(name: "n")) == APIKeySettings(name: "n"))
        try admin.checkUpdate(of: unrestricted, to: settings)
        try admin.checkUpdate(of: ownKey, to: APIKeySettings(expiresAt: .some(nil), allowedIPs: [], rateLimit: .some(nil)))
    }

    // Guards `IPAddressRange.contains(_:)` of a range, the test of "networks within the own key's".
    @Test func aRangeContainsOnlyRangesWithinIt() {
        #expect(range("10.0.0.0/8").contains(range("10.1.0.0/16")))
        #expect(range("10.0.0.0/8").contains(range("10.0.0.0/8")))
        #expect(range("10.0.0.0/8").contains(range("10.255.255.255")))
        #expect(range("0.0.0.0/0").contains(range("10.0.0.0/8")))
        #expect(!range("10.1.0.0/16").contains(range("10.0.0.0/8")))
        #expect(!range("10.0.0.0/8").contains(range("11.0.0.0/16")))
        #expect(!range("10.0.0.0/8").contains(range("0.0.0.0/0")))
        #expect(!range("10.0.0.0/8").contains(range("2001:db8::/32")))
        #expect(!range("2001:db8::/32").contains(range("10.0.0.0/8")))
        #expect(range("2001:db8::/32").contains(range("2001:db8:1::/48")))
        #expect(!range("2001:db8:1::/48").contains(range("2001:db8::/32")))
        #expect(!range("2001:db8::/32").contains(range("::/0")))
    }
}
