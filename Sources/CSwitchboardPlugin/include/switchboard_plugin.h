/*
 * switchboard_plugin.h — the Switchboard plugin ABI, version 1.1.
 *
 * Plain C99, fixed-width types only. This header is the whole contract between the Switchboard
 * host and a plugin shared library; nothing else is shared, and plugins are never linked into
 * the host.
 *
 * Discovery. The host loads a plugin with dlopen(RTLD_NOW | RTLD_LOCAL), never dlcloses it, and
 * looks up two functions whose names carry the major version:
 *
 *     sb_str    sb_plugin_manifest_v1(void);
 *     sb_status sb_plugin_init_v1(const sb_host_api *host, sb_plugin_api *plugin);
 *
 * The manifest is called first and must have no side effects (`switchboard plugins inspect` calls
 * it without ever calling init). Init is called once per process, after the manifest was accepted.
 *
 * Versioning. Minor versions only append fields to the end of the structs below. Every struct
 * starts with `struct_size`, set by whoever fills it to the size it was compiled with, so each side
 * knows which fields the other has. A field beyond the other side's `struct_size` is absent; a NULL
 * function pointer is an absent hook. A 1.0 plugin therefore loads in a 1.9 host, and a 1.9 plugin
 * in a 1.0 host is detected (its minor is higher) and rejected with both versions named.
 *
 * Strings. Text crosses as sb_str: UTF-8, not NUL-terminated, `len` bytes at `ptr`; structured text
 * is JSON. Arguments are borrowed: valid only until the call they were passed to returns. Anything
 * handed over to the other side (out-strings, results, kv values) is allocated with the host's
 * `alloc` and released by the receiver with the host's `free`, so allocators never mix.
 *
 * Threads. The host calls hooks on its worker threads, never on a network event loop, and never
 * two hooks of one instance at once when the manifest sets "serialize_calls". Host services may be
 * called from any thread, for instance-scoped services from the call of `create` (inside it too)
 * until `destroy` returns. Hooks must not block for long: slow work returns SB_PENDING and
 * finishes through `complete`. Nothing may unwind (C++ exceptions, Swift errors, panics) across
 * this boundary.
 */
#ifndef SWITCHBOARD_PLUGIN_H
#define SWITCHBOARD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI major version: part of every entry symbol's name (`sb_plugin_init_v1`). */
#define SB_ABI_VERSION_MAJOR 1
/** ABI minor version: a host accepts plugins built against any minor up to its own. */
#define SB_ABI_VERSION_MINOR 1

/** Status of every ABI call. A receiver treats any value it does not know as SB_INTERNAL. */
typedef enum sb_status {
    SB_OK = 0,          /**< Success; out-values are set. */
    SB_PENDING = 1,     /**< Accepted; the result arrives later through `complete` or a callback. */
    SB_INVALID = 2,     /**< The arguments are malformed; retrying the same call fails again. */
    SB_NOT_FOUND = 3,   /**< The addressed object (kv key, call op) does not exist. */
    SB_DENIED = 4,      /**< The caller may not do this (e.g. a service missing from the manifest). */
    SB_TIMEOUT = 5,     /**< A deadline passed before the work finished. */
    SB_UNAVAILABLE = 6, /**< A dependency is down or overloaded; retrying later may succeed. */
    SB_UNSUPPORTED = 7, /**< The operation is not implemented by this side. */
    SB_INTERNAL = 8,    /**< A bug or unexpected failure. */
    SB_CONFLICT = 9     /**< A compare-and-set found another version than expected. */
} sb_status;

/** Borrowed or handed-over UTF-8 text; see "Strings" above. `ptr` may be NULL only when `len` is 0. */
typedef struct sb_str {
    const char *ptr;
    size_t len;
} sb_str;

/**
 * The host's context for one plugin instance (one tenant's integration), or for the plugin as a
 * whole before any instance exists. Opaque; owned by the host. An instance's context stays valid
 * from the call of `create` until `destroy` returns; the plugin-wide context passed to init stays
 * valid for the life of the process.
 */
typedef struct sb_host sb_host;

/** A plugin's per-tenant instance. Opaque to the host; owned by the plugin until `destroy`. */
typedef struct sb_instance sb_instance;

