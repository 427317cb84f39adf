#include "json.h"

#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *at;
    const char *end;
    int depth;
} parser;

enum { MAX_DEPTH = 64 };

static void skip_space(parser *p) {
    while (p->at < p->end && (*p->at == ' ' || *p->at == '\t' || *p->at == '\n' || *p->at == '\r')) p->at++;
}

static int literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(p->end - p->at) < n || memcmp(p->at, word, n) != 0) return 0;
    p->at += n;
    return 1;
}

static int hex4(parser *p, unsigned *out) {
    if (p->end - p->at < 4) return 0;
    unsigned value = 0;
    for (int i = 0; i < 4; i++) {
        char c = *p->at++;
        value <<= 4;
        if (c >= '0' && c <= '9') value |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') value |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') value |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = value;
    return 1;
}

static size_t put_utf8(char *out, unsigned code) {
    if (code < 0x80) { out[0] = (char)code; return 1; }
    if (code < 0x800) { out[0] = (char)(0xC0 | (code >> 6)); out[1] = (char)(0x80 | (code & 0x3F)); return 2; }
    if (code < 0x10000) {
        out[0] = (char)(0xE0 | (code >> 12)); out[1] = (char)(0x80 | ((code >> 6) & 0x3F)); out[2] = (char)(0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (code >> 18)); out[1] = (char)(0x80 | ((code >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((code >> 6) & 0x3F)); out[3] = (char)(0x80 | (code & 0x3F));
    return 4;
}

/* Parses a string after its opening quote; the result is at most as long as the source. */
static char *parse_string(parser *p) {
    char *out = malloc((size_t)(p->end - p->at) + 1);
    if (out == NULL) return NULL;
    size_t n = 0;
    while (p->at < p->end) {
        unsigned char c = (unsigned char)*p->at++;
        if (c == '"') { out[n] = 0; return out; }
        if (c < 0x20) break;
        if (c != '\\') { out[n++] = (char)c; continue; }
        if (p->at >= p->end) break;
        char e = *p->at++;
        unsigned code;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u':
            if (!hex4(p, &code)) goto fail;
            if (code >= 0xD800 && code <= 0xDBFF) {
                unsigned low;
                if (!literal(p, "\\u") || !hex4(p, &low) || low < 0xDC00 || low > 0xDFFF) goto fail;
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            } else if (code >= 0xDC00 && code <= 0xDFFF) {
                goto fail;
            }
            if (code == 0) goto fail; /* NUL would cut the C string short */
            n += put_utf8(out + n, code);
            break;
        default: goto fail;
        }
    }
fail:
    free(out);
    return NULL;
}

static json_value *parse_value(parser *p);

static int append(json_value *container, char *key, json_value *item) {
    size_t n = container->count + 1;
    json_value **items = realloc(container->items, n * sizeof *items);
    if (items == NULL) return 0;
    container->items = items;
    if (container->type == JSON_OBJECT) {
        char **keys = realloc(container->keys, n * sizeof *keys);
        if (keys == NULL) return 0;
        container->keys = keys;
        keys[n - 1] = key;
    }
    items[n - 1] = item;
    container->count = n;
    return 1;
}

static json_value *parse_container(parser *p, json_value *value, char close) {
    if (++p->depth > MAX_DEPTH) goto fail;
    skip_space(p);
    if (p->at < p->end && *p->at == close) { p->at++; p->depth--; return value; }
    for (;;) {
        char *key = NULL;
        if (value->type == JSON_OBJECT) {
            skip_space(p);
            if (p->at >= p->end || *p->at != '"') goto fail;
            p->at++;
            if ((key = parse_string(p)) == NULL) goto fail;
            skip_space(p);
            if (p->at >= p->end || *p->at != ':') { free(key); goto fail; }
            p->at++;
        }
        json_value *item = parse_value(p);
        if (item == NULL || !append(value, key, item)) { free(key); json_free(item); goto fail; }
        skip_space(p);
        if (p->at < p->end && *p->at == ',') { p->at++; continue; }
        if (p->at < p->end && *p->at == close) { p->at++; p->depth--; return value; }
        goto fail;
    }
fail:
    json_free(value);
    return NULL;
}

static json_value *parse_value(parser *p) {
    skip_space(p);
    if (p->at >= p->end) return NULL;
    json_value *value = calloc(1, sizeof *value);
    if (value == NULL) return NULL;
    char c = *p->at;
    if (c == '{' || c == '[') {
        p->at++;
        value->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
        return parse_container(p, value, c == '{' ? '}' : ']');
    }
    if (c == '"') {
        p->at++;
        value->type = JSON_STRING;
        if ((value->string = parse_string(p)) != NULL) return value;
    } else if (literal(p, "true") || literal(p, "false")) {
        value->type = JSON_BOOL;
        value->boolean = c == 't';
        return value;
    } else if (literal(p, "null")) {
        value->type = JSON_NULL;
        return value;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        char buffer[64];
        size_t n = 0;
        while (p->at < p->end && n < sizeof buffer - 1 && strchr("+-0123456789.eE", *p->at)) buffer[n++] = *p->at++;
        buffer[n] = 0;
        char *stop;
        value->type = JSON_NUMBER;
        value->number = strtod(buffer, &stop);
        if (n > 0 && *stop == 0) return value;
    }
    free(value);
    return NULL;
}

json_value *json_parse(const char *text, size_t len) {
    parser p = {text, text + len, 0};
    json_value *value = parse_value(&p);
    skip_space(&p);
    if (value != NULL && p.at != p.end) {
        json_free(value);
        return NULL;
    }
    return value;
}

void json_free(json_value *value) {
    if (value == NULL) return;
    for (size_t i = 0; i < value->count; i++) {
        if (value->keys) free(value->keys[i]);
        json_free(value->items[i]);
    }
    free(value->keys);
    free(value->items);
    free(value->string);
    free(value);
}

const json_value *json_get(const json_value *object, const char *key) {
    if (object == NULL || object->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0) return object->items[i];
    return NULL;
}

const char *json_string(const json_value *object, const char *key, const char *fallback) {
    const json_value *value = json_get(object, key);
    return value != NULL && value->type == JSON_STRING ? value->string : fallback;
}

double json_number(const json_value *object, const char *key, double fallback) {
    const json_value *value = json_get(object, key);
    return value != NULL && value->type == JSON_NUMBER ? value->number : fallback;
}

int json_bool(const json_value *object, const char *key, int fallback) {
    const json_value *value = json_get(object, key);
    return value != NULL && value->type == JSON_BOOL ? value->boolean : fallback;
}
