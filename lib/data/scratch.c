/*
 * scratch.c: tools' temporary files beside records (see scratch.h).
 */
#include "data/scratch.h"
#include "base/clock.h"
#include "base/error.h"
#include "data/records_int.h"
#include "store/vault_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static int put_locked(vrm_vault *v, const char *coll, const char *name, const void *data,
                      size_t len)
{
    sqlite3_stmt *st;
    int rc = vrm_coll_exists_locked(v, coll);

    if (rc == 0)
        rc = vrm_error(ENOENT, "no collection %s", coll);
    if (rc < 0)
        return rc;
    rc = vrm_vault_stmt(v, "INSERT INTO scratch(collection, name, data, updated) "
                           "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET "
                           "data = excluded.data, updated = excluded.updated", &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 3, len ? data : "", len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, vrm_now_ns());
    return vrm_vault_run(v, st);
}

int vrm_scratch_put(vrm_vault *v, const char *coll, const char *name, const void *data,
                    size_t len)
{
    int rc = vrm_scratch_name_valid(name);

    if (rc != 0)
        return rc;
    if (len > VRM_SCRATCH_MAX)
        return vrm_error(EFBIG, "scratch files hold at most %u bytes", VRM_SCRATCH_MAX);
    vrm_vault_lock(v);
    rc = put_locked(v, coll, name, data, len);
    vrm_vault_unlock(v);
    return rc;
}

static int find(vrm_vault *v, const char *sql, const char *coll, const char *name,
                sqlite3_stmt **st)
{
    return vrm_find_named_locked(v, sql, coll, name, "scratch file", st);
}

static int get_locked(vrm_vault *v, const char *coll, const char *name, char **data,
                      size_t *len, int64_t *updated_ns)
{
    sqlite3_stmt *st;
    int rc = find(v, "SELECT data, updated FROM scratch WHERE collection = ?1 AND name = ?2",
                  coll, name, &st);
    size_t n;

    *data = NULL;
    *len = 0;
    if (rc != 0)
        return rc;
    n = (size_t)sqlite3_column_bytes(st, 0);
    *data = malloc(n + 1);
    if (*data == NULL) {
        sqlite3_reset(st);
        return -ENOMEM;
    }
    if (n > 0)
        memcpy(*data, sqlite3_column_blob(st, 0), n);
    (*data)[n] = '\0';
    *len = n;
    if (updated_ns != NULL)
        *updated_ns = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return 0;
}

int vrm_scratch_get(vrm_vault *v, const char *coll, const char *name, char **data,
                    size_t *len, int64_t *updated_ns)
{
    int rc;

    vrm_vault_lock(v);
    rc = get_locked(v, coll, name, data, len, updated_ns);
    vrm_vault_unlock(v);
    return rc;
}

int vrm_scratch_stat(vrm_vault *v, const char *coll, const char *name, uint64_t *size,
                     int64_t *updated_ns)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = find(v, "SELECT length(data), updated FROM scratch WHERE collection = ?1 AND name = ?2",
              coll, name, &st);
    if (rc == 0) {
        if (size != NULL)
            *size = (uint64_t)sqlite3_column_int64(st, 0);
        if (updated_ns != NULL)
            *updated_ns = sqlite3_column_int64(st, 1);
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc;
}

static int delete_locked(vrm_vault *v, const char *coll, const char *name)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "DELETE FROM scratch WHERE collection = ?1 AND name = ?2", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc = vrm_vault_run(v, st);
    if (rc == 0 && sqlite3_changes(vrm_vault_sqlite(v)) == 0)
        rc = vrm_error(ENOENT, "no scratch file %s/%s", coll, name);
    return rc;
}

int vrm_scratch_delete(vrm_vault *v, const char *coll, const char *name)
{
    int rc;

    vrm_vault_lock(v);
    rc = delete_locked(v, coll, name);
    vrm_vault_unlock(v);
    return rc;
}

int vrm_scratch_touch(vrm_vault *v, const char *coll, const char *name, int64_t ns)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "UPDATE scratch SET updated = ?3 WHERE collection = ?1 AND name = ?2",
                        &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, ns);
        rc = vrm_vault_run(v, st);
        if (rc == 0 && sqlite3_changes(vrm_vault_sqlite(v)) == 0)
            rc = vrm_error(ENOENT, "no scratch file %s/%s", coll, name);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_scratch_list(vrm_vault *v, const char *coll, vrm_name_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT name FROM scratch WHERE collection = ?1 ORDER BY name", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
        int step, stop = 0;

        while ((step = sqlite3_step(st)) == SQLITE_ROW &&
               (stop = fn(ctx, (const char *)sqlite3_column_text(st, 0))) == 0)
            ;
        if (stop != 0)
            rc = stop;
        else if (step != SQLITE_DONE)
            rc = vrm_vault_sqlerr(v, "database");
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc;
}

static int names_valid(const char *coll, const char *name, int record)
{
    int rc = vrm_collection_name_valid(coll);

    if (rc == 0)
        rc = record ? vrm_record_name_valid(name) : vrm_scratch_name_valid(name);
    return rc;
}

int vrm_scratch_move(vrm_vault *v, const char *from_coll, const char *from_name,
                     int from_record, const char *to_coll, const char *to_name,
                     int to_record, int noreplace)
{
    char *data = NULL, *compact = NULL;
    size_t len = 0, clen = 0, plen = 0;
    int rc;

    if ((rc = names_valid(from_coll, from_name, from_record)) != 0 ||
        (rc = names_valid(to_coll, to_name, to_record)) != 0)
        return rc;
    if (from_record && to_record)
        return vrm_record_rename(v, from_coll, from_name, to_coll, to_name, noreplace);
    if (strcmp(from_coll, to_coll) == 0 && strcmp(from_name, to_name) == 0 &&
        from_record == to_record)
        return 0;

    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = from_record ? vrm_record_get_locked(v, from_coll, from_name, &data, &len, NULL)
                     : get_locked(v, from_coll, from_name, &data, &len, NULL);
    if (rc != 0)
        goto done;
    if (to_record) {
        rc = vrm_record_prepare(data, len, &compact, &clen, &plen);
        if (rc == 0)
            rc = vrm_record_put_locked(v, to_coll, to_name, compact, clen, plen,
                                       noreplace ? VRM_PUT_CREATE : 0, NULL);
    } else {
        if (noreplace) {
            sqlite3_stmt *st;

            rc = find(v, "SELECT 1 FROM scratch WHERE collection = ?1 AND name = ?2",
                      to_coll, to_name, &st);
            if (rc == 0) {
                sqlite3_reset(st);
                rc = vrm_error(EEXIST, "%s/%s exists", to_coll, to_name);
                goto done;
            }
            if (rc != -ENOENT)
                goto done;
        }
        rc = put_locked(v, to_coll, to_name, data, len);
    }
    if (rc != 0)
        goto done;
    rc = from_record ? vrm_record_delete_locked(v, from_coll, from_name)
                     : delete_locked(v, from_coll, from_name);
done:
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    free(data);
    free(compact);
    return rc;
}
