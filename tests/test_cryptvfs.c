/*
 * test_cryptvfs.c: the page-encrypting VFS shim and the vault's keys.
 *
 * What a person relies on: records come back as written; nothing readable
 * is on disk; one changed byte anywhere is an error naming the page, never
 * wrong data; a page moved elsewhere is rejected; a wrong passphrase changes
 * nothing.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define MARKER "VRM-PLAINTEXT-MARKER-7f3a9c"

typedef struct fixture {
    char *tmp;
    char *vault;
    char *db;                         /* vault/vault.db */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    f->tmp = tu_tempdir();
    f->vault = tu_make_vault(f->tmp, "vault");
    f->db = tu_path(f->vault, "vault.db");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    free(f->db);
    free(f->vault);
    tu_cleanup(f->tmp);
    free(f);
    return 0;
}

static void fill(vrm_vault *v, unsigned n, const char *marker)
{
    if (vrm_collection_exists(v, "finance") == 0)
        assert_int_equal(vrm_collection_create(v, "finance"), 0);
    for (unsigned i = 0; i < n; i++) {
        char name[64], *body = tu_body(i, marker);

        snprintf(name, sizeof name, "%s%04u", marker ? marker : "r", i);
        if (vrm_record_put(v, "finance", name, body, strlen(body), 0, NULL) != 0)
            fail_msg("put %s: %s", name, vrm_error_message());
        free(body);
    }
}

/* Read every record 0..n-1 back: returns how many failed with -EBADMSG;
 * fails the test if any read returns other data than was written. */
static int count_name(void *ctx, const char *name)
{
    (void)name;
    ++*(unsigned *)ctx;
    return 0;
}

/* Read every row of every table and every entry of every index, as any
 * query might.  Returns 1 if a read failed with -EBADMSG, else 0. */
static int read_everything(vrm_vault *v)
{
    sqlite3 *db = vrm_vault_sqlite(v);
    sqlite3_stmt *list = NULL;
    char *sqls[64];
    int bad = 0, rc, n = 0, i;

    vrm_vault_lock(v);
    /* First the queries, from the schema; then each, on its own.  Tables
     * are read in the order of their own b-tree, so that SQLite walks the
     * table itself rather than an index: a WITHOUT ROWID table by its
     * primary key, any other by rowid (ordered by a primary key that is not
     * the rowid, it would be read through the key's index, and an empty
     * one not at all). */
    rc = sqlite3_prepare_v2(db, "SELECT CASE WHEN s.type = 'table' "
                            "THEN printf('SELECT * FROM \"%w\" ORDER BY %s', s.name, "
                            "CASE WHEN (SELECT wr FROM pragma_table_list(s.name)) THEN ("
                            "SELECT group_concat(printf('\"%w\"', name)) FROM (SELECT name FROM "
                            "pragma_table_info(s.name) WHERE pk > 0 ORDER BY pk)) ELSE 'rowid' END) "
                            "ELSE printf('SELECT \"%w\" FROM \"%w\" INDEXED BY \"%w\" "
                            "WHERE %s ORDER BY 1', i.name, s.tbl_name, s.name, "
                            "CASE WHEN instr(upper(s.sql), ' WHERE ') > 0 "
                            "THEN substr(s.sql, instr(upper(s.sql), ' WHERE ') + 7) ELSE '1' END) END "
                            "FROM sqlite_schema s LEFT JOIN pragma_index_info(s.name) i "
                            "ON i.seqno = 0 WHERE s.type = 'table' OR "
                            "(s.type = 'index' AND i.name IS NOT NULL)", -1, &list, NULL);
    while (rc == SQLITE_OK && n < 64 && (rc = sqlite3_step(list)) == SQLITE_ROW)
        sqls[n++] = sqlite3_mprintf("%s", sqlite3_column_text(list, 0)), rc = SQLITE_OK;
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        if (vrm_errno_from_sqlite(sqlite3_extended_errcode(db)) != -EBADMSG)
            fail_msg("listing the schema: %s", sqlite3_errmsg(db));
        bad = 1;
    }
    sqlite3_finalize(list);
    for (i = 0; i < n; i++) {
        sqlite3_stmt *st = NULL;
        int step = SQLITE_ERROR;

        if (sqlite3_prepare_v2(db, sqls[i], -1, &st, NULL) == SQLITE_OK)
            while ((step = sqlite3_step(st)) == SQLITE_ROW)
                ;
        if (step != SQLITE_DONE) {
            if (vrm_errno_from_sqlite(sqlite3_extended_errcode(db)) != -EBADMSG)
                fail_msg("%s: %s", sqls[i], sqlite3_errmsg(db));
            bad = 1;
        }
        sqlite3_finalize(st);
        sqlite3_free(sqls[i]);
    }
    assert_true(n >= 4);
    vrm_vault_unlock(v);
    return bad;
}

