/*
 * switchboard_json.h: reading and writing the JSON that crosses the plugin boundary, for C plugins.
 *
 * Header-only C99, no allocation: include it in one or more files of a plugin. Everything the host
 * hands a plugin (config, events, call args) is JSON in an sb_str; everything a plugin answers is JSON.
 *
 * Reading: sb_json_parse() checks a whole RFC 8259 document and records its values as tokens in an
 * array the caller provides, in document order (an object's key is a STRING token followed by its
 * value). Then look values up by key or index and convert them:
 *
 *     sb_json_token tokens[64];
 *     sb_json doc;
 *     if (sb_json_parse(&doc, config.ptr, config.len, tokens, 64) < 0) return SB_INVALID;
 *     char url[256];
 *     int value = sb_json_get(&doc, 0, "url");
 *     if (value < 0 || sb_json_string(&doc, value, url, sizeof url) < 0) return SB_INVALID;
 *
 * Writing: an sb_json_writer appends to a buffer the caller provides and escapes strings; after the
 * last value, sb_json_writer_failed() says whether anything did not fit.
 *
 * Limits: nesting deeper than SB_JSON_MAX_DEPTH and more tokens than the caller's array are refused
 * (SB_JSON_TOO_DEEP, SB_JSON_TOO_MANY); text after the value, control characters in strings, bad
 * escapes, unpaired surrogates, leading zeros and a comma before ']' or '}' are SB_JSON_MALFORMED.
 */
#ifndef SWITCHBOARD_JSON_H
#define SWITCHBOARD_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SB_JSON_MAX_DEPTH 64

typedef enum { SB_JSON_NULL, SB_JSON_BOOL, SB_JSON_NUMBER, SB_JSON_STRING, SB_JSON_ARRAY, SB_JSON_OBJECT } sb_json_type;

/** Why sb_json_parse() refused a document: its negative result. */
enum { SB_JSON_MALFORMED = -1, SB_JSON_TOO_MANY = -2, SB_JSON_TOO_DEEP = -3 };

/** One value of a parsed document. */
typedef struct {
    sb_json_type type;
    /** Its bytes in the text: for a string, between the quotes (still escaped). */
    size_t start, end;
    /** An array's elements, an object's key-value pairs; 0 otherwise. */
    int size;
    /** The index of the first token after this value and everything inside it. */
    int next;
} sb_json_token;

/** A parsed document: the text (borrowed, not copied) and its tokens. Token 0 is the whole value. */
typedef struct {
    const char *text;
    size_t length;
    sb_json_token *tokens;
    int count;
} sb_json;

/* ---- Parsing --------------------------------------------------------------------------------- */

typedef struct {
    sb_json *doc;
    int capacity;
    size_t at;
    int error;
} sb_json__parser;

static inline void sb_json__space(sb_json__parser *p) {
    while (p->at < p->doc->length) {
        char c = p->doc->text[p->at];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
        p->at++;
    }
}

static inline int sb_json__token(sb_json__parser *p, sb_json_type type) {
    if (p->doc->count >= p->capacity) {
        p->error = SB_JSON_TOO_MANY;
        return -1;
    }
    int index = p->doc->count++;
    sb_json_token *token = &p->doc->tokens[index];
    token->type = type;
    token->start = p->at;
    token->end = p->at;
    token->size = 0;
    token->next = index + 1;
    return index;
}

static inline int sb_json__hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads four hex digits at text[at]; -1 when they are not. */
static inline long sb_json__hex4(const char *text, size_t length, size_t at) {
    if (at + 4 > length) return -1;
    long value = 0;
    for (size_t i = 0; i < 4; i++) {
        int digit = sb_json__hex(text[at + i]);
        if (digit < 0) return -1;
        value = value * 16 + digit;
    }
    return value;
}

