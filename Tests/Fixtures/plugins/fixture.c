/*
 * Test-only plugins, compiled by the tests against the frozen ABI 1.0 header (Tests/Fixtures/abi-v1.0)
 * with one of these macros:
 *   (none)          "fixture": good; its calls are listed below.
 *   WRONG_ABI       init reports ABI 2.0.
 *   BAD_MANIFEST    the manifest is not JSON.
 *   BAD_SCHEMA      the config schema uses an unknown type.
 *   MISSING_INIT    no sb_plugin_init_v1.
 *   CRASH           "crash": on_event dereferences NULL while the file named by config "crash_file"
 *                   exists, and for any event with "poison-crash" in it (for subprocess isolation only).
 *
 * Both "fixture" and "crash" answer SB_UNAVAILABLE for an event with "poison-fail" in it, unless their
 * config says "heal": true.
 *
 * Calls of "fixture": fixture.hang (never answers), fixture.kv {"n": N} (N kv_get round trips, for
 * benchmarks), fixture.fail {"on": bool} (on_event answers
 * SB_UNAVAILABLE while on), fixture.slow {"ms": N} (on_event takes N more milliseconds), fixture.seen (the seqs delivered so far), fixture.fetch {"url"} (GET through
 * the host's HTTP service, completed asynchronously: {"status", "code", "body"}), and auth.verify
 * {"username", "password"}: the password "s3cret" gives {"subject": config "auth_subject", "role": "agent"},
 * anything else SB_DENIED; ticketing.create_ticket answers {"external_id": "FX-<n>"}, or SB_INVALID for
 * the title "refused"; ticketing.sync reports nothing.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "switchboard_plugin.h"

#ifdef CRASH
#define ID "crash"
#else
#define ID "fixture"
#endif

static const sb_host_api *host;

#ifdef BAD_MANIFEST
static const char manifest[] = "{\"id\": \"broken\", \"version\": ";
#elif defined(BAD_SCHEMA)
static const char manifest[] = "{\"id\":\"bad-schema\",\"version\":\"1\",\"capabilities\":[\"event_listener\"],"
                               "\"config_schema\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"strin\"}}}}";
#else
static const char manifest[] = "{\"id\":\"" ID "\",\"version\":\"1.0.0\",\"capabilities\":[\"event_listener\",\"crm\",\"auth_provider\",\"ticketing\"],"
                               "\"events\":[\"message.received\"],\"services\":[\"log\",\"http\",\"kv\"],\"call_timeout_ms\":1000,"
                               "\"config_schema\":{\"type\":\"object\",\"properties\":{\"level\":{\"type\":\"integer\",\"minimum\":1},"
                               "\"crash_file\":{\"type\":\"string\"},\"auth_subject\":{\"type\":\"string\"},\"heal\":{\"type\":\"boolean\"}}}}";
#endif

struct sb_instance {
    const sb_host *host;
    int failing;
    int slow_ms;
    int healed;
    char crash_file[256];
    char auth_subject[128];
    char seen[8192];
};

static sb_str hand_over(const char *text) {
    size_t len = strlen(text);
    char *out = host->alloc(len);
    memcpy(out, text, len);
    return (sb_str){out, len};
}

/* Copies the string value of "name" in a flat JSON config into out (size bytes, NUL-terminated). */
static void config_string(sb_str config, const char *name, char *out, size_t size) {
    char pattern[64];
    int length = snprintf(pattern, sizeof pattern, "\"%s\":\"", name);
    const char *value = memmem(config.ptr, config.len, pattern, (size_t)length);
    if (value == NULL) return;
    value += length;
    const char *end = memchr(value, '"', config.len - (size_t)(value - config.ptr));
    if (end != NULL && (size_t)(end - value) < size) memcpy(out, value, (size_t)(end - value));
}

static sb_status create(const sb_host *context, sb_str tenant, sb_str config, sb_instance **out, sb_str *error) {
    (void)tenant;
    (void)error;
    struct sb_instance *instance = calloc(1, sizeof *instance);
    instance->host = context;
    config_string(config, "crash_file", instance->crash_file, sizeof instance->crash_file);
    config_string(config, "auth_subject", instance->auth_subject, sizeof instance->auth_subject);
    instance->healed = memmem(config.ptr, config.len, "\"heal\":true", 11) != NULL;
    *out = instance;
    return SB_OK;
}

static void destroy(sb_instance *instance) { free(instance); }

static sb_status on_event(sb_instance *instance, sb_str event) {
#ifdef CRASH
    if (instance->crash_file[0] && access(instance->crash_file, F_OK) == 0) *(volatile int *)NULL = 1;
    if (!instance->healed && memmem(event.ptr, event.len, "poison-crash", 12) != NULL) *(volatile int *)NULL = 1;
#endif
    if (!instance->healed && memmem(event.ptr, event.len, "poison-fail", 11) != NULL) return SB_UNAVAILABLE;
    if (instance->failing) return SB_UNAVAILABLE;
    if (instance->slow_ms > 0) usleep((useconds_t)instance->slow_ms * 1000);
    const char *seq = memmem(event.ptr, event.len, "\"seq\":", 6);
    if (seq == NULL) return SB_INVALID;
    size_t used = strlen(instance->seen);
    snprintf(instance->seen + used, sizeof instance->seen - used, "%s%lld", used ? "," : "", atoll(seq + 6));
    return SB_OK;
}

