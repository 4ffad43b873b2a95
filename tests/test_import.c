/*
 * test_import.c: CSV and JSON-lines imports (import.h): the parser on
 * generated files with every RFC 4180 corner, typing, stable names,
 * refused lines and files, the facts that follow, the stored reports.
 *
 * With --bench N, imports a generated finance CSV of N rows into a new
 * vault instead and prints the rate (rows/s):
 *   build/tests/test_import --bench 1000000
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "data/import.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

typedef tu_fixture fixture;

/* ---- helpers ------------------------------------------------------------------ */

typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if (t->p != NULL && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        t->cap = (t->cap + (size_t)n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
}

/* A parsed report of an import that must succeed. */
static cJSON *import_ok(vrm_vault *v, const char *coll, const char *name, const char *data,
                        size_t len)
{
    char *report = NULL;
    size_t rlen = 0;
    cJSON *r;
    int rc = vrm_import(v, coll, name, data, len, NULL, NULL, &report, &rlen);

    if (rc != 0)
        fail_msg("vrm_import: %d %s", rc, vrm_error_message());
    assert_int_equal(strlen(report), rlen);
    assert_int_equal(report[rlen - 1], '\n');
    r = cJSON_Parse(report);
    assert_non_null(r);
    free(report);
    return r;
}

static cJSON *import_str(vrm_vault *v, const char *coll, const char *name, const char *data)
{
    return import_ok(v, coll, name, data, strlen(data));
}

static long num(const cJSON *r, const char *key)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(r, key);

    assert_true(cJSON_IsNumber(n));
    return (long)n->valuedouble;
}

static void counts(const cJSON *r, long rows, long imported, long unchanged, long refused)
{
    assert_int_equal(num(r, "rows"), rows);
    assert_int_equal(num(r, "imported"), imported);
    assert_int_equal(num(r, "unchanged"), unchanged);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "refused")),
                     refused);
}

/* The refused lines of a report, as "L L L". */
static void refused_lines(const cJSON *r, char *out, size_t size)
{
    const cJSON *e;
    size_t n = 0;

    out[0] = '\0';
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "refused")) {
        n += (size_t)snprintf(out + n, size - n, "%s%ld", n ? " " : "",
                              (long)cJSON_GetObjectItemCaseSensitive(e, "line")->valuedouble);
        assert_true(n < size);
    }
}

static const char *reason(const cJSON *r, int i)
{
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "refused"), i);

    assert_non_null(e);
    return cJSON_GetObjectItemCaseSensitive(e, "reason")->valuestring;
}

/* The stored record coll/name as compact JSON, or NULL if absent. */
static char *compact_of(vrm_vault *v, const char *coll, const char *name)
{
    char *json = NULL, *out;
    size_t len;
    cJSON *obj;

    if (vrm_record_get(v, coll, name, &json, &len, NULL) != 0)
        return NULL;
    obj = cJSON_Parse(json);
    assert_non_null(obj);
    out = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    free(json);
    return out;
}

/* The name import.h promises for a record without id. */
static void hash_name(const char *compact, char out[18])
{
    unsigned char h[crypto_generichash_BYTES];

    crypto_generichash(h, sizeof h, (const unsigned char *)compact, strlen(compact), NULL, 0);
    out[0] = 'r';
    sodium_bin2hex(out + 1, 17, h, 8);
}

static void assert_record(vrm_vault *v, const char *coll, const char *name,
                          const char *compact)
{
    char *got = compact_of(v, coll, name);

    if (got == NULL)
        fail_msg("no record %s/%s (expected %s)", coll, name, compact);
    assert_string_equal(got, compact);
    free(got);
}

/* A record without id is where its hash says. */
static void assert_hashed(vrm_vault *v, const char *coll, const char *compact)
{
    char name[18];

    hash_name(compact, name);
    assert_record(v, coll, name, compact);
}

