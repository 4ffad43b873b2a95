/*
 * maint.c: checking, backing up and compacting a vault (see maint.h).
 */
#define _GNU_SOURCE
#include "store/maint.h"
#include "base/error.h"
#include "base/fileio.h"
#include "store/keyfile_int.h"
#include "store/vault_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* ---- compact --------------------------------------------------------- */

/* One integer from a PRAGMA (or any one-value query).  Mutex held. */
static int pragma_int(vrm_vault *v, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(v->db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : vrm_vault_sqlerr(v, "database");
}

/* Checkpoint everything and empty the WAL; then vault.db's size.  Mutex
 * held. */
static int checkpoint_truncate(vrm_vault *v, uint64_t *size)
{
    char *path;
    struct stat st;
    int rc;

    pthread_mutex_lock(&v->ckpt_run);
    rc = sqlite3_wal_checkpoint_v2(v->db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    pthread_mutex_unlock(&v->ckpt_run);
    if (rc != SQLITE_OK)
        return vrm_vault_sqlerr(v, "checkpoint");
    if (size == NULL)
        return 0;
    path = vrm_path_join(v->dir, "vault.db");
    if (path == NULL)
        return -ENOMEM;
    rc = stat(path, &st) == 0 ? 0 : vrm_error(errno, "%s: %s", path, strerror(errno));
    free(path);
    if (rc == 0)
        *size = (uint64_t)st.st_size;
    return rc;
}

int vrm_vault_compact(vrm_vault *v, vrm_progress_fn progress, void *ctx, uint64_t *before,
                      uint64_t *after)
{
    int64_t mode = 0, total = 0, left = 0;
    char sql[64];
    int rc;

    vrm_vault_lock(v);
    rc = pragma_int(v, "PRAGMA auto_vacuum", &mode);
    if (rc == 0 && mode != 2)
        rc = vrm_error(EOPNOTSUPP, "this vault keeps no pointer map (it was made before vrmfs "
                       "kept one), so its pages cannot be moved in place; 'vrmfs export' "
                       "and 'vrmfs import-all' copy it into a new vault that can be "
                       "compacted");
    if (rc == 0)
        rc = checkpoint_truncate(v, before);
    if (rc == 0)
        rc = pragma_int(v, "PRAGMA freelist_count", &total);
    left = total;
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)", VRM_COMPACT_STEP);
    while (rc == 0 && left > 0) {
        int64_t was = left;

        if (sqlite3_exec(v->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            rc = vrm_vault_sqlerr(v, "compacting");
        if (rc == 0)
            rc = vrm_vault_sync_locked(v);
        if (rc == 0)
            rc = pragma_int(v, "PRAGMA freelist_count", &left);
        if (rc == 0 && left >= was)
            rc = vrm_error(EIO, "compacting: %lld free pages remain and none moved",
                           (long long)left);
        if (rc == 0 && progress != NULL)
            progress(ctx, (uint64_t)(total - left), (uint64_t)total);
    }
    if (rc == 0)
        rc = checkpoint_truncate(v, after);
    vrm_vault_unlock(v);
    return rc;
}

/* ---- backup ---------------------------------------------------------- */

#define BACKUP_STEP_PAGES 256

/* Fsync the regular file at dir/name. */
static int fsync_file(const char *dir, const char *name)
{
    char *path = vrm_path_join(dir, name);
    int fd, rc = 0;

    if (path == NULL)
        return -ENOMEM;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        rc = vrm_error(errno, "cannot sync %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

/* Copy the database of src (open, read-only) into dst (open, created empty)
 * with the online backup API, then checkpoint dst's WAL into its database.
 * The copy runs inside one read transaction on src: the backup API leaves a
 * transaction it did not open alone, so every step reads the same snapshot
 * and a write to the mounted vault between two steps does not restart the
 * copy from its first page (which under a steady writer would never end).
 * In WAL mode the reader blocks no writer; the vault's checkpoints are
 * passive, so they copy what they can and its WAL grows meanwhile. */
static int backup_copy(vrm_vault *src, vrm_vault *dst, vrm_progress_fn progress, void *ctx)
{
    sqlite3_backup *b = NULL;
    sqlite3_stmt *st = NULL;
    int rc, total, busy = 0;

    if (sqlite3_exec(src->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return vrm_vault_sqlerr(src, "cannot read vault.db");
    if (sqlite3_prepare_v2(src->db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL) !=
        SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        rc = vrm_vault_sqlerr(src, "cannot read vault.db");
        sqlite3_finalize(st);
        sqlite3_exec(src->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    sqlite3_finalize(st);
    b = sqlite3_backup_init(dst->db, "main", src->db, "main");
    if (b == NULL) {
        rc = vrm_vault_sqlerr(dst, "cannot start the backup");
        sqlite3_exec(src->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    for (;;) {
        rc = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
        total = sqlite3_backup_pagecount(b);
        if (progress != NULL && total > 0)
            progress(ctx, (uint64_t)(total - sqlite3_backup_remaining(b)), (uint64_t)total);
        if (rc == SQLITE_DONE)
            break;
        if (rc == SQLITE_OK)
            continue;
        /* The vault's writer holds a lock for a moment: wait, up to 60 s. */
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && busy++ < 1200) {
            usleep(50 * 1000);
            continue;
        }
        break;
    }
    if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE) {
        /* The error is on the destination's connection, or the source's. */
        if (sqlite3_errcode(dst->db) != SQLITE_OK)
            rc = vrm_vault_sqlerr(dst, "backup");
        else
            rc = vrm_vault_sqlerr(src, "backup");
        sqlite3_exec(src->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    sqlite3_exec(src->db, "COMMIT", NULL, NULL, NULL);  /* a read: nothing to lose */
    if (sqlite3_wal_checkpoint_v2(dst->db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) !=
        SQLITE_OK)
        return vrm_vault_sqlerr(dst, "checkpoint of the backup");
    return 0;
}

int vrm_vault_backup(const char *dir, const char *pass, size_t passlen, const char *dest,
                     vrm_progress_fn progress, void *ctx)
{
    vrm_vault *src = NULL, *dst = NULL;
    char *json = NULL, *dbpath = NULL;
    size_t jsonlen = 0;
    int made_dir = 0, rc;
    vrm_keyfile h;

    memset(&h, 0, sizeof h);
    if (sodium_init() < 0)
        return vrm_error(EIO, "libsodium failed to initialise");
    /* Read-only and without the lock: the vault may be mounted. */
    src = vrm_vault_new(dir, VRM_OPEN_READONLY);
    if (src == NULL)
        return -ENOMEM;
    rc = vrm_keyfile_read(dir, &h, &json, &jsonlen);
    if (rc == 0)
        rc = vrm_vault_unwrap(src, &h, pass, passlen);
    sodium_memzero(&h, sizeof h);
    if (rc == 0)
        rc = vrm_vault_open_db(src, 0);
    if (rc != 0)
        goto out;

    if (mkdir(dest, 0700) == 0) {
        made_dir = 1;
    } else if (errno == EEXIST) {
        int empty = vrm_dir_empty(dest);

        if (empty < 0)
            rc = vrm_error(-empty, "%s: %s", dest, strerror(-empty));
        else if (!empty)
            rc = vrm_error(EEXIST, "%s exists and is not empty; not writing a backup there",
                           dest);
        if (rc != 0)
            goto out;
    } else {
        rc = vrm_error(errno, "cannot make %s: %s", dest, strerror(errno));
        goto out;
    }

    dst = vrm_vault_new(dest, VRM_OPEN_SYNC_FULL);
    if (dst == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    /* The same page key and id: the pages are encrypted as in the vault. */
    dst->vfs = src->vfs;
    memcpy(dst->id, src->id, sizeof dst->id);
    if ((rc = vrm_vault_open_db(dst, 1)) != 0 || (rc = backup_copy(src, dst, progress, ctx)) != 0)
        goto fail;
    if (sqlite3_close(dst->db) != SQLITE_OK) {
        rc = vrm_vault_sqlerr(dst, "closing the backup's vault.db");
        goto fail;
    }
    dst->db = NULL;
    dbpath = vrm_path_join(dest, "vault.db-wal");
    if (dbpath == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if (access(dbpath, F_OK) == 0) {
        rc = vrm_error(EIO, "%s was left behind after the checkpoint", dbpath);
        goto fail;
    }
    /* vault.json last: a directory without it is no vault. */
    if ((rc = fsync_file(dest, "vault.db")) != 0 ||
        (rc = vrm_keyfile_write(dest, &h, json, jsonlen)) != 0)
        goto fail;
    goto out;
fail:
    if (dst != NULL && dst->db != NULL) {
        sqlite3_close_v2(dst->db);
        dst->db = NULL;
    }
    vrm_vault_discard(dest, made_dir);
out:
    if (dst != NULL) {
        dst->vfs = NULL;  /* src's */
        vrm_vault_free(dst);
    }
    vrm_vault_free(src);
    if (json != NULL) {
        sodium_memzero(json, jsonlen);
        free(json);
    }
    free(dbpath);
    return rc;
}

/* ---- check ----------------------------------------------------------- */

typedef struct check_ctx {
    const vrm_check_report *r;
} check_ctx;

static void check_line(const vrm_check_report *r, int bad, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void check_line(const vrm_check_report *r, int bad, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (bad && r && r->bad)
        r->bad(r->ctx, line);
    else if (!bad && r && r->note)
        r->note(r->ctx, line);
}

static void on_bad(void *ctx, const char *file, uint64_t index, const char *why)
{
    check_ctx *c = ctx;

    check_line(c->r, 1, "%s %s %llu %s", file, strcmp(file, "vault.db") == 0 ? "page" : "frame",
               (unsigned long long)index, why);
}

static void on_note(void *ctx, const char *file, uint64_t index, const char *what)
{
    check_ctx *c = ctx;

    check_line(c->r, 0, "%s frame %llu: %s", file, (unsigned long long)index, what);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    check_ctx *c = ctx;

    if (c->r && c->r->progress)
        c->r->progress(c->r->ctx, done, total);
}

int vrm_vault_check(const char *dir, const char *pass, size_t passlen,
                    const vrm_check_report *r)
{
    check_ctx c = {r};
    vrm_verify_report vr = {on_bad, on_note, on_progress, &c};
    sqlite3_stmt *st = NULL;
    vrm_vault *v;
    char *dbpath = NULL;
    int rc, nbad = 0, version = 0;
    vrm_keyfile h;

    if (sodium_init() < 0)
        return vrm_error(EIO, "libsodium failed to initialise");
    v = vrm_vault_new(dir, VRM_OPEN_READONLY);
    if (v == NULL)
        return -ENOMEM;
    rc = vrm_keyfile_read(dir, &h, NULL, NULL);
    if (rc == 0)
        rc = vrm_vault_lock_dir(v);
    if (rc == 0)
        rc = vrm_vault_unwrap(v, &h, pass, passlen);
    sodium_memzero(&h, sizeof h);
    if (rc != 0)
        goto out;
    dbpath = vrm_path_join(dir, "vault.db");
    if (dbpath == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (access(dbpath, F_OK) != 0) {
        rc = vrm_error(ENOENT, "the vault at %s has no vault.db", dir);
        goto out;
    }
    rc = vrm_cryptvfs_verify(v->vfs, dbpath, &vr);
    if (rc < 0)
        goto out;
    nbad = rc;
    rc = 0;
    if (nbad > 0)
        goto out;  /* SQLite would only trip over the same pages */

    if ((rc = vrm_vault_open_db(v, 0)) != 0) {
        if (rc != -EBADMSG && rc != -EUCLEAN)
            goto out;  /* not damage: disk full, out of memory... */
        check_line(r, 1, "%s", vrm_error_message());
        nbad++;
        rc = 0;
        goto out;
    }
    if (sqlite3_prepare_v2(v->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > vrm_schema_version())
        check_line(r, 0, "schema version %d is newer than this vrmfs knows (%d)",
                   version, vrm_schema_version());
    if (sqlite3_prepare_v2(v->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
        check_line(r, 1, "integrity check could not run: %s", sqlite3_errmsg(v->db));
        nbad++;
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);

        if (line != NULL && strcmp(line, "ok") != 0) {
            check_line(r, 1, "integrity: %s", line);
            nbad++;
        }
    }
    if (rc != SQLITE_DONE) {
        check_line(r, 1, "integrity check stopped: %s",
                   vrm_errno_from_sqlite(sqlite3_extended_errcode(v->db)) == -EBADMSG
                       ? vrm_error_message() : sqlite3_errmsg(v->db));
        nbad++;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    free(dbpath);
    vrm_vault_free(v);
    return rc < 0 ? rc : nbad;
}