static unsigned read_back(vrm_vault *v, unsigned n, const char *marker, unsigned *missing)
{
    unsigned bad = 0, listed = 0;
    int rc;

    *missing = 0;
    bad += (unsigned)read_everything(v);
    /* Listing reads the collections table and the whole name index. */
    rc = vrm_collection_list(v, count_name, &listed);
    if (rc == -EBADMSG)
        bad++;
    else
        assert_int_equal(rc, 0);
    rc = vrm_record_list(v, "finance", count_name, &listed);
    if (rc == -EBADMSG)
        bad++;
    else
        assert_int_equal(rc, 0);
    rc = vrm_scratch_list(v, "finance", count_name, &listed);
    if (rc == -EBADMSG)
        bad++;
    else
        assert_int_equal(rc, 0);
    for (unsigned i = 0; i < n; i++) {
        char name[64], *out = NULL, *want = tu_body(i, marker), *wantp = NULL;
        size_t len, wlen;
        cJSON *obj;

        snprintf(name, sizeof name, "%s%04u", marker ? marker : "r", i);
        rc = vrm_record_get(v, "finance", name, &out, &len, NULL);
        if (rc == -EBADMSG || rc == -EUCLEAN) {
            bad++;
        } else if (rc == -ENOENT) {
            (*missing)++;
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(vrm_json_parse_object(want, strlen(want), &obj), 0);
            assert_int_equal(vrm_json_pretty(obj, &wantp, &wlen), 0);
            cJSON_Delete(obj);
            assert_string_equal(out, wantp);
        }
        free(wantp);
        free(out);
        free(want);
    }
    return bad;
}

/* ---- check reports --------------------------------------------------- */

typedef struct seen {
    char bad[4096];
    char notes[4096];
    int nbad;
} seen;

static void seen_bad(void *ctx, const char *what)
{
    seen *s = ctx;

    s->nbad++;
    strncat(s->bad, what, sizeof s->bad - strlen(s->bad) - 2);
    strcat(s->bad, "\n");
}

static void seen_note(void *ctx, const char *what)
{
    seen *s = ctx;

    strncat(s->notes, what, sizeof s->notes - strlen(s->notes) - 2);
    strcat(s->notes, "\n");
}

static int check(const char *vault, seen *s)
{
    vrm_check_report r = {seen_bad, seen_note, NULL, s};

    memset(s, 0, sizeof *s);
    return vrm_vault_check(vault, TU_PASS, strlen(TU_PASS), &r);
}

static void hash_file(const char *path, uint8_t out[32])
{
    FILE *fp = fopen(path, "rb");
    crypto_generichash_state st;
    uint8_t buf[8192];
    size_t n;

    assert_non_null(fp);
    crypto_generichash_init(&st, NULL, 0, 32);
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        crypto_generichash_update(&st, buf, n);
    crypto_generichash_final(&st, out, 32);
    fclose(fp);
}

/* ---- tests ----------------------------------------------------------- */

static void test_round_trip(void **state)
{
    fixture *f = *state;
    vrm_vault *v = tu_open(f->vault);
    unsigned missing;
    seen s;

    fill(v, 500, NULL);
    assert_int_equal(read_back(v, 500, NULL, &missing), 0);
    assert_int_equal(missing, 0);
    assert_int_equal(vrm_vault_close(v), 0);

    v = tu_open(f->vault);
    assert_int_equal(read_back(v, 500, NULL, &missing), 0);
    assert_int_equal(missing, 0);
    assert_int_equal(vrm_vault_close(v), 0);
    assert_int_equal(check(f->vault, &s), 0);
    assert_int_equal(tu_file_size(f->db) % VRM_PAGE_SIZE, 0);
}

