/*
 * fuzz_fieldpath.c: field paths, as grants.json, outbox messages and views
 * hand them to vrm_fieldpath_parse, and the projection of a record onto
 * them (what a vendor's view shows).
 *
 * Input: the path, up to the first newline (or NUL); after the newline, if
 * it is a JSON object, a record of the path's collection.
 *
 * Checks: 0 or -EINVAL with a message, accepting exactly what the grammar
 * of fieldpath.h (written again here, plainly) allows; an accepted path
 * keeps its text, its root is "analytics" or a valid collection name and
 * its rest is the text after the root (and filter) and its '.'.  With a
 * record: the projection is nothing or an object contained in the record;
 * the path given twice projects the same; a path without a filter projects
 * its own projection to itself; COLL.* projects the whole record; another
 * collection's record gets nothing.
 */
#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent/fieldpath.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* ---- the grammar of fieldpath.h, written again plainly --------------------- */

/* Is s[0..n) UTF-8 without control characters (C0, DEL, C1)? */
static int text_ok(const unsigned char *s, size_t n)
{
    size_t i;

    if (!fuzz_utf8_valid(s, n))
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7f || (s[i] == 0xc2 && s[i + 1] < 0xa0))
            return 0;
    return 1;
}

/* A '.'-separated list of KEYs in s[0..n): at least one, each 1-128 bytes
 * of none of . [ ] = * " \; with `star`, the last may be exactly "*". */
static int keys_ok(const char *s, size_t n, int star)
{
    size_t a = 0, b;

    for (;;) {
        for (b = a; b < n && s[b] != '.'; b++)
            ;
        if (star && b == n && b - a == 1 && s[a] == '*')
            return 1;
        if (b == a || b - a > 128)
            return 0;
        for (; a < b; a++)
            if (strchr(".[]=*\"\\", s[a]) != NULL)
                return 0;
        if (b == n)
            return 1;
        a = b + 1;
    }
}

/* Would fieldpath.h accept text? */
static int grammar_ok(const char *text)
{
    size_t n = strlen(text), j, close, eq;

    if (n == 0 || n > VRM_FIELDPATH_MAX || !text_ok((const unsigned char *)text, n))
        return 0;
    j = strcspn(text, ".[");
    if (j == 9 && strncmp(text, "analytics", 9) == 0)
        return text[j] == '.' && keys_ok(text + j + 1, n - j - 1, 0);
    if (j == 0 || j > VRM_COLLECTION_MAX || j == n ||
        strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789_-") < j || text[0] == '_' ||
        text[0] == '-')
        return 0;
    if (text[j] == '[') {
        close = j + strcspn(text + j, "]");
        eq = j + strcspn(text + j, "=");
        if (close == n || eq > close || !keys_ok(text + j + 1, eq - j - 1, 0) ||
            close - eq - 1 > 256 || text[close + 1] != '.')
            return 0;
        j = close + 1;
    }
    return keys_ok(text + j + 1, n - j - 1, 1);
}

/* The projection of record onto paths[0..n) as coll: NULL or an object. */
static cJSON *project(const vrm_fieldpath *const *paths, size_t n, const char *coll,
                      const cJSON *record)
{
    cJSON *out = NULL;

    FUZZ_CHECK(vrm_fieldpath_project(paths, n, coll, record, &out) == 0);
    FUZZ_CHECK(out == NULL || cJSON_IsObject(out));
    return out;
}

static void check_projection(const vrm_fieldpath *p, const cJSON *record)
{
    const vrm_fieldpath *twice[2] = {p, p}, *all_of[1];
    const char *coll = vrm_fieldpath_root(p);
    cJSON *out, *out2, *again, *whole;
    vrm_fieldpath *all = NULL;
    char star[VRM_COLLECTION_MAX + 3];

    out = project(&p, 1, coll, record);
    if (vrm_fieldpath_is_analytics(p))
        FUZZ_CHECK(out == NULL);
    FUZZ_CHECK(out == NULL || fuzz_json_contained(out, record));
    FUZZ_CHECK(out == NULL || vrm_fieldpath_applies(p, coll, record));
    out2 = project(twice, 2, coll, record);
    FUZZ_CHECK(out == NULL ? out2 == NULL : cJSON_Compare(out, out2, 1));
    if (out != NULL && strchr(vrm_fieldpath_text(p), '[') == NULL) {
        again = project(&p, 1, coll, out);
        FUZZ_CHECK(again != NULL && cJSON_Compare(again, out, 1));
        cJSON_Delete(again);
    }
    if (!vrm_fieldpath_is_analytics(p)) {
        snprintf(star, sizeof star, "%s.*", coll);
        FUZZ_CHECK(vrm_fieldpath_parse(star, &all) == 0);
        all_of[0] = all;
        whole = project(all_of, 1, coll, record);
        FUZZ_CHECK(whole != NULL && cJSON_Compare(whole, record, 1));
        cJSON_Delete(whole);
        vrm_fieldpath_free(all);
    }
    /* another collection's record gets nothing */
    FUZZ_CHECK(project(&p, 1, "another-collection", record) == NULL);
    cJSON_Delete(out2);
    cJSON_Delete(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t plen = nl != NULL ? (size_t)(nl - data) : size;
    char *text = fuzz_strndup(data, plen);
    vrm_fieldpath *p = NULL;
    cJSON *record = NULL;
    const char *t, *root, *rest;
    size_t rlen;
    int rc;

    rc = vrm_fieldpath_parse(text, &p);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    FUZZ_CHECK((rc == 0) == (p != NULL));
    FUZZ_CHECK((rc == 0) == grammar_ok(text));
    if (rc != 0) {
        FUZZ_CHECK(vrm_error_message()[0] != '\0');
        goto out;
    }
    fuzz_accept();
    t = vrm_fieldpath_text(p);
    root = vrm_fieldpath_root(p);
    rest = vrm_fieldpath_rest(p);
    rlen = strlen(root);
    FUZZ_CHECK(strcmp(t, text) == 0);
    FUZZ_CHECK(rlen > 0 && strncmp(t, root, rlen) == 0);
    FUZZ_CHECK(rest > t + rlen && rest < t + strlen(t) && rest[-1] == '.');
    if (vrm_fieldpath_is_analytics(p)) {
        FUZZ_CHECK(strcmp(root, "analytics") == 0 && rest == t + rlen + 1);
        FUZZ_CHECK(strchr(t, '*') == NULL && strchr(t, '[') == NULL);
    } else {
        FUZZ_CHECK(strcmp(root, "analytics") != 0 && vrm_collection_name_valid(root) == 0);
        FUZZ_CHECK(rest == t + rlen + 1 || (t[rlen] == '[' && rest[-2] == ']'));
    }
    if (nl != NULL && vrm_json_parse_object((const char *)nl + 1, size - plen - 1, &record) == 0)
        check_projection(p, record);
out:
    cJSON_Delete(record);
    vrm_fieldpath_free(p);
    free(text);
    return 0;
}