static long facts(vrm_vault *v, const char *coll)
{
    sqlite3_stmt *st;
    long n;

    assert_int_equal(sqlite3_prepare_v2(vrm_vault_sqlite(v), "SELECT count(*) FROM facts "
                                        "WHERE collection = ?1", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* ---- the generated 10,000-row finance CSV ---------------------------------- */

#define GEN_ROWS 10000

static int bad_too_many(int i)
{
    return i == 100 || i == 2500 || i == 9000;
}

static int bad_utf8(int i)
{
    return i == 500 || i == 7000;
}

/* Row i of the finance file, and its record as compact JSON (NULL for the
 * refused rows).  Lines end in CRLF but the last; cells hold commas,
 * doubled quotes, line breaks; numbers plain and quoted. */
static void gen_row(int i, text *csv, char *expect, size_t size)
{
    char amount_cell[32], amount_json[32], merchant_cell[64], merchant_json[64];
    char note_cell[64], note_json[64];
    const char *category = i % 5 == 0 ? "" : "food";
    size_t n;

    switch (i % 3) {
    case 0:
        snprintf(amount_cell, sizeof amount_cell, "%d", i);
        snprintf(amount_json, sizeof amount_json, "%d", i);
        break;
    case 1:
        snprintf(amount_cell, sizeof amount_cell, "-%d.50", i);
        snprintf(amount_json, sizeof amount_json, "-%d.5", i);
        break;
    default:
        snprintf(amount_cell, sizeof amount_cell, "\"%d.25\"", i);
        snprintf(amount_json, sizeof amount_json, "%d.25", i);
    }
    if (bad_utf8(i)) {
        snprintf(merchant_cell, sizeof merchant_cell, "\"Bad \xff, %d\"", i);
    } else if (i % 7 == 0) {
        snprintf(merchant_cell, sizeof merchant_cell, "\"Shop, Inc. %d\"", i);
        snprintf(merchant_json, sizeof merchant_json, "Shop, Inc. %d", i);
    } else {
        snprintf(merchant_cell, sizeof merchant_cell, "Merchant %d", i);
        snprintf(merchant_json, sizeof merchant_json, "Merchant %d", i);
    }
    note_cell[0] = note_json[0] = '\0';
    if (i % 11 == 0) {
        snprintf(note_cell, sizeof note_cell, "\"two\nlines, %d\"", i);
        snprintf(note_json, sizeof note_json, "two\\nlines, %d", i);
    } else if (i % 13 == 0) {
        snprintf(note_cell, sizeof note_cell, "\"He said \"\"hi\"\" %d\"", i);
        snprintf(note_json, sizeof note_json, "He said \\\"hi\\\" %d", i);
    } else if (i % 17 == 0) {
        snprintf(note_cell, sizeof note_cell, "007");
        snprintf(note_json, sizeof note_json, "007");
    }
    add(csv, "2024-%02d-%02d,%s,EUR,%s,%s,%s%s%s", i % 12 + 1, i % 28 + 1, amount_cell,
        merchant_cell, category, note_cell, bad_too_many(i) ? ",extra,cells" : "",
        i == GEN_ROWS - 1 ? "" : "\r\n");
    if (bad_too_many(i) || bad_utf8(i)) {
        expect[0] = '\0';
        return;
    }
    n = (size_t)snprintf(expect, size, "{\"date\":\"2024-%02d-%02d\",\"amount\":%s,"
                         "\"currency\":\"EUR\",\"merchant\":\"%s\"", i % 12 + 1, i % 28 + 1,
                         amount_json, merchant_json);
    if (category[0])
        n += (size_t)snprintf(expect + n, size - n, ",\"category\":\"%s\"", category);
    if (note_json[0])
        n += (size_t)snprintf(expect + n, size - n, ",\"note\":\"%s\"", note_json);
    snprintf(expect + n, size - n, "}");
}

static void test_generated_csv(void **state)
{
    fixture *f = *state;
    static char expect[GEN_ROWS][192];
    char lines[256], want_lines[256];
    text csv = {NULL, 0, 0};
    size_t line = 2, wn = 0;
    cJSON *r;
    int i;

    add(&csv, "\xef\xbb\xbf" "date,amount,currency,merchant,category,note\r\n");
    want_lines[0] = '\0';
    for (i = 0; i < GEN_ROWS; i++) {
        gen_row(i, &csv, expect[i], sizeof expect[i]);
        if (bad_too_many(i) || bad_utf8(i))
            wn += (size_t)snprintf(want_lines + wn, sizeof want_lines - wn, "%s%zu",
                                   wn ? " " : "", line);
        line += i % 11 == 0 ? 2 : 1;      /* a quoted line break in the note */
    }
    r = import_ok(f->v, "finance", "bank.csv", csv.p, csv.len);
    counts(r, GEN_ROWS, GEN_ROWS - 5, 0, 5);
    refused_lines(r, lines, sizeof lines);
    assert_string_equal(lines, want_lines);
    assert_string_equal(reason(r, 0), "more cells than the header names");
    assert_string_equal(reason(r, 1), "not valid UTF-8");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "file")->valuestring, "bank.csv");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "format")->valuestring, "csv");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "collection")->valuestring,
                        "finance");
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(r, "finished")->valuestring),
                     20);
    cJSON_Delete(r);
    assert_int_equal(vrm_record_count(f->v, "finance"), GEN_ROWS - 5);
    for (i = 0; i < GEN_ROWS; i++)
        if (expect[i][0])
            assert_hashed(f->v, "finance", expect[i]);
    assert_int_equal(facts(f->v, "finance"), GEN_ROWS - 5);

    /* the same file again adds nothing */
    r = import_ok(f->v, "finance", "bank.csv", csv.p, csv.len);
    counts(r, GEN_ROWS, 0, GEN_ROWS - 5, 5);
    cJSON_Delete(r);
    assert_int_equal(vrm_record_count(f->v, "finance"), GEN_ROWS - 5);
    assert_int_equal(facts(f->v, "finance"), GEN_ROWS - 5);
    free(csv.p);
}

