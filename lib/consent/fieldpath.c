/*
 * fieldpath.c: parsing field paths and projecting records onto them.
 *
 * A parsed path keeps the text it came from and a working copy of it in
 * which the separators are overwritten by NULs, so that the root, the keys
 * and the filter are plain C strings pointing into that copy.  A parsed path
 * is never modified again, so any number of threads may use one at once; the
 * module has no other state.
 *
 * Projection walks the record once, carrying the set of paths still "alive"
 * at each node together with how many of their keys they have matched so far
 * (a cursor).  A node is copied whole as soon as one cursor has matched all
 * its keys; otherwise an object keeps the members some cursor names, and an
 * array passes the same cursors to each of its object elements (stepping
 * through an array consumes no key).  Whatever yields nothing is left out, so
 * the walk builds only what is granted and keeps the record's key order.
 */
#include "consent/fieldpath.h"
#include "base/error.h"
#include "base/json.h"
#include "data/records.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 128                   /* bytes of one KEY */
#define VALUE_MAX 256                 /* bytes of a filter VALUE */
#define SHOWN_MAX 96                  /* bytes of a path quoted in a message */

struct vrm_fieldpath {
    char *text;                       /* as given, NUL-terminated */
    char *buf;                        /* copy of text, split by NULs */
    const char *root;                 /* collection, or "analytics" */
    const char *rest;                 /* text after root (and filter) and '.' */
    int analytics;                    /* 1 for analytics.TOPIC.NAME */
    const char **keys;                /* field keys, in order (into buf) */
    size_t nkeys;                     /* 0 for COLL.*; a final `*` is dropped */
    const char **fkeys;               /* filter's dotted KEY, split (into buf) */
    size_t nfkeys;                    /* 0: no filter */
    const char *fvalue;               /* filter's VALUE (into buf) */
};

/* ---- parsing ----------------------------------------------------------- */

/* Copy of `text` fit to quote in a one-line message: at most SHOWN_MAX bytes
 * (cut at a character boundary and marked "..."), control bytes as '?'. */
static void show(const char *text, char shown[SHOWN_MAX + 4])
{
    size_t n = strlen(text), i, cut = n;

    if (n > SHOWN_MAX) {
        cut = SHOWN_MAX;
        while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80)
            cut--;
    }
    for (i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)text[i];

        shown[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (cut < n) {
        memcpy(shown + cut, "...", 3);
        cut += 3;
    }
    shown[cut] = '\0';
}

/* Set the message `field path "TEXT": WHAT` and return -EINVAL. */
static int bad(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(const char *text, const char *fmt, ...)
{
    char shown[SHOWN_MAX + 4], what[320];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);  /* truncation is acceptable here */
    va_end(ap);
    show(text, shown);
    return vrm_error(EINVAL, "field path \"%s\": %s", shown, what);
}

/* Offset of the first byte of text[0..len) that does not begin a valid
 * UTF-8 character, or len if all is valid. */
static size_t utf8_bad_at(const char *text, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        size_t n = c < 0x80 ? 1 : c < 0xc0 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf8 ? 4 : 0;

        if (n == 0 || n > len - i || !vrm_utf8_valid(text + i, n))
            return i;
        i += n;
    }
    return len;
}

/* Offset of the first control character (C0, DEL or C1) of valid UTF-8
 * text[0..len), or len. */
static size_t control_at(const char *text, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c < 0x20 || c == 0x7f)
            return i;
        if (c == 0xc2 && i + 1 < len && (unsigned char)text[i + 1] < 0xa0)
            return i;                 /* U+0080..U+009F */
    }
    return len;
}

/* Split text[from..to) (a '.'-separated list of KEYs, the last of which may
 * be `*` when `star` is not NULL) into keys[], writing NULs into buf (the
 * copy of text).  *star is set when the list ends in `*`, which is not
 * counted in *nkeys.  0 or -EINVAL with a message; `what` names the list. */
