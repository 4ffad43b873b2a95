/*
 * test_records.c: collections and records through libvrm's API, and the
 * schema migrations.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef tu_fixture fixture;

static int setup(void **state)
{
    fixture *f;

    tu_setup(state);
    f = *state;
    assert_int_equal(vrm_collection_create(f->v, "profile"), 0);
    return 0;
}

static int put(vrm_vault *v, const char *coll, const char *name, const char *json)
{
    return vrm_record_put(v, coll, name, json, strlen(json), 0, NULL);
}

static char *get(vrm_vault *v, const char *coll, const char *name)
{
    char *out = NULL;
    size_t len = 0;
    int rc = vrm_record_get(v, coll, name, &out, &len, NULL);

    if (rc != 0)
        return NULL;
    assert_int_equal(strlen(out), len);
    return out;
}

/* ---- collections ----------------------------------------------------- */

typedef struct names {
    char list[1024];
    int n;
} names;

static int collect(void *ctx, const char *name)
{
    names *ns = ctx;

    strcat(ns->list, name);
    strcat(ns->list, " ");
    ns->n++;
    return 0;
}

static void test_collections(void **state)
{
    fixture *f = *state;
    names ns = {"", 0};

    assert_int_equal(vrm_collection_create(f->v, "finance"), 0);
    assert_int_equal(vrm_collection_create(f->v, "diet"), 0);
    assert_int_equal(vrm_collection_create(f->v, "finance"), -EEXIST);
    assert_int_equal(vrm_collection_exists(f->v, "finance"), 1);
    assert_int_equal(vrm_collection_exists(f->v, "nope"), 0);
    assert_int_equal(vrm_collection_list(f->v, collect, &ns), 0);
    assert_string_equal(ns.list, "diet finance profile ");

    assert_int_equal(put(f->v, "diet", "monday", "{\"kcal\": 2100}"), 0);
    assert_int_equal(vrm_collection_delete(f->v, "diet"), -ENOTEMPTY);
    assert_int_equal(vrm_record_delete(f->v, "diet", "monday"), 0);
    assert_int_equal(vrm_collection_delete(f->v, "diet"), 0);
    assert_int_equal(vrm_collection_delete(f->v, "diet"), -ENOENT);
    assert_int_equal(vrm_collection_exists(f->v, "diet"), 0);
}

static void test_collection_names(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"", "Finance", "a.b", "-x", "_x", "a b", "a/b",
                                      ("0123456789012345678901234567890123456789"
                                       "0123456789012345678901234")};
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vrm_collection_create(f->v, bad[i]), -EINVAL);
        assert_int_equal(vrm_collection_exists(f->v, bad[i]), 0);
    }
    assert_int_equal(vrm_collection_create(f->v, "a"), 0);
    assert_int_equal(vrm_collection_create(f->v, "9-lives_x"), 0);
}

/* ---- records --------------------------------------------------------- */

static void test_put_get_pretty(void **state)
{
    fixture *f = *state;
    vrm_record_info info;
    char *out;

    assert_int_equal(put(f->v, "profile", "me",
                         "{\"name\":\"Ada\",\"address\":{\"city\":\"Ghent\",\"zip\":\"9000\"},"
                         "\"tags\":[1,2.5,\"x\"],\"empty\":{},\"none\":[],\"ok\":true,\"n\":null}"),
                     0);
    out = get(f->v, "profile", "me");
    assert_non_null(out);
    assert_string_equal(out,
                        "{\n"
                        "  \"name\": \"Ada\",\n"
                        "  \"address\": {\n"
                        "    \"city\": \"Ghent\",\n"
                        "    \"zip\": \"9000\"\n"
                        "  },\n"
                        "  \"tags\": [\n"
                        "    1,\n"
                        "    2.5,\n"
                        "    \"x\"\n"
                        "  ],\n"
                        "  \"empty\": {},\n"
                        "  \"none\": [],\n"
                        "  \"ok\": true,\n"
                        "  \"n\": null\n"
                        "}\n");
    assert_int_equal(vrm_record_stat(f->v, "profile", "me", &info), 0);
    assert_int_equal(info.size, strlen(out));
    free(out);

    /* Strings keep tabs, quotes, newlines and Unicode, escaped as JSON. */
    assert_int_equal(put(f->v, "profile", "esc", "{\"s\":\"a\\tb\\\"c\\nd é ✓\"}"), 0);
    out = get(f->v, "profile", "esc");
    assert_string_equal(out, "{\n  \"s\": \"a\\tb\\\"c\\nd é ✓\"\n}\n");
    free(out);

    out = NULL;
    assert_int_equal(put(f->v, "profile", "empty", "{}"), 0);
    out = get(f->v, "profile", "empty");
    assert_string_equal(out, "{}\n");
    free(out);
}

