/*
 * "checked": a test plugin built against the current header (ABI 1.1). Its call checked.try asks the
 * 1.1 services for what they refuse and accept, and answers their statuses as JSON.
 */
#include <stdio.h>
#include <string.h>

#include "switchboard_json.h"
#include "switchboard_plugin.h"

static const sb_host_api *host;
static const char manifest[] = "{\"id\":\"checked\",\"version\":\"1.0.0\",\"capabilities\":[\"event_listener\"],"
                               "\"services\":[\"log\",\"metrics\"],\"ops\":[\"checked.try\"]}";

struct sb_instance {
    const sb_host *context;
};
static struct sb_instance single;

static sb_str text(const char *value) { return (sb_str){value, strlen(value)}; }

static sb_status create(const sb_host *context, sb_str tenant, sb_str config, sb_instance **out, sb_str *error) {
    (void)tenant;
    (void)config;
    (void)error;
    single.context = context;
    *out = &single;
    return SB_OK;
}

static void destroy(sb_instance *instance) { (void)instance; }

static sb_status call(sb_instance *instance, sb_call_id id, sb_str op, sb_str args, sb_str *result) {
    (void)id;
    (void)args;
    if (op.len != 11 || memcmp(op.ptr, "checked.try", 11) != 0) return SB_NOT_FOUND;
    if (host->struct_size < SB_HOST_API_V1_1_SIZE) return SB_UNSUPPORTED;
    const sb_host *h = instance->context;
    int statuses[6] = {
        host->log_checked(h, (sb_log_level)9, text("a level that does not exist")),
        host->log_checked(h, SB_LOG_INFO, text("fine")),
        host->metric_checked(h, text("Bad-Name"), 1, 0),
        host->metric_checked(h, text("checked_total"), -1, 0),
        host->metric_checked(h, text("checked_total"), 2, 0),
        host->metric_checked(h, text("checked_seconds"), -0.5, 1),
    };
    char buffer[128];
    sb_json_writer w;
    sb_json_writer_init(&w, buffer, sizeof buffer);
    sb_json_begin_array(&w);
    for (int i = 0; i < 6; i++) sb_json_write_int64(&w, statuses[i]);
    sb_json_end_array(&w);
    char *out = host->alloc(w.length);
    memcpy(out, buffer, w.length);
    *result = (sb_str){out, w.length};
    return SB_OK;
}

sb_str sb_plugin_manifest_v1(void) { return (sb_str){manifest, sizeof manifest - 1}; }

sb_status sb_plugin_init_v1(const sb_host_api *host_api, sb_plugin_api *plugin) {
    host = host_api;
    sb_plugin_api api = {sizeof api, SB_ABI_VERSION_MAJOR, SB_ABI_VERSION_MINOR, create, NULL, destroy, NULL, call, NULL, NULL};
    memcpy(plugin, &api, plugin->struct_size < sizeof api ? plugin->struct_size : sizeof api);
    plugin->struct_size = (uint32_t)sizeof api;
    return SB_OK;
}
