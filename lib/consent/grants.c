/*
 * grants.c: grants.json, what is in force, and the receipts of its changes
 * (see grants.h).
 *
 * Storage: one row per grant (vendor, idx, compact body, reads, ended) and a
 * grant_docs row with the time of the last write.  A grant is in force when
 * `ended` is NULL and its until (if any) is still ahead.  Every function
 * that changes rows computes what was in force before and after, as the
 * list of compact bodies in index order, and writes a receipt when the two
 * differ: the receipts are the authoritative history, the rows only the
 * present.
 */
#include "consent/grants.h"
#include "base/clock.h"
#include "base/error.h"
#include "consent/fieldpath.h"
#include "base/json.h"
#include "base/names.h"
#include "consent/receipt.h"
#include "data/records_int.h"
#include "store/vault_int.h"
#include "consent/grants_int.h"
#include "consent/receipt_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GRANTS_MAX 256                /* grants per vendor */
#define FIELDS_MAX 256                /* field paths per grant */
#define PURPOSE_MAX 1024              /* bytes */

const char *const vrm_grants_analytics[] = {
    "spending.by-month", "spending.by-category", "spending.by-merchant", "spending.summary",
    "calories.daily", "calories.weekly", "mileage.balance", "mileage.history",
    "activity.summary", NULL,
};

uint64_t vrm_grants_generation(const vrm_vault *v)
{
    return v->gen[VRM_GEN_GRANTS];
}

void vrm_grants_changed(vrm_vault *v)
{
    v->gen[VRM_GEN_GRANTS]++;
}

/* ---- validation ---------------------------------------------------------- */

static int analytics_known(const char *rest)
{
    int i;

    for (i = 0; vrm_grants_analytics[i] != NULL; i++)
        if (strcmp(rest, vrm_grants_analytics[i]) == 0)
            return 1;
    return 0;
}

/* Check one field path of grant `gi` (1-based); vault locked. */
static int check_field(vrm_vault *v, const cJSON *f, int gi)
{
    vrm_fieldpath *p = NULL;
    int rc;

    if (!cJSON_IsString(f))
        return vrm_error(EINVAL, "grants.json: grant %d: \"fields\" holds field paths "
                         "(strings)", gi);
    rc = vrm_fieldpath_parse(f->valuestring, &p);
    if (rc != 0)
        return vrm_error(-rc, "grants.json: grant %d: %s", gi, vrm_error_message());
    if (vrm_fieldpath_is_analytics(p)) {
        if (!analytics_known(vrm_fieldpath_rest(p)))
            rc = vrm_error(EINVAL, "grants.json: grant %d: \"%.200s\": no such analytics "
                           "result", gi, f->valuestring);
    } else {
        rc = vrm_coll_exists_locked(v, vrm_fieldpath_root(p));
        if (rc == 0)
            rc = vrm_error(EINVAL, "grants.json: grant %d: \"%.200s\": no collection %s "
                           "in the vault", gi, f->valuestring, vrm_fieldpath_root(p));
        else if (rc == 1)
            rc = 0;
    }
    vrm_fieldpath_free(p);
    return rc;
}

/* Check one grant object (`gi` 1-based); vault locked.  *until_ns: its until
 * or 0. */