static void test_no_plaintext(void **state)
{
    fixture *f = *state;
    vrm_vault *v = tu_open(f->vault);
    char head[16], *hit;
    FILE *fp;

    fill(v, 300, MARKER);
    /* While open, much of it is in the WAL. */
    assert_true(tu_file_size(f->db) >= 0);
    hit = tu_find_in_tree(f->vault, MARKER, strlen(MARKER));
    if (hit != NULL)
        fail_msg("marker found in %s while open", hit);
    assert_null(tu_find_in_tree(f->vault, "SQLite format 3", 15));
    assert_null(tu_find_in_tree(f->vault, "CREATE TABLE", 12));
    assert_null(tu_find_in_tree(f->vault, TU_PASS, strlen(TU_PASS)));
    assert_int_equal(vrm_vault_close(v), 0);

    hit = tu_find_in_tree(f->vault, MARKER, strlen(MARKER));
    if (hit != NULL)
        fail_msg("marker found in %s after close", hit);
    assert_null(tu_find_in_tree(f->vault, "SQLite format 3", 15));
    assert_null(tu_find_in_tree(f->vault, "merchant", 8));

    fp = fopen(f->db, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(head, 1, 16, fp), 16);
    fclose(fp);
    assert_memory_not_equal(head, "SQLite format 3", 16);

    /* The positive control: the marker is in the records. */
    v = tu_open(f->vault);
    {
        unsigned missing;

        assert_int_equal(read_back(v, 300, MARKER, &missing), 0);
        assert_int_equal(missing, 0);
    }
    assert_int_equal(vrm_vault_close(v), 0);
}

/* Pages 2, 2 + 812, ... of a vault hold its auto_vacuum pointer map: 811
 * five-byte entries in the 4,056 usable bytes of a page, then the pages
 * they describe. */
static int is_ptrmap_page(unsigned page)
{
    unsigned per = (VRM_PAGE_SIZE - VRM_PAGE_RESERVE) / 5 + 1;

    return page >= 2 && (page - 2) % per == 0;
}

/* Put a record large enough to need overflow pages, whose allocation goes
 * through the pointer map.  Returns what vrm_record_put returned. */
static int big_put(vrm_vault *v)
{
    static char body[5 * VRM_PAGE_SIZE + 16];
    size_t n = 5 * VRM_PAGE_SIZE;

    memcpy(body, "{\"pad\": \"", 9);
    memset(body + 9, 'p', n);
    memcpy(body + 9 + n, "\"}", 3);
    return vrm_record_put(v, "finance", "big", body, strlen(body), 0, NULL);
}

/* Flip one byte at `off` inside database page `page` (1-based): check names
 * the page, reads fail or are right, never wrong; flipping back heals. */
static void flip_db_page(fixture *f, unsigned page, unsigned off, unsigned n)
{
    char want[64];
    unsigned missing, bad = 0;
    vrm_vault *v = NULL;
    seen s;
    int rc;

    tu_flip(f->db, (off_t)(page - 1) * VRM_PAGE_SIZE + off, 0x20);
    assert_int_equal(check(f->vault, &s), 1);
    snprintf(want, sizeof want, "vault.db page %u fails authentication", page);
    if (strstr(s.bad, want) == NULL)
        fail_msg("check said \"%s\", wanted \"%s\"", s.bad, want);

    rc = vrm_vault_open(&v, f->vault, TU_PASS, strlen(TU_PASS), 0);
    if (rc == 0) {
        bad = read_back(v, n, NULL, &missing);
        assert_int_equal(missing, 0);
        assert_int_equal(vrm_vault_close(v), 0);
    } else {
        assert_int_equal(rc, -EBADMSG);
        bad = 1;
    }
    if (bad == 0 && is_ptrmap_page(page)) {
        /* The auto_vacuum pointer map is read by writes, not by reads. */
        assert_int_equal(vrm_vault_open(&v, f->vault, TU_PASS, strlen(TU_PASS), 0), 0);
        bad = big_put(v) == -EBADMSG;
        assert_int_equal(vrm_vault_close(v), 0);
    }
    if (bad == 0)
        fail_msg("page %u flipped at %u: every read succeeded", page, off);
    snprintf(want, sizeof want, "page %u", page);
    assert_non_null(strstr(vrm_error_message(), want));

    tu_flip(f->db, (off_t)(page - 1) * VRM_PAGE_SIZE + off, 0x20);
    assert_int_equal(check(f->vault, &s), 0);
}

static void test_flipped_byte_in_db(void **state)
{
    fixture *f = *state;
    vrm_vault *v = tu_open(f->vault);
    unsigned npages, p;
    static const unsigned offs[] = {0, 17, 100, 2048, 4055, 4056, 4079, 4080, 4095};

    fill(v, 400, NULL);
    assert_int_equal(vrm_vault_close(v), 0);
    npages = (unsigned)(tu_file_size(f->db) / VRM_PAGE_SIZE);
    assert_true(npages > 20);
    assert_true(tu_file_size(f->vault) != 0);

    /* Every byte position class, on page 1 and on a page in the middle. */
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        flip_db_page(f, 1, offs[i], 400);
        flip_db_page(f, npages / 2, offs[i], 400);
    }
    /* And some byte of every page. */
    for (p = 2; p <= npages; p++)
        flip_db_page(f, p, (p * 131) % VRM_PAGE_SIZE, 400);
}

