import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardTestSupport
import Testing

/// A real OpenLDAP `slapd` on loopback, filled with `entries` (LDIF) under dc=example,dc=org; with
/// `tls`, it also speaks ldaps on `tlsPort` and StartTLS on `port`, with a self-signed certificate
/// for 127.0.0.1 (`certificatePEM`).
final class Slapd {
    let port: Int
    let tlsPort: Int
    let directory: String
    private let tls: Bool
    private var process: SpawnedProcess?

    init(entries: String, tls: Bool = false) throws {
        port = try freeLoopbackPort()
        tlsPort = try freeLoopbackPort()
        self.tls = tls
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-slapd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(directory)/db", withIntermediateDirectories: true)
        var tlsConfig = ""
        if tls {
            try TLSTests.makeCertificate(in: directory, name: "directory")
            tlsConfig = "TLSCertificateFile \(directory)/directory-cert.pem\nTLSCertificateKeyFile \(directory)/directory-key.pem\n"
        }
        let config = tlsConfig + """
            include /etc/ldap/schema/core.schema
            include /etc/ldap/schema/cosine.schema
            include /etc/ldap/schema/inetorgperson.schema
            modulepath /usr/lib/ldap
            moduleload back_mdb
            pidfile \(directory)/slapd.pid
            database mdb
            maxsize 10485760
            suffix "dc=example,dc=org"
            rootdn "cn=admin,dc=example,dc=org"
            rootpw admin-secret
            directory \(directory)/db
            access to attrs=userPassword by anonymous auth by self read by * none
            access to * by dn.exact="cn=reader,ou=system,dc=example,dc=org" read by self read by anonymous auth by * none

            """
        try config.write(toFile: "\(directory)/slapd.conf", atomically: true, encoding: .utf8)
        try entries.write(toFile: "\(directory)/data.ldif", atomically: true, encoding: .utf8)
        try runTool("/usr/sbin/slapadd", ["-q", "-f", "\(directory)/slapd.conf", "-l", "\(directory)/data.ldif"])
    }

    /// The PEM of the self-signed certificate slapd presents with `tls`.
    var certificatePEM: String { (try? String(contentsOfFile: "\(directory)/directory-cert.pem", encoding: .utf8)) ?? "" }

    /// Starts slapd in the foreground and waits (at most 20 s) until it accepts connections.
    func start() async throws {
        let urls = "ldap://127.0.0.1:\(port)/" + (tls ? " ldaps://127.0.0.1:\(tlsPort)/" : "")
        process = try startDaemon("/usr/sbin/slapd", ["-d", "0", "-f", "\(directory)/slapd.conf", "-h", urls])
        try await waitForDaemon("slapd", seconds: 20) { Self.accepts(port: port) && (!tls || Self.accepts(port: tlsPort)) }
    }

    func stop() { stopDaemon(process) }