static int check_grant(vrm_vault *v, const cJSON *g, int gi, int64_t *until_ns,
                       int *has_until)
{
    const cJSON *item, *f;
    int rc = 0, nfields = 0, have_purpose = 0;

    *until_ns = 0;
    *has_until = 0;
    if (!cJSON_IsObject(g))
        return vrm_error(EINVAL, "grants.json: grant %d is not an object", gi);
    cJSON_ArrayForEach(item, g) {
        const char *k = item->string;

        if (strcmp(k, "fields") == 0) {
            if (!cJSON_IsArray(item))
                return vrm_error(EINVAL, "grants.json: grant %d: \"fields\" must be an "
                                 "array of field paths", gi);
            cJSON_ArrayForEach(f, item) {
                if (++nfields > FIELDS_MAX)
                    return vrm_error(EINVAL, "grants.json: grant %d: more than %d fields",
                                     gi, FIELDS_MAX);
                if ((rc = check_field(v, f, gi)) != 0)
                    return rc;
            }
        } else if (strcmp(k, "purpose") == 0) {
            if (!cJSON_IsString(item) || item->valuestring[0] == '\0' ||
                strlen(item->valuestring) > PURPOSE_MAX)
                return vrm_error(EINVAL, "grants.json: grant %d: \"purpose\" must be a "
                                 "non-empty string of at most %d bytes", gi, PURPOSE_MAX);
            have_purpose = 1;
        } else if (strcmp(k, "until") == 0) {
            if (!cJSON_IsString(item))
                return vrm_error(EINVAL, "grants.json: grant %d: \"until\" must be an RFC "
                                 "3339 time in a string", gi);
            if ((rc = vrm_rfc3339_parse(item->valuestring, until_ns)) != 0)
                return vrm_error(EINVAL, "grants.json: grant %d: \"until\": %s", gi,
                                 vrm_error_message());
            *has_until = 1;
        } else if (strcmp(k, "max_reads") == 0) {
            if (!cJSON_IsNumber(item) || item->valuedouble < 1 ||
                item->valuedouble > INT_MAX || item->valuedouble != (double)item->valueint)
                return vrm_error(EINVAL, "grants.json: grant %d: \"max_reads\" must be a "
                                 "whole number from 1 to %d", gi, INT_MAX);
        } else if (strcmp(k, "notify") == 0) {
            if (!cJSON_IsBool(item))
                return vrm_error(EINVAL, "grants.json: grant %d: \"notify\" must be true or "
                                 "false", gi);
        } else {
            return vrm_error(EINVAL, "grants.json: grant %d: unknown key \"%.64s\" (known: "
                             "fields, purpose, until, max_reads, notify)", gi, k);
        }
    }
    if (nfields == 0)
        return vrm_error(EINVAL, "grants.json: grant %d: \"fields\" must list at least one "
                         "field path", gi);
    if (!have_purpose)
        return vrm_error(EINVAL, "grants.json: grant %d: \"purpose\" is required", gi);
    return 0;
}

/* ---- rows ---------------------------------------------------------------- */

typedef struct row {
    int64_t idx;
    char *body;                       /* compact */
    int64_t reads;
    int64_t ended;                    /* 0: not ended */
    int64_t until;                    /* ns; only if has_until */
    int has_until;
    int64_t max_reads;                /* 0: none */
} row;

typedef struct rows {
    row *r;
    size_t n;
} rows;

static void rows_free(rows *rs)
{
    size_t i;

    for (i = 0; i < rs->n; i++)
        free(rs->r[i].body);
    free(rs->r);
    rs->r = NULL;
    rs->n = 0;
}

/* Fill until and max_reads of `r` from its body. */
static int row_parse(row *r)
{
    cJSON *g = cJSON_Parse(r->body), *item;
    int rc = 0;

    if (g == NULL)
        return vrm_error(EUCLEAN, "a stored grant holds unreadable JSON");
    item = cJSON_GetObjectItemCaseSensitive(g, "until");
    r->until = 0;
    r->has_until = cJSON_IsString(item);
    if (r->has_until && vrm_rfc3339_parse(item->valuestring, &r->until) != 0)
        rc = vrm_error(EUCLEAN, "a stored grant holds a bad until");
    item = cJSON_GetObjectItemCaseSensitive(g, "max_reads");
    r->max_reads = cJSON_IsNumber(item) ? (int64_t)item->valuedouble : 0;
    cJSON_Delete(g);
    return rc;
}

static int in_force(const row *r, int64_t now)
{
    return r->ended == 0 && (!r->has_until || r->until > now);
}