static void test_page_moved(void **state)
{
    fixture *f = *state;
    vrm_vault *v = tu_open(f->vault);
    unsigned missing;
    seen s;

    fill(v, 400, NULL);
    assert_int_equal(vrm_vault_close(v), 0);
    /* A valid page of the same vault, copied to another offset. */
    tu_copy_range(f->db, 3 * VRM_PAGE_SIZE, 4 * VRM_PAGE_SIZE, VRM_PAGE_SIZE);
    assert_int_equal(check(f->vault, &s), 1);
    assert_non_null(strstr(s.bad, "vault.db page 5 fails authentication"));
    v = tu_open(f->vault);
    assert_true(read_back(v, 400, NULL, &missing) > 0);
    assert_int_equal(vrm_vault_close(v), 0);
}

static void test_page_from_other_vault(void **state)
{
    fixture *f = *state;
    char *other = tu_make_vault(f->tmp, "other"), *odb = tu_path(other, "vault.db");
    vrm_vault *v = NULL;
    seen s;

    /* Page 1 of another vault (another key and id) in place of ours. */
    tu_copy_file(odb, f->db);
    assert_true(check(f->vault, &s) >= 1);
    assert_non_null(strstr(s.bad, "vault.db page 1 fails authentication"));
    assert_int_equal(vrm_vault_open(&v, f->vault, TU_PASS, strlen(TU_PASS), 0), -EBADMSG);
    free(odb);
    free(other);
}

/* Copy the vault's files while it is open, as a crash would leave them. */
static char *crash_image(fixture *f, const char *name)
{
    char *dir = tu_path(f->tmp, name);
    const char *files[] = {"vault.json", "vault.db", "vault.db-wal"};

    assert_int_equal(mkdir(dir, 0700), 0);
    for (size_t i = 0; i < 3; i++) {
        char *from = tu_path(f->vault, files[i]), *to = tu_path(dir, files[i]);

        tu_copy_file(from, to);
        free(from);
        free(to);
    }
    return dir;
}

static void test_wal_recovery_and_tamper(void **state)
{
    fixture *f = *state;
    vrm_vault *v = tu_open(f->vault), *w;
    char *good, *mid, *tail, *wal;
    unsigned missing;
    off_t nframes;
    seen s;

    fill(v, 20, NULL);  /* 20 commits, all still in the WAL */
    good = crash_image(f, "good");
    mid = crash_image(f, "mid");
    tail = crash_image(f, "tail");
    assert_int_equal(vrm_vault_close(v), 0);

    /* Recovery through the shim brings back every committed record. */
    assert_int_equal(check(good, &s), 0);
    w = tu_open(good);
    assert_int_equal(read_back(w, 20, NULL, &missing), 0);
    assert_int_equal(missing, 0);
    assert_int_equal(vrm_vault_close(w), 0);

    /* A byte changed in an early frame, with commits after it: an error. */
    wal = tu_path(mid, "vault.db-wal");
    nframes = (tu_file_size(wal) - 32) / (24 + VRM_PAGE_SIZE);
    assert_true(nframes >= 20);
    tu_flip(wal, 32 + 24 + 1000, 0x01);
    assert_int_equal(check(mid, &s), 1);
    assert_non_null(strstr(s.bad, "vault.db-wal frame 1 fails authentication"));
    w = NULL;
    assert_int_equal(vrm_vault_open(&w, mid, TU_PASS, strlen(TU_PASS), 0), -EBADMSG);
    assert_non_null(strstr(vrm_error_message(), "frame 1"));
    free(wal);

    /* The last frame, after which nothing commits, reads like a write cut
     * short by a crash: SQLite drops that transaction, as it would without
     * encryption; check notes it. */
    wal = tu_path(tail, "vault.db-wal");
    tu_flip(wal, 32 + (nframes - 1) * (24 + VRM_PAGE_SIZE) + 24 + 7, 0x01);
    assert_int_equal(check(tail, &s), 0);
    assert_non_null(strstr(s.notes, "incomplete write"));
    w = tu_open(tail);
    assert_int_equal(read_back(w, 19, NULL, &missing), 0);
    assert_int_equal(missing, 0);
    assert_int_equal(vrm_vault_close(w), 0);
    free(wal);

    free(good);
    free(mid);
    free(tail);
}