/* One record printed as a person reads it: typed numbers, dates as strings,
 * empty cells left out, the quoted line break and quotes kept. */
static void test_pretty_record(void **state)
{
    fixture *f = *state;
    static const char data[] =
        "date,amount,currency,merchant,category,note\n"
        "2024-03-01,\"12.50\",EUR,\"Caf\xc3\xa9 \"\"Le Coin\"\", Paris\",,\"a\r\nb\"";
    static const char want[] =
        "{\n"
        "  \"date\": \"2024-03-01\",\n"
        "  \"amount\": 12.5,\n"
        "  \"currency\": \"EUR\",\n"
        "  \"merchant\": \"Caf\xc3\xa9 \\\"Le Coin\\\", Paris\",\n"
        "  \"note\": \"a\\r\\nb\"\n"
        "}\n";
    char name[18], *json = NULL;
    size_t len;
    cJSON *r = import_str(f->v, "finance", "one.csv", data);

    counts(r, 1, 1, 0, 0);
    cJSON_Delete(r);
    hash_name("{\"date\":\"2024-03-01\",\"amount\":12.5,\"currency\":\"EUR\","
              "\"merchant\":\"Caf\xc3\xa9 \\\"Le Coin\\\", Paris\",\"note\":\"a\\r\\nb\"}",
              name);
    assert_int_equal(vrm_record_get(f->v, "finance", name, &json, &len, NULL), 0);
    assert_string_equal(json, want);
    free(json);
}

/* Which cells are numbers. */
static void test_typing(void **state)
{
    fixture *f = *state;
    static const char data[] =
        "a,b,c,d,e,f,g,h,i,j,k,l\n"
        "0,-0.5,1e5,2E-3,007,1.,.5,true,12345678901234567, 12,1e999,123456789012345\n";
    cJSON *r = import_str(f->v, "misc", "t.csv", data);

    counts(r, 1, 1, 0, 0);
    cJSON_Delete(r);
    assert_hashed(f->v, "misc", "{\"a\":0,\"b\":-0.5,\"c\":100000,\"d\":0.002,\"e\":\"007\","
                  "\"f\":\"1.\",\"g\":\".5\",\"h\":\"true\",\"i\":\"12345678901234567\","
                  "\"j\":\" 12\",\"k\":\"1e999\",\"l\":123456789012345}");
}

