/* libFuzzer target of switchboard_json.h, the C plugins' JSON helper: whatever it parses, every string
 * unescapes within bounds, and the document written back with sb_json_writer parses again into the
 * same values. Built by scripts/fuzz with clang -fsanitize=fuzzer,address,undefined. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "switchboard_json.h"

#define CAPACITY 512

static void require(int condition) {
    if (!condition) __builtin_trap();
}

/* Writes token `index` of `doc` to `w`; returns the token after it. */
static int rewrite(const sb_json *doc, int index, sb_json_writer *w, char *scratch, size_t scratchSize) {
    const sb_json_token *token = &doc->tokens[index];
    switch (token->type) {
    case SB_JSON_OBJECT: {
        sb_json_begin_object(w);
        int at = index + 1;
        for (int pair = 0; pair < token->size; pair++) {
            long length = sb_json_string(doc, at, scratch, scratchSize);
            require(length >= 0);
            sb_json_key_bytes(w, scratch, (size_t)length);
            at = rewrite(doc, at + 1, w, scratch, scratchSize);
        }
        sb_json_end_object(w);
        return token->next;
    }
    case SB_JSON_ARRAY: {
        sb_json_begin_array(w);
        int at = index + 1;
        for (int element = 0; element < token->size; element++) at = rewrite(doc, at, w, scratch, scratchSize);
        sb_json_end_array(w);
        return token->next;
    }
    case SB_JSON_STRING: {
        long length = sb_json_string(doc, index, scratch, scratchSize);
        require(length >= 0);
        sb_json_write_string(w, scratch, (size_t)length);
        return index + 1;
    }
    default: {
        const char *raw;
        size_t length = sb_json_raw(doc, index, &raw);
        sb_json_write_raw(w, raw, length);
        return index + 1;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sb_json_token tokens[CAPACITY], again[CAPACITY];
    sb_json doc;
    int count = sb_json_parse(&doc, (const char *)data, size, tokens, CAPACITY);
    if (count < 0) {
        require(count == SB_JSON_MALFORMED || count == SB_JSON_TOO_MANY || count == SB_JSON_TOO_DEEP);
        return 0;
    }
    require(count >= 1 && tokens[0].next == count);
    size_t scratchSize = size * 4 + 1;
    char *scratch = malloc(scratchSize);
    for (int i = 0; i < count; i++) {
        require(tokens[i].start <= tokens[i].end && tokens[i].end <= size && tokens[i].next > i && tokens[i].next <= count);
        if (tokens[i].type == SB_JSON_STRING) require(sb_json_string(&doc, i, scratch, scratchSize) >= 0);
        int64_t integer;
        (void)sb_json_int64(&doc, i, &integer);
    }
    size_t outputSize = size * 8 + 64;
    char *output = malloc(outputSize);
    sb_json_writer w;
    sb_json_writer_init(&w, output, outputSize);
    (void)rewrite(&doc, 0, &w, scratch, scratchSize);
    require(!sb_json_writer_failed(&w));
    sb_json reparsed;
    require(sb_json_parse(&reparsed, output, w.length, again, CAPACITY) == count);
    for (int i = 0; i < count; i++) {
        require(again[i].type == tokens[i].type && again[i].size == tokens[i].size && again[i].next == tokens[i].next);
    }
    free(output);
    free(scratch);
    return 0;
}