static void test_wrong_passphrase(void **state)
{
    fixture *f = *state;
    char *vj = tu_path(f->vault, "vault.json");
    uint8_t h1[32], h2[32], d1[32], d2[32];
    vrm_vault *v = tu_open(f->vault);
    seen s;

    fill(v, 10, NULL);
    assert_int_equal(vrm_vault_close(v), 0);
    hash_file(vj, h1);
    hash_file(f->db, d1);
    v = NULL;
    assert_int_equal(vrm_vault_open(&v, f->vault, "wrong", 5, 0), -EKEYREJECTED);
    assert_null(v);
    assert_non_null(strstr(vrm_error_message(), "passphrase"));
    assert_int_equal(vrm_vault_check(f->vault, "", 0, NULL), -EKEYREJECTED);
    assert_int_equal(vrm_vault_passwd(f->vault, "wrong", 5, "new", 3), -EKEYREJECTED);
    assert_int_equal(vrm_vault_recover(f->vault, "0000", "new", 3), -EKEYREJECTED);
    hash_file(vj, h2);
    hash_file(f->db, d2);
    assert_memory_equal(h1, h2, 32);
    assert_memory_equal(d1, d2, 32);
    assert_int_equal(check(f->vault, &s), 0);
    free(vj);
}

static void test_passwd_keeps_data(void **state)
{
    fixture *f = *state;
    uint8_t d1[32], d2[32];
    vrm_vault *v = tu_open(f->vault);
    unsigned missing;

    fill(v, 10, NULL);
    assert_int_equal(vrm_vault_close(v), 0);
    hash_file(f->db, d1);
    assert_int_equal(vrm_vault_passwd(f->vault, TU_PASS, strlen(TU_PASS), "new pass", 8), 0);
    hash_file(f->db, d2);
    assert_memory_equal(d1, d2, 32);  /* nothing re-encrypted */
    v = NULL;
    assert_int_equal(vrm_vault_open(&v, f->vault, TU_PASS, strlen(TU_PASS), 0), -EKEYREJECTED);
    assert_int_equal(vrm_vault_open(&v, f->vault, "new pass", 8, 0), 0);
    assert_int_equal(read_back(v, 10, NULL, &missing), 0);
    assert_int_equal(missing, 0);
    assert_int_equal(vrm_vault_close(v), 0);
    assert_int_equal(vrm_vault_passwd(f->vault, "new pass", 8, TU_PASS, strlen(TU_PASS)), 0);
}

static int grab_key(void *ctx, const char *key)
{
    strcpy(ctx, key);
    return 0;
}

static int refuse_key(void *ctx, const char *key)
{
    (void)ctx;
    (void)key;
    return -EIO;
}

