/*
 * test_fieldpath.c: parsing field paths, and projecting records onto them,
 * by example and against an independent oracle on random records.
 *
 * The property test runs VRM_PROPERTY_CASES cases (30000 by default) from
 * seed VRM_PROPERTY_SEED (by default the time); it prints the seed, and a
 * failure names the case, so `VRM_PROPERTY_SEED=S` reproduces a run.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "consent/fieldpath.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* JSON in C strings is easier to read with ' for " (no test key needs '). */
static char *dq(const char *s)
{
    char *d = strdup(s), *c;

    if (d == NULL)
        fail_msg("out of memory");
    for (c = d; *c; c++)
        if (*c == '\'')
            *c = '"';
    return d;
}

static cJSON *json(const char *text)
{
    char *t = dq(text);
    cJSON *j = cJSON_Parse(t);

    if (j == NULL)
        fail_msg("bad test JSON: %s", t);
    free(t);
    return j;
}

static vrm_fieldpath *parse_ok(const char *text)
{
    vrm_fieldpath *p = NULL;
    int rc = vrm_fieldpath_parse(text, &p);

    if (rc != 0)
        fail_msg("parse \"%s\": %d (%s)", text, rc, vrm_error_message());
    assert_non_null(p);
    assert_string_equal(vrm_fieldpath_text(p), text);
    return p;
}

/* Expect -EINVAL with a message that quotes the path and contains `part`. */
static void parse_bad(const char *text, const char *part)
{
    vrm_fieldpath *p = (vrm_fieldpath *)1;
    int rc;

    vrm_error_clear();
    rc = vrm_fieldpath_parse(text, &p);
    if (rc != -EINVAL)
        fail_msg("parse \"%s\": %d, expected -EINVAL", text, rc);
    assert_null(p);
    if (strncmp(vrm_error_message(), "field path \"", 12) != 0 ||
        strstr(vrm_error_message(), part) == NULL)
        fail_msg("parse \"%s\": message \"%s\" lacks \"%s\"", text, vrm_error_message(), part);
}

/* ---- parsing ----------------------------------------------------------- */

static void test_parse_valid(void **state)
{
    vrm_fieldpath *p;

    (void)state;
    p = parse_ok("profile.email");
    assert_string_equal(vrm_fieldpath_root(p), "profile");
    assert_string_equal(vrm_fieldpath_rest(p), "email");
    assert_int_equal(vrm_fieldpath_is_analytics(p), 0);
    vrm_fieldpath_free(p);

    p = parse_ok("profile.address.city");
    assert_string_equal(vrm_fieldpath_rest(p), "address.city");
    vrm_fieldpath_free(p);

    p = parse_ok("finance.*");
    assert_string_equal(vrm_fieldpath_root(p), "finance");
    assert_string_equal(vrm_fieldpath_rest(p), "*");
    vrm_fieldpath_free(p);

    p = parse_ok("purchases[merchant=acme].*");
    assert_string_equal(vrm_fieldpath_root(p), "purchases");
    assert_string_equal(vrm_fieldpath_rest(p), "*");
    vrm_fieldpath_free(p);

    p = parse_ok("purchases[address.city=Zürich].total.amount");
    assert_string_equal(vrm_fieldpath_root(p), "purchases");
    assert_string_equal(vrm_fieldpath_rest(p), "total.amount");
    vrm_fieldpath_free(p);

    p = parse_ok("analytics.spending.by-category");
    assert_string_equal(vrm_fieldpath_root(p), "analytics");
    assert_int_equal(vrm_fieldpath_is_analytics(p), 1);
    assert_string_equal(vrm_fieldpath_rest(p), "spending.by-category");
    vrm_fieldpath_free(p);

    p = parse_ok("analytics.sleep");
    assert_string_equal(vrm_fieldpath_rest(p), "sleep");
    vrm_fieldpath_free(p);

    /* Unicode keys and values; anything but ']' and controls in a value. */
    vrm_fieldpath_free(parse_ok("profile.名前.😀"));
    vrm_fieldpath_free(parse_ok("profile.a b.c-d_e:f/g"));
    vrm_fieldpath_free(parse_ok("c[k=].x"));
    vrm_fieldpath_free(parse_ok("c[k=a=b[c.d*\"\\ é].x"));
    vrm_fieldpath_free(parse_ok("c[é.ü=ß].*"));
    vrm_fieldpath_free(parse_ok("9-lives_x.a.*"));
    vrm_fieldpath_free(parse_ok("c.analytics"));
}

static void test_parse_limits(void **state)
{
    char buf[VRM_FIELDPATH_MAX + 2];
    char coll[VRM_COLLECTION_MAX + 2];
    char key[130], value[258];

    (void)state;
    /* A whole path of exactly 1024 bytes, then 1025. */
    memset(buf, 'k', sizeof buf);
    memcpy(buf, "c.", 2);
    for (size_t i = 100; i < VRM_FIELDPATH_MAX; i += 100)
        buf[i] = '.';
    buf[VRM_FIELDPATH_MAX] = '\0';
    vrm_fieldpath_free(parse_ok(buf));
    buf[VRM_FIELDPATH_MAX] = 'k';
    buf[VRM_FIELDPATH_MAX + 1] = '\0';
    parse_bad(buf, "1025 bytes long; at most 1024");

    /* A collection of 64 characters, then 65. */
    memset(coll, 'a', VRM_COLLECTION_MAX);
    strcpy(coll + VRM_COLLECTION_MAX, ".");
    snprintf(buf, sizeof buf, "%sx", coll);
    vrm_fieldpath_free(parse_ok(buf));
    snprintf(buf, sizeof buf, "a%sx", coll);
    parse_bad(buf, "longer than 64");

    /* A key of 128 bytes, then 129 (counted in bytes, not characters). */
    memset(key, 'k', 128);
    key[128] = '\0';
    snprintf(buf, sizeof buf, "c.%s", key);
    vrm_fieldpath_free(parse_ok(buf));
    snprintf(buf, sizeof buf, "c.x.%sk", key);
    parse_bad(buf, "at byte 5 has 129 bytes");
    memcpy(key + 124, "é", 2);  /* 126 bytes + "é": still 128 */
    key[126] = '\0';
    snprintf(buf, sizeof buf, "c.%sé", key);
    vrm_fieldpath_free(parse_ok(buf));
    snprintf(buf, sizeof buf, "c.%séé", key);
    parse_bad(buf, "130 bytes");

    /* A filter value of 256 bytes, then 257. */
    memset(value, 'v', 256);
    value[256] = '\0';
    snprintf(buf, sizeof buf, "c[k=%s].x", value);
    vrm_fieldpath_free(parse_ok(buf));
    snprintf(buf, sizeof buf, "c[k=%sv].x", value);
    parse_bad(buf, "filter value at byte 5 has 257 bytes");
}

