/*
 * analytics.c: results computed inside the vault, read as files (see
 * analytics.h).
 *
 * Built-in results are SQL over `facts` (facts.h), rendered to JSON (through
 * cJSON, printed as json.h prints everything), CSV or SVG.  Each rendered
 * text is kept in a small in-memory cache of the open vault (its
 * VRM_SLOT_ANALYTICS slot, freed when it closes) keyed by the path,
 * together with vrm_facts_generation() of every collection it read; a read
 * whose generations still match is served from the cache without touching
 * SQLite.
 *
 * Threading.  The cache is guarded by its mutex, held only to look up, copy
 * out and store texts, never while computing.  A result is computed on one
 * of the vault's read connections (vrm_vault_reader_get), or on v->db under
 * the vault's mutex when the vault has none.  The generations a computed
 * text is stored with are read under the vault's mutex before the
 * computation starts: every write holds that mutex from its BEGIN to its
 * COMMIT and moves the generation inside it, so at that moment no change is
 * half done, and the snapshot the computation reads later holds at least
 * what those generations say (if it holds more, the generations have moved
 * on and the text is recomputed at the next read: wasted, never stale).  A
 * cache hit reads the generations without the mutex: a generation that
 * still equals the stored one means no change has even begun since.
 *
 * Custom queries run on a connection of their own, opened read-only for
 * each run through the vault's page-encrypting VFS, with a TEMP VIEW
 * `records` over main.records and an authorizer (custom_auth) that allows
 * nothing but reading that view and calling functions.
 */
#define _GNU_SOURCE
#include "data/analytics.h"
#include "base/clock.h"
#include "base/error.h"
#include "data/facts.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "store/vault_int.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_SLOTS 64                /* cached results of one vault */
#define CUSTOM_NAME_MAX 64
#define CUSTOM_SQL_MAX (64 * 1024)    /* bytes of a stored query */
#define CUSTOM_ROWS_MAX 100000        /* rows of a custom result */
#define CUSTOM_SECONDS 10             /* run time of a custom query */
#define TOP_CATEGORIES 5

const char *const vrm_analytics_files[] = {
    "spending/by-month.json", "spending/by-category.json", "spending/by-merchant.json",
    "spending/by-month.csv",  "spending/by-month.svg",     "spending/summary.json",
    "calories/daily.csv",     "calories/weekly.json",      "calories/daily.svg",
    "mileage/balance.json",   "mileage/history.csv",       "activity/summary.json",
    NULL,
};

/* Is path "topic/file" a file of topic[0..n)? */
static int in_topic(const char *path, const char *topic, size_t n)
{
    return strncmp(path, topic, n) == 0 && path[n] == '/';
}

int vrm_analytics_topic_valid(const char *topic)
{
    size_t i, n = strlen(topic);

    if (strcmp(topic, VRM_ANALYTICS_CUSTOM) == 0)
        return 0;
    for (i = 0; vrm_analytics_files[i] != NULL; i++)
        if (in_topic(vrm_analytics_files[i], topic, n))
            return 0;
    return -ENOENT;
}

int vrm_analytics_topic_list(vrm_name_fn fn, void *ctx)
{
    char topic[32];
    size_t i, n = 0;
    int rc;

    for (i = 0; vrm_analytics_files[i] != NULL; i++) {
        const char *f = vrm_analytics_files[i];

        if (n > 0 && in_topic(f, topic, n))
            continue;                 /* the files are grouped by topic */
        n = strcspn(f, "/");
        assert(n < sizeof topic && f[n] == '/');
        memcpy(topic, f, n);
        topic[n] = '\0';
        if ((rc = fn(ctx, topic)) != 0)
            return rc;
    }
    return fn(ctx, VRM_ANALYTICS_CUSTOM);
}

int vrm_analytics_topic_files(const char *topic, vrm_name_fn fn, void *ctx)
{
    size_t i, n = strlen(topic);
    int rc;

    for (i = 0; vrm_analytics_files[i] != NULL; i++)
        if (in_topic(vrm_analytics_files[i], topic, n) &&
            (rc = fn(ctx, vrm_analytics_files[i] + n + 1)) != 0)
            return rc;
    return 0;
}

const char *const vrm_analytics_custom_results[] = {".json", ".csv", ".error.txt", NULL};

int vrm_analytics_query_name(const char *path, char *out, size_t size)
{
    static const char dir[] = VRM_ANALYTICS_CUSTOM "/", ext[] = ".sql";
    size_t d = sizeof dir - 1, e = sizeof ext - 1, n = strlen(path), len;

    if (n <= d + e || strncmp(path, dir, d) != 0 || strcmp(path + n - e, ext) != 0)
        return -ENOENT;
    len = n - d - e;
    if (len >= size || memchr(path + d, '/', len) != NULL)
        return -ENOENT;
    memcpy(out, path + d, len);
    out[len] = '\0';
    return 0;
}

/* What a result depends on: bits into the generations array. */
enum { G_FINANCE, G_DIET, G_PURCHASES, G_ACTIVITY, G_OTHER, G_CUSTOM, G_COUNT };

#define DEP(g) (1u << (g))
#define DEP_ALL ((1u << G_COUNT) - 1)

/* ---- text buffers ------------------------------------------------------ */

/* Hand the text over: 0 and *out, *len, or -ENOMEM (the buffer is freed). */
static int sb_detach(vrm_strbuf *b, char **out, size_t *len)
{
    *out = vrm_strbuf_detach(b, len);
    return *out != NULL ? 0 : -ENOMEM;
}

/* ---- numbers ----------------------------------------------------------- */

/* x rounded to `places` decimals exactly as printf("%.*f") rounds it (the
 * binary value, ties to even), as the double nearest that decimal, so that
 * cJSON prints it in its shortest form (0.3, not 0.30000000000000004).
 * Beyond 1e15 a double holds no cents anyway. */
static double round_places(double x, int places)
{
    char buf[64];
    double r;

    if (!isfinite(x) || fabs(x) >= 1e15)
        return x;
    snprintf(buf, sizeof buf, "%.*f", places, x);
    r = strtod(buf, NULL);
    return r == 0 ? 0 : r;            /* no -0 */
}

static double cents(double x)
{
    return round_places(x, 2);
}

static double tenths(double x)
{
    return round_places(x, 1);
}

/* A rounded number in CSV: money with two decimals, others shortest. */
static void csv_money(vrm_strbuf *b, double x)
{
    vrm_strbuf_addf(b, "%.2f", cents(x));
}

static void csv_number(vrm_strbuf *b, double x)
{
    vrm_strbuf_addf(b, "%.15g", x);
}

/* A CSV field, quoted as RFC 4180 says when it holds a comma, a quote or a
 * line break. */
static void csv_text(vrm_strbuf *b, const char *s)
{
    const char *p;

    if (strpbrk(s, ",\"\r\n") == NULL) {
        vrm_strbuf_adds(b, s);
        return;
    }
    vrm_strbuf_add(b, "\"", 1);
    for (p = s; *p; p++) {
        if (*p == '"')
            vrm_strbuf_add(b, "\"\"", 2);
        else
            vrm_strbuf_add(b, p, 1);
    }
    vrm_strbuf_add(b, "\"", 1);
}

/* Text for XML character data and attribute values: markup characters as
 * entities, and control characters (not allowed in XML 1.0) as '?'. */
static void xml_text(vrm_strbuf *b, const char *s)
{
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': vrm_strbuf_adds(b, "&amp;"); break;
        case '<': vrm_strbuf_adds(b, "&lt;"); break;
        case '>': vrm_strbuf_adds(b, "&gt;"); break;
        case '"': vrm_strbuf_adds(b, "&quot;"); break;
        case '\'': vrm_strbuf_adds(b, "&apos;"); break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n')
                vrm_strbuf_add(b, "?", 1);
            else
                vrm_strbuf_add(b, (const char *)p, 1);
        }
    }
}

/* ---- dates --------------------------------------------------------------- */

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int civil_year(int64_t z)
{
    int64_t era, doe, yoe, y, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    return (int)(y + (mp >= 10));
}

/* Parse "YYYY-MM-DD" (a valid calendar date) into days since the epoch:
 * 1, or 0 if it is not one. */
static int parse_day(const char *s, int64_t *out)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;

    if (s == NULL || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3 ||
        m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 0;
    *out = days_from_civil(y, m, d);
    return 1;
}

/* The ISO 8601 week "YYYY-Www" of a day number. */
static void iso_week(int64_t day, char out[16])
{
    int64_t wd = ((day + 3) % 7 + 7) % 7;        /* Monday 0 (1970-01-01: Thursday) */
    int64_t thu = day - wd + 3;
    int y = civil_year(thu);
    int64_t week = (thu - days_from_civil(y, 1, 1)) / 7 + 1;

    snprintf(out, 16, "%04d-W%02d", y, (int)week);
}

/* This month, local time, "YYYY-MM", and the month n months before it. */
static void month_of(int back, char out[16])
{
    time_t t = time(NULL);
    struct tm tm;
    int y, m;

    localtime_r(&t, &tm);
    y = tm.tm_year + 1900;
    m = tm.tm_mon + 1 - back;
    while (m < 1) {
        m += 12;
        y--;
    }
    snprintf(out, 16, "%04d-%02d", y, m);
}

/* ---- the cache ------------------------------------------------------------ */

/* One cached result.  A custom query's entry holds its .json and .csv, or
 * its .error.txt: text[i] is that of vrm_analytics_custom_results[i]. */
enum { T_MAIN, T_CSV, T_ERROR, T_COUNT };

