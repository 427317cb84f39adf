/*
 * echo-c: the example plugin in C.
 *
 * Logs every event it receives, records it in the tenant's key-value space (one "state" document:
 * "count" and the last 64 "type:seq" entries in "seen"; an event delivered again is found there and
 * recorded once), counts it as a metric, and answers three calls:
 *   echo.ping         -> {"pong":true,"tenant_id":...,"label":...,"args":<args>}
 *   echo.state        -> {"count":N,"seen":[...]}
 *   echo.check_token  {"token":"..."} -> {"match":true|false}   (compares with the secret config field)
 *
 * JSON is read and written with switchboard_json.h, the helper beside the ABI header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "switchboard_json.h"
#include "switchboard_plugin.h"

static const sb_host_api *host_api;

static const char manifest[] =
    "{\"id\":\"echo-c\",\"version\":\"1.0.0\",\"name\":\"Echo (C)\","
    "\"description\":\"Logs and counts events; answers echo.ping, echo.state and echo.check_token.\","
    "\"capabilities\":[\"event_listener\"],\"events\":[\"*\"],"
    "\"services\":[\"log\",\"kv\",\"metrics\"],\"serialize_calls\":true,\"call_timeout_ms\":2000,"
    "\"ops\":[\"echo.ping\",\"echo.state\",\"echo.check_token\"],"
    "\"config_schema\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"label\":{\"type\":\"string\",\"maxLength\":64,\"description\":\"Shown in echo.ping.\"},"
    "\"token\":{\"type\":\"string\",\"minLength\":4,\"writeOnly\":true,\"description\":\"A secret for echo.check_token.\"}}}}";

struct sb_instance {
    const sb_host *host;
    char *tenant;
    char *label; /* JSON-ready text, without quotes */
    char *token;
};

static sb_str str(const char *text) {
    sb_str value = {text, strlen(text)};
    return value;
}

/* A NUL-terminated copy of borrowed text. */
static char *copy(sb_str text) {
    char *out = malloc(text.len + 1);
    if (out == NULL) return NULL;
    memcpy(out, text.ptr, text.len);
    out[text.len] = 0;
    return out;
}

/* Hands `text` over to the host (allocated with its allocator). */
static sb_str hand_over(const char *text) {
    size_t len = strlen(text);
    char *out = host_api->alloc(len);
    if (out == NULL) return (sb_str){NULL, 0};
    memcpy(out, text, len);
    return (sb_str){out, len};
}

/* Tokens enough for the config, an event's envelope and call args; a bigger document is refused. */
#define TOKENS 512

/* The string value of the top-level "name" of a JSON object, unescaped and NUL-terminated (malloc'd),
 * or NULL when the text is not an object, "name" is absent or not a string. */
static char *string_field(sb_str json, const char *name) {
    sb_json_token tokens[TOKENS];
    sb_json doc;
    if (sb_json_parse(&doc, json.ptr, json.len, tokens, TOKENS) < 0) return NULL;
    int value = sb_json_get(&doc, 0, name);
    long length = sb_json_string(&doc, value, NULL, 0);
    if (length < 0) return NULL;
    char *out = malloc((size_t)length + 1);
    if (out != NULL) sb_json_string(&doc, value, out, (size_t)length + 1);
    return out;
}

/* The integer value of the top-level "name" of a JSON object, or -1. */
static long long number_field(sb_str json, const char *name) {
    sb_json_token tokens[TOKENS];
    sb_json doc;
    int64_t value = -1;
    if (sb_json_parse(&doc, json.ptr, json.len, tokens, TOKENS) < 0 || !sb_json_int64(&doc, sb_json_get(&doc, 0, name), &value)) return -1;
    return value;
}

static void free_instance(struct sb_instance *instance) {
    free(instance->tenant);
    free(instance->label);
    free(instance->token);
    free(instance);
}

static sb_status apply_config(struct sb_instance *instance, sb_str config_json) {
    free(instance->label);
    free(instance->token);
    instance->label = string_field(config_json, "label");
    instance->token = string_field(config_json, "token");
    return SB_OK;
}

static sb_status create(const sb_host *host, sb_str tenant_id, sb_str config_json, sb_instance **instance_out, sb_str *error_out) {
    struct sb_instance *instance = calloc(1, sizeof *instance);
    if (instance == NULL) return SB_INTERNAL;
    instance->host = host;
    instance->tenant = copy(tenant_id);
    if (apply_config(instance, config_json) != SB_OK) {
        *error_out = hand_over("out of memory");
        free_instance(instance);
        return SB_INTERNAL;
    }
    host_api->log(host, SB_LOG_INFO, str("echo-c instance created"));
    *instance_out = instance;
    return SB_OK;
}