static void test_parse_invalid(void **state)
{
    vrm_fieldpath *p = (vrm_fieldpath *)1;

    (void)state;
    assert_int_equal(vrm_fieldpath_parse(NULL, &p), -EINVAL);
    assert_null(p);
    parse_bad("", "empty");
    parse_bad("profile", "name a field or *");
    parse_bad("profile.", "empty key at byte 9");
    parse_bad("profile.email.", "the path ends in '.'");
    parse_bad("profile..email", "two '.' in a row");
    parse_bad(".email", "no collection");
    parse_bad("[a=b].x", "no collection");
    parse_bad("*", "collection \"*\"");
    parse_bad("*.x", "collection \"*\"");
    parse_bad("profile.*.email", "'*' at byte 9: '*' may only be the last part");
    parse_bad("profile.*.*", "byte 9");
    parse_bad("profile.em*il", "'*' at byte 11");
    parse_bad("profile.email*", "byte 14");
    parse_bad("profile[a=b", "no closing ']'");
    parse_bad("profile[a=b.x", "no closing ']'");
    parse_bad("profile[ab].x", "no '='");
    parse_bad("profile[a=b]", "name a field or * after the filter");
    parse_bad("profile[a=b].", "empty key at byte 14");
    parse_bad("profile[a=b]x", "byte 13: expected '.'");
    parse_bad("profile[a=b][c=d].x", "only one filter");
    parse_bad("profile[=b].x", "empty filter key at byte 9");
    parse_bad("profile[a..b=c].x", "empty filter key at byte 11");
    parse_bad("profile[a.=c].x", "empty filter key");
    parse_bad("profile[*=b].x", "'*' at byte 9: not allowed in the filter key");
    parse_bad("profile[a*=b].x", "not allowed in the filter key");
    parse_bad("profile[a[b=c].x", "'[' at byte 10");
    parse_bad("profile[a=b\x01].x", "control character at byte 12");
    parse_bad("profile.a[b=c].d", "'[' at byte 10: not allowed in a key; a filter");
    parse_bad("profile.a]b", "']' at byte 10");
    parse_bad("profile.a=b", "'=' at byte 10");
    parse_bad("profile.a\"b", "'\"' at byte 10");
    parse_bad("profile.a\\b", "'\\' at byte 10");
    parse_bad("profile.e\nmail", "control character at byte 10");
    parse_bad("profile.e\x7fmail", "control character at byte 10");
    parse_bad("profile.e\xc2\x85mail", "control character at byte 10");  /* U+0085 */
    parse_bad("profile.\xff", "not valid UTF-8 at byte 9");
    parse_bad("profile.ab\xc3", "not valid UTF-8 at byte 11");
    parse_bad("profile.\xc0\xaf", "not valid UTF-8 at byte 9");            /* overlong */
    parse_bad("profile.\xed\xa0\x80", "not valid UTF-8 at byte 9");        /* surrogate */
    parse_bad("Profile.email", "collection \"Profile\" (bytes 1-7)");
    parse_bad("-x.email", "starting with a letter or digit");
    parse_bad("a b.email", "collection \"a b\"");
    parse_bad("prof/ile.email", "collection");
    parse_bad("profilé.email", "collection");
    parse_bad("analytics", "name an analytics result");
    parse_bad("analytics.", "empty analytics name at byte 11");
    parse_bad("analytics..x", "empty analytics name");
    parse_bad("analytics.*", "granted one by one");
    parse_bad("analytics.spending.*", "not allowed in the analytics name");
    parse_bad("analytics.sp*", "not allowed in the analytics name");
    parse_bad("analytics[a=b].x", "analytics paths take no filter");
    parse_bad("analytics.a=b", "'=' at byte 12");
}

/* The path quoted in a message is cut, on a character boundary, and its
 * control characters are not printed. */
static void test_parse_message_quote(void **state)
{
    char buf[VRM_FIELDPATH_MAX + 200];
    const char *m;

    (void)state;
    strcpy(buf, "c.");
    for (int i = 0; i < 300; i++)
        strcat(buf, "é");
    strcat(buf, "*");
    parse_bad(buf, "'*' at byte 603");
    m = vrm_error_message();
    assert_true(vrm_utf8_valid(m, strlen(m)));
    assert_non_null(strstr(m, "...\""));
    assert_true(strlen(m) < 300);

    parse_bad("c.a\tb", "control character at byte 4");
    assert_null(strchr(vrm_error_message(), '\t'));
}

/* Random strings over the characters that matter: parsing either succeeds
 * or fails with -EINVAL and a message; never anything else. */
