#!/usr/bin/env python3
"""Writes Sources/SwitchboardServer/Resources/openapi.json, the OpenAPI 3.1 document of REST v1.

Edit this file, not the JSON, then run: python3 scripts/openapi.py
With --check it writes nothing and fails when the JSON is not what this file generates (CI runs that).
OpenAPIDocumentTests checks that the document lists exactly the routes the server serves.
"""
import json
import pathlib
import sys

ID = {"type": "string", "format": "uuid", "description": "A time-ordered id (UUIDv7)."}
TIME = {"type": "string", "format": "date-time"}
SEED_TIME = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
             "description": "The seed's form, YYYY-MM-DD HH:MM:SS, in the tenant's time zone (GET /api/v1/settings)."}
# 1971 to 2099, every day of every month but February 29 (a leap day is taken too): a wall-clock time in
# any zone is then after 1970.
DATE = "(197[1-9]|19[89][0-9]|20[0-9][0-9])-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))"
CLOCK = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
EXTERNAL_TIME = {"oneOf": [
    {"type": "string", "pattern": f"^{DATE} {CLOCK}$", "description": "The seed's form, in the tenant's time zone."},
    {"type": "string", "pattern": f"^{DATE}[Tt]{CLOCK}([.][0-9]{{1,9}})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
     "description": "RFC 3339."},
    {"type": "integer", "minimum": 0, "maximum": 4102444800, "description": "Unix seconds."},
], "description": "A time from 1970 to 2099."}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties, required=(), additional=False, description=None):
    schema = {"type": "object", "properties": properties, "additionalProperties": additional}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


def enum(name, **extra):
    """A string whose values are the Swift definition's: the server sets `enum` from the list
    `OpenAPIDocument.enumerations` names `name` (x-enum), so the two cannot disagree."""
    return {"type": "string", "x-enum": name, **extra}
# (An object {"x-enum-map": name} becomes {value: value} for each value of the list.)


AGENT_STATUS = enum("AgentStatus")
AGENT_ROLE = enum("AgentRole")
CONVERSATION_STATUS = enum("ConversationStatus")
TICKET_STATUS = enum("TicketStatus")
TICKET_PRIORITY = enum("TicketPriority", default="normal")
PHONE = {"type": "string", "maxLength": 32, "pattern": "^([-+(). ]*[0-9]){3}[-0-9 +().]*$", "description": "At least three digits."}
EVENT_PATTERN = {"type": "string", "pattern": "^([*]|[a-z0-9_-]+([.][a-z0-9_-]+)*([.][*])?)$", "maxLength": 130,
                 "description": "An event type (message.received), a prefix pattern (message.*) or *."}
KEY = {"type": "string", "pattern": "^[A-Za-z0-9._:@-]{1,128}$", "description": "An id chosen by the tenant's own systems."}

STAT_METRICS = {"type": "object", "additionalProperties": {"type": ["number", "null"]},
                "description": "Metric name to value; an average with nothing to average is null."}
STAT_DIMENSION = {"type": "object", "properties": {"date": {"type": "string", "format": "date"},
                                                   "agent_id": {"type": ["string", "null"]}, "category": {"type": ["string", "null"]},
                                                   "channel": {"type": ["string", "null"]}}}