static int rows_load(vrm_vault *v, const char *vendor, rows *out)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "SELECT idx, body, reads, ended FROM grants "
                               "WHERE vendor = ?1 ORDER BY idx", &st);

    out->r = NULL;
    out->n = 0;
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row *r = realloc(out->r, (out->n + 1) * sizeof *r);

        if (r == NULL) {
            rc = -ENOMEM;
            break;
        }
        out->r = r;
        r = &out->r[out->n];
        memset(r, 0, sizeof *r);
        r->idx = sqlite3_column_int64(st, 0);
        r->body = strdup((const char *)sqlite3_column_text(st, 1));
        r->reads = sqlite3_column_int64(st, 2);
        r->ended = sqlite3_column_int64(st, 3);
        if (r->body == NULL) {
            rc = -ENOMEM;
            break;
        }
        out->n++;
        if ((rc = row_parse(r)) != 0)
            break;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc > 0)
        rc = vrm_vault_sqlerr(v, "database");
    rows_free(out);
    return rc;
}

/* The bodies in force at `now`, as a new array; `with_idx`: each with its
 * index as "_idx". */
static int rows_in_force(const rows *rs, int64_t now, int with_idx, cJSON **out)
{
    cJSON *arr = cJSON_CreateArray(), *g;
    size_t i;

    if (arr == NULL)
        return -ENOMEM;
    for (i = 0; i < rs->n; i++) {
        if (!in_force(&rs->r[i], now))
            continue;
        g = cJSON_Parse(rs->r[i].body);
        if (g == NULL || (with_idx && cJSON_AddNumberToObject(g, "_idx",
                                                              (double)rs->r[i].idx) == NULL) ||
            !cJSON_AddItemToArray(arr, g)) {
            cJSON_Delete(g);
            cJSON_Delete(arr);
            return -ENOMEM;
        }
    }
    *out = arr;
    return 0;
}

/* Do the bodies in force at `now` differ between a and b? */
static int force_differs(const rows *a, const rows *b, int64_t now)
{
    size_t i = 0, j = 0;

    for (;;) {
        while (i < a->n && !in_force(&a->r[i], now))
            i++;
        while (j < b->n && !in_force(&b->r[j], now))
            j++;
        if (i == a->n || j == b->n)
            return i != a->n || j != b->n;
        if (strcmp(a->r[i].body, b->r[j].body) != 0)
            return 1;
        i++;
        j++;
    }
}

static int count_in_force(const rows *rs, int64_t now)
{
    size_t i;
    int n = 0;

    for (i = 0; i < rs->n; i++)
        n += in_force(&rs->r[i], now);
    return n;
}

static int vendor_body_locked(vrm_vault *v, const char *vendor, cJSON **out)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "SELECT body FROM vendors WHERE name = ?1", &st);

    *out = NULL;
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = cJSON_ParseWithLength((const char *)sqlite3_column_text(st, 0),
                                     (size_t)sqlite3_column_bytes(st, 0));
        rc = *out == NULL ? vrm_error(EUCLEAN, "vendor %s holds unreadable JSON", vendor) : 0;
    } else {
        rc = rc == SQLITE_DONE ? vrm_error(ENOENT, "no vendor %s", vendor)
                               : vrm_vault_sqlerr(v, "database");
    }
    sqlite3_reset(st);
    return rc;
}

/* Write `vendor`'s receipt for `event` with what `after` has in force. */
static int receipt(vrm_vault *v, const char *vendor, const rows *after, const char *event,
                   int64_t now, int64_t *n)
{
    cJSON *body = NULL, *force = NULL;
    int rc = vendor_body_locked(v, vendor, &body);

    vrm_grants_changed(v);   /* before the change: a view made now is stale */
    if (rc == 0)
        rc = rows_in_force(after, now, 0, &force);
    if (rc == 0)
        rc = vrm_receipt_append_locked(v, vendor, body, force, event, now / 1000000000, n);
    cJSON_Delete(force);
    cJSON_Delete(body);
    return rc;
}