static void test_parse_random(void **state)
{
    static const char *const bits[] = {"c", "analytics", ".", ".", "[", "]", "=", "*", "a",
                                       "é", "\"", "\\", "\n", "\xff", "Z", "-", "名"};
    char buf[256];
    unsigned long seed = 12345;

    (void)state;
    for (int n = 0; n < 20000; n++) {
        vrm_fieldpath *p = NULL;
        int parts, rc;

        buf[0] = '\0';
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        parts = (int)(seed >> 60);
        for (int i = 0; i < parts; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            strcat(buf, bits[(seed >> 33) % (sizeof bits / sizeof bits[0])]);
        }
        rc = vrm_fieldpath_parse(buf, &p);
        if (rc == 0) {
            assert_string_equal(vrm_fieldpath_text(p), buf);
            assert_null(strchr(buf, '\n'));
            assert_true(vrm_utf8_valid(buf, strlen(buf)));
            vrm_fieldpath_free(p);
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_null(p);
            assert_int_equal(strncmp(vrm_error_message(), "field path \"", 12), 0);
        }
    }
}

/* ---- projection by example --------------------------------------------- */

/* Project `record` (with ' for ") of `coll` onto the NULL-terminated paths
 * and compare with `want` (NULL: nothing granted). */
static void expect(const char *coll, const char *record, const char *want, ...)
{
    vrm_fieldpath *paths[16];
    const char *text;
    cJSON *rec = json(record), *got = NULL;
    size_t n = 0;
    va_list ap;
    char *g, *w;

    va_start(ap, want);
    while ((text = va_arg(ap, const char *)) != NULL && n < 16)
        paths[n++] = parse_ok(text);
    va_end(ap);
    assert_int_equal(vrm_fieldpath_project((const vrm_fieldpath *const *)paths, n, coll, rec,
                                           &got),
                     0);
    if (want == NULL) {
        if (got != NULL) {
            g = cJSON_PrintUnformatted(got);
            fail_msg("%s: wanted nothing, got %s", record, g);
        }
    } else {
        cJSON *wj = json(want);

        if (got == NULL)
            fail_msg("%s: wanted %s, got nothing", record, want);
        g = cJSON_PrintUnformatted(got);
        w = cJSON_PrintUnformatted(wj);
        if (strcmp(g, w) != 0)
            fail_msg("%s: wanted %s, got %s", record, w, g);
        free(g);
        free(w);
        cJSON_Delete(wj);
    }
    cJSON_Delete(got);
    cJSON_Delete(rec);
    while (n > 0)
        vrm_fieldpath_free(paths[--n]);
}

static const char person[] =
    "{'name':'Ann','email':'ann@example.org',"
    "'address':{'street':'Main 1','city':'Oslo','geo':{'lat':59.9,'lon':10.7}},"
    "'tags':['a','b',3],'empty':{},'none':[],'n':null}";

static void test_project_nested(void **state)
{
    (void)state;
    expect("profile", person, "{'email':'ann@example.org'}", "profile.email", NULL);
    expect("profile", person, "{'address':{'city':'Oslo'}}", "profile.address.city", NULL);
    expect("profile", person, "{'address':{'geo':{'lon':10.7}}}", "profile.address.geo.lon",
           NULL);
    expect("profile", person, "{'address':{'street':'Main 1','city':'Oslo',"
           "'geo':{'lat':59.9,'lon':10.7}}}", "profile.address", NULL);
    /* Record order, not path order; a union of the paths. */
    expect("profile", person, "{'name':'Ann','email':'ann@example.org'}", "profile.email",
           "profile.name", NULL);
    expect("profile", person, "{'address':{'city':'Oslo','geo':{'lat':59.9}}}",
           "profile.address.geo.lat", "profile.address.city", NULL);
    /* Whole values, empty or null included. */
    expect("profile", person, "{'empty':{},'none':[],'n':null}", "profile.n", "profile.none",
           "profile.empty", NULL);
    /* Arrays of scalars come whole. */
    expect("profile", person, "{'tags':['a','b',3]}", "profile.tags", NULL);
    /* P.* grants what P does. */
    expect("profile", person, "{'tags':['a','b',3]}", "profile.tags.*", NULL);
    expect("profile", person, "{'address':{'geo':{'lat':59.9,'lon':10.7}}}",
           "profile.address.geo.*", NULL);
    expect("profile", person, "{'email':'ann@example.org'}", "profile.email.*", NULL);
    /* Unicode keys match byte for byte. */
    expect("c", "{'名前':{'ü':1,'u':2},'😀':true}", "{'名前':{'ü':1},'😀':true}", "c.名前.ü",
           "c.😀", NULL);
}

static void test_project_missing(void **state)
{
    (void)state;
    expect("profile", person, NULL, "profile.phone", NULL);
    expect("profile", person, NULL, "profile.address.zip", NULL);
    expect("profile", person, NULL, "profile.email.local", NULL);   /* through a string */
    expect("profile", person, NULL, "profile.tags.x", NULL);        /* no object in it */
    expect("profile", person, NULL, "profile.empty.x", NULL);
    expect("profile", person, NULL, "profile.none.x", NULL);
    expect("profile", person, NULL, "profile.n.x", NULL);
    expect("profile", person, "{'name':'Ann'}", "profile.phone", "profile.name", NULL);
    expect("profile", person, NULL, NULL);                         /* no paths */
    expect("profile", person, NULL, "analytics.spending.by-category", NULL);
    /* Keys are not case-folded or normalized. */
    expect("profile", person, NULL, "profile.Name", NULL);
    expect("c", "{'é':1}", NULL, "c.e\xcc\x81", NULL);              /* e + combining acute */
}