static void test_put_rejects(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {
        "", "nope", "[1,2]", "\"str\"", "42", "true", "null", "{\"a\":1} trailing",
        "{\"a\":1,}", "{\"a\":1,\"a\":2}", "{\"x\":{\"b\":1,\"b\":2}}",
        "{\"a\":[{\"c\":1,\"c\":1}]}", "{\"a\":\"\xff\"}", "{\"a\":\"\xc0\xaf\"}",
        "{'a':1}", "{\"a\":1}{\"b\":2}",
    };
    size_t i;
    char *before, *after;

    assert_int_equal(put(f->v, "profile", "me", "{\"email\":\"ada@example.org\"}"), 0);
    before = get(f->v, "profile", "me");
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = put(f->v, "profile", "me", bad[i]);

        if (rc != -EINVAL)
            fail_msg("input %zu (%s) gave %d, not -EINVAL", i, bad[i], rc);
        assert_true(strlen(vrm_error_message()) > 0);
        after = get(f->v, "profile", "me");
        assert_string_equal(before, after);
        free(after);
    }
    /* A NUL inside the buffer. */
    assert_int_equal(vrm_record_put(f->v, "profile", "me", "{\"a\":1}\0x", 9, 0, NULL), -EINVAL);
    free(before);

    /* Messages say what is wrong. */
    assert_int_equal(put(f->v, "profile", "me", "[1]"), -EINVAL);
    assert_non_null(strstr(vrm_error_message(), "array"));
    assert_int_equal(put(f->v, "profile", "me", "{\"a\":1,\"a\":2}"), -EINVAL);
    assert_non_null(strstr(vrm_error_message(), "duplicate key \"a\""));
    assert_int_equal(put(f->v, "profile", "me", "{\n\"a\":\n}"), -EINVAL);
    assert_non_null(strstr(vrm_error_message(), "line 3"));
}

static void test_put_flags_and_missing(void **state)
{
    fixture *f = *state;
    const char *j = "{\"a\":1}";

    assert_int_equal(vrm_record_put(f->v, "profile", "x", j, strlen(j), VRM_PUT_REPLACE, NULL),
                     -ENOENT);
    assert_int_equal(vrm_record_put(f->v, "profile", "x", j, strlen(j), VRM_PUT_CREATE, NULL), 0);
    assert_int_equal(vrm_record_put(f->v, "profile", "x", j, strlen(j), VRM_PUT_CREATE, NULL),
                     -EEXIST);
    assert_int_equal(vrm_record_put(f->v, "profile", "x", j, strlen(j), VRM_PUT_REPLACE, NULL), 0);
    assert_int_equal(put(f->v, "nosuch", "x", j), -ENOENT);
    assert_int_equal(vrm_collection_exists(f->v, "nosuch"), 0);
    assert_null(get(f->v, "profile", "missing"));
    assert_int_equal(vrm_record_delete(f->v, "profile", "missing"), -ENOENT);
}

static void test_record_names(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {"", ".hidden", "a/b", "tab\there", "\x7f", "bad\xff"};
    const char *j = "{}";
    char longname[VRM_RECORD_NAME_MAX + 2];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(put(f->v, "profile", bad[i], j), -EINVAL);
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(put(f->v, "profile", longname, j), -EINVAL);
    longname[VRM_RECORD_NAME_MAX] = '\0';
    assert_int_equal(put(f->v, "profile", longname, j), 0);
    assert_int_equal(put(f->v, "profile", "Ada Lovelace (1815)", j), 0);
    assert_int_equal(put(f->v, "profile", "café ✓", j), 0);
    assert_int_equal(put(f->v, "profile", "x.json", j), 0);
}

