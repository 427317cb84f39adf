/*
 * auth-ldap: agents sign in with directory credentials (OpenLDAP's libldap, LDAPv3 simple bind).
 *
 * `auth.verify {"username","password","client_ip"}`:
 *   1. binds as the service account (or anonymously), finds the one entry under `user_base_dn`
 *      matching `user_filter` with {username} substituted (RFC 4515 escaped);
 *   2. binds as that entry with the password (an empty password is refused before any bind: LDAP
 *      treats it as an anonymous bind that always succeeds);
 *   3. rebinds as the service account and lists the groups under `group_base_dn` matching
 *      `group_filter` ({dn}, {username}); the first `roles` entry naming one of them (by DN or cn)
 *      gives the role, else `default_role`, else the user is refused.
 * Answers {"subject","role","name","email","groups"}; the subject is `subject_attribute` of the entry
 * (use an attribute holding the Switchboard agent id so data permissions follow it).
 *
 * Statuses: NOT_FOUND unknown user, DENIED wrong password or no mapped group, UNAVAILABLE directory
 * unreachable, timed out, or refusing the service account. LDAP calls block, so every verify runs on
 * its own thread and finishes through `complete`; destroy waits for those threads.
 */
#include <ldap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "json.h"
#include "switchboard_plugin.h"

static const sb_host_api *host_api;

static const char manifest[] =
    "{\"id\":\"auth-ldap\",\"version\":\"1.0.0\",\"name\":\"LDAP sign-in\","
    "\"description\":\"Agents sign in with directory credentials; directory groups map to roles.\","
    "\"capabilities\":[\"auth_provider\"],\"services\":[\"log\",\"metrics\"],\"call_timeout_ms\":15000,"
    "\"config_schema\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"url\",\"user_base_dn\"],\"properties\":{"
    "\"url\":{\"type\":\"string\",\"pattern\":\"^ldaps?://[^\\\\s]+$\",\"description\":\"ldap://host:port or ldaps://host:port.\"},"
    "\"start_tls\":{\"type\":\"boolean\",\"default\":false,\"description\":\"Upgrade ldap:// with StartTLS.\"},"
    "\"tls_ca_pem\":{\"type\":\"string\",\"maxLength\":65536,\"pattern\":\"-----BEGIN CERTIFICATE-----\",\"description\":\"PEM of the CA(s) the directory's certificate must chain to (ldaps:// and StartTLS); default: the system CAs.\"},"
    "\"bind_dn\":{\"type\":\"string\",\"maxLength\":1024,\"description\":\"Service account that searches users and groups; anonymous when absent.\"},"
    "\"bind_password\":{\"type\":\"string\",\"maxLength\":1024,\"writeOnly\":true},"
    "\"user_base_dn\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024},"
    "\"user_filter\":{\"type\":\"string\",\"pattern\":\"\\\\{username\\\\}\",\"default\":\"(uid={username})\",\"maxLength\":1024},"
    "\"subject_attribute\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,\"default\":\"uid\",\"description\":\"Attribute whose value becomes the principal's subject (the agent id).\"},"
    "\"group_base_dn\":{\"type\":\"string\",\"maxLength\":1024,\"description\":\"Where groups live; without it only default_role applies.\"},"
    "\"group_filter\":{\"type\":\"string\",\"default\":\"(member={dn})\",\"maxLength\":1024},"
    "\"roles\":{\"type\":\"array\",\"maxItems\":64,\"description\":\"First entry naming one of the user's groups (DN or cn) wins.\",\"items\":{"
    "\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"group\",\"role\"],\"properties\":{"
    "\"group\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024},\"role\":{\"type\":\"string\",\"enum\":[\"admin\",\"agent\"]}}}},"
    "\"default_role\":{\"type\":\"string\",\"enum\":[\"admin\",\"agent\"],\"description\":\"Role of users in no mapped group; absent: they are refused.\"},"
    "\"timeout_ms\":{\"type\":\"integer\",\"minimum\":100,\"maximum\":30000,\"default\":5000}}}}";