/** Identifies one `call` until it completes; unique within the process. */
typedef uint64_t sb_call_id;

/** Log levels of the `log` service. */
typedef enum sb_log_level {
    SB_LOG_TRACE = 0,
    SB_LOG_DEBUG = 1,
    SB_LOG_INFO = 2,
    SB_LOG_WARNING = 3,
    SB_LOG_ERROR = 4
} sb_log_level;

/** `kv_put` / `kv_delete` expected version meaning "whatever is stored, or nothing". */
#define SB_KV_ANY_VERSION UINT64_MAX

/** An outgoing HTTP request for the `http_request` service. Borrowed for the length of that call. */
typedef struct sb_http_request {
    uint32_t struct_size; /**< sizeof(sb_http_request) as the plugin was compiled. */
    sb_str method;        /**< "GET", "POST", ... */
    sb_str url;           /**< Absolute http:// or https:// URL. */
    sb_str headers_json;  /**< A JSON object of header name to string value; empty for none. */
    sb_str body;          /**< Request body bytes; empty for none. */
    uint32_t timeout_ms;  /**< Whole-request deadline; 0 uses the plugin's configured default. */
} sb_http_request;

/**
 * The outcome of an `http_request`. Borrowed: valid only during the callback.
 * `status_code` is 0 when no response arrived (then the callback's status says why).
 */
typedef struct sb_http_response {
    uint32_t struct_size;  /**< sizeof(sb_http_response) as the host was compiled. */
    int32_t status_code;   /**< HTTP status, or 0. */
    sb_str headers_json;   /**< A JSON object of lower-case header name to string value. */
    sb_str body;           /**< Response body, capped by the host (1 MiB). */
} sb_http_response;

/**
 * Receives the result of an `http_request`, exactly once, on a host thread (possibly before
 * `http_request` returns). `status` is SB_OK when a response arrived (any HTTP status), SB_TIMEOUT,
 * SB_DENIED (the SSRF guard refused the address), SB_INVALID (bad URL or headers) or SB_UNAVAILABLE.
 */
typedef void (*sb_http_callback)(void *user_data, sb_status status, const sb_http_response *response);

/**
 * Services the host offers. Passed to init; the table and every function in it stay valid for
 * the life of the process. `host` arguments are the contexts described at sb_host. A service
 * the manifest did not list in "services" answers SB_DENIED.
 */