static inline int sb_json__string(sb_json__parser *p) {
    const char *text = p->doc->text;
    int index = sb_json__token(p, SB_JSON_STRING);
    if (index < 0) return -1;
    p->at++; /* the opening quote */
    p->doc->tokens[index].start = p->at;
    while (p->at < p->doc->length) {
        unsigned char c = (unsigned char)text[p->at];
        if (c == '"') {
            p->doc->tokens[index].end = p->at;
            p->at++;
            return index;
        }
        if (c < 0x20) break;
        if (c != '\\') {
            p->at++;
            continue;
        }
        if (p->at + 1 >= p->doc->length) break;
        char escaped = text[p->at + 1];
        if (escaped == 'u') {
            long unit = sb_json__hex4(text, p->doc->length, p->at + 2);
            if (unit < 0) break;
            p->at += 6;
            if (unit >= 0xDC00 && unit <= 0xDFFF) break; /* a low surrogate alone */
            if (unit >= 0xD800 && unit <= 0xDBFF) {
                long low = (p->at + 1 < p->doc->length && text[p->at] == '\\' && text[p->at + 1] == 'u')
                               ? sb_json__hex4(text, p->doc->length, p->at + 2)
                               : -1;
                if (low < 0xDC00 || low > 0xDFFF) break;
                p->at += 6;
            }
            continue;
        }
        if (strchr("\"\\/bfnrt", escaped) == NULL || escaped == '\0') break;
        p->at += 2;
    }
    p->error = SB_JSON_MALFORMED;
    return -1;
}

static inline int sb_json__digits(sb_json__parser *p) {
    size_t from = p->at;
    while (p->at < p->doc->length && p->doc->text[p->at] >= '0' && p->doc->text[p->at] <= '9') p->at++;
    return p->at > from;
}

static inline int sb_json__number(sb_json__parser *p) {
    const char *text = p->doc->text;
    int index = sb_json__token(p, SB_JSON_NUMBER);
    if (index < 0) return -1;
    if (text[p->at] == '-') p->at++;
    if (p->at < p->doc->length && text[p->at] == '0') {
        p->at++;
    } else if (!sb_json__digits(p)) {
        p->error = SB_JSON_MALFORMED;
        return -1;
    }
    if (p->at < p->doc->length && text[p->at] == '.') {
        p->at++;
        if (!sb_json__digits(p)) {
            p->error = SB_JSON_MALFORMED;
            return -1;
        }
    }
    if (p->at < p->doc->length && (text[p->at] == 'e' || text[p->at] == 'E')) {
        p->at++;
        if (p->at < p->doc->length && (text[p->at] == '+' || text[p->at] == '-')) p->at++;
        if (!sb_json__digits(p)) {
            p->error = SB_JSON_MALFORMED;
            return -1;
        }
    }
    p->doc->tokens[index].end = p->at;
    return index;
}

static inline int sb_json__literal(sb_json__parser *p, const char *word, sb_json_type type) {
    size_t length = strlen(word);
    if (p->at + length > p->doc->length || memcmp(p->doc->text + p->at, word, length) != 0) {
        p->error = SB_JSON_MALFORMED;
        return -1;
    }
    int index = sb_json__token(p, type);
    if (index < 0) return -1;
    p->at += length;
    p->doc->tokens[index].end = p->at;
    return index;
}

static inline int sb_json__value(sb_json__parser *p, int depth);

static inline int sb_json__container(sb_json__parser *p, int depth, int isObject) {
    if (depth >= SB_JSON_MAX_DEPTH) {
        p->error = SB_JSON_TOO_DEEP;
        return -1;
    }
    int index = sb_json__token(p, isObject ? SB_JSON_OBJECT : SB_JSON_ARRAY);
    if (index < 0) return -1;
    char closing = isObject ? '}' : ']';
    p->at++;
    sb_json__space(p);
    if (p->at < p->doc->length && p->doc->text[p->at] == closing) {
        p->at++;
    } else {
        for (;;) {
            if (isObject) {
                sb_json__space(p);
                if (p->at >= p->doc->length || p->doc->text[p->at] != '"' || sb_json__string(p) < 0) break;
                sb_json__space(p);
                if (p->at >= p->doc->length || p->doc->text[p->at] != ':') break;
                p->at++;
            }
            if (sb_json__value(p, depth + 1) < 0) break;
            p->doc->tokens[index].size++;
            sb_json__space(p);
            if (p->at < p->doc->length && p->doc->text[p->at] == ',') {
                p->at++;
                continue;
            }
            if (p->at < p->doc->length && p->doc->text[p->at] == closing) {
                p->at++;
                p->doc->tokens[index].end = p->at;
                p->doc->tokens[index].next = p->doc->count;
                return index;
            }
            break;
        }
        if (p->error == 0) p->error = SB_JSON_MALFORMED;
        return -1;
    }
    p->doc->tokens[index].end = p->at;
    p->doc->tokens[index].next = p->doc->count;
    return index;
}

