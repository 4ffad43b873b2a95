/*
 * export.c: a whole vault as plain files (vrm_export), and back into a new
 * vault (vrm_import_all).  The layout is in export.h.
 *
 * The export reads the vault through its modules where they give what is
 * needed (files/, records' pretty form, grants.json) and reads the other
 * tables row by row, every column, so that the import can put them back as
 * they were: receipts and access logs are hash chains and must come back
 * byte for byte.  The import writes records through the records module (the
 * facts follow), documents through the files module, and the other tables
 * with plain INSERTs, then checks the chains.
 */
#define _GNU_SOURCE
#include "export.h"

#include "consent/accesslog.h"
#include "data/analytics.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/fileio.h"
#include "base/strbuf.h"
#include "data/files.h"
#include "consent/grants.h"
#include "base/json.h"
#include "consent/receipt.h"
#include "data/records.h"
#include "data/records_int.h"
#include "base/names.h"
#include "consent/vendors.h"
#include "store/vault_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#define IO_CHUNK (1u << 20)             /* bytes read or written at a time */
#define LINE_MAX_BYTES (64u << 20)      /* longest index line accepted */
#define RECORDS_PER_TX 1000             /* records imported per transaction */
#define INT_EXACT ((double)(1LL << 53)) /* integers a JSON number keeps exactly */

/* ---- the tables kept row by row ---------------------------------------- */

enum { C_TEXT, C_NTEXT, C_INT, C_TIME, C_NTIME, C_BLOB };

typedef struct column {
    const char *name;
    int kind;                           /* C_*: N for nullable */
    int (*check)(const char *text);     /* a name's rule (0 or -EINVAL), or NULL */
} column;

typedef struct table {
    const char *name;                   /* also tables/NAME.jsonl */
    const char *order;                  /* ORDER BY of the export */
    column cols[14];                    /* ends with a NULL name */
} table;

static int vendor_body_valid(const char *json)
{
    return vrm_vendor_json_check(json, strlen(json));
}

/* A message's or reply's id: 1 to 64 of base64url's alphabet. */
static int id_valid(const char *id)
{
    size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

    if (n == 0 || n > 64 || id[n] != '\0')
        return vrm_error(EINVAL, "an id has 1 to 64 of A-Z a-z 0-9 _ -");
    return 0;
}

/* In import order: what a row refers to comes first.  Names that become
 * paths in the mount are checked as their modules check them. */
#define COL(n, k) {n, k, NULL}
#define NAMED(n, rule) {n, C_TEXT, rule}
#define END {NULL, 0, NULL}

static const table tables[] = {
    {"collections", "name", {NAMED("name", vrm_collection_name_valid), COL("created", C_TIME), END}},
    {"vendors", "name",
     {NAMED("name", vrm_vendor_name_valid), NAMED("body", vendor_body_valid),
      COL("created", C_TIME), COL("updated", C_TIME), END}},
    {"grants", "vendor, idx",
     {NAMED("vendor", vrm_vendor_name_valid), COL("idx", C_INT), COL("body", C_TEXT),
      COL("reads", C_INT), COL("ended", C_NTIME), END}},
    {"grant_docs", "vendor", {NAMED("vendor", vrm_vendor_name_valid), COL("updated", C_TIME), END}},
    {"receipts", "vendor, n",
     {NAMED("vendor", vrm_vendor_name_valid), COL("n", C_INT), COL("jws", C_TEXT),
      COL("payload", C_TEXT), COL("created", C_TIME), END}},
    {"access_log", "vendor, n",
     {NAMED("vendor", vrm_vendor_name_valid), COL("n", C_INT), COL("line", C_TEXT), END}},
    {"messages", "created, id",
     {NAMED("id", id_valid), NAMED("vendor", vrm_vendor_name_valid), COL("kind", C_TEXT),
      COL("payload", C_TEXT), COL("wire", C_BLOB), COL("created", C_TIME), COL("state", C_INT),
      COL("attempts", C_INT), COL("next_try", C_TIME), COL("last_error", C_NTEXT),
      COL("sent", C_NTIME), COL("transport", C_NTEXT), COL("endpoint", C_TEXT), END}},
    {"inbox", "vendor, id",
     {NAMED("vendor", vrm_vendor_name_valid), NAMED("id", id_valid), COL("payload", C_TEXT),
      COL("received", C_TIME), END}},
    {"inbox_rejected", "name",
     {NAMED("name", vrm_record_name_valid), NAMED("vendor", vrm_vendor_name_valid),
      COL("file", C_TEXT),
      COL("reason", C_TEXT), COL("size", C_INT), COL("received", C_TIME), END}},
    {"import_reports", "collection, name",
     {NAMED("collection", vrm_collection_name_valid), NAMED("name", vrm_record_name_valid),
      COL("body", C_TEXT), COL("created", C_TIME), END}},
    {"custom_queries", "name",
     {NAMED("name", vrm_analytics_custom_name_valid), COL("sql", C_TEXT),
      COL("updated", C_TIME), END}},
};

#define NTABLES (sizeof tables / sizeof tables[0])

/* ---- small helpers ------------------------------------------------------ */

static void progress_step(vrm_progress_fn fn, void *ctx, uint64_t *done, uint64_t total)
{
    ++*done;
    if (fn != NULL && (*done % 256 == 0 || *done == total))
        fn(ctx, *done, total);
}

/* A time as export.h says: RFC 3339 with nine fraction digits, or decimal
 * nanoseconds before 1970. */
static cJSON *time_json(int64_t ns)
{
    char text[VRM_RFC3339_LEN + 16];

    if (ns < 0) {
        snprintf(text, sizeof text, "%" PRId64, ns);
    } else {
        char secs[VRM_RFC3339_LEN];
        size_t n;

        vrm_rfc3339_format(ns - ns % 1000000000, secs);
        n = strlen(secs);               /* ends in 'Z' */
        snprintf(text, sizeof text, "%.*s.%09" PRId64 "Z", (int)(n - 1), secs,
                 ns % 1000000000);
    }
    return cJSON_CreateString(text);
}

static int time_parse(const cJSON *item, int64_t *ns)
{
    const char *s = cJSON_GetStringValue(item);
    char *end;

    if (s == NULL)
        return vrm_error(EINVAL, "a time is not a string");
    if (s[0] == '-') {
        errno = 0;
        long long v = strtoll(s, &end, 10);

        if (errno != 0 || *end != '\0' || end == s + 1)
            return vrm_error(EINVAL, "\"%.40s\" is not a time", s);
        *ns = v;
        return 0;
    }
    return vrm_rfc3339_parse(s, ns);
}

static void hex(char out[crypto_hash_sha256_BYTES * 2 + 1],
                const unsigned char h[crypto_hash_sha256_BYTES])
{
    sodium_bin2hex(out, crypto_hash_sha256_BYTES * 2 + 1, h, crypto_hash_sha256_BYTES);
}

static int sys_error(int err, const char *what, const char *path)
{
    return vrm_error(err, "%s %s: %s", what, path, strerror(err));
}

/* Write all of buf[0..len) to fd, naming `path` on failure. */
static int write_all(int fd, const void *buf, size_t len, const char *path)
{
    int rc = vrm_write_all(fd, buf, len);

    return rc == 0 ? 0 : sys_error(-rc, "cannot write", path);
}

/* Make every missing directory of `path` (a file's path), mode 0700. */
static int make_parents(char *path)
{
    char *slash;

    for (slash = strchr(path + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            int rc = sys_error(errno, "cannot make", path);

            *slash = '/';
            return rc;
        }
        *slash = '/';
    }
    return 0;
}

/* ---- export ------------------------------------------------------------- */

typedef struct hardlink {
    uint64_t ino;
    char *path;                         /* its first path in files/ */
} hardlink;

typedef struct exporter {
    vrm_vault *v;
    const char *dir;
    vrm_progress_fn progress;
    void *ctx;
    uint64_t done, total;
    cJSON *indexes;                     /* export.json "indexes" */
    cJSON *counts;                      /* export.json "counts" */
    hardlink *links;                    /* inodes with more than one name seen */
    size_t nlinks, caplinks;
    int is_root;                        /* may give files their owners */
} exporter;