static int split_keys(const char *text, char *buf, size_t from, size_t to, const char *what,
                      const char **keys, size_t *nkeys, int *star)
{
    size_t a = from, n = 0;

    if (star != NULL)
        *star = 0;
    for (;;) {
        size_t b = a, i;

        while (b < to && text[b] != '.')
            b++;
        if (b == a)
            return bad(text, "empty %s at byte %zu%s", what, a + 1,
                       text[a] == '\0' ? " (the path ends in '.')" :
                       text[a] == '.' && a > 0 && text[a - 1] == '.' ? " (two '.' in a row)" :
                       "");
        if (b - a == 1 && text[a] == '*') {
            if (star == NULL)
                return bad(text, "'*' at byte %zu: not allowed in the %s", a + 1, what);
            if (b != to)
                return bad(text, "'*' at byte %zu: '*' may only be the last part "
                           "(as in profile.*)", a + 1);
            *star = 1;
            break;
        }
        for (i = a; i < b; i++) {
            char c = text[i];

            if (c == '*' && star != NULL)
                return bad(text, "'*' at byte %zu: '*' may only be a whole last part "
                           "(as in profile.*), not part of a key", i + 1);
            if ((c == '[' || c == ']' || c == '=') && star != NULL)
                return bad(text, "'%c' at byte %zu: not allowed in a key; a filter "
                           "[KEY=VALUE] goes right after the collection", c, i + 1);
            if (c == '*' || c == '[' || c == ']' || c == '=' || c == '"' || c == '\\')
                return bad(text, "'%c' at byte %zu: not allowed in the %s", c, i + 1, what);
        }
        if (b - a > KEY_MAX)
            return bad(text, "the %s at byte %zu has %zu bytes; at most %d are allowed", what,
                       a + 1, b - a, KEY_MAX);
        keys[n++] = buf + a;
        buf[b] = '\0';
        if (b == to)
            break;
        a = b + 1;
    }
    *nkeys = n;
    return 0;
}

