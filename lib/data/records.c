/*
 * records.c: collections and records over the vault's database.
 */
#include "data/records.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/json.h"
#include "data/facts.h"
#include "data/records_int.h"
#include "store/vault_int.h"
#include "data/facts_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>



int vrm_coll_exists_locked(vrm_vault *v, const char *coll)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "SELECT 1 FROM collections WHERE name = ?1", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
}

int vrm_collection_create(vrm_vault *v, const char *name)
{
    sqlite3_stmt *st;
    int rc = vrm_collection_name_valid(name);

    if (rc != 0)
        return rc;
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "INSERT INTO collections(name, created) VALUES (?1, ?2) "
                           "ON CONFLICT DO NOTHING", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, vrm_now_ns());
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            rc = vrm_vault_sqlerr(v, "database");
        else if (sqlite3_changes(v->db) == 0)
            rc = vrm_error(EEXIST, "collection %s exists", name);
        else
            rc = 0;
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_collection_delete(vrm_vault *v, const char *name)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = vrm_coll_exists_locked(v, name);
    if (rc == 0)
        rc = vrm_error(ENOENT, "no collection %s", name);
    if (rc < 0)
        goto done;
    rc = vrm_vault_stmt(v, "SELECT 1 FROM records WHERE collection = ?1 UNION ALL "
                           "SELECT 1 FROM scratch WHERE collection = ?1 LIMIT 1", &st);
    if (rc != 0)
        goto done;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        rc = vrm_error(ENOTEMPTY, "collection %s still has records or scratch files", name);
        goto done;
    }
    if (rc != SQLITE_DONE) {
        rc = vrm_vault_sqlerr(v, "database");
        goto done;
    }
    rc = vrm_vault_stmt(v, "DELETE FROM collections WHERE name = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = vrm_vault_run(v, st);
    }
done:
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    return rc;
}

int vrm_collection_exists(vrm_vault *v, const char *name)
{
    int rc;

    vrm_vault_lock(v);
    rc = vrm_coll_exists_locked(v, name);
    vrm_vault_unlock(v);
    return rc;
}

/* Walk the first column of a prepared, bound statement.  Names are copied
 * out before the callback runs, so it may call back into libvrm... except
 * that the mutex is held: callbacks must not call libvrm on the same vault. */
static int walk_names(vrm_vault *v, sqlite3_stmt *st, vrm_name_fn fn, void *ctx)
{
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int stop = fn(ctx, (const char *)sqlite3_column_text(st, 0));

        if (stop != 0) {
            sqlite3_reset(st);
            return stop;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
}

int vrm_collection_list(vrm_vault *v, vrm_name_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT name FROM collections ORDER BY name", &st);
    if (rc == 0)
        rc = walk_names(v, st, fn, ctx);
    vrm_vault_unlock(v);
    return rc;
}

static int check_names(const char *coll, const char *name)
{
    int rc = vrm_collection_name_valid(coll);

    return rc != 0 ? rc : vrm_record_name_valid(name);
}

int vrm_record_prepare(const char *json, size_t len, char **compact, size_t *clen,
                       size_t *plen)
{
    char *pretty = NULL;
    cJSON *obj = NULL;
    int rc = vrm_json_parse_object(json, len, &obj);

    *compact = NULL;
    if (rc != 0)
        return rc;
    rc = vrm_json_compact(obj, compact, clen);
    if (rc == 0)
        rc = vrm_json_pretty(obj, &pretty, plen);
    if (rc != 0) {
        free(*compact);
        *compact = NULL;
    }
    free(pretty);
    cJSON_Delete(obj);
    return rc;
}

static int write_body(vrm_vault *v, const char *coll, const char *name, const char *compact,
                      size_t clen, size_t plen, int exists, int64_t now);

int vrm_record_put_locked(vrm_vault *v, const char *coll, const char *name,
                          const char *compact, size_t clen, size_t plen, unsigned flags,
                          vrm_record_info *info)
{
    int64_t now = vrm_now_ns(), created = now;
    sqlite3_stmt *st;
    char *old = NULL;              /* the body it replaces */
    int rc, exists;

    rc = vrm_coll_exists_locked(v, coll);
    if (rc == 0)
        rc = vrm_error(ENOENT, "no collection %s", coll);
    if (rc < 0)
        return rc;
    rc = vrm_vault_stmt(v, "SELECT created, body FROM records "
                           "WHERE collection = ?1 AND name = ?2", &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    exists = rc == SQLITE_ROW;
    if (exists) {
        created = sqlite3_column_int64(st, 0);
        old = strdup((const char *)sqlite3_column_text(st, 1));
        if (old == NULL) {
            sqlite3_reset(st);
            return -ENOMEM;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        rc = vrm_vault_sqlerr(v, "database");
    else if (exists && (flags & VRM_PUT_CREATE))
        rc = vrm_error(EEXIST, "record %s/%s exists", coll, name);
    else if (!exists && (flags & VRM_PUT_REPLACE))
        rc = vrm_error(ENOENT, "no record %s/%s", coll, name);
    else
        rc = 0;
    if (rc == 0)
        rc = write_body(v, coll, name, compact, clen, plen, exists, now);
    /* the analytics' facts and vendors told of changes follow, in this
     * transaction */
    if (rc == 0)
        rc = vrm_facts_record_changed_locked(v, coll, name, compact);
    if (rc == 0)
        rc = vrm_vault_record_changed_locked(v, coll, name, old, compact);
    free(old);
    if (rc == 0 && info != NULL) {
        info->created_ns = created;
        info->updated_ns = now;
        info->size = plen;
    }
    return rc;
}

/* INSERT or UPDATE the row of a record.  Locked. */
static int write_body(vrm_vault *v, const char *coll, const char *name, const char *compact,
                      size_t clen, size_t plen, int exists, int64_t now)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, exists
        ? "UPDATE records SET body = ?3, size = ?4, updated = ?5 "
          "WHERE collection = ?1 AND name = ?2"
        : "INSERT INTO records(collection, name, body, size, created, updated) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?5)", &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, compact, (int)clen, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)plen);
    sqlite3_bind_int64(st, 5, now);
    rc = vrm_vault_run(v, st);
    return rc;
}

int vrm_record_put(vrm_vault *v, const char *coll, const char *name, const char *json,
                   size_t len, unsigned flags, vrm_record_info *info)
{
    char *compact = NULL;
    size_t clen, plen;
    int rc;

    if ((rc = check_names(coll, name)) != 0 ||
        (rc = vrm_record_prepare(json, len, &compact, &clen, &plen)) != 0)
        return rc;
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc == 0) {
        rc = vrm_record_put_locked(v, coll, name, compact, clen, plen, flags, info);
        rc = vrm_tx_finish(v, rc);
    }
    vrm_vault_unlock(v);
    free(compact);
    return rc;
}