struct fetch {
    const sb_host *context;
    sb_call_id call;
};

static void fetched(void *user_data, sb_status status, const sb_http_response *response) {
    struct fetch *fetch = user_data;
    char body[201] = {0};
    size_t len = response->body.len > 200 ? 200 : response->body.len;
    for (size_t i = 0; i < len; i++) {
        char c = response->body.ptr[i];
        body[i] = (c == '"' || c == '\\' || (unsigned char)c < 0x20) ? '_' : c;
    }
    char result[512];
    snprintf(result, sizeof result, "{\"status\":%d,\"code\":%d,\"body\":\"%s\"}", (int)status, (int)response->status_code, body);
    host->complete(fetch->context, fetch->call, SB_OK, (sb_str){result, strlen(result)});
    free(fetch);
}

static sb_status call(sb_instance *instance, sb_call_id id, sb_str op, sb_str args, sb_str *result) {
    if (op.len == 12 && memcmp(op.ptr, "fixture.hang", 12) == 0) {
        sleep(3600);
        return SB_OK;
    }
    if (op.len == 11 && memcmp(op.ptr, "auth.verify", 11) == 0) {
        if (memmem(args.ptr, args.len, "\"password\":\"s3cret\"", 19) == NULL) return SB_DENIED;
        char out[256];
        snprintf(out, sizeof out, "{\"subject\":\"%s\",\"role\":\"agent\"}", instance->auth_subject);
        *result = hand_over(out);
        return SB_OK;
    }
    if (op.len == 23 && memcmp(op.ptr, "ticketing.create_ticket", 23) == 0) {
        static int created;
        if (memmem(args.ptr, args.len, "\"title\":\"refused\"", 17) != NULL) {
            *result = hand_over("the fixture refuses this ticket");
            return SB_INVALID;
        }
        char out[64];
        snprintf(out, sizeof out, "{\"external_id\":\"FX-%d\"}", __atomic_add_fetch(&created, 1, __ATOMIC_SEQ_CST));
        *result = hand_over(out);
        return SB_OK;
    }
    if (op.len == 14 && memcmp(op.ptr, "ticketing.sync", 14) == 0) {
        *result = hand_over("{\"tickets\":[]}");
        return SB_OK;
    }
    if (op.len == 12 && memcmp(op.ptr, "fixture.fail", 12) == 0) {
        instance->failing = memmem(args.ptr, args.len, "true", 4) != NULL;
        *result = hand_over("{}");
        return SB_OK;
    }
    if (op.len == 12 && memcmp(op.ptr, "fixture.slow", 12) == 0) {
        int ms = 0;
        for (size_t i = 0; i < args.len; i++)
            if (args.ptr[i] >= '0' && args.ptr[i] <= '9' && ms < 60000) ms = ms * 10 + (args.ptr[i] - '0');
        instance->slow_ms = ms;
        *result = hand_over("{}");
        return SB_OK;
    }
    if (op.len == 12 && memcmp(op.ptr, "fixture.seen", 12) == 0) {
        char out[8300];
        snprintf(out, sizeof out, "[%s]", instance->seen);
        *result = hand_over(out);
        return SB_OK;
    }
    if (op.len == 10 && memcmp(op.ptr, "fixture.kv", 10) == 0) {
        long count = 0;
        for (size_t i = 0; i < args.len; i++)
            if (args.ptr[i] >= '0' && args.ptr[i] <= '9') count = count * 10 + (args.ptr[i] - '0');
        for (long i = 0; i < count; i++) {
            sb_str value = {NULL, 0};
            uint64_t version = 0;
            if (host->kv_get(instance->host, (sb_str){"bench", 5}, &value, &version) == SB_OK) host->free((void *)value.ptr);
        }
        *result = hand_over("{}");
        return SB_OK;
    }
    if (op.len == 13 && memcmp(op.ptr, "fixture.fetch", 13) == 0) {
        const char *url = memmem(args.ptr, args.len, "\"url\":\"", 7);
        if (url == NULL) return SB_INVALID;
        url += 7;
        const char *end = memchr(url, '"', args.len - (size_t)(url - args.ptr));
        struct fetch *fetch = malloc(sizeof *fetch);
        fetch->context = instance->host;
        fetch->call = id;
        sb_http_request request = {sizeof request, {"GET", 3}, {url, (size_t)(end - url)}, {NULL, 0}, {NULL, 0}, 800};
        sb_status status = host->http_request(instance->host, &request, fetched, fetch);
        if (status != SB_PENDING) {
            free(fetch);
            return status;
        }
        return SB_PENDING;
    }
    return SB_NOT_FOUND;
}

sb_str sb_plugin_manifest_v1(void) { return (sb_str){manifest, sizeof manifest - 1}; }

#ifndef MISSING_INIT
sb_status sb_plugin_init_v1(const sb_host_api *host_api, sb_plugin_api *plugin) {
    host = host_api;
    sb_plugin_api api = {sizeof api, SB_ABI_VERSION_MAJOR, SB_ABI_VERSION_MINOR, create, NULL, destroy, on_event, call, NULL, NULL};
#ifdef WRONG_ABI
    api.abi_major = 2;
#endif
    memcpy(plugin, &api, plugin->struct_size < sizeof api ? plugin->struct_size : sizeof api);
    plugin->struct_size = sizeof api;
    return SB_OK;
}
#endif