static void test_recovery_key(void **state)
{
    fixture *f = *state;
    vrm_kdf_limits lim = {1, 8192};
    char key[VRM_RECOVERY_KEY_LEN + 1], *dir = tu_path(f->tmp, "rec"), *p;
    vrm_vault *v = NULL;

    assert_int_equal(vrm_vault_create(dir, "first", 5, &lim, grab_key, key), 0);
    assert_int_equal(strlen(key), VRM_RECOVERY_KEY_LEN);
    /* Dashes and case do not matter. */
    for (p = key; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(vrm_vault_recover(dir, key, "second", 6), 0);
    assert_int_equal(vrm_vault_open(&v, dir, "first", 5, 0), -EKEYREJECTED);
    assert_int_equal(vrm_vault_open(&v, dir, "second", 6, 0), 0);
    assert_int_equal(vrm_vault_close(v), 0);
    key[0] = key[0] == '0' ? '1' : '0';
    assert_int_equal(vrm_vault_recover(dir, key, "third", 5), -EKEYREJECTED);
    free(dir);

    /* A creation whose recovery key cannot be kept leaves nothing behind. */
    dir = tu_path(f->tmp, "abandoned");
    assert_int_equal(vrm_vault_create(dir, "pw", 2, &lim, refuse_key, NULL), -EIO);
    assert_int_equal(tu_file_size(dir), -1);
    free(dir);
}

static void test_create_refuses(void **state)
{
    fixture *f = *state;
    vrm_kdf_limits lim = {1, 8192};
    char *dir = tu_path(f->tmp, "full"), *junk;
    FILE *fp;

    assert_int_equal(vrm_vault_create(f->vault, "x", 1, &lim, grab_key, NULL), -EEXIST);
    assert_int_equal(mkdir(dir, 0700), 0);
    junk = tu_path(dir, "keep.txt");
    fp = fopen(junk, "w");
    fputs("mine", fp);
    fclose(fp);
    assert_int_equal(vrm_vault_create(dir, "x", 1, &lim, grab_key, NULL), -EEXIST);
    assert_int_equal(tu_file_size(junk), 4);
    assert_int_equal(vrm_vault_create(dir, "", 0, &lim, grab_key, NULL), -EINVAL);
    free(junk);
    free(dir);
}

static void test_vault_json_tamper(void **state)
{
    fixture *f = *state;
    char *vj = tu_path(f->vault, "vault.json"), *orig = tu_path(f->tmp, "orig.json");
    vrm_vault *v = NULL;
    char *text;
    size_t len;
    FILE *fp;
    static const struct {
        const char *from, *to;
        int err;
    } edits[] = {
        {"\"format\": 1", "\"format\": 2", -EPROTONOSUPPORT},
        {"\"format\": 1", "\"format\": 0", -EBADMSG},
        {"\"id\": \"", "\"id\": \"A", -EBADMSG},
        {"\"mac\": \"", "\"mac\": \"x", -EBADMSG},
        {"\"kdf\": {", "\"kdf\": {\"extra\": 1, ", -EBADMSG},
        {"{", "[", -EBADMSG},
        /* refused before Argon2id runs: 8 GiB, or 2^32 - 1 passes, would take
         * long or fail for lack of memory */
        {"\"mem\": 8192,", "\"mem\": 8589934592,", -EBADMSG},
        {"\"ops\": 1,", "\"ops\": 4294967295,", -EBADMSG},
    };

    tu_copy_file(vj, orig);
    fp = fopen(orig, "rb");
    text = calloc(1, 65536);
    len = fread(text, 1, 65535, fp);
    fclose(fp);
    assert_true(len > 100);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *at = strstr(text, edits[i].from), *out;

        if (at == NULL)
            fail_msg("vault.json lacks %s:\n%s", edits[i].from, text);
        if (asprintf(&out, "%.*s%s%s", (int)(at - text), text, edits[i].to,
                     at + strlen(edits[i].from)) < 0)
            fail_msg("oom");
        fp = fopen(vj, "wb");
        fputs(out, fp);
        fclose(fp);
        free(out);
        if (vrm_vault_open(&v, f->vault, TU_PASS, strlen(TU_PASS), 0) != edits[i].err)
            fail_msg("edit %zu: wanted %d: %s", i, edits[i].err, vrm_error_message());
        tu_copy_file(orig, vj);
    }

    /* A valid id of another vault: only the MAC can tell. */
    {
        char *at = strstr(text, "\"id\": \"") + 7;

        at[0] = at[0] == 'A' ? 'B' : 'A';
        fp = fopen(vj, "wb");
        fputs(text, fp);
        fclose(fp);
        assert_int_equal(vrm_vault_open(&v, f->vault, TU_PASS, strlen(TU_PASS), 0), -EBADMSG);
        assert_non_null(strstr(vrm_error_message(), "vault.json has been altered"));
        tu_copy_file(orig, vj);
    }
    assert_int_equal(vrm_vault_open(&v, f->vault, TU_PASS, strlen(TU_PASS), 0), 0);
    assert_int_equal(vrm_vault_close(v), 0);
    free(text);
    free(vj);
    free(orig);
}

static void test_missing_vault(void **state)
{
    fixture *f = *state;
    char *nowhere = tu_path(f->tmp, "nowhere");
    vrm_vault *v = NULL;

    assert_int_equal(vrm_vault_open(&v, nowhere, "x", 1, 0), -ENOENT);
    assert_non_null(strstr(vrm_error_message(), "no vault"));
    assert_int_equal(vrm_vault_open(&v, f->tmp, "x", 1, 0), -ENOENT);
    assert_int_equal(tu_file_size(nowhere), -1);
    free(nowhere);
}

static void test_locked_while_open(void **state)
{
    fixture *f = *state;
    vrm_vault *v = tu_open(f->vault), *w = NULL;

    assert_int_equal(vrm_vault_open(&w, f->vault, TU_PASS, strlen(TU_PASS), 0), -EBUSY);
    assert_int_equal(vrm_vault_check(f->vault, TU_PASS, strlen(TU_PASS), NULL), -EBUSY);
    assert_int_equal(vrm_vault_close(v), 0);
    w = tu_open(f->vault);
    assert_int_equal(vrm_vault_close(w), 0);
}

/* The shim hands SQLite the same bytes whether it reads a whole page or a
 * slice of one, and the reserved bytes always read as zeros. */
