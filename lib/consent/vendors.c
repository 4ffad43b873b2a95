/*
 * vendors.c: the vendor registry and vendor.json (see vendors.h).
 */
#include "consent/vendors.h"
#include "base/clock.h"
#include "base/error.h"
#include "consent/grants.h"
#include "consent/identity.h"
#include "base/json.h"
#include "store/vault_int.h"
#include "consent/grants_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VENDOR_TEXT_MAX 4096          /* name, terms, note, endpoint: bytes */


/* A string member no longer than VENDOR_TEXT_MAX; `nonempty`: not "". */
static int check_text(const cJSON *item, const char *key, int nonempty)
{
    size_t n;

    if (!cJSON_IsString(item))
        return vrm_error(EINVAL, "vendor.json: \"%s\" must be a string", key);
    n = strlen(item->valuestring);
    if (nonempty && n == 0)
        return vrm_error(EINVAL, "vendor.json: \"%s\" must not be empty", key);
    if (n > VENDOR_TEXT_MAX)
        return vrm_error(EINVAL, "vendor.json: \"%s\" is longer than %d bytes", key,
                         VENDOR_TEXT_MAX);
    return 0;
}

static int check_keys(const cJSON *keys)
{
    const cJSON *k;
    uint8_t raw[32];

    if (!cJSON_IsObject(keys))
        return vrm_error(EINVAL, "vendor.json: \"keys\" must be an object "
                         "{\"ed25519\": ..., \"x25519\": ...}");
    cJSON_ArrayForEach(k, keys) {
        if (strcmp(k->string, "ed25519") != 0 && strcmp(k->string, "x25519") != 0)
            return vrm_error(EINVAL, "vendor.json: unknown key \"keys.%.64s\" (known: "
                             "ed25519, x25519)", k->string);
        if (!cJSON_IsString(k) || vrm_b64url_decode(raw, sizeof raw, k->valuestring) != 0)
            return vrm_error(EINVAL, "vendor.json: \"keys.%s\" must be a 32-byte public "
                             "key in unpadded base64url (43 characters)", k->string);
    }
    return 0;
}

static int check_endpoint(const cJSON *item)
{
    static const char *const schemes[] = {"dir:", "http://", "https://", "exec:"};
    const char *s;
    size_t i, n;
    int rc = check_text(item, "endpoint", 1);

    if (rc != 0)
        return rc;
    s = item->valuestring;
    for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        n = strlen(schemes[i]);
        if (strncmp(s, schemes[i], n) != 0)
            continue;
        if (s[n] == '\0')
            break;
        if (i == 0 && s[n] != '/')
            return vrm_error(EINVAL, "vendor.json: \"endpoint\": dir: needs an absolute "
                             "path (dir:/srv/acme)");
        return 0;
    }
    return vrm_error(EINVAL, "vendor.json: \"endpoint\" must be dir:PATH, http://..., "
                     "https://... or exec:COMMAND");
}

/* Check a parsed vendor.json; see vendors.h. */
static int check_body(const cJSON *obj)
{
    const cJSON *item;
    int rc = 0, have_name = 0;

    cJSON_ArrayForEach(item, obj) {
        const char *k = item->string;

        if (strcmp(k, "name") == 0) {
            rc = check_text(item, k, 1);
            have_name = 1;
        } else if (strcmp(k, "keys") == 0) {
            rc = check_keys(item);
        } else if (strcmp(k, "endpoint") == 0) {
            rc = check_endpoint(item);
        } else if (strcmp(k, "terms") == 0 || strcmp(k, "note") == 0) {
            rc = check_text(item, k, 0);
        } else if (strcmp(k, "accepts_intents") == 0) {
            if (!cJSON_IsBool(item))
                rc = vrm_error(EINVAL, "vendor.json: \"accepts_intents\" must be true or "
                               "false");
        } else {
            rc = vrm_error(EINVAL, "vendor.json: unknown key \"%.64s\" (known: name, keys, "
                           "endpoint, terms, note, accepts_intents)", k);
        }
        if (rc != 0)
            return rc;
    }
    if (!have_name)
        return vrm_error(EINVAL, "vendor.json: \"name\" (the display name) is required");
    return 0;
}

int vrm_vendor_json_check(const char *json, size_t len)
{
    cJSON *obj = NULL;
    int rc = vrm_json_parse_object(json, len, &obj);

    if (rc == 0)
        rc = check_body(obj);
    cJSON_Delete(obj);
    return rc;
}

