// crm-tryton: customers and orders from a Tryton ERP (party and sale modules) over its JSON-RPC API.
//
// `crm.lookup_customer` finds the party whose code is the visitor's external id (or the customer id
// stored before, or a contact mechanism equal to the known phone or email), and answers it with its
// newest sales. `crm.push_customer` creates or updates the party whose code is the customer id; every
// `customer.synced` event of a customer written over Switchboard's API (source "api") is pushed that
// way, durably: the host redelivers the event until the push succeeded. Parties are customers
// (customer_id = the party's code), sales are orders. All HTTP goes through the host's client.
import CSwitchboardPlugin
import Foundation
import PluginKit
import Synchronization

private let manifest: StaticString = """
    {"id":"crm-tryton","version":"1.0.0","name":"Tryton CRM",
    "description":"Looks customers (parties) and their orders (sales) up in Tryton over JSON-RPC.",
    "capabilities":["crm","event_listener"],"events":["customer.synced"],"services":["log","http"],
    "call_timeout_ms":20000,"http_timeout_ms":8000,
    "config_schema":{"type":"object","additionalProperties":false,"required":["url","database","username","password"],
      "properties":{
        "url":{"type":"string","pattern":"^https?://[^/?#]+(/[^?#]*[^/?#])?/?$","description":"Tryton's base URL, e.g. http://erp:8000"},
        "database":{"type":"string","pattern":"^[A-Za-z0-9_.-]{1,64}$"},
        "username":{"type":"string","minLength":1,"maxLength":200},
        "password":{"type":"string","minLength":1,"maxLength":1024,"writeOnly":true},
        "order_limit":{"type":"integer","minimum":1,"maximum":50,"default":10,"description":"Newest sales answered per customer."}}}}
    """

/// One tenant's instance: where Tryton is, its session, and how the last request went.
private final class Instance: @unchecked Sendable {
    // @unchecked: `context` is immutable and the ABI lets host services use it from any thread; the
    // rest is behind mutexes.
    struct Settings {
        var endpoint: String
        var username: String
        var password: String
        var orderLimit: Int
    }

    let context: OpaquePointer
    let settings: Mutex<Settings>
    /// `Authorization: Session …` of the current login.
    let session = Mutex<String?>(nil)
    let lastOutcome = LastOutcome()

    init(context: OpaquePointer, settings: Settings) {
        self.context = context
        self.settings = Mutex(settings)
    }

    static func settings(_ config: [String: Any]) -> Settings {
        let url = (config["url"] as? String ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return Settings(
            endpoint: "\(url)/\(config["database"] as? String ?? "")/",
            username: config["username"] as? String ?? "",
            password: config["password"] as? String ?? "",
            orderLimit: config["order_limit"] as? Int ?? 10
        )
    }
}

/// Why a JSON-RPC call did not give a result.
private enum RPCFailure: Error {
    /// Tryton could not be reached or answered HTTP 5xx: retry later.
    case unavailable(String)
    /// The session expired or was refused.
    case notLoggedIn
    /// Tryton answered an error for this call.
    case refused(String)
    /// Tryton's validation refused the data (a `UserError`): sending it again fails again.
    case invalid(String)