/* dir/rel, into buf (PATH_MAX). */
static int out_path(const exporter *e, const char *rel, char *buf)
{
    if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", e->dir, rel) >= PATH_MAX)
        return vrm_error(ENAMETOOLONG, "path too long in the export: %s/%s", e->dir, rel);
    return 0;
}

/* Write a new file `rel` holding data[0..len), mode 0600, making its
 * directories.  With `sha`, its sha256 in hex. */
static int put_file(const exporter *e, const char *rel, const void *data, size_t len,
                    char *sha)
{
    char path[PATH_MAX];
    int fd, rc;

    if ((rc = out_path(e, rel, path)) != 0 || (rc = make_parents(path)) != 0)
        return rc;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return sys_error(errno, "cannot create", path);
    rc = write_all(fd, data, len, path);
    if (close(fd) != 0 && rc == 0)
        rc = sys_error(errno, "cannot write", path);
    if (rc == 0 && sha != NULL) {
        unsigned char h[crypto_hash_sha256_BYTES];

        crypto_hash_sha256(h, data, len);
        hex(sha, h);
    }
    return rc;
}

/* An index file being written: its lines, hashed as they go. */
typedef struct index_out {
    FILE *f;
    char rel[64];
    crypto_hash_sha256_state sha;
    uint64_t rows;
} index_out;

static int index_open(const exporter *e, index_out *ix, const char *rel)
{
    char path[PATH_MAX];
    int fd, rc;

    snprintf(ix->rel, sizeof ix->rel, "%s", rel);
    ix->rows = 0;
    crypto_hash_sha256_init(&ix->sha);
    if ((rc = out_path(e, rel, path)) != 0 || (rc = make_parents(path)) != 0)
        return rc;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || (ix->f = fdopen(fd, "w")) == NULL) {
        rc = sys_error(errno, "cannot create", path);
        if (fd >= 0)
            close(fd);
        return rc;
    }
    return 0;
}

/* Append `row` (consumed) as one line. */
static int index_add(index_out *ix, cJSON *row)
{
    char *text = row != NULL ? cJSON_PrintUnformatted(row) : NULL;
    size_t n;
    int rc = 0;

    cJSON_Delete(row);
    if (text == NULL)
        return vrm_error(ENOMEM, "out of memory writing %s", ix->rel);
    n = strlen(text);
    text[n] = '\n';                     /* over the NUL: written by length */
    crypto_hash_sha256_update(&ix->sha, (const unsigned char *)text, n + 1);
    if (fwrite(text, 1, n + 1, ix->f) != n + 1)
        rc = sys_error(errno ? errno : EIO, "cannot write", ix->rel);
    free(text);
    ix->rows++;
    return rc;
}

/* Close it and name it in the manifest. */
static int index_close(exporter *e, index_out *ix, int rc)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char sha[crypto_hash_sha256_BYTES * 2 + 1];
    cJSON *entry;

    if (ix->f == NULL)
        return rc;
    if (fclose(ix->f) != 0 && rc == 0)
        rc = sys_error(errno, "cannot write", ix->rel);
    ix->f = NULL;
    if (rc != 0)
        return rc;
    crypto_hash_sha256_final(&ix->sha, h);
    hex(sha, h);
    entry = cJSON_AddObjectToObject(e->indexes, ix->rel);
    if (entry == NULL || cJSON_AddStringToObject(entry, "sha256", sha) == NULL ||
        cJSON_AddNumberToObject(entry, "rows", (double)ix->rows) == NULL)
        return vrm_error(ENOMEM, "out of memory");
    return 0;
}

/* Column `i` of row `st` as JSON, by its kind. */
static cJSON *column_json(sqlite3_stmt *st, int i, int kind)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return (kind == C_NTEXT || kind == C_NTIME) ? cJSON_CreateNull() : NULL;
    switch (kind) {
    case C_TEXT:
    case C_NTEXT:
        return cJSON_CreateString((const char *)sqlite3_column_text(st, i));
    case C_INT:
        return cJSON_CreateNumber((double)sqlite3_column_int64(st, i));
    case C_TIME:
    case C_NTIME:
        return time_json(sqlite3_column_int64(st, i));
    default: {
        const unsigned char *b = sqlite3_column_blob(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
        char *text = malloc(cap);
        cJSON *item;

        if (text == NULL)
            return NULL;
        sodium_bin2base64(text, cap, b != NULL ? b : (const unsigned char *)"", n,
                          sodium_base64_VARIANT_ORIGINAL);
        item = cJSON_CreateString(text);
        free(text);
        return item;
    }
    }
}

/* Readable copies of some rows, for the person (export.h). */
static int readable_copy(const exporter *e, const table *t, const cJSON *row)
{
    const char *vendor = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "vendor"));
    char rel[PATH_MAX];
    const char *text = NULL;
    cJSON *parsed = NULL;
    char *pretty = NULL;
    size_t len = 0;
    int rc;

    if (strcmp(t->name, "receipts") == 0) {
        snprintf(rel, sizeof rel, "receipts/%s/%d.jws", vendor,
                 (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "n")));
        text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "jws"));
    } else if (strcmp(t->name, "messages") == 0 || strcmp(t->name, "inbox") == 0) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "id"));
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(row, "state");

        if (state != NULL)
            snprintf(rel, sizeof rel, "messages/%s/%s/%s.json", vendor,
                     cJSON_GetNumberValue(state) == 1 ? "sent" : "pending", id);
        else
            snprintf(rel, sizeof rel, "inbox/%s/%s.json", vendor, id);
        text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "payload"));
    } else if (strcmp(t->name, "vendors") == 0) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "name"));

        snprintf(rel, sizeof rel, "vendors/%s/vendor.json", name);
        text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "body"));
    } else if (strcmp(t->name, "custom_queries") == 0) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "name"));

        snprintf(rel, sizeof rel, "analytics/custom/%s.sql", name);
        text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "sql"));
        return put_file(e, rel, text, strlen(text), NULL);
    } else {
        return 0;
    }
    if (text == NULL)
        return 0;
    if (rel[strlen(rel) - 1] == 'n') {  /* .json: pretty, as the mount shows it */
        if (vrm_json_parse_object(text, strlen(text), &parsed) == 0 &&
            vrm_json_pretty(parsed, &pretty, &len) == 0)
            text = pretty;
        else
            len = strlen(text);
        cJSON_Delete(parsed);
    } else {
        len = strlen(text);
    }
    rc = put_file(e, rel, text, len, NULL);
    free(pretty);
    return rc;
}

/* tables/NAME.jsonl, one line per row. */
static int export_table(exporter *e, const table *t)
{
    char sql[512], rel[64];
    size_t off;
    index_out ix = {0};
    sqlite3_stmt *st = NULL;
    int i, step, rc;

    off = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    for (i = 0; t->cols[i].name != NULL; i++)
        off += (size_t)snprintf(sql + off, sizeof sql - off, "%s%s", i ? ", " : "",
                                t->cols[i].name);
    snprintf(sql + off, sizeof sql - off, " FROM %s ORDER BY %s", t->name, t->order);
    snprintf(rel, sizeof rel, "tables/%s.jsonl", t->name);
    rc = index_open(e, &ix, rel);
    vrm_vault_lock(e->v);
    if (rc == 0 && sqlite3_prepare_v2(vrm_vault_sqlite(e->v), sql, -1, &st, NULL) != SQLITE_OK)
        rc = vrm_vault_sqlerr(e->v, "cannot read the vault");
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *row = cJSON_CreateObject();

        for (i = 0; row != NULL && t->cols[i].name != NULL; i++) {
            cJSON *item = column_json(st, i, t->cols[i].kind);

            if (item == NULL || !cJSON_AddItemToObject(row, t->cols[i].name, item)) {
                cJSON_Delete(item);
                cJSON_Delete(row);
                row = NULL;
            }
        }
        if (row == NULL) {
            rc = vrm_error(ENOMEM, "out of memory reading %s", t->name);
            break;
        }
        rc = readable_copy(e, t, row);
        if (rc == 0)
            rc = index_add(&ix, row);
        else
            cJSON_Delete(row);
        progress_step(e->progress, e->ctx, &e->done, e->total);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = vrm_vault_sqlerr(e->v, "cannot read the vault");
    sqlite3_finalize(st);
    vrm_vault_unlock(e->v);
    rc = index_close(e, &ix, rc);
    if (rc == 0 && !cJSON_AddNumberToObject(e->counts, t->name, (double)ix.rows))
        rc = -ENOMEM;
    return rc;
}