typedef struct entry {
    char path[96];                    /* "topic/file" or "custom/NAME"; "": free */
    uint64_t gens[G_COUNT];           /* generations it was computed at */
    unsigned deps;                    /* which of them matter */
    char stamp[16];                   /* the month, for results that depend on it */
    char *text[T_COUNT];
    size_t len[T_COUNT];
    int64_t computed_ns;
    uint64_t used;                    /* last use, for eviction */
} entry;

/* The cache of one open vault, in its VRM_SLOT_ANALYTICS slot. */
typedef struct cache {
    pthread_mutex_t mu;               /* held to look up, copy out and store */
    entry e[CACHE_SLOTS];             /* guarded by mu */
    uint64_t clock;                   /* guarded by mu */
    _Atomic uint64_t custom_gen;      /* moved on by every change of the stored
                                         custom queries */
} cache;

static void entry_clear(entry *e)
{
    int i;

    for (i = 0; i < T_COUNT; i++)
        free(e->text[i]);
    memset(e, 0, sizeof *e);
}

static void *cache_make(void)
{
    cache *c = calloc(1, sizeof *c);

    if (c != NULL && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

static void cache_release(void *p)
{
    cache *c = p;
    int i;

    for (i = 0; i < CACHE_SLOTS; i++)
        entry_clear(&c->e[i]);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* v's cache, or NULL when there is no memory for one (then nothing is
 * cached). */
static cache *cache_of(vrm_vault *v)
{
    return vrm_vault_slot(v, VRM_SLOT_ANALYTICS, cache_make, cache_release);
}

/* Moved on by every change of the stored custom queries. */
static uint64_t custom_generation(vrm_vault *v)
{
    cache *c = cache_of(v);

    return c != NULL ? c->custom_gen : 0;
}

static void custom_changed(vrm_vault *v)
{
    cache *c = cache_of(v);

    if (c != NULL)
        c->custom_gen++;
}

static void generations(vrm_vault *v, uint64_t gens[G_COUNT])
{
    gens[G_FINANCE] = vrm_facts_generation(v, "finance");
    gens[G_DIET] = vrm_facts_generation(v, "diet");
    gens[G_PURCHASES] = vrm_facts_generation(v, "purchases");
    gens[G_ACTIVITY] = vrm_facts_generation(v, "activity");
    gens[G_OTHER] = vrm_facts_generation(v, "profile");   /* the slot of all others */
    gens[G_CUSTOM] = custom_generation(v);
}

static int entry_fresh(const entry *e, const uint64_t gens[G_COUNT], const char *stamp)
{
    int g;

    for (g = 0; g < G_COUNT; g++)
        if ((e->deps & DEP(g)) && e->gens[g] != gens[g])
            return 0;
    return strcmp(e->stamp, stamp) == 0;
}

static entry *cache_find_locked(cache *c, const char *path)
{
    int i;

    for (i = 0; i < CACHE_SLOTS; i++)
        if (c->e[i].path[0] != '\0' && strcmp(c->e[i].path, path) == 0)
            return &c->e[i];
    return NULL;
}

/* Copy out text `which` of a fresh entry (out NULL: only its length and
 * time): 1 (found: 0 stored in *rc, or -ENOENT when that text is absent,
 * or -ENOMEM), 0 if there is none. */
static int cache_get(vrm_vault *v, const char *path, const char *stamp, int which,
                     char **out, size_t *len, int64_t *computed_ns, int *rc)
{
    cache *c = cache_of(v);
    uint64_t gens[G_COUNT];
    entry *e;
    int hit = 0;

    if (c == NULL)
        return 0;
    generations(v, gens);
    pthread_mutex_lock(&c->mu);
    e = cache_find_locked(c, path);
    if (e != NULL && entry_fresh(e, gens, stamp)) {
        hit = 1;
        e->used = ++c->clock;
        if (e->text[which] == NULL) {
            *rc = -ENOENT;
        } else if (out != NULL && (*out = malloc(e->len[which] + 1)) == NULL) {
            *rc = -ENOMEM;
        } else {
            if (out != NULL)
                memcpy(*out, e->text[which], e->len[which] + 1);
            *len = e->len[which];
            *computed_ns = e->computed_ns;
            *rc = 0;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

/* Keep texts (taking ownership of them; NULLs are absent texts). */
static void cache_put(vrm_vault *v, const char *path, const uint64_t gens[G_COUNT],
                      unsigned deps, const char *stamp, char *text[T_COUNT],
                      const size_t len[T_COUNT], int64_t computed_ns)
{
    cache *c = cache_of(v);
    entry *e;
    int i;

    if (c == NULL) {
        for (i = 0; i < T_COUNT; i++)
            free(text[i]);
        return;
    }
    pthread_mutex_lock(&c->mu);
    e = cache_find_locked(c, path);
    if (e == NULL) {
        e = &c->e[0];
        for (i = 0; i < CACHE_SLOTS; i++) {
            if (c->e[i].path[0] == '\0') {
                e = &c->e[i];
                break;
            }
            if (c->e[i].used < e->used)
                e = &c->e[i];
        }
    }
    entry_clear(e);
    snprintf(e->path, sizeof e->path, "%s", path);
    memcpy(e->gens, gens, sizeof e->gens);
    e->deps = deps;
    snprintf(e->stamp, sizeof e->stamp, "%s", stamp);
    for (i = 0; i < T_COUNT; i++) {
        e->text[i] = text[i];
        e->len[i] = len[i];
    }
    e->computed_ns = computed_ns;
    e->used = ++c->clock;
    pthread_mutex_unlock(&c->mu);
}

/* The generations to store a result with (see the comment at the top). */
static void generations_settled(vrm_vault *v, uint64_t gens[G_COUNT])
{
    vrm_vault_lock(v);
    generations(v, gens);
    vrm_vault_unlock(v);
}

/* ---- a connection to compute on ------------------------------------------- */

typedef struct conn {
    vrm_vault *v;
    vrm_reader *r;                    /* a read connection, or NULL: v->db, locked */
    sqlite3 *db;
} conn;

/* Take a connection and open a read transaction on it, so that every query
 * of one result sees one snapshot. */
static int conn_begin(vrm_vault *v, conn *c)
{
    c->v = v;
    c->r = vrm_vault_reader_get(v);
    if (c->r == NULL)
        vrm_vault_lock(v);
    c->db = c->r != NULL ? c->r->db : vrm_vault_sqlite(v);
    if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = vrm_error_from_db(c->db, "analytics");

        if (c->r == NULL)
            vrm_vault_unlock(v);
        vrm_vault_reader_release(c->r);
        return rc;
    }
    return 0;
}

static void conn_end(conn *c)
{
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    if (c->r == NULL)
        vrm_vault_unlock(c->v);
    vrm_vault_reader_release(c->r);
}

static int conn_prepare(conn *c, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return vrm_error_from_db(c->db, "analytics");
    }
    return 0;
}

/* Finish a statement's walk: 0 if it ran to SQLITE_DONE, else the error. */
static int conn_done(conn *c, sqlite3_stmt *st, int step_rc)
{
    int rc = step_rc == SQLITE_DONE ? 0 : vrm_error_from_db(c->db, "analytics");

    sqlite3_finalize(st);
    return rc;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);

    return s != NULL ? s : "";
}

/* ---- rows computed in memory ---------------------------------------------- */

/* A group of a spending result: its key, rounded total and count. */
typedef struct group {
    char *key;
    double total;
    int64_t count;
} group;

typedef struct groups {
    group *g;
    size_t n, cap;
} groups;

static int groups_add(groups *gs, const char *key, double total, int64_t count)
{
    if (vrm_array_grow(&gs->g, &gs->cap, gs->n, sizeof *gs->g) != 0)
        return -ENOMEM;
    gs->g[gs->n].key = strdup(key);
    if (gs->g[gs->n].key == NULL)
        return -ENOMEM;
    gs->g[gs->n].total = total;
    gs->g[gs->n].count = count;
    gs->n++;
    return 0;
}

static void groups_free(groups *gs)
{
    size_t i;

    for (i = 0; i < gs->n; i++)
        free(gs->g[i].key);
    free(gs->g);
    *gs = (groups){0};
}

/* Largest (rounded) total first, ties by key in byte order. */
static int by_total_desc(const void *a, const void *b)
{
    const group *x = a, *y = b;

    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* Run a statement giving (key, sum, count) rows into gs, totals rounded to
 * cents.  Bind ?1 to `param` when not NULL. */
static int groups_query(conn *c, const char *sql, const char *param, groups *gs)
{
    sqlite3_stmt *st;
    int rc = conn_prepare(c, sql, &st), step;

    if (rc != 0)
        return rc;
    if (param != NULL)
        sqlite3_bind_text(st, 1, param, -1, SQLITE_TRANSIENT);
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = groups_add(gs, col_text(st, 0), cents(sqlite3_column_double(st, 1)),
                             sqlite3_column_int64(st, 2))) != 0) {
            sqlite3_finalize(st);
            return rc;
        }
    return conn_done(c, st, step);
}

/* [{"KEYNAME": key, "total": N, "count": N}] pretty, with a final newline. */
static int groups_json(const groups *gs, const char *keyname, char **out, size_t *len)
{
    cJSON *arr = cJSON_CreateArray(), *o;
    size_t i;
    int rc = -ENOMEM;

    if (arr == NULL)
        return -ENOMEM;
    for (i = 0; i < gs->n; i++) {
        if ((o = cJSON_CreateObject()) == NULL)
            goto out;
        cJSON_AddItemToArray(arr, o);
        if (cJSON_AddStringToObject(o, keyname, gs->g[i].key) == NULL ||
            cJSON_AddNumberToObject(o, "total", gs->g[i].total) == NULL ||
            cJSON_AddNumberToObject(o, "count", (double)gs->g[i].count) == NULL)
            goto out;
    }
    rc = vrm_json_pretty(arr, out, len);
out:
    cJSON_Delete(arr);
    return rc;
}

/* ---- tallies ---------------------------------------------------------------- */

/* Sums and counts by key, in a hash table.  The spending results group up
 * to every finance record, and SQLite would group them by sorting them
 * (USE TEMP B-TREE FOR GROUP BY) or, through facts_month, by looking each
 * row up in the table by its primary key; with 1,000,000 records either
 * takes seconds, where one scan of the primary key's range of the
 * collection, summed here, takes a fraction of one. */
typedef struct tslot {
    char *key;                        /* NULL: empty */
    double sum, comp;                 /* Neumaier's compensated sum */
    int64_t count;
} tslot;

typedef struct tally {
    tslot *s;
    size_t cap, n;                    /* cap: a power of two, or 0 */
} tally;

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603u;            /* FNV-1a */

    while (n--)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

static tslot *tally_slot(tslot *s, size_t cap, const char *key, size_t n)
{
    size_t i = (size_t)hash(key, n) & (cap - 1);

    while (s[i].key != NULL && (strncmp(s[i].key, key, n) != 0 || s[i].key[n] != '\0'))
        i = (i + 1) & (cap - 1);
    return &s[i];
}

/* Add x to key's sum (n bytes of key, no NUL in them). */
static int tally_add(tally *t, const char *key, size_t n, double x)
{
    tslot *e;
    double sum;

    if (2 * (t->n + 1) > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64, i;
        tslot *s = calloc(cap, sizeof *s);

        if (s == NULL)
            return -ENOMEM;
        for (i = 0; i < t->cap; i++)
            if (t->s[i].key != NULL)
                *tally_slot(s, cap, t->s[i].key, strlen(t->s[i].key)) = t->s[i];
        free(t->s);
        t->s = s;
        t->cap = cap;
    }
    e = tally_slot(t->s, t->cap, key, n);
    if (e->key == NULL) {
        if ((e->key = strndup(key, n)) == NULL)
            return -ENOMEM;
        t->n++;
    }
    sum = e->sum + x;
    e->comp += fabs(e->sum) >= fabs(x) ? (e->sum - sum) + x : (x - sum) + e->sum;
    e->sum = sum;
    e->count++;
    return 0;
}

static void tally_free(tally *t)
{
    size_t i;

    for (i = 0; i < t->cap; i++)
        free(t->s[i].key);
    free(t->s);
    *t = (tally){0};
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const group *)a)->key, ((const group *)b)->key);
}