    var message: String {
        switch self {
        case .unavailable(let message), .refused(let message), .invalid(let message): message
        case .notLoggedIn: "Tryton refused the session"
        }
    }
}

/// One JSON-RPC call (`params` as JSON text) through the host's HTTP client; `done` runs once with the
/// result or the failure.
private func rpc(_ current: Instance, _ method: String, _ params: String, done: @escaping @Sendable (Result<Any, RPCFailure>) -> Void) {
    let settings = current.settings.withLock { $0 }
    var headers = ["Content-Type": "application/json"]
    if let session = current.session.withLock({ $0 }) { headers["Authorization"] = session }
    let body = "{\"id\":1,\"method\":\(json([method]).dropFirst().dropLast()),\"params\":\(params)}"
    let started = httpRequest(current.context, method: "POST", url: settings.endpoint, headers: headers, body: body) { answer in
        if let failure = answer.failure { return done(.failure(.unavailable("Tryton: \(failure)"))) }
        if answer.code == 401 || answer.code == 403 { return done(.failure(.notLoggedIn)) }
        guard (200..<300).contains(answer.code), let reply = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any] else {
            return done(.failure(.unavailable("Tryton answered HTTP \(answer.code)")))
        }
        if let error = reply["error"] {
            let message = "Tryton refused \(method): \(String(describing: error).prefix(300))"
            let validation = (error as? [Any])?.first as? String == "UserError"
            return done(.failure(validation ? .invalid(message) : .refused(message)))
        }
        done(.success(reply["result"] ?? NSNull()))
    }
    if !started { done(.failure(.unavailable("cannot start a request to Tryton"))) }
}

/// `rpc` with a session: logs in first when there is none, and once more when Tryton refused it.
private func authenticated(_ current: Instance, _ method: String, _ params: String, retried: Bool = false, done: @escaping @Sendable (Result<Any, RPCFailure>) -> Void) {
    guard current.session.withLock({ $0 }) != nil else {
        let settings = current.settings.withLock { $0 }
        rpc(current, "common.db.login", json([settings.username, ["password": settings.password], "en"])) { result in
            switch result {
            case .success(let value):
                guard let pair = value as? [Any], pair.count == 2, let user = pair[0] as? Int, let key = pair[1] as? String else {
                    return done(.failure(.refused("Tryton's login answer is not [user, session]")))
                }
                let token = Data("\(settings.username):\(user):\(key)".utf8).base64EncodedString()
                current.session.withLock { $0 = "Session \(token)" }
                authenticated(current, method, params, retried: true, done: done)
            case .failure(.refused(let message)):
                done(.failure(.refused("Tryton refused the login: \(message)")))
            case .failure(let failure):
                done(.failure(failure))
            }
        }
        return
    }
    rpc(current, method, params) { result in
        if case .failure(.notLoggedIn) = result, !retried {
            current.session.withLock { $0 = nil }
            return authenticated(current, method, params, retried: true, done: done)
        }
        done(result)
    }
}

/// A Tryton `Decimal`, `date` or plain number as a Swift value.
private func decimal(_ value: Any?) -> Double? {
    if let number = value as? NSNumber { return number.doubleValue }
    guard let tagged = value as? [String: Any], tagged["__class__"] as? String == "Decimal" else { return nil }
    return (tagged["decimal"] as? String).flatMap(Double.init)
}

private func unixTime(_ value: Any?) -> Int? {
    guard let date = value as? [String: Any], let year = date["year"] as? Int, let month = date["month"] as? Int, let day = date["day"] as? Int else {
        return nil
    }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return calendar.date(from: DateComponents(year: year, month: month, day: day)).map { Int($0.timeIntervalSince1970) }
}