static inline int sb_json__value(sb_json__parser *p, int depth) {
    sb_json__space(p);
    if (p->at >= p->doc->length) {
        p->error = SB_JSON_MALFORMED;
        return -1;
    }
    char c = p->doc->text[p->at];
    switch (c) {
    case '{': return sb_json__container(p, depth, 1);
    case '[': return sb_json__container(p, depth, 0);
    case '"': return sb_json__string(p);
    case 't': return sb_json__literal(p, "true", SB_JSON_BOOL);
    case 'f': return sb_json__literal(p, "false", SB_JSON_BOOL);
    case 'n': return sb_json__literal(p, "null", SB_JSON_NULL);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return sb_json__number(p);
        p->error = SB_JSON_MALFORMED;
        return -1;
    }
}

/**
 * Parses `length` bytes of `text` into `doc`, with at most `capacity` tokens in `tokens`.
 * Returns the number of tokens, or SB_JSON_MALFORMED, SB_JSON_TOO_MANY or SB_JSON_TOO_DEEP.
 */
static inline int sb_json_parse(sb_json *doc, const char *text, size_t length, sb_json_token *tokens, int capacity) {
    doc->text = text;
    doc->length = length;
    doc->tokens = tokens;
    doc->count = 0;
    sb_json__parser parser = {doc, capacity, 0, 0};
    if (text == NULL || tokens == NULL || capacity <= 0) return SB_JSON_MALFORMED;
    if (sb_json__value(&parser, 0) < 0) return parser.error ? parser.error : SB_JSON_MALFORMED;
    sb_json__space(&parser);
    if (parser.at != length) return SB_JSON_MALFORMED;
    return doc->count;
}

/* ---- Looking values up ------------------------------------------------------------------------ */

/** The type of token `index`; SB_JSON_NULL for an index out of range. */
static inline sb_json_type sb_json_type_of(const sb_json *doc, int index) {
    return index >= 0 && index < doc->count ? doc->tokens[index].type : SB_JSON_NULL;
}

/** Whether the string token `index` equals `text` once unescaped. */
static inline int sb_json__equals(const sb_json *doc, int index, const char *text);

/** The value of `key` in the object token `object` (the first, if repeated), or -1. */
static inline int sb_json_get(const sb_json *doc, int object, const char *key) {
    if (sb_json_type_of(doc, object) != SB_JSON_OBJECT) return -1;
    int at = object + 1;
    for (int pair = 0; pair < doc->tokens[object].size; pair++) {
        int value = at + 1;
        if (sb_json__equals(doc, at, key)) return value;
        at = doc->tokens[value].next;
    }
    return -1;
}

/** Element `position` of the array token `array`, or -1. */
static inline int sb_json_at(const sb_json *doc, int array, int position) {
    if (sb_json_type_of(doc, array) != SB_JSON_ARRAY || position < 0 || position >= doc->tokens[array].size) return -1;
    int at = array + 1;
    for (int i = 0; i < position; i++) at = doc->tokens[at].next;
    return at;
}