static int rows_store(vrm_vault *v, const char *vendor, const rows *rs, int64_t now)
{
    sqlite3_stmt *st;
    size_t i;
    int rc = vrm_vault_stmt(v, "DELETE FROM grants WHERE vendor = ?1", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    rc = vrm_vault_run(v, st);
    for (i = 0; rc == 0 && i < rs->n; i++) {
        rc = vrm_vault_stmt(v, "INSERT INTO grants(vendor, idx, body, reads, ended) "
                               "VALUES (?1, ?2, ?3, ?4, ?5)", &st);
        if (rc != 0)
            break;
        sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, rs->r[i].idx);
        sqlite3_bind_text(st, 3, rs->r[i].body, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, rs->r[i].reads);
        if (rs->r[i].ended != 0)
            sqlite3_bind_int64(st, 5, rs->r[i].ended);
        else
            sqlite3_bind_null(st, 5);
        rc = vrm_vault_run(v, st);
    }
    if (rc == 0)
        rc = vrm_vault_stmt(v, "INSERT INTO grant_docs(vendor, updated) VALUES (?1, ?2) "
                               "ON CONFLICT(vendor) DO UPDATE SET updated = ?2", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        rc = vrm_vault_run(v, st);
    }
    return rc;
}

/* ---- the API --------------------------------------------------------------- */

int vrm_grants_get(vrm_vault *v, const char *vendor, char **json, size_t *len,
                   int64_t *updated_ns)
{
    sqlite3_stmt *st;
    cJSON *doc = NULL, *arr, *g;
    rows rs = {NULL, 0};
    size_t i;
    int rc;

    *json = NULL;
    *len = 0;
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT v.created, d.updated FROM vendors v "
                           "LEFT JOIN grant_docs d ON d.vendor = v.name WHERE v.name = ?1",
                        &st);
    if (rc != 0)
        goto out;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && updated_ns != NULL)
        *updated_ns = sqlite3_column_type(st, 1) == SQLITE_NULL ? sqlite3_column_int64(st, 0)
                                                                : sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? vrm_error(ENOENT, "no vendor %s", vendor)
                               : vrm_vault_sqlerr(v, "database");
        goto out;
    }
    rc = rows_load(v, vendor, &rs);
    if (rc != 0)
        goto out;
    doc = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(doc, "grants");
    if (doc == NULL || arr == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; i < rs.n; i++) {
        g = cJSON_Parse(rs.r[i].body);
        if (g == NULL || !cJSON_AddItemToArray(arr, g)) {
            cJSON_Delete(g);
            rc = -ENOMEM;
            goto out;
        }
    }
    rc = vrm_json_pretty(doc, json, len);
out:
    vrm_vault_unlock(v);
    rows_free(&rs);
    cJSON_Delete(doc);
    return rc;
}

/* Replace the grants of `vendor` with the grant objects of `arr` (NULL
 * reads as [], as does an empty array), checking each: vrm_grants_put once
 * the text has the shape {"grants": [...]}. */