static void test_project_arrays(void **state)
{
    static const char rec[] =
        "{'items':[{'sku':'a','price':1,'tags':[{'t':1,'u':2}]},{'price':2},3,'x',"
        "[{'sku':'nested'}],{},{'sku':null},{'sku':{'deep':true}}],'n':1}";

    (void)state;
    /* Each object element, in order; elements that yield nothing dropped. */
    expect("c", rec, "{'items':[{'sku':'a'},{'sku':null},{'sku':{'deep':true}}]}", "c.items.sku",
           NULL);
    expect("c", rec, "{'items':[{'sku':'a','price':1},{'price':2},{'sku':null},"
           "{'sku':{'deep':true}}]}", "c.items.price", "c.items.sku", NULL);
    /* Arrays within array elements are stepped through too. */
    expect("c", rec, "{'items':[{'tags':[{'u':2}]}]}", "c.items.tags.u", NULL);
    expect("c", rec, "{'items':[{'sku':{'deep':true}}]}", "c.items.sku.deep", NULL);
    expect("c", rec, NULL, "c.items.nope", NULL);
    /* Granted whole: scalars, nested arrays and empty objects come along. */
    expect("c", rec, "{'items':[{'sku':'a','price':1,'tags':[{'t':1,'u':2}]},{'price':2},3,'x',"
           "[{'sku':'nested'}],{},{'sku':null},{'sku':{'deep':true}}]}", "c.items", NULL);
    expect("c", rec, "{'items':[{'sku':'a','price':1,'tags':[{'t':1,'u':2}]},{'price':2},3,'x',"
           "[{'sku':'nested'}],{},{'sku':null},{'sku':{'deep':true}}]}", "c.items",
           "c.items.sku", NULL);
    /* An array at the top of a record is a field like any other. */
    expect("c", "{'a':[[{'b':1}],{'b':2,'c':3}]}", "{'a':[{'b':2}]}", "c.a.b", NULL);
    expect("c", "{'a':[]}", NULL, "c.a.b", NULL);
    expect("c", "{'a':[]}", "{'a':[]}", "c.a", NULL);
}

static void test_project_overlap(void **state)
{
    (void)state;
    expect("c", "{'a':{'b':1,'c':2},'d':3}", "{'a':{'b':1,'c':2}}", "c.a", "c.a.b", NULL);
    expect("c", "{'a':{'b':1,'c':2},'d':3}", "{'a':{'b':1,'c':2}}", "c.a.b", "c.a", NULL);
    expect("c", "{'a':{'b':1,'c':2},'d':3}", "{'a':{'b':1,'c':2}}", "c.a.b", "c.a.c", NULL);
    expect("c", "{'a':{'b':1,'c':2},'d':3}", "{'a':{'b':1}}", "c.a.b", "c.a.b", NULL);
    expect("c", "{'a':{'b':1,'c':2},'d':3}", "{'a':{'b':1,'c':2},'d':3}", "c.a.b", "c.*",
           NULL);
    expect("c", "{'a':[{'b':1,'c':2},{'c':3}]}", "{'a':[{'b':1,'c':2},{'c':3}]}", "c.a.b",
           "c.a.c", NULL);
    expect("c", "{'a':[{'b':{'x':1,'y':2}},{'b':{'y':3}}]}", "{'a':[{'b':{'x':1,'y':2}},"
           "{'b':{'y':3}}]}", "c.a.b.x", "c.a.b", NULL);
}

static void test_project_star_and_collections(void **state)
{
    (void)state;
    expect("profile", person, NULL, "finance.*", NULL);
    expect("profile", "{'a':1,'b':{'c':[1,{}]}}", "{'a':1,'b':{'c':[1,{}]}}", "profile.*", NULL);
    expect("profile", "{}", "{}", "profile.*", NULL);    /* the record, though empty */
    expect("profile", "{}", NULL, "profile.a", NULL);
    /* Two collections: each record sees only its own collection's paths. */
    expect("profile", "{'email':'e','total':1}", "{'email':'e'}", "profile.email",
           "finance.total", NULL);
    expect("finance", "{'email':'e','total':1}", "{'total':1}", "profile.email",
           "finance.total", NULL);
    expect("finance", "{'email':'e','total':1}", "{'email':'e','total':1}", "profile.email",
           "finance.*", NULL);
    expect("other", "{'email':'e','total':1}", NULL, "profile.email", "finance.*", NULL);
    /* A collection named like an analytics path's root does not see it. */
    expect("analytics", "{'spending':{'by-category':1}}", NULL,
           "analytics.spending.by-category", NULL);
}

static void test_project_filters(void **state)
{
    static const char rec[] =
        "{'merchant':'acme','total':42,'rate':4.5,'paid':true,'note':null,'count':1.0,"
        "'code':'42','big':1e3,'neg':-0.25,'addr':{'city':'Zürich','zip':8000},"
        "'list':['acme'],'obj':{},'items':[{'merchant':'acme'}]}";

    (void)state;
    /* Strings, byte for byte. */
    expect("p", rec, "{'total':42}", "p[merchant=acme].total", NULL);
    expect("p", rec, NULL, "p[merchant=Acme].total", NULL);
    expect("p", rec, NULL, "p[merchant=acme ].total", NULL);
    expect("p", rec, NULL, "p[merchant=].total", NULL);
    expect("p", rec, "{'total':42}", "p[addr.city=Zürich].total", NULL);
    expect("p", rec, NULL, "p[addr.city=Zurich].total", NULL);
    expect("p", rec, "{'total':42}", "p[code=42].total", NULL);
    /* Numbers as cJSON prints them (jq's compact form). */
    expect("p", rec, "{'merchant':'acme'}", "p[total=42].merchant", NULL);
    expect("p", rec, NULL, "p[total=42.0].merchant", NULL);
    expect("p", rec, "{'merchant':'acme'}", "p[rate=4.5].merchant", NULL);
    expect("p", rec, "{'merchant':'acme'}", "p[count=1].merchant", NULL);
    expect("p", rec, "{'merchant':'acme'}", "p[big=1000].merchant", NULL);
    expect("p", rec, "{'merchant':'acme'}", "p[neg=-0.25].merchant", NULL);
    expect("p", rec, "{'merchant':'acme'}", "p[addr.zip=8000].merchant", NULL);
    /* Booleans and null. */
    expect("p", rec, "{'merchant':'acme'}", "p[paid=true].merchant", NULL);
    expect("p", rec, NULL, "p[paid=false].merchant", NULL);
    expect("p", rec, NULL, "p[paid=1].merchant", NULL);
    expect("p", rec, "{'merchant':'acme'}", "p[note=null].merchant", NULL);
    expect("p", rec, NULL, "p[note=].merchant", NULL);
    /* Objects, arrays and missing fields never match; arrays are not
     * stepped through by a filter. */
    expect("p", rec, NULL, "p[addr={}].merchant", NULL);
    expect("p", rec, NULL, "p[obj={}].merchant", NULL);
    expect("p", rec, NULL, "p[list=acme].merchant", NULL);
    expect("p", rec, NULL, "p[items.merchant=acme].total", NULL);
    expect("p", rec, NULL, "p[nope=null].merchant", NULL);
    expect("p", rec, NULL, "p[merchant.x=acme].total", NULL);
    /* A filter narrows only its own path. */
    expect("p", rec, "{'rate':4.5}", "p[merchant=other].total", "p.rate", NULL);
    expect("p", rec, "{'total':42,'rate':4.5}", "p[merchant=acme].total",
           "p[merchant=other].*", "p[paid=true].rate", NULL);
    expect("q", rec, NULL, "p[merchant=acme].*", NULL);
}