/* RFC 4180 corners, and broken quoting refused by the line it starts on. */
static void test_csv_corners(void **state)
{
    fixture *f = *state;
    static const char data[] =
        "x,y\n"                                   /* 1 */
        "\"multi\n"                               /* 2 */
        "line\",1\n"                              /* 3 */
        "\n"                                      /* 4: blank, skipped */
        ",\n"                                     /* 5: only empty cells, skipped */
        "\"bad\"tail,2\n"                         /* 6: refused */
        "only\n"                                  /* 7: fewer cells */
        "5\" screen,3\r\n"                        /* 8: a bare quote is text */
        "\"\",\"\"\"\"\n"                         /* 9: empty, and one quote */
        "\"never closed,4\n"                      /* 10: refused, eats the rest */
        "z,5\n";
    char lines[64];
    cJSON *r = import_str(f->v, "misc", "c.csv", data);

    counts(r, 6, 4, 0, 2);
    refused_lines(r, lines, sizeof lines);
    assert_string_equal(lines, "6 10");
    assert_string_equal(reason(r, 0), "text after a closing quote");
    assert_string_equal(reason(r, 1), "a quoted cell is never closed");
    cJSON_Delete(r);
    assert_hashed(f->v, "misc", "{\"x\":\"multi\\nline\",\"y\":1}");
    assert_hashed(f->v, "misc", "{\"x\":\"only\"}");
    assert_hashed(f->v, "misc", "{\"x\":\"5\\\" screen\",\"y\":3}");
    assert_hashed(f->v, "misc", "{\"y\":\"\\\"\"}");
    assert_int_equal(vrm_record_count(f->v, "misc"), 4);
}

/* An "id" column names records; a changed row replaces its record. */
static void test_ids(void **state)
{
    fixture *f = *state;
    static const char v1[] =
        "id,name,age\n"
        "a/b,Ann,30\n"
        ".x,Bob,\n"
        "7,Cy,41\n"
        "caf\xc3\xa9,Di,22\n"
        ",Nameless,5\n";
    static const char v2[] =
        "id,name,age\n"
        "a/b,Ann,31\n"
        ".x,Bob,\n"
        "7,Cy,41\n"
        "caf\xc3\xa9,Di,22\n"
        ",Nameless,5\n";
    cJSON *r = import_str(f->v, "contacts", "people.csv", v1);

    counts(r, 5, 5, 0, 0);
    cJSON_Delete(r);
    assert_record(f->v, "contacts", "a_b", "{\"id\":\"a/b\",\"name\":\"Ann\",\"age\":30}");
    assert_record(f->v, "contacts", "_x", "{\"id\":\".x\",\"name\":\"Bob\"}");
    assert_record(f->v, "contacts", "7", "{\"id\":7,\"name\":\"Cy\",\"age\":41}");
    assert_record(f->v, "contacts", "caf_", "{\"id\":\"caf\xc3\xa9\",\"name\":\"Di\",\"age\":22}");
    assert_hashed(f->v, "contacts", "{\"name\":\"Nameless\",\"age\":5}");

    r = import_str(f->v, "contacts", "people.csv", v2);
    counts(r, 5, 1, 4, 0);
    cJSON_Delete(r);
    assert_record(f->v, "contacts", "a_b", "{\"id\":\"a/b\",\"name\":\"Ann\",\"age\":31}");
    assert_int_equal(vrm_record_count(f->v, "contacts"), 5);
}

/* JSON lines, with blank and bad lines. */
static void test_jsonl(void **state)
{
    fixture *f = *state;
    static const char data[] =
        "\n"                                      /* 1: blank */
        "{\"id\": \"k1\", \"v\": 1}\n"            /* 2 */
        "   \n"                                   /* 3: blank */
        "{\"v\": 2, \"w\": [1, {\"x\": null}]}\r\n"  /* 4 */
        "[1, 2]\n"                                /* 5: not an object */
        "{\"a\": 1, \"a\": 2}\n"                  /* 6: duplicate key */
        "not json\n"                              /* 7 */
        "{\"id\": {\"x\": 1}}\n"                  /* 8: id of another type */
        "{\"id\": 12, \"v\": 3}\n"                /* 9 */
        "{\"v\": \"\xff\"}";                      /* 10: bad UTF-8, no newline */
    char lines[64];
    cJSON *r = import_str(f->v, "notes", "n.jsonl", data);

    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "format")->valuestring, "jsonl");
    counts(r, 8, 3, 0, 5);
    refused_lines(r, lines, sizeof lines);
    assert_string_equal(lines, "5 6 7 8 10");
    assert_non_null(strstr(reason(r, 0), "not an object"));
    assert_non_null(strstr(reason(r, 1), "duplicate key"));
    assert_non_null(strstr(reason(r, 3), "\"id\""));
    cJSON_Delete(r);
    assert_record(f->v, "notes", "k1", "{\"id\":\"k1\",\"v\":1}");
    assert_record(f->v, "notes", "12", "{\"id\":12,\"v\":3}");
    assert_hashed(f->v, "notes", "{\"v\":2,\"w\":[1,{\"x\":null}]}");

    r = import_str(f->v, "notes", "n.jsonl", data);
    counts(r, 8, 0, 3, 5);
    cJSON_Delete(r);
}