static sb_status reconfigure(sb_instance *instance, sb_str config_json, sb_str *error_out) {
    (void)error_out;
    return apply_config(instance, config_json);
}

static void destroy(sb_instance *instance) {
    host_api->log(instance->host, SB_LOG_INFO, str("echo-c instance destroyed"));
    free_instance(instance);
}

/* Reads a kv value as a NUL-terminated string (or `fallback`), with its version. */
static char *kv_read(const sb_host *host, const char *key, const char *fallback, uint64_t *version) {
    sb_str value = {NULL, 0};
    sb_status status = host_api->kv_get(host, str(key), &value, version);
    if (status == SB_NOT_FOUND) {
        *version = 0;
        return copy(str(fallback));
    }
    if (status != SB_OK) return NULL;
    char *text = copy(value);
    host_api->free(value.ptr);
    return text;
}

/* The recorded state, one kv document so that it changes in one write: {"count":N,"seen":[...]}. */
static const char empty_state[] = "{\"count\":0,\"seen\":[]}";

/* The next state after `state` records `entry`: the last 64 entries are kept. NULL when the state is
 * not one this plugin wrote or memory runs out. Sets *recorded when `entry` is among the entries
 * already: delivery is at least once, so an event can come again (after a timeout or a restart). It
 * is looked for rather than compared with the newest seq: a parked event retried later comes after
 * newer ones. */
static char *next_state(const char *state, const char *entry, int *recorded) {
    sb_json_token tokens[TOKENS];
    sb_json doc;
    int64_t count = 0;
    if (sb_json_parse(&doc, state, strlen(state), tokens, TOKENS) < 0) return NULL;
    int seen = sb_json_get(&doc, 0, "seen");
    if (!sb_json_int64(&doc, sb_json_get(&doc, 0, "count"), &count) || sb_json_type_of(&doc, seen) != SB_JSON_ARRAY || count < 0
        || count == INT64_MAX) return NULL;
    char text[160];
    for (int position = 0, at = seen + 1; position < doc.tokens[seen].size; position++, at = doc.tokens[at].next) {
        if (sb_json_string(&doc, at, text, sizeof text) >= 0 && strcmp(text, entry) == 0) {
            *recorded = 1;
            return NULL;
        }
    }
    int first = doc.tokens[seen].size >= 64 ? doc.tokens[seen].size - 63 : 0;
    /* The kept entries as they are, the new one escaped (at most 6 bytes a byte), count and punctuation. */
    size_t size = doc.tokens[seen].end - doc.tokens[seen].start + 6 * strlen(entry) + 64;
    char *out = malloc(size + 1); /* and the NUL */
    if (out == NULL) return NULL;
    sb_json_writer w;
    sb_json_writer_init(&w, out, size);
    sb_json_begin_object(&w);
    sb_json_key(&w, "count");
    char number[32];
    snprintf(number, sizeof number, "%lld", (long long)count + 1);
    sb_json_write_raw(&w, number, strlen(number));
    sb_json_key(&w, "seen");
    sb_json_begin_array(&w);
    for (int position = 0, at = seen + 1; position < doc.tokens[seen].size; position++, at = doc.tokens[at].next) {
        if (position < first) continue;
        const char *raw;
        size_t length = sb_json_raw(&doc, at, &raw);
        sb_json_write_raw(&w, raw, length);
    }
    sb_json_write_string(&w, entry, strlen(entry));
    sb_json_end_array(&w);
    sb_json_end_object(&w);
    if (sb_json_writer_failed(&w)) {
        free(out);
        return NULL;
    }
    out[w.length] = 0;
    return out;
}

/* Records the event once; *added says whether this delivery added it. */
static sb_status record(sb_instance *instance, const char *type, long long seq, int *added) {
    char entry[160];
    snprintf(entry, sizeof entry, "%s:%lld", type, seq);
    for (int attempt = 0; attempt < 8; attempt++) {
        uint64_t version;
        char *state = kv_read(instance->host, "state", empty_state, &version);
        if (state == NULL) return SB_UNAVAILABLE;
        int recorded = 0;
        char *next = next_state(state, entry, &recorded);
        free(state);
        if (recorded) return SB_OK;
        if (next == NULL) return SB_INTERNAL;
        sb_status status = host_api->kv_put(instance->host, str("state"), str(next), version, NULL);
        free(next);
        if (status != SB_CONFLICT) {
            *added = status == SB_OK;
            return status;
        }
    }
    return SB_UNAVAILABLE;
}

