import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// Serves a JWKS the test can change, as an identity provider would on key rotation.
actor JWKSServer {
    private var document = #"{"keys":[]}"#
    private(set) var fetches = 0

    func publish(_ json: String) { document = json }

    private func serve() -> String {
        fetches += 1
        return document
    }

    func run(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.get("/jwks.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: await self.serve())))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: testLogger)
        try await app.test(.live) { client in try await body("http://127.0.0.1:\(client.port!)/jwks.json") }
    }
}

@Suite(.timeLimit(.minutes(5))) struct IdentityTokenTests {
    /// PyJWT, the independent implementation: prints one token per line for the claims and keys given.
    static let mint = """
        import sys, json, time, jwt
        secret, issuer, audience, agent = sys.argv[1:5]
        now = int(time.time())
        base = {"iss": issuer, "aud": audience, "sub": agent, "iat": now, "exp": now + 300}
        def hs(claims, key=secret, alg="HS256", headers=None): return jwt.encode(claims, key, algorithm=alg, headers=headers)
        from cryptography.hazmat.primitives.asymmetric import rsa
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        tokens = {
            "agent": hs(dict(base, role="agent")),
            "visitor_claiming_admin": hs(dict(base, role="visitor", scope="admin agents:read")),
            "expired": hs(dict(base, exp=now - 3600, iat=now - 7200)),
            "wrong_audience": hs(dict(base, aud="someone-else")),
            "not_yet_valid": hs(dict(base, nbf=now + 3600)),
            "no_exp": hs({k: v for k, v in base.items() if k != "exp"}),
            "wrong_secret": hs(base, key="not-the-secret-but-long-enough-for-hs256"),
            "rs256": jwt.encode(base, rsa_key, algorithm="RS256"),
            "none": jwt.encode(base, None, algorithm="none"),
            "unknown_issuer": hs(dict(base, iss="https://elsewhere.example")),
        }
        print(json.dumps(tokens))
        """

    static func tokens(_ arguments: [String], script: String = mint) async throws -> [String: String] {
        let outcome = try await PythonScript.run(script, arguments)
        #expect(outcome.status == 0, "\(outcome)")
        guard case .object(let object) = try JSONDecoder().decode(JSONValue.self, from: Data(outcome.output.utf8)) else { return [:] }
        return object.compactMapValues { if case .string(let text) = $0 { text } else { nil } }
    }

    @Test func tenantHS256TokensBecomePrincipalsAndBadOnesAreRefused() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let admin = server.tenantA.key
            let created = try await client.call(
                .post,
                "/api/v1/token-issuers",
                key: admin,
                json: ["issuer": "https://shop.example", "audience": "support", "kind": "hs256"]
            )
            #expect(created.status == .created, "\(created.json)")
            let secret = try #require(created["secret"]?.string)
            #expect(secret.hasPrefix("sbhs_") && created["default_role"]?.string == "agent")
            #expect(try await client.call(.get, "/api/v1/token-issuers", key: admin)["data"]?.array.first?["secret"] == nil)
            // Another tenant may trust the same issuer with an audience of its own; an issuer and audience are registered once.
            let shared = try await client.call(.post, "/api/v1/token-issuers", key: server.tenantB.key, json: ["issuer": "https://shop.example", "audience": "x", "kind": "hs256"])
            #expect(shared.status == .created)
            // Gone again, so that the refusals below are each tenant A's alone.
            #expect(try await client.call(.delete, "/api/v1/token-issuers/\(shared["id"]?.string ?? "")", key: server.tenantB.key).status == .noContent)
            let taken = try await client.call(.post, "/api/v1/token-issuers", key: admin, json: ["issuer": "https://shop.example", "audience": "support", "kind": "hs256"])
            #expect(taken.status == .conflict)
            let badAlgorithms = try await client.call(.post, "/api/v1/token-issuers", key: admin, json: ["issuer": "i", "audience": "a", "kind": "jwks", "jwks_url": "https://idp.example/jwks", "algorithms": ["HS256"]])
            #expect(badAlgorithms.status == .unprocessableContent && badAlgorithms["field"]?.string == "algorithms")

            let agent = try await Fixtures(client: client, key: admin).agent("Ada")
            let tokens = try await Self.tokens([secret, "https://shop.example", "support", agent])

            let agentToken = try #require(tokens["agent"])
            #expect(try await client.call(.get, "/api/v1/agents/\(agent)", key: agentToken)["name"]?.string == "Ada")
            let keys = try await client.call(.get, "/api/v1/api-keys", key: agentToken)
            #expect(keys.status == .forbidden && keys["required_scope"]?.string == "keys:manage")
            // A visitor's token is capped to a visitor's scopes, whatever it claims.
            let capped = try await client.call(.get, "/api/v1/agents", key: try #require(tokens["visitor_claiming_admin"]))
            #expect(capped.status == .forbidden && capped["required_scope"]?.string == "agents:read")

            let refusals: [(String, String)] = [
                ("expired", "expired"), ("wrong_audience", "wrong_audience"), ("not_yet_valid", "not_yet_valid"), ("no_exp", "bad_signature"),
                ("wrong_secret", "bad_signature"), ("rs256", "algorithm_not_allowed"), ("none", "algorithm_not_allowed"),
            ]
            for (name, _) in refusals + [("unknown_issuer", "")] {
                let answer = try await client.call(.get, "/api/v1/agents", key: try #require(tokens[name]))
                #expect(answer.status == .unauthorized, "\(name): \(answer.json)")
            }
            // Refusals are audited without holding up the answer.
            var audited: [String] = []
            try await eventually {
                audited = (try await client.call(.get, "/api/v1/audit-events?action=auth.failed&limit=50", key: admin)["data"]?.array ?? [])
                    .compactMap { $0["detail"]?["reason"]?.string }
                return audited.count >= refusals.count
            }
            #expect(audited.sorted() == refusals.map(\.1).sorted(), "each refusal is in the tenant's audit log; an unknown issuer names no tenant")
        }
    }

    @Test func jwksIssuersAcceptRS256ES256AndEdDSAAndFollowKeyRotation() async throws {
        let server = try await TestServer.make {
            $0.security.allowsPrivateIdentityProviders = true
            $0.security.jwksRefetchSeconds = 0
        }
        let provider = JWKSServer()
        // Keys of three algorithms; the JWKS publishes the first set, a rotated RSA key comes later.
        let keys = """
            import sys, json, time, jwt
            from jwt.algorithms import RSAAlgorithm, ECAlgorithm, OKPAlgorithm
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa, ec, ed25519
            issuer, audience, agent = sys.argv[1:4]
            now = int(time.time())
            claims = {"iss": issuer, "aud": audience, "sub": agent, "iat": now, "exp": now + 300, "role": "agent"}
            keys = {"r1": (rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm, "RS256"),
                    "e1": (ec.generate_private_key(ec.SECP256R1()), ECAlgorithm, "ES256"),
                    "o1": (ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm, "EdDSA"),
                    "r2": (rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm, "RS256")}
            def jwk(kid):
                key, algorithm, alg = keys[kid]
                return dict(json.loads(algorithm.to_jwk(key.public_key())), kid=kid, alg=alg, use="sig")
            out = {kid: jwt.encode(claims, key, algorithm=alg, headers={"kid": kid}) for kid, (key, _, alg) in keys.items()}
            out["jwks1"] = json.dumps({"keys": [jwk("r1"), jwk("e1"), jwk("o1")]})
            out["jwks2"] = json.dumps({"keys": [jwk("r1"), jwk("e1"), jwk("o1"), jwk("r2")]})
            pem = keys["r1"][0].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            header = {"alg": "HS256", "kid": "r1", "typ": "JWT"}
            import hmac, hashlib, base64
            def b64(data): return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
            signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
            out["confused"] = signing + "." + b64(hmac.new(pem, signing.encode(), hashlib.sha256).digest())
            print(json.dumps(out))
            """
        try await provider.run { jwksURL in
            try await server.run { client in
                let admin = server.tenantA.key
                let agent = try await Fixtures(client: client, key: admin).agent("Ada")
                let tokens = try await Self.tokens(["https://idp.example", "support", agent], script: keys)
                await provider.publish(try #require(tokens["jwks1"]))
                let created = try await client.call(
                    .post,
                    "/api/v1/token-issuers",
                    key: admin,
                    json: ["issuer": "https://idp.example", "audience": "support", "kind": "jwks", "jwks_url": .string(jwksURL)]
                )
                #expect(created.status == .created && created["secret"] == nil, "\(created.json)")
                for kid in ["r1", "e1", "o1"] {
                    let answer = try await client.call(.get, "/api/v1/agents/\(agent)", key: try #require(tokens[kid]))
                    #expect(answer.status == .ok, "\(kid): \(answer.json)")
                }
                let confused = try await client.call(.get, "/api/v1/agents", key: try #require(tokens["confused"]))
                #expect(confused.status == .unauthorized)
                let reasons = try await SecurityTests.audit(client, admin: admin, action: "auth.failed").compactMap { $0["detail"]?["reason"]?.string }
                #expect(reasons.contains("algorithm_not_allowed"), "the HS256 token against published keys is refused for its algorithm: \(reasons)")

                // A token of a key the provider has not published yet is refused; once published, accepted.
                #expect(try await client.call(.get, "/api/v1/agents", key: try #require(tokens["r2"])).status == .unauthorized)
                await provider.publish(try #require(tokens["jwks2"]))
                #expect(try await client.call(.get, "/api/v1/agents", key: try #require(tokens["r2"])).status == .ok)
                #expect(await provider.fetches >= 2)
            }
        }
    }

    @Test func agentsAndVisitorsSeeOnlyTheirOwnConversations() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let admin = server.tenantA.key
            let secret = try #require(
                try await client.call(.post, "/api/v1/token-issuers", key: admin, json: ["issuer": "https://shop.example", "audience": "support", "kind": "hs256"])["secret"]?.string
            )
            func post(_ path: String, _ body: JSONValue) async throws -> String {
                try #require(try await client.call(.post, path, key: admin, json: body)["id"]?.string)
            }
            let ada = try await post("/api/v1/agents", ["name": "Ada"])
            let bo = try await post("/api/v1/agents", ["name": "Bo"])
            let sue = try await post("/api/v1/agents", ["name": "Sue", "role": "supervisor"])
            let vera = try await post("/api/v1/visitors", ["name": "Vera", "external_id": "shop-user-1"])
            let walt = try await post("/api/v1/visitors", ["name": "Walt", "external_id": "shop-user-2"])
            let adaVera = try await post("/api/v1/conversations", ["visitor_id": .string(vera), "agent_id": .string(ada)])
            let boWalt = try await post("/api/v1/conversations", ["visitor_id": .string(walt), "agent_id": .string(bo)])
            let queued = try await post("/api/v1/conversations", ["visitor_id": .string(vera)])
            let hidden = try await post("/api/v1/messages", ["conversation_id": .string(boWalt), "from": .string(walt), "content": "private"])

            let mint = """
                import sys, time, jwt
                secret = sys.argv[1]
                now = int(time.time())
                for role, sub in zip(sys.argv[2::2], sys.argv[3::2]):
                    print(jwt.encode({"iss": "https://shop.example", "aud": "support", "sub": sub, "role": role, "exp": now + 300}, secret, algorithm="HS256"))
                """
            let minted = try await PythonScript.run(mint, [secret, "agent", ada, "agent", sue, "visitor", "shop-user-1"])
            let tokens = minted.output.split(separator: "\n").map(String.init)
            try #require(tokens.count == 3, "\(minted)")
            let (adaToken, sueToken, veraToken) = (tokens[0], tokens[1], tokens[2])

            func listed(_ token: String) async throws -> Set<String> {
                Set((try await client.call(.get, "/api/v1/conversations", key: token)["data"]?.array ?? []).compactMap { $0["id"]?.string })
            }
            #expect(try await listed(adaToken) == [adaVera], "an agent sees what is assigned to it")
            #expect(try await listed(sueToken) == [queued], "a supervisor also sees the unassigned queue")
            #expect(try await listed(veraToken) == [adaVera, queued], "a visitor sees its own conversations")
            #expect(try await listed(admin) == [adaVera, boWalt, queued])

            for token in [adaToken, sueToken, veraToken] {
                for uri in ["/api/v1/conversations/\(boWalt)", "/api/v1/conversations/\(boWalt)/messages", "/api/v1/messages/\(hidden)"] {
                    #expect(try await client.call(.get, uri, key: token).status == .notFound, "\(uri)")
                }
                let into = try await client.call(.post, "/api/v1/messages", key: token, json: ["conversation_id": .string(boWalt), "from": .string(walt), "content": "x"])
                #expect(into.status == .unprocessableContent && into["code"]?.string == "conversation_not_found")
                #expect(try await client.call(.put, "/api/v1/messages/\(hidden)", key: token, json: ["content": "x"]).status == .notFound)
            }
            #expect(try await client.call(.get, "/api/v1/visitors/\(walt)", key: veraToken).status == .notFound)
            #expect(try await client.call(.get, "/api/v1/visitors/\(vera)", key: veraToken)["name"]?.string == "Vera")

            // Inside its view a principal sends only as itself.
            #expect(try await client.call(.post, "/api/v1/messages", key: veraToken, json: ["conversation_id": .string(adaVera), "from": .string(vera), "content": "hi"]).status == .created)
            let spoofed = try await client.call(.post, "/api/v1/messages", key: veraToken, json: ["conversation_id": .string(adaVera), "from": .string(ada), "content": "hi"])
            #expect(spoofed.status == .forbidden && spoofed["code"]?.string == "sender_not_principal")
            #expect(try await client.call(.post, "/api/v1/messages", key: adaToken, json: ["conversation_id": .string(adaVera), "from": .string(ada), "content": "hello"]).status == .created)
            let messages = try await client.call(.get, "/api/v1/conversations/\(adaVera)/messages", key: veraToken)["data"]?.array ?? []
            #expect(messages.compactMap { $0["content"]?.string } == ["hi", "hello"])
        }
    }

    @Test func introspectionIssuersAskTheProviderAboutEachToken() async throws {
        // The provider is another Switchboard: its built-in authorization server and RFC 7662 endpoint.
        let provider = try await TestServer.make { $0.oauth.issuer = "https://idp.example" }
        let server = try await TestServer.make { $0.security.allowsPrivateIdentityProviders = true }
        try await provider.run { idp in
            try await server.run { client in
                let idpPort = try #require(idp.port)
                func oauthClient(_ scopes: JSONValue) async throws -> (id: String, secret: String) {
                    let created = try await idp.call(.post, "/api/v1/oauth-clients", key: provider.tenantA.key, json: ["name": "c", "scopes": scopes])
                    return (try #require(created["client_id"]?.string), try #require(created["client_secret"]?.string))
                }
                let crm = try await oauthClient(["agents:read"])
                let resource = try await oauthClient([])
                let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                func token() async throws -> String {
                    let issued = try await idp.call(.post, "/oauth/token", key: nil, body: "grant_type=client_credentials&client_id=\(crm.id)&client_secret=\(crm.secret)", headers: form)
                    return try #require(issued["access_token"]?.string)
                }
                let registered = try await client.call(
                    .post,
                    "/api/v1/token-issuers",
                    key: server.tenantA.key,
                    json: [
                        "issuer": "https://idp.example", "audience": "switchboard", "kind": "introspection", "default_role": "integration",
                        "introspection_url": .string("http://127.0.0.1:\(idpPort)/oauth/introspect"), "client_id": .string(resource.id),
                        "client_secret": .string(resource.secret),
                    ]
                )
                #expect(registered.status == .created && registered["client_secret"] == nil && registered["secret"] == nil, "\(registered.json)")
                #expect(registered["introspection_url"]?.string?.hasSuffix("/oauth/introspect") == true)

                let active = try await token()
                #expect(try await client.call(.get, "/api/v1/agents", key: active).status == .ok)
                let write = try await client.call(.post, "/api/v1/agents", key: active, json: ["name": "x"])
                #expect(write.status == .forbidden && write["required_scope"]?.string == "agents:write", "the provider's scope holds")

                // A token the provider revoked before it reached us is refused.
                let revoked = try await token()
                #expect(try await idp.call(.post, "/oauth/revoke", key: nil, body: "token=\(revoked)&client_id=\(crm.id)&client_secret=\(crm.secret)", headers: form).status == .ok)
                let refused = try await client.call(.get, "/api/v1/agents", key: revoked)
                #expect(refused.status == .unauthorized && refused["detail"]?.string == "The token issuer says this token is not active.")

                let missing = try await client.call(.post, "/api/v1/token-issuers", key: server.tenantA.key, json: ["issuer": "i2", "audience": "a", "kind": "introspection", "introspection_url": "https://idp.example/introspect"])
                #expect(missing.status == .unprocessableContent && missing["field"]?.string == "client_id")
            }
        }
    }
}