/* Files refused whole change nothing: no collection, no report. */
static void test_refused_files(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *data;
        size_t len;
    } cases[] = {
        {"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16},
        {"", 0},
        {"\xef\xbb\xbf", 3},
        {"\n\n", 2},
        {"a,,b\n1,2,3\n", 11},
        {"a,b,a\n1,2,3\n", 12},
        {"\xff\xfe,x\n", 5},
        {"\"a\"b,c\n", 7},
        {"a,b\x01\n", 5},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *report = (char *)"untouched";
        size_t rlen = 99;

        assert_int_equal(vrm_import(f->v, "newcoll", "bad.csv", cases[i].data, cases[i].len,
                                    NULL, NULL, &report, &rlen), -EINVAL);
        assert_null(report);
        assert_non_null(strstr(vrm_error_message(), "not CSV or JSON lines"));
        assert_int_equal(vrm_collection_exists(f->v, "newcoll"), 0);
    }
}

/* Bad names are refused before anything is read. */
static void test_bad_names(void **state)
{
    fixture *f = *state;
    char *report;
    size_t rlen;

    assert_int_equal(vrm_import(f->v, "Bad.Coll", "x.csv", "a\n1\n", 4, NULL, NULL, &report,
                                &rlen), -EINVAL);
    assert_int_equal(vrm_import(f->v, "ok", "a/b.csv", "a\n1\n", 4, NULL, NULL, &report,
                                &rlen), -EINVAL);
    assert_int_equal(vrm_import(f->v, "ok", ".hidden", "a\n1\n", 4, NULL, NULL, &report,
                                &rlen), -EINVAL);
    assert_int_equal(vrm_collection_exists(f->v, "ok"), 0);
}

typedef struct names {
    char list[256];
    int n;
} names_t;

static int collect(void *ctx, const char *name)
{
    names_t *ns = ctx;

    strcat(ns->list, name);
    strcat(ns->list, " ");
    ns->n++;
    return 0;
}

static void test_reports(void **state)
{
    fixture *f = *state;
    names_t ns = {"", 0};
    char *out = NULL;
    size_t len;
    int64_t created = 0;
    cJSON *r;

    cJSON_Delete(import_str(f->v, "diet", "b.csv", "date,kcal\n2024-01-01,2000\n"));
    cJSON_Delete(import_str(f->v, "diet", "a.csv", "date,kcal\n2024-01-02,2100\n"));
    cJSON_Delete(import_str(f->v, "finance", "c.csv", "date,amount\n2024-01-02,3\n"));
    assert_int_equal(facts(f->v, "diet"), 2);
    assert_int_equal(vrm_import_reports(f->v, "diet", collect, &ns), 0);
    assert_string_equal(ns.list, "b.csv a.csv ");
    /* a new import of b.csv replaces its report, now the newest */
    cJSON_Delete(import_str(f->v, "diet", "b.csv", "date,kcal\n2024-01-01,2000\n"));
    ns.list[0] = '\0';
    assert_int_equal(vrm_import_reports(f->v, "diet", collect, &ns), 0);
    assert_string_equal(ns.list, "a.csv b.csv ");

    assert_int_equal(vrm_import_report_get(f->v, "diet", "b.csv", &out, &len, &created), 0);
    assert_int_equal(strlen(out), len);
    assert_true(created > 0);
    assert_non_null(strstr(out, "\n  \"unchanged\": 1,\n"));
    r = cJSON_Parse(out);
    counts(r, 1, 0, 1, 0);
    cJSON_Delete(r);
    free(out);

    assert_int_equal(vrm_import_report_delete(f->v, "diet", "b.csv"), 0);
    assert_int_equal(vrm_import_report_delete(f->v, "diet", "b.csv"), -ENOENT);
    assert_int_equal(vrm_import_report_get(f->v, "diet", "b.csv", &out, &len, NULL), -ENOENT);
    assert_null(out);
    ns.list[0] = '\0';
    assert_int_equal(vrm_import_reports(f->v, "diet", collect, &ns), 0);
    assert_string_equal(ns.list, "a.csv ");
    ns.list[0] = '\0';
    assert_int_equal(vrm_import_reports(f->v, "nothing", collect, &ns), 0);
    assert_string_equal(ns.list, "");
}