/* A readable copy of one text per vendor. */
typedef int (*vendor_text_fn)(vrm_vault *v, const char *vendor, char **out, size_t *len);

static int grants_text(vrm_vault *v, const char *vendor, char **out, size_t *len)
{
    return vrm_grants_get(v, vendor, out, len, NULL);
}

/* For each vendor `list_sql` names, read(vendor) as the file
 * PREFIX VENDOR SUFFIX. */
static int export_per_vendor(exporter *e, const char *list_sql, vendor_text_fn read,
                             const char *prefix, const char *suffix)
{
    sqlite3_stmt *st = NULL;
    vrm_names names = VRM_NAMES_INIT;
    size_t i;
    int rc = 0, step = SQLITE_DONE;

    vrm_vault_lock(e->v);
    if (sqlite3_prepare_v2(vrm_vault_sqlite(e->v), list_sql, -1, &st, NULL) != SQLITE_OK)
        rc = vrm_vault_sqlerr(e->v, "cannot read the vault");
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = vrm_names_add(&names, (const char *)sqlite3_column_text(st, 0));
    if (rc == 0 && step != SQLITE_DONE)
        rc = vrm_vault_sqlerr(e->v, "cannot read the vault");
    sqlite3_finalize(st);
    vrm_vault_unlock(e->v);
    for (i = 0; rc == 0 && i < names.n; i++) {
        char rel[PATH_MAX], *text = NULL;
        size_t len;

        rc = read(e->v, names.names[i], &text, &len);
        if (rc == 0) {
            snprintf(rel, sizeof rel, "%s%s%s", prefix, names.names[i], suffix);
            rc = put_file(e, rel, text, len, NULL);
        }
        free(text);
    }
    vrm_names_release(&names);
    return rc;
}

/* records.jsonl and records/COLL/NAME.json. */
static int export_records(exporter *e)
{
    index_out ix = {0};
    sqlite3_stmt *st = NULL;
    int rc, step = SQLITE_DONE;

    rc = index_open(e, &ix, "records.jsonl");
    vrm_vault_lock(e->v);
    if (rc == 0 && sqlite3_prepare_v2(vrm_vault_sqlite(e->v),
                                      "SELECT collection, name, body, created, updated "
                                      "FROM records ORDER BY collection, name",
                                      -1, &st, NULL) != SQLITE_OK)
        rc = vrm_vault_sqlerr(e->v, "cannot read the records");
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *coll = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *body = (const char *)sqlite3_column_text(st, 2);
        char rel[PATH_MAX], sha[crypto_hash_sha256_BYTES * 2 + 1];
        cJSON *parsed = NULL, *row;
        char *pretty = NULL;
        size_t len;

        rc = vrm_json_parse_object(body, strlen(body), &parsed);
        if (rc == 0)
            rc = vrm_json_pretty(parsed, &pretty, &len);
        cJSON_Delete(parsed);
        if (rc == 0) {
            snprintf(rel, sizeof rel, "records/%s/%s.json", coll, name);
            rc = put_file(e, rel, pretty, len, sha);
        }
        free(pretty);
        if (rc == 0) {
            char path[PATH_MAX];
            int64_t up = sqlite3_column_int64(st, 4);
            struct timespec ts[2] = {{up / 1000000000, up % 1000000000},
                                     {up / 1000000000, up % 1000000000}};

            if (up >= 0 && out_path(e, rel, path) == 0)
                utimensat(AT_FDCWD, path, ts, 0);   /* a nicety: ls -l shows it */
            row = cJSON_CreateObject();
            if (row == NULL || !cJSON_AddStringToObject(row, "collection", coll) ||
                !cJSON_AddStringToObject(row, "name", name) ||
                !cJSON_AddItemToObject(row, "created", time_json(sqlite3_column_int64(st, 3))) ||
                !cJSON_AddItemToObject(row, "updated", time_json(up)) ||
                !cJSON_AddStringToObject(row, "sha256", sha)) {
                cJSON_Delete(row);
                rc = vrm_error(ENOMEM, "out of memory");
            } else {
                rc = index_add(&ix, row);
            }
        }
        progress_step(e->progress, e->ctx, &e->done, e->total);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = vrm_vault_sqlerr(e->v, "cannot read the records");
    sqlite3_finalize(st);
    vrm_vault_unlock(e->v);
    rc = index_close(e, &ix, rc);
    if (rc == 0 && !cJSON_AddNumberToObject(e->counts, "records", (double)ix.rows))
        rc = -ENOMEM;
    return rc;
}

/* ---- export of files/ --------------------------------------------------- */

typedef struct dirent_copy {
    char *name;
    vrm_stat st;
} dirent_copy;

typedef struct dir_list {
    dirent_copy *v;
    size_t n, cap;
} dir_list;

static int collect(void *ctx, const char *name, const vrm_stat *st)
{
    dir_list *l = ctx;

    if (vrm_array_grow(&l->v, &l->cap, l->n, sizeof *l->v) != 0)
        return -ENOMEM;
    if ((l->v[l->n].name = strdup(name)) == NULL)
        return -ENOMEM;
    l->v[l->n++].st = *st;
    return 0;
}

static void dir_list_free(dir_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
}

static const char *link_first(const exporter *e, uint64_t ino)
{
    size_t i;

    for (i = 0; i < e->nlinks; i++)
        if (e->links[i].ino == ino)
            return e->links[i].path;
    return NULL;
}

static int link_note(exporter *e, uint64_t ino, const char *path)
{
    if (vrm_array_grow(&e->links, &e->caplinks, e->nlinks, sizeof *e->links) != 0)
        return -ENOMEM;
    if ((e->links[e->nlinks].path = strdup(path)) == NULL)
        return -ENOMEM;
    e->links[e->nlinks++].ino = ino;
    return 0;
}

/* The user.* attributes of `ino` as {name: base64}, set on `out` too when
 * the file system there keeps them. */
static int xattrs_json(vrm_vault *v, uint64_t ino, const char *out, cJSON *row)
{
    char *list = NULL;
    int len, rc = 0;
    const char *name;
    cJSON *obj;

    len = vrm_files_listxattr(v, ino, NULL, 0);
    if (len <= 0)
        return len;
    if ((list = malloc((size_t)len)) == NULL)
        return -ENOMEM;
    len = vrm_files_listxattr(v, ino, list, (size_t)len);
    obj = cJSON_AddObjectToObject(row, "xattrs");
    if (len < 0 || obj == NULL)
        rc = len < 0 ? len : -ENOMEM;
    for (name = list; rc == 0 && name < list + len; name += strlen(name) + 1) {
        int n = vrm_files_getxattr(v, ino, name, NULL, 0);
        unsigned char *val = NULL;
        char *b64 = NULL;
        size_t cap;

        if (n < 0) {
            rc = n;
            break;
        }
        cap = sodium_base64_ENCODED_LEN((size_t)n, sodium_base64_VARIANT_ORIGINAL);
        val = malloc((size_t)n + 1);
        b64 = malloc(cap);
        if (val == NULL || b64 == NULL)
            rc = -ENOMEM;
        else if ((n = vrm_files_getxattr(v, ino, name, val, (size_t)n)) < 0)
            rc = n;
        if (rc == 0) {
            sodium_bin2base64(b64, cap, val, (size_t)n, sodium_base64_VARIANT_ORIGINAL);
            if (!cJSON_AddStringToObject(obj, name, b64))
                rc = -ENOMEM;
            else
                lsetxattr(out, name, val, (size_t)n, 0);   /* if the disk keeps them */
        }
        free(val);
        free(b64);
    }
    free(list);
    return rc;
}