/* A parsed config, shared by the threads that use it until the last one lets go. */
typedef struct config {
    int references;
    json_value *root;
    const char *url, *bind_dn, *bind_password, *user_base, *user_filter, *subject_attribute;
    const char *group_base, *group_filter, *default_role;
    const json_value *roles;
    int start_tls;
    int timeout_ms;
    char *ca_file; /* tls_ca_pem written to a private temporary file, or NULL */
} config;

struct sb_instance {
    const sb_host *host;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int running; /* verify threads not yet finished */
    config *config;
};

typedef struct job {
    sb_instance *instance;
    config *config;
    sb_call_id call_id;
    json_value *args;
} job;

static sb_str str(const char *text) { return (sb_str){text, strlen(text)}; }

static sb_str hand_over(const char *text) {
    size_t len = strlen(text);
    char *out = host_api->alloc(len);
    if (out == NULL) return (sb_str){NULL, 0};
    memcpy(out, text, len);
    return (sb_str){out, len};
}

static config *parse_config(sb_str json, char *error, size_t error_size) {
    json_value *root = json_parse(json.ptr, json.len);
    if (root == NULL || root->type != JSON_OBJECT) {
        json_free(root);
        snprintf(error, error_size, "config is not a JSON object");
        return NULL;
    }
    config *c = calloc(1, sizeof *c);
    if (c == NULL) {
        json_free(root);
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    c->references = 1;
    c->root = root;
    c->url = json_string(root, "url", NULL);
    c->start_tls = json_bool(root, "start_tls", 0);
    c->bind_dn = json_string(root, "bind_dn", NULL);
    c->bind_password = json_string(root, "bind_password", "");
    c->user_base = json_string(root, "user_base_dn", NULL);
    c->user_filter = json_string(root, "user_filter", "(uid={username})");
    c->subject_attribute = json_string(root, "subject_attribute", "uid");
    c->group_base = json_string(root, "group_base_dn", NULL);
    c->group_filter = json_string(root, "group_filter", "(member={dn})");
    c->roles = json_get(root, "roles");
    c->default_role = json_string(root, "default_role", NULL);
    c->timeout_ms = (int)json_number(root, "timeout_ms", 5000);
    if (c->url == NULL || c->user_base == NULL) {
        snprintf(error, error_size, "url and user_base_dn are required");
        json_free(root);
        free(c);
        return NULL;
    }
    const char *pem = json_string(root, "tls_ca_pem", NULL);
    if (pem != NULL) {
        /* libldap takes CAs from a file: write the PEM to one only this process can read. */
        char path[] = "/tmp/auth-ldap-ca-XXXXXX";
        int fd = mkstemp(path);
        size_t len = strlen(pem);
        if (fd < 0 || write(fd, pem, len) != (ssize_t)len || close(fd) != 0) {
            if (fd >= 0) unlink(path);
            snprintf(error, error_size, "cannot write tls_ca_pem to a temporary file");
            json_free(root);
            free(c);
            return NULL;
        }
        c->ca_file = strdup(path);
    }
    return c;
}

static void release_config(config *c) {
    if (c != NULL && --c->references == 0) {
        if (c->ca_file) unlink(c->ca_file);
        free(c->ca_file);
        json_free(c->root);
        free(c);
    }
}

/* Appends `text` to the growing buffer `*out` (of `*len` bytes), escaping per `escape`. */
typedef size_t (*escaper)(char *out, unsigned char c);

static size_t escape_filter(char *out, unsigned char c) { /* RFC 4515 §3 */
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0) return (size_t)sprintf(out, "\\%02x", c);
    out[0] = (char)c;
    return 1;
}

static size_t escape_json(char *out, unsigned char c) {
    if (c == '"' || c == '\\') return (size_t)sprintf(out, "\\%c", c);
    if (c < 0x20) return (size_t)sprintf(out, "\\u%04x", c);
    out[0] = (char)c;
    return 1;
}