/* The names of import/<collection>/: what is taken in, the NAME it is
 * imported under, and a report's file name both ways. */
static void test_names(void **state)
{
    static const struct {
        const char *file, *name;
    } imported[] = {
        {"bank.csv", "bank"}, {"a.b.jsonl", "a.b"}, {"bank", "bank"}, {"a.", "a"},
        {"report.json", "report"}, {"bank.report.json.csv", "bank.report.json"},
        {"x y.csv", "x y"},
    };
    static const char *const refused[] = {
        ".bank.csv", ".hidden", ".report.json", "bank.report.json", "a.b.report.json", "..",
    };
    fixture *f = *state;
    names_t ns = {"", 0};
    char name[256], file[256];
    size_t i;

    for (i = 0; i < sizeof imported / sizeof imported[0]; i++) {
        if (vrm_import_file_valid(imported[i].file) != 0)
            fail_msg("%s: refused", imported[i].file);
        assert_int_equal(vrm_import_file_name(imported[i].file, name, sizeof name), 0);
        assert_string_equal(name, imported[i].name);
        /* its report's name is refused as a file to import, and names it */
        assert_int_equal(vrm_import_report_file(name, file, sizeof file), 0);
        assert_int_equal(vrm_import_file_valid(file), -EACCES);
        assert_int_equal(vrm_import_report_name(file, name, sizeof name), 0);
        assert_string_equal(name, imported[i].name);
    }
    for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (vrm_import_file_valid(refused[i]) != -EACCES)
            fail_msg("%s: taken in", refused[i]);
        assert_non_null(strstr(vrm_error_message(), "not a report or a hidden file"));
    }
    /* a hidden name stays whole; a name that does not fit is refused */
    assert_int_equal(vrm_import_file_name(".csv", name, sizeof name), 0);
    assert_string_equal(name, ".csv");
    assert_int_equal(vrm_import_file_name("bank.csv", name, 4), -ENAMETOOLONG);
    assert_int_equal(vrm_import_file_name("bank.csv", name, 5), 0);
    assert_string_equal(name, "bank");

    /* only NAME.report.json with a NAME names a report */
    assert_int_equal(vrm_import_report_name("bank.report.json", name, sizeof name), 0);
    assert_string_equal(name, "bank");
    assert_int_equal(vrm_import_report_name(".report.json", name, sizeof name), -ENOENT);
    assert_int_equal(vrm_import_report_name("bank.json", name, sizeof name), -ENOENT);
    assert_int_equal(vrm_import_report_name("bank.report.jsonx", name, sizeof name), -ENOENT);
    assert_int_equal(vrm_import_report_name("bank.report.json", name, 4), -ENOENT);
    assert_int_equal(vrm_import_report_file("bank", file, 16), -ENAMETOOLONG);
    assert_int_equal(vrm_import_report_file("bank", file, 17), 0);
    assert_string_equal(file, "bank.report.json");

    /* a report of an import under a file's NAME is listed under that NAME */
    assert_int_equal(vrm_import_file_name("meals.csv", name, sizeof name), 0);
    cJSON_Delete(import_str(f->v, "diet", name, "date,kcal\n2024-01-01,2000\n"));
    assert_int_equal(vrm_import_reports(f->v, "diet", collect, &ns), 0);
    assert_string_equal(ns.list, "meals ");
}

typedef struct seen {
    uint64_t last, total;
    int calls;
} seen;

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    seen *s = ctx;

    assert_true(done >= s->last);
    assert_true(done <= total);
    s->last = done;
    s->total = total;
    s->calls++;
}