static int find(vrm_vault *v, const char *sql, const char *coll, const char *name,
                sqlite3_stmt **st)
{
    return vrm_find_named_locked(v, sql, coll, name, "record", st);
}

static void fill_info(sqlite3_stmt *st, int col, vrm_record_info *info)
{
    if (info == NULL)
        return;
    info->size = (uint64_t)sqlite3_column_int64(st, col);
    info->created_ns = sqlite3_column_int64(st, col + 1);
    info->updated_ns = sqlite3_column_int64(st, col + 2);
}

int vrm_record_get_locked(vrm_vault *v, const char *coll, const char *name, char **json,
                          size_t *len, vrm_record_info *info)
{
    sqlite3_stmt *st;
    cJSON *obj = NULL;
    int rc;

    *json = NULL;
    *len = 0;
    rc = find(v, "SELECT body, size, created, updated FROM records "
                 "WHERE collection = ?1 AND name = ?2", coll, name, &st);
    if (rc != 0)
        return rc;
    obj = cJSON_ParseWithLength((const char *)sqlite3_column_text(st, 0),
                                (size_t)sqlite3_column_bytes(st, 0));
    fill_info(st, 1, info);
    sqlite3_reset(st);
    if (obj == NULL)
        return vrm_error(EUCLEAN, "record %s/%s holds unreadable JSON", coll, name);
    rc = vrm_json_pretty(obj, json, len);
    cJSON_Delete(obj);
    return rc;
}

int vrm_record_get(vrm_vault *v, const char *coll, const char *name, char **json,
                   size_t *len, vrm_record_info *info)
{
    int rc;

    vrm_vault_lock(v);
    rc = vrm_record_get_locked(v, coll, name, json, len, info);
    vrm_vault_unlock(v);
    return rc;
}