schemas = {
    "Problem": obj(
        {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": enum("ErrorCode", description="Stable machine-readable code, e.g. conversation_closed."),
            "field": {"type": "string", "description": "The request field or parameter that failed."},
            "instance": {"type": "string"},
            "request_id": {"type": "string"},
        },
        ["type", "title", "status", "detail", "code"],
        description="RFC 9457 problem details.",
    ),
    "StatisticsEntry": obj(
        {"type": {"type": "string"}, "metrics": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}, "minProperties": 1},
         "dimension": {**STAT_DIMENSION, "required": ["date"], "additionalProperties": False}},
        ["type", "metrics", "dimension"],
        description="The seed's push body; metrics and dimensions as GET /api/v1/statistics/types lists them.",
    ),
    "StatisticsReport": obj(
        {"type": {"type": "string"}, "start_date": {"type": "string", "format": "date"}, "end_date": {"type": "string", "format": "date"},
         "granularity": {"type": "string"}, "timezone": {"type": "string"}, "dimensions": {"type": "array", "items": {"type": "string"}},
         "rows": {"type": "array", "items": obj({"period": {**TIME, "description": "The period's start in timezone."},
                                                 "dimension": STAT_DIMENSION, "metrics": STAT_METRICS}, ["period", "dimension", "metrics"])},
         "totals": STAT_METRICS},
        ["type", "start_date", "end_date", "granularity", "timezone", "dimensions", "rows", "totals"],
    ),
    "StatisticsTypes": obj(
        {"types": {"type": "array", "items": obj({"name": {"type": "string"}, "summary": {"type": "string"}, "computed": {"type": "boolean"},
                                                  "metrics": {"type": "array", "items": {"type": "object"}}})},
         "dimensions": {"type": "array", "items": obj({"name": {"type": "string"}, "key": {"type": "string"}})}},
        ["types", "dimensions"],
    ),
    "Agent": obj(
        {
            "id": ID, "name": {"type": "string"}, "email": {"type": ["string", "null"]}, "role": AGENT_ROLE,
            "status": AGENT_STATUS, "max_concurrent": {"type": "integer"}, "created_at": TIME, "updated_at": TIME,
            "deleted_at": NULLABLE_TIME, "version": {"type": "integer", "description": "Also sent as the ETag."},
        },
        ["id", "name", "email", "role", "status", "max_concurrent", "created_at", "updated_at", "deleted_at", "version"],
    ),
    "AgentInput": obj(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 200}, "email": {"type": "string", "format": "email"},
            "role": AGENT_ROLE, "status": AGENT_STATUS, "max_concurrent": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
        description="POST requires name; PUT changes only the fields present.",
    ),
    "Visitor": obj(
        {"id": ID, "external_id": {"type": ["string", "null"]}, "name": {"type": ["string", "null"]}, "created_at": TIME},
        ["id", "external_id", "name", "created_at"],
    ),
    "VisitorInput": obj({"external_id": {"type": "string", "maxLength": 255}, "name": {"type": "string", "maxLength": 200}}),
    "Conversation": obj(
        {
            "id": ID, "visitor_id": ID, "agent_id": {"type": ["string", "null"], "format": "uuid"}, "status": CONVERSATION_STATUS,
            "channel": {"type": "string"}, "subject": {"type": ["string", "null"]}, "metadata": {"type": "object"},
            "created_at": TIME, "updated_at": TIME, "ended_at": NULLABLE_TIME, "version": {"type": "integer"},
        },
        ["id", "visitor_id", "agent_id", "status", "channel", "subject", "metadata", "created_at", "updated_at", "ended_at", "version"],
    ),
    "ConversationInput": obj(
        {
            "visitor_id": ID, "agent_id": {"type": ["string", "null"], "format": "uuid"}, "status": CONVERSATION_STATUS,
            "channel": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"}, "subject": {"type": "string", "maxLength": 500},
            "metadata": {"type": "object"},
        },
        description="POST requires visitor_id and takes status open or pending. PUT changes status (closed ends the "
        "conversation), agent_id (null unassigns), subject and metadata; visitor_id and channel cannot change.",
    ),
    "Message": obj(
        {
            "id": ID, "conversation_id": ID, "from": {"type": "string"}, "to": {"type": ["string", "null"]},
            "content": {"type": "string", "description": "Empty once deleted."}, "content_type": {"type": "string"},
            "client_message_id": {"type": ["string", "null"]}, "timestamp": {"type": "integer", "description": "Unix seconds."},
            "created_at": TIME, "edited_at": NULLABLE_TIME, "deleted_at": NULLABLE_TIME, "version": {"type": "integer"},
        },
        ["id", "conversation_id", "from", "to", "content", "content_type", "client_message_id", "timestamp", "created_at",
         "edited_at", "deleted_at", "version"],
    ),
    "MessageInput": obj(
        {
            "conversation_id": ID, "from": {"type": "string", "description": "The conversation's visitor id or agent id."},
            "to": {"type": "string"}, "content": {"type": "string", "minLength": 1, "maxLength": 65536},
            "content_type": {"type": "string", "default": "text/plain"},
            "client_message_id": {"type": "string", "description": "Repeating it in the conversation returns the original (200)."},
            "timestamp": {"type": "integer", "minimum": 0},
        },
        ["conversation_id", "from", "content"],
    ),
    "MessageUpdate": obj({"content": {"type": "string", "minLength": 1}}, ["content"]),
    "Event": obj(
        {
            "id": ID, "event": {"type": "string", "examples": ["message.received"]}, "version": {"type": "integer"},
            "tenant_id": ID, "seq": {"type": "integer", "description": "Gap-free per tenant, from 1."},
            "timestamp": {"type": "integer", "description": "Unix seconds."}, "data": {"type": "object"},
        },
        ["id", "event", "version", "tenant_id", "seq", "timestamp", "data"],
    ),
    "Status": obj({"status": {"type": "string"}}, ["status"]),
    "Integration": obj(
        {
            "plugin": {"type": "string"}, "version": {"type": "string"}, "name": {"type": ["string", "null"]},
            "description": {"type": ["string", "null"]},
            "capabilities": {"type": "array", "items": enum("PluginCapability")},
            "events": {"type": "array", "items": {"type": "string"}, "description": "Event type patterns the plugin receives."},
            "services": {"type": "array", "items": {"type": "string"}}, "abi": {"type": "string", "examples": ["1.0"]},
            "config_schema": {"type": "object", "description": "JSON Schema of config; writeOnly properties are secrets."},
            "enabled": {"type": "boolean"},
            "config": {"type": ["object", "null"], "description": "The stored config; secrets read as \"********\"."},
            "cursor": {"type": ["integer", "null"], "description": "The last event seq the plugin acknowledged."},
            "state": enum("IntegrationState"),
            "error": {"type": "string", "description": "Why an enabled integration has no instance (state failed)."},
            "health": {"type": ["object", "null"], "properties": {"status": {"type": "string"}, "detail": {"type": ["string", "null"]}}},
            "breaker": {"type": ["object", "null"], "properties": {
                "state": enum("BreakerState"), "consecutive_failures": {"type": "integer"}}},
        },
        ["plugin", "version", "capabilities", "events", "services", "abi", "config_schema", "enabled", "config", "cursor", "state",
         "health", "breaker"],
    ),
    "IntegrationSettings": obj(
        {"enabled": {"type": "boolean", "default": True},
         "config": {"type": "object", "description": "Validated against config_schema (422 names the field). "
                    "A secret sent back as \"********\" keeps its stored value; absent keeps the stored config."}},
    ),
    "Webhook": obj(
        {
            "id": ID, "tenant_id": ID, "url": {"type": "string", "format": "uri"},
            "events": {"type": "array", "items": {"type": "string"}, "examples": [["message.*", "conversation.created"]]},
            "description": {"type": ["string", "null"]}, "timeout_ms": {"type": "integer"},
            "max_in_flight": {"type": "integer", "description": "1: deliveries in event order; more: up to this many at once."},
            "enabled": {"type": "boolean"},
            "disabled_reason": {"type": ["string", "null"], "description": "Why the server disabled the endpoint."},
            "created_at": TIME, "updated_at": TIME, "version": {"type": "integer"},
            "secret": {"type": "string", "description": "Only in the answer to create: the whsec_ signing secret."},
            "breaker": {"type": ["object", "null"], "description": "Only in GET of one endpoint: its circuit breaker.",
                        "properties": {"state": enum("BreakerState"),
                                       "consecutive_failures": {"type": "integer"}}},
        },
        ["id", "tenant_id", "url", "events", "description", "timeout_ms", "max_in_flight", "enabled", "disabled_reason", "created_at", "updated_at", "version"],
    ),
    "WebhookInput": obj(
        {"url": {"type": "string", "description": "https:// (http:// with webhooks.allow_http); must not resolve to a private address."},
         "events": {"type": "array", "items": EVENT_PATTERN, "minItems": 1, "maxItems": 64},
         "description": {"type": "string"}, "timeout_ms": {"type": "integer", "minimum": 100, "maximum": 30000, "default": 10000},
         "max_in_flight": {"type": "integer", "minimum": 1, "maximum": 64, "default": 1},
         "enabled": {"type": "boolean", "default": True},
         "verify_ownership": {"type": "boolean", "default": False,
                              "description": "POST only: the receiver must answer a signed {\"type\":\"url_verification\",\"challenge\"} "
                                             "with the challenge (as the body or its challenge field), else 422 ownership_not_verified."}},
        description="POST needs url and events; PUT changes the fields it carries.",
    ),
    "WebhookDelivery": obj(
        {
            "id": {"type": "string", "description": "Also the webhook-id header, the same on every attempt."},
            "webhook_id": ID, "event": {"type": "string"}, "seq": {"type": ["integer", "null"]},
            "status": enum("DeliveryStatus"),
            "next_attempt_at": NULLABLE_TIME, "created_at": TIME, "attempt_count": {"type": "integer"},
            "attempts": {"type": "array", "items": obj({
                "at": TIME, "status_code": {"type": ["integer", "null"]}, "latency_ms": {"type": "integer"},
                "error": {"type": ["string", "null"]}, "response_body": {"type": ["string", "null"]}})},
        },
        ["id", "webhook_id", "event", "seq", "status", "next_attempt_at", "created_at", "attempt_count", "attempts"],
    ),
    "Customer": obj(
        {
            "customer_id": KEY, "name": {"type": ["string", "null"]}, "phone": {"type": ["string", "null"]},
            "email": {"type": ["string", "null"]}, "level": {"type": ["string", "null"]}, "tags": {"type": "array", "items": {"type": "string"}},
            "source": {"type": "string", "description": "api, or the CRM plugin that last synced the record."},
            "external_id": {"type": ["string", "null"]}, "visitor_ids": {"type": "array", "items": ID},
            "created_at": TIME, "updated_at": TIME, "version": {"type": "integer"},
        },
        ["customer_id", "name", "phone", "email", "level", "tags", "source", "external_id", "visitor_ids", "created_at", "updated_at", "version"],
    ),
    "CustomerInput": obj(
        {
            "customer_id": KEY, "name": {"type": "string", "maxLength": 200},
            "phone": {**PHONE, "description": "Digits, spaces and +-(); searched by its digits."},
            "email": {"type": "string", "format": "email"}, "level": {"type": ["string", "integer"], "maxLength": 64},
            "tags": {"type": "array", "maxItems": 32, "items": {"type": "string", "minLength": 1, "maxLength": 64}},
            "source": KEY, "external_id": {"type": "string", "maxLength": 255},
            "visitor_ids": {"type": "array", "maxItems": 32, "items": ID},
        },
        description="POST requires customer_id and creates the customer or changes the fields present (201 or 200); "
                    "PUT changes the fields present of an existing customer.",
    ),
    "Order": obj(
        {
            "order_id": KEY, "customer_id": KEY, "amount": {"type": "number"}, "currency": {"type": ["string", "null"]},
            "status": {"type": "string"}, "create_time": SEED_TIME,
            "source": {"type": "string"}, "created_at": TIME, "updated_at": TIME, "version": {"type": "integer"},
        },
        ["order_id", "customer_id", "amount", "currency", "status", "create_time", "source", "created_at", "updated_at", "version"],
    ),
    "OrderInput": obj(
        {
            "order_id": KEY, "customer_id": KEY, "amount": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}, "status": {"type": "string", "minLength": 1, "maxLength": 64},
            "create_time": {**EXTERNAL_TIME, "description": "When the order was placed; default now."}, "source": KEY,
        },
        ["order_id", "customer_id", "amount", "status"],
        description="Creates the order or replaces it (201 or 200); the customer must exist.",
    ),
    "Ticket": obj(
        {
            "ticket_id": {"type": "string", "description": "The server's id (UUIDv7), or the external system's (ticket_id on create)."},
            "title": {"type": "string"}, "content": {"type": "string"}, "priority": TICKET_PRIORITY,
            "category": {"type": ["string", "null"]}, "status": TICKET_STATUS, "handler": {"type": ["string", "null"]},
            "conversation_id": {"type": ["string", "null"], "format": "uuid"}, "customer_id": {"type": ["string", "null"]},
            "external": {"type": ["object", "null"], "description": "The ticket in an external system: {system, id, url}."},
            "created_at": TIME, "update_time": {**SEED_TIME, "description": "The last change: the external system's time for a status sync."},
            "version": {"type": "integer"},
        },
        ["ticket_id", "title", "content", "priority", "category", "status", "handler", "conversation_id", "customer_id", "external",
         "created_at", "update_time", "version"],
    ),
    "TicketInput": obj(
        {
            "ticket_id": {**KEY, "description": "The external system's id: creates the ticket under it, or changes the one it names (200)."},
            "title": {"type": "string", "minLength": 1, "maxLength": 500}, "content": {"type": "string", "minLength": 1},
            "priority": TICKET_PRIORITY, "category": {"type": "string", "maxLength": 64}, "handler": {"type": "string", "maxLength": 200},
            "conversation_id": ID, "customer_id": KEY,
        },
        ["title", "content"],
        description="A ticket for a closed conversation is 409 conversation_closed. With ticket_id of an existing ticket, the "
                    "fields present change it (200); its conversation and customer cannot change.",
    ),
    "TicketChanges": obj(
        {"ticket_id": {"type": "string", "description": "The seed's status sync names the ticket: it must match the path."},
         "status": TICKET_STATUS, "handler": {"type": "string", "maxLength": 200}, "priority": TICKET_PRIORITY,
         "update_time": {**EXTERNAL_TIME, "description": "When the external system made the change: a sync older than the last one "
                                                         "applied changes nothing."}},
        description="A change, or the seed's status sync {ticket_id, status, handler, update_time}.",
    ),
    "TicketSyncResults": obj(
        {"results": {"type": "array", "items": obj(
            {"ticket_id": {"type": "string"}, "outcome": enum("TicketSyncOutcome"),
             "ticket": {"oneOf": [ref("Ticket"), {"type": "null"}]},
             "error": {"oneOf": [obj({"code": {"type": "string"}, "detail": {"type": "string"}, "field": {"type": ["string", "null"]}},
                                     ["code", "detail", "field"]), {"type": "null"}],
                       "description": "Why an invalid sync was not applied (an update_time more than 300 s ahead, …)."}},
            ["ticket_id", "outcome", "ticket", "error"])}},
        ["results"],
    ),
    "TenantSettings": obj(
        {"time_zone": {"type": "string", "description": "An IANA zone (Asia/Shanghai) in which wall-clock times such as create_time "
                                                         "and update_time are read and written; default UTC.", "x-enum": "TimeZone"}},
    ),
    "ConversationCustomer": obj(
        {
            "conversation_id": ID, "customer": {"oneOf": [ref("Customer"), {"type": "null"}]}, "orders": {"type": "array", "items": ref("Order")},
            "stale": {"type": "boolean", "description": "The CRM could not be asked just now; this is the stored record."},
            "source": {"type": ["string", "null"], "description": "The crm integration, if the tenant has one."},
            "checked_at": NULLABLE_TIME, "detail": {"type": ["string", "null"]},
        },
        ["conversation_id", "customer", "orders", "stale", "source", "checked_at", "detail"],
    ),
    "IntegrationCall": obj({"op": {"type": "string", "minLength": 1, "maxLength": 128, "examples": ["crm.lookup_customer"]},
                            "args": {"type": "object"}}, ["op"]),
}