static void test_applies(void **state)
{
    vrm_fieldpath *p;
    cJSON *rec = json("{'m':'acme','n':{'k':7}}"), *arr = json("[1]");

    (void)state;
    p = parse_ok("c.x");
    assert_int_equal(vrm_fieldpath_applies(p, "c", rec), 1);
    assert_int_equal(vrm_fieldpath_applies(p, "d", rec), 0);
    assert_int_equal(vrm_fieldpath_applies(p, NULL, rec), 0);
    vrm_fieldpath_free(p);
    p = parse_ok("c[n.k=7].x");
    assert_int_equal(vrm_fieldpath_applies(p, "c", rec), 1);
    assert_int_equal(vrm_fieldpath_applies(p, "c", arr), 0);
    vrm_fieldpath_free(p);
    p = parse_ok("c[m=acmf].x");
    assert_int_equal(vrm_fieldpath_applies(p, "c", rec), 0);
    vrm_fieldpath_free(p);
    p = parse_ok("analytics.a.b");
    assert_int_equal(vrm_fieldpath_applies(p, "analytics", rec), 0);
    vrm_fieldpath_free(p);
    vrm_fieldpath_free(NULL);
    cJSON_Delete(rec);
    cJSON_Delete(arr);
}

/* ---- many threads, one set of paths ------------------------------------ */

typedef struct shared {
    const vrm_fieldpath *const *paths;
    size_t n;
    const cJSON *rec;
    const char *want;
    int bad;                          /* set by a thread that saw otherwise */
} shared;

static void *projector(void *arg)
{
    shared *s = arg;

    for (int i = 0; i < 2000; i++) {
        cJSON *got = NULL;
        char *g;

        if (vrm_fieldpath_project(s->paths, s->n, "c", s->rec, &got) != 0 || got == NULL) {
            __atomic_store_n(&s->bad, 1, __ATOMIC_RELAXED);
            break;
        }
        g = cJSON_PrintUnformatted(got);
        if (g == NULL || strcmp(g, s->want) != 0)
            __atomic_store_n(&s->bad, 1, __ATOMIC_RELAXED);
        free(g);
        cJSON_Delete(got);
    }
    return NULL;
}

static void test_threads(void **state)
{
    vrm_fieldpath *paths[3];
    cJSON *rec = json("{'a':{'b':1,'c':2},'m':4.5,'l':[{'b':1},{'c':1}]}");
    char *want = dq("{'a':{'b':1},'l':[{'b':1}]}");
    shared s = {(const vrm_fieldpath *const *)paths, 3, rec, want, 0};
    pthread_t t[8];

    (void)state;
    paths[0] = parse_ok("c[m=4.5].a.b");
    paths[1] = parse_ok("c.l.b");
    paths[2] = parse_ok("d.*");
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, projector, &s), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(s.bad, 0);
    for (int i = 0; i < 3; i++)
        vrm_fieldpath_free(paths[i]);
    free(want);
    cJSON_Delete(rec);
}

/* ---- the property test ------------------------------------------------- */

/* splitmix64: one stream per case, so a case reproduces on its own. */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned below(rng *r, unsigned n)
{
    return (unsigned)(next(r) % n);
}

/* Keys a record uses.  Those after NAMEABLE cannot appear in a path. */
static const char *const keys[] = {"a", "b", "name", "é", "名前", "😀x", "items", "tag",
                                   "k.dot", "k*", ""};
#define NKEYS (sizeof keys / sizeof keys[0])
#define NAMEABLE 8

/* Scalars a record holds, and the filter values that may match them. */
static const char *const strings[] = {"x", "acme", "héllo", "", "42", "true", "null",
                                      "a]b", "名"};
static const double numbers[] = {42, 4.5, -3, 0, 0.25, 1e3, -17.125};
static const char *const values[] = {"x", "acme", "héllo", "", "42", "4.5", "-3", "0", "0.25",
                                     "1000", "-17.125", "true", "false", "null", "名"};