static sb_status on_event(sb_instance *instance, sb_str event_json) {
    char *type = string_field(event_json, "event");
    long long seq = number_field(event_json, "seq");
    if (type == NULL || seq < 0) {
        free(type);
        return SB_INVALID;
    }
    host_api->log(instance->host, SB_LOG_DEBUG, str(type));
    int added = 0;
    sb_status status = record(instance, type, seq, &added);
    free(type);
    if (added) host_api->metric_counter(instance->host, str("echo_events_total"), 1);
    return status;
}

static sb_status call(sb_instance *instance, sb_call_id call_id, sb_str op, sb_str args_json, sb_str *result_out) {
    (void)call_id;
    char *name = copy(op);
    sb_status status = SB_OK;
    if (name == NULL) {
        status = SB_INTERNAL;
    } else if (strcmp(name, "echo.ping") == 0) {
        /* Escaping makes the answer at most 6 bytes per byte of text, plus the fixed parts. */
        size_t size = 6 * (strlen(instance->tenant) + (instance->label ? strlen(instance->label) : 0)) + args_json.len + 80;
        char *out = malloc(size);
        sb_json_writer w;
        sb_json_writer_init(&w, out, out ? size : 0);
        sb_json_begin_object(&w);
        sb_json_key(&w, "pong");
        sb_json_write_bool(&w, 1);
        sb_json_key(&w, "tenant_id");
        sb_json_write_string(&w, instance->tenant, strlen(instance->tenant));
        sb_json_key(&w, "label");
        if (instance->label) sb_json_write_string(&w, instance->label, strlen(instance->label));
        else sb_json_write_null(&w);
        sb_json_key(&w, "args");
        sb_json_write_raw(&w, args_json.ptr, args_json.len); /* args are JSON already */
        sb_json_end_object(&w);
        if (sb_json_writer_failed(&w)) {
            status = SB_INTERNAL;
        } else {
            char *answer = host_api->alloc(w.length);
            if (answer != NULL) memcpy(answer, out, w.length);
            *result_out = (sb_str){answer, answer ? w.length : 0};
        }
        free(out);
    } else if (strcmp(name, "echo.state") == 0) {
        uint64_t version;
        char *state = kv_read(instance->host, "state", empty_state, &version);
        if (state) *result_out = hand_over(state);
        else status = SB_UNAVAILABLE;
        free(state);
    } else if (strcmp(name, "echo.check_token") == 0) {
        char *token = string_field(args_json, "token");
        if (token == NULL) {
            *result_out = hand_over("args need a string \"token\"");
            status = SB_INVALID;
        } else {
            int match = instance->token != NULL && strcmp(token, instance->token) == 0;
            *result_out = hand_over(match ? "{\"match\":true}" : "{\"match\":false}");
        }
        free(token);
    } else {
        status = SB_NOT_FOUND;
    }
    free(name);
    return status;
}

static sb_status health(sb_instance *instance, sb_str *detail_out) {
    (void)instance;
    *detail_out = hand_over("ok");
    return SB_OK;
}

sb_str sb_plugin_manifest_v1(void) {
    return (sb_str){manifest, sizeof manifest - 1};
}

sb_status sb_plugin_init_v1(const sb_host_api *host, sb_plugin_api *plugin) {
    if (host->abi_major != SB_ABI_VERSION_MAJOR || host->struct_size < SB_HOST_API_V1_0_SIZE) return SB_UNSUPPORTED;
    host_api = host;
    sb_plugin_api api = {
        .struct_size = sizeof(sb_plugin_api),
        .abi_major = SB_ABI_VERSION_MAJOR,
        .abi_minor = SB_ABI_VERSION_MINOR,
        .create = create,
        .reconfigure = reconfigure,
        .destroy = destroy,
        .on_event = on_event,
        .call = call,
        .health = health,
        .cancel = NULL,
    };
    size_t size = plugin->struct_size < sizeof api ? plugin->struct_size : sizeof api;
    memcpy(plugin, &api, size);
    plugin->struct_size = (uint32_t)sizeof api;
    return SB_OK;
}