static int append(char **out, size_t *len, const char *text, escaper escape) {
    size_t n = strlen(text);
    char *grown = realloc(*out, *len + n * 6 + 1);
    if (grown == NULL) return 0;
    *out = grown;
    for (size_t i = 0; i < n; i++) {
        if (escape) *len += escape(grown + *len, (unsigned char)text[i]);
        else grown[(*len)++] = text[i];
    }
    grown[*len] = 0;
    return 1;
}

/* `template` with {username} and {dn} replaced by their filter-escaped values. */
static char *fill_filter(const char *template, const char *username, const char *dn) {
    char *out = NULL;
    size_t len = 0;
    if (!append(&out, &len, "", NULL)) return NULL;
    for (const char *p = template; *p;) {
        int ok;
        if (strncmp(p, "{username}", 10) == 0) {
            ok = append(&out, &len, username, escape_filter);
            p += 10;
        } else if (strncmp(p, "{dn}", 4) == 0) {
            ok = append(&out, &len, dn ? dn : "", escape_filter);
            p += 4;
        } else {
            char one[2] = {*p++, 0};
            ok = append(&out, &len, one, NULL);
        }
        if (!ok) {
            free(out);
            return NULL;
        }
    }
    return out;
}

static int bind_simple(LDAP *ld, const char *dn, const char *password) {
    struct berval credential = {strlen(password), (char *)password};
    return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &credential, NULL, NULL, NULL);
}

static int unreachable(int rc) {
    return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

/* libldap's diagnostic for the last failure on `ld` (e.g. why a certificate was refused), as " (...)". */
static const char *diagnostic(LDAP *ld) {
    static __thread char text[256];
    char *detail = NULL;
    text[0] = 0;
    if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &detail) == LDAP_OPT_SUCCESS && detail != NULL && *detail) {
        snprintf(text, sizeof text, " (%s)", detail);
    }
    ldap_memfree(detail);
    return text;
}

/* Connects and binds as the service account; on failure returns NULL with status and message set. */
static LDAP *open_directory(const config *c, sb_status *status, char *message, size_t size) {
    LDAP *ld = NULL;
    int rc = ldap_initialize(&ld, c->url);
    if (rc != LDAP_SUCCESS) {
        *status = SB_UNAVAILABLE;
        snprintf(message, size, "cannot use directory URL %s: %s", c->url, ldap_err2string(rc));
        return NULL;
    }
    int version = LDAP_VERSION3;
    struct timeval timeout = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &timeout);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &timeout);
    /* TLS (ldaps:// or StartTLS) always verifies the directory's certificate and name. */
    int demand = LDAP_OPT_X_TLS_DEMAND, fresh = 0;
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    if (c->ca_file) ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, c->ca_file);
    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &fresh);
    if (c->start_tls && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
        *status = SB_UNAVAILABLE;
        snprintf(message, size, "StartTLS with %s failed: %s%s", c->url, ldap_err2string(rc), diagnostic(ld));
        ldap_unbind_ext_s(ld, NULL, NULL);
        return NULL;
    }
    rc = bind_simple(ld, c->bind_dn ? c->bind_dn : "", c->bind_dn ? c->bind_password : "");
    if (rc != LDAP_SUCCESS) {
        *status = SB_UNAVAILABLE;
        if (unreachable(rc)) snprintf(message, size, "directory %s unreachable: %s%s", c->url, ldap_err2string(rc), diagnostic(ld));
        else snprintf(message, size, "directory %s refused the service account: %s", c->url, ldap_err2string(rc));
        ldap_unbind_ext_s(ld, NULL, NULL);
        return NULL;
    }
    return ld;
}