def page_of(name):
    return obj(
        {"data": {"type": "array", "items": ref(name)}, "next_cursor": {"type": ["string", "null"]}, "has_more": {"type": "boolean"}},
        ["data", "next_cursor", "has_more"],
    )


SCOPE = enum("Scope")
CIDR = {"type": "string", "description": "An IPv4 or IPv6 address or CIDR range, e.g. 203.0.113.0/24 or 2001:db8::/32."}
schemas["APIKey"] = obj(
    {
        "id": ID, "tenant_id": ID, "name": {"type": "string"}, "prefix": {"type": "string", "description": "The secret's first characters."},
        "scopes": {"type": "array", "items": SCOPE}, "expires_at": NULLABLE_TIME, "allowed_ips": {"type": "array", "items": CIDR},
        "rate_limit": {"type": ["integer", "null"], "description": "Requests per minute; null: security.rate_limit_per_credential."},
        "created_at": TIME, "last_used_at": NULLABLE_TIME, "revoked_at": NULLABLE_TIME,
        "secret": {"type": "string", "description": "Only in the answers of create and rotate: the key itself (sb_live_…)."},
    },
    ["id", "tenant_id", "name", "prefix", "scopes", "expires_at", "allowed_ips", "rate_limit", "created_at", "last_used_at", "revoked_at"],
)
schemas["APIKeyInput"] = obj(
    {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "scopes": {"type": "array", "items": SCOPE, "description": "Only scopes the calling credential holds (admin holds all)."},
        "expires_at": {**NULLABLE_TIME, "description": "In the future; null on PUT removes the expiry."},
        "allowed_ips": {"type": "array", "items": CIDR, "description": "Empty: anywhere the tenant allows."},
        "rate_limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 10000000, "description": "Requests per minute; null: the server default."},
    },
    description="POST requires name and scopes; PUT changes only the fields present.",
)
schemas["TenantSecurity"] = obj(
    {"allowed_ips": {"type": "array", "items": CIDR, "description": "Every credential of the tenant; empty: anywhere."},
     "rate_limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 10000000,
                    "description": "Requests per minute across the tenant; null: the server default."}},
)
schemas["AuditEvent"] = obj(
    {
        "id": ID, "tenant_id": {"type": ["string", "null"]}, "occurred_at": TIME,
        "action": {"type": "string", "description": "auth.failed, access.denied, rate_limit.exceeded, api_key.created|updated|rotated|revoked, "
                   "tenant.security_updated, integration.updated|disabled, webhook.created|updated|deleted|secret_rotated|auto_disabled."},
        "actor": {"type": "string", "description": "The principal's subject (an API key id, …), anonymous or system."},
        "actor_method": {"type": ["string", "null"]}, "target": {"type": ["string", "null"]}, "client_ip": {"type": ["string", "null"]},
        "success": {"type": "boolean"}, "detail": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Never secrets."},
    },
    ["id", "tenant_id", "occurred_at", "action", "actor", "actor_method", "target", "client_ip", "success", "detail"],
)

schemas["OAuthClient"] = obj(
    {"client_id": ID, "tenant_id": ID, "name": {"type": "string"}, "scopes": {"type": "array", "items": SCOPE}, "created_at": TIME,
     "revoked_at": NULLABLE_TIME, "client_secret": {"type": "string", "description": "Only in the answer of create (sbcs_…)."}},
    ["client_id", "tenant_id", "name", "scopes", "created_at", "revoked_at"],
)
schemas["OAuthClientInput"] = obj({"name": {"type": "string", "minLength": 1, "maxLength": 200}, "scopes": {"type": "array", "items": SCOPE}},
                                  ["name", "scopes"])
schemas["OAuthError"] = obj({"error": {"type": "string"}, "error_description": {"type": "string"}}, ["error"],
                            description="RFC 6749 section 5.2: the OAuth endpoints answer errors in this form, which OAuth clients parse.")
