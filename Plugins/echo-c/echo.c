/*
 * echo-c: the example plugin in C.
 *
 * Logs every event it receives, records it in the tenant's key-value space ("count" and the
 * last 64 "type:seq" entries in "seen"), counts it as a metric, and answers three calls:
 *   echo.ping         -> {"pong":true,"tenant_id":...,"label":...,"args":<args>}
 *   echo.state        -> {"count":N,"seen":[...]}
 *   echo.check_token  {"token":"..."} -> {"match":true|false}   (compares with the secret config field)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The string value of a top-level "name" in compact JSON without escapes in that value; NULL if absent. */
static char *string_field(const char *json, const char *name) {
    char pattern[80];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", name);
    const char *start = strstr(json, pattern);
    if (start == NULL) return NULL;
    start += strlen(pattern);
    const char *end = strchr(start, '"');
    if (end == NULL) return NULL;
    return copy((sb_str){start, (size_t)(end - start)});
}

static long long number_field(const char *json, const char *name) {
    char pattern[80];
    snprintf(pattern, sizeof pattern, "\"%s\":", name);
    const char *start = strstr(json, pattern);
    return start == NULL ? -1 : atoll(start + strlen(pattern));
}

static void free_instance(struct sb_instance *instance) {
    free(instance->tenant);
    free(instance->label);
    free(instance->token);
    free(instance);
}

static sb_status apply_config(struct sb_instance *instance, sb_str config_json) {
    char *config = copy(config_json);
    if (config == NULL) return SB_INTERNAL;
    free(instance->label);
    free(instance->token);
    instance->label = string_field(config, "label");
    instance->token = string_field(config, "token");
    free(config);
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
    host_api->free((void *)value.ptr);
    return text;
}

/* Appends `entry` to the JSON array text `seen`, keeping the last 64 entries. */
static char *append_seen(const char *seen, const char *entry) {
    const char *body = seen + 1; /* after '[' */
    int count = 0;
    for (const char *p = body; *p; p++) count += (*p == '"');
    count /= 2;
    while (count >= 64) { /* drop the oldest entry */
        const char *comma = strchr(body, ',');
        if (comma == NULL) break;
        body = comma + 1;
        count--;
    }
    size_t body_len = strlen(body) - 1; /* without ']' */
    size_t size = body_len + strlen(entry) + 8;
    char *out = malloc(size);
    if (out == NULL) return NULL;
    snprintf(out, size, "[%.*s%s\"%s\"]", (int)body_len, body, body_len > 0 ? "," : "", entry);
    return out;
}

static sb_status record(sb_instance *instance, const char *type, long long seq) {
    char entry[160];
    snprintf(entry, sizeof entry, "%s:%lld", type, seq);
    for (int attempt = 0; attempt < 8; attempt++) {
        uint64_t count_version, seen_version;
        char *count = kv_read(instance->host, "count", "0", &count_version);
        char *seen = kv_read(instance->host, "seen", "[]", &seen_version);
        if (count == NULL || seen == NULL) {
            free(count);
            free(seen);
            return SB_UNAVAILABLE;
        }
        char next_count[32];
        snprintf(next_count, sizeof next_count, "%lld", atoll(count) + 1);
        char *next_seen = append_seen(seen, entry);
        free(count);
        free(seen);
        if (next_seen == NULL) return SB_INTERNAL;
        sb_status status = host_api->kv_put(instance->host, str("seen"), str(next_seen), seen_version, NULL);
        free(next_seen);
        if (status == SB_CONFLICT) continue;
        if (status != SB_OK) return status;
        status = host_api->kv_put(instance->host, str("count"), str(next_count), count_version, NULL);
        if (status == SB_CONFLICT) continue;
        return status;
    }
    return SB_UNAVAILABLE;
}

static sb_status on_event(sb_instance *instance, sb_str event_json) {
    char *event = copy(event_json);
    if (event == NULL) return SB_INTERNAL;
    char *type = string_field(event, "event");
    long long seq = number_field(event, "seq");
    free(event);
    if (type == NULL || seq < 0) {
        free(type);
        return SB_INVALID;
    }
    host_api->log(instance->host, SB_LOG_DEBUG, str(type));
    sb_status status = record(instance, type, seq);
    free(type);
    if (status == SB_OK) host_api->metric_counter(instance->host, str("echo_events_total"), 1);
    return status;
}

static sb_status call(sb_instance *instance, sb_call_id call_id, sb_str op, sb_str args_json, sb_str *result_out) {
    (void)call_id;
    char *name = copy(op);
    char *args = copy(args_json);
    sb_status status = SB_OK;
    if (name == NULL || args == NULL) {
        status = SB_INTERNAL;
    } else if (strcmp(name, "echo.ping") == 0) {
        size_t size = strlen(args) + strlen(instance->tenant) + (instance->label ? strlen(instance->label) : 4) + 80;
        char *out = malloc(size);
        if (instance->label)
            snprintf(out, size, "{\"pong\":true,\"tenant_id\":\"%s\",\"label\":\"%s\",\"args\":%s}", instance->tenant, instance->label, args);
        else
            snprintf(out, size, "{\"pong\":true,\"tenant_id\":\"%s\",\"label\":null,\"args\":%s}", instance->tenant, args);
        *result_out = hand_over(out);
        free(out);
    } else if (strcmp(name, "echo.state") == 0) {
        uint64_t version;
        char *count = kv_read(instance->host, "count", "0", &version);
        char *seen = kv_read(instance->host, "seen", "[]", &version);
        if (count && seen) {
            size_t size = strlen(count) + strlen(seen) + 32;
            char *out = malloc(size);
            snprintf(out, size, "{\"count\":%s,\"seen\":%s}", count, seen);
            *result_out = hand_over(out);
            free(out);
        } else {
            status = SB_UNAVAILABLE;
        }
        free(count);
        free(seen);
    } else if (strcmp(name, "echo.check_token") == 0) {
        char *token = string_field(args, "token");
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
    free(args);
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