int vrm_vendor_create(vrm_vault *v, const char *name)
{
    sqlite3_stmt *st;
    cJSON *obj = NULL;
    char *body = NULL;
    size_t blen;
    int64_t now = vrm_now_ns();
    int rc = vrm_vendor_name_valid(name);

    if (rc != 0)
        return rc;
    obj = cJSON_CreateObject();
    if (obj == NULL || cJSON_AddStringToObject(obj, "name", name) == NULL ||
        vrm_json_compact(obj, &body, &blen) != 0) {
        rc = -ENOMEM;
        goto out;
    }
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "INSERT INTO vendors(name, body, created, updated) "
                           "VALUES (?1, ?2, ?3, ?3) ON CONFLICT DO NOTHING", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, body, (int)blen, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            rc = vrm_vault_sqlerr(v, "database");
        else if (sqlite3_changes(vrm_vault_sqlite(v)) == 0)
            rc = vrm_error(EEXIST, "vendor %s exists", name);
        else
            rc = 0;
    }
    vrm_vault_unlock(v);
out:
    free(body);
    cJSON_Delete(obj);
    return rc;
}

int vrm_vendor_exists(vrm_vault *v, const char *name)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT 1 FROM vendors WHERE name = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_vendor_list(vrm_vault *v, vrm_name_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int rc;

    int step = SQLITE_DONE;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT name FROM vendors ORDER BY name", &st);
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(ctx, (const char *)sqlite3_column_text(st, 0));   /* non-zero: stop */
    if (rc == 0 && step != SQLITE_DONE)
        rc = vrm_vault_sqlerr(v, "database");
    if (st != NULL)
        sqlite3_reset(st);
    vrm_vault_unlock(v);
    return rc;
}

int vrm_vendor_get(vrm_vault *v, const char *name, char **json, size_t *len,
                   int64_t *created_ns, int64_t *updated_ns)
{
    sqlite3_stmt *st = NULL;
    cJSON *obj = NULL;
    int rc;

    *json = NULL;
    *len = 0;
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT body, created, updated FROM vendors WHERE name = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            obj = cJSON_ParseWithLength((const char *)sqlite3_column_text(st, 0),
                                        (size_t)sqlite3_column_bytes(st, 0));
            if (created_ns != NULL)
                *created_ns = sqlite3_column_int64(st, 1);
            if (updated_ns != NULL)
                *updated_ns = sqlite3_column_int64(st, 2);
            rc = obj == NULL ? vrm_error(EUCLEAN, "vendor %s holds unreadable JSON", name)
                             : vrm_json_pretty(obj, json, len);
        } else {
            rc = rc == SQLITE_DONE ? vrm_error(ENOENT, "no vendor %s", name)
                                   : vrm_vault_sqlerr(v, "database");
        }
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    cJSON_Delete(obj);
    return rc;
}

int vrm_vendor_put(vrm_vault *v, const char *name, const char *json, size_t len)
{
    sqlite3_stmt *st;
    cJSON *obj = NULL;
    char *body = NULL;
    size_t blen;
    int rc = vrm_json_parse_object(json, len, &obj);

    if (rc == 0)
        rc = check_body(obj);
    if (rc == 0)
        rc = vrm_json_compact(obj, &body, &blen);
    if (rc != 0)
        goto out;
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "UPDATE vendors SET body = ?2, updated = ?3 WHERE name = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, body, (int)blen, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, vrm_now_ns());
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            rc = vrm_vault_sqlerr(v, "database");
        else if (sqlite3_changes(vrm_vault_sqlite(v)) == 0)
            rc = vrm_error(ENOENT, "no vendor %s", name);
        else
            rc = 0;
    }
    vrm_vault_unlock(v);
out:
    free(body);
    cJSON_Delete(obj);
    return rc;
}

int vrm_vendor_delete(vrm_vault *v, const char *name)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    vrm_grants_changed(v);
    rc = vrm_grants_drop_vendor_locked(v, name, vrm_now_ns());
    if (rc == 0)
        rc = vrm_vault_stmt(v, "DELETE FROM grant_docs WHERE vendor = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = vrm_vault_run(v, st);
    }
    if (rc == 0)
        rc = vrm_vault_stmt(v, "DELETE FROM vendors WHERE name = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            rc = vrm_vault_sqlerr(v, "database");
        else
            rc = sqlite3_changes(vrm_vault_sqlite(v)) == 0
                     ? vrm_error(ENOENT, "no vendor %s", name) : 0;
    }
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    return rc;
}