static int grants_replace(vrm_vault *v, const char *vendor, const cJSON *arr,
                          int64_t *receipt_n)
{
    const cJSON *g;
    rows old = {NULL, 0}, new = {NULL, 0};
    int64_t now = vrm_now_ns(), until;
    size_t i, j, n = (size_t)cJSON_GetArraySize(arr);
    int rc, gi = 0, has_until;

    if (receipt_n != NULL)
        *receipt_n = 0;
    if (n > GRANTS_MAX)
        return vrm_error(EINVAL, "grants.json: more than %d grants", GRANTS_MAX);
    new.r = calloc(n ? n : 1, sizeof *new.r);
    if (new.r == NULL)
        return -ENOMEM;
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto unlock;
    rc = rows_load(v, vendor, &old);
    if (rc == 0) {
        cJSON *body = NULL;

        rc = vendor_body_locked(v, vendor, &body);   /* -ENOENT: no such vendor */
        cJSON_Delete(body);
    }
    cJSON_ArrayForEach(g, arr) {
        row *r = &new.r[new.n];
        size_t blen;

        if (rc != 0)
            break;
        gi++;
        rc = check_grant(v, g, gi, &until, &has_until);
        if (rc == 0)
            rc = vrm_json_compact(g, &r->body, &blen);
        if (rc != 0)
            break;
        new.n++;
        r->idx = gi;
        rc = row_parse(r);
        /* an unchanged grant keeps its reads and its end */
        for (j = 0; rc == 0 && j < old.n; j++)
            if (old.r[j].body != NULL && strcmp(old.r[j].body, r->body) == 0) {
                r->reads = old.r[j].reads;
                r->ended = old.r[j].ended;
                free(old.r[j].body);
                old.r[j].body = NULL;        /* matched once */
                break;
            }
        if (rc == 0 && j == old.n && has_until && until <= now)
            rc = vrm_error(EINVAL, "grants.json: grant %d: \"until\" %s has already passed",
                           gi, cJSON_GetObjectItemCaseSensitive(g, "until")->valuestring);
    }
    if (rc != 0)
        goto finish;
    /* old bodies consumed by matches are NULL: reload them for the diff */
    rows_free(&old);
    rc = rows_load(v, vendor, &old);
    /* an until passed but not receipted yet: its "expire" receipt comes
     * first, so that the history says when each grant ended */
    if (rc == 0) {
        int expired = 0;

        for (i = 0; i < old.n; i++)
            if (old.r[i].ended == 0 && old.r[i].has_until && old.r[i].until <= now) {
                old.r[i].ended = now;
                expired = 1;
            }
        if (expired)
            rc = receipt(v, vendor, &old, "expire", now, NULL);
        /* kept unchanged, such a grant stays ended */
        for (i = 0; i < new.n; i++)
            if (new.r[i].ended == 0 && new.r[i].has_until && new.r[i].until <= now)
                new.r[i].ended = now;
    }
    if (rc == 0)
        rc = rows_store(v, vendor, &new, now);
    if (rc == 0 && force_differs(&old, &new, now)) {
        const char *event = count_in_force(&new, now) == 0 ? "revoke"
                            : count_in_force(&old, now) == 0 ? "grant" : "change";

        rc = receipt(v, vendor, &new, event, now, receipt_n);
    }
finish:
    rc = vrm_tx_finish(v, rc);
unlock:
    vrm_vault_unlock(v);
    rows_free(&old);
    for (i = 0; i < new.n; i++)
        free(new.r[i].body);
    free(new.r);
    return rc;
}

int vrm_grants_put(vrm_vault *v, const char *vendor, const char *json, size_t len,
                   int64_t *receipt_n)
{
    cJSON *doc = NULL, *arr;
    int rc;

    if (receipt_n != NULL)
        *receipt_n = 0;
    rc = vrm_json_parse_object(json, len, &doc);
    if (rc != 0)
        return vrm_error(-rc, "grants.json: %s", vrm_error_message());
    arr = cJSON_GetObjectItemCaseSensitive(doc, "grants");
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(doc) != 1)
        rc = vrm_error(EINVAL, "grants.json must be {\"grants\": [...]} and nothing more");
    else
        rc = grants_replace(v, vendor, arr, receipt_n);
    cJSON_Delete(doc);
    return rc;
}

int vrm_grants_revoke_all(vrm_vault *v, const char *vendor, int64_t *receipt_n)
{
    return grants_replace(v, vendor, NULL, receipt_n);
}

int vrm_grants_in_force_locked(vrm_vault *v, const char *vendor, int64_t now_ns_,
                               cJSON **out)
{
    rows rs;
    int rc = rows_load(v, vendor, &rs);

    *out = NULL;
    if (rc == 0)
        rc = rows_in_force(&rs, now_ns_, 1, out);
    rows_free(&rs);
    return rc;
}

/* Set `ended` of grant idx of vendor. */
static int mark_ended(vrm_vault *v, const char *vendor, int64_t idx, int64_t now)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "UPDATE grants SET ended = ?3 WHERE vendor = ?1 AND idx = ?2",
                            &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, idx);
    sqlite3_bind_int64(st, 3, now);
    rc = vrm_vault_run(v, st);
    return rc;
}