static inline size_t sb_json__utf8(long scalar, char *out) {
    if (scalar < 0x80) {
        out[0] = (char)scalar;
        return 1;
    }
    if (scalar < 0x800) {
        out[0] = (char)(0xC0 | (scalar >> 6));
        out[1] = (char)(0x80 | (scalar & 0x3F));
        return 2;
    }
    if (scalar < 0x10000) {
        out[0] = (char)(0xE0 | (scalar >> 12));
        out[1] = (char)(0x80 | ((scalar >> 6) & 0x3F));
        out[2] = (char)(0x80 | (scalar & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (scalar >> 18));
    out[1] = (char)(0x80 | ((scalar >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((scalar >> 6) & 0x3F));
    out[3] = (char)(0x80 | (scalar & 0x3F));
    return 4;
}

/**
 * Unescapes the string token `index` into `out` (`size` bytes, always NUL-terminated when size > 0).
 * Returns its length in bytes, -1 when the token is not a string, -2 when it does not fit; with `out`
 * NULL, just the length.
 * A string with "\u0000" in it has a NUL inside: use the length, not strlen.
 */
static inline long sb_json_string(const sb_json *doc, int index, char *out, size_t size) {
    if (sb_json_type_of(doc, index) != SB_JSON_STRING) return -1;
    const char *text = doc->text;
    size_t end = doc->tokens[index].end, length = 0;
    for (size_t at = doc->tokens[index].start; at < end;) {
        char piece[4];
        size_t count = 1;
        if (text[at] != '\\') {
            piece[0] = text[at++];
        } else {
            char escaped = text[at + 1];
            at += 2;
            switch (escaped) {
            case 'b': piece[0] = '\b'; break;
            case 'f': piece[0] = '\f'; break;
            case 'n': piece[0] = '\n'; break;
            case 'r': piece[0] = '\r'; break;
            case 't': piece[0] = '\t'; break;
            case 'u': {
                long scalar = sb_json__hex4(text, end, at);
                at += 4;
                if (scalar >= 0xD800 && scalar <= 0xDBFF) {
                    long low = sb_json__hex4(text, end, at + 2);
                    at += 6;
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00);
                }
                count = sb_json__utf8(scalar, piece);
                break;
            }
            default: piece[0] = escaped; break;
            }
        }
        if (out != NULL && length + count < size) memcpy(out + length, piece, count);
        length += count;
    }
    if (out == NULL) return (long)length;
    if (size > 0) out[length < size ? length : size - 1] = '\0';
    return length < size ? (long)length : -2;
}

static inline int sb_json__equals(const sb_json *doc, int index, const char *text) {
    char buffer[256];
    long length = sb_json_string(doc, index, buffer, sizeof buffer);
    return length >= 0 && (size_t)length == strlen(text) && memcmp(buffer, text, (size_t)length) == 0;
}

/** The number token `index` as an integer, when it is one (no fraction or exponent) within int64_t: 1, else 0. */
static inline int sb_json_int64(const sb_json *doc, int index, int64_t *out) {
    if (sb_json_type_of(doc, index) != SB_JSON_NUMBER) return 0;
    const char *text = doc->text;
    size_t at = doc->tokens[index].start, end = doc->tokens[index].end;
    int negative = text[at] == '-';
    if (negative) at++;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX, value = 0;
    for (; at < end; at++) {
        if (text[at] < '0' || text[at] > '9') return 0;
        uint64_t digit = (uint64_t)(text[at] - '0');
        if (value > (limit - digit) / 10) return 0;
        value = value * 10 + digit;
    }
    *out = negative ? (value == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)value) : (int64_t)value;
    return 1;
}

/** The bool token `index`: 1 and `*out` set, or 0 when it is not a bool. */
static inline int sb_json_bool(const sb_json *doc, int index, int *out) {
    if (sb_json_type_of(doc, index) != SB_JSON_BOOL) return 0;
    *out = doc->text[doc->tokens[index].start] == 't';
    return 1;
}

/* ---- Writing ---------------------------------------------------------------------------------- */

/** Appends JSON to a caller's buffer; values separate themselves with commas. */
typedef struct {
    char *buffer;
    size_t capacity, length;
    int failed, depth, after_key;
    unsigned char has_element[SB_JSON_MAX_DEPTH];
} sb_json_writer;

static inline void sb_json_writer_init(sb_json_writer *w, char *buffer, size_t capacity) {
    memset(w, 0, sizeof *w);
    w->buffer = buffer;
    w->capacity = capacity;
}

/** Whether anything did not fit or the calls did not nest; the text so far is then unusable. */
static inline int sb_json_writer_failed(const sb_json_writer *w) { return w->failed || w->depth != 0; }

static inline void sb_json__append(sb_json_writer *w, const char *bytes, size_t count) {
    if (w->failed || w->length + count > w->capacity) {
        w->failed = 1;
        return;
    }
    memcpy(w->buffer + w->length, bytes, count);
    w->length += count;
}

/* The comma before a value, unless it follows its key or opens its container. */
static inline void sb_json__separate(sb_json_writer *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0 && w->has_element[w->depth - 1]) sb_json__append(w, ",", 1);
    if (w->depth > 0) w->has_element[w->depth - 1] = 1;
}

static inline void sb_json__open(sb_json_writer *w, const char *bracket) {
    sb_json__separate(w);
    if (w->depth >= SB_JSON_MAX_DEPTH) {
        w->failed = 1;
        return;
    }
    sb_json__append(w, bracket, 1);
    w->has_element[w->depth++] = 0;
}

static inline void sb_json__close(sb_json_writer *w, const char *bracket) {
    if (w->depth == 0 || w->after_key) {
        w->failed = 1;
        return;
    }
    w->depth--;
    sb_json__append(w, bracket, 1);
}

static inline void sb_json_begin_object(sb_json_writer *w) { sb_json__open(w, "{"); }
static inline void sb_json_end_object(sb_json_writer *w) { sb_json__close(w, "}"); }
static inline void sb_json_begin_array(sb_json_writer *w) { sb_json__open(w, "["); }
static inline void sb_json_end_array(sb_json_writer *w) { sb_json__close(w, "]"); }

static inline void sb_json__escaped(sb_json_writer *w, const char *text, size_t length) {
    static const char hex[] = "0123456789abcdef";
    sb_json__append(w, "\"", 1);
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            char pair[2] = {'\\', (char)c};
            sb_json__append(w, pair, 2);
        } else if (c < 0x20) {
            char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
            sb_json__append(w, escape, 6);
        } else {
            sb_json__append(w, (const char *)&text[i], 1);
        }
    }
    sb_json__append(w, "\"", 1);
}