typedef struct sb_host_api {
    uint32_t struct_size; /**< sizeof(sb_host_api) as the host was compiled. */
    uint16_t abi_major;   /**< The host's SB_ABI_VERSION_MAJOR. */
    uint16_t abi_minor;   /**< The host's SB_ABI_VERSION_MINOR. */

    /** Allocates `size` bytes for data handed to the host (alloc(0) gives a pointer to free like any
     *  other). Returns NULL when out of memory. */
    void *(*alloc)(size_t size);
    /** Frees memory from `alloc`, including strings the host handed over (an `sb_str`'s `ptr` as it
     *  is, without casting `const` away: the same call as in the 1.0 header). NULL is ignored. */
    void (*free)(const void *ptr);

    /** Writes a log record tagged with the plugin and, for an instance context, the tenant. */
    void (*log)(const sb_host *host, sb_log_level level, sb_str message);

    /**
     * Reads `key` of this instance's key-value space (scoped to tenant and plugin, persisted).
     * On SB_OK, `*value_out` is handed over (free it with `free`) and `*version_out` is its version.
     * SB_NOT_FOUND when the key has no value.
     */
    sb_status (*kv_get)(const sb_host *host, sb_str key, sb_str *value_out, uint64_t *version_out);
    /**
     * Stores `value` under `key` if the stored version equals `expected_version` (0: the key must not
     * exist; SB_KV_ANY_VERSION: unconditionally). On SB_OK `*version_out` (may be NULL) is the new
     * version. SB_CONFLICT when the version differed. Keys are at most 256 bytes, values 1 MiB.
     */
    sb_status (*kv_put)(const sb_host *host, sb_str key, sb_str value, uint64_t expected_version, uint64_t *version_out);
    /** Deletes `key` if its version equals `expected_version`; SB_NOT_FOUND when absent. */
    sb_status (*kv_delete)(const sb_host *host, sb_str key, uint64_t expected_version);

    /**
     * Appends an event to the tenant's event log, durably, before returning SB_OK. `name` is
     * appended to "plugin.<plugin id>." to form the event type; `data_json` must be a JSON object.
     */
    sb_status (*emit_event)(const sb_host *host, sb_str name, sb_str data_json);

    /**
     * Starts an HTTP request through the host's client (timeouts, SSRF guard). Returns SB_PENDING and
     * later calls `callback(user_data, ...)` exactly once; any other return value means the callback
     * will not be called.
     */
    sb_status (*http_request)(const sb_host *host, const sb_http_request *request, sb_http_callback callback, void *user_data);

    /** Adds `delta` (>= 0) to the counter `name`, labelled with plugin and tenant. */
    void (*metric_counter)(const sb_host *host, sb_str name, double delta);
    /** Records `value` into the histogram `name`, labelled with plugin and tenant. */
    void (*metric_histogram)(const sb_host *host, sb_str name, double value);

    /**
     * Finishes a call that returned SB_PENDING: exactly once per call, from any thread. On SB_OK
     * `result_json` is the JSON result; otherwise an optional error message. Borrowed. A completion
     * after the host timed the call out or cancelled it is ignored.
     */
    void (*complete)(const sb_host *host, sb_call_id call_id, sb_status status, sb_str result_json);

    /* ABI 1.1: services that say whether they did what was asked, where the 1.0 ones drop a bad
     * request silently. A plugin that may run on a 1.0 host checks
     * host->struct_size >= SB_HOST_API_V1_1_SIZE before calling them. */

    /** Like `log`: SB_INVALID (and nothing written) for a level outside sb_log_level, else SB_OK. */
    sb_status (*log_checked)(const sb_host *host, sb_log_level level, sb_str message);
    /**
     * Like `metric_counter` (`histogram` 0) or `metric_histogram` (1): SB_INVALID for a name that is
     * not 1-64 of [a-z0-9_], a value that is not finite, or a negative counter delta; SB_DENIED when
     * the manifest does not list the "metrics" service; SB_OK when the value was taken.
     */
    sb_status (*metric_checked)(const sb_host *host, sb_str name, double value, int histogram);
} sb_host_api;

/**
 * The plugin's hooks, filled by init. The host passes a zeroed table whose `struct_size` is the
 * host's size; the plugin fills at most that many bytes and sets `struct_size` to its own size.
 * `create` and `destroy` are required; any other hook may be NULL (the host answers
 * SB_UNSUPPORTED for it or skips it).
 */
typedef struct sb_plugin_api {
    uint32_t struct_size; /**< sizeof(sb_plugin_api) as the plugin was compiled. */
    uint16_t abi_major;   /**< The plugin's SB_ABI_VERSION_MAJOR. */
    uint16_t abi_minor;   /**< The plugin's SB_ABI_VERSION_MINOR. */

    /**
     * Creates the instance for `tenant_id` with its validated `config_json` (a JSON object, secrets
     * decrypted). `host` is the instance's context: keep it for host services. On SB_OK sets
     * `*instance_out`; on failure may set `*error_out` (handed over) to a message for the operator.
     */
    sb_status (*create)(const sb_host *host, sb_str tenant_id, sb_str config_json, sb_instance **instance_out, sb_str *error_out);

    /**
     * Applies a new validated configuration without losing state. NULL or SB_UNSUPPORTED: the host
     * destroys the instance and creates a new one instead. No other hook of the instance runs meanwhile.
     */
    sb_status (*reconfigure)(sb_instance *instance, sb_str config_json, sb_str *error_out);

    /**
     * Destroys the instance. Called when no hook of it runs and no call of it is pending; none will
     * follow. After it returns the instance's `host` context is invalid.
     */
    void (*destroy)(sb_instance *instance);

    /**
     * Receives one event of the instance's tenant whose type matches the manifest's "events", as the
     * JSON envelope of GET /api/v1/events. Events arrive one at a time, in the tenant's order.
     * SB_OK and SB_UNSUPPORTED acknowledge it; SB_UNAVAILABLE, SB_TIMEOUT and SB_INTERNAL make the
     * host retry the same event with backoff; SB_INVALID drops it with a log line.
     */
    sb_status (*on_event)(sb_instance *instance, sb_str event_json);

    /**
     * Performs `op` (e.g. "crm.lookup_customer") with `args_json`. Either answers at once (SB_OK with
     * `*result_out` set to a handed-over JSON value, or an error status with an optional handed-over
     * message in `*result_out`), or returns SB_PENDING and later calls the host's `complete` with the
     * same `call_id`. SB_NOT_FOUND: unknown op.
     */
    sb_status (*call)(sb_instance *instance, sb_call_id call_id, sb_str op, sb_str args_json, sb_str *result_out);

    /** Reports health: SB_OK or SB_UNAVAILABLE, with an optional handed-over detail message. */
    sb_status (*health)(sb_instance *instance, sb_str *detail_out);

    /**
     * Asks the plugin to stop a pending call (the host timed it out or the caller went away). The
     * host no longer waits for its completion; a later `complete` is ignored.
     */
    void (*cancel)(sb_instance *instance, sb_call_id call_id);
} sb_plugin_api;