int vrm_record_stat(vrm_vault *v, const char *coll, const char *name, vrm_record_info *info)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = find(v, "SELECT size, created, updated FROM records "
                 "WHERE collection = ?1 AND name = ?2", coll, name, &st);
    if (rc == 0) {
        fill_info(st, 0, info);
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_record_delete_locked(vrm_vault *v, const char *coll, const char *name)
{
    sqlite3_stmt *st;
    char *old = NULL;
    int rc = vrm_vault_stmt(v, "DELETE FROM records WHERE collection = ?1 AND name = ?2 "
                               "RETURNING body", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        old = strdup((const char *)sqlite3_column_text(st, 0));
        rc = old != NULL ? sqlite3_step(st) : SQLITE_NOMEM;
    }
    rc = rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? -ENOMEM : vrm_vault_sqlerr(v, "database");
    sqlite3_reset(st);
    if (rc == 0 && old == NULL)
        rc = vrm_error(ENOENT, "no record %s/%s", coll, name);
    /* the analytics' facts and vendors told of changes follow, in this
     * transaction */
    if (rc == 0)
        rc = vrm_facts_record_changed_locked(v, coll, name, NULL);
    if (rc == 0)
        rc = vrm_vault_record_changed_locked(v, coll, name, old, NULL);
    free(old);
    return rc;
}

int vrm_record_delete(vrm_vault *v, const char *coll, const char *name)
{
    int rc;

    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc == 0) {
        rc = vrm_record_delete_locked(v, coll, name);
        rc = vrm_tx_finish(v, rc);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_record_rename(vrm_vault *v, const char *coll, const char *name,
                      const char *to_coll, const char *to_name, int noreplace)
{
    sqlite3_stmt *st;
    char *body = NULL, *replaced = NULL;   /* the record, and the one it replaces */
    int rc;

    if ((rc = check_names(coll, name)) != 0 || (rc = check_names(to_coll, to_name)) != 0)
        return rc;
    if (strcmp(coll, to_coll) == 0 && strcmp(name, to_name) == 0)
        return 0;
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = vrm_coll_exists_locked(v, to_coll);
    if (rc == 0)
        rc = vrm_error(ENOENT, "no collection %s", to_coll);
    if (rc < 0)
        goto done;
    rc = find(v, "SELECT body FROM records WHERE collection = ?1 AND name = ?2", coll, name,
              &st);
    if (rc != 0)
        goto done;
    body = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (body == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    rc = vrm_vault_stmt(v, "DELETE FROM records WHERE collection = ?1 AND name = ?2 "
                           "RETURNING body", &st);
    if (rc != 0)
        goto done;
    sqlite3_bind_text(st, 1, to_coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, to_name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        replaced = strdup((const char *)sqlite3_column_text(st, 0));
        rc = replaced != NULL ? sqlite3_step(st) : SQLITE_NOMEM;
    }
    rc = rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? -ENOMEM : vrm_vault_sqlerr(v, "database");
    sqlite3_reset(st);
    if (rc == 0 && noreplace && replaced != NULL)
        rc = vrm_error(EEXIST, "record %s/%s exists", to_coll, to_name);
    if (rc != 0)
        goto done;
    rc = vrm_vault_stmt(v, "UPDATE records SET collection = ?3, name = ?4 "
                           "WHERE collection = ?1 AND name = ?2", &st);
    if (rc != 0)
        goto done;
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, to_coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, to_name, -1, SQLITE_STATIC);
    rc = vrm_vault_run(v, st);
    /* as a delete of the old name and a write of the new one */
    if (rc == 0)
        rc = vrm_facts_record_changed_locked(v, coll, name, NULL);
    if (rc == 0)
        rc = vrm_facts_record_changed_locked(v, to_coll, to_name, body);
    if (rc == 0)
        rc = vrm_vault_record_changed_locked(v, coll, name, body, NULL);
    if (rc == 0)
        rc = vrm_vault_record_changed_locked(v, to_coll, to_name, replaced, body);
done:
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    free(body);
    free(replaced);
    return rc;
}

int vrm_record_list(vrm_vault *v, const char *coll, vrm_name_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_coll_exists_locked(v, coll);
    if (rc == 0)
        rc = vrm_error(ENOENT, "no collection %s", coll);
    if (rc == 1)
        rc = vrm_vault_stmt(v, "SELECT name FROM records WHERE collection = ?1 "
                               "ORDER BY name", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
        rc = walk_names(v, st, fn, ctx);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_record_list_info(vrm_vault *v, const char *coll, const char *after,
                         vrm_record_info_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc, step = SQLITE_DONE;

    vrm_vault_lock(v);
    rc = vrm_coll_exists_locked(v, coll);
    if (rc == 0)
        rc = vrm_error(ENOENT, "no collection %s", coll);
    if (rc == 1)
        rc = vrm_vault_stmt(v, "SELECT name, size, created, updated FROM records "
                               "WHERE collection = ?1 AND name > ?2 ORDER BY name", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, after != NULL ? after : "", -1, SQLITE_STATIC);
        while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
            vrm_record_info info;

            fill_info(st, 1, &info);
            rc = fn(ctx, (const char *)sqlite3_column_text(st, 0), &info);   /* non-zero: stop */
        }
        if (rc == 0 && step != SQLITE_DONE)
            rc = vrm_vault_sqlerr(v, "database");
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc;
}

int64_t vrm_record_count(vrm_vault *v, const char *coll)
{
    sqlite3_stmt *st;
    int64_t n;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT count(*) FROM records WHERE collection = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : vrm_vault_sqlerr(v, "database");
        sqlite3_reset(st);
    } else {
        n = rc;
    }
    vrm_vault_unlock(v);
    return n;
}