/* Copy regular file `ino` into the new file `out`; its sha256 in hex. */
static int copy_out(vrm_vault *v, uint64_t ino, const char *out, char *sha)
{
    crypto_hash_sha256_state hs;
    unsigned char h[crypto_hash_sha256_BYTES];
    char *buf = malloc(IO_CHUNK);
    uint64_t off = 0;
    int fd, rc = 0;

    if (buf == NULL)
        return -ENOMEM;
    fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        free(buf);
        return sys_error(errno, "cannot create", out);
    }
    crypto_hash_sha256_init(&hs);
    for (;;) {
        ssize_t n = vrm_files_read(v, ino, buf, IO_CHUNK, off);

        if (n <= 0) {
            rc = (int)n;
            break;
        }
        crypto_hash_sha256_update(&hs, (unsigned char *)buf, (size_t)n);
        if ((rc = write_all(fd, buf, (size_t)n, out)) != 0)
            break;
        off += (uint64_t)n;
    }
    if (close(fd) != 0 && rc == 0)
        rc = sys_error(errno, "cannot write", out);
    crypto_hash_sha256_final(&hs, h);
    hex(sha, h);
    free(buf);
    return rc;
}

/* Set what a copy can carry of st on `out`: mode, owner (as root), times. */
static void apply_meta(const exporter *e, const char *out, const vrm_stat *st)
{
    struct timespec ts[2] = {{st->atime_ns / 1000000000, st->atime_ns % 1000000000},
                             {st->mtime_ns / 1000000000, st->mtime_ns % 1000000000}};

    if (e->is_root && lchown(out, st->uid, st->gid) != 0) {
        /* the copy keeps the exporter's owner; files.jsonl has the real one */
    }
    if (!S_ISLNK(st->mode))
        chmod(out, st->mode & 07777);
    if (st->atime_ns >= 0 && st->mtime_ns >= 0)
        utimensat(AT_FDCWD, out, ts, AT_SYMLINK_NOFOLLOW);
}

static int export_entry(exporter *e, index_out *ix, const char *vpath, const vrm_stat *st);

/* The entries of directory `vpath` (ino), depth first, parents first in the
 * index; the directory's own mode and times are set after its children. */
static int export_dir(exporter *e, index_out *ix, const char *vpath, uint64_t ino)
{
    dir_list l = {NULL, 0, 0};
    size_t i;
    int rc = vrm_files_readdir(e->v, ino, NULL, collect, &l);

    for (i = 0; rc == 0 && i < l.n; i++) {
        char child[PATH_MAX];

        if ((size_t)snprintf(child, sizeof child, "%s/%s", strcmp(vpath, "/") ? vpath : "",
                             l.v[i].name) >= sizeof child) {
            rc = vrm_error(ENAMETOOLONG, "path too long: %s/%s", vpath, l.v[i].name);
            break;
        }
        rc = export_entry(e, ix, child, &l.v[i].st);
    }
    dir_list_free(&l);
    return rc;
}

static int export_entry(exporter *e, index_out *ix, const char *vpath, const vrm_stat *st)
{
    char out[PATH_MAX], mode[8], sha[crypto_hash_sha256_BYTES * 2 + 1];
    const char *first = NULL;
    cJSON *row = cJSON_CreateObject();
    int rc;

    if (row == NULL)
        return -ENOMEM;
    if ((size_t)snprintf(out, sizeof out, "%s/files%s", e->dir,
                         strcmp(vpath, "/") ? vpath : "") >= sizeof out) {
        cJSON_Delete(row);
        return vrm_error(ENAMETOOLONG, "path too long in the export: %s", vpath);
    }
    snprintf(mode, sizeof mode, "%04o", st->mode & 07777);
    if (!cJSON_AddStringToObject(row, "path", vpath) ||
        !cJSON_AddStringToObject(row, "type", S_ISDIR(st->mode)   ? "dir"
                                              : S_ISLNK(st->mode) ? "symlink"
                                                                  : "file") ||
        !cJSON_AddStringToObject(row, "mode", mode) ||
        !cJSON_AddNumberToObject(row, "uid", st->uid) ||
        !cJSON_AddNumberToObject(row, "gid", st->gid) ||
        !cJSON_AddItemToObject(row, "atime", time_json(st->atime_ns)) ||
        !cJSON_AddItemToObject(row, "mtime", time_json(st->mtime_ns)) ||
        !cJSON_AddItemToObject(row, "ctime", time_json(st->ctime_ns))) {
        cJSON_Delete(row);
        return -ENOMEM;
    }
    if (S_ISDIR(st->mode)) {
        rc = mkdir(out, 0700) == 0 || (errno == EEXIST && strcmp(vpath, "/") == 0)
                 ? 0 : sys_error(errno, "cannot make", out);
    } else if (S_ISLNK(st->mode)) {
        char target[VRM_FILES_SYMLINK_MAX + 1];
        int n = vrm_files_readlink(e->v, vpath, target, sizeof target);

        rc = n < 0 ? n : 0;
        if (rc == 0 && !cJSON_AddStringToObject(row, "target", target))
            rc = -ENOMEM;
        if (rc == 0 && symlink(target, out) != 0)
            rc = sys_error(errno, "cannot make the link", out);
    } else if (st->nlink > 1 && (first = link_first(e, st->ino)) != NULL) {
        char from[PATH_MAX];

        snprintf(from, sizeof from, "%s/files%s", e->dir, first);
        rc = cJSON_AddStringToObject(row, "link", first) ? 0 : -ENOMEM;
        if (rc == 0 && link(from, out) != 0)
            rc = sys_error(errno, "cannot link", out);
    } else {
        rc = copy_out(e->v, st->ino, out, sha);
        if (rc == 0 && (!cJSON_AddNumberToObject(row, "size", (double)st->size) ||
                        !cJSON_AddStringToObject(row, "sha256", sha)))
            rc = -ENOMEM;
        if (rc == 0 && st->nlink > 1)
            rc = link_note(e, st->ino, vpath);
    }
    if (rc == 0 && first == NULL && !S_ISLNK(st->mode))
        rc = xattrs_json(e->v, st->ino, out, row);
    if (rc == 0)
        rc = index_add(ix, row);
    else
        cJSON_Delete(row);
    progress_step(e->progress, e->ctx, &e->done, e->total);
    if (rc == 0 && S_ISDIR(st->mode))
        rc = export_dir(e, ix, vpath, st->ino);
    if (rc == 0 && first == NULL)
        apply_meta(e, out, st);
    return rc;
}

static int export_files(exporter *e)
{
    index_out ix = {0};
    vrm_stat root;
    int rc = index_open(e, &ix, "files.jsonl");

    if (rc == 0)
        rc = vrm_files_resolve(e->v, "/", &root);
    if (rc == 0)
        rc = export_entry(e, &ix, "/", &root);
    rc = index_close(e, &ix, rc);
    if (rc == 0 && !cJSON_AddNumberToObject(e->counts, "files", (double)ix.rows))
        rc = -ENOMEM;
    return rc;
}

