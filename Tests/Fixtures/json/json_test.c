/* Tests of switchboard_json.h, built and run by the Swift test JSONHelperTests with
 * -Wall -Wextra -Wpedantic -Wconversion -Werror. Prints "ok" and exits 0, or names the first failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "switchboard_json.h"

static int failures = 0;
#define CHECK(condition)                                                      \
    do {                                                                      \
        if (!(condition)) {                                                   \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #condition); \
            failures++;                                                       \
        }                                                                     \
    } while (0)

static sb_json_token tokens[256];

static int parse(sb_json *doc, const char *text) { return sb_json_parse(doc, text, strlen(text), tokens, 256); }

static void lookups(void) {
    sb_json doc;
    const char *text = " {\"url\":\"https://rt.example\",\"n\":42,\"neg\":-7,\"big\":9223372036854775807,\"over\":9223372036854775808,"
                       "\"min\":-9223372036854775808,\"frac\":1.5,\"on\":true,\"nested\":{\"list\":[1,[2,3],{\"k\":null}]},\"url\":\"second\"} ";
    CHECK(parse(&doc, text) > 0);
    char out[64];
    CHECK(sb_json_string(&doc, sb_json_get(&doc, 0, "url"), out, sizeof out) == 18 && strcmp(out, "https://rt.example") == 0);
    int64_t value = 0;
    CHECK(sb_json_int64(&doc, sb_json_get(&doc, 0, "n"), &value) && value == 42);
    CHECK(sb_json_int64(&doc, sb_json_get(&doc, 0, "neg"), &value) && value == -7);
    CHECK(sb_json_int64(&doc, sb_json_get(&doc, 0, "big"), &value) && value == INT64_MAX);
    CHECK(!sb_json_int64(&doc, sb_json_get(&doc, 0, "over"), &value));
    CHECK(sb_json_int64(&doc, sb_json_get(&doc, 0, "min"), &value) && value == INT64_MIN);
    CHECK(!sb_json_int64(&doc, sb_json_get(&doc, 0, "frac"), &value));
    int flag = 0;
    CHECK(sb_json_bool(&doc, sb_json_get(&doc, 0, "on"), &flag) && flag == 1);
    int list = sb_json_get(&doc, sb_json_get(&doc, 0, "nested"), "list");
    CHECK(sb_json_type_of(&doc, list) == SB_JSON_ARRAY && doc.tokens[list].size == 3);
    CHECK(sb_json_int64(&doc, sb_json_at(&doc, sb_json_at(&doc, list, 1), 1), &value) && value == 3);
    CHECK(sb_json_type_of(&doc, sb_json_get(&doc, sb_json_at(&doc, list, 2), "k")) == SB_JSON_NULL);
    CHECK(sb_json_get(&doc, 0, "missing") == -1 && sb_json_at(&doc, list, 3) == -1 && sb_json_get(&doc, list, "x") == -1);
    CHECK(sb_json_string(&doc, sb_json_get(&doc, 0, "n"), out, sizeof out) == -1);
}

static void escapes(void) {
    sb_json doc;
    char out[64];
    CHECK(parse(&doc, "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"") == 1);
    CHECK(sb_json_string(&doc, 0, out, sizeof out) == 12 && memcmp(out, "a\"b\\c/d\b\f\n\r\t", 12) == 0);
    CHECK(parse(&doc, "\"\\u00e9\\u4e2d\\ud83d\\ude00\"") == 1);
    CHECK(sb_json_string(&doc, 0, out, sizeof out) == 9 && memcmp(out, "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", 9) == 0);
    CHECK(parse(&doc, "\"x\\u0000y\"") == 1 && sb_json_string(&doc, 0, out, sizeof out) == 3 && out[1] == '\0');
    CHECK(parse(&doc, "\"caf\xc3\xa9\"") == 1 && sb_json_string(&doc, 0, NULL, 0) == 5);
    CHECK(parse(&doc, "\"abcdef\"") == 1 && sb_json_string(&doc, 0, out, 4) == -2 && strcmp(out, "abc") == 0);
    CHECK(parse(&doc, "{\"k\\u0065y\":1}") > 0 && sb_json_get(&doc, 0, "key") == 2);
}

static void malformed(void) {
    sb_json doc;
    const char *bad[] = {
        "", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}", "01", "-", "1.", ".5", "1e", "+1", "tru", "nul", "[1 2]",
        "\"open", "\"bad \\x escape\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"tab\there\"",
        "1 2", "{} x", "[\"a\"]]", "NaN", "Infinity",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(&doc, bad[i]) != SB_JSON_MALFORMED) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            failures++;
        }
    }
    CHECK(sb_json_parse(&doc, "[1]", 3, tokens, 1) == SB_JSON_TOO_MANY);
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    CHECK(sb_json_parse(&doc, deep, 128, tokens, 256) == 64);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    CHECK(sb_json_parse(&doc, deep, 130, tokens, 256) == SB_JSON_TOO_DEEP);
    CHECK(sb_json_parse(&doc, NULL, 0, tokens, 256) == SB_JSON_MALFORMED);
}

static void writing(void) {
    char buffer[256];
    sb_json_writer w;
    sb_json_writer_init(&w, buffer, sizeof buffer);
    sb_json_begin_object(&w);
    sb_json_key(&w, "text");
    sb_json_write_string(&w, "quote\" backslash\\ newline\n nul", 30);
    sb_json_key(&w, "list");
    sb_json_begin_array(&w);
    sb_json_write_int64(&w, INT64_MIN);
    sb_json_write_int64(&w, 0);
    sb_json_write_bool(&w, 1);
    sb_json_write_null(&w);
    sb_json_begin_object(&w);
    sb_json_end_object(&w);
    sb_json_end_array(&w);
    sb_json_key(&w, "raw");
    sb_json_write_raw(&w, "{\"a\":[1]}", 9);
    sb_json_end_object(&w);
    CHECK(!sb_json_writer_failed(&w));
    const char *expected = "{\"text\":\"quote\\\" backslash\\\\ newline\\u000a nul\",\"list\":[-9223372036854775808,0,true,null,{}],\"raw\":{\"a\":[1]}}";
    CHECK(w.length == strlen(expected) && memcmp(buffer, expected, w.length) == 0);
    sb_json doc;
    CHECK(sb_json_parse(&doc, buffer, w.length, tokens, 256) > 0);
    char out[64];
    CHECK(sb_json_string(&doc, sb_json_get(&doc, 0, "text"), out, sizeof out) == 30);

    sb_json_writer_init(&w, buffer, 8);
    sb_json_begin_object(&w);
    sb_json_key(&w, "too long to fit");
    sb_json_write_null(&w);
    sb_json_end_object(&w);
    CHECK(sb_json_writer_failed(&w));
    sb_json_writer_init(&w, buffer, sizeof buffer);
    sb_json_begin_array(&w);
    CHECK(sb_json_writer_failed(&w));
}

int main(void) {
    lookups();
    escapes();
    malformed();
    writing();
    if (failures) return 1;
    puts("ok");
    return 0;
}