/* Move the tally into gs, totals rounded to cents, in key order. */
static int tally_groups(tally *t, groups *gs)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < t->cap && rc == 0; i++)
        if (t->s[i].key != NULL)
            rc = groups_add(gs, t->s[i].key, cents(t->s[i].sum + t->s[i].comp),
                            t->s[i].count);
    tally_free(t);
    if (rc == 0 && gs->n > 1)
        qsort(gs->g, gs->n, sizeof *gs->g, by_key);
    return rc;
}

/* Tally the rows of `sql`: column 0 the key, column 1 the amount; with
 * `second`, column 2 (when not NULL) is counted there too.  ?1 and ?2 bound
 * to p1 and p2 when given. */
static int tally_query(conn *c, const char *sql, const char *p1, const char *p2, tally *t,
                       tally *second)
{
    sqlite3_stmt *st;
    int rc = conn_prepare(c, sql, &st), step;

    if (rc != 0)
        return rc;
    if (p1 != NULL)
        sqlite3_bind_text(st, 1, p1, -1, SQLITE_TRANSIENT);
    if (p2 != NULL)
        sqlite3_bind_text(st, 2, p2, -1, SQLITE_TRANSIENT);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = col_text(st, 0);

        rc = tally_add(t, k, strlen(k), sqlite3_column_double(st, 1));
        if (rc == 0 && second != NULL && sqlite3_column_type(st, 2) != SQLITE_NULL) {
            k = col_text(st, 2);
            rc = tally_add(second, k, strlen(k), 0);
        }
        if (rc != 0) {
            sqlite3_finalize(st);
            return rc;
        }
    }
    return conn_done(c, st, step);
}

/* ---- spending ------------------------------------------------------------- */

/* The finance facts are read by a scan of the primary key's range
 * (collection, name); the unary + on the other columns keeps the planner
 * off facts_month, whose use would cost one lookup per row (see tally). */

/* Finance records with a date and an amount, by month, in month order;
 * with `cur`, the currency most of them name (ties: first in byte order),
 * or "" when none does. */
static int spending_months(conn *c, groups *gs, char cur[32])
{
    tally t = {0}, currencies = {0};
    size_t i, best = 0;
    int rc = tally_query(c, "SELECT month, amount, currency FROM facts "
                            "WHERE collection = 'finance' AND +month IS NOT NULL "
                            "AND +amount IS NOT NULL", NULL, NULL, &t,
                         cur != NULL ? &currencies : NULL);

    if (rc != 0) {
        tally_free(&t);
        tally_free(&currencies);
        return rc;
    }
    if (cur != NULL) {
        cur[0] = '\0';
        for (i = 0; i < currencies.cap; i++) {
            tslot *e = &currencies.s[i];

            if (e->key != NULL && (e->count > (int64_t)best ||
                                   (e->count == (int64_t)best && strcmp(e->key, cur) < 0))) {
                best = (size_t)e->count;
                snprintf(cur, 32, "%s", e->key);
            }
        }
        tally_free(&currencies);
    }
    return tally_groups(&t, gs);
}

static int make_by_month_json(conn *c, char **out, size_t *len)
{
    groups gs = {0};
    int rc = spending_months(c, &gs, NULL);

    if (rc == 0)
        rc = groups_json(&gs, "month", out, len);
    groups_free(&gs);
    return rc;
}

static int make_by_month_csv(conn *c, char **out, size_t *len)
{
    groups gs = {0};
    vrm_strbuf b = VRM_STRBUF_INIT;
    size_t i;
    int rc = spending_months(c, &gs, NULL);

    if (rc != 0) {
        groups_free(&gs);
        return rc;
    }
    vrm_strbuf_adds(&b, "month,total,count\n");
    for (i = 0; i < gs.n; i++) {
        csv_text(&b, gs.g[i].key);
        vrm_strbuf_add(&b, ",", 1);
        csv_money(&b, gs.g[i].total);
        vrm_strbuf_addf(&b, ",%lld\n", (long long)gs.g[i].count);
    }
    groups_free(&gs);
    return sb_detach(&b, out, len);
}

static int make_by_key_json(conn *c, const char *sql, const char *keyname, char **out,
                            size_t *len)
{
    tally t = {0};
    groups gs = {0};
    int rc = tally_query(c, sql, NULL, NULL, &t, NULL);

    if (rc == 0)
        rc = tally_groups(&t, &gs);
    tally_free(&t);
    if (rc == 0) {
        if (gs.n > 1)
            qsort(gs.g, gs.n, sizeof *gs.g, by_total_desc);
        rc = groups_json(&gs, keyname, out, len);
    }
    groups_free(&gs);
    return rc;
}

static int make_by_category(conn *c, char **out, size_t *len)
{
    return make_by_key_json(c, "SELECT coalesce(nullif(category, ''), 'uncategorized'), "
                               "amount FROM facts "
                               "WHERE collection = 'finance' AND +amount IS NOT NULL",
                            "category", out, len);
}

static int make_by_merchant(conn *c, char **out, size_t *len)
{
    return make_by_key_json(c, "SELECT coalesce(nullif(merchant, ''), 'unknown'), "
                               "amount FROM facts "
                               "WHERE collection = 'finance' AND +amount IS NOT NULL",
                            "merchant", out, len);
}

/* One scan of the 13 months up to this one: totals by month, and this
 * month's by category. */
static int make_summary(conn *c, char **out, size_t *len)
{
    char month[16], first[16];
    tally t = {0};
    groups cats = {0};
    double total = 0, before = 0, avg;
    cJSON *o = cJSON_CreateObject(), *arr;
    size_t i;
    int rc;

    month_of(0, month);
    month_of(12, first);
    if (o == NULL)
        return -ENOMEM;
    rc = tally_query(c, "SELECT month || char(31) || coalesce(nullif(category, ''), "
                        "'uncategorized'), amount FROM facts "
                        "WHERE collection = 'finance' AND +month BETWEEN ?2 AND ?1 "
                        "AND +amount IS NOT NULL", month, first, &t, NULL);
    if (rc != 0)
        goto out;
    /* keys are MONTH US CATEGORY: sum the months unrounded, keep this
     * month's categories */
    for (i = 0; i < t.cap; i++) {
        const char *key = t.s[i].key, *cat;
        double sum = t.s[i].sum + t.s[i].comp;

        if (key == NULL || (cat = strchr(key, '\x1f')) == NULL)
            continue;
        if (strncmp(key, month, 7) == 0) {
            total += sum;
            if ((rc = groups_add(&cats, cat + 1, cents(sum), t.s[i].count)) != 0)
                goto out;
        } else {
            before += sum;
        }
    }
    if (cats.n > 1)
        qsort(cats.g, cats.n, sizeof *cats.g, by_total_desc);
    total = cents(total);
    avg = cents(before / 12);
    rc = -ENOMEM;
    if (cJSON_AddStringToObject(o, "month", month) == NULL ||
        cJSON_AddNumberToObject(o, "total", total) == NULL ||
        cJSON_AddNumberToObject(o, "average_12", avg) == NULL ||
        cJSON_AddNumberToObject(o, "change", cents(total - avg)) == NULL ||
        (arr = cJSON_AddArrayToObject(o, "top_categories")) == NULL)
        goto out;
    for (i = 0; i < cats.n && i < TOP_CATEGORIES; i++) {
        cJSON *e = cJSON_CreateObject();

        if (e == NULL)
            goto out;
        cJSON_AddItemToArray(arr, e);
        if (cJSON_AddStringToObject(e, "category", cats.g[i].key) == NULL ||
            cJSON_AddNumberToObject(e, "total", cats.g[i].total) == NULL)
            goto out;
    }
    rc = vrm_json_pretty(o, out, len);
out:
    tally_free(&t);
    groups_free(&cats);
    cJSON_Delete(o);
    return rc;
}