/* How many items the export writes, for progress. */
static uint64_t count_items(vrm_vault *v)
{
    sqlite3_stmt *st = NULL;
    uint64_t n = 0;
    size_t i;

    vrm_vault_lock(v);
    if (sqlite3_prepare_v2(vrm_vault_sqlite(v),
                           "SELECT (SELECT count(*) FROM records) + (SELECT count(*) FROM dentries)"
                           " + 1", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n += (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    for (i = 0; i < NTABLES; i++) {
        char sql[96];

        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i].name);
        st = NULL;
        if (sqlite3_prepare_v2(vrm_vault_sqlite(v), sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n += (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    vrm_vault_unlock(v);
    return n;
}

static const char readme[] =
    "This directory is an export of a vrmfs vault, in clear.\n"
    "\n"
    "Everything the vault kept encrypted is here as plain files: records\n"
    "(records/), documents (files/), vendors and their grants (vendors/),\n"
    "consent receipts (receipts/), access logs (access/), messages (messages/,\n"
    "inbox/) and custom analytics (analytics/custom/).  export.json also holds\n"
    "the key of your pairwise identities: whoever has this directory can read\n"
    "all of it and speak to your vendors as you.  Keep it on an encrypted disk\n"
    "and delete it when you no longer need it.\n"
    "\n"
    "'vrmfs import-all DIR NEWVAULT' makes a new vault of it.  The index files\n"
    "(export.json, *.jsonl, tables/) describe every item; see vrmfs(1).\n";

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;                           /* remove what can be removed */
}

/* Make directories writable again where files/ made them read-only. */
static int make_writable(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_D || type == FTW_DNR)
        chmod(path, (sb->st_mode & 07777) | 0700);
    return 0;
}

/* Remove `dir` and everything in it. */
static void remove_tree(const char *dir)
{
    nftw(dir, make_writable, 32, FTW_PHYS);
    nftw(dir, remove_one, 32, FTW_PHYS | FTW_DEPTH);
}

/* `dir` made (0700), or existing and empty; 1 in *made if made. */
static int export_dir_prepare(const char *dir, int *made)
{
    DIR *d;
    struct dirent *de;
    int empty = 1;

    *made = 0;
    if (mkdir(dir, 0700) == 0) {
        *made = 1;
        return 0;
    }
    if (errno != EEXIST)
        return sys_error(errno, "cannot make", dir);
    if ((d = opendir(dir)) == NULL)
        return sys_error(errno, "cannot open", dir);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    if (!empty)
        return vrm_error(EEXIST, "%s is not empty: an export goes into a new or empty directory",
                         dir);
    return 0;
}

int vrm_export(vrm_vault *v, const char *dir, vrm_progress_fn progress, void *ctx)
{
    exporter e = {v, dir, progress, ctx, 0, 0, NULL, NULL, NULL, 0, 0, geteuid() == 0};
    uint8_t root[VRM_KEYBYTES];
    char root64[VRM_KEYBYTES * 2], idhex[VRM_VAULT_IDBYTES * 2 + 1];
    cJSON *manifest = cJSON_CreateObject();
    char *text = NULL;
    size_t i, textlen = 0;
    int made = 0, rc;

    rc = export_dir_prepare(dir, &made);
    if (rc != 0) {
        cJSON_Delete(manifest);
        return rc;
    }
    e.total = count_items(v);
    vrm_vault_pairwise_root(v, root);
    sodium_bin2base64(root64, sizeof root64, root, sizeof root,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(root, sizeof root);
    sodium_bin2hex(idhex, sizeof idhex, vrm_vault_id(v), VRM_VAULT_IDBYTES);
    if (manifest == NULL || !cJSON_AddStringToObject(manifest, "format", VRM_EXPORT_FORMAT) ||
        !cJSON_AddNumberToObject(manifest, "version", VRM_EXPORT_VERSION) ||
        !cJSON_AddItemToObject(manifest, "created", time_json(vrm_now_ns())) ||
        !cJSON_AddStringToObject(manifest, "vault", idhex) ||
        !cJSON_AddNumberToObject(manifest, "schema", vrm_schema_version()) ||
        !cJSON_AddStringToObject(manifest, "pairwise_root", root64) ||
        (e.counts = cJSON_AddObjectToObject(manifest, "counts")) == NULL ||
        (e.indexes = cJSON_AddObjectToObject(manifest, "indexes")) == NULL)
        rc = vrm_error(ENOMEM, "out of memory");
    sodium_memzero(root64, sizeof root64);
    if (rc == 0)
        rc = put_file(&e, "README.txt", readme, sizeof readme - 1, NULL);
    if (rc == 0)
        rc = export_records(&e);
    if (rc == 0)
        rc = export_files(&e);
    for (i = 0; rc == 0 && i < NTABLES; i++)
        rc = export_table(&e, &tables[i]);
    if (rc == 0)    /* grants.json as the mount shows it */
        rc = export_per_vendor(&e, "SELECT name FROM vendors ORDER BY name", grants_text,
                               "vendors/", "/grants.json");
    if (rc == 0)    /* the access logs, removed vendors' included */
        rc = export_per_vendor(&e, "SELECT DISTINCT vendor FROM access_log ORDER BY vendor",
                               vrm_accesslog_read, "access/", ".log");
    if (rc == 0) {
        text = cJSON_Print(manifest);
        rc = text == NULL ? vrm_error(ENOMEM, "out of memory") : 0;
    }
    if (rc == 0) {
        textlen = strlen(text);
        text[textlen] = '\n';            /* over the NUL: written by length */
        rc = put_file(&e, "export.json", text, textlen + 1, NULL);
    }
    if (rc == 0) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || syncfs(fd) != 0)
            rc = sys_error(errno, "cannot sync", dir);
        if (fd >= 0)
            close(fd);
    }
    if (text != NULL) {
        sodium_memzero(text, textlen);
        free(text);
    }
    for (i = 0; i < e.nlinks; i++)
        free(e.links[i].path);
    free(e.links);
    cJSON_Delete(manifest);
    if (rc != 0) {
        int err = rc;
        char *msg = strdup(vrm_error_message());

        remove_tree(dir);
        if (!made)
            mkdir(dir, 0700);           /* the empty directory it was given */
        if (msg != NULL) {
            vrm_error(-err, "%s", msg);
            free(msg);
        }
    } else if (progress != NULL) {
        progress(ctx, e.total, e.total);
    }
    return rc;
}

/* ---- import ------------------------------------------------------------- */

typedef struct times_set {
    uint64_t ino;
    int64_t atime, mtime;
} times_set;

typedef struct importer {
    vrm_vault *v;
    const char *dir;
    vrm_progress_fn progress;
    void *ctx;
    uint64_t done, total;
    const cJSON *indexes;               /* the manifest's */
    times_set *times;                   /* files' times, set at the end */
    size_t ntimes, captimes;
} importer;

/* An index being read: its lines, hashed as they come. */
typedef struct index_in {
    FILE *f;
    char rel[64];
    crypto_hash_sha256_state sha;
    char *line;
    size_t cap;
    unsigned long lineno;
    uint64_t rows, want_rows;
    char want_sha[crypto_hash_sha256_BYTES * 2 + 1];
} index_in;

/* Rewrite the message of error `rc` as "REL line N: message". */
static int line_error(const index_in *ix, int rc)
{
    char msg[512];

    snprintf(msg, sizeof msg, "%s", vrm_error_message());
    return vrm_error(-rc, "%s line %lu: %s", ix->rel, ix->lineno, msg);
}

static int in_path(const importer *im, const char *rel, char *buf)
{
    if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", im->dir, rel) >= PATH_MAX)
        return vrm_error(ENAMETOOLONG, "path too long in the export: %s/%s", im->dir, rel);
    return 0;
}

static int index_begin(const importer *im, index_in *ix, const char *rel)
{
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(im->indexes, rel);
    const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "sha256"));
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(entry, "rows");
    char path[PATH_MAX];
    int rc;

    memset(ix, 0, sizeof *ix);
    snprintf(ix->rel, sizeof ix->rel, "%s", rel);
    if (sha == NULL || strlen(sha) != sizeof ix->want_sha - 1 || !cJSON_IsNumber(rows) ||
        rows->valuedouble < 0 || rows->valuedouble > INT_EXACT)
        return vrm_error(EINVAL, "export.json: \"indexes\" has no sha256 and rows for %s", rel);
    memcpy(ix->want_sha, sha, sizeof ix->want_sha);
    ix->want_rows = (uint64_t)rows->valuedouble;
    crypto_hash_sha256_init(&ix->sha);
    if ((rc = in_path(im, rel, path)) != 0)
        return rc;
    if ((ix->f = fopen(path, "re")) == NULL)
        return sys_error(errno, "cannot open", path);
    return 0;
}

/* The next line as a JSON object (*row, or NULL at the end, after checking
 * the whole index against the manifest). */
