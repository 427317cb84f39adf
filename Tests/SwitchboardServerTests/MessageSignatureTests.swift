import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardServer
import Testing

@Suite(.timeLimit(.minutes(5))) struct MessageSignatureTests {
    /// The `http-message-signatures` package signs with both algorithms over `requests`; prints each
    /// probe's status code.
    static let probes = """
        import sys, json, uuid, datetime, requests
        from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms
        from cryptography.hazmat.primitives.asymmetric import ed25519
        base, hmac_id, hmac_secret, ed_id, ed_private = sys.argv[1:6]
        keys = {hmac_id: hmac_secret.encode(), ed_id: ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(ed_private))}
        class Resolver(HTTPSignatureKeyResolver):
            def resolve_private_key(self, key_id): return keys[key_id]
            def resolve_public_key(self, key_id): raise NotImplementedError
        def signed(method, path, key_id, algorithm, body=None, nonce=True, created=None, tamper=False):
            request = requests.Request(method, base + path, json=body).prepare()
            HTTPMessageSigner(signature_algorithm=algorithm, key_resolver=Resolver()).sign(
                request, key_id=key_id, label="sig1", nonce=str(uuid.uuid4()) if nonce else None, created=created,
                covered_component_ids=("@method", "@target-uri"), body=request.body)
            if tamper:
                request.body = json.dumps({"name": "Mallory"}).encode()
                request.headers["Content-Length"] = str(len(request.body))
            return request
        session = requests.Session()
        results = {}
        for name, key_id, algorithm in (("hmac", hmac_id, algorithms.HMAC_SHA256), ("ed25519", ed_id, algorithms.ED25519)):
            create = signed("POST", "/api/v1/agents", key_id, algorithm, body={"name": "Signed " + name})
            results[name + "_post"] = session.send(create).status_code
            results[name + "_replay"] = session.send(create).status_code
            results[name + "_get"] = session.send(signed("GET", "/api/v1/agents?limit=5", key_id, algorithm)).status_code
            old = datetime.datetime.now() - datetime.timedelta(seconds=600)
            results[name + "_stale"] = session.send(signed("GET", "/api/v1/agents", key_id, algorithm, created=old)).status_code
            results[name + "_no_nonce"] = session.send(signed("GET", "/api/v1/agents", key_id, algorithm, nonce=False)).status_code
            results[name + "_tampered"] = session.send(signed("POST", "/api/v1/agents", key_id, algorithm, body={"name": "x"}, tamper=True)).status_code
        print(json.dumps(results))
        """

    @Test func requestsSignedWithHMACAndEd25519AreAcceptedAndReplayedStaleOrTamperedOnesRefused() async throws {
        let server = try await TestServer.make()
        try await server.run { client in
            let admin = server.tenantA.key
            let apiKey = try #require(
                try await client.call(.post, "/api/v1/api-keys", key: admin, json: ["name": "signer", "scopes": ["agents:read", "agents:write"]])["id"]?.string
            )
            let hmac = try await client.call(.post, "/api/v1/api-keys/\(apiKey)/signature-keys", key: admin, json: ["algorithm": "hmac-sha256"])
            #expect(hmac.status == .created)
            let (hmacID, hmacSecret) = (try #require(hmac["keyid"]?.string), try #require(hmac["secret"]?.string))
            let privateKey = Curve25519.Signing.PrivateKey()
            let ed = try await client.call(
                .post,
                "/api/v1/api-keys/\(apiKey)/signature-keys",
                key: admin,
                json: ["algorithm": "ed25519", "public_key": .string(privateKey.publicKey.rawRepresentation.base64EncodedString())]
            )
            #expect(ed.status == .created && ed["secret"] == nil)
            let edID = try #require(ed["keyid"]?.string)
            let listed = try await client.call(.get, "/api/v1/api-keys/\(apiKey)/signature-keys", key: admin)["data"]?.array ?? []
            #expect(Set(listed.compactMap { $0["keyid"]?.string }) == [hmacID, edID] && listed.allSatisfy { $0["secret"] == nil })
            let badKey = try await client.call(.post, "/api/v1/api-keys/\(apiKey)/signature-keys", key: admin, json: ["algorithm": "ed25519", "public_key": "AAAA"])
            #expect(badKey.status == .unprocessableContent && badKey["field"]?.string == "public_key")

            let port = try #require(client.port)
            let hex = privateKey.rawRepresentation.map { String(format: "%02x", $0) }.joined()
            let outcome = try await PythonScript.run(Self.probes, ["http://127.0.0.1:\(port)", hmacID, hmacSecret, edID, hex])
            #expect(outcome.status == 0, "\(outcome)")
            guard case .object(let results) = try JSONDecoder().decode(JSONValue.self, from: Data(outcome.output.utf8)) else { return }
            for name in ["hmac", "ed25519"] {
                #expect(results["\(name)_post"] == 201, "\(name)")
                #expect(results["\(name)_get"] == 200, "\(name)")
                for refused in ["replay", "stale", "no_nonce", "tampered"] {
                    #expect(results["\(name)_\(refused)"] == 401, "\(name) \(refused)")
                }
            }
            let agents = (try await client.call(.get, "/api/v1/agents", key: admin)["data"]?.array ?? []).compactMap { $0["name"]?.string }
            #expect(agents.sorted() == ["Signed ed25519", "Signed hmac"], "the tampered bodies never landed")

            let reasons = (try await SecurityTests.audit(client, admin: admin, action: "auth.failed", count: 8)).compactMap { $0["detail"]?["reason"]?.string }
            #expect(reasons.filter { $0 == "replayed" }.count == 2 && reasons.filter { $0 == "stale" }.count == 2)
            #expect(reasons.filter { $0 == "bad_digest" }.count == 2 && reasons.filter { $0 == "malformed" }.count == 2)

            // Deleting a signing key stops it at once.
            #expect(try await client.call(.delete, "/api/v1/api-keys/\(apiKey)/signature-keys/\(hmacID)", key: admin).status == .noContent)
            let again = try await PythonScript.run(Self.probes, ["http://127.0.0.1:\(port)", hmacID, hmacSecret, edID, hex])
            #expect(again.output.contains(#""hmac_get": 401"#) && again.output.contains(#""ed25519_get": 200"#), "\(again)")
        }
    }
}