static int group_matches(const char *wanted, const char *dn, struct berval **names) {
    if (strcasecmp(wanted, dn) == 0) return 1;
    for (int i = 0; names && names[i]; i++)
        if (strlen(wanted) == names[i]->bv_len && strncasecmp(wanted, names[i]->bv_val, names[i]->bv_len) == 0) return 1;
    return 0;
}

/* A directory answer as a JSON string member, or nothing when the attribute is absent. */
static void append_attribute(char **out, size_t *len, LDAP *ld, LDAPMessage *entry, const char *name, const char *key) {
    struct berval **values = ldap_get_values_len(ld, entry, name);
    if (values && values[0]) {
        char *text = strndup(values[0]->bv_val, values[0]->bv_len);
        if (text) {
            append(out, len, ",\"", NULL);
            append(out, len, key, NULL);
            append(out, len, "\":\"", NULL);
            append(out, len, text, escape_json);
            append(out, len, "\"", NULL);
            free(text);
        }
    }
    ldap_value_free_len(values);
}

/* Runs the whole check; returns the status and sets `*result` (malloc'ed JSON or message). */
static sb_status verify(const config *c, const json_value *args, const sb_host *host, char **result) {
    char message[512] = "";
    const char *username = json_string(args, "username", NULL);
    const char *password = json_string(args, "password", NULL);
    if (username == NULL || password == NULL) {
        *result = strdup("auth.verify needs string \"username\" and \"password\"");
        return SB_INVALID;
    }
    if (*username == 0 || *password == 0) {
        *result = strdup("empty username or password");
        return SB_DENIED;
    }
    sb_status status = SB_OK;
    LDAP *ld = open_directory(c, &status, message, sizeof message);
    if (ld == NULL) {
        *result = strdup(message);
        return status;
    }
    char *filter = fill_filter(c->user_filter, username, NULL);
    char *attributes[] = {(char *)c->subject_attribute, "cn", "mail", NULL};
    struct timeval timeout = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
    LDAPMessage *found = NULL;
    int rc = filter ? ldap_search_ext_s(ld, c->user_base, LDAP_SCOPE_SUBTREE, filter, attributes, 0, NULL, NULL, &timeout, 2, &found) : LDAP_NO_MEMORY;
    free(filter);
    char *out = NULL;
    size_t len = 0;
    int entries = rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED ? ldap_count_entries(ld, found) : 0;
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
        status = unreachable(rc) ? SB_UNAVAILABLE : SB_INTERNAL;
        snprintf(message, sizeof message, "user search under %s failed: %s", c->user_base, ldap_err2string(rc));
    } else if (entries == 0) {
        status = SB_NOT_FOUND;
        snprintf(message, sizeof message, "no directory user matches");
    } else if (entries > 1) {
        status = SB_DENIED;
        snprintf(message, sizeof message, "more than one directory user matches; refusing");
    }
    if (status != SB_OK) goto done;

    LDAPMessage *entry = ldap_first_entry(ld, found);
    char *dn = ldap_get_dn(ld, entry);
    struct berval **subject = ldap_get_values_len(ld, entry, c->subject_attribute);
    if (dn == NULL || subject == NULL || subject[0] == NULL) {
        status = SB_DENIED;
        snprintf(message, sizeof message, "the directory user has no %s attribute", c->subject_attribute);
    } else if ((rc = bind_simple(ld, dn, password)) != LDAP_SUCCESS) {
        status = rc == LDAP_INVALID_CREDENTIALS ? SB_DENIED : unreachable(rc) ? SB_UNAVAILABLE : SB_DENIED;
        snprintf(message, sizeof message, "%s", rc == LDAP_INVALID_CREDENTIALS ? "wrong password" : ldap_err2string(rc));
    }
    const char *role = c->default_role;
    char *groups = NULL;
    size_t groups_len = 0;
    append(&groups, &groups_len, "[", NULL);
    if (status == SB_OK && c->group_base != NULL) {
        rc = bind_simple(ld, c->bind_dn ? c->bind_dn : "", c->bind_dn ? c->bind_password : "");
        char *group_filter = fill_filter(c->group_filter, username, dn);
        char *group_attributes[] = {"cn", NULL};
        LDAPMessage *group_results = NULL;
        if (rc == LDAP_SUCCESS)
            rc = group_filter ? ldap_search_ext_s(ld, c->group_base, LDAP_SCOPE_SUBTREE, group_filter, group_attributes, 0, NULL, NULL, &timeout, 1000, &group_results) : LDAP_NO_MEMORY;
        free(group_filter);
        if (rc != LDAP_SUCCESS) {
            status = unreachable(rc) ? SB_UNAVAILABLE : SB_INTERNAL;
            snprintf(message, sizeof message, "group search under %s failed: %s", c->group_base, ldap_err2string(rc));
        } else {
            size_t best = c->roles && c->roles->type == JSON_ARRAY ? c->roles->count : 0;
            for (LDAPMessage *group = ldap_first_entry(ld, group_results); group; group = ldap_next_entry(ld, group)) {
                char *group_dn = ldap_get_dn(ld, group);
                struct berval **names = ldap_get_values_len(ld, group, "cn");
                if (group_dn) {
                    append(&groups, &groups_len, groups_len > 1 ? ",\"" : "\"", NULL);
                    append(&groups, &groups_len, group_dn, escape_json);
                    append(&groups, &groups_len, "\"", NULL);
                    for (size_t i = 0; i < best; i++)
                        if (group_matches(json_string(c->roles->items[i], "group", ""), group_dn, names)) best = i;
                }
                ldap_value_free_len(names);
                ldap_memfree(group_dn);
            }
            if (c->roles && best < c->roles->count) role = json_string(c->roles->items[best], "role", NULL);
        }
        ldap_msgfree(group_results);
    }
    append(&groups, &groups_len, "]", NULL);
    if (status == SB_OK && role == NULL) {
        status = SB_DENIED;
        snprintf(message, sizeof message, "the user is in no group mapped to a role");
    }
    if (status == SB_OK) {
        char *subject_text = strndup(subject[0]->bv_val, subject[0]->bv_len);
        append(&out, &len, "{\"subject\":\"", NULL);
        append(&out, &len, subject_text ? subject_text : "", escape_json);
        append(&out, &len, "\",\"role\":\"", NULL);
        append(&out, &len, role, escape_json);
        append(&out, &len, "\",\"dn\":\"", NULL);
        append(&out, &len, dn, escape_json);
        append(&out, &len, "\"", NULL);
        append_attribute(&out, &len, ld, entry, "cn", "name");
        append_attribute(&out, &len, ld, entry, "mail", "email");
        append(&out, &len, ",\"groups\":", NULL);
        append(&out, &len, groups, NULL);
        append(&out, &len, "}", NULL);
        free(subject_text);
    }
    free(groups);
    ldap_value_free_len(subject);
    ldap_memfree(dn);