/* ---- SVG charts ------------------------------------------------------------ */

#define SVG_W 800
#define SVG_H 440
#define PLOT_L 90                     /* plot area: left, right, top, bottom */
#define PLOT_R 770
#define PLOT_T 64
#define PLOT_B 340

/* A "nice" axis from lo to hi (lo <= 0 <= hi or as given): step 1, 2 or 5
 * times a power of ten, about 5 ticks. */
static void nice_axis(double *lo, double *hi, double *step)
{
    double span = *hi - *lo, raw, mag, f;

    if (!(span > 0)) {
        *hi = *lo + 1;
        span = 1;
    }
    raw = span / 5;
    mag = pow(10, floor(log10(raw)));
    f = raw / mag;
    *step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    *lo = floor(*lo / *step) * *step;
    *hi = ceil(*hi / *step) * *step;
    if (*hi <= *lo)
        *hi = *lo + *step;
}

static void svg_open(vrm_strbuf *b, const char *title, const char *desc)
{
    vrm_strbuf_adds(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    vrm_strbuf_addf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                       "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                       "font-family=\"sans-serif\" font-size=\"12\">\n",
                    SVG_W, SVG_H, SVG_W, SVG_H);
    vrm_strbuf_adds(b, "<title>");
    xml_text(b, title);
    vrm_strbuf_adds(b, "</title>\n<desc>");
    xml_text(b, desc);
    vrm_strbuf_adds(b, "</desc>\n");
    vrm_strbuf_addf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
                    SVG_W, SVG_H);
    vrm_strbuf_addf(b, "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" "
                       "font-weight=\"bold\">", SVG_W / 2);
    xml_text(b, title);
    vrm_strbuf_adds(b, "</text>\n");
}

static void svg_no_data(vrm_strbuf *b)
{
    vrm_strbuf_addf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                       "stroke=\"#999999\"/>\n", PLOT_L, PLOT_T, PLOT_R - PLOT_L, PLOT_B - PLOT_T);
    vrm_strbuf_addf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"18\" "
                       "fill=\"#666666\">no data</text>\n</svg>\n",
                    (PLOT_L + PLOT_R) / 2, (PLOT_T + PLOT_B) / 2);
}

/* Axes, y ticks with labels, and both axis titles. */
static void svg_axes(vrm_strbuf *b, double lo, double hi, double step, const char *xtitle,
                     const char *ytitle)
{
    double t;
    int i;

    vrm_strbuf_adds(b, "<g stroke=\"#dddddd\">\n");
    for (i = 0, t = lo; t <= hi + step / 2 && i < 100; i++, t = lo + i * step) {
        double y = PLOT_B - (t - lo) / (hi - lo) * (PLOT_B - PLOT_T);

        vrm_strbuf_addf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n",
                        PLOT_L, y, PLOT_R, y);
    }
    vrm_strbuf_adds(b, "</g>\n<g text-anchor=\"end\">\n");
    for (i = 0, t = lo; t <= hi + step / 2 && i < 100; i++, t = lo + i * step) {
        double y = PLOT_B - (t - lo) / (hi - lo) * (PLOT_B - PLOT_T);

        vrm_strbuf_addf(b, "<text x=\"%d\" y=\"%.1f\">%.15g</text>\n", PLOT_L - 6, y + 4,
                        fabs(t) < step / 1e6 ? 0 : t);
    }
    vrm_strbuf_adds(b, "</g>\n");
    vrm_strbuf_addf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000000\"/>\n",
                    PLOT_L, PLOT_T, PLOT_L, PLOT_B);
    vrm_strbuf_addf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000000\"/>\n",
                    PLOT_L, PLOT_B, PLOT_R, PLOT_B);
    vrm_strbuf_addf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
                    (PLOT_L + PLOT_R) / 2, SVG_H - 12);
    xml_text(b, xtitle);
    vrm_strbuf_adds(b, "</text>\n");
    vrm_strbuf_addf(b, "<text x=\"20\" y=\"%d\" text-anchor=\"middle\" "
                       "transform=\"rotate(-90 20 %d)\">", (PLOT_T + PLOT_B) / 2,
                    (PLOT_T + PLOT_B) / 2);
    xml_text(b, ytitle);
    vrm_strbuf_adds(b, "</text>\n");
}

/* An x tick label under position x, rotated when labels are many. */
static void svg_xlabel(vrm_strbuf *b, double x, const char *label, int rotate)
{
    vrm_strbuf_addf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000000\"/>\n",
                    x, PLOT_B, x, PLOT_B + 4);
    if (rotate)
        vrm_strbuf_addf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" "
                           "transform=\"rotate(-45 %.1f %d)\">", x, PLOT_B + 16, x, PLOT_B + 16);
    else
        vrm_strbuf_addf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x, PLOT_B + 18);
    xml_text(b, label);
    vrm_strbuf_adds(b, "</text>\n");
}

static int make_by_month_svg(conn *c, char **out, size_t *len)
{
    groups gs = {0};
    char cur[32], ytitle[64];
    vrm_strbuf b = VRM_STRBUF_INIT;
    double lo = 0, hi = 0, step, slot, bw, y0;
    size_t i, every;
    int rc = spending_months(c, &gs, cur);

    if (rc != 0) {
        groups_free(&gs);
        return rc;
    }
    snprintf(ytitle, sizeof ytitle, "Spending (%s)", cur[0] ? cur : "amount");
    svg_open(&b, "Spending by month", "Total of the finance records' amounts per month.");
    if (gs.n == 0) {
        svg_no_data(&b);
        groups_free(&gs);
        return sb_detach(&b, out, len);
    }
    for (i = 0; i < gs.n; i++) {
        lo = fmin(lo, gs.g[i].total);
        hi = fmax(hi, gs.g[i].total);
    }
    nice_axis(&lo, &hi, &step);
    svg_axes(&b, lo, hi, step, "Month", ytitle);
    slot = (double)(PLOT_R - PLOT_L) / (double)gs.n;
    bw = slot * 0.7;
    y0 = PLOT_B - (0 - lo) / (hi - lo) * (PLOT_B - PLOT_T);
    every = gs.n / 24 + 1;
    vrm_strbuf_adds(&b, "<g fill=\"#4a7ebb\">\n");
    for (i = 0; i < gs.n; i++) {
        double x = PLOT_L + slot * (double)i + (slot - bw) / 2;
        double y = PLOT_B - (gs.g[i].total - lo) / (hi - lo) * (PLOT_B - PLOT_T);

        vrm_strbuf_addf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                            "<title>", x, fmin(y, y0), bw, fabs(y0 - y));
        xml_text(&b, gs.g[i].key);
        vrm_strbuf_addf(&b, ": %.2f ", gs.g[i].total);
        xml_text(&b, cur);
        vrm_strbuf_addf(&b, " (%lld records)</title></rect>\n", (long long)gs.g[i].count);
    }
    vrm_strbuf_adds(&b, "</g>\n");
    for (i = 0; i < gs.n; i += every)
        svg_xlabel(&b, PLOT_L + slot * ((double)i + 0.5), gs.g[i].key, gs.n > 8);
    vrm_strbuf_adds(&b, "</svg>\n");
    groups_free(&gs);
    return sb_detach(&b, out, len);
}

/* ---- calories --------------------------------------------------------------- */

typedef struct kday {
    char date[11];
    int64_t day;                      /* days since the epoch */
    double kcal;                      /* sum that day */
    double avg7;                      /* mean over days with records in [day-6, day] */
} kday;

typedef struct kdays {
    kday *d;
    size_t n;
} kdays;

/* Diet records by day (valid dates only), with the 7-day averages. */
static int calories_days(conn *c, kdays *out)
{
    sqlite3_stmt *st;
    size_t cap = 0, i, j;
    int rc = conn_prepare(c, "SELECT day, total(kcal) FROM facts WHERE collection = 'diet' "
                             "AND day IS NOT NULL AND kcal IS NOT NULL "
                             "GROUP BY day ORDER BY day", &st), step;

    out->d = NULL;
    out->n = 0;
    if (rc != 0)
        return rc;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t day;

        if (!parse_day(col_text(st, 0), &day))
            continue;
        if (vrm_array_grow(&out->d, &cap, out->n, sizeof *out->d) != 0) {
            sqlite3_finalize(st);
            return -ENOMEM;
        }
        snprintf(out->d[out->n].date, sizeof out->d[out->n].date, "%s", col_text(st, 0));
        out->d[out->n].day = day;
        out->d[out->n].kcal = sqlite3_column_double(st, 1);
        out->n++;
    }
    rc = conn_done(c, st, step);
    if (rc != 0)
        return rc;
    /* each window summed afresh (at most 7 days), so no drift of a running
     * sum can show in the rounded value */
    for (i = 0, j = 0; i < out->n; i++) {
        double s = 0;
        size_t k;

        while (out->d[j].day < out->d[i].day - 6)
            j++;
        for (k = j; k <= i; k++)
            s += out->d[k].kcal;
        out->d[i].avg7 = s / (double)(i - j + 1);
    }
    return 0;
}