static int index_next(index_in *ix, cJSON **row)
{
    ssize_t n;
    int rc;

    *row = NULL;
    errno = 0;
    n = getline(&ix->line, &ix->cap, ix->f);
    if (n < 0) {
        unsigned char h[crypto_hash_sha256_BYTES];
        char got[crypto_hash_sha256_BYTES * 2 + 1];

        if (ferror(ix->f))
            return sys_error(errno ? errno : EIO, "cannot read", ix->rel);
        crypto_hash_sha256_final(&ix->sha, h);
        hex(got, h);
        if (sodium_memcmp(got, ix->want_sha, sizeof got) != 0)
            return vrm_error(EBADMSG, "%s does not match its sha256 in export.json: changed "
                             "or damaged", ix->rel);
        if (ix->rows != ix->want_rows)
            return vrm_error(EBADMSG, "%s has %" PRIu64 " rows, export.json says %" PRIu64,
                             ix->rel, ix->rows, ix->want_rows);
        return 0;
    }
    ix->lineno++;
    crypto_hash_sha256_update(&ix->sha, (unsigned char *)ix->line, (size_t)n);
    if ((size_t)n > LINE_MAX_BYTES || ix->line[n - 1] != '\n')
        return line_error(ix, vrm_error(EINVAL, "a line too long, or not ended"));
    rc = vrm_json_parse_object(ix->line, (size_t)n - 1, row);
    if (rc != 0)
        return line_error(ix, rc);
    ix->rows++;
    return 0;
}

static void index_end(index_in *ix)
{
    if (ix->f != NULL)
        fclose(ix->f);
    free(ix->line);
    ix->f = NULL;
    ix->line = NULL;
}

/* `row` has exactly the keys in `keys` (NULL-terminated), those marked
 * optional ('?' first) perhaps missing. */
static int check_keys(const cJSON *row, const char *const *keys)
{
    const cJSON *item;
    size_t i;

    cJSON_ArrayForEach(item, row) {
        for (i = 0; keys[i] != NULL; i++)
            if (strcmp(item->string, keys[i] + (keys[i][0] == '?')) == 0)
                break;
        if (keys[i] == NULL)
            return vrm_error(EINVAL, "unknown key \"%.64s\"", item->string);
    }
    for (i = 0; keys[i] != NULL; i++)
        if (keys[i][0] != '?' && cJSON_GetObjectItemCaseSensitive(row, keys[i]) == NULL)
            return vrm_error(EINVAL, "no \"%s\"", keys[i]);
    return 0;
}

static const char *str_of(const cJSON *row, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, key));
}

static int int_of(const cJSON *row, const char *key, double max, int64_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(row, key);
    double d = cJSON_GetNumberValue(item);

    if (!cJSON_IsNumber(item) || d != (double)(int64_t)d || d < -INT_EXACT || d > max)
        return vrm_error(EINVAL, "\"%s\" is not an integer in range", key);
    *out = (int64_t)d;
    return 0;
}

/* Base64 (original variant) to bytes: *out (malloc'd) and *len. */
static int unbase64(const char *text, unsigned char **out, size_t *len)
{
    size_t n = strlen(text);

    *out = malloc(n / 4 * 3 + 3);
    if (*out == NULL)
        return -ENOMEM;
    if (sodium_base642bin(*out, n / 4 * 3 + 3, text, n, NULL, len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(*out);
        *out = NULL;
        return vrm_error(EINVAL, "not base64: \"%.40s\"", text);
    }
    return 0;
}

/* Bind the value of `row` for column `c` to parameter `i` of st. */
static int bind_column(sqlite3_stmt *st, int i, const column *c, const cJSON *row)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(row, c->name);
    int64_t n;
    int rc;

    if (cJSON_IsNull(item) && (c->kind == C_NTEXT || c->kind == C_NTIME))
        return sqlite3_bind_null(st, i) == SQLITE_OK ? 0 : -ENOMEM;
    switch (c->kind) {
    case C_TEXT:
    case C_NTEXT:
        if (!cJSON_IsString(item))
            return vrm_error(EINVAL, "\"%s\" is not a string", c->name);
        if (c->check != NULL && (rc = c->check(item->valuestring)) != 0)
            return vrm_error(-rc, "\"%s\": %s", c->name, vrm_error_message());
        return sqlite3_bind_text(st, i, item->valuestring, -1, SQLITE_TRANSIENT) == SQLITE_OK
                   ? 0 : -ENOMEM;
    case C_INT:
        if ((rc = int_of(row, c->name, INT_EXACT, &n)) != 0)
            return rc;
        return sqlite3_bind_int64(st, i, n) == SQLITE_OK ? 0 : -ENOMEM;
    case C_TIME:
    case C_NTIME:
        if ((rc = time_parse(item, &n)) != 0)
            return vrm_error(EINVAL, "\"%s\": %s", c->name, vrm_error_message());
        return sqlite3_bind_int64(st, i, n) == SQLITE_OK ? 0 : -ENOMEM;
    default: {
        unsigned char *bin;
        size_t len;

        if (!cJSON_IsString(item))
            return vrm_error(EINVAL, "\"%s\" is not a string", c->name);
        if ((rc = unbase64(item->valuestring, &bin, &len)) != 0)
            return rc;
        return sqlite3_bind_blob(st, i, bin, (int)len, free) == SQLITE_OK ? 0 : -ENOMEM;
    }
    }
}

/* Each line of the index `rel` through fn(im, row, ctx), with the vault
 * locked, RECORDS_PER_TX rows a transaction.  An error names the line. */
typedef int (*row_fn)(importer *im, const cJSON *row, void *ctx);

static int import_rows(importer *im, const char *rel, row_fn fn, void *ctx)
{
    index_in ix;
    int in_tx = 0, rc = index_begin(im, &ix, rel);

    vrm_vault_lock(im->v);
    while (rc == 0) {
        cJSON *row;

        if ((rc = index_next(&ix, &row)) != 0 || row == NULL)
            break;
        if (!in_tx && (rc = vrm_tx_begin(im->v)) == 0)
            in_tx = 1;
        if (rc == 0)
            rc = fn(im, row, ctx);
        cJSON_Delete(row);
        if (rc != 0)
            rc = line_error(&ix, rc);
        else if (ix.rows % RECORDS_PER_TX == 0) {
            in_tx = 0;
            rc = vrm_tx_finish(im->v, 0);
        }
        progress_step(im->progress, im->ctx, &im->done, im->total);
    }
    if (in_tx)
        rc = vrm_tx_finish(im->v, rc);
    vrm_vault_unlock(im->v);
    index_end(&ix);
    return rc;
}

/* A table's INSERT, prepared, and the keys its lines must have. */
typedef struct table_insert {
    const table *t;
    sqlite3_stmt *st;
    const char *keys[16];
} table_insert;

static int insert_row(importer *im, const cJSON *row, void *ctx)
{
    table_insert *ti = ctx;
    int i, rc = check_keys(row, ti->keys);

    for (i = 0; rc == 0 && ti->t->cols[i].name != NULL; i++)
        rc = bind_column(ti->st, i + 1, &ti->t->cols[i], row);
    if (rc == 0 && sqlite3_step(ti->st) != SQLITE_DONE)
        rc = vrm_vault_sqlerr(im->v, "cannot store the row");
    sqlite3_reset(ti->st);
    sqlite3_clear_bindings(ti->st);
    return rc;
}

/* tables/NAME.jsonl back into its table. */
static int import_table(importer *im, const table *t)
{
    char sql[512], rel[64];
    table_insert ti = {t, NULL, {NULL}};
    size_t off;
    int i, ncols, rc = 0;

    off = (size_t)snprintf(sql, sizeof sql, "INSERT INTO %s(", t->name);
    for (i = 0; t->cols[i].name != NULL; i++) {
        off += (size_t)snprintf(sql + off, sizeof sql - off, "%s%s", i ? ", " : "",
                                t->cols[i].name);
        ti.keys[i] = t->cols[i].name;
    }
    ncols = i;
    ti.keys[i] = NULL;
    off += (size_t)snprintf(sql + off, sizeof sql - off, ") VALUES (");
    for (i = 0; i < ncols; i++)
        off += (size_t)snprintf(sql + off, sizeof sql - off, "%s?%d", i ? ", " : "", i + 1);
    snprintf(sql + off, sizeof sql - off, ")");
    snprintf(rel, sizeof rel, "tables/%s.jsonl", t->name);
    vrm_vault_lock(im->v);
    if (sqlite3_prepare_v2(vrm_vault_sqlite(im->v), sql, -1, &ti.st, NULL) != SQLITE_OK)
        rc = vrm_vault_sqlerr(im->v, "cannot write the vault");
    vrm_vault_unlock(im->v);
    if (rc == 0)
        rc = import_rows(im, rel, insert_row, &ti);
    vrm_vault_lock(im->v);
    sqlite3_finalize(ti.st);
    vrm_vault_unlock(im->v);
    return rc;
}

