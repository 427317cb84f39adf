import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardCore
import SwitchboardPluginHost

/// Sends one delivery attempt: Standard Webhooks headers, the endpoint's timeout, the SSRF guard checked
/// again before connecting (to the checked address), and the outcome classified for retry.
///
/// | answer | result |
/// | --- | --- |
/// | 2xx within the timeout | succeeded |
/// | 408, 429 (after `Retry-After` when given), 5xx, timeout, connection error, refused address | retried |
/// | any other status (3xx, 4xx) | failed, not retried |
struct WebhookSender: Sendable {
    let client: OutboundHTTPClient
    let policy: OutboundAddressPolicy

    /// The outcome of an attempt.
    struct Outcome: Sendable {
        var attempt: WebhookAttempt
        var isSuccess: Bool
        var isRetryable: Bool
        /// The receiver's `Retry-After`, when it sent one.
        var retryAfter: Duration?
    }

    /// Posts `delivery` to `webhook`, signed with every secret in `secrets`.
    func send(_ delivery: WebhookDelivery, to webhook: Webhook, secrets: [String], now: Date = Date()) async -> Outcome {
        await post(id: delivery.id, payload: delivery.payload, url: webhook.url, timeoutMilliseconds: webhook.timeoutMilliseconds, secrets: secrets, now: now)
    }

    /// Whether the receiver at `url` echoes a challenge: `{"type": "url_verification", "challenge"}` is
    /// posted, signed like every delivery, and the answer must be 2xx with the same challenge, as the
    /// body or its `challenge` field.
    func verifyOwnership(url: String, secret: String, timeoutMilliseconds: Int) async -> Outcome {
        let challenge = APIKeySecret.randomText(count: 32)
        let payload = Array(#"{"type":"url_verification","challenge":"\#(challenge)"}"#.utf8)
        var outcome = await post(id: "msg_" + TimeOrderedIDGenerator.shared.make(), payload: payload, url: url, timeoutMilliseconds: timeoutMilliseconds, secrets: [secret])
        let body = outcome.attempt.responseBody ?? ""
        let echoed = (try? SwitchboardJSON.decode([String: String].self, from: body))?["challenge"] ?? body.trimmingCharacters(in: .whitespacesAndNewlines)
        outcome.isSuccess = outcome.isSuccess && echoed == challenge
        return outcome
    }

    private func post(id: String, payload: [UInt8], url: String, timeoutMilliseconds: Int, secrets: [String], now: Date = Date()) async -> Outcome {
        let start = ContinuousClock.now
        func failure(_ error: String) -> Outcome {
            Outcome(attempt: attempt(now, start, code: nil, error: error, body: nil), isSuccess: false, isRetryable: true, retryAfter: nil)
        }
        let timestamp = Int64(now.timeIntervalSince1970)
        let signatures = secrets.compactMap { WebhookSignature.sign(id: id, timestamp: timestamp, body: payload, secret: $0) }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "switchboard-webhooks/1")
        request.headers.add(name: "webhook-id", value: id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature", value: signatures.joined(separator: " "))
        request.body = .bytes(ByteBuffer(bytes: payload))
        do {
            return try await client.execute(request, policy: policy, timeout: .milliseconds(Int64(timeoutMilliseconds))) { response in
                var body = ByteBuffer()
                for try await var chunk in response.body where body.readableBytes < 1_024 {
                    body.writeBuffer(&chunk)
                }
                let code = Int(response.status.code)
                let text = String(buffer: body).prefix(1_024)
                // A receiver's Retry-After is honoured up to a day: it is a number from outside.
                let retryAfter = response.headers.first(name: "retry-after").flatMap(Int.init).map { Duration.seconds(min(max($0, 0), 86_400)) }
                return Outcome(
                    attempt: attempt(now, start, code: code, error: nil, body: String(text)),
                    isSuccess: (200..<300).contains(code),
                    isRetryable: code == 408 || code == 429 || code >= 500,
                    retryAfter: code == 429 ? retryAfter : nil
                )
            }
        } catch let refusal as OutboundHTTPClient.Refusal {
            return failure(refusal.description)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return failure("timed out after \(timeoutMilliseconds) ms")
        } catch {
            return failure("the request failed: \(error)")
        }
    }

    private func attempt(_ at: Date, _ start: ContinuousClock.Instant, code: Int?, error: String?, body: String?) -> WebhookAttempt {
        WebhookAttempt(at: at, statusCode: code, latencyMilliseconds: Int((ContinuousClock.now - start) / .milliseconds(1)), error: error, responseBody: body)
    }
}
