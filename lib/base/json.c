/*
 * json.c: strict parsing and jq-style printing on top of cJSON.
 */
#include "base/json.h"
#include "base/strbuf.h"
#include "base/error.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int vrm_utf8_valid(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];
        size_t n, k;
        unsigned cp;

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

/* The first key that appears twice in one object, at any depth, or NULL. */
static const char *duplicate_key(const cJSON *item)
{
    const cJSON *a, *b;

    if (cJSON_IsObject(item)) {
        for (a = item->child; a != NULL; a = a->next)
            for (b = a->next; b != NULL; b = b->next)
                if (strcmp(a->string, b->string) == 0)
                    return a->string;
    }
    if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
        for (a = item->child; a != NULL; a = a->next) {
            const char *d = duplicate_key(a);

            if (d != NULL)
                return d;
        }
    }
    return NULL;
}

/* The first number, at any depth, that a double cannot hold: cJSON parses
 * it as infinity and would print it as null.  NULL if none. */
static const cJSON *huge_number(const cJSON *item)
{
    const cJSON *c, *h;

    if (cJSON_IsNumber(item))
        return isfinite(item->valuedouble) ? NULL : item;
    if (cJSON_IsObject(item) || cJSON_IsArray(item))
        for (c = item->child; c != NULL; c = c->next)
            if ((h = huge_number(c)) != NULL)
                return h;
    return NULL;
}

static const char *type_name(const cJSON *item)
{
    if (cJSON_IsArray(item))
        return "an array";
    if (cJSON_IsString(item))
        return "a string";
    if (cJSON_IsNumber(item))
        return "a number";
    if (cJSON_IsBool(item))
        return "a boolean";
    if (cJSON_IsNull(item))
        return "null";
    return "not an object";
}

int vrm_json_parse_object(const char *buf, size_t len, cJSON **out)
{
    const char *end = NULL, *dup;
    const cJSON *huge;
    cJSON *item;

    *out = NULL;
    if (len == 0)
        return vrm_error(EINVAL, "empty, not a JSON object");
    if (!vrm_utf8_valid(buf, len))
        return vrm_error(EINVAL, "not valid UTF-8");
    if (memchr(buf, '\0', len) != NULL)
        return vrm_error(EINVAL, "contains a NUL byte, not JSON");
    item = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (item != NULL) {  /* only whitespace may follow the value */
        size_t at = (size_t)(end - buf);

        while (at < len && (buf[at] == ' ' || buf[at] == '\t' || buf[at] == '\n' ||
                            buf[at] == '\r'))
            at++;
        if (at < len) {
            cJSON_Delete(item);
            item = NULL;
            end = buf + at;
        }
    }
    if (item == NULL) {
        size_t at = end != NULL && end >= buf ? (size_t)(end - buf) : 0;
        size_t line = 1, i;

        if (at > len)
            at = len;
        for (i = 0; i < at; i++)
            if (buf[i] == '\n')
                line++;
        return vrm_error(EINVAL, "not valid JSON (at line %zu, byte %zu)", line, at + 1);
    }
    if (!cJSON_IsObject(item)) {
        const char *t = type_name(item);

        cJSON_Delete(item);
        return vrm_error(EINVAL, "a JSON value, but %s, not an object", t);
    }
    dup = duplicate_key(item);
    if (dup != NULL) {
        vrm_error(EINVAL, "duplicate key \"%.100s\"", dup);
        cJSON_Delete(item);
        return -EINVAL;
    }
    huge = huge_number(item);
    if (huge != NULL) {
        if (huge->string != NULL)
            vrm_error(EINVAL, "the number of \"%.100s\" is too large (beyond 1.8e308)",
                      huge->string);
        else
            vrm_error(EINVAL, "a number in an array is too large (beyond 1.8e308)");
        cJSON_Delete(item);
        return -EINVAL;
    }
    *out = item;
    return 0;
}

/* The printer below writes into a vrm_strbuf: put() appends, and an
 * allocation that fails is remembered by the buffer, so the printer checks
 * once at the end. */
static void put(vrm_strbuf *o, const char *s, size_t n)
{
    vrm_strbuf_add(o, s, n);
}

static void put_indent(vrm_strbuf *o, int depth)
{
    static const char spaces[] = "                                ";

    for (depth *= 2; depth > 0; depth -= 32)
        put(o, spaces, depth < 32 ? (size_t)depth : 32);
}

/* A scalar, or a key as a JSON string, in cJSON's compact form (which
 * escapes strings as JSON requires). */
static void put_scalar(vrm_strbuf *o, const cJSON *item)
{
    char *text = cJSON_PrintUnformatted(item);

    if (text == NULL) {
        o->failed = 1;
        return;
    }
    put(o, text, strlen(text));
    free(text);
}

static void put_key(vrm_strbuf *o, const char *key)
{
    cJSON *s = cJSON_CreateString(key);

    if (s == NULL) {
        o->failed = 1;
        return;
    }
    put_scalar(o, s);
    cJSON_Delete(s);
    put(o, ": ", 2);
}

/* Print like jq: two spaces per level, every member and element on a line
 * of its own, empty objects and arrays as {} and []. */
static void put_value(vrm_strbuf *o, const cJSON *item, int depth)
{
    int object = cJSON_IsObject(item);
    const cJSON *c;

    if (!object && !cJSON_IsArray(item)) {
        put_scalar(o, item);
        return;
    }
    if (item->child == NULL) {
        put(o, object ? "{}" : "[]", 2);
        return;
    }
    put(o, object ? "{\n" : "[\n", 2);
    for (c = item->child; c != NULL; c = c->next) {
        put_indent(o, depth + 1);
        if (object)
            put_key(o, c->string ? c->string : "");
        put_value(o, c, depth + 1);
        put(o, c->next ? ",\n" : "\n", c->next ? 2 : 1);
    }
    put_indent(o, depth);
    put(o, object ? "}" : "]", 1);
}

int vrm_json_pretty(const cJSON *item, char **res, size_t *len)
{
    vrm_strbuf o = VRM_STRBUF_INIT;

    put_value(&o, item, 0);
    put(&o, "\n", 1);
    *res = vrm_strbuf_detach(&o, len);
    return *res != NULL ? 0 : -ENOMEM;
}

int vrm_json_compact(const cJSON *item, char **res, size_t *len)
{
    *res = cJSON_PrintUnformatted(item);
    if (*res == NULL)
        return -ENOMEM;
    *len = strlen(*res);
    return 0;
}