done:
    ldap_msgfree(found);
    ldap_unbind_ext_s(ld, NULL, NULL);
    if (status != SB_OK) {
        free(out);
        out = strdup(message);
        host_api->log(host, status == SB_UNAVAILABLE ? SB_LOG_WARNING : SB_LOG_INFO, str(message));
    }
    *result = out;
    return status;
}

static void *run_job(void *argument) {
    job *work = argument;
    sb_instance *instance = work->instance;
    char *result = NULL;
    sb_status status = verify(work->config, work->args, instance->host, &result);
    host_api->metric_counter(instance->host, str(status == SB_OK ? "ldap_sign_ins_total" : "ldap_refusals_total"), 1);
    host_api->complete(instance->host, work->call_id, status, str(result ? result : "out of memory"));
    free(result);
    json_free(work->args);
    pthread_mutex_lock(&instance->lock);
    release_config(work->config);
    if (--instance->running == 0) pthread_cond_broadcast(&instance->idle);
    pthread_mutex_unlock(&instance->lock);
    free(work);
    return NULL;
}

static sb_status create(const sb_host *host, sb_str tenant_id, sb_str config_json, sb_instance **instance_out, sb_str *error_out) {
    (void)tenant_id;
    char error[160];
    config *c = parse_config(config_json, error, sizeof error);
    if (c == NULL) {
        *error_out = hand_over(error);
        return SB_INVALID;
    }
    sb_instance *instance = calloc(1, sizeof *instance);
    if (instance == NULL) {
        release_config(c);
        return SB_INTERNAL;
    }
    instance->host = host;
    instance->config = c;
    pthread_mutex_init(&instance->lock, NULL);
    pthread_cond_init(&instance->idle, NULL);
    *instance_out = instance;
    return SB_OK;
}

