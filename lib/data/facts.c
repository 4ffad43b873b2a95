/*
 * facts.c: keeping the analytics' typed fields in step with the records (see
 * facts.h).
 */
#include "data/facts.h"
#include "base/error.h"
#include "store/vault_int.h"
#include "data/facts_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { F_FINANCE, F_DIET, F_PURCHASES, F_ACTIVITY, F_COUNT };

static const char *const colls[F_COUNT] = {"finance", "diet", "purchases", "activity"};

/* The vault's counters (vault_int.h): VRM_GEN_FACTS + i for collection i,
 * moved on by every change of one of its records, and the one after them
 * for any other collection. */
_Static_assert(VRM_GEN_FACTS + F_COUNT < VRM_GEN_COUNT, "room for the facts' counters");

static int which(const char *coll)
{
    int i;

    for (i = 0; i < F_COUNT; i++)
        if (strcmp(coll, colls[i]) == 0)
            return i;
    return -1;
}

int vrm_facts_collection(const char *coll)
{
    return which(coll) >= 0;
}

uint64_t vrm_facts_generation(const vrm_vault *v, const char *coll)
{
    int i = which(coll);

    return v->gen[VRM_GEN_FACTS + (i < 0 ? F_COUNT : i)];
}

/* A number: a JSON number, or a string that is one entirely. */
static int number(const cJSON *item, double *out)
{
    char *end;

    if (cJSON_IsNumber(item)) {
        *out = item->valuedouble;
        return 1;
    }
    if (cJSON_IsString(item) && item->valuestring[0] != '\0') {
        *out = strtod(item->valuestring, &end);
        return *end == '\0';
    }
    return 0;
}

static const char *text(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static void bind_text(sqlite3_stmt *st, int col, const char *s, int len)
{
    if (s != NULL)
        sqlite3_bind_text(st, col, s, len, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, col);
}

static void bind_number(sqlite3_stmt *st, int col, const cJSON *obj, const char *key)
{
    double d;

    if (number(cJSON_GetObjectItemCaseSensitive(obj, key), &d))
        sqlite3_bind_double(st, col, d);
    else
        sqlite3_bind_null(st, col);
}

/* Does s begin with YYYY-MM-DD? */
static int dated(const char *s)
{
    int i;

    if (s == NULL || strlen(s) < 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    return 1;
}

int vrm_facts_record_changed_locked(vrm_vault *v, const char *coll, const char *name,
                                    const char *body)
{
    int c = which(coll), rc;
    sqlite3_stmt *st;
    cJSON *obj;
    const char *date;

    if (c < 0) {
        v->gen[VRM_GEN_FACTS + F_COUNT]++;
        return 0;
    }
    v->gen[VRM_GEN_FACTS + c]++;
    if (body == NULL) {
        rc = vrm_vault_stmt(v, "DELETE FROM facts WHERE collection = ?1 AND name = ?2", &st);
        if (rc != 0)
            return rc;
        sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        rc = vrm_vault_run(v, st);
        return rc;
    }
    obj = cJSON_Parse(body);
    if (obj == NULL)
        return vrm_error(EUCLEAN, "record %s/%s holds unreadable JSON", coll, name);
    rc = vrm_vault_stmt(v, "INSERT OR REPLACE INTO facts(collection, name, day, month, amount, "
                           "currency, merchant, category, kcal, miles_earned, miles_used, "
                           "program, kind, duration) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                        &st);
    if (rc != 0) {
        cJSON_Delete(obj);
        return rc;
    }
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    date = text(obj, c == F_ACTIVITY ? "time" : "date");
    bind_text(st, 3, dated(date) ? date : NULL, 10);
    bind_text(st, 4, dated(date) ? date : NULL, 7);
    if (c == F_FINANCE || c == F_PURCHASES) {
        bind_number(st, 5, obj, "amount");
        bind_text(st, 7, text(obj, "merchant"), -1);
    }
    if (c == F_FINANCE) {
        bind_text(st, 6, text(obj, "currency"), -1);
        bind_text(st, 8, text(obj, "category"), -1);
    }
    if (c == F_DIET)
        bind_number(st, 9, obj, "kcal");
    if (c == F_PURCHASES) {
        bind_number(st, 10, obj, "miles_earned");
        bind_number(st, 11, obj, "miles_used");
        bind_text(st, 12, text(obj, "program"), -1);
    }
    if (c == F_ACTIVITY) {
        bind_text(st, 13, text(obj, "kind"), -1);
        bind_number(st, 14, obj, "duration_min");
    }
    rc = vrm_vault_run(v, st);
    cJSON_Delete(obj);
    return rc;
}