/* The profile's kcal_target: of record "me" when it has one, else of the
 * first profile record by name that does.  *has 0 when none. */
static int calories_target(conn *c, double *target, int *has)
{
    sqlite3_stmt *st;
    int rc = conn_prepare(c, "SELECT json_extract(body, '$.kcal_target') AS t FROM records "
                             "WHERE collection = 'profile' AND t IS NOT NULL "
                             "ORDER BY name <> 'me', name", &st), step;

    *has = 0;
    if (rc != 0)
        return rc;
    while (!*has && (step = sqlite3_step(st)) == SQLITE_ROW) {
        int type = sqlite3_column_type(st, 0);

        if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
            *target = sqlite3_column_double(st, 0);
            *has = 1;
        } else if (type == SQLITE_TEXT) {
            const char *s = col_text(st, 0);
            char *end;

            *target = strtod(s, &end);
            *has = s[0] != '\0' && *end == '\0' && isfinite(*target);
        }
    }
    if (*has)
        step = SQLITE_DONE;
    return conn_done(c, st, step);
}

static int make_daily_csv(conn *c, char **out, size_t *len)
{
    kdays ks;
    double target = 0;
    int has = 0, rc = calories_days(c, &ks);
    vrm_strbuf b = VRM_STRBUF_INIT;
    size_t i;

    if (rc == 0)
        rc = calories_target(c, &target, &has);
    if (rc != 0) {
        free(ks.d);
        return rc;
    }
    vrm_strbuf_adds(&b, "date,kcal,average_7,target\n");
    for (i = 0; i < ks.n; i++) {
        vrm_strbuf_addf(&b, "%s,", ks.d[i].date);
        csv_number(&b, tenths(ks.d[i].kcal));
        vrm_strbuf_add(&b, ",", 1);
        csv_number(&b, tenths(ks.d[i].avg7));
        vrm_strbuf_add(&b, ",", 1);
        if (has)
            csv_number(&b, tenths(target));
        vrm_strbuf_add(&b, "\n", 1);
    }
    free(ks.d);
    return sb_detach(&b, out, len);
}

static int make_weekly_json(conn *c, char **out, size_t *len)
{
    kdays ks;
    cJSON *arr = NULL, *o = NULL;
    char week[16], prev[16] = "";
    double sum = 0;
    int64_t days = 0;
    size_t i;
    int rc = calories_days(c, &ks);

    if (rc != 0)
        goto out;
    rc = -ENOMEM;
    if ((arr = cJSON_CreateArray()) == NULL)
        goto out;
    for (i = 0; i <= ks.n; i++) {
        if (i < ks.n)
            iso_week(ks.d[i].day, week);
        if (days > 0 && (i == ks.n || strcmp(week, prev) != 0)) {
            if ((o = cJSON_CreateObject()) == NULL)
                goto out;
            cJSON_AddItemToArray(arr, o);
            if (cJSON_AddStringToObject(o, "week", prev) == NULL ||
                cJSON_AddNumberToObject(o, "average", tenths(sum / (double)days)) == NULL ||
                cJSON_AddNumberToObject(o, "days", (double)days) == NULL)
                goto out;
            sum = 0;
            days = 0;
        }
        if (i < ks.n) {
            memcpy(prev, week, sizeof prev);
            sum += ks.d[i].kcal;
            days++;
        }
    }
    rc = vrm_json_pretty(arr, out, len);
out:
    cJSON_Delete(arr);
    free(ks.d);
    return rc;
}

/* A polyline through the days' values (which: 0 kcal, 1 average). */
static void svg_polyline(vrm_strbuf *b, const kdays *ks, int which, double lo, double hi,
                         int64_t d0, int64_t span, const char *attrs)
{
    size_t i;

    vrm_strbuf_addf(b, "<polyline fill=\"none\" %s points=\"", attrs);
    for (i = 0; i < ks->n; i++) {
        double v = which == 0 ? tenths(ks->d[i].kcal) : tenths(ks->d[i].avg7);
        double x = PLOT_L + (double)(ks->d[i].day - d0) / (double)span * (PLOT_R - PLOT_L);
        double y = PLOT_B - (v - lo) / (hi - lo) * (PLOT_B - PLOT_T);

        vrm_strbuf_addf(b, "%s%.1f,%.1f", i ? " " : "", x, y);
    }
    vrm_strbuf_adds(b, "\"/>\n");
}

static int make_daily_svg(conn *c, char **out, size_t *len)
{
    kdays ks;
    double target = 0, lo = 0, hi = 0, step;
    int has = 0, rc = calories_days(c, &ks);
    int64_t d0, span, k, every;
    vrm_strbuf b = VRM_STRBUF_INIT;
    size_t i;

    if (rc == 0)
        rc = calories_target(c, &target, &has);
    if (rc != 0) {
        free(ks.d);
        return rc;
    }
    svg_open(&b, "Calories per day", "kcal eaten per day (diet records), the average of "
                                     "the 7 days up to each day, and the profile's target.");
    if (ks.n == 0) {
        svg_no_data(&b);
        free(ks.d);
        return sb_detach(&b, out, len);
    }
    for (i = 0; i < ks.n; i++) {
        lo = fmin(lo, ks.d[i].kcal);
        hi = fmax(hi, ks.d[i].kcal);
    }
    if (has) {
        lo = fmin(lo, target);
        hi = fmax(hi, target);
    }
    nice_axis(&lo, &hi, &step);
    svg_axes(&b, lo, hi, step, "Date", "Energy (kcal)");
    d0 = ks.d[0].day;
    span = ks.d[ks.n - 1].day - d0;
    if (span == 0) {
        d0--;
        span = 2;
    }
    /* x ticks: about 8 dates, at the days with records nearest evenly
     * spaced positions */
    every = (int64_t)(ks.n / 8) + 1;
    for (k = 0; k < (int64_t)ks.n; k += every)
        svg_xlabel(&b, PLOT_L + (double)(ks.d[k].day - d0) / (double)span * (PLOT_R - PLOT_L),
                   ks.d[k].date, 1);
    if (has) {
        double y = PLOT_B - (tenths(target) - lo) / (hi - lo) * (PLOT_B - PLOT_T);

        vrm_strbuf_addf(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#c0392b\" "
                            "stroke-dasharray=\"6 4\"><title>target: %.15g kcal</title></line>\n",
                        PLOT_L, y, PLOT_R, y, tenths(target));
    }
    svg_polyline(&b, &ks, 0, lo, hi, d0, span, "stroke=\"#4a7ebb\" stroke-width=\"1.5\"");
    svg_polyline(&b, &ks, 1, lo, hi, d0, span, "stroke=\"#e67e22\" stroke-width=\"2.5\"");
    if (ks.n == 1)      /* a line through one point draws nothing */
        vrm_strbuf_addf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#4a7ebb\"/>\n",
                        PLOT_L + (double)(ks.d[0].day - d0) / (double)span * (PLOT_R - PLOT_L),
                        PLOT_B - (tenths(ks.d[0].kcal) - lo) / (hi - lo) * (PLOT_B - PLOT_T));
    /* legend */
    vrm_strbuf_addf(&b, "<g font-size=\"11\">\n"
                        "<line x1=\"%d\" y1=\"46\" x2=\"%d\" y2=\"46\" stroke=\"#4a7ebb\" "
                        "stroke-width=\"1.5\"/><text x=\"%d\" y=\"50\">kcal per day</text>\n"
                        "<line x1=\"%d\" y1=\"46\" x2=\"%d\" y2=\"46\" stroke=\"#e67e22\" "
                        "stroke-width=\"2.5\"/><text x=\"%d\" y=\"50\">7-day average</text>\n",
                    PLOT_L, PLOT_L + 20, PLOT_L + 24, PLOT_L + 130, PLOT_L + 150, PLOT_L + 154);
    if (has)
        vrm_strbuf_addf(&b, "<line x1=\"%d\" y1=\"46\" x2=\"%d\" y2=\"46\" stroke=\"#c0392b\" "
                            "stroke-dasharray=\"6 4\"/><text x=\"%d\" y=\"50\">target</text>\n",
                        PLOT_L + 270, PLOT_L + 290, PLOT_L + 294);
    vrm_strbuf_adds(&b, "</g>\n</svg>\n");
    free(ks.d);
    return sb_detach(&b, out, len);
}

/* ---- mileage ------------------------------------------------------------------ */

static int make_balance_json(conn *c, char **out, size_t *len)
{
    sqlite3_stmt *st;
    cJSON *arr = cJSON_CreateArray(), *o;
    int rc, step;

    if (arr == NULL)
        return -ENOMEM;
    rc = conn_prepare(c, "SELECT coalesce(nullif(program, ''), 'unknown') AS p, "
                         "total(miles_earned), total(miles_used) FROM facts "
                         "WHERE collection = 'purchases' "
                         "AND (miles_earned IS NOT NULL OR miles_used IS NOT NULL) "
                         "GROUP BY p ORDER BY p", &st);
    if (rc != 0)
        goto out;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        double earned = sqlite3_column_double(st, 1), used = sqlite3_column_double(st, 2);

        if ((o = cJSON_CreateObject()) == NULL) {
            sqlite3_finalize(st);
            rc = -ENOMEM;
            goto out;
        }
        cJSON_AddItemToArray(arr, o);
        if (cJSON_AddStringToObject(o, "program", col_text(st, 0)) == NULL ||
            cJSON_AddNumberToObject(o, "earned", cents(earned)) == NULL ||
            cJSON_AddNumberToObject(o, "used", cents(used)) == NULL ||
            cJSON_AddNumberToObject(o, "balance", cents(earned - used)) == NULL) {
            sqlite3_finalize(st);
            rc = -ENOMEM;
            goto out;
        }
    }
    rc = conn_done(c, st, step);
    if (rc == 0)
        rc = vrm_json_pretty(arr, out, len);