static cJSON *random_scalar(rng *r)
{
    switch (below(r, 10)) {
    case 0:
    case 1:
    case 2:
        return cJSON_CreateNumber(numbers[below(r, sizeof numbers / sizeof numbers[0])]);
    case 3:
        return cJSON_CreateBool(below(r, 2));
    case 4:
        return cJSON_CreateNull();
    case 5:
        if (below(r, 8) == 0) {  /* a large string, some of it multibyte */
            size_t n = 1000 + below(r, 4000), i = 0;
            char *s = malloc(n + 4);
            cJSON *j;

            if (s == NULL)
                return NULL;
            while (i < n) {
                if (below(r, 10) == 0) {
                    memcpy(s + i, "ß", 2);
                    i += 2;
                } else {
                    s[i++] = (char)('a' + below(r, 26));
                }
            }
            s[i] = '\0';
            j = cJSON_CreateString(s);
            free(s);
            return j;
        }
        /* fall through */
    default:
        return cJSON_CreateString(strings[below(r, sizeof strings / sizeof strings[0])]);
    }
}

static cJSON *random_value(rng *r, int depth);

static cJSON *random_object(rng *r, int depth)
{
    cJSON *o = cJSON_CreateObject();
    unsigned n = below(r, depth > 3 ? 3 : 6);

    for (unsigned i = 0; i < n; i++) {
        const char *k = keys[below(r, NKEYS)];

        if (cJSON_GetObjectItemCaseSensitive(o, k) == NULL)
            cJSON_AddItemToObject(o, k, random_value(r, depth + 1));
    }
    return o;
}

static cJSON *random_value(rng *r, int depth)
{
    unsigned k = depth > 4 ? 9 : below(r, 10);

    if (k < 3)
        return random_object(r, depth);
    if (k < 5) {
        cJSON *a = cJSON_CreateArray();
        unsigned n = below(r, 5);

        for (unsigned i = 0; i < n; i++)
            cJSON_AddItemToArray(a, below(r, 3) ? random_object(r, depth + 1)
                                                : random_value(r, depth + 1));
        return a;
    }
    return random_scalar(r);
}

static void oracle_scalar_text(const cJSON *v, char *buf, size_t size);

/* Can a path name this record key? */
static int nameable(const char *k)
{
    return *k != '\0' && strpbrk(k, ".*[]=\"\\") == NULL;
}

/* A random member of object `v` (NULL if it has none). */
static const cJSON *random_member(rng *r, const cJSON *v)
{
    int n = cJSON_GetArraySize(v);

    return n > 0 ? cJSON_GetArrayItem(v, (int)below(r, (unsigned)n)) : NULL;
}

/* A random object element of array `v` (NULL if it has none). */
static const cJSON *random_object_element(rng *r, const cJSON *v)
{
    const cJSON *c, *pick = NULL;
    unsigned seen = 0;

    for (c = v->child; c != NULL; c = c->next)
        if (cJSON_IsObject(c) && below(r, ++seen) == 0)
            pick = c;
    return pick;
}

static void append(char *text, int *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *text, int *at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    *at += vsnprintf(text + *at, VRM_FIELDPATH_MAX + 1 - (size_t)*at, fmt, ap);
    va_end(ap);
}

/* A random path, valid by construction; mostly one that follows `rec`'s
 * keys (through arrays, as projection does), so that it grants something
 * of it, sometimes one from the pool of keys. */
static char *random_path(rng *r, const cJSON *rec)
{
    char text[VRM_FIELDPATH_MAX + 1];
    const cJSON *v, *c;
    unsigned n = 0;
    int at = 0;

    if (below(r, 30) == 0)
        return strdup("analytics.a.name");
    append(text, &at, "%s", below(r, 8) == 0 ? "d" : "c");
    if (below(r, 3) == 0) {
        /* A filter: on a field the record has, with its value or another. */
        char value[64];

        c = random_member(r, rec);
        if (c != NULL && nameable(c->string) && below(r, 4) != 0) {
            append(text, &at, "[%s", c->string);
            if (cJSON_IsObject(c) && below(r, 2) && (v = random_member(r, c)) != NULL &&
                nameable(v->string)) {
                append(text, &at, ".%s", v->string);
                c = v;
            }
        } else {
            append(text, &at, "[%s", keys[below(r, NAMEABLE)]);
            c = NULL;
        }
        if (c != NULL && below(r, 3) != 0 && cJSON_IsString(c) && strlen(c->valuestring) <= 256 &&
            strchr(c->valuestring, ']') == NULL) {
            append(text, &at, "=%s]", c->valuestring);
        } else if (c != NULL && below(r, 3) != 0 && !cJSON_IsString(c)) {
            oracle_scalar_text(c, value, sizeof value);
            append(text, &at, "=%s]", cJSON_IsObject(c) || cJSON_IsArray(c) ? "{}" : value);
        } else {
            append(text, &at, "=%s]", values[below(r, sizeof values / sizeof values[0])]);
        }
    }
    if (below(r, 4) != 0) {
        for (v = rec; n < 6; n++) {
            while (v != NULL && cJSON_IsArray(v))
                v = random_object_element(r, v);
            if (v == NULL || !cJSON_IsObject(v) || (c = random_member(r, v)) == NULL ||
                !nameable(c->string) || (n > 0 && below(r, 3) == 0))
                break;
            append(text, &at, ".%s", c->string);
            v = c;
        }
    } else {
        for (unsigned k = below(r, 5); n < k; n++)
            append(text, &at, ".%s", below(r, 12) == 0 ? "zz" : keys[below(r, NAMEABLE)]);
    }
    if (n == 0 ? below(r, 3) != 0 : below(r, 6) == 0)
        append(text, &at, "%s", ".*");
    else if (n == 0)
        append(text, &at, ".%s", keys[below(r, NAMEABLE)]);
    return strdup(text);
}

/*
 * The oracle works on the path's text rather than the parsed path, and
 * decides leaf by leaf.  A leaf is a scalar or an empty object or array,
 * reached from the record's top by steps: a key of an object or an index of
 * an array (each step remembers whether it lands on an object).
 */
typedef struct step {
    const char *key;                  /* NULL for an array index */
    int object;                       /* the value reached is an object */
} step;