static void test_times_and_list(void **state)
{
    fixture *f = *state;
    vrm_record_info a, b;
    names ns = {"", 0};

    assert_int_equal(vrm_record_put(f->v, "profile", "b", "{\"v\":1}", 7, 0, &a), 0);
    assert_true(a.created_ns > 1700000000LL * 1000000000LL);
    assert_int_equal(a.created_ns, a.updated_ns);
    assert_int_equal(vrm_record_put(f->v, "profile", "b", "{\"v\":22}", 8, 0, &b), 0);
    assert_int_equal(b.created_ns, a.created_ns);
    assert_true(b.updated_ns >= a.updated_ns);
    assert_int_equal(vrm_record_stat(f->v, "profile", "b", &a), 0);
    assert_int_equal(a.updated_ns, b.updated_ns);
    assert_int_equal(a.size, strlen("{\n  \"v\": 22\n}\n"));

    assert_int_equal(put(f->v, "profile", "a", "{}"), 0);
    assert_int_equal(put(f->v, "profile", "c", "{}"), 0);
    assert_int_equal(vrm_record_list(f->v, "profile", collect, &ns), 0);
    assert_string_equal(ns.list, "a b c ");
    assert_int_equal(vrm_record_count(f->v, "profile"), 3);
    assert_int_equal(vrm_record_list(f->v, "nosuch", collect, &ns), -ENOENT);
}

static void test_persist_across_reopen(void **state)
{
    fixture *f = *state;
    char *out;

    for (unsigned i = 0; i < 300; i++) {
        char name[32], *body = tu_body(i, NULL);

        snprintf(name, sizeof name, "r%03u", i);
        assert_int_equal(put(f->v, "profile", name, body), 0);
        free(body);
    }
    assert_int_equal(vrm_vault_close(f->v), 0);
    f->v = tu_open(f->vault);
    assert_int_equal(vrm_record_count(f->v, "profile"), 300);
    out = get(f->v, "profile", "r123");
    assert_non_null(strstr(out, "\"i\": 123,"));
    free(out);
}

static void test_rename(void **state)
{
    fixture *f = *state;
    vrm_record_info a, b;
    char *out;

    assert_int_equal(vrm_collection_create(f->v, "archive"), 0);
    assert_int_equal(vrm_record_put(f->v, "profile", "a", "{\"v\":1}", 7, 0, &a), 0);
    assert_int_equal(put(f->v, "profile", "b", "{\"v\":2}"), 0);
    assert_int_equal(vrm_record_rename(f->v, "profile", "a", "profile", "b", 1), -EEXIST);
    assert_int_equal(vrm_record_rename(f->v, "profile", "a", "profile", "b", 0), 0);
    assert_null(get(f->v, "profile", "a"));
    out = get(f->v, "profile", "b");
    assert_string_equal(out, "{\n  \"v\": 1\n}\n");
    free(out);
    assert_int_equal(vrm_record_stat(f->v, "profile", "b", &b), 0);
    assert_int_equal(b.created_ns, a.created_ns);
    assert_int_equal(vrm_record_rename(f->v, "profile", "b", "archive", "old", 0), 0);
    assert_int_equal(vrm_record_count(f->v, "profile"), 0);
    assert_int_equal(vrm_record_count(f->v, "archive"), 1);
    assert_int_equal(vrm_record_rename(f->v, "profile", "gone", "archive", "x", 0), -ENOENT);
    assert_int_equal(vrm_record_rename(f->v, "archive", "old", "nosuch", "x", 0), -ENOENT);
    assert_int_equal(vrm_record_count(f->v, "archive"), 1);
}