out:
    cJSON_Delete(arr);
    return rc;
}

/* One row per date and program (records without a date first, with an
 * empty date), so each program's last balance is its balance.json. */
static int make_history_csv(conn *c, char **out, size_t *len)
{
    sqlite3_stmt *st;
    groups progs = {0};               /* key: program, total: running balance */
    vrm_strbuf b = VRM_STRBUF_INIT;
    int rc, step;

    rc = conn_prepare(c, "SELECT coalesce(day, ''), coalesce(nullif(program, ''), 'unknown') "
                         "AS p, total(miles_earned), total(miles_used) FROM facts "
                         "WHERE collection = 'purchases' "
                         "AND (miles_earned IS NOT NULL OR miles_used IS NOT NULL) "
                         "GROUP BY 1, 2 ORDER BY 1, 2", &st);
    if (rc != 0)
        return rc;
    vrm_strbuf_adds(&b, "date,program,earned,used,balance\n");
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *prog = col_text(st, 1);
        double earned = sqlite3_column_double(st, 2), used = sqlite3_column_double(st, 3);
        size_t i;

        for (i = 0; i < progs.n && strcmp(progs.g[i].key, prog) != 0; i++)
            ;
        if (i == progs.n && groups_add(&progs, prog, 0, 0) != 0) {
            b.failed = 1;
            break;
        }
        progs.g[i].total += earned - used;
        csv_text(&b, col_text(st, 0));
        vrm_strbuf_add(&b, ",", 1);
        csv_text(&b, prog);
        vrm_strbuf_add(&b, ",", 1);
        csv_money(&b, earned);
        vrm_strbuf_add(&b, ",", 1);
        csv_money(&b, used);
        vrm_strbuf_add(&b, ",", 1);
        csv_money(&b, progs.g[i].total);
        vrm_strbuf_add(&b, "\n", 1);
    }
    groups_free(&progs);
    rc = conn_done(c, st, step == SQLITE_ROW ? SQLITE_DONE : step);
    if (rc != 0) {
        vrm_strbuf_release(&b);
        return rc;
    }
    return sb_detach(&b, out, len);
}

/* ---- activity ----------------------------------------------------------------- */

static int make_activity_json(conn *c, char **out, size_t *len)
{
    sqlite3_stmt *st = NULL;
    groups kinds = {0};               /* total: minutes */
    cJSON *o = cJSON_CreateObject(), *arr, *w;
    char week[16], prev[16] = "";
    double minutes = 0;
    int64_t count = 0;
    size_t i;
    int rc, step = SQLITE_DONE;

    if (o == NULL)
        return -ENOMEM;
    rc = groups_query(c, "SELECT coalesce(nullif(kind, ''), 'unknown') AS k, "
                         "total(duration), count(*) FROM facts "
                         "WHERE collection = 'activity' GROUP BY k", NULL, &kinds);
    if (rc != 0)
        goto out;
    rc = -ENOMEM;
    if ((arr = cJSON_AddArrayToObject(o, "kinds")) == NULL)
        goto out;
    for (i = 0; i < kinds.n; i++)
        kinds.g[i].total = tenths(kinds.g[i].total);
    if (kinds.n > 1)
        qsort(kinds.g, kinds.n, sizeof *kinds.g, by_total_desc);
    for (i = 0; i < kinds.n; i++) {
        if ((w = cJSON_CreateObject()) == NULL)
            goto out;
        cJSON_AddItemToArray(arr, w);
        if (cJSON_AddStringToObject(w, "kind", kinds.g[i].key) == NULL ||
            cJSON_AddNumberToObject(w, "count", (double)kinds.g[i].count) == NULL ||
            cJSON_AddNumberToObject(w, "minutes", kinds.g[i].total) == NULL)
            goto out;
    }
    if ((arr = cJSON_AddArrayToObject(o, "weeks")) == NULL)
        goto out;
    rc = conn_prepare(c, "SELECT day, total(duration), count(*) FROM facts "
                         "WHERE collection = 'activity' AND day IS NOT NULL "
                         "GROUP BY day ORDER BY day", &st);
    if (rc != 0)
        goto out;
    rc = -ENOMEM;
    for (;;) {
        int64_t day = 0;
        int row = (step = sqlite3_step(st)) == SQLITE_ROW;

        if (row && !parse_day(col_text(st, 0), &day))
            continue;
        if (row)
            iso_week(day, week);
        if (count > 0 && (!row || strcmp(week, prev) != 0)) {
            if ((w = cJSON_CreateObject()) == NULL)
                goto out;
            cJSON_AddItemToArray(arr, w);
            if (cJSON_AddStringToObject(w, "week", prev) == NULL ||
                cJSON_AddNumberToObject(w, "count", (double)count) == NULL ||
                cJSON_AddNumberToObject(w, "minutes", tenths(minutes)) == NULL)
                goto out;
            minutes = 0;
            count = 0;
        }
        if (!row)
            break;
        memcpy(prev, week, sizeof prev);
        minutes += sqlite3_column_double(st, 1);
        count += sqlite3_column_int64(st, 2);
    }
    rc = conn_done(c, st, step);
    st = NULL;
    if (rc == 0)
        rc = vrm_json_pretty(o, out, len);
out:
    sqlite3_finalize(st);
    groups_free(&kinds);
    cJSON_Delete(o);
    return rc;
}

/* ---- built-in results ----------------------------------------------------------- */

typedef struct builtin {
    const char *path;
    unsigned deps;
    int monthly;                      /* depends on the current month */
    int (*make)(conn *c, char **out, size_t *len);
} builtin;

static const builtin builtins[] = {
    {"spending/by-month.json", DEP(G_FINANCE), 0, make_by_month_json},
    {"spending/by-category.json", DEP(G_FINANCE), 0, make_by_category},
    {"spending/by-merchant.json", DEP(G_FINANCE), 0, make_by_merchant},
    {"spending/by-month.csv", DEP(G_FINANCE), 0, make_by_month_csv},
    {"spending/by-month.svg", DEP(G_FINANCE), 0, make_by_month_svg},
    {"spending/summary.json", DEP(G_FINANCE), 1, make_summary},
    {"calories/daily.csv", DEP(G_DIET) | DEP(G_OTHER), 0, make_daily_csv},
    {"calories/weekly.json", DEP(G_DIET), 0, make_weekly_json},
    {"calories/daily.svg", DEP(G_DIET) | DEP(G_OTHER), 0, make_daily_svg},
    {"mileage/balance.json", DEP(G_PURCHASES), 0, make_balance_json},
    {"mileage/history.csv", DEP(G_PURCHASES), 0, make_history_csv},
    {"activity/summary.json", DEP(G_ACTIVITY), 0, make_activity_json},
};

/* A built-in result into *out (NULL: only its length and time), computed
 * and cached unless the cache holds it. */
static int builtin_get(vrm_vault *v, const builtin *bi, char **out, size_t *len,
                       int64_t *computed_ns)
{
    char stamp[16] = "", *text[T_COUNT] = {NULL};
    size_t lens[T_COUNT] = {0};
    uint64_t gens[G_COUNT];
    int64_t when;
    conn c;
    int rc;

    if (bi->monthly)
        month_of(0, stamp);
    if (cache_get(v, bi->path, stamp, T_MAIN, out, len, computed_ns, &rc))
        return rc;
    generations_settled(v, gens);
    if ((rc = conn_begin(v, &c)) != 0)
        return rc;
    rc = bi->make(&c, &text[T_MAIN], &lens[T_MAIN]);
    conn_end(&c);
    if (rc != 0)
        return rc;
    when = vrm_now_ns();
    if (out != NULL) {
        if ((*out = malloc(lens[T_MAIN] + 1)) == NULL) {
            free(text[T_MAIN]);
            return -ENOMEM;
        }
        memcpy(*out, text[T_MAIN], lens[T_MAIN] + 1);
    }
    cache_put(v, bi->path, gens, bi->deps, stamp, text, lens, when);
    *len = lens[T_MAIN];
    *computed_ns = when;
    return 0;
}

/* ---- custom queries: storage ------------------------------------------------------ */

static int custom_name_valid(const char *name);

int vrm_analytics_custom_name_valid(const char *name)
{
    return custom_name_valid(name)
               ? 0 : vrm_error(EINVAL, "a query name has 1 to %d of A-Z a-z 0-9 _ -",
                               CUSTOM_NAME_MAX);
}