typedef struct opath {
    char coll[80];
    int analytics;
    char fkey[4][140];                /* filter key, split; nf == 0: none */
    int nf;
    char fvalue[300];
    char key[8][140];                 /* field keys, `*` dropped */
    int nk;
} opath;

/* Split a path's text with sscanf-free string scanning of our own. */
static void oracle_read(const char *text, opath *o)
{
    const char *s = text, *e;

    memset(o, 0, sizeof *o);
    e = s + strcspn(s, ".[");
    memcpy(o->coll, s, (size_t)(e - s));
    o->analytics = strcmp(o->coll, "analytics") == 0;
    s = e;
    if (*s == '[') {
        s++;
        for (;;) {
            e = s + strcspn(s, ".=");
            memcpy(o->fkey[o->nf++], s, (size_t)(e - s));
            s = e + 1;
            if (*e == '=')
                break;
        }
        e = strchr(s, ']');
        memcpy(o->fvalue, s, (size_t)(e - s));
        s = e + 1;
    }
    while (*s == '.') {
        s++;
        e = s + strcspn(s, ".");
        if (!(e - s == 1 && *s == '*'))
            memcpy(o->key[o->nk++], s, (size_t)(e - s));
        s = e;
    }
}

/* The filter VALUE a scalar prints as, by our own rules. */
static void oracle_scalar_text(const cJSON *v, char *buf, size_t size)
{
    if (cJSON_IsTrue(v))
        snprintf(buf, size, "true");
    else if (cJSON_IsFalse(v))
        snprintf(buf, size, "false");
    else if (cJSON_IsNull(v))
        snprintf(buf, size, "null");
    else if (cJSON_IsNumber(v))
        snprintf(buf, size, "%.15g", v->valuedouble);   /* the numbers above are exact */
    else
        snprintf(buf, size, "\x01not a scalar");
}

static int oracle_applies(const opath *o, const char *coll, const cJSON *rec)
{
    const cJSON *v = rec;
    char text[64];

    if (o->analytics || strcmp(o->coll, coll) != 0)
        return 0;
    for (int i = 0; i < o->nf; i++) {
        const cJSON *c;

        if (!cJSON_IsObject(v))
            return 0;
        for (c = v->child; c != NULL && strcmp(c->string, o->fkey[i]) != 0; c = c->next)
            ;
        if (c == NULL)
            return 0;
        v = c;
    }
    if (o->nf == 0)
        return 1;
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, o->fvalue) == 0;
    oracle_scalar_text(v, text, sizeof text);
    return strcmp(text, o->fvalue) == 0;
}

/* Does applicable path `o` grant the leaf reached by steps[0..n)?  Keys
 * must match one by one; an array index consumes no key but must land on
 * an object while keys remain; once all keys are matched, everything below
 * is granted. */
static int oracle_grants(const opath *o, const step *steps, int n)
{
    int k = 0;

    for (int i = 0; i < n; i++) {
        if (k == o->nk)
            return 1;
        if (steps[i].key == NULL) {
            if (!steps[i].object)
                return 0;
        } else if (strcmp(steps[i].key, o->key[k++]) != 0) {
            return 0;
        }
    }
    return k == o->nk;
}

typedef struct leaves {
    char **sig;                       /* "key\x01[]\x01key\x02value" each */
    size_t n, cap;
} leaves;

static void leaves_add(leaves *l, const step *steps, int n, const cJSON *v)
{
    char *val = cJSON_PrintUnformatted(v), *s;
    size_t len = strlen(val) + 2;

    for (int i = 0; i < n; i++)
        len += (steps[i].key ? strlen(steps[i].key) : 2) + 1;
    s = malloc(len);
    s[0] = '\0';
    for (int i = 0; i < n; i++) {
        strcat(s, steps[i].key ? steps[i].key : "[]");
        strcat(s, "\x01");
    }
    strcat(s, "\x02");
    strcat(s, val);
    free(val);
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->sig = realloc(l->sig, l->cap * sizeof *l->sig);
    }
    l->sig[l->n++] = s;
}

static void leaves_free(leaves *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->sig[i]);
    free(l->sig);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Walk `v` (reached by steps[0..n)), collecting into `out` its leaves that
 * one of ops[0..nops) grants (all leaves when ops is NULL), and return the
 * expected projection of `v`: a copy pruned to the granted leaves (NULL when
 * none).
 */
static cJSON *oracle_walk(const cJSON *v, step *steps, int n, const opath *ops, int nops,
                          leaves *out)
{
    const cJSON *c;
    cJSON *res = NULL;

    if ((cJSON_IsObject(v) || cJSON_IsArray(v)) && v->child != NULL) {
        res = cJSON_IsObject(v) ? cJSON_CreateObject() : cJSON_CreateArray();
        for (c = v->child; c != NULL; c = c->next) {
            cJSON *sub;

            steps[n] = (step){cJSON_IsObject(v) ? c->string : NULL, cJSON_IsObject(c)};
            sub = oracle_walk(c, steps, n + 1, ops, nops, out);
            if (sub == NULL)
                continue;
            if (cJSON_IsObject(v))
                cJSON_AddItemToObject(res, c->string, sub);
            else
                cJSON_AddItemToArray(res, sub);
        }
        if (res->child == NULL) {
            cJSON_Delete(res);
            res = NULL;
        }
        return res;
    }
    if (ops == NULL) {
        leaves_add(out, steps, n, v);
        return cJSON_Duplicate(v, 1);
    }
    for (int i = 0; i < nops; i++) {
        if (oracle_grants(&ops[i], steps, n)) {
            leaves_add(out, steps, n, v);
            return cJSON_Duplicate(v, 1);
        }
    }
    return NULL;
}