/** A key of `length` bytes of the object being written; its value comes next. */
static inline void sb_json_key_bytes(sb_json_writer *w, const char *key, size_t length) {
    sb_json__separate(w);
    sb_json__escaped(w, key, length);
    sb_json__append(w, ":", 1);
    w->after_key = 1;
}

/** A key (a C string) of the object being written; its value comes next. */
static inline void sb_json_key(sb_json_writer *w, const char *key) { sb_json_key_bytes(w, key, strlen(key)); }

/** A string of `length` bytes (UTF-8), escaped as JSON needs. */
static inline void sb_json_write_string(sb_json_writer *w, const char *text, size_t length) {
    sb_json__separate(w);
    sb_json__escaped(w, text, length);
}

static inline void sb_json_write_int64(sb_json_writer *w, int64_t value) {
    char digits[24];
    size_t count = 0;
    uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[sizeof digits - 1 - count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (value < 0) digits[sizeof digits - 1 - count++] = '-';
    sb_json__separate(w);
    sb_json__append(w, digits + sizeof digits - count, count);
}

static inline void sb_json_write_bool(sb_json_writer *w, int value) {
    sb_json__separate(w);
    sb_json__append(w, value ? "true" : "false", value ? 4 : 5);
}

static inline void sb_json_write_null(sb_json_writer *w) {
    sb_json__separate(w);
    sb_json__append(w, "null", 4);
}

/** A value that is JSON already (a token's bytes, say), written as it is. */
static inline void sb_json_write_raw(sb_json_writer *w, const char *json, size_t length) {
    sb_json__separate(w);
    sb_json__append(w, json, length);
}

/** The bytes of token `index` of a parsed document, as raw JSON for sb_json_write_raw (strings with their quotes). */
static inline size_t sb_json_raw(const sb_json *doc, int index, const char **start) {
    if (index < 0 || index >= doc->count) {
        *start = "null";
        return 4;
    }
    const sb_json_token *token = &doc->tokens[index];
    size_t quote = token->type == SB_JSON_STRING ? 1 : 0;
    *start = doc->text + token->start - quote;
    return token->end - token->start + 2 * quote;
}

#endif