static int custom_name_valid(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n > CUSTOM_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static int bad_name(const char *name)
{
    return vrm_error(EINVAL, "custom query name \"%.80s\": use 1-%d of A-Z a-z 0-9 _ -",
                     name, CUSTOM_NAME_MAX);
}

int vrm_analytics_custom_put(vrm_vault *v, const char *name, const char *sql, size_t len)
{
    sqlite3_stmt *st;
    int rc;

    if (!custom_name_valid(name))
        return bad_name(name);
    if (len > CUSTOM_SQL_MAX)
        return vrm_error(EFBIG, "custom query %s: longer than %d bytes", name, CUSTOM_SQL_MAX);
    if (memchr(sql, '\0', len) != NULL || !vrm_utf8_valid(sql, len))
        return vrm_error(EINVAL, "custom query %s: not UTF-8 text", name);
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "INSERT OR REPLACE INTO custom_queries(name, sql, updated) "
                           "VALUES (?1, ?2, ?3)", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, sql, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, vrm_now_ns());
        rc = vrm_vault_run(v, st);
        custom_changed(v);
    }
    vrm_vault_unlock(v);
    return rc;
}

/* Custom query `name`: its text into *sql (free(); sql NULL: not read),
 * its size in bytes, its time.  -ENOENT. */
static int custom_read(vrm_vault *v, const char *name, char **sql, uint64_t *size,
                       int64_t *updated_ns)
{
    sqlite3_stmt *st;
    int rc;

    if (!custom_name_valid(name))
        return -ENOENT;
    vrm_vault_lock(v);
    /* the size in bytes, as the text is copied out (length() of text
     * counts characters) */
    rc = vrm_vault_stmt(v, sql != NULL ? "SELECT sql, updated FROM custom_queries WHERE name = ?1"
                                       : "SELECT length(CAST(sql AS BLOB)), updated "
                                         "FROM custom_queries WHERE name = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = vrm_vault_step(v, st);
        rc = rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
    }
    if (rc == 0) {
        if (sql == NULL) {
            *size = (uint64_t)sqlite3_column_int64(st, 0);
        } else {
            size_t n = (size_t)sqlite3_column_bytes(st, 0);

            *sql = malloc(n + 1);
            if (*sql == NULL) {
                rc = -ENOMEM;
            } else {
                memcpy(*sql, sqlite3_column_text(st, 0), n);
                (*sql)[n] = '\0';
                *size = n;
            }
        }
        if (rc == 0 && updated_ns != NULL)
            *updated_ns = sqlite3_column_int64(st, 1);
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_analytics_custom_get(vrm_vault *v, const char *name, char **sql, size_t *len,
                             int64_t *updated_ns)
{
    uint64_t size = 0;
    int rc = custom_read(v, name, sql, &size, updated_ns);

    if (rc == 0)
        *len = (size_t)size;
    return rc;
}

int vrm_analytics_custom_stat(vrm_vault *v, const char *name, uint64_t *size,
                              int64_t *updated_ns)
{
    return custom_read(v, name, NULL, size, updated_ns);
}

int vrm_analytics_custom_list(vrm_vault *v, vrm_name_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    groups names = {0};
    size_t i;
    int rc, step;

    /* names are collected first, so fn runs without the vault's mutex and
     * may call libvrm */
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT name FROM custom_queries ORDER BY name", &st);
    if (rc == 0) {
        while ((step = sqlite3_step(st)) == SQLITE_ROW && rc == 0)
            rc = groups_add(&names, col_text(st, 0), 0, 0);
        if (rc == 0 && step != SQLITE_DONE)
            rc = vrm_vault_sqlerr(v, "database");
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    for (i = 0; rc == 0 && i < names.n; i++)
        rc = fn(ctx, names.g[i].key);
    groups_free(&names);
    return rc;
}

int vrm_analytics_custom_delete(vrm_vault *v, const char *name)
{
    sqlite3_stmt *st;
    int rc;

    if (!custom_name_valid(name))
        return -ENOENT;
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "DELETE FROM custom_queries WHERE name = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
        if (rc == 0 && sqlite3_changes(vrm_vault_sqlite(v)) == 0)
            rc = vrm_error(ENOENT, "no custom query %s", name);
        sqlite3_reset(st);
        custom_changed(v);
    }
    vrm_vault_unlock(v);
    return rc;
}

/* ---- custom queries: running ---------------------------------------------------- */

/* The columns of the view, and of main.records that the view reads. */
static const char *const view_columns[] = {"collection", "name", "body", "created",
                                           "updated", "", NULL};

/* The authorizer's state: whether setup is over, and the first refusal. */
typedef struct guard {
    char why[256];                    /* why the first refused action was refused */
    int weak;                         /* why names only sqlite_master: a later
                                         refusal (CREATE, DROP) says it better */
    struct timespec deadline;         /* CLOCK_MONOTONIC */
    int timed_out;
} guard;

static int view_column(const char *col)
{
    int i;

    for (i = 0; view_columns[i] != NULL; i++)
        if (col != NULL && strcmp(col, view_columns[i]) == 0)
            return 1;
    return 0;
}

static const char *action_name(int code)
{
    switch (code) {
    case SQLITE_INSERT: return "INSERT";
    case SQLITE_UPDATE: return "UPDATE";
    case SQLITE_DELETE: return "DELETE";
    case SQLITE_ATTACH: return "ATTACH";
    case SQLITE_DETACH: return "DETACH";
    case SQLITE_PRAGMA: return "PRAGMA";
    case SQLITE_TRANSACTION: return "a transaction statement";
    case SQLITE_SAVEPOINT: return "SAVEPOINT";
    case SQLITE_ANALYZE: return "ANALYZE";
    case SQLITE_REINDEX: return "REINDEX";
    case SQLITE_RECURSIVE: return "a recursive WITH";
    case SQLITE_ALTER_TABLE: return "ALTER TABLE";
    case SQLITE_CREATE_VTABLE: case SQLITE_DROP_VTABLE: return "a virtual table";
    default: break;
    }
    if (code >= SQLITE_CREATE_INDEX && code <= SQLITE_DROP_VIEW)
        return "CREATE or DROP";
    return "this statement";
}

/* Allow a SELECT reading the view `records` (so main.records' columns
 * through that view, never directly), table-valued JSON functions, and
 * functions; refuse everything else, noting why. */
static int custom_auth(void *arg, int code, const char *a, const char *b, const char *db,
                       const char *inner)
{
    guard *g = arg;

    switch (code) {
    case SQLITE_SELECT:
    case SQLITE_FUNCTION:
        return SQLITE_OK;
    case SQLITE_READ:
        if (db != NULL && strcmp(db, "temp") == 0 && a != NULL && strcmp(a, "records") == 0 &&
            view_column(b))
            return SQLITE_OK;
        /* main.records through the view (its columns), or no column at all
         * (a flattened view whose rows are only counted) */
        if (db != NULL && strcmp(db, "main") == 0 && a != NULL &&
            strcmp(a, "records") == 0 && b != NULL &&
            (b[0] == '\0' || (inner != NULL && strcmp(inner, "records") == 0 &&
                               view_column(b))))
            return SQLITE_OK;
        /* json_each() and json_tree() read no table */
        if (a != NULL && (strcmp(a, "json_each") == 0 || strcmp(a, "json_tree") == 0))
            return SQLITE_OK;
        if (g->why[0] == '\0')
            snprintf(g->why, sizeof g->why, "reading %s%s%s is not allowed: a query reads "
                     "only the view records(collection, name, body, created, updated)",
                     a ? a : "?", b && *b ? "." : "", b ? b : "");
        return SQLITE_DENY;
    default:
        if (g->why[0] == '\0' && a != NULL && strncmp(a, "sqlite_", 7) == 0) {
            snprintf(g->why, sizeof g->why, "touching the schema (%s: CREATE, DROP, ALTER, "
                     "pragma functions) "
                     "is not allowed: a query may only SELECT from the view records", a);
            g->weak = 1;
        } else if (g->why[0] == '\0' || g->weak) {
            g->weak = 0;
            snprintf(g->why, sizeof g->why, "%s is not allowed: a query may only SELECT "
                     "from the view records", action_name(code));
        }
        return SQLITE_DENY;
    }
}

static int custom_progress(void *arg)
{
    guard *g = arg;
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > g->deadline.tv_sec ||
        (now.tv_sec == g->deadline.tv_sec && now.tv_nsec >= g->deadline.tv_nsec)) {
        g->timed_out = 1;
        return 1;
    }
    return 0;
}

/* Open the vault's database read-only through its VFS, with the view and
 * the guard set up.  0, or -errno (then *why says it for the error text). */
static int custom_open(vrm_vault *v, guard *g, sqlite3 **out)
{
    static const char setup[] =
        "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=0; PRAGMA cache_size=-8192; "
        "PRAGMA trusted_schema=OFF; "
        "CREATE TEMP VIEW records(collection, name, body, created, updated) AS "
        "SELECT collection, name, body, created, updated FROM main.records; "
        /* the first use of an eponymous virtual table asks the authorizer
         * about writing sqlite_master: make them before it is installed */
        "SELECT count(*) FROM json_each('[]'), json_tree('[]'); "
        "PRAGMA query_only=ON";
    char *path = NULL;
    sqlite3 *db = NULL;
    int rc = 0;

    *out = NULL;
    if (asprintf(&path, "%s/vault.db", v->dir) < 0)
        return -ENOMEM;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX |
                        SQLITE_OPEN_EXRESCODE, vrm_cryptvfs_name(v->vfs)) != SQLITE_OK ||
        sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
        sqlite3_exec(db, setup, NULL, NULL, NULL) != SQLITE_OK) {
        rc = vrm_error_from_db(db, "custom query: cannot open the vault's database");
        goto out;
    }
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 64 * 1024 * 1024);
    sqlite3_set_authorizer(db, custom_auth, g);
    sqlite3_progress_handler(db, 1000, custom_progress, g);
out:
    if (rc != 0)
        sqlite3_close(db);
    else
        *out = db;
    free(path);
    return rc;
}