static void test_partial_reads(void **state)
{
    fixture *f = *state;
    vrm_vault *v = tu_open(f->vault);
    sqlite3 *db = vrm_vault_sqlite(v);
    sqlite3_file *fp = NULL, *wp = NULL;
    uint8_t page1[VRM_PAGE_SIZE], page2[VRM_PAGE_SIZE], buf[VRM_PAGE_SIZE + 24];
    static const uint8_t zeros[VRM_PAGE_RESERVE];

    fill(v, 50, NULL);
    assert_int_equal(vrm_vault_exec(v, "PRAGMA wal_checkpoint(PASSIVE)"), 0);
    fill(v, 5, "w");
    assert_int_equal(sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &fp), SQLITE_OK);
    assert_int_equal(sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wp), SQLITE_OK);
    assert_non_null(fp);
    assert_non_null(wp);

    assert_int_equal(fp->pMethods->xRead(fp, page1, VRM_PAGE_SIZE, 0), SQLITE_OK);
    assert_int_equal(fp->pMethods->xRead(fp, page2, VRM_PAGE_SIZE, VRM_PAGE_SIZE), SQLITE_OK);
    assert_memory_equal(page1, "SQLite format 3", 16);
    assert_int_equal(page1[20], VRM_PAGE_RESERVE);
    assert_memory_equal(page1 + VRM_PAGE_SIZE - VRM_PAGE_RESERVE, zeros, VRM_PAGE_RESERVE);
    assert_memory_equal(page2 + VRM_PAGE_SIZE - VRM_PAGE_RESERVE, zeros, VRM_PAGE_RESERVE);

    assert_int_equal(fp->pMethods->xRead(fp, buf, 100, 0), SQLITE_OK);
    assert_memory_equal(buf, page1, 100);
    assert_int_equal(fp->pMethods->xRead(fp, buf, 16, 24), SQLITE_OK);
    assert_memory_equal(buf, page1 + 24, 16);
    assert_int_equal(fp->pMethods->xRead(fp, buf, 200, VRM_PAGE_SIZE - 100), SQLITE_OK);
    assert_memory_equal(buf, page1 + VRM_PAGE_SIZE - 100, 100);
    assert_memory_equal(buf + 100, page2, 100);

    /* Beyond the end: a short read of zeros, as SQLite expects. */
    {
        sqlite3_int64 size;

        assert_int_equal(fp->pMethods->xFileSize(fp, &size), SQLITE_OK);
        memset(buf, 0xaa, sizeof buf);
        assert_int_equal(fp->pMethods->xRead(fp, buf, VRM_PAGE_SIZE, size), SQLITE_IOERR_SHORT_READ);
        assert_memory_equal(buf, page1 + VRM_PAGE_SIZE - VRM_PAGE_RESERVE, 8);  /* zeros */
    }

    /* WAL: a whole frame (as recovery reads it) and its page agree. */
    assert_int_equal(wp->pMethods->xRead(wp, buf, VRM_PAGE_SIZE + 24, 32), SQLITE_OK);
    assert_int_equal(wp->pMethods->xRead(wp, page2, VRM_PAGE_SIZE, 32 + 24), SQLITE_OK);
    assert_memory_equal(buf + 24, page2, VRM_PAGE_SIZE);
    assert_memory_equal(page2 + VRM_PAGE_SIZE - VRM_PAGE_RESERVE, zeros, VRM_PAGE_RESERVE);
    assert_int_equal(wp->pMethods->xRead(wp, page1, 24, 32), SQLITE_OK);
    assert_memory_equal(page1, buf, 24);  /* headers are plain */
    assert_int_equal(vrm_vault_close(v), 0);
}

/* Nothing but the database and its WAL may be opened: a rollback journal or
 * a temporary file would hold plaintext. */
static void test_refuses_other_files(void **state)
{
    fixture *f = *state;
    vrm_vault *v = tu_open(f->vault);
    const char *spill =
        "CREATE TEMP TABLE t AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
        "SELECT x + 1 FROM c WHERE x < 20000) SELECT x, '" MARKER "' || "
        "hex(randomblob(400)) AS y FROM c";
    char *journal = tu_path(f->vault, "vault.db-journal");
    unsigned missing;

    fill(v, 10, NULL);
    /* Positive control: with the vault's temp_store=MEMORY, it works. */
    assert_int_equal(vrm_vault_exec(v, "PRAGMA temp.cache_size=10"), 0);
    assert_int_equal(vrm_vault_exec(v, spill), 0);
    assert_int_equal(vrm_vault_exec(v, "DROP TABLE t"), 0);
    /* Spilled to a temporary file: refused. */
    assert_int_equal(vrm_vault_exec(v, "PRAGMA temp_store=FILE"), 0);
    assert_int_equal(vrm_vault_exec(v, "PRAGMA temp.cache_size=10"), 0);
    assert_int_not_equal(vrm_vault_exec(v, spill), 0);
    assert_int_equal(vrm_vault_exec(v, "PRAGMA temp_store=MEMORY"), 0);

    /* Leaving WAL for a rollback journal: refused, the vault stays WAL
     * (whether the PRAGMA and the write after it report an error is not
     * what is checked: that no journal file appears is). */
    if (vrm_vault_exec(v, "PRAGMA journal_mode=DELETE") != 0)
        vrm_error_clear();
    if (vrm_vault_exec(v, "INSERT INTO collections VALUES ('after', 1)") != 0)
        vrm_error_clear();
    assert_int_equal(tu_file_size(journal), -1);
    assert_int_equal(vrm_vault_close(v), 0);

    v = tu_open(f->vault);
    assert_int_equal(read_back(v, 10, NULL, &missing), 0);
    assert_int_equal(missing, 0);
    assert_int_equal(vrm_vault_close(v), 0);
    assert_null(tu_find_in_tree(f->vault, MARKER, strlen(MARKER)));
    free(journal);
}