    static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Agents sign in through the auth-ldap plugin (C, libldap, loaded with dlopen) against a real slapd.
@Suite(.timeLimit(.minutes(5))) struct DirectorySignInTests {
    /// People (employeeNumber holds the Switchboard agent id), a service account, and groups.
    static func entries(alice: String, bob: String) -> String {
        """
        dn: dc=example,dc=org
        objectClass: dcObject
        objectClass: organization
        o: Example
        dc: example

        dn: ou=people,dc=example,dc=org
        objectClass: organizationalUnit
        ou: people

        dn: ou=groups,dc=example,dc=org
        objectClass: organizationalUnit
        ou: groups

        dn: ou=system,dc=example,dc=org
        objectClass: organizationalUnit
        ou: system

        dn: cn=reader,ou=system,dc=example,dc=org
        objectClass: organizationalRole
        objectClass: simpleSecurityObject
        cn: reader
        userPassword: reader-secret

        dn: uid=alice,ou=people,dc=example,dc=org
        objectClass: inetOrgPerson
        uid: alice
        cn: Alice Liddell
        sn: Liddell
        mail: alice@example.org
        employeeNumber: \(alice)
        userPassword: wonderland

        dn: uid=bob,ou=people,dc=example,dc=org
        objectClass: inetOrgPerson
        uid: bob
        cn: Bob Lead
        sn: Lead
        employeeNumber: \(bob)
        userPassword: builder

        dn: uid=carol,ou=people,dc=example,dc=org
        objectClass: inetOrgPerson
        uid: carol
        cn: Carol
        sn: Nogroup
        employeeNumber: carol-1
        userPassword: no-groups

        dn: cn=support,ou=groups,dc=example,dc=org
        objectClass: groupOfNames
        cn: support
        member: uid=alice,ou=people,dc=example,dc=org
        member: uid=bob,ou=people,dc=example,dc=org

        dn: cn=leads,ou=groups,dc=example,dc=org
        objectClass: groupOfNames
        cn: leads
        member: uid=bob,ou=people,dc=example,dc=org

        """
    }

    /// The auth-ldap config for `slapd` at `url`, with the service account, groups and role map.
    static func config(url: String) -> [String: JSONValue] {
        [
            "url": .string(url),
            "bind_dn": "cn=reader,ou=system,dc=example,dc=org", "bind_password": "reader-secret",
            "user_base_dn": "ou=people,dc=example,dc=org", "subject_attribute": "employeeNumber",
            "group_base_dn": "ou=groups,dc=example,dc=org",
            "roles": [["group": "leads", "role": "admin"], ["group": "cn=support,ou=groups,dc=example,dc=org", "role": "agent"]],
            "timeout_ms": 2000,
        ]
    }

    static func basic(_ tenant: String, _ user: String, _ password: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(tenant)/\(user):\(password)".utf8).base64EncodedString()]
    }

    @Test func agentsSignInWithDirectoryCredentialsAndGetTheMappedRole() async throws {
        let server = try await TestServer.make {
            $0.plugins.directory = try PluginFixtures.directory(["auth-ldap"])
        }
        try await server.run { client in
            let key = server.tenantA.key
            let tenant = server.tenantA.tenantID
            let fixtures = Fixtures(client: client, key: key)
            let alice = try await fixtures.agent("Alice")
            let bob = try await fixtures.agent("Bob")
            let slapd = try Slapd(entries: Self.entries(alice: alice, bob: bob))
            try await slapd.start()

            let config = JSONValue.object(Self.config(url: "ldap://127.0.0.1:\(slapd.port)"))
            let missingBase = try await client.call(.put, "/api/v1/integrations/auth-ldap", key: key, json: ["enabled": true, "config": ["url": config["url"]!]])
            #expect(missingBase.status == .unprocessableContent, "\(missingBase.json)")
            let badRole = try await client.call(
                .put, "/api/v1/integrations/auth-ldap", key: key,
                json: ["enabled": true, "config": ["url": config["url"]!, "user_base_dn": "dc=example,dc=org", "default_role": "root"]]
            )
            #expect(badRole.status == .unprocessableContent, "\(badRole.json)")
            // A directory maps users to roles, admin among them: integrations:manage alone does not configure one.
            let manager = try await SecurityTests.key(client, admin: key, ["name": "integrations", "scopes": ["integrations:manage"]]).secret
            let escalation = try await client.call(.put, "/api/v1/integrations/auth-ldap", key: manager, json: ["enabled": true, "config": config])
            #expect(escalation.status == .forbidden && escalation["code"]?.string == "missing_scope", "\(escalation.json)")
            let enabled = try await client.call(.put, "/api/v1/integrations/auth-ldap", key: key, json: ["enabled": true, "config": config])
            #expect(enabled.status == .ok, "\(enabled.json)")
            #expect(enabled["config"]?["bind_password"]?.string == "********")

            // Alice is in support: an agent whose subject is her agent id.
            let signedIn = try await client.call(.post, "/api/v1/auth/token", key: nil, headers: Self.basic(tenant, "alice", "wonderland"))
            #expect(signedIn.status == .ok, "\(signedIn.json)")
            #expect(signedIn["role"]?.string == "agent")
            #expect(signedIn["subject"]?.string == alice)
            #expect(signedIn.headers[.cacheControl] == "no-store")
            let token = try #require(signedIn["access_token"]?.string)

            // The token carries her data permissions: her conversation, not Bob's.
            let visitor = try await fixtures.visitor()
            let hers = try await client.call(.post, "/api/v1/conversations", key: key, json: ["visitor_id": .string(visitor), "agent_id": .string(alice)])["id"]?.string
            _ = try await client.call(.post, "/api/v1/conversations", key: key, json: ["visitor_id": .string(visitor), "agent_id": .string(bob)])
            let seen = try await client.call(.get, "/api/v1/conversations", key: token)
            #expect(seen.status == .ok)
            #expect(seen["data"]?.array.compactMap { $0["id"]?.string } == [hers].compactMap { $0 })
            #expect(try await client.call(.post, "/api/v1/agents", key: token, json: ["name": "Mallory"]).status == .forbidden)

            // Bob is also in leads, which comes first in the role map.
            let lead = try await client.call(.post, "/api/v1/auth/token", key: nil, headers: Self.basic(tenant, "bob", "builder"))
            #expect(lead["role"]?.string == "admin")
            #expect(try await client.call(.post, "/api/v1/agents", key: lead["access_token"]?.string, json: ["name": "New"]).status == .created)

            // Refusals: wrong password, unknown user, a user in no mapped group, an empty password,
            // and a bearer credential where directory credentials are needed.
            for (user, password) in [("alice", "looking-glass"), ("nobody", "x"), ("carol", "no-groups"), ("alice", ""), ("al*", "wonderland")] {
                let refused = try await client.call(.post, "/api/v1/auth/token", key: nil, headers: Self.basic(tenant, user, password))
                #expect(refused.status == .unauthorized, "\(user): \(refused.json)")
                #expect(refused.headers[.contentType] == "application/problem+json")
            }
            let notDirectory = try await client.call(.post, "/api/v1/auth/token", key: key)
            #expect(notDirectory.status == .forbidden)
            #expect(notDirectory["code"]?.string == "directory_credentials_required")
            var reasons: [String] = []
            try await eventually {
                reasons = (try await client.call(.get, "/api/v1/audit-events?action=auth.failed&limit=50", key: key)["data"]?.array ?? [])
                    .compactMap { $0["detail"]?["reason"]?.string }
                return reasons.count >= 5
            }
            #expect(reasons.sorted() == ["denied", "denied", "denied", "unknown_user", "unknown_user"], "the audit log tells which")

            // The directory goes away: new sign-ins answer 503, issued tokens keep working, health says why.
            slapd.stop()
            let down = try await client.call(.post, "/api/v1/auth/token", key: nil, headers: Self.basic(tenant, "bob", "another-try"))
            #expect(down.status == .serviceUnavailable, "\(down.json)")
            #expect(down["code"]?.string == "auth_provider_unavailable")
            #expect(try await client.call(.get, "/api/v1/conversations", key: token).status == .ok)
            let health = try await client.call(.get, "/api/v1/integrations/auth-ldap", key: key)["health"]
            #expect(health?["status"]?.string == "unavailable", "\(String(describing: health))")

            // Disabling the directory ends cached sign-ins at once.
            #expect(try await client.call(.get, "/api/v1/agents", key: nil, headers: Self.basic(tenant, "alice", "wonderland")).status == .ok, "cached")
            #expect(try await client.call(.delete, "/api/v1/integrations/auth-ldap", key: key).status == .noContent)
            #expect(try await client.call(.get, "/api/v1/agents", key: nil, headers: Self.basic(tenant, "alice", "wonderland")).status == .unauthorized)

            // Another tenant's sign-in through tenant A's directory is refused: it has no provider.
            let other = try await client.call(.post, "/api/v1/auth/token", key: nil, headers: Self.basic(server.tenantB.tenantID, "alice", "wonderland"))
            #expect(other.status == .unauthorized)

            // Sign-in tokens can be revoked: by their holder (sign out), and by a key manager of the tenant.
            #expect(try await client.call(.delete, "/api/v1/auth/token", key: token).status == .noContent)
            #expect(try await client.call(.get, "/api/v1/conversations", key: token).status == .unauthorized)
            let leadToken = try #require(lead["access_token"]?.string)
            #expect(try await client.call(.post, "/api/v1/auth/revoke", key: key, json: ["token": .string(leadToken)]).status == .noContent)
            #expect(try await client.call(.get, "/api/v1/agents", key: leadToken).status == .unauthorized)
        }
    }

    @Test func directoriesOverTLSAreTrustedOnlyWithTheirCA() async throws {
        let server = try await TestServer.make {
            $0.plugins.directory = try PluginFixtures.directory(["auth-ldap"])
        }
        try await server.run { client in
            let key = server.tenantA.key
            let tenant = server.tenantA.tenantID
            let alice = try await Fixtures(client: client, key: key).agent("Alice")
            let slapd = try Slapd(entries: Self.entries(alice: alice, bob: "bob-1"), tls: true)
            try await slapd.start()
            // Refusals first: successes are cached for 60 s, so each success below uses another user.
            let cases: [(name: String, config: [String: JSONValue], user: String, password: String, status: HTTPResponse.Status)] = [
                ("ldaps without the CA: the system CAs do not know it", ["url": .string("ldaps://127.0.0.1:\(slapd.tlsPort)")], "alice", "wonderland", .serviceUnavailable),
                ("StartTLS without the CA", ["start_tls": true], "alice", "wonderland", .serviceUnavailable),
                ("ldaps with the directory's CA", ["url": .string("ldaps://127.0.0.1:\(slapd.tlsPort)"), "tls_ca_pem": .string(slapd.certificatePEM)], "alice", "wonderland", .ok),
                ("StartTLS with the directory's CA", ["start_tls": true, "tls_ca_pem": .string(slapd.certificatePEM)], "bob", "builder", .ok),
            ]
            for item in cases {
                let config = Self.config(url: "ldap://127.0.0.1:\(slapd.port)").merging(item.config) { $1 }
                let enabled = try await client.call(.put, "/api/v1/integrations/auth-ldap", key: key, json: ["enabled": true, "config": .object(config)])
                #expect(enabled.status == .ok, "\(item.name): \(enabled.json)")
                let answer = try await client.call(.post, "/api/v1/auth/token", key: nil, headers: Self.basic(tenant, item.user, item.password))
                #expect(answer.status == item.status, "\(item.name): \(answer.json)")
            }
            let badPEM = try await client.call(
                .put, "/api/v1/integrations/auth-ldap", key: key,
                json: ["enabled": true, "config": .object(Self.config(url: "ldaps://127.0.0.1:1").merging(["tls_ca_pem": "not a certificate"]) { $1 })]
            )
            #expect(badPEM.status == .unprocessableContent)
        }
    }
}