/* A number as CSV prints it: integers exactly, reals shortest. */
static void csv_real(vrm_strbuf *b, double d)
{
    char buf[40];

    snprintf(buf, sizeof buf, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, sizeof buf, "%.17g", d);
    vrm_strbuf_adds(b, buf);
}

/* Run `sql` and render it: 0 with *json and *csv, or a positive "refused"
 * (1) with the reason in *err (text for NAME.error.txt), or -errno when the
 * vault itself failed. */
static int custom_run(vrm_vault *v, const char *name, const char *sql, char **json,
                      size_t *jlen, char **csv, size_t *clen, vrm_strbuf *err)
{
    guard g = {{0}, 0, {0, 0}, 0};
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL, *next = NULL;
    const char *tail = NULL;
    cJSON *arr = NULL;
    vrm_strbuf cb = VRM_STRBUF_INIT;
    int rc, ncol, i, step;
    int64_t rows = 0;

    clock_gettime(CLOCK_MONOTONIC, &g.deadline);
    g.deadline.tv_sec += CUSTOM_SECONDS;
    if ((rc = custom_open(v, &g, &db)) != 0) {
        vrm_strbuf_addf(err, "%s.sql: %s\n", name, vrm_error_message());
        goto out;
    }
    rc = 1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, &tail) != SQLITE_OK) {
        if (g.why[0] != '\0')
            vrm_strbuf_addf(err, "%s.sql: refused: %s\n", name, g.why);
        else
            vrm_strbuf_addf(err, "%s.sql: %s\n", name, sqlite3_errmsg(db));
        goto out;
    }
    if (st == NULL) {
        vrm_strbuf_addf(err, "%s.sql: holds no statement; write one SELECT\n", name);
        goto out;
    }
    if (tail != NULL && (sqlite3_prepare_v2(db, tail, -1, &next, NULL) != SQLITE_OK ||
                         next != NULL)) {
        vrm_strbuf_addf(err, "%s.sql: holds more than one statement; write one SELECT\n", name);
        goto out;
    }
    if (!sqlite3_stmt_readonly(st)) {
        vrm_strbuf_addf(err, "%s.sql: refused: only a SELECT may run\n", name);
        goto out;
    }
    ncol = sqlite3_column_count(st);
    for (i = 0; i < ncol; i++) {
        int j;

        for (j = 0; j < i; j++)
            if (strcmp(sqlite3_column_name(st, i), sqlite3_column_name(st, j)) == 0) {
                vrm_strbuf_addf(err, "%s.sql: two columns are named \"%s\"; name them apart "
                                     "with AS\n", name, sqlite3_column_name(st, i));
                goto out;
            }
    }
    rc = -ENOMEM;
    if ((arr = cJSON_CreateArray()) == NULL)
        goto out;
    for (i = 0; i < ncol; i++) {
        csv_text(&cb, sqlite3_column_name(st, i));
        vrm_strbuf_add(&cb, i + 1 < ncol ? "," : "\n", 1);
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o;

        if (++rows > CUSTOM_ROWS_MAX) {
            vrm_strbuf_addf(err, "%s.sql: gives more than %d rows (the limit); narrow it with "
                                 "WHERE, GROUP BY or LIMIT\n", name, CUSTOM_ROWS_MAX);
            rc = 1;
            goto out;
        }
        if ((o = cJSON_CreateObject()) == NULL)
            goto out;
        cJSON_AddItemToArray(arr, o);
        for (i = 0; i < ncol; i++) {
            const char *col = sqlite3_column_name(st, i);
            cJSON *item = NULL;

            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER: {
                char num[24];
                long long n = sqlite3_column_int64(st, i);

                snprintf(num, sizeof num, "%lld", n);
                item = cJSON_CreateRaw(num);        /* exact beyond 2^53 */
                vrm_strbuf_adds(&cb, num);
                break;
            }
            case SQLITE_FLOAT: {
                double d = sqlite3_column_double(st, i);

                item = cJSON_CreateNumber(d);
                if (isfinite(d))
                    csv_real(&cb, d);
                break;
            }
            case SQLITE_TEXT: {
                const char *s = (const char *)sqlite3_column_text(st, i);
                int n = sqlite3_column_bytes(st, i);

                if (s == NULL)
                    goto out;
                if ((int)strlen(s) != n || !vrm_utf8_valid(s, (size_t)n)) {
                    vrm_strbuf_addf(err, "%s.sql: row %lld, column \"%s\" is not UTF-8 text\n",
                                    name, (long long)rows, col);
                    rc = 1;
                    goto out;
                }
                item = cJSON_CreateString(s);
                csv_text(&cb, s);
                break;
            }
            case SQLITE_BLOB:
                vrm_strbuf_addf(err, "%s.sql: row %lld, column \"%s\" is a blob; results hold "
                                     "numbers, text and NULL only (try hex())\n",
                                name, (long long)rows, col);
                rc = 1;
                goto out;
            default:
                item = cJSON_CreateNull();
                break;
            }
            if (item == NULL)
                goto out;
            cJSON_AddItemToObject(o, col, item);
            vrm_strbuf_add(&cb, i + 1 < ncol ? "," : "\n", 1);
        }
    }
    if (step != SQLITE_DONE) {
        rc = 1;
        if (g.timed_out)
            vrm_strbuf_addf(err, "%s.sql: stopped after %d seconds (the limit)\n", name,
                            CUSTOM_SECONDS);
        else if (g.why[0] != '\0')
            vrm_strbuf_addf(err, "%s.sql: refused: %s\n", name, g.why);
        else
            vrm_strbuf_addf(err, "%s.sql: %s\n", name, sqlite3_errmsg(db));
        goto out;
    }
    if ((rc = vrm_json_pretty(arr, json, jlen)) != 0)
        goto out;
    if ((rc = sb_detach(&cb, csv, clen)) != 0) {
        free(*json);
        *json = NULL;
        goto out;
    }
    rc = 0;
out:
    vrm_strbuf_release(&cb);
    cJSON_Delete(arr);
    sqlite3_finalize(next);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* "custom/NAME.EXT" into name and which text. */
static int custom_path(const char *path, char name[CUSTOM_NAME_MAX + 1], int *which)
{
    const char *base = path + strlen("custom/");
    size_t n = strlen(base);
    int i;

    for (i = 0; i < T_COUNT; i++) {
        const char *ext = vrm_analytics_custom_results[i];
        size_t e = strlen(ext);

        if (n > e && n - e <= CUSTOM_NAME_MAX && strcmp(base + n - e, ext) == 0) {
            memcpy(name, base, n - e);
            name[n - e] = '\0';
            *which = i;
            /* "a.error.txt" is NAME "a" with .error.txt, never NAME "a.error" */
            return custom_name_valid(name);
        }
    }
    return 0;
}

/* A custom query's result file into *out (NULL: only its length and
 * time), as builtin_get. */
static int custom_result(vrm_vault *v, const char *path, char **out, size_t *len,
                         int64_t *computed_ns)
{
    char name[CUSTOM_NAME_MAX + 1], key[96], *sql = NULL;
    char *text[T_COUNT] = {NULL};
    size_t lens[T_COUNT] = {0}, sqllen;
    uint64_t gens[G_COUNT];
    vrm_strbuf err = VRM_STRBUF_INIT;
    int which, rc;
    int64_t when;

    if (strncmp(path, "custom/", 7) != 0 || !custom_path(path, name, &which))
        return -ENOENT;
    snprintf(key, sizeof key, "custom/%s", name);
    if (cache_get(v, key, "", which, out, len, computed_ns, &rc))
        return rc;
    generations_settled(v, gens);
    rc = vrm_analytics_custom_get(v, name, &sql, &sqllen, NULL);
    if (rc != 0)
        return rc;
    rc = custom_run(v, name, sql, &text[T_MAIN], &lens[T_MAIN], &text[T_CSV], &lens[T_CSV],
                    &err);
    free(sql);
    if (rc < 0) {
        vrm_strbuf_release(&err);
        return rc;
    }
    if (rc > 0 && (rc = sb_detach(&err, &text[T_ERROR], &lens[T_ERROR])) != 0)
        return rc;
    vrm_strbuf_release(&err);
    when = vrm_now_ns();
    rc = -ENOENT;
    if (text[which] != NULL) {
        rc = -ENOMEM;
        if (out == NULL || (*out = malloc(lens[which] + 1)) != NULL) {
            if (out != NULL)
                memcpy(*out, text[which], lens[which] + 1);
            *len = lens[which];
            *computed_ns = when;
            rc = 0;
        }
    }
    cache_put(v, key, gens, DEP_ALL, "", text, lens, when);
    return rc;
}

/* ---- the entry point ------------------------------------------------------------- */

/* A result into *out, or (out NULL) only its length and time. */
static int result_get(vrm_vault *v, const char *path, char **out, size_t *len,
                      int64_t *computed_ns)
{
    size_t i;

    for (i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(path, builtins[i].path) == 0)
            return builtin_get(v, &builtins[i], out, len, computed_ns);
    return custom_result(v, path, out, len, computed_ns);
}

int vrm_analytics_get(vrm_vault *v, const char *path, char **out, size_t *len,
                      int64_t *computed_ns)
{
    *out = NULL;
    return result_get(v, path, out, len, computed_ns);
}

int vrm_analytics_stat(vrm_vault *v, const char *path, uint64_t *size, int64_t *computed_ns)
{
    size_t len = 0;
    int rc = result_get(v, path, NULL, &len, computed_ns);

    if (rc == 0)
        *size = len;
    return rc;
}