/* The background checkpointer copies committed frames into vault.db on its
 * own: once the WAL holds ckpt_frames frames, but fewer than the writer
 * would checkpoint itself at (4 times that), vault.db changes while the
 * writer does nothing more. */
static void test_background_checkpoint(void **state)
{
    fixture *f = *state;
    vrm_vault *v = tu_open(f->vault);
    char *wal = tu_path(f->vault, "vault.db-wal");
    uint8_t before[32], now[32];
    off_t frames = 0;
    unsigned i;
    int changed = 0;

    v->ckpt_frames = 8;
    assert_int_equal(vrm_collection_create(v, "finance"), 0);
    hash_file(f->db, before);
    for (i = 0; frames < 8; i++) {
        char name[32], *body = tu_body(i, NULL);

        snprintf(name, sizeof name, "bg%04u", i);
        assert_int_equal(vrm_record_put(v, "finance", name, body, strlen(body), 0, NULL), 0);
        free(body);
        frames = (tu_file_size(wal) - 32) / (24 + VRM_PAGE_SIZE);
    }
    assert_true(frames < 4 * 8);  /* so the writer has not checkpointed */
    for (i = 0; i < 1000 && !changed; i++) {  /* up to 10 s */
        usleep(10000);
        hash_file(f->db, now);
        changed = memcmp(before, now, sizeof now) != 0;
    }
    assert_true(changed);
    assert_int_equal(vrm_vault_close(v), 0);
    free(wal);
}

/* A transaction larger than the page cache spills pages into the WAL before
 * it commits and overwrites some of them in place; SQLite writes those
 * frames' salts and checksums as zeros and fills them in at commit.  All of
 * it must read back, recover and check clean. */
static void test_spilling_transaction(void **state)
{
    fixture *f = *state;
    vrm_vault *v = tu_open(f->vault);
    sqlite3_stmt *st;
    seen s;

    vrm_vault_lock(v);
    assert_int_equal(vrm_vault_exec(v, "PRAGMA cache_size=20; CREATE TABLE big(k INTEGER "
                                       "PRIMARY KEY, b BLOB)"), 0);
    assert_int_equal(vrm_vault_exec(v, "BEGIN; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
                                       "SELECT x + 1 FROM c WHERE x < 3000) INSERT INTO big "
                                       "SELECT x, randomblob(900) FROM c; UPDATE big SET "
                                       "b = zeroblob(900) WHERE k % 2 = 0; UPDATE big SET "
                                       "b = randomblob(900) WHERE k % 3 = 0; COMMIT"), 0);
    vrm_vault_unlock(v);
    /* A crash image while the WAL holds it: recovery reads every frame. */
    {
        char *img = crash_image(f, "spill"), *wal = tu_path(img, "vault.db-wal");
        vrm_vault *w;

        assert_true(tu_file_size(wal) > 100 * (24 + VRM_PAGE_SIZE));
        assert_int_equal(check(img, &s), 0);
        w = tu_open(img);
        vrm_vault_lock(w);
        assert_int_equal(sqlite3_prepare_v2(vrm_vault_sqlite(w), "SELECT count(*), sum(k % 2 = 0 "
                                            "AND b = zeroblob(900)) FROM big", -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 3000);
        assert_int_equal(sqlite3_column_int(st, 1), 1000);
        sqlite3_finalize(st);
        vrm_vault_unlock(w);
        assert_int_equal(vrm_vault_close(w), 0);
        free(wal);
        free(img);
    }
    assert_int_equal(vrm_vault_close(v), 0);
    {
        char *wal = tu_path(f->vault, "vault.db-wal");

        assert_int_equal(tu_file_size(wal), -1);  /* checkpointed and removed */
        free(wal);
    }
    assert_int_equal(check(f->vault, &s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_plaintext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte_in_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_moved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_from_other_vault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_recovery_and_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_passphrase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passwd_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vault_json_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_vault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_other_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spilling_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_checkpoint, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