static sb_status reconfigure(sb_instance *instance, sb_str config_json, sb_str *error_out) {
    char error[160];
    config *c = parse_config(config_json, error, sizeof error);
    if (c == NULL) {
        *error_out = hand_over(error);
        return SB_INVALID;
    }
    pthread_mutex_lock(&instance->lock);
    release_config(instance->config);
    instance->config = c;
    pthread_mutex_unlock(&instance->lock);
    return SB_OK;
}

static void destroy(sb_instance *instance) {
    pthread_mutex_lock(&instance->lock);
    while (instance->running > 0) pthread_cond_wait(&instance->idle, &instance->lock);
    release_config(instance->config);
    pthread_mutex_unlock(&instance->lock);
    pthread_mutex_destroy(&instance->lock);
    pthread_cond_destroy(&instance->idle);
    free(instance);
}

static sb_status call(sb_instance *instance, sb_call_id call_id, sb_str op, sb_str args_json, sb_str *result_out) {
    if (op.len != 11 || memcmp(op.ptr, "auth.verify", 11) != 0) return SB_NOT_FOUND;
    json_value *args = json_parse(args_json.ptr, args_json.len);
    job *work = calloc(1, sizeof *work);
    if (args == NULL || args->type != JSON_OBJECT || work == NULL) {
        json_free(args);
        free(work);
        *result_out = hand_over("auth.verify arguments must be a JSON object");
        return SB_INVALID;
    }
    pthread_mutex_lock(&instance->lock);
    *work = (job){instance, instance->config, call_id, args};
    instance->config->references++;
    instance->running++;
    pthread_mutex_unlock(&instance->lock);

    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int failed = pthread_create(&thread, &attributes, run_job, work);
    pthread_attr_destroy(&attributes);
    if (failed) {
        pthread_mutex_lock(&instance->lock);
        release_config(work->config);
        instance->running--;
        pthread_mutex_unlock(&instance->lock);
        json_free(args);
        free(work);
        *result_out = hand_over("cannot start a directory thread");
        return SB_UNAVAILABLE;
    }
    return SB_PENDING;
}

static sb_status health(sb_instance *instance, sb_str *detail_out) {
    pthread_mutex_lock(&instance->lock);
    config *c = instance->config;
    c->references++;
    pthread_mutex_unlock(&instance->lock);
    sb_status status = SB_OK;
    char message[512];
    LDAP *ld = open_directory(c, &status, message, sizeof message);
    if (ld != NULL) {
        ldap_unbind_ext_s(ld, NULL, NULL);
        snprintf(message, sizeof message, "directory %s answers", c->url);
    }
    pthread_mutex_lock(&instance->lock);
    release_config(c);
    pthread_mutex_unlock(&instance->lock);
    *detail_out = hand_over(message);
    return status;
}

sb_str sb_plugin_manifest_v1(void) { return (sb_str){manifest, sizeof manifest - 1}; }

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
        .call = call,
        .health = health,
    };
    size_t size = plugin->struct_size < sizeof api ? plugin->struct_size : sizeof api;
    memcpy(plugin, &api, size);
    return SB_OK;
}
