import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardServer
import Testing

@Suite(.timeLimit(.minutes(5))) struct OAuthTests {
    static func client(_ client: any TestClientProtocol, admin: String, scopes: JSONValue) async throws -> (id: String, secret: String) {
        let created = try await client.call(.post, "/api/v1/oauth-clients", key: admin, json: ["name": "crm", "scopes": scopes])
        #expect(created.status == .created, "\(created.json)")
        return (try #require(created["client_id"]?.string), try #require(created["client_secret"]?.string))
    }

    @Test func authlibGetsTokensByClientCredentialsAndUsesThemOnTheAPI() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let port = try #require(client.port)
            let crm = try await Self.client(client, admin: server.tenantA.key, scopes: ["agents:read", "agents:write"])
            let agent = try await Fixtures(client: client, key: server.tenantA.key).agent("Ada")
            // authlib's OAuth2Client over httpx, once per client authentication method.
            let script = """
                import sys
                from authlib.integrations.httpx_client import OAuth2Client
                base, client_id, secret, method, agent = sys.argv[1:6]
                meta = __import__("httpx").get(base + "/.well-known/oauth-authorization-server").json()
                assert meta["token_endpoint"].endswith("/oauth/token"), meta
                session = OAuth2Client(client_id, secret, scope="agents:read", token_endpoint_auth_method=method)
                token = session.fetch_token(base + "/oauth/token", grant_type="client_credentials")
                assert token["token_type"] == "Bearer" and token["scope"] == "agents:read", token
                assert session.get(base + "/api/v1/agents/" + agent).json()["name"] == "Ada"
                denied = session.post(base + "/api/v1/agents", json={"name": "x"})
                assert denied.status_code == 403 and denied.json()["required_scope"] == "agents:write", denied.text
                print(token["access_token"])
                """
            var tokens: [String] = []
            for method in ["client_secret_basic", "client_secret_post"] {
                let outcome = try await PythonScript.run(script, ["http://127.0.0.1:\(port)", crm.id, crm.secret, method, agent])
                #expect(outcome.status == 0, "\(method): \(outcome)")
                tokens.append(outcome.output.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            let token = try #require(tokens.last)

            // The token is an ES256 JWT whose key is in the JWKS; PyJWT verifies it independently.
            let verify = """
                import sys, jwt
                from jwt import PyJWKClient
                base, token = sys.argv[1:3]
                key = PyJWKClient(base + "/.well-known/jwks.json").get_signing_key_from_jwt(token)
                claims = jwt.decode(token, key.key, algorithms=["ES256"], audience="switchboard")
                assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
                print(claims["tenant_id"], claims["scope"])
                """
            let verified = try await PythonScript.run(verify, ["http://127.0.0.1:\(port)", token])
            #expect(verified.status == 0, "\(verified)")
            #expect(verified.output.contains("\(server.tenantA.tenantID) agents:read"))

            // Introspection and revocation, authenticated as the client.
            let basic = "Basic " + Data("\(crm.id):\(crm.secret)".utf8).base64EncodedString()
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .authorization: basic]
            let active = try await client.call(.post, "/oauth/introspect", key: nil, body: "token=\(token)", headers: form)
            #expect(active["active"] == .bool(true) && active["scope"]?.string == "agents:read" && active["client_id"]?.string == crm.id)
            #expect(try await client.call(.post, "/oauth/revoke", key: nil, body: "token=\(token)", headers: form).status == .ok)
            let revoked = try await client.call(.get, "/api/v1/agents", key: token)
            #expect(revoked.status == .unauthorized && revoked["detail"]?.string == "The access token was revoked.")
            #expect(try await client.call(.post, "/oauth/introspect", key: nil, body: "token=\(token)", headers: form)["active"] == .bool(false))

            // Revoking the client ends every token it still holds.
            let fresh = try await client.call(.post, "/oauth/token", key: nil, body: "grant_type=client_credentials", headers: form)
            let freshToken = try #require(fresh["access_token"]?.string)
            #expect(fresh["scope"]?.string == "agents:read agents:write", "no scope asks for everything the client holds")
            #expect(try await client.call(.get, "/api/v1/agents", key: freshToken).status == .ok)
            #expect(try await client.call(.delete, "/api/v1/oauth-clients/\(crm.id)", key: server.tenantA.key).status == .ok)
            #expect(try await client.call(.get, "/api/v1/agents", key: freshToken).status == .unauthorized)
        }
    }

    @Test func badTokenRequestsGetTheirOAuthError() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let crm = try await Self.client(client, admin: server.tenantA.key, scopes: ["agents:read"])
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            func token(_ body: String, _ headers: HTTPFields = [:]) async throws -> APIResponse {
                var all = form
                all.append(contentsOf: headers)
                return try await client.call(.post, "/oauth/token", key: nil, body: body, headers: all)
            }
            let credentials = "client_id=\(crm.id)&client_secret=\(crm.secret)"
            let wrongSecret = try await token("grant_type=client_credentials&client_id=\(crm.id)&client_secret=sbcs_wrong")
            #expect(wrongSecret.status == .unauthorized && wrongSecret["error"]?.string == "invalid_client")
            let grant = try await token("grant_type=password&\(credentials)")
            #expect(grant.status == .badRequest && grant["error"]?.string == "unsupported_grant_type")
            let wider = try await token("grant_type=client_credentials&scope=agents:write&\(credentials)")
            #expect(wider.status == .badRequest && wider["error"]?.string == "invalid_scope")
            let both = try await token("grant_type=client_credentials&\(credentials)", [.authorization: "Basic " + Data("\(crm.id):\(crm.secret)".utf8).base64EncodedString()])
            #expect(both["error"]?.string == "invalid_request")
            let json = try await client.call(.post, "/oauth/token", key: nil, json: ["grant_type": "client_credentials"])
            #expect(json.status == .badRequest && json["error"]?.string == "invalid_request")
            #expect(try await token("grant_type=client_credentials&\(credentials)").headers[.cacheControl] == "no-store")
        }
    }

    @Test func forgedTokensAreRefused() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let crm = try await Self.client(client, admin: server.tenantA.key, scopes: ["agents:read"])
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            let issued = try await client.call(.post, "/oauth/token", key: nil, body: "grant_type=client_credentials&client_id=\(crm.id)&client_secret=\(crm.secret)", headers: form)
            let token = try #require(issued["access_token"]?.string)
            // PyJWT forges: alg none, HS256 keyed with the public JWKS (HS/ES confusion), a changed
            // payload under the real signature, and a token with our kid signed by another EC key.
            let forge = """
                import sys, json, base64, jwt
                from cryptography.hazmat.primitives.asymmetric import ec
                token = sys.argv[1]
                header = jwt.get_unverified_header(token)
                claims = jwt.decode(token, options={"verify_signature": False})
                def b64(data): return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
                none = b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode()) + "." + b64(json.dumps(claims).encode()) + "."
                hs = jwt.encode(claims, "not-the-key", algorithm="HS256", headers={"kid": header["kid"]})
                parts = token.split(".")
                widened = dict(claims, scope="admin")
                tampered = parts[0] + "." + b64(json.dumps(widened).encode()) + "." + parts[2]
                other = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": header["kid"], "typ": "at+jwt"})
                print("\\n".join([none, hs, tampered, other]))
                """
            let forged = try await PythonScript.run(forge, [token])
            #expect(forged.status == 0, "\(forged)")
            let tokens = forged.output.split(separator: "\n").map(String.init)
            #expect(tokens.count == 4)
            var details: [String] = []
            for forgery in tokens {
                let answer = try await client.call(.get, "/api/v1/agents", key: forgery)
                #expect(answer.status == .unauthorized, "\(forgery)")
                details.append(answer["detail"]?.string ?? "")
            }
            #expect(details == [
                "Access tokens of this server are signed with ES256.", "Access tokens of this server are signed with ES256.",
                "The access token's signature does not verify.", "The access token's signature does not verify.",
            ])
            #expect(try await client.call(.get, "/api/v1/agents", key: token).status == .ok)
        }
    }
}