schemas["TokenIssuer"] = obj(
    {"id": ID, "tenant_id": ID, "issuer": {"type": "string", "description": "The iss of its tokens; unique across tenants."},
     "audience": {"type": "string"}, "kind": enum("TokenIssuerKind"),
     "jwks_url": {"type": ["string", "null"]}, "introspection_url": {"type": ["string", "null"]}, "client_id": {"type": ["string", "null"]},
     "algorithms": {"type": "array", "items": enum("TokenAlgorithm")},
     "default_role": enum("Role"), "created_at": TIME,
     "secret": {"type": "string", "description": "hs256 only, only in the answer of create (sbhs_…): the HMAC key of the tenant's backend."}},
    ["id", "tenant_id", "issuer", "audience", "kind", "jwks_url", "introspection_url", "client_id", "algorithms", "default_role", "created_at"],
)
schemas["TokenIssuerInput"] = obj(
    {"issuer": {"type": "string", "maxLength": 500}, "audience": {"type": "string", "maxLength": 500},
     "kind": enum("TokenIssuerKind"), "jwks_url": {"type": "string", "format": "uri"},
     "introspection_url": {"type": "string", "format": "uri"}, "client_id": {"type": "string"},
     "client_secret": {"type": "string", "description": "introspection only: stored sealed, never shown again."},
     "algorithms": {"type": "array", "items": {"type": "string"}, "description": "hs256: HS256; jwks: a subset of RS256, ES256, EdDSA (default all)."},
     "default_role": enum("Role", default="agent")},
    ["issuer", "audience", "kind"],
)
schemas["SignatureKey"] = obj(
    {"keyid": ID, "tenant_id": ID, "api_key_id": ID, "algorithm": enum("SignatureAlgorithm"), "created_at": TIME,
     "secret": {"type": "string", "description": "hmac-sha256 only, only in the answer of create (sbms_…): the HMAC key."}},
    ["keyid", "tenant_id", "api_key_id", "algorithm", "created_at"],
)
schemas["SignatureKeyInput"] = obj(
    {"algorithm": enum("SignatureAlgorithm"),
     "public_key": {"type": "string", "description": "ed25519 only: base64 of the 32-byte public key, or PEM."}},
    ["algorithm"],
)
CLIENT_FORM = {"client_id": {"type": "string"}, "client_secret": {"type": "string"}}


def form(properties, required):
    """An OAuth form body: unknown parameters are ignored (RFC 6749 §3.1), none may repeat."""
    return {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "properties": {**properties, **CLIENT_FORM}, "required": required,
        "additionalProperties": {"type": "string"}}}}


TOKEN_FORM = form({"grant_type": {"type": "string", "enum": ["client_credentials"]},
                   "scope": {"type": "string", "description": "Space-separated scopes, a subset of the client's."}}, ["grant_type"])
TOKEN_PARAMETER_FORM = form({"token": {"type": "string"}, "token_type_hint": {"type": "string"}}, ["token"])
OAUTH_ERRORS = {"400": {"description": "invalid_request, unsupported_grant_type, invalid_scope.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "401": {"description": "invalid_client.", "content": {"application/json": {"schema": ref("OAuthError")}}},
                "429": {"description": "Too many failed client authentications from this address.", "content": {"application/json": {"schema": ref("OAuthError")}}}}

for name in ["Agent", "Conversation", "Message", "Customer", "Order", "Ticket", "Event", "Integration", "Webhook", "WebhookDelivery", "APIKey", "AuditEvent", "OAuthClient",
             "TokenIssuer", "SignatureKey"]:
    schemas[f"{name}Page"] = page_of(name)

PROBLEM = {"application/problem+json": {"schema": ref("Problem")}}
responses = {
    "BadRequest": {"description": "Malformed JSON, body or query parameter (code invalid_json, missing_body, invalid_parameter).", "content": PROBLEM},
    "Unauthorized": {"description": "Missing, unknown, expired or revoked credential.", "content": PROBLEM},
    "Forbidden": {"description": "missing_scope (required_scope names it), address_not_allowed (IP allow-list of the tenant or "
                  "key), or scope_not_grantable.", "content": PROBLEM},
    "TooManyRequests": {"description": "rate_limited or too_many_failed_authentications; Retry-After says when to retry.",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}}, "content": PROBLEM},
    "NotFound": {"description": "No such resource for this tenant.", "content": PROBLEM},
    "Conflict": {"description": "The change conflicts with the resource's state (e.g. conversation_closed).", "content": PROBLEM},
    "PreconditionFailed": {"description": "If-Match does not match the current ETag.", "content": PROBLEM},
    "ContentTooLarge": {"description": "The body exceeds server.body_limit.", "content": PROBLEM},
    "Unprocessable": {"description": "A field is missing, unknown or invalid; `field` names it.", "content": PROBLEM},
    "Unavailable": {"description": "The database cannot serve the request now; retry.", "content": PROBLEM},
    "PluginFailed": {"description": "The plugin answered an error (code plugin_<status>): 404 unknown op, 422 invalid args, "
                     "403 denied, 501 unsupported, 503 unavailable or breaker open (integration_unavailable), "
                     "504 timeout, 502 internal or a result that is not JSON.", "content": PROBLEM},
}


def err(*names):
    return {str(code): {"$ref": f"#/components/responses/{name}"} for code, name in names}


COMMON = [(401, "Unauthorized"), (403, "Forbidden"), (429, "TooManyRequests"), (503, "Unavailable")]
BODY_ERRORS = [(400, "BadRequest"), (413, "ContentTooLarge"), (422, "Unprocessable")]


def json_response(description, schema, etag=False, location=False):
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    headers = {}
    if etag:
        headers["ETag"] = {"schema": {"type": "string"}, "description": "Strong tag of the resource version."}
    if location:
        headers["Location"] = {"schema": {"type": "string"}}
    if headers:
        response["headers"] = headers
    return response


def body(schema):
    return {"required": True, "content": {"application/json": {"schema": schema}}}


PARAM_ID = {"name": "id", "in": "path", "required": True, "schema": ID}
PARAM_KEY = {"name": "id", "in": "path", "required": True, "schema": KEY}
PARAM_PLUGIN = {"name": "plugin", "in": "path", "required": True, "schema": {"type": "string"}, "description": "A plugin id."}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}
CURSOR = {"name": "cursor", "in": "query", "schema": {"type": "string", "maxLength": 340, "pattern": "^([A-Za-z0-9_-]{4})*([A-Za-z0-9_-]{2,3})?$"},
          "description": "next_cursor of the previous page (base64url); empty: the first page."}
IF_MATCH = {"name": "If-Match", "in": "header", "schema": {"type": "string", "pattern": "^([*]|\"[0-9]{1,18}\")$"},
            "description": "A strong ETag (\"3\") or *; another version than the current is 412."}
IDEMPOTENCY = {
    "name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 255},
    "description": "Same key and body within the retention replays the original response (Idempotent-Replayed: true); "
    "the same key with another body is 422 idempotency_key_reused.",
}


def create(op, tag, input_schema, output, extra_errors=()):
    return {
        "operationId": op, "tags": [tag], "parameters": [IDEMPOTENCY], "requestBody": body(ref(input_schema)),
        "responses": {"201": json_response("Created.", ref(output), etag=output != "Visitor", location=True),
                      **err(*BODY_ERRORS, *extra_errors, *COMMON)},
    }


def get(op, tag, output):
    return {"operationId": op, "tags": [tag], "responses": {"200": json_response("The resource.", ref(output), etag=output != "Visitor"),
                                                             **err((404, "NotFound"), *COMMON)}}


def update(op, tag, input_schema, output):
    return {
        "operationId": op, "tags": [tag], "parameters": [IF_MATCH], "requestBody": body(ref(input_schema)),
        "responses": {"200": json_response("The changed resource.", ref(output), etag=True),
                      **err(*BODY_ERRORS, (404, "NotFound"), (409, "Conflict"), (412, "PreconditionFailed"), *COMMON)},
    }


def delete(op, tag, output, description):
    return {
        "operationId": op, "tags": [tag], "description": description, "parameters": [IF_MATCH],
        "responses": {"200": json_response("The resource after the change.", ref(output), etag=True),
                      **err((404, "NotFound"), (412, "PreconditionFailed"), *COMMON)},
    }


def listing(op, tag, output, params=()):
    return {"operationId": op, "tags": [tag], "parameters": [*params, LIMIT, CURSOR],
            "responses": {"200": json_response("One page, in creation order.", ref(output)), **err((400, "BadRequest"), *COMMON)}}


def query(name, schema):
    return {"name": name, "in": "query", "schema": schema}