int vrm_grants_count_read_locked(vrm_vault *v, const char *vendor, int64_t idx,
                                 int64_t now, int *lapsed)
{
    sqlite3_stmt *st;
    rows rs;
    size_t i;
    int rc = vrm_vault_stmt(v, "UPDATE grants SET reads = reads + 1 "
                               "WHERE vendor = ?1 AND idx = ?2", &st);

    *lapsed = 0;
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, idx);
    rc = vrm_vault_run(v, st);
    if (rc != 0)
        return rc;
    rc = rows_load(v, vendor, &rs);
    for (i = 0; rc == 0 && i < rs.n; i++) {
        row *r = &rs.r[i];

        if (r->idx != idx || r->max_reads == 0 || r->reads < r->max_reads || r->ended != 0)
            continue;
        rc = mark_ended(v, vendor, idx, now);
        if (rc == 0) {
            r->ended = now;
            rc = receipt(v, vendor, &rs, "lapse", now, NULL);
        }
        *lapsed = rc == 0;
    }
    rows_free(&rs);
    return rc;
}

int vrm_grants_drop_vendor_locked(vrm_vault *v, const char *vendor, int64_t now)
{
    sqlite3_stmt *st;
    rows rs, none = {NULL, 0};
    int rc = rows_load(v, vendor, &rs);

    if (rc == 0 && count_in_force(&rs, now) > 0)
        rc = receipt(v, vendor, &none, "revoke", now, NULL);
    rows_free(&rs);
    if (rc == 0)
        rc = vrm_vault_stmt(v, "DELETE FROM grants WHERE vendor = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
        rc = vrm_vault_run(v, st);
    }
    return rc;
}

static int vendors_with_open_grants(vrm_vault *v, vrm_names *out)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "SELECT DISTINCT vendor FROM grants WHERE ended IS NULL "
                               "ORDER BY vendor", &st);

    out->names = NULL;
    out->n = 0;
    if (rc != 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = vrm_names_add(out, (const char *)sqlite3_column_text(st, 0))) != 0)
            break;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : rc < 0 ? rc : vrm_vault_sqlerr(v, "database");
}

int vrm_grants_expire(vrm_vault *v, int64_t now, int64_t *next_ns)
{
    vrm_names vs = VRM_NAMES_INIT;
    size_t i, k;
    int rc, changed = 0;

    if (next_ns != NULL)
        *next_ns = 0;
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = vendors_with_open_grants(v, &vs);
    for (k = 0; rc == 0 && k < vs.n; k++) {
        rows rs;
        int expired = 0;

        rc = rows_load(v, vs.names[k], &rs);
        for (i = 0; rc == 0 && i < rs.n; i++) {
            row *r = &rs.r[i];

            if (r->ended != 0 || !r->has_until)
                continue;
            if (r->until <= now) {
                rc = mark_ended(v, vs.names[k], r->idx, now);
                r->ended = now;
                expired = 1;
            } else if (next_ns != NULL && (*next_ns == 0 || r->until < *next_ns)) {
                *next_ns = r->until;
            }
        }
        if (rc == 0 && expired) {
            rc = receipt(v, vs.names[k], &rs, "expire", now, NULL);
            changed++;
        }
        rows_free(&rs);
    }
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    vrm_names_release(&vs);
    return rc < 0 ? rc : changed;
}

int vrm_grants_expire_due(vrm_vault *v, int64_t now, vrm_grants_due *due)
{
    /* read before the scan: a change made during it is seen at the next call */
    uint64_t gen = vrm_grants_generation(v);
    int rc;

    if (due->known && due->gen == gen && (due->next_ns == 0 || now < due->next_ns))
        return 0;
    rc = vrm_grants_expire(v, now, &due->next_ns);
    due->known = rc >= 0;
    due->gen = gen;
    return rc;
}