int vrm_fieldpath_parse(const char *text, vrm_fieldpath **out)
{
    vrm_fieldpath *p = NULL;
    size_t len, at, j, i, dots = 0;
    int rc, star;

    *out = NULL;
    if (text == NULL || text[0] == '\0')
        return vrm_error(EINVAL, "field path \"\": empty; name a field, as in profile.email "
                         "or profile.*");
    len = strlen(text);
    if (len > VRM_FIELDPATH_MAX)
        return bad(text, "%zu bytes long; at most %d are allowed", len, VRM_FIELDPATH_MAX);
    at = utf8_bad_at(text, len);
    if (at < len)
        return bad(text, "not valid UTF-8 at byte %zu", at + 1);
    at = control_at(text, len);
    if (at < len)
        return bad(text, "control character at byte %zu", at + 1);

    for (i = 0; i < len; i++)
        dots += text[i] == '.';
    p = calloc(1, sizeof *p);
    if (p == NULL)
        goto nomem;
    p->text = strdup(text);
    p->buf = strdup(text);
    p->keys = calloc(dots + 1, sizeof *p->keys);
    p->fkeys = calloc(dots + 1, sizeof *p->fkeys);
    if (p->text == NULL || p->buf == NULL || p->keys == NULL || p->fkeys == NULL)
        goto nomem;

    for (j = 0; j < len && text[j] != '.' && text[j] != '['; j++)
        ;
    p->buf[j] = '\0';
    p->root = p->buf;

    if (strcmp(p->root, "analytics") == 0) {
        p->analytics = 1;
        if (j == len) {
            rc = bad(text, "name an analytics result, as in analytics.spending.by-category");
            goto out;
        }
        if (text[j] == '[') {
            rc = bad(text, "'[' at byte %zu: analytics paths take no filter", j + 1);
            goto out;
        }
        if (j + 1 < len && strcmp(text + j + 1, "*") == 0) {
            rc = bad(text, "'*' at byte %zu: analytics are granted one by one; name each, "
                     "as in analytics.spending.by-category", j + 2);
            goto out;
        }
        rc = split_keys(text, p->buf, j + 1, len, "analytics name", p->keys, &p->nkeys, NULL);
        if (rc != 0)
            goto out;
        p->rest = p->text + j + 1;
        goto done;
    }

    if (j == 0) {
        rc = bad(text, "no collection before the '%c' at byte 1", text[0]);
        goto out;
    }
    if (j > VRM_COLLECTION_MAX) {
        rc = bad(text, "the collection (bytes 1-%zu) is longer than %d characters", j,
                 VRM_COLLECTION_MAX);
        goto out;
    }
    if (vrm_collection_name_valid(p->root) != 0) {
        rc = bad(text, "collection \"%s\" (bytes 1-%zu): use a-z, 0-9, '_' and '-', "
                 "starting with a letter or digit", p->root, j);
        goto out;
    }
    if (j == len) {
        rc = bad(text, "name a field or *, as in %s.email or %s.*", p->root, p->root);
        goto out;
    }

    if (text[j] == '[') {
        const char *close = strchr(text + j, ']');
        const char *eq = memchr(text + j, '=', close != NULL ? (size_t)(close - text) - j : 0);
        size_t c, e;

        if (close == NULL) {
            rc = bad(text, "the filter at byte %zu has no closing ']'", j + 1);
            goto out;
        }
        if (eq == NULL) {
            rc = bad(text, "the filter at byte %zu has no '='; write [KEY=VALUE], as in "
                     "purchases[merchant=acme].*", j + 1);
            goto out;
        }
        c = (size_t)(close - text);
        e = (size_t)(eq - text);
        rc = split_keys(text, p->buf, j + 1, e, "filter key", p->fkeys, &p->nfkeys, NULL);
        if (rc != 0)
            goto out;
        if (c - e - 1 > VALUE_MAX) {
            rc = bad(text, "the filter value at byte %zu has %zu bytes; at most %d are allowed",
                     e + 2, c - e - 1, VALUE_MAX);
            goto out;
        }
        p->buf[c] = '\0';
        p->fvalue = p->buf + e + 1;
        j = c + 1;
        if (j == len) {
            rc = bad(text, "name a field or * after the filter, as in "
                     "purchases[merchant=acme].*");
            goto out;
        }
        if (text[j] == '[') {
            rc = bad(text, "'[' at byte %zu: only one filter is allowed", j + 1);
            goto out;
        }
        if (text[j] != '.') {
            rc = bad(text, "byte %zu: expected '.' and a field after the filter", j + 1);
            goto out;
        }
    }

    /* P.* grants what P does, so the `*` need not be kept. */
    rc = split_keys(text, p->buf, j + 1, len, "key", p->keys, &p->nkeys, &star);
    if (rc != 0)
        goto out;
    p->rest = p->text + j + 1;

done:
    *out = p;
    return 0;
nomem:
    rc = -ENOMEM;
out:
    vrm_fieldpath_free(p);
    return rc;
}

void vrm_fieldpath_free(vrm_fieldpath *p)
{
    if (p == NULL)
        return;
    free(p->fkeys);
    free(p->keys);
    free(p->buf);
    free(p->text);
    free(p);
}

const char *vrm_fieldpath_text(const vrm_fieldpath *p)
{
    return p->text;
}

const char *vrm_fieldpath_root(const vrm_fieldpath *p)
{
    return p->root;
}

int vrm_fieldpath_is_analytics(const vrm_fieldpath *p)
{
    return p->analytics;
}

const char *vrm_fieldpath_rest(const vrm_fieldpath *p)
{
    return p->rest;
}

/* ---- filters ----------------------------------------------------------- */

/* Does `field` equal the filter VALUE `value`?  A string byte for byte; a
 * number, boolean or null when its compact JSON text is `value`. */
