/// Every error code the server reports, with where it appears and what it means: the one catalogue.
///
/// REST errors are problem documents (`code`, with the HTTP status listed here); `/ws` reports its
/// errors as `error` frames; the OAuth token routes answer RFC 6749's `error`; the CLI prints the code
/// with its message. The served OpenAPI document carries the catalogue (`x-error-codes`, and the enum of
/// `Problem.code`), and the README's table is checked against it (`ErrorCatalogueTests`), as is every
/// code written in the sources.
enum ErrorCatalogue {
    struct Entry: Equatable, Sendable {
        let code: String
        /// Where it appears, comma-separated: the HTTP statuses of its problem documents ("404", "4xx"),
        /// "WebSocket frame", "OAuth" and its statuses, "CLI", or "log".
        let status: String
        let meaning: String

        /// Whether a problem document (REST) carries it.
        var isProblem: Bool {
            status.split(separator: ", ").contains { $0 == "4xx" || ($0.count == 3 && $0.allSatisfy(\.isNumber)) }
        }
    }

    /// The resources whose `<resource>_not_found` answers 404 for the path's id; those in
    /// `referencedResources` also answer 422 when a request field names one the tenant lacks.
    static let resources = [
        "agent", "api_key", "conversation", "customer", "delivery", "integration", "message", "oauth_client", "order",
        "parked_event", "plugin_value", "signature_key", "tenant", "ticket", "token_issuer", "visitor", "webhook",
    ]
    static let referencedResources: Set<String> = ["agent", "conversation", "customer", "visitor"]

    /// What a plugin's status becomes when `POST /integrations/{plugin}/call` fails (`plugin_<status>`).
    static let pluginStatuses: [(status: String, http: Int)] = [
        ("not_found", 404), ("invalid", 422), ("denied", 403), ("conflict", 409), ("timeout", 504), ("unavailable", 503),
        ("unsupported", 501), ("internal", 502),
    ]

    static let entries: [Entry] = (fixed + notFound + plugin).sorted { $0.code < $1.code }

    private static let notFound = resources.map { resource in
        Entry(
            code: "\(resource)_not_found",
            status: referencedResources.contains(resource) ? "404, 422" : "404",
            meaning: "No \(resource.replacingOccurrences(of: "_", with: " ")) with this id exists for the tenant"
                + (referencedResources.contains(resource) ? " (422: a request field names one)." : ".")
        )
    }

    private static let plugin = pluginStatuses.map { status, http in
        Entry(
            code: "plugin_\(status)",
            status: "\(http)",
            meaning: (status == "not_found" ? "No loaded plugin has this id, or the" : "The")
                + " plugin answered '\(status)' to the call; its message is the detail."
        )
    }

