/*
 * A small JSON reader for the auth-ldap plugin: parses one document into a tree (RFC 8259; strings
 * decoded to UTF-8, \u escapes with surrogate pairs), and looks values up by key. Enough for the
 * plugin's config and call arguments; no writer (see json_escape in auth_ldap.c).
 */
#ifndef AUTH_LDAP_JSON_H
#define AUTH_LDAP_JSON_H

#include <stddef.h>

typedef enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    int boolean;
    double number;
    char *string;               /* JSON_STRING: NUL-terminated UTF-8 */
    size_t count;               /* JSON_ARRAY, JSON_OBJECT: number of items */
    char **keys;                /* JSON_OBJECT: the item's key */
    struct json_value **items;  /* JSON_ARRAY, JSON_OBJECT */
} json_value;

/* Parses `len` bytes of `text`; NULL when it is not exactly one JSON value or memory ran out. */
json_value *json_parse(const char *text, size_t len);
void json_free(json_value *value);

/* The member `key` of an object, or NULL. */
const json_value *json_get(const json_value *object, const char *key);
/* The string member `key` of an object, or `fallback` when absent or not a string. */
const char *json_string(const json_value *object, const char *key, const char *fallback);
/* The number member `key` of an object, or `fallback`. */
double json_number(const json_value *object, const char *key, double fallback);
/* The boolean member `key` of an object, or `fallback`. */
int json_bool(const json_value *object, const char *key, int fallback);

#endif