static void test_progress(void **state)
{
    fixture *f = *state;
    text csv = {NULL, 0, 0};
    seen s = {0, 0, 0};
    char *report;
    size_t rlen;
    int i;

    add(&csv, "n,v\n");
    for (i = 0; i < 40000; i++)           /* ~ 500 KiB: a call per 64 KiB */
        add(&csv, "%d,value number %d\n", i, i);
    assert_int_equal(vrm_import(f->v, "misc", "p.csv", csv.p, csv.len, on_progress, &s,
                                &report, &rlen), 0);
    assert_int_equal(s.last, csv.len);
    assert_int_equal(s.total, csv.len);
    assert_in_range(s.calls, csv.len / 65536, csv.len / 65536 + 2);
    free(report);
    free(csv.p);
}

/* A vault error in the middle (here a trigger's) rolls back everything,
 * whether the reader is still ahead or done. */
static void test_vault_error(void **state)
{
    fixture *f = *state;
    static const int at[] = {3, 5000, 9999};
    char *report = NULL;
    size_t rlen, k;
    int i;

    assert_int_equal(sqlite3_exec(vrm_vault_sqlite(f->v),
                                  "CREATE TEMP TRIGGER boom BEFORE INSERT ON records "
                                  "WHEN NEW.name = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
                                  NULL, NULL, NULL), SQLITE_OK);
    for (k = 0; k < sizeof at / sizeof at[0]; k++) {
        text csv = {NULL, 0, 0};

        add(&csv, "id,v\n");
        for (i = 0; i < 10000; i++)
            add(&csv, i == at[k] ? "boom,%d\n" : "n%d,x\n", i);
        assert_true(vrm_import(f->v, "misc", "boom.csv", csv.p, csv.len, NULL, NULL, &report,
                               &rlen) < 0);
        assert_null(report);
        assert_int_equal(vrm_collection_exists(f->v, "misc"), 0);
        assert_int_equal(vrm_import_report_get(f->v, "misc", "boom.csv", &report, &rlen, NULL),
                         -ENOENT);
        free(csv.p);
    }
}

/* ---- --bench N --------------------------------------------------------------- */

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench(long rows)
{
    static const char *const merchants[] = {"Migros", "Coop", "SBB CFF FFS", "Shell",
                                            "\"Caf\xc3\xa9 du Nord, Bern\"", "Amazon"};
    static const char *const cats[] = {"groceries", "transport", "eating out", "shopping"};
    text csv = {NULL, 0, 0};
    char *tmp = tu_tempdir(), *vault = tu_make_vault(tmp, "vault"), *report = NULL;
    vrm_vault *v = tu_open(vault);
    size_t rlen;
    double t0, t1;
    long i;
    int rc, pass;

    add(&csv, "date,amount,currency,merchant,category\n");
    for (i = 0; i < rows; i++)
        add(&csv, "20%02ld-%02ld-%02ld,%ld.%02ld,CHF,%s,%s\n", 10 + i / 400000 % 15,
            i % 12 + 1, i % 28 + 1, i % 997, i % 100, merchants[i % 6], cats[i % 4]);
    printf("file: %ld rows, %zu bytes\n", rows, csv.len);
    for (pass = 0; pass < 2; pass++) {
        t0 = seconds();
        rc = vrm_import(v, "finance", "bench.csv", csv.p, csv.len, NULL, NULL, &report, &rlen);
        t1 = seconds();
        if (rc != 0) {
            fprintf(stderr, "vrm_import: %s\n", vrm_error_message());
            return 1;
        }
        printf("%s import: %.2f s, %.0f rows/s\n%s", pass ? "second (unchanged)" : "first",
               t1 - t0, (double)rows / (t1 - t0), report);
        free(report);
    }
    t0 = seconds();
    rc = vrm_vault_close(v);
    printf("close: %.2f s (%d)\n", seconds() - t0, rc);
    free(vault);
    tu_cleanup(tmp);
    free(csv.p);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_generated_csv, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_pretty_record, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_typing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_csv_corners, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_ids, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_jsonl, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_refused_files, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_bad_names, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_reports, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_names, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_progress, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_vault_error, tu_setup, tu_teardown),
    };

    if (argc == 3 && strcmp(argv[1], "--bench") == 0)
        return bench(atol(argv[2]));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