    private static let fixed: [Entry] = [
        Entry(code: "access_token_not_found", status: "404", meaning: "The token to revoke is not an access token of this tenant."),
        Entry(code: "access_token_required", status: "403", meaning: "Sign-out needs the access token itself as the bearer credential."),
        Entry(code: "address_not_allowed", status: "403", meaning: "The credential may not be used from this client address."),
        Entry(code: "agent_deleted", status: "409", meaning: "The agent was deleted and can no longer change."),
        Entry(code: "api_key_revoked", status: "409", meaning: "The key is revoked and can no longer change."),
        Entry(code: "auth_provider_invalid", status: "503", meaning: "The directory plugin answered an invalid principal."),
        Entry(code: "auth_provider_unavailable", status: "503", meaning: "The directory cannot check credentials now; retry."),
        Entry(code: "binary_frame", status: "WebSocket frame", meaning: "A binary frame was sent; send JSON text frames."),
        Entry(code: "body_too_large", status: "413", meaning: "The request body exceeds the server's limit."),
        Entry(code: "conversation_closed", status: "409", meaning: "The conversation is closed: no message or change."),
        Entry(code: "copy_refused", status: "CLI", meaning: "`db copy` refused: the target is not empty, or the schemas differ."),
        Entry(code: "credential_not_manageable", status: "403", meaning: "The key or client holds a scope or freedom the caller lacks."),
        Entry(code: "crm_failed", status: "503", meaning: "The CRM plugin failed to look the customer up."),
        Entry(code: "crm_invalid", status: "503", meaning: "The CRM plugin answered without a customer id."),
        Entry(code: "database_unavailable", status: "503", meaning: "The database cannot serve the request now; retry (Retry-After)."),
        Entry(code: "directory_credentials_required", status: "403", meaning: "Directory sign-in needs Basic credentials of a directory user."),
        Entry(code: "event_expired", status: "409", meaning: "The parked event is no longer in the log; drop it."),
        Entry(code: "events_expired", status: "410", meaning: "The events asked for are past the log's retention; resync over REST."),
        Entry(code: "http_error", status: "4xx", meaning: "The request is not valid HTTP for this route; the status says how."),
        Entry(code: "idempotency_key_reused", status: "422", meaning: "The Idempotency-Key was used with a different request."),
        Entry(code: "inbound_invalid", status: "422", meaning: "The integration refused the inbound request."),
        Entry(code: "inbound_not_found", status: "404", meaning: "No integration of the tenant takes inbound requests here."),
        Entry(code: "inbound_unavailable", status: "503", meaning: "The integration cannot take the inbound request now; retry."),
        Entry(code: "inbound_unverified", status: "401", meaning: "The integration did not verify the inbound request."),
        Entry(code: "integration_not_enabled", status: "409", meaning: "The integration is not enabled for the tenant."),
        Entry(code: "integration_unavailable", status: "503", meaning: "The integration is failing; its circuit breaker is open."),
        Entry(code: "internal_error", status: "500, WebSocket frame", meaning: "The server failed to handle the request; the log has the cause."),
        Entry(code: "invalid_client", status: "OAuth 400/401/429", meaning: "The OAuth client is unknown, its secret wrong, or it is revoked."),
        Entry(code: "invalid_config", status: "422", meaning: "The integration's config does not match the plugin's schema."),
        Entry(code: "invalid_database_url", status: "CLI", meaning: "database.url is not a postgres:// URL the server can use."),
        Entry(code: "invalid_field", status: "422", meaning: "A field of the body has an invalid value or type (`field` names it)."),
        Entry(code: "invalid_frame", status: "WebSocket frame", meaning: "The frame is not a JSON object with a string type."),
        Entry(code: "invalid_idempotency_key", status: "400", meaning: "Idempotency-Key is not 1 to 255 ASCII characters."),
        Entry(code: "invalid_json", status: "400", meaning: "The body is not valid JSON (or not an object where one is needed)."),
        Entry(code: "invalid_parameter", status: "400", meaning: "A query or path parameter is invalid (`field` names it)."),
        Entry(code: "invalid_request", status: "OAuth 400, 400", meaning: "An OAuth form or a WebSocket upgrade request is malformed."),
        Entry(code: "invalid_scope", status: "OAuth 400", meaning: "The scope asked for is not a subset of the client's."),
        Entry(code: "invalid_value", status: "422", meaning: "The database cannot hold a value of the request (a NUL character)."),
        Entry(code: "issuer_taken", status: "409", meaning: "Another token issuer of the tenant has this issuer URL."),
        Entry(code: "message_deleted", status: "409", meaning: "The message was deleted and can no longer change."),
        Entry(code: "method_not_allowed", status: "405", meaning: "The path exists but not with this method; Allow lists those it has."),
        Entry(code: "metrics_disabled", status: "404", meaning: "GET /metrics is off: no metrics token is configured."),
        Entry(code: "missing_body", status: "400", meaning: "The route needs a JSON body and none was sent."),
        Entry(code: "missing_field", status: "422", meaning: "A required field is absent (`field` names it)."),
        Entry(code: "missing_scope", status: "403, WebSocket frame", meaning: "The credential lacks the scope the route needs (`required_scope`)."),
        Entry(code: "not_an_agent", status: "WebSocket frame", meaning: "Only an agent's own connection sets its status."),
        Entry(code: "not_caught_up", status: "503", meaning: "GET /ready: this server's realtime delivery is behind the log."),
        Entry(code: "not_message_author", status: "403", meaning: "Agents and visitors edit and delete only their own messages."),
        Entry(code: "not_sqlite", status: "CLI", meaning: "backup and restore work on the SQLite file only; use PostgreSQL's tools."),
        Entry(code: "op_reserved", status: "403", meaning: "The op is called by the server only (auth.verify)."),
        Entry(code: "ownership_not_verified", status: "422", meaning: "The webhook receiver did not echo the url_verification challenge."),
        Entry(code: "plugin_invalid_result", status: "502", meaning: "The plugin's result is not JSON."),
        Entry(code: "plugin_refused_config", status: "422", meaning: "The plugin refused the integration's config."),
        Entry(code: "rate_limited", status: "429", meaning: "A rate limit is spent; retry after Retry-After seconds."),
        Entry(code: "restriction_not_liftable", status: "403", meaning: "A new credential cannot be freer (expiry, networks, rate) than the caller's."),
        Entry(code: "resync_required", status: "WebSocket frame", meaning: "The events after since= are past retention; reload, then resume."),
        Entry(code: "route_not_found", status: "404", meaning: "No route matches the path."),
        Entry(code: "scope_not_grantable", status: "403", meaning: "A credential grants only scopes its creator holds."),
        Entry(code: "secret_key_missing", status: "503", meaning: "The server has no secret key to seal or open the integration's secrets."),
        Entry(code: "secret_required", status: "422", meaning: "A URL of the config changed: give its secret again."),
        Entry(code: "sender_not_principal", status: "403", meaning: "Agents and visitors send messages only as themselves."),
        Entry(code: "sink_failed", status: "log", meaning: "A statistics sink plugin failed to take a push; it is retried."),
        Entry(code: "statistics_forbidden", status: "403", meaning: "Only agents and integrations read statistics."),
        Entry(code: "storage_full", status: "507", meaning: "The database's disk is full: nothing was written; retry once freed."),
        Entry(code: "store_closed", status: "503", meaning: "The server is shutting down."),
        Entry(code: "ticket_sync_not_allowed", status: "403", meaning: "Only admins and integrations choose a ticket's id or sync its status."),
        Entry(code: "ticketing_failed", status: "503", meaning: "The ticketing plugin failed the operation."),
        Entry(code: "ticketing_invalid", status: "503", meaning: "The ticketing plugin answered without an external id."),
        Entry(code: "too_many_failed_authentications", status: "429", meaning: "Too many failed sign-ins from this address; retry later."),
        Entry(code: "unauthenticated", status: "401", meaning: "No valid credential: send an API key or a bearer token."),
        Entry(code: "unavailable", status: "WebSocket frame", meaning: "The event log or the store cannot serve the frame now."),
        Entry(code: "unknown_field", status: "422", meaning: "The body has a field the route does not accept (`field` names it)."),
        Entry(code: "unknown_frame", status: "WebSocket frame", meaning: "The frame's type is not one the server knows."),
        Entry(code: "unsupported_grant_type", status: "OAuth 400", meaning: "Only grant_type=client_credentials is supported."),
        Entry(code: "upgrade_refused", status: "4xx", meaning: "The WebSocket upgrade was refused (the status says why)."),
        Entry(code: "upgrade_required", status: "426", meaning: "GET /ws is a WebSocket: send the Upgrade handshake."),
        Entry(code: "url_not_allowed", status: "422", meaning: "The URL's host resolves to a loopback, private or reserved address."),
        Entry(code: "url_unresolvable", status: "422", meaning: "The URL's host does not resolve."),
        Entry(code: "version_conflict", status: "409", meaning: "A plugin's compare-and-set found another version stored."),
        Entry(code: "version_mismatch", status: "412", meaning: "If-Match does not name the resource's current version."),
        Entry(code: "visitor_exists", status: "409", meaning: "A visitor with this external_id already exists."),
    ]

    /// The catalogue as a Markdown table, as the README holds it.
    static var markdownTable: String {
        (["| code | status | meaning |", "| --- | --- | --- |"] + entries.map { "| `\($0.code)` | \($0.status) | \($0.meaning) |" })
            .joined(separator: "\n")
    }
}