paths = {
    "/health": {"get": {"operationId": "health", "tags": ["system"], "security": [],
                        "responses": {"200": json_response("The process is up.", ref("Status"))}}},
    "/ready": {"get": {"operationId": "ready", "tags": ["system"], "security": [],
                       "responses": {"200": json_response("The database answers.", ref("Status")), **err((503, "Unavailable"))}}},
    "/metrics": {"get": {"operationId": "metrics", "tags": ["system"], "security": [{"bearer": []}],
                         "description": "Prometheus text exposition; the bearer token is metrics.token (not an API key).",
                         "responses": {"200": {"description": "Metrics.", "content": {"text/plain": {}}},
                                       **err((401, "Unauthorized")),
                                       "404": {"description": "metrics.token is not set.", "content": PROBLEM}}}},
    "/api/v1/openapi.json": {"get": {"operationId": "openapi", "tags": ["system"], "security": [],
                                     "responses": {"200": {"description": "This document.", "content": {"application/json": {}}}}}},
    "/api/v1/agents": {
        "post": create("createAgent", "agents", "AgentCreate", "Agent"),
        "get": listing("listAgents", "agents", "AgentPage", [query("status", AGENT_STATUS)]),
    },
    "/api/v1/agents/{id}": {
        "parameters": [PARAM_ID],
        "get": get("getAgent", "agents", "Agent"),
        "put": update("updateAgent", "agents", "AgentInput", "Agent"),
        "delete": delete("deleteAgent", "agents", "Agent", "Leaves a tombstone (deleted_at set, still readable) and an agent.deleted event."),
    },
    "/api/v1/customers": {
        "post": {**create("upsertCustomer", "crm", "CustomerCreate", "Customer"),
                 "responses": {"200": json_response("Changed.", ref("Customer"), etag=True),
                               "201": json_response("Created.", ref("Customer"), etag=True, location=True), **err(*BODY_ERRORS, *COMMON)}},
        "get": listing("listCustomers", "crm", "CustomerPage",
                       [query("phone", {"type": "string", "pattern": "[0-9]", "description": "Matches by digits."}), query("tag", {"type": "string"}), query("level", {"type": "string"}),
                        query("visitor_id", ID)]),
    },
    "/api/v1/customers/{id}": {
        "parameters": [PARAM_KEY],
        "get": get("getCustomer", "crm", "Customer"),
        "put": update("updateCustomer", "crm", "CustomerInput", "Customer"),
        "delete": {"operationId": "deleteCustomer", "tags": ["crm"], "parameters": [IF_MATCH],
                   "description": "Removes the customer and its orders; a customer.deleted event records it.",
                   "responses": {"204": {"description": "Removed."}, **err((404, "NotFound"), (412, "PreconditionFailed"), *COMMON)}},
    },
    "/api/v1/customers/{id}/orders": {
        "parameters": [PARAM_KEY],
        "get": {**listing("listCustomerOrders", "crm", "OrderPage"),
                "responses": {"200": json_response("One page, in order_id order.", ref("OrderPage")),
                              **err((400, "BadRequest"), (404, "NotFound"), *COMMON)}},
    },
    "/api/v1/conversations/{id}/customer": {
        "parameters": [PARAM_ID],
        "get": {"operationId": "getConversationCustomer", "tags": ["crm"],
                "parameters": [query("refresh", {"type": "boolean", "default": False})],
                "description": "The CRM record of the conversation's visitor and their newest orders. With a crm integration the CRM is asked "
                               "when the conversation opens and again after plugins.crm_cache_seconds (or with refresh=true); when it "
                               "fails, the stored record is answered with stale: true.",
                "responses": {"200": json_response("The customer, or null.", ref("ConversationCustomer")),
                              **err((400, "BadRequest"), (404, "NotFound"), *COMMON)}},
    },
    "/api/v1/orders": {
        "post": {**create("upsertOrder", "crm", "OrderInput", "Order"),
                 "responses": {"200": json_response("Replaced.", ref("Order"), etag=True),
                               "201": json_response("Created.", ref("Order"), etag=True, location=True), **err(*BODY_ERRORS, *COMMON)}},
    },
    "/api/v1/orders/{id}": {"parameters": [PARAM_KEY], "get": get("getOrder", "crm", "Order")},
    "/api/v1/tickets": {
        "post": {**create("createTicket", "tickets", "TicketInput", "Ticket", [(409, "Conflict")]),
                 "responses": {"200": json_response("Changed: a ticket under this ticket_id existed.", ref("Ticket"), etag=True),
                               "201": json_response("Created.", ref("Ticket"), etag=True, location=True),
                               **err(*BODY_ERRORS, (409, "Conflict"), *COMMON)}},
        "get": listing("listTickets", "tickets", "TicketPage",
                       [query("status", TICKET_STATUS), query("conversation_id", ID), query("customer_id", {"type": "string"})]),
    },
    "/api/v1/tickets/{id}": {
        "parameters": [{**PARAM_ID, "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                        "description": "The server's id or the external system's ticket_id."}],
        "get": get("getTicket", "tickets", "Ticket"),
        "put": update("updateTicket", "tickets", "TicketChanges", "Ticket"),
    },
    "/api/v1/tickets/sync": {
        "post": {"operationId": "syncTickets", "tags": ["tickets"],
                 "description": "The seed's status sync for one ticket, or an array of up to 500, applied in order, each on its own. "
                                "For admins and integrations (403 ticket_sync_not_allowed for agents and visitors).",
                 "requestBody": body({"oneOf": [ref("TicketSync"), {"type": "array", "minItems": 1, "maxItems": 500,
                                                                    "items": ref("TicketSync")}]}),
                 "responses": {"200": json_response("What each sync did.", ref("TicketSyncResults")), **err(*BODY_ERRORS, *COMMON)}},
    },
    "/api/v1/visitors": {"post": create("createVisitor", "visitors", "VisitorInput", "Visitor", [(409, "Conflict")])},
    "/api/v1/visitors/{id}": {"parameters": [PARAM_ID], "get": get("getVisitor", "visitors", "Visitor")},
    "/api/v1/conversations": {
        "post": create("createConversation", "conversations", "ConversationCreate", "Conversation"),
        "get": listing("listConversations", "conversations", "ConversationPage",
                       [query("status", CONVERSATION_STATUS), query("agent_id", ID), query("visitor_id", ID)]),
    },
    "/api/v1/conversations/{id}": {
        "parameters": [PARAM_ID],
        "get": get("getConversation", "conversations", "Conversation"),
        "put": update("updateConversation", "conversations", "ConversationChanges", "Conversation"),
        "delete": delete("endConversation", "conversations", "Conversation",
                         "Ends the conversation: status closed, ended_at set; it stays readable. Ending twice changes nothing."),
    },
    "/api/v1/conversations/{id}/messages": {
        "parameters": [PARAM_ID],
        "get": {**listing("listConversationMessages", "messages", "MessagePage"),
                "responses": {"200": json_response("One page, in send order.", ref("MessagePage")),
                              **err((400, "BadRequest"), (404, "NotFound"), *COMMON)}},
    },
    "/api/v1/messages": {"post": {**create("sendMessage", "messages", "MessageInput", "Message", [(409, "Conflict")]),
                                  "description": "Sends into an open conversation from one of its participants. "
                                  "A repeated client_message_id answers 200 with the original message."}},
    "/api/v1/messages/{id}": {
        "parameters": [PARAM_ID],
        "get": get("getMessage", "messages", "Message"),
        "put": update("editMessage", "messages", "MessageUpdate", "Message"),
        "delete": delete("deleteMessage", "messages", "Message", "Leaves a tombstone: content emptied, deleted_at set."),
    },
    "/api/v1/events": {
        "get": {
            "operationId": "listEvents", "tags": ["events"],
            "parameters": [
                query("after", {"type": "integer", "minimum": 0, "maximum": 9223372036854775807, "default": 0}),
                {**query("cursor", {"type": "string", "pattern": "^[0-9]{0,18}$"}), "description": "Alias of after; next_cursor is the last seq."},
                query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
            ],
            "responses": {"200": json_response("Events with seq > after, in order.", ref("EventPage")), **err((400, "BadRequest"), *COMMON),
                          "410": {"description": "after is before the oldest event kept (events_expired): resync over REST.", "content": PROBLEM}},
        }
    },
    "/api/v1/statistics/push": {
        "post": {
            "operationId": "pushStatistics", "tags": ["statistics"],
            "description": "Stores figures another system computed. Pushing the same type, dimension.date and dimension values "
            "again replaces the earlier figures (a retry never counts twice). An average counts with the weight of its "
            "weight metric when pushed too, else with total, else as one observation. A batch is stored whole or not at all.",
            "requestBody": body({"oneOf": [ref("StatisticsEntry"), {"type": "array", "items": ref("StatisticsEntry"), "minItems": 1, "maxItems": 1000}]}),
            "responses": {"200": json_response("Stored.", obj({"accepted": {"type": "integer"}}, ["accepted"])), **err(*BODY_ERRORS, *COMMON)},
        }
    },
    "/api/v1/statistics/report": {
        "get": {
            "operationId": "statisticsReport", "tags": ["statistics"],
            "description": "One row per period and combination of the asked dimensions that has figures; computed rollups and pushed "
            "figures of the type add up. An agent-role principal sees only its own figures (supervisors and admin agents: all). Rollups are kept per UTC hour: in a zone "
            "whose offset is not whole hours an hour counts in the period where it begins. Send Accept: text/csv for CSV.",
            "parameters": [
                {**query("type", enum("StatisticType")), "required": True},
                {**query("start_date", {"type": "string", "format": "date"}), "required": True, "description": "First day, in timezone."},
                {**query("end_date", {"type": "string", "format": "date"}), "required": True,
                 "description": "Last day, inclusive; at most 366 days after start_date."},
                {**query("dimensions", {"type": "string"}), "description": "Comma-separated: agent, category, channel."},
                query("granularity", enum("Granularity", default="day")),
                {**query("timezone", {"type": "string", "default": "UTC"}), "description": "An IANA zone or an offset such as +05:30."},
            ],
            "responses": {"200": {"description": "The report.", "content": {"application/json": {"schema": ref("StatisticsReport")},
                                                                          "text/csv": {"schema": {"type": "string"}}}},
                          **err((422, "Unprocessable"), *COMMON)},
        }
    },
    "/api/v1/statistics/types": {
        "get": {"operationId": "statisticsTypes", "tags": ["statistics"],
                "responses": {"200": json_response("The registry of types, metrics and dimensions.", ref("StatisticsTypes")), **err(*COMMON)}},
    },
    "/api/v1/auth/token": {
        "post": {"operationId": "signIn", "tags": ["security"],
                 "description": "Directory sign-in: with Authorization: Basic '<tenant id>/<username>:<password>' accepted by an auth_provider "
                                "plugin, answers a bearer access token (ES256, oauth.access_token_lifetime_seconds) carrying the subject and "
                                "the role the directory mapped. Other credentials: 403 directory_credentials_required. Wrong password and "
                                "unknown user both answer 401 (the audit log tells which); a directory that cannot answer, 503.",
                 "responses": {"200": json_response("The token.", obj({"access_token": {"type": "string"}, "token_type": {"type": "string"},
                                                                     "expires_in": {"type": "integer"}, "scope": {"type": "string"},
                                                                     "subject": {"type": "string"}, "role": {"type": "string"},
                                                                     "tenant_id": {"type": "string"}})),
                               **err(*COMMON)}},
        "delete": {"operationId": "signOut", "tags": ["security"],
                   "description": "Signs out: revokes the access token the request is authenticated with. Other credentials: 403 "
                                  "access_token_required.",
                   "responses": {"204": {"description": "Revoked."}, **err(*COMMON)}},
    },
    "/api/v1/auth/revoke": {
        "post": {"operationId": "revokeAccessToken", "tags": ["security"],
                 "requestBody": body(obj({"token": {"type": "string", "minLength": 1}}, required=["token"])),
                 "description": "Revokes an access token of the tenant (a directory sign-in token has no OAuth client to revoke it through "
                                "/oauth/revoke). The caller must hold every scope of the token (403 credential_not_manageable); a "
                                "token that is not one of the tenant's is 404 access_token_not_found.",
                 "responses": {"204": {"description": "Revoked."}, **err(*BODY_ERRORS, (404, "NotFound"), *COMMON)}},
    },
    "/api/v1/integrations/{plugin}/inbound/{tenant}": {
        "post": {"operationId": "integrationInbound", "tags": ["integrations"], "security": [],
                 "parameters": [PARAM_PLUGIN, {"name": "tenant", "in": "path", "required": True, "schema": ID}],
                 "requestBody": {"required": False, "content": {"*/*": {}}},
                 "description": "Requests an external system sends to a tenant's integration (e.g. a ticketing system's status change). "
                                "No Switchboard credential: the plugin verifies the request itself (inbound.receive). Ticket status reports "
                                "in its answer are applied like the ticketing sync's.",
                 "responses": {"200": json_response("What the plugin answers the sender; {\"accepted\": true} by default.", {"type": "object"}),
                               "401": {"description": "The plugin did not verify the request.", "content": PROBLEM},
                               "404": {"description": "No running integration of that tenant takes inbound requests.", "content": PROBLEM},
                               "413": {"description": "Over the body limit.", "content": PROBLEM},
                               "422": {"description": "The plugin refused the payload.", "content": PROBLEM},
                               "503": {"description": "The plugin cannot take it now; retry.", "content": PROBLEM}}},
    },
    "/api/v1/integrations": {
        "get": {"operationId": "listIntegrations", "tags": ["integrations"],
                "description": "Every loaded plugin as the calling tenant sees it (one page).",
                "responses": {"200": json_response("The plugins.", ref("IntegrationPage")), **err(*COMMON)}},
    },
    "/api/v1/integrations/{plugin}": {
        "parameters": [PARAM_PLUGIN],
        "get": {"operationId": "getIntegration", "tags": ["integrations"],
                "responses": {"200": json_response("The plugin for this tenant.", ref("Integration")), **err((404, "NotFound"), *COMMON)}},
        "put": {"operationId": "configureIntegration", "tags": ["integrations"], "requestBody": body(ref("IntegrationSettings")),
                "description": "Enables, disables or reconfigures the tenant's integration at once: calls in flight finish, "
                "the old instance is destroyed and the new one created. Secret fields are encrypted at rest.",
                "responses": {"200": json_response("The integration after the change.", ref("Integration")),
                              **err(*BODY_ERRORS, (404, "NotFound"), *COMMON)}},
        "delete": {"operationId": "disableIntegration", "tags": ["integrations"],
                   "description": "Disables the integration; its config and event cursor are kept for re-enabling.",
                   "responses": {"204": {"description": "Disabled."}, **err((404, "NotFound"), *COMMON)}},
    },
    "/api/v1/integrations/{plugin}/call": {
        "parameters": [PARAM_PLUGIN],
        "post": {"operationId": "callIntegration", "tags": ["integrations"], "requestBody": body(ref("IntegrationCall")),
                 "description": "Performs an operation of the tenant's plugin instance within the plugin's call timeout.",
                 "responses": {"200": {"description": "The plugin's JSON result.", "content": {"application/json": {}}},
                               **err(*BODY_ERRORS, (404, "NotFound"), (409, "Conflict"), (502, "PluginFailed"), *COMMON)}},
    },
    "/api/v1/integrations/{plugin}/parked": {
        "parameters": [PARAM_PLUGIN],
        "get": {"operationId": "listParkedEvents", "tags": ["integrations"],
                "description": "Events the tenant's instance set aside after plugins.max_event_attempts failed attempts (an error "
                               "status, a crash of the child, a timeout), oldest first; later events were delivered meanwhile.",
                "responses": {"200": json_response("The parked events.", obj({
                    "data": {"type": "array", "items": obj({"seq": {"type": "integer"}, "event": {"type": "string"},
                                                             "error": {"type": "string"}, "attempts": {"type": "integer"},
                                                             "parked_at": {"type": "string", "format": "date-time"}})},
                    "next_cursor": {"type": ["string", "null"]}, "has_more": {"type": "boolean"}})),
                              **err((404, "NotFound"), *COMMON)}},
    },
    "/api/v1/integrations/{plugin}/parked/{seq}/retry": {
        "parameters": [PARAM_PLUGIN, {"name": "seq", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": 9223372036854775807}}],
        "post": {"operationId": "retryParkedEvent", "tags": ["integrations"],
                 "description": "Delivers the parked event again now. Taken, it is no longer parked; refused again, it stays parked "
                                "with the new error and the plugin's problem is the answer.",
                 "responses": {"200": json_response("Delivered.", obj({"seq": {"type": "integer"}, "delivered": {"type": "boolean"}})),
                               **err((400, "BadRequest"), (404, "NotFound"), (409, "Conflict"), (502, "PluginFailed"), *COMMON)}},
    },
    "/api/v1/integrations/{plugin}/parked/{seq}": {
        "parameters": [PARAM_PLUGIN, {"name": "seq", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": 9223372036854775807}}],
        "delete": {"operationId": "dropParkedEvent", "tags": ["integrations"], "description": "Forgets the parked event without delivering it.",
                   "responses": {"204": {"description": "Dropped."}, **err((400, "BadRequest"), (404, "NotFound"), *COMMON)}},
    },
    "/api/v1/webhooks": {
        "post": {"operationId": "createWebhook", "tags": ["webhooks"], "requestBody": body(ref("WebhookCreate")),
                 "description": "Creates an endpoint; the answer holds its signing secret, shown only now.",
                 "responses": {"201": json_response("Created, with secret.", ref("Webhook"), etag=True), **err(*BODY_ERRORS, *COMMON)}},
        "get": {"operationId": "listWebhooks", "tags": ["webhooks"],
                "responses": {"200": json_response("The tenant's endpoints.", ref("WebhookPage")), **err(*COMMON)}},
    },
    "/api/v1/webhooks/{id}": {
        "parameters": [PARAM_ID],
        "get": get("getWebhook", "webhooks", "Webhook"),
        "put": update("updateWebhook", "webhooks", "WebhookInput", "Webhook"),
        "delete": {"operationId": "deleteWebhook", "tags": ["webhooks"], "description": "Deletes the endpoint and its delivery log.",
                   "responses": {"204": {"description": "Deleted."}, **err((404, "NotFound"), *COMMON)}},
    },
    "/api/v1/webhooks/{id}/rotate-secret": {
        "parameters": [PARAM_ID],
        "post": {"operationId": "rotateWebhookSecret", "tags": ["webhooks"],
                 "description": "A new secret; the old one keeps signing beside it for webhooks.secret_grace_hours.",
                 "responses": {"200": json_response("The new secret.", obj({"secret": {"type": "string"},
                                                                             "previous_secret_valid_until": TIME})),
                               **err((404, "NotFound"), *COMMON)}},
    },
    "/api/v1/webhooks/{id}/test": {
        "parameters": [PARAM_ID],
        "post": {"operationId": "testWebhook", "tags": ["webhooks"], "description": "Queues a webhook.ping delivery.",
                 "responses": {"202": json_response("Queued.", obj({"delivery_id": {"type": "string"}})), **err((404, "NotFound"), *COMMON)}},
    },
    "/api/v1/webhooks/{id}/deliveries": {
        "parameters": [PARAM_ID],
        "get": {"operationId": "listWebhookDeliveries", "tags": ["webhooks"], "parameters": [LIMIT],
                "description": "Newest first, each with every attempt.",
                "responses": {"200": json_response("Deliveries.", ref("WebhookDeliveryPage")), **err((400, "BadRequest"), (404, "NotFound"), *COMMON)}},
    },
    "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver": {
        "parameters": [PARAM_ID, {"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "post": {"operationId": "redeliverWebhookDelivery", "tags": ["webhooks"], "description": "Queues the delivery again, whatever its status.",
                 "responses": {"202": {"description": "Queued."}, **err((404, "NotFound"), *COMMON)}},
    },
    "/api/v1/webhooks/{id}/replay": {
        "parameters": [PARAM_ID],
        "post": {"operationId": "replayWebhook", "tags": ["webhooks"],
                 "requestBody": body(obj({"since_seq": {"type": "integer", "minimum": 0}}, ["since_seq"])),
                 "description": "Queues new deliveries of the tenant's matching events with seq > since_seq.",
                 "responses": {"202": json_response("Queued.", obj({"queued": {"type": "integer"}})), **err(*BODY_ERRORS, (404, "NotFound"), *COMMON)}},
    },
    "/api/v1/api-keys": {
        "post": {"operationId": "createAPIKey", "tags": ["security"], "requestBody": body(ref("APIKeyInput")),
                 "description": "Creates a key; the answer holds its secret, shown only now.",
                 "responses": {"201": json_response("Created, with secret.", ref("APIKey")), **err(*BODY_ERRORS, *COMMON)}},
        "get": {"operationId": "listAPIKeys", "tags": ["security"],
                "responses": {"200": json_response("The tenant's keys, revoked ones included.", ref("APIKeyPage")), **err(*COMMON)}},
    },
    "/api/v1/api-keys/{id}": {
        "parameters": [PARAM_ID],
        "get": {"operationId": "getAPIKey", "tags": ["security"],
                "responses": {"200": json_response("The key.", ref("APIKey")), **err((404, "NotFound"), *COMMON)}},
        "put": {"operationId": "updateAPIKey", "tags": ["security"], "requestBody": body(ref("APIKeyInput")),
                "responses": {"200": json_response("The changed key.", ref("APIKey")), **err(*BODY_ERRORS, (404, "NotFound"), (409, "Conflict"), *COMMON)}},
        "delete": {"operationId": "revokeAPIKey", "tags": ["security"], "description": "Revokes the key at once; revoking twice is harmless.",
                   "responses": {"200": json_response("The revoked key.", ref("APIKey")), **err((404, "NotFound"), *COMMON)}},
    },
    "/api/v1/api-keys/{id}/rotate": {
        "parameters": [PARAM_ID],
        "post": {"operationId": "rotateAPIKey", "tags": ["security"], "description": "A new secret for the same key; the old one stops working at once.",
                 "responses": {"200": json_response("The key with its new secret.", ref("APIKey")), **err((404, "NotFound"), (409, "Conflict"), *COMMON)}},
    },
    "/api/v1/oauth-clients": {
        "post": {"operationId": "createOAuthClient", "tags": ["security"], "requestBody": body(ref("OAuthClientInput")),
                 "description": "Creates a client of the client-credentials grant; the answer holds client_secret, shown only now.",
                 "responses": {"201": json_response("Created, with client_secret.", ref("OAuthClient")), **err(*BODY_ERRORS, *COMMON)}},
        "get": {"operationId": "listOAuthClients", "tags": ["security"],
                "responses": {"200": json_response("The tenant's clients.", ref("OAuthClientPage")), **err(*COMMON)}},
    },
    "/api/v1/oauth-clients/{id}": {
        "parameters": [PARAM_ID],
        "delete": {"operationId": "revokeOAuthClient", "tags": ["security"], "description": "Revokes the client and, at once, every token it holds.",
                   "responses": {"200": json_response("The revoked client.", ref("OAuthClient")), **err((404, "NotFound"), *COMMON)}},
    },
    "/api/v1/api-keys/{id}/signature-keys": {
        "parameters": [PARAM_ID],
        "post": {"operationId": "createSignatureKey", "tags": ["security"], "requestBody": body(ref("SignatureKeyInput")),
                 "description": "A key that signs requests as this API key with HTTP Message Signatures (RFC 9421); its keyid goes in "
                                "Signature-Input. hmac-sha256: the answer holds the secret, shown only now; ed25519: register your public key.",
                 "responses": {"201": json_response("Created.", ref("SignatureKey")), **err(*BODY_ERRORS, (404, "NotFound"), *COMMON)}},
        "get": {"operationId": "listSignatureKeys", "tags": ["security"],
                "responses": {"200": json_response("The API key's signing keys.", ref("SignatureKeyPage")), **err((404, "NotFound"), *COMMON)}},
    },
    "/api/v1/api-keys/{id}/signature-keys/{keyid}": {
        "parameters": [PARAM_ID, {"name": "keyid", "in": "path", "required": True, "schema": ID}],
        "delete": {"operationId": "deleteSignatureKey", "tags": ["security"], "description": "Its signatures stop verifying at once.",
                   "responses": {"204": {"description": "Deleted."}, **err((404, "NotFound"), *COMMON)}},
    },
    "/api/v1/token-issuers": {
        "post": {"operationId": "createTokenIssuer", "tags": ["security"], "requestBody": body(ref("TokenIssuerInput")),
                 "description": "Registers an identity provider whose JWTs the tenant accepts: its backend (hs256, the answer holds the secret, "
                                "shown only now), an external provider's JWKS, or its RFC 7662 introspection endpoint. Tokens need iss, aud, "
                                "sub and exp; role and scope/scp map to the principal, capped by the role. Tenants may register the same "
                                "issuer (409 only for the same tenant); a token goes to the tenant whose audience it names, or, where "
                                "tenants share issuer and audience, to the one its request names in the Switchboard-Tenant header. "
                                "jwks_url and introspection_url must be https unless security.allow_private_identity_providers.",
                 "responses": {"201": json_response("Created.", ref("TokenIssuer")), **err(*BODY_ERRORS, (409, "Conflict"), *COMMON)}},
        "get": {"operationId": "listTokenIssuers", "tags": ["security"],
                "responses": {"200": json_response("The tenant's issuers.", ref("TokenIssuerPage")), **err(*COMMON)}},
    },
    "/api/v1/token-issuers/{id}": {
        "parameters": [PARAM_ID],
        "delete": {"operationId": "deleteTokenIssuer", "tags": ["security"], "description": "Its tokens stop working at once.",
                   "responses": {"204": {"description": "Deleted."}, **err((404, "NotFound"), *COMMON)}},
    },
    "/ws": {"get": {
        "operationId": "webSocket", "tags": ["realtime"],
        "parameters": [query("token", {"type": "string", "description": "A credential, for clients that cannot set Authorization."}),
                       query("since", {"type": "integer", "minimum": 0, "description": "Replay every visible event after this seq first."})],
        "description": "The realtime WebSocket (frames and close codes in the README). Without the Upgrade handshake: 426.",
        "responses": {"101": {"description": "Switching to the WebSocket protocol."},
                      "426": {"description": "Not a WebSocket handshake.", "content": PROBLEM}, **err(*COMMON)}}},
    "/oauth/token": {"post": {
        "operationId": "token", "tags": ["oauth"], "security": [], "requestBody": {"required": True, "content": TOKEN_FORM},
        "description": "RFC 6749 client-credentials grant: grant_type=client_credentials and an optional scope (a subset of the client's); "
                       "client_secret_basic or client_secret_post. Answers an ES256 JWT access token (RFC 9068).",
        "responses": {"200": json_response("The token.", obj({"access_token": {"type": "string"}, "token_type": {"type": "string"},
                                                                "expires_in": {"type": "integer"}, "scope": {"type": "string"}})),
                      **OAUTH_ERRORS}}},
    "/oauth/introspect": {"post": {
        "operationId": "introspect", "tags": ["oauth"], "security": [], "requestBody": {"required": True, "content": TOKEN_PARAMETER_FORM},
        "description": "RFC 7662, for an authenticated client: token=…; tokens of other tenants are inactive.",
        "responses": {"200": json_response("{active, scope, client_id, sub, tenant_id, iss, aud, exp, iat, jti, token_type}.", {"type": "object"}),
                      **OAUTH_ERRORS}}},
    "/oauth/revoke": {"post": {
        "operationId": "revoke", "tags": ["oauth"], "security": [], "requestBody": {"required": True, "content": TOKEN_PARAMETER_FORM},
        "description": "RFC 7009, for an authenticated client: token=… (one of its own access tokens).",
        "responses": {"200": {"description": "Revoked, or nothing to revoke."}, **OAUTH_ERRORS}}},
    "/.well-known/jwks.json": {"get": {
        "operationId": "jwks", "tags": ["oauth"], "security": [],
        "responses": {"200": {"description": "The public keys of the access tokens (RFC 7517).", "content": {"application/jwk-set+json": {}}}}}},
    "/.well-known/oauth-authorization-server": {"get": {
        "operationId": "authorizationServerMetadata", "tags": ["oauth"], "security": [],
        "responses": {"200": json_response("RFC 8414 metadata.", {"type": "object"})}}},
    "/api/v1/security": {
        "get": {"operationId": "getTenantSecurity", "tags": ["security"],
                "responses": {"200": json_response("The tenant's allow-list and rate limit.", ref("TenantSecurity")), **err(*COMMON)}},
        "put": {"operationId": "updateTenantSecurity", "tags": ["security"], "requestBody": body(ref("TenantSecurity")),
                "description": "Fields present replace the current ones. An allow-list that excludes the caller locks it out too.",
                "responses": {"200": json_response("The new settings.", ref("TenantSecurity")), **err(*BODY_ERRORS, *COMMON)}},
    },
    "/api/v1/settings": {
        "get": {"operationId": "getTenantSettings", "tags": ["security"],
                "responses": {"200": json_response("The tenant's settings.", ref("TenantSettings")), **err(*COMMON)}},
        "put": {"operationId": "updateTenantSettings", "tags": ["security"], "requestBody": body(ref("TenantSettings")),
                "description": "Fields present replace the current ones.",
                "responses": {"200": json_response("The new settings.", ref("TenantSettings")), **err(*BODY_ERRORS, *COMMON)}},
    },
    "/api/v1/audit-events": {
        "get": {"operationId": "listAuditEvents", "tags": ["security"], "parameters": [query("action", {"type": "string"}), LIMIT, CURSOR],
                "description": "Newest first.",
                "responses": {"200": json_response("One page.", ref("AuditEventPage")), **err((400, "BadRequest"), *COMMON)}},
    },
}

# What the server reads as text: trimmed of whitespace (JSON Schema's \\s), then not empty.
def refine_text(schema):
    for name, property in schema.get("properties", {}).items():
        if property.get("type") == "string" and not ({"enum", "x-enum", "pattern", "format", "$ref"} & property.keys()):
            property["pattern"] = "\\S"
            property.setdefault("minLength", 1)


for name in [name for name in schemas if name.endswith(("Input", "Changes", "Update"))]:
    refine_text(schemas[name])
for name, required in [("Agent", ["name"]), ("Customer", ["customer_id"]), ("Conversation", ["visitor_id"]), ("Webhook", ["url", "events"])]:
    schemas[f"{name}Create"] = {**schemas[f"{name}Input"], "required": required}
schemas["TicketSync"] = {**schemas["TicketChanges"], "required": ["ticket_id"],
                         "properties": {**schemas["TicketChanges"]["properties"], "ticket_id": KEY}}
schemas["ConversationChanges"] = {**schemas["ConversationInput"], "properties": {
    name: value for name, value in schemas["ConversationInput"]["properties"].items() if name not in ("visitor_id", "channel")}}

document = {
    "openapi": "3.1.0",
    "info": {"title": "Switchboard REST API", "version": "1.0.0",
             "description": "Agents, visitors, conversations, messages, the per-tenant event log and plugin integrations."},
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}, {"apiKey": []}],
    "paths": paths,
    "components": {
        "schemas": schemas,
        "responses": responses,
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "An API key (sb_live_…), an access token of /oauth/token, or a JWT of one of the tenant's token "
                                      "issuers. Each operation lists the scope it requires (admin holds every scope)."},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "directory": {"type": "http", "scheme": "basic",
                          "description": "Directory credentials checked by the tenant's auth_provider plugins (e.g. auth-ldap): user id "
                                         "'<tenant id>/<username>'. POST /api/v1/auth/token trades them for a bearer token."},
            "httpSignature": {"type": "apiKey", "in": "header", "name": "Signature",
                              "description": "HTTP Message Signatures (RFC 9421) by a signing key of an API key: Signature-Input and "
                                             "Signature covering @method, @target-uri and (with a body) content-digest, with created "
                                             "(within 300 s) and a fresh nonce."},
            "oauth2": {"type": "oauth2", "description": "Access tokens of the built-in authorization server.",
                       "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {"x-enum-map": "Scope"}}}},
        },
    },
}

target = pathlib.Path(__file__).resolve().parent.parent / "Sources/SwitchboardServer/Resources/openapi.json"
text = json.dumps(document, indent=2) + "\n"
if "--check" in sys.argv[1:]:
    if target.read_text() != text:
        sys.exit(f"{target} is stale: run python3 scripts/openapi.py")
    print("openapi.json is up to date")
else:
    target.write_text(text)
    print(f"wrote {target}")