static char *show_case(const cJSON *rec, char *const *texts, int n)
{
    char *r = cJSON_PrintUnformatted(rec), *s = NULL;
    size_t len = strlen(r) + 64;

    for (int i = 0; i < n; i++)
        len += strlen(texts[i]) + 4;
    s = malloc(len);
    snprintf(s, len, "%.2000s%s with paths", r, strlen(r) > 2000 ? "..." : "");
    for (int i = 0; i < n; i++) {
        strcat(s, " ");
        strcat(s, texts[i]);
    }
    free(r);
    return s;
}

/* What the cases exercised, to see that the generator reaches the corners. */
typedef struct tally {
    unsigned long granted;            /* cases with a projection */
    unsigned long partial;            /* ... that left something out */
    unsigned long filtered;           /* cases where a path with a filter applied */
    unsigned long leaves;             /* granted leaves in all */
} tally;

/* One case: returns NULL, or a description of the disagreement. */
static char *property_case(uint64_t seed, unsigned long index, tally *t)
{
    rng r = {seed ^ (index * 0xd1b54a32d192ed03ULL)};
    cJSON *rec = random_object(&r, 0), *got = NULL, *want = NULL;
    char *texts[6] = {NULL}, *fail = NULL, *g = NULL, *w = NULL;
    vrm_fieldpath *paths[6] = {NULL};
    opath ops[6];
    int n = 1 + (int)below(&r, 5), nops = 0;
    step steps[64];
    leaves lwant = {NULL, 0, 0}, lgot = {NULL, 0, 0};
    char *detail = NULL;

    for (int i = 0; i < n; i++) {
        texts[i] = random_path(&r, rec);
        if (vrm_fieldpath_parse(texts[i], &paths[i]) != 0) {
            if (asprintf(&fail, "path %s did not parse: %s", texts[i], vrm_error_message()) < 0)
                fail = NULL;
            goto out;
        }
        oracle_read(texts[i], &ops[nops]);
        if (oracle_applies(&ops[nops], "c", rec)) {
            t->filtered += ops[nops].nf > 0;
            nops++;
        }
    }
    if (vrm_fieldpath_project((const vrm_fieldpath *const *)paths, (size_t)n, "c", rec,
                              &got) != 0) {
        fail = strdup("projection failed");
        goto out;
    }
    if (nops > 0)
        want = oracle_walk(rec, steps, 0, ops, nops, &lwant);
    if (got != NULL) {
        cJSON_Delete(oracle_walk(got, steps, 0, NULL, 0, &lgot));
        t->granted++;
        t->partial += !cJSON_Compare(got, rec, 1);
        t->leaves += lgot.n;
    }

    /* The leaves granted, with their values, are exactly the leaves shown. */
    if (lwant.n > 1)
        qsort(lwant.sig, lwant.n, sizeof *lwant.sig, cmp_str);
    if (lgot.n > 1)
        qsort(lgot.sig, lgot.n, sizeof *lgot.sig, cmp_str);
    for (size_t i = 0; i < lwant.n || i < lgot.n; i++) {
        int c = i >= lwant.n ? 1 : i >= lgot.n ? -1 : strcmp(lwant.sig[i], lgot.sig[i]);

        if (c != 0) {
            detail = strdup(c < 0 ? "a granted leaf is missing" : "a leaf was not granted");
            break;
        }
    }
    /* And the shape: the record pruned to them, in the record's order. */
    g = got ? cJSON_PrintUnformatted(got) : strdup("nothing");
    w = want ? cJSON_PrintUnformatted(want) : strdup("nothing");
    if (detail == NULL && strcmp(g, w) != 0)
        detail = strdup("the shape differs");
    if (detail != NULL) {
        char *c = show_case(rec, texts, n);

        if (asprintf(&fail, "%s: %s: wanted %.2000s, got %.2000s", detail, c, w, g) < 0)
            fail = NULL;
        free(c);
    }
out:
    free(detail);
    free(g);
    free(w);
    leaves_free(&lwant);
    leaves_free(&lgot);
    cJSON_Delete(want);
    cJSON_Delete(got);
    for (int i = 0; i < n; i++) {
        vrm_fieldpath_free(paths[i]);
        free(texts[i]);
    }
    cJSON_Delete(rec);
    return fail;
}

static void test_property(void **state)
{
    const char *ec = getenv("VRM_PROPERTY_CASES"), *es = getenv("VRM_PROPERTY_SEED");
    unsigned long cases = ec && *ec ? strtoul(ec, NULL, 10) : 30000;
    uint64_t seed = es && *es ? strtoull(es, NULL, 0) : (uint64_t)time(NULL);
    struct timespec t0, t1;
    tally t = {0, 0, 0, 0};

    (void)state;
    print_message("# fieldpath property: VRM_PROPERTY_SEED=%llu VRM_PROPERTY_CASES=%lu\n",
                  (unsigned long long)seed, cases);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned long i = 0; i < cases; i++) {
        char *fail = property_case(seed, i, &t);

        if (fail != NULL) {
            print_message("# case %lu of seed %llu: %s\n", i, (unsigned long long)seed, fail);
            free(fail);
            fail_msg("projection disagrees with the oracle (case %lu, VRM_PROPERTY_SEED=%llu)",
                     i, (unsigned long long)seed);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("# fieldpath property: %lu cases in %.2f s; %lu granted something "
                  "(%lu of them in part), %lu leaves; a filter applied in %lu\n", cases,
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                  t.granted, t.partial, t.leaves, t.filtered);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_message_quote),
        cmocka_unit_test(test_parse_random),
        cmocka_unit_test(test_project_nested),
        cmocka_unit_test(test_project_missing),
        cmocka_unit_test(test_project_arrays),
        cmocka_unit_test(test_project_overlap),
        cmocka_unit_test(test_project_star_and_collections),
        cmocka_unit_test(test_project_filters),
        cmocka_unit_test(test_applies),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_property),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