/**
 * Signature of `sb_plugin_manifest_v1`: the manifest JSON in static storage. No side effects.
 *
 * The manifest is a JSON object:
 *   "id"              required; 1-64 of [a-z0-9_-], starting with a letter or digit; unique per host.
 *   "version"         required; the plugin's own version, e.g. "1.2.0".
 *   "name", "description"   optional text for operators.
 *   "capabilities"    required, non-empty; any of "event_listener", "crm", "ticketing",
 *                     "stats_sink", "auth_provider".
 *   "events"          event types delivered to on_event: exact ("message.received"), a prefix
 *                     ("message.*") or "*". Absent or empty: no events.
 *   "services"        host services used: any of "log", "kv", "emit", "http", "metrics".
 *   "config_schema"   a JSON Schema (draft 2020-12 subset, see docs/plugins.md) of the per-tenant
 *                     config, "type": "object". Properties marked "writeOnly": true are secrets:
 *                     encrypted at rest and masked when read back.
 *   "serialize_calls" true: at most one hook of an instance runs at a time.
 *   "call_timeout_ms" deadline of each call and on_event (default 5000).
 *   "http_timeout_ms" default deadline of http_request (default 10000).
 *   "ops"             the call ops the plugin answers, at most 64: each gets its own label in the
 *                     sb_plugin_calls_total metric; any other op a caller sends is counted as "other".
 */
typedef sb_str (*sb_plugin_manifest_v1_fn)(void);

/**
 * Signature of `sb_plugin_init_v1`: fills `plugin` and keeps `host` (valid forever). Returns SB_OK,
 * or an error status to refuse loading (the host then shows the plugin as rejected).
 */
typedef sb_status (*sb_plugin_init_v1_fn)(const sb_host_api *host, sb_plugin_api *plugin);

/**
 * Marks the two entry points as exported, so a plugin built with -fvisibility=hidden (which keeps its
 * other symbols private) still has them: `SB_EXPORT sb_str sb_plugin_manifest_v1(void) { ... }`.
 */
#if defined(__GNUC__) || defined(__clang__)
#define SB_EXPORT __attribute__((visibility("default")))
#else
#define SB_EXPORT
#endif

/* The entry points a C plugin defines, declared so that a wrong signature fails to compile. (Swift
 * plugins define them with @_cdecl and do not see these declarations.) */
#ifndef __swift__
SB_EXPORT sb_str sb_plugin_manifest_v1(void);
SB_EXPORT sb_status sb_plugin_init_v1(const sb_host_api *host, sb_plugin_api *plugin);
#endif

/** The size of the 1.0 part of sb_plugin_api: what every v1 plugin fills at least. */
#define SB_PLUGIN_API_V1_0_SIZE (offsetof(sb_plugin_api, cancel) + sizeof(void (*)(void)))
/** The size of the 1.0 part of sb_host_api: what every v1 host offers at least. */
#define SB_HOST_API_V1_0_SIZE (offsetof(sb_host_api, complete) + sizeof(void (*)(void)))
/** The size of the 1.1 part of sb_host_api: a host at least this big has the checked services. */
#define SB_HOST_API_V1_1_SIZE (offsetof(sb_host_api, metric_checked) + sizeof(void (*)(void)))

#ifdef __cplusplus
}
#endif

#endif /* SWITCHBOARD_PLUGIN_H */