/* Read the whole file `path` (at most `max` bytes) into *out (malloc'd). */
static int slurp(const char *path, size_t max, char **out, size_t *len)
{
    int rc = vrm_file_read(AT_FDCWD, path, max, out, len);

    if (rc == -EINVAL || rc == -EFBIG)
        return vrm_error(EINVAL, "%s is not a regular file of at most %zu bytes", path, max);
    if (rc == -ENOMEM)
        return rc;
    return rc == 0 ? 0 : sys_error(-rc, "cannot read", path);
}

static int sha_matches(const void *data, size_t len, const char *want)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char got[crypto_hash_sha256_BYTES * 2 + 1];

    crypto_hash_sha256(h, data, len);
    hex(got, h);
    return want != NULL && strlen(want) == sizeof got - 1 &&
           sodium_memcmp(got, want, sizeof got) == 0;
}

/* One line of records.jsonl: the record from its file.  Locked, in a
 * transaction (import_rows). */
static int import_record(importer *im, const cJSON *row, void *ctx)
{
    static const char *const keys[] = {"collection", "name", "created", "updated", "sha256",
                                       NULL};
    const char *coll = str_of(row, "collection"), *name = str_of(row, "name");
    char rel[PATH_MAX], path[PATH_MAX], *text = NULL, *compact = NULL;
    size_t len, clen, plen;
    int64_t created, updated;
    sqlite3_stmt *st;
    int rc;

    (void)ctx;
    if ((rc = check_keys(row, keys)) != 0)
        return rc;
    if (coll == NULL || name == NULL)
        return vrm_error(EINVAL, "\"collection\" and \"name\" must be strings");
    if ((rc = vrm_collection_name_valid(coll)) != 0 || (rc = vrm_record_name_valid(name)) != 0 ||
        (rc = time_parse(cJSON_GetObjectItemCaseSensitive(row, "created"), &created)) != 0 ||
        (rc = time_parse(cJSON_GetObjectItemCaseSensitive(row, "updated"), &updated)) != 0)
        return rc;
    snprintf(rel, sizeof rel, "records/%s/%s.json", coll, name);
    if ((rc = in_path(im, rel, path)) != 0 || (rc = slurp(path, LINE_MAX_BYTES, &text, &len)) != 0)
        return rc;
    if (!sha_matches(text, len, str_of(row, "sha256")))
        rc = vrm_error(EBADMSG, "%s does not match its sha256: changed or damaged", rel);
    if (rc == 0)
        rc = vrm_record_prepare(text, len, &compact, &clen, &plen);
    if (rc == 0)
        rc = vrm_record_put_locked(im->v, coll, name, compact, clen, plen, VRM_PUT_CREATE, NULL);
    if (rc == 0)
        rc = vrm_vault_stmt(im->v, "UPDATE records SET created = ?1, updated = ?2 "
                            "WHERE collection = ?3 AND name = ?4", &st);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, created);
        sqlite3_bind_int64(st, 2, updated);
        sqlite3_bind_text(st, 3, coll, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = vrm_vault_sqlerr(im->v, "cannot store a record's times");
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    free(compact);
    free(text);
    return rc;
}

static int import_records(importer *im)
{
    return import_rows(im, "records.jsonl", import_record, NULL);
}

/* A path of files.jsonl: "/" or "/a/b" with no empty, "." or ".." part. */
static int vpath_valid(const char *p)
{
    const char *s;

    if (p == NULL || p[0] != '/')
        return vrm_error(EINVAL, "\"path\" must start with /");
    if (p[1] == '\0')
        return 0;
    for (s = p; *s != '\0';) {
        const char *e = strchr(s + 1, '/');
        size_t n = (e ? (size_t)(e - s) : strlen(s)) - 1;

        if (n == 0 || (n == 1 && s[1] == '.') || (n == 2 && s[1] == '.' && s[2] == '.'))
            return vrm_error(EINVAL, "\"%.64s\" is not a clean path", p);
        s = e ? e : s + n + 1;
    }
    return 0;
}

/* Copy the export's files/`vpath` into regular file `ino`, checking size
 * and sha256. */
static int copy_in(importer *im, const char *vpath, uint64_t ino, const cJSON *row)
{
    crypto_hash_sha256_state hs;
    unsigned char h[crypto_hash_sha256_BYTES];
    char path[PATH_MAX], got[crypto_hash_sha256_BYTES * 2 + 1];
    const char *want = str_of(row, "sha256");
    char *buf;
    int64_t size;
    uint64_t off = 0;
    int fd, rc;

    if ((rc = int_of(row, "size", INT_EXACT, &size)) != 0 || size < 0)
        return rc ? rc : vrm_error(EINVAL, "\"size\" is negative");
    if (want == NULL || strlen(want) != sizeof got - 1)
        return vrm_error(EINVAL, "\"sha256\" is missing or malformed");
    if ((size_t)snprintf(path, sizeof path, "%s/files%s", im->dir, vpath) >= sizeof path)
        return vrm_error(ENAMETOOLONG, "path too long: %s", vpath);
    if ((buf = malloc(IO_CHUNK)) == NULL)
        return -ENOMEM;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        free(buf);
        return sys_error(errno, "cannot open", path);
    }
    crypto_hash_sha256_init(&hs);
    for (;;) {
        ssize_t n = read(fd, buf, IO_CHUNK);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sys_error(errno, "cannot read", path);
            break;
        }
        if (n == 0)
            break;
        crypto_hash_sha256_update(&hs, (unsigned char *)buf, (size_t)n);
        n = vrm_files_write(im->v, ino, buf, (size_t)n, off);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        off += (uint64_t)n;
    }
    close(fd);
    free(buf);
    crypto_hash_sha256_final(&hs, h);
    hex(got, h);
    if (rc == 0 && (off != (uint64_t)size || sodium_memcmp(got, want, sizeof got) != 0))
        rc = vrm_error(EBADMSG, "files%s does not match its size and sha256: changed or "
                       "damaged", vpath);
    return rc;
}

static int set_xattrs(importer *im, uint64_t ino, const cJSON *row)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(row, "xattrs"), *item;
    int rc = 0;

    if (obj == NULL)
        return 0;
    if (!cJSON_IsObject(obj))
        return vrm_error(EINVAL, "\"xattrs\" is not an object");
    cJSON_ArrayForEach(item, obj) {
        unsigned char *val;
        size_t len;

        if (!cJSON_IsString(item))
            return vrm_error(EINVAL, "xattr \"%.64s\" is not a string", item->string);
        if ((rc = unbase64(item->valuestring, &val, &len)) != 0)
            return rc;
        rc = vrm_files_setxattr(im->v, ino, item->string, val, len, 0);
        free(val);
        if (rc != 0)
            return vrm_error(-rc, "xattr \"%.64s\": %s", item->string, vrm_error_message());
    }
    return 0;
}

/* Note the times to give `ino` once every name is in place. */
static int times_add(importer *im, uint64_t ino, int64_t atime, int64_t mtime)
{
    if (vrm_array_grow(&im->times, &im->captimes, im->ntimes, sizeof *im->times) != 0)
        return -ENOMEM;
    im->times[im->ntimes++] = (times_set){ino, atime, mtime};
    return 0;
}