static void test_scratch(void **state)
{
    fixture *f = *state;
    names ns = {"", 0};
    char *data = NULL;
    size_t len;
    uint64_t size;
    int64_t t;

    assert_int_equal(vrm_scratch_put(f->v, "profile", ".me.json.swp", "\0\1swap", 6), 0);
    assert_int_equal(vrm_scratch_put(f->v, "profile", "4913", "", 0), 0);
    assert_int_equal(vrm_scratch_put(f->v, "profile", "x.json", "{}", 2), -EINVAL);
    assert_int_equal(vrm_scratch_put(f->v, "profile", "a/b", "{}", 2), -EINVAL);
    assert_int_equal(vrm_scratch_put(f->v, "nosuch", "t", "{}", 2), -ENOENT);
    assert_int_equal(vrm_scratch_get(f->v, "profile", ".me.json.swp", &data, &len, &t), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(data, "\0\1swap", 6);
    assert_true(t > 0);
    free(data);
    assert_int_equal(vrm_scratch_stat(f->v, "profile", "4913", &size, NULL), 0);
    assert_int_equal(size, 0);
    assert_int_equal(vrm_scratch_list(f->v, "profile", collect, &ns), 0);
    assert_string_equal(ns.list, ".me.json.swp 4913 ");
    /* Scratch files are not records. */
    assert_int_equal(vrm_record_count(f->v, "profile"), 0);
    assert_int_equal(vrm_collection_delete(f->v, "profile"), -ENOTEMPTY);
    assert_int_equal(vrm_scratch_delete(f->v, "profile", "4913"), 0);
    assert_int_equal(vrm_scratch_delete(f->v, "profile", "4913"), -ENOENT);
    assert_int_equal(vrm_scratch_touch(f->v, "profile", ".me.json.swp", 42), 0);
    assert_int_equal(vrm_scratch_stat(f->v, "profile", ".me.json.swp", &size, &t), 0);
    assert_int_equal(t, 42);
}

static void test_scratch_move(void **state)
{
    fixture *f = *state;
    char *out, *data = NULL;
    size_t len;

    /* jq . x.json > t && mv t x.json */
    assert_int_equal(vrm_scratch_put(f->v, "profile", "t", "{\"a\": 1}\n", 9), 0);
    assert_int_equal(vrm_scratch_move(f->v, "profile", "t", 0, "profile", "x", 1, 0), 0);
    out = get(f->v, "profile", "x");
    assert_string_equal(out, "{\n  \"a\": 1\n}\n");
    free(out);
    assert_int_equal(vrm_scratch_stat(f->v, "profile", "t", NULL, NULL), -ENOENT);

    /* Not an object: refused, both sides unchanged. */
    assert_int_equal(vrm_scratch_put(f->v, "profile", "t", "nope", 4), 0);
    assert_int_equal(vrm_scratch_move(f->v, "profile", "t", 0, "profile", "x", 1, 0), -EINVAL);
    out = get(f->v, "profile", "x");
    assert_string_equal(out, "{\n  \"a\": 1\n}\n");
    free(out);
    assert_int_equal(vrm_scratch_stat(f->v, "profile", "t", NULL, NULL), 0);

    /* vim's backup: record to scratch and back. */
    assert_int_equal(vrm_scratch_move(f->v, "profile", "x", 1, "profile", "x.json~", 0, 0), 0);
    assert_null(get(f->v, "profile", "x"));
    assert_int_equal(vrm_scratch_get(f->v, "profile", "x.json~", &data, &len, NULL), 0);
    assert_string_equal(data, "{\n  \"a\": 1\n}\n");
    free(data);
    assert_int_equal(vrm_scratch_move(f->v, "profile", "x.json~", 0, "profile", "t", 0, 1), -EEXIST);
    assert_int_equal(vrm_scratch_move(f->v, "profile", "x.json~", 0, "profile", "t", 0, 0), 0);
    assert_int_equal(vrm_scratch_move(f->v, "profile", "t", 0, "profile", "x", 1, 0), 0);
    assert_int_equal(vrm_record_count(f->v, "profile"), 1);
    assert_int_equal(vrm_scratch_move(f->v, "profile", "gone", 0, "profile", "y", 1, 0), -ENOENT);
}

/* ---- migrations ------------------------------------------------------ */

static void test_schema_version(void **state)
{
    fixture *f = *state;
    sqlite3_stmt *st;
    vrm_vault *v = NULL;

    assert_int_equal(sqlite3_prepare_v2(vrm_vault_sqlite(f->v), "PRAGMA user_version", -1,
                                        &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), vrm_schema_version());
    sqlite3_finalize(st);

    /* A vault whose schema is newer than this build is refused, unchanged. */
    assert_int_equal(vrm_vault_exec(f->v, "PRAGMA user_version=999"), 0);
    assert_int_equal(vrm_vault_close(f->v), 0);
    f->v = NULL;
    assert_int_equal(vrm_vault_open(&v, f->vault, TU_PASS, strlen(TU_PASS), 0),
                     -EPROTONOSUPPORT);
    assert_non_null(strstr(vrm_error_message(), "newer"));
    assert_null(v);

    assert_int_equal(vrm_vault_open(&v, f->vault, TU_PASS, strlen(TU_PASS), VRM_OPEN_READONLY),
                     -EPROTONOSUPPORT);
    assert_null(v);
}

static void test_migrate_from_zero(void **state)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    (void)state;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(vrm_schema_migrate(db), 0);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), vrm_schema_version());
    sqlite3_finalize(st);
    /* Idempotent. */
    assert_int_equal(vrm_schema_migrate(db), 0);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO collections VALUES ('x', 1);"
                                      "INSERT INTO records(collection, name, body, size, created, "
                                      "updated) VALUES ('x', 'n', '{}', 3, 1, 1)",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_collections, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_collection_names, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_put_get_pretty, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_put_rejects, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_put_flags_and_missing, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_record_names, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_times_and_list, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_persist_across_reopen, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_rename, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_scratch, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_scratch_move, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_schema_version, setup, tu_teardown),
        cmocka_unit_test(test_migrate_from_zero),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