static int value_matches(const cJSON *field, const char *value)
{
    char text[64];

    if (cJSON_IsString(field))
        return field->valuestring != NULL && strcmp(field->valuestring, value) == 0;
    if (!cJSON_IsNumber(field) && !cJSON_IsBool(field) && !cJSON_IsNull(field))
        return 0;
    /* cJSON's own printer, into a buffer on the stack: the text
     * vrm_json_compact() gives, without allocating. */
    if (!cJSON_PrintPreallocated((cJSON *)field, text, (int)sizeof text, 0))
        return 0;
    return strcmp(text, value) == 0;
}

int vrm_fieldpath_applies(const vrm_fieldpath *p, const char *coll, const cJSON *record)
{
    const cJSON *v = record;
    size_t i;

    if (p->analytics || coll == NULL || strcmp(p->root, coll) != 0)
        return 0;
    if (p->nfkeys == 0)
        return 1;
    for (i = 0; i < p->nfkeys; i++) {
        if (!cJSON_IsObject(v))
            return 0;
        v = cJSON_GetObjectItemCaseSensitive(v, p->fkeys[i]);
        if (v == NULL)
            return 0;
    }
    return value_matches(v, p->fvalue);
}

/* ---- projection -------------------------------------------------------- */

/* A path alive at some node of the record, having matched `pos` keys. */
typedef struct cursor {
    const vrm_fieldpath *p;
    size_t pos;
} cursor;

/* What cur[0..n) grant of `v`: 0 and *res (NULL for nothing), or -ENOMEM. */
static int walk(const cJSON *v, const cursor *cur, size_t n, cJSON **res)
{
    cursor *next = NULL;
    cJSON *acc = NULL, *r = NULL;
    const cJSON *c;
    size_t i, m;
    int rc = 0;

    *res = NULL;
    for (i = 0; i < n; i++) {
        if (cur[i].pos == cur[i].p->nkeys) {
            *res = cJSON_Duplicate(v, 1);
            return *res != NULL ? 0 : -ENOMEM;
        }
    }
    if (cJSON_IsObject(v)) {
        next = malloc(n * sizeof *next);
        if (next == NULL)
            return -ENOMEM;
        for (c = v->child; c != NULL; c = c->next) {
            for (i = 0, m = 0; i < n; i++)
                if (strcmp(cur[i].p->keys[cur[i].pos], c->string) == 0)
                    next[m++] = (cursor){cur[i].p, cur[i].pos + 1};
            if (m == 0)
                continue;
            rc = walk(c, next, m, &r);
            if (rc != 0)
                goto out;
            if (r == NULL)
                continue;
            if (acc == NULL && (acc = cJSON_CreateObject()) == NULL)
                goto nomem;
            if (!cJSON_AddItemToObject(acc, c->string, r))
                goto nomem;
            r = NULL;
        }
    } else if (cJSON_IsArray(v)) {
        for (c = v->child; c != NULL; c = c->next) {
            if (!cJSON_IsObject(c))
                continue;
            rc = walk(c, cur, n, &r);
            if (rc != 0)
                goto out;
            if (r == NULL)
                continue;
            if (acc == NULL && (acc = cJSON_CreateArray()) == NULL)
                goto nomem;
            if (!cJSON_AddItemToArray(acc, r))
                goto nomem;
            r = NULL;
        }
    }
    *res = acc;
    acc = NULL;
    goto out;
nomem:
    rc = -ENOMEM;
out:
    cJSON_Delete(r);
    cJSON_Delete(acc);
    free(next);
    return rc;
}

int vrm_fieldpath_project(const vrm_fieldpath *const *paths, size_t n, const char *coll,
                          const cJSON *record, cJSON **out)
{
    cursor *cur = NULL;
    size_t i, m = 0;
    int rc = 0;

    *out = NULL;
    if (n == 0 || !cJSON_IsObject(record))
        return 0;
    cur = malloc(n * sizeof *cur);
    if (cur == NULL)
        return -ENOMEM;
    for (i = 0; i < n; i++)
        if (paths[i] != NULL && vrm_fieldpath_applies(paths[i], coll, record))
            cur[m++] = (cursor){paths[i], 0};
    if (m > 0)
        rc = walk(record, cur, m, out);
    free(cur);
    return rc;
}