/* One line of files.jsonl. */
static int import_file(importer *im, const cJSON *row)
{
    static const char *const keys[] = {"path", "type", "mode", "uid", "gid", "atime", "mtime",
                                       "ctime", "?size", "?sha256", "?target", "?link",
                                       "?xattrs", NULL};
    const char *path = str_of(row, "path"), *type = str_of(row, "type");
    const char *mode_s = str_of(row, "mode"), *link_to = str_of(row, "link");
    int64_t uid, gid, atime, mtime;
    unsigned long mode;
    char *end;
    vrm_stat st;
    int rc;

    if ((rc = check_keys(row, keys)) != 0 || (rc = vpath_valid(path)) != 0)
        return rc;
    if (type == NULL || mode_s == NULL || strlen(mode_s) != 4)
        return vrm_error(EINVAL, "\"type\" and \"mode\" (four octal digits) must be strings");
    mode = strtoul(mode_s, &end, 8);
    if (*end != '\0' || mode > 07777)
        return vrm_error(EINVAL, "\"mode\" \"%s\" is not four octal digits", mode_s);
    if ((rc = int_of(row, "uid", UINT32_MAX - 1, &uid)) != 0 ||
        (rc = int_of(row, "gid", UINT32_MAX - 1, &gid)) != 0 ||
        (rc = time_parse(cJSON_GetObjectItemCaseSensitive(row, "atime"), &atime)) != 0 ||
        (rc = time_parse(cJSON_GetObjectItemCaseSensitive(row, "mtime"), &mtime)) != 0)
        return rc;
    if (uid < 0 || gid < 0)
        return vrm_error(EINVAL, "\"uid\" and \"gid\" must not be negative");
    if (strcmp(path, "/") == 0) {
        if (strcmp(type, "dir") != 0)
            return vrm_error(EINVAL, "the root must be a dir");
        rc = vrm_files_resolve(im->v, "/", &st);
        if (rc == 0)
            rc = vrm_files_chown(im->v, st.ino, (uint32_t)uid, (uint32_t)gid);
    } else if (strcmp(type, "dir") == 0) {
        rc = vrm_files_mkdir(im->v, path, (uint32_t)mode, (uint32_t)uid, (uint32_t)gid, &st);
    } else if (strcmp(type, "symlink") == 0) {
        const char *target = str_of(row, "target");

        if (target == NULL)
            return vrm_error(EINVAL, "a symlink needs a \"target\" string");
        rc = vrm_files_symlink(im->v, target, path, (uint32_t)uid, (uint32_t)gid, &st);
        return rc != 0 ? rc : times_add(im, st.ino, atime, mtime);
    } else if (strcmp(type, "file") == 0 && link_to != NULL) {
        if ((rc = vpath_valid(link_to)) != 0)
            return rc;
        return vrm_files_link(im->v, link_to, path, NULL);
    } else if (strcmp(type, "file") == 0) {
        rc = vrm_files_create(im->v, path, (uint32_t)mode, (uint32_t)uid, (uint32_t)gid, &st);
        if (rc == 0)
            rc = copy_in(im, path, st.ino, row);
    } else {
        return vrm_error(EINVAL, "\"type\" \"%.16s\" is none of dir, file, symlink", type);
    }
    if (rc == 0)
        rc = set_xattrs(im, st.ino, row);
    if (rc == 0)
        rc = vrm_files_chmod(im->v, st.ino, (uint32_t)mode);
    if (rc == 0)
        rc = times_add(im, st.ino, atime, mtime);
    return rc;
}

static int import_files(importer *im)
{
    index_in ix;
    size_t i;
    int rc = index_begin(im, &ix, "files.jsonl");

    while (rc == 0) {
        cJSON *row;

        if ((rc = index_next(&ix, &row)) != 0 || row == NULL)
            break;
        rc = import_file(im, row);
        cJSON_Delete(row);
        if (rc != 0)
            rc = line_error(&ix, rc);
        progress_step(im->progress, im->ctx, &im->done, im->total);
    }
    index_end(&ix);
    /* Last, so that making the names below a directory leaves its times. */
    for (i = 0; rc == 0 && i < im->ntimes; i++) {
        const times_set *t = &im->times[i];
        struct timespec ts[2] = {{t->atime / 1000000000, t->atime % 1000000000},
                                 {t->mtime / 1000000000, t->mtime % 1000000000}};

        if (ts[0].tv_nsec < 0)
            ts[0].tv_sec--, ts[0].tv_nsec += 1000000000;
        if (ts[1].tv_nsec < 0)
            ts[1].tv_sec--, ts[1].tv_nsec += 1000000000;
        rc = vrm_files_utimens(im->v, t->ino, ts);
    }
    return rc;
}

/* export.json, checked: *out (cJSON_Delete). */
static int read_manifest(importer *im, cJSON **out)
{
    static const char *const keys[] = {"format", "version", "created", "vault", "schema",
                                       "pairwise_root", "counts", "indexes", NULL};
    char path[PATH_MAX], *text = NULL;
    const cJSON *version;
    size_t len;
    int rc;

    *out = NULL;
    if ((rc = in_path(im, "export.json", path)) != 0)
        return rc;
    rc = slurp(path, 1u << 20, &text, &len);
    if (rc == -ENOENT)
        return vrm_error(ENOENT, "%s has no export.json: not a vrmfs export, or an unfinished "
                         "one", im->dir);
    if (rc == 0 && (rc = vrm_json_parse_object(text, len, out)) != 0)
        rc = vrm_error(-rc, "export.json: %s", vrm_error_message());
    if (text != NULL) {
        sodium_memzero(text, len);
        free(text);
    }
    if (rc != 0)
        return rc;
    version = cJSON_GetObjectItemCaseSensitive(*out, "version");
    if (strcmp(str_of(*out, "format") ? str_of(*out, "format") : "", VRM_EXPORT_FORMAT) != 0)
        rc = vrm_error(EINVAL, "export.json: \"format\" is not \"%s\"", VRM_EXPORT_FORMAT);
    else if (!cJSON_IsNumber(version) || version->valuedouble != VRM_EXPORT_VERSION)
        rc = vrm_error(EPROTONOSUPPORT, "export.json: version %g; this vrmfs reads version %d",
                       cJSON_GetNumberValue(version), VRM_EXPORT_VERSION);
    else if ((rc = check_keys(*out, keys)) != 0)
        rc = vrm_error(-rc, "export.json: %s", vrm_error_message());
    else if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(*out, "indexes")))
        rc = vrm_error(EINVAL, "export.json: \"indexes\" is not an object");
    if (rc != 0) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    return rc;
}

int vrm_import_all(vrm_vault *v, const char *dir, vrm_progress_fn progress, void *ctx)
{
    importer im = {v, dir, progress, ctx, 0, 0, NULL, NULL, 0, 0};
    const cJSON *entry;
    const char *root64;
    uint8_t root[VRM_KEYBYTES];
    size_t i, rootlen = 0;
    cJSON *manifest;
    int rc;

    rc = read_manifest(&im, &manifest);
    if (rc != 0)
        return rc;
    im.indexes = cJSON_GetObjectItemCaseSensitive(manifest, "indexes");
    cJSON_ArrayForEach(entry, im.indexes)
        im.total += (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(entry, "rows"));
    root64 = str_of(manifest, "pairwise_root");
    if (root64 == NULL ||
        sodium_base642bin(root, sizeof root, root64, strlen(root64), NULL, &rootlen, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        rootlen != sizeof root)
        rc = vrm_error(EINVAL, "export.json: \"pairwise_root\" is not 32 bytes of base64url");
    if (rc == 0) {
        vrm_vault_lock(v);
        rc = vrm_tx_begin(v);
        if (rc == 0)
            rc = vrm_tx_finish(v, vrm_vault_set_pairwise_root_locked(v, root));
        vrm_vault_unlock(v);
    }
    sodium_memzero(root, sizeof root);
    if (rc == 0)
        rc = import_table(&im, &tables[0]);     /* collections, before their records */
    if (rc == 0)
        rc = import_records(&im);
    if (rc == 0)
        rc = import_files(&im);
    for (i = 1; rc == 0 && i < NTABLES; i++)
        rc = import_table(&im, &tables[i]);
    if (rc == 0)
        rc = vrm_receipt_verify_all(v);
    if (rc == 0)
        rc = vrm_accesslog_verify_all(v);
    if (rc == 0)
        rc = vrm_vault_sync(v);
    if (rc == 0 && progress != NULL)
        progress(ctx, im.total, im.total);
    free(im.times);
    cJSON_Delete(manifest);
    return rc;
}