private func lookup(_ current: Instance, _ callID: sb_call_id, _ args: [String: Any]) -> sb_status {
    var domain: [Any] = []
    if let external = args["external_id"] as? String, !external.isEmpty {
        domain = [["code", "=", external]]
    } else if let known = args["customer_id"] as? String, !known.isEmpty {
        domain = [["code", "=", known]]
    } else {
        let contacts = [args["phone"], args["email"]].compactMap { $0 as? String }.filter { !$0.isEmpty }
        guard !contacts.isEmpty else {
            complete(current.context, callID, SB_NOT_FOUND, "nothing to look the visitor up by")
            return SB_PENDING
        }
        domain = [["contact_mechanisms.value", "in", contacts]]
    }
    let limit = current.settings.withLock { $0.orderLimit }
    let partyFields = ["id", "code", "name", "phone", "email", "categories"]
    authenticated(current, "model.party.party.search_read", json([domain, 0, 1, NSNull(), partyFields, [String: Any]()])) { result in
        guard case .success(let value) = result else { return fail(current, callID, result) }
        guard let party = (value as? [[String: Any]])?.first, let partyID = party["id"] as? Int else {
            return complete(current.context, callID, SB_NOT_FOUND, "no Tryton party matches")
        }
        let categories = party["categories"] as? [Int] ?? []
        var fields: [String: String] = ["customer_id": (party["code"] as? String) ?? "tryton-party-\(partyID)", "external_id": String(partyID)]
        for field in ["name", "phone", "email"] { fields[field] = party[field] as? String }
        let customer = fields
        let saleFields = ["id", "number", "state", "total_amount", "sale_date", "currency.code"]
        let order: [Any] = [["sale_date", "DESC"], ["id", "DESC"]]
        authenticated(current, "model.sale.sale.search_read", json([[["party", "=", partyID]], 0, limit, order, saleFields, [String: Any]()])) { result in
            guard case .success(let value) = result else { return fail(current, callID, result) }
            let orders: [[String: Any]] = (value as? [[String: Any]] ?? []).compactMap { sale in
                guard let id = sale["id"] as? Int, let amount = decimal(sale["total_amount"]) else { return nil }
                var order: [String: Any] = [
                    "order_id": (sale["number"] as? String) ?? "tryton-sale-\(id)", "amount": amount, "status": sale["state"] as? String ?? "draft",
                ]
                order["currency"] = (sale["currency."] as? [String: Any])?["code"] as? String
                order["create_time"] = unixTime(sale["sale_date"])
                return order
            }
            let ordersJSON = json(orders)
            let finish: @Sendable ([String]) -> Void = { tags in
                let customerJSON = json((customer as [String: Any]).merging(["tags": tags]) { $1 })
                current.lastOutcome.record(ok: true, "Tryton answered")
                complete(current.context, callID, SB_OK, "{\"customer\":\(customerJSON),\"orders\":\(ordersJSON)}")
            }
            guard !categories.isEmpty else { return finish([]) }
            authenticated(current, "model.party.category.read", json([categories, ["name"], [String: Any]()])) { result in
                guard case .success(let value) = result else { return fail(current, callID, result) }
                finish((value as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
            }
        }
    }
    return SB_PENDING
}

/// Creates the party whose code is `customer_id`, or renames it and adds the phone and email it lacks.
private func push(_ current: Instance, _ customer: [String: Any], done: @escaping @Sendable (Result<String, RPCFailure>) -> Void) {
    guard let code = customer["customer_id"] as? String, !code.isEmpty else { return done(.failure(.refused("push needs customer_id"))) }
    let name = customer["name"] as? String
    let contacts = [("phone", customer["phone"] as? String), ("email", customer["email"] as? String)].compactMap { type, value in
        value.map { [type, $0] }
    }
    authenticated(current, "model.party.party.search_read", json([[["code", "=", code]], 0, 1, NSNull(), ["id", "name", "phone", "email"], [String: Any]()])) {
        result in
        guard case .success(let value) = result else {
            if case .failure(let failure) = result { done(.failure(failure)) }
            return
        }
        guard let party = (value as? [[String: Any]])?.first, let id = party["id"] as? Int else {
            let mechanisms = contacts.map { ["type": $0[0], "value": $0[1]] }
            let created = json([[["name": name ?? code, "code": code, "contact_mechanisms": [["create", mechanisms]]]], [String: Any]()])
            return authenticated(current, "model.party.party.create", created) { result in
                done(result.map { "{\"external_id\":\"\((($0 as? [Int])?.first).map(String.init) ?? "")\",\"created\":true}" })
            }
        }
        let missing = contacts.filter { party[$0[0]] as? String != $0[1] }.map { ["party": id, "type": $0[0], "value": $0[1]] as [String: Any] }
        let missingJSON = missing.isEmpty ? nil : json([missing, [String: Any]()])
        let answer = "{\"external_id\":\"\(id)\",\"created\":false}"
        let addContacts: @Sendable () -> Void = {
            guard let missingJSON else { return done(.success(answer)) }
            authenticated(current, "model.party.contact_mechanism.create", missingJSON) { result in done(result.map { _ in answer }) }
        }
        guard let name, name != party["name"] as? String else { return addContacts() }
        authenticated(current, "model.party.party.write", json([[id], ["name": name], [String: Any]()])) { result in
            guard case .failure(let failure) = result else { return addContacts() }
            done(.failure(failure))
        }
    }
}

private func fail(_ current: Instance, _ callID: sb_call_id, _ result: Result<Any, RPCFailure>) {
    guard case .failure(let failure) = result else { return }
    current.lastOutcome.record(ok: false, failure.message)
    complete(current.context, callID, SB_UNAVAILABLE, failure.message)
}

@_cdecl("sb_plugin_manifest_v1")
public func manifestEntry() -> sb_str { PluginKit.manifest(manifest) }

@_cdecl("sb_plugin_init_v1")
public func initEntry(_ hostAPI: UnsafePointer<sb_host_api>, _ plugin: UnsafeMutablePointer<sb_plugin_api>) -> sb_status {
    var api = sb_plugin_api()
    api.create = { context, _, config, out, _ in
        out!.pointee = PluginKit.retained(Instance(context: context!, settings: Instance.settings(object(config) ?? [:])))
        return SB_OK
    }
    api.reconfigure = { pointer, config, _ in
        let current = PluginKit.instance(pointer, as: Instance.self)
        current.settings.withLock { $0 = Instance.settings(object(config) ?? [:]) }
        current.session.withLock { $0 = nil }
        return SB_OK
    }
    api.destroy = { PluginKit.release($0) }
    api.call = { pointer, callID, op, args, result in
        guard let arguments = object(args) else {
            result!.pointee = handOver("arguments must be a JSON object")
            return SB_INVALID
        }
        let current = PluginKit.instance(pointer, as: Instance.self)
        switch text(op) {
        case "crm.lookup_customer":
            return lookup(current, callID, arguments)
        case "crm.push_customer":
            push(current, arguments) { outcome in
                switch outcome {
                case .success(let answer): complete(current.context, callID, SB_OK, answer)
                case .failure(let failure): fail(current, callID, .failure(failure))
                }
            }
            return SB_PENDING
        default:
            return SB_NOT_FOUND
        }
    }
    // Pushes customers written over the API; waits for Tryton (bounded by the host's call timeout),
    // and a failure makes the host deliver the event again with backoff.
    api.on_event = { pointer, event in
        guard let envelope = object(event), envelope["event"] as? String == "customer.synced",
            let data = envelope["data"] as? [String: Any], data["source"] as? String == "api"
        else { return SB_OK }
        let current = PluginKit.instance(pointer, as: Instance.self)
        let customerID = data["customer_id"] as? String ?? "?"
        let finished = DispatchSemaphore(value: 0)
        let outcome = Mutex<sb_status>(SB_TIMEOUT)
        push(current, data) { result in
            if case .failure(let failure) = result {
                current.lastOutcome.record(ok: false, failure.message)
                log(current.context, SB_LOG_WARNING, "push of \(customerID) failed: \(failure.message)")
            }
            // A record Tryton's validation refuses is dropped (logged, and shown by health) rather than
            // holding up every later event; anything else is retried.
            outcome.withLock {
                switch result {
                case .success: $0 = SB_OK
                case .failure(.invalid): $0 = SB_INVALID
                case .failure: $0 = SB_UNAVAILABLE
                }
            }
            finished.signal()
        }
        finished.wait()
        return outcome.withLock { $0 }
    }
    api.health = { pointer, detail in PluginKit.instance(pointer, as: Instance.self).lastOutcome.health(detail) }
    return PluginKit.start(host: hostAPI, plugin: plugin, api: api)
}
