/*
 * bench_store.c: the storage benchmark.  What a vault costs over plain SQLite
 * and over SQLCipher, on the same workload, measured the same way.
 *
 * The workload, identical on every backend:
 *   open       create the database (plain, SQLCipher) or the vault (create +
 *              open), set the pragmas, create the two tables of the vault's
 *              schema (lib/schema.c; IF NOT EXISTS, so the vault's own are
 *              kept) and, for SQLCipher, derive the key (PBKDF2 64000 rounds
 *              at the first access).  Reported on its own line, never added to
 *              the three timed phases below.
 *   insert     N JSON records (personal data: finance, purchases, diet,
 *              fitness, travel, health; ~300 bytes each) into
 *              records(collection, name, body, size, created, updated), after
 *              the six collections rows, with one prepared statement, in
 *              transactions of 1,000 records.
 *   reads      R point reads `SELECT body FROM records WHERE collection=? AND
 *              name=?` by keys drawn uniformly from a seeded PRNG (the same
 *              sequence on every backend), each its own read transaction, as
 *              a vault's file system does.  Every read must find its row and
 *              return exactly the body inserted.
 *   aggregate  one query over every record, by collection and month:
 *                SELECT collection, substr(jget(body,'date'),1,7), count(*),
 *                       sum(jget(body,'amount')) FROM records GROUP BY 1,2
 *              jget() is a small JSON member extractor registered by this
 *              program on every backend, because SQLCipher 3.4.1 (SQLite
 *              3.15.2) has no json_extract(); the same SQL with SQLite's own
 *              json_extract() is run too where the library has it
 *              (phase aggregate_json1).  SQLite plans both as a walk of the
 *              (collection, name) index with a table lookup per row, the
 *              same on every backend.  The count of rows, the number of
 *              groups and the sum of amounts must equal what was generated.
 *   documents  (with --documents MIB only, after size) MIB MiB of pseudo-random bytes,
 *              generated from the seed before timing, written as 64 KiB rows
 *              of docs(id INTEGER PRIMARY KEY, data BLOB), 16 rows (1 MiB)
 *              per transaction: what a vault's files/ does with a stream of
 *              1 MiB write() calls (lib/files.c keeps 64 KiB chunks), without
 *              the file system around it.  Ends like insert, with the WAL
 *              checkpointed and synced.  Every row is read back afterwards
 *              (not timed) and compared.  --documents-only runs just this.
 *   size       after a TRUNCATE checkpoint: bytes of the database file plus
 *              its WAL.
 *
 * Settings on every backend: page_size 4096 (SQLCipher: cipher_page_size
 * 4096 as well), journal_mode=WAL, synchronous=NORMAL, cache_size=-N with
 * N = --cache-kib (default: the vault's own, VRM_VAULT_CACHE_KIB; the vault's
 * connection is set to N as well, so it never has more cache than the
 * others), foreign_keys=ON, temp_store=MEMORY, mmap_size=0 (the vault's
 * settings; its VFS has no xFetch anyway).
 *
 * The data set (bodies and keys) is generated in memory from --seed before
 * anything is timed, so generation is never measured.  Times are wall-clock
 * by clock_gettime(CLOCK_MONOTONIC).
 *
 * SQLite and SQLCipher both define the sqlite3_* symbols, so this file is
 * built twice: bench-store (libsqlite3 + libvrm; backends plain and vault)
 * and bench-store-sqlcipher (-DBENCH_SQLCIPHER, libsqlcipher only; backend
 * sqlcipher).  Output: one line per phase,
 *   bench backend=B phase=P n=COUNT seconds=S per_sec=R start=T
 * (T: CLOCK_MONOTONIC at the phase's start, to cut a profile taken with
 * `perf record -k CLOCK_MONOTONIC` by phase), plus phase=config (the settings
 * as SQLite reports them) and phase=size, for scripts/bench to read.  Exit
 * status 0 only if every check held; 1 if one failed; 2 for a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#ifndef BENCH_SQLCIPHER
#include "base/error.h"
#include "vrm.h"
#include "store/vault_int.h"
#endif

#define TXN_RECORDS 1000
#define DOC_ROW (64u << 10)      /* bytes per documents row: lib/files.h's chunk */
#define DOC_TXN (1u << 20)       /* bytes per documents transaction */
#define DOC_MIB_MAX 65536
/* The page cache of every backend: the vault's default (vault_int.h), which
 * the SQLCipher build cannot see, so there it must be given (scripts/bench
 * asks bench-store --print-cache-kib and passes the same to both). */
#ifdef BENCH_SQLCIPHER
#define DEFAULT_CACHE_KIB 0
#else
#define DEFAULT_CACHE_KIB VRM_VAULT_CACHE_KIB
#endif
#define PASSPHRASE "correct horse battery staple"
#define FIRST_YEAR 2019
#define NYEARS 6
#define NMONTHS (NYEARS * 12)

/* ---- the schema, as lib/schema.c has it ------------------------------ */

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS collections ("
    "  name    TEXT PRIMARY KEY,"
    "  created INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS records ("
    "  id         INTEGER PRIMARY KEY,"
    "  collection TEXT NOT NULL REFERENCES collections(name),"
    "  name       TEXT NOT NULL,"
    "  body       TEXT NOT NULL,"
    "  size       INTEGER NOT NULL,"
    "  created    INTEGER NOT NULL,"
    "  updated    INTEGER NOT NULL,"
    "  UNIQUE (collection, name)"
    ");";

/* The same on every backend; page_size first, before the file exists. */
static const char PRAGMAS[] =
    "PRAGMA page_size=4096;"
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA foreign_keys=ON;"
    "PRAGMA temp_store=MEMORY;"
    "PRAGMA mmap_size=0;";

static const char SQL_INSERT_COLL[] =
    "INSERT OR IGNORE INTO collections(name, created) VALUES (?, ?)";
static const char SQL_INSERT[] =
    "INSERT INTO records(collection, name, body, size, created, updated) "
    "VALUES (?, ?, ?, ?, ?, ?)";
static const char SQL_READ[] =
    "SELECT body FROM records WHERE collection = ? AND name = ?";
static const char SQL_AGG[] =
    "SELECT collection, substr(jget(body, 'date'), 1, 7) AS month, count(*), "
    "sum(jget(body, 'amount')) FROM records GROUP BY 1, 2";
static const char SQL_AGG_JSON1[] =
    "SELECT collection, substr(json_extract(body, '$.date'), 1, 7) AS month, "
    "count(*), sum(json_extract(body, '$.amount')) FROM records GROUP BY 1, 2";

/* ---- options ----------------------------------------------------------- */

typedef struct opts {
    const char *backends;   /* comma-separated */
    size_t records;
    size_t reads;
    const char *dir;        /* parent of the run's own directory */
    uint64_t seed;
    size_t dump;            /* print this many records and stop */
    size_t cache_kib;       /* PRAGMA cache_size=-cache_kib on every backend */
    size_t doc_mib;         /* documents phase: MiB written, 0 = no phase */
    int documents_only;     /* run the documents phase alone */
} opts;

#ifdef BENCH_SQLCIPHER
static const char *const BACKENDS[] = {"sqlcipher"};
#else
static const char *const BACKENDS[] = {"plain", "vault"};
#endif
#define NBACKENDS (sizeof BACKENDS / sizeof BACKENDS[0])

/* ---- clock and PRNG ------------------------------------------------------ */

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: small, fast, and the same sequence everywhere. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

static long long rng_range(uint64_t *s, long long lo, long long hi)
{
    return lo + (long long)rng_below(s, (uint64_t)(hi - lo + 1));
}

#define PICK(s, arr) ((arr)[rng_below((s), sizeof(arr) / sizeof((arr)[0]))])

/* ---- the data set -------------------------------------------------------- */

typedef struct dataset {
    size_t n;
    char *arena;            /* bodies and names, each NUL-terminated */
    size_t used, cap;
    size_t *body_off;       /* [n] */
    int *body_len;          /* [n] */
    size_t *name_off;       /* [n] */
    int *name_len;          /* [n] */
    uint8_t *coll;          /* [n] index into COLLS */
    int64_t *created;       /* [n] ns since the epoch */
    int64_t *pretty;        /* [n] the size column: an estimate of the pretty form */
    size_t body_bytes;      /* sum of body_len */
    long long total_cents;  /* sum of every amount */
    size_t groups;          /* distinct (collection, month) pairs */
} dataset;

static const struct {
    const char *name;
    int weight;             /* share of the records, percent */
} COLLS[] = {
    {"finance", 30}, {"purchases", 22}, {"diet", 20},
    {"fitness", 10}, {"health", 10}, {"travel", 8},
};
#define NCOLLS ((int)(sizeof COLLS / sizeof COLLS[0]))

/* Where each collection's records come from (an importer's name). */
static const char *const SOURCES[] = {
    "bank-csv-import", "order-history-export", "food-diary-app",
    "garmin-connect-sync", "manual-entry", "email-receipt-parser",
};

static const char *const NOTE_WORDS[] = {
    "weekly", "shop", "with", "anna", "refund", "pending", "split", "bill",
    "office", "birthday", "gift", "for", "mum", "quick", "lunch", "after",
    "meeting", "train", "delay", "receipt", "scanned", "tax", "deductible",
    "recurring", "annual", "plan", "discount", "applied", "cash", "back",
    "morning", "evening", "late", "again", "holiday", "weekend", "kids",
};

/* A growing buffer for one body. */
typedef struct jbuf {
    char p[2048];
    size_t len;
} jbuf;

static void jb_printf(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jb_printf(jbuf *j, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (j->len >= sizeof j->p)
        return;
    va_start(ap, fmt);
    k = vsnprintf(j->p + j->len, sizeof j->p - j->len, fmt, ap);
    va_end(ap);
    if (k > 0)
        j->len += (size_t)k;
    if (j->len >= sizeof j->p)
        j->len = sizeof j->p - 1;   /* cannot happen with these fields */
}

/* ",\"key\":12.34" for an amount in cents. */
static void jb_money(jbuf *j, const char *key, long long cents)
{
    jb_printf(j, ",\"%s\":%lld.%02lld", key, cents / 100, cents % 100);
}

static void jb_note(jbuf *j, uint64_t *s, int maxwords)
{
    int k, nw = (int)rng_range(s, 1, maxwords);

    jb_printf(j, ",\"note\":\"");
    for (k = 0; k < nw; k++)
        jb_printf(j, "%s%s", k ? " " : "", PICK(s, NOTE_WORDS));
    jb_printf(j, "\"");
}

static void gen_finance(jbuf *j, uint64_t *s, long long cents)
{
    static const char *const merch[] = {"Carrefour Market", "Shell Station 221",
        "Deutsche Bahn", "Netflix", "Stadtwerke", "Vodafone", "Rewe City",
        "Spotify AB", "Allianz Versicherung", "IKEA Berlin", "Apotheke am Markt"};
    static const char *const cat[] = {"groceries", "fuel", "transport", "streaming",
        "utilities", "phone", "insurance", "home", "pharmacy", "salary", "rent"};
    static const char *const acct[] = {"checking", "savings", "credit-card"};
    static const char *const method[] = {"card", "sepa-debit", "transfer", "cash"};

    jb_money(j, "amount", cents);
    jb_printf(j, ",\"currency\":\"EUR\",\"merchant\":\"%s\",\"category\":\"%s\","
              "\"account\":\"%s\",\"direction\":\"%s\",\"method\":\"%s\","
              "\"card_last4\":\"%04d\",\"reference\":\"TX%012" PRIX64 "\"",
              PICK(s, merch), PICK(s, cat), PICK(s, acct),
              rng_below(s, 10) ? "debit" : "credit", PICK(s, method),
              (int)rng_below(s, 10000), rng_next(s) & UINT64_C(0xffffffffffff));
    jb_money(j, "balance_after", rng_range(s, 10000, 2500000));
    jb_note(j, s, 8);
}

static void gen_purchases(jbuf *j, uint64_t *s, long long cents)
{
    static const char *const merch[] = {"Amazon", "Zalando", "MediaMarkt",
        "Thalia", "Decathlon", "Etsy shop LunaCraft", "Apple Store", "dm-drogerie"};
    static const char *const cat[] = {"electronics", "clothing", "books", "sports",
        "household", "toys", "beauty", "garden"};
    static const char *const items[] = {"USB-C cable", "running shoes", "paperback",
        "desk lamp", "coffee beans", "wool socks", "phone case", "yoga mat",
        "headphones", "toothbrush heads", "board game", "plant pot"};
    static const char *const pay[] = {"visa", "mastercard", "paypal", "invoice"};
    int k, ni = (int)rng_range(s, 1, 3);

    jb_money(j, "amount", cents);
    jb_printf(j, ",\"currency\":\"EUR\",\"merchant\":\"%s\",\"category\":\"%s\","
              "\"order_id\":\"ORD-%09" PRIu64 "\",\"items\":[",
              PICK(s, merch), PICK(s, cat), rng_below(s, 1000000000));
    for (k = 0; k < ni; k++) {
        jb_printf(j, "%s{\"name\":\"%s\",\"qty\":%d", k ? "," : "", PICK(s, items),
                  (int)rng_range(s, 1, 4));
        jb_money(j, "price", rng_range(s, 199, 8999));
        jb_printf(j, "}");
    }
    jb_printf(j, "],\"payment\":\"%s\",\"shipping\":\"%s\",\"delivered\":%s",
              PICK(s, pay), rng_below(s, 4) ? "standard" : "express",
              rng_below(s, 20) ? "true" : "false");
    jb_note(j, s, 3);
}

static void gen_diet(jbuf *j, uint64_t *s, long long cents)
{
    static const char *const merch[] = {"home", "Pret A Manger", "canteen",
        "Sushi Circle", "Bäckerei Schmidt", "Vapiano", "street food market"};
    static const char *const meal[] = {"breakfast", "lunch", "dinner", "snack"};
    static const char *const food[] = {"oatmeal", "chicken salad", "apple",
        "lentil soup", "salmon", "rice", "greek yogurt", "pasta pesto", "banana",
        "falafel wrap", "green tea", "dark chocolate"};
    static const char *const mood[] = {"good", "ok", "tired", "great"};
    int k, nf = (int)rng_range(s, 1, 4);

    jb_money(j, "amount", cents);
    jb_printf(j, ",\"currency\":\"EUR\",\"merchant\":\"%s\",\"category\":\"%s\","
              "\"foods\":[", PICK(s, merch), PICK(s, meal));
    for (k = 0; k < nf; k++)
        jb_printf(j, "%s\"%s\"", k ? "," : "", PICK(s, food));
    jb_printf(j, "],\"kcal\":%d,\"protein_g\":%.1f,\"carbs_g\":%.1f,\"fat_g\":%.1f,"
              "\"fiber_g\":%.1f,\"water_ml\":%d,\"mood\":\"%s\"",
              (int)rng_range(s, 90, 1400), (double)rng_range(s, 0, 800) / 10,
              (double)rng_range(s, 0, 1500) / 10, (double)rng_range(s, 0, 700) / 10,
              (double)rng_range(s, 0, 200) / 10, (int)rng_range(s, 0, 8) * 125,
              PICK(s, mood));
    jb_note(j, s, 3);
}

static void gen_fitness(jbuf *j, uint64_t *s, long long cents)
{
    static const char *const merch[] = {"Basic-Fit", "Urban Sports Club",
        "city pool", "outdoors", "Boulderhalle Nord"};
    static const char *const act[] = {"running", "cycling", "swimming",
        "strength", "yoga", "climbing", "hiking"};

    jb_money(j, "amount", cents);
    jb_printf(j, ",\"currency\":\"EUR\",\"merchant\":\"%s\",\"category\":\"%s\","
              "\"duration_min\":%d,\"distance_km\":%.2f,\"avg_hr\":%d,\"max_hr\":%d,"
              "\"kcal\":%d,\"elevation_m\":%d,\"device\":\"garmin-fr%d\"",
              PICK(s, merch), PICK(s, act), (int)rng_range(s, 15, 180),
              (double)rng_range(s, 0, 4200) / 100, (int)rng_range(s, 95, 165),
              (int)rng_range(s, 150, 195), (int)rng_range(s, 80, 1500),
              (int)rng_range(s, 0, 1200), (int)rng_range(s, 2, 9) * 100 + 45);
    jb_note(j, s, 6);
}

static void gen_health(jbuf *j, uint64_t *s, long long cents)
{
    static const char *const merch[] = {"Dr. Weber Praxis", "Zahnarzt Klein",
        "Apotheke am Markt", "Physio Mitte", "Labor Berlin"};
    static const char *const kind[] = {"checkup", "dentist", "prescription",
        "physiotherapy", "blood-test", "vaccination"};

    jb_money(j, "amount", cents);
    jb_printf(j, ",\"currency\":\"EUR\",\"merchant\":\"%s\",\"category\":\"%s\","
              "\"insurance_covered\":%s",
              PICK(s, merch), PICK(s, kind), rng_below(s, 3) ? "true" : "false");
    jb_money(j, "reimbursed", cents / 2);
    jb_printf(j, ",\"weight_kg\":%.1f,\"bp_systolic\":%d,\"bp_diastolic\":%d,"
              "\"resting_hr\":%d,\"sleep_h\":%.1f",
              (double)rng_range(s, 550, 950) / 10, (int)rng_range(s, 105, 145),
              (int)rng_range(s, 65, 95), (int)rng_range(s, 48, 80),
              (double)rng_range(s, 50, 95) / 10);
    jb_note(j, s, 6);
}

static void gen_travel(jbuf *j, uint64_t *s, long long cents)
{
    static const char *const merch[] = {"Lufthansa", "Deutsche Bahn", "Booking.com",
        "Airbnb", "FlixBus", "easyJet", "Hotel Alfama"};
    static const char *const cat[] = {"flight", "train", "hotel", "apartment", "bus"};
    static const char *const city[] = {"BER", "MUC", "LIS", "BCN", "CPH", "VIE",
        "AMS", "PRG", "FCO", "ATH"};

    jb_money(j, "amount", cents);
    jb_printf(j, ",\"currency\":\"EUR\",\"merchant\":\"%s\",\"category\":\"%s\","
              "\"from\":\"%s\",\"to\":\"%s\",\"nights\":%d,\"booking_ref\":\"%06" PRIX64 "\","
              "\"traveler\":\"%s\",\"class\":\"%s\"",
              PICK(s, merch), PICK(s, cat), PICK(s, city), PICK(s, city),
              (int)rng_range(s, 0, 14), rng_next(s) & UINT64_C(0xffffff),
              rng_below(s, 3) ? "self" : "family", rng_below(s, 8) ? "economy" : "business");
    jb_note(j, s, 6);
}

/* Civil date of day `d` counted from 1970-01-01 (H. Hinnant's algorithm). */
static void civil_from_days(long d, int *y, int *m, int *dd)
{
    long z = d + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;

    *dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int arena_add(dataset *d, const char *s, size_t len, size_t *off)
{
    if (d->used + len + 1 > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : (size_t)1 << 20;
        char *a;

        while (cap < d->used + len + 1)
            cap *= 2;
        a = realloc(d->arena, cap);
        if (a == NULL)
            return -1;
        d->arena = a;
        d->cap = cap;
    }
    memcpy(d->arena + d->used, s, len);
    d->arena[d->used + len] = '\0';
    *off = d->used;
    d->used += len + 1;
    return 0;
}

static void dataset_free(dataset *d)
{
    free(d->arena);
    free(d->body_off);
    free(d->body_len);
    free(d->name_off);
    free(d->name_len);
    free(d->coll);
    free(d->created);
    free(d->pretty);
    memset(d, 0, sizeof *d);
}

/* Record i depends on (seed, i) only; dates rise with i over six years. */
static int dataset_make(dataset *d, size_t n, uint64_t seed)
{
    static const long day0 = 17897;            /* 2019-01-01 */
    static const long ndays = 2192;            /* to 2024-12-31 */
    static const struct { long long lo, hi; } money[] = {
        {150, 180000}, {399, 25000}, {0, 4500}, {0, 2500}, {0, 20000}, {1900, 90000},
    };
    uint8_t seen[NCOLLS][NMONTHS];
    size_t i;
    int rc = -1;

    memset(d, 0, sizeof *d);
    memset(seen, 0, sizeof seen);
    d->n = n;
    d->body_off = calloc(n, sizeof *d->body_off);
    d->body_len = calloc(n, sizeof *d->body_len);
    d->name_off = calloc(n, sizeof *d->name_off);
    d->name_len = calloc(n, sizeof *d->name_len);
    d->coll = calloc(n, sizeof *d->coll);
    d->created = calloc(n, sizeof *d->created);
    d->pretty = calloc(n, sizeof *d->pretty);
    if (!d->body_off || !d->body_len || !d->name_off || !d->name_len || !d->coll ||
        !d->created || !d->pretty)
        goto out;
    for (i = 0; i < n; i++) {
        uint64_t s = seed ^ (0xd1b54a32d192ed03ULL * (i + 1));
        jbuf j;
        char name[64];
        const char *q;
        int c, w, y, m, dd, nl;
        long day;
        long long cents;

        rng_next(&s);
        w = (int)rng_below(&s, 100);
        for (c = 0; c < NCOLLS - 1 && w >= COLLS[c].weight; c++)
            w -= COLLS[c].weight;
        day = (long)((double)i * (double)ndays / (double)n) + (long)rng_below(&s, 3);
        if (day >= ndays)
            day = ndays - 1;
        civil_from_days(day0 + day, &y, &m, &dd);
        cents = rng_range(&s, money[c].lo, money[c].hi);

        j.len = 0;
        jb_printf(&j, "{\"date\":\"%04d-%02d-%02d\"", y, m, dd);
        switch (c) {
        case 0: gen_finance(&j, &s, cents); break;
        case 1: gen_purchases(&j, &s, cents); break;
        case 2: gen_diet(&j, &s, cents); break;
        case 3: gen_fitness(&j, &s, cents); break;
        case 4: gen_health(&j, &s, cents); break;
        default: gen_travel(&j, &s, cents); break;
        }
        jb_printf(&j, ",\"source\":\"%s\"}", SOURCES[c]);
        nl = snprintf(name, sizeof name, "%04d-%02d-%02d-%07zu", y, m, dd, i);

        d->coll[i] = (uint8_t)c;
        d->created[i] = ((int64_t)(day0 + day) * 86400 + (int64_t)rng_below(&s, 86400)) *
                        1000000000LL;
        d->body_len[i] = (int)j.len;
        d->body_bytes += j.len;
        /* what the vault stores in `size`: ~ +4 bytes per member when pretty */
        d->pretty[i] = (int64_t)j.len + 2;
        for (q = j.p; (q = strchr(q, ':')) != NULL; q++)
            d->pretty[i] += 4;
        d->name_len[i] = nl;
        d->total_cents += cents;
        if (!seen[c][(y - FIRST_YEAR) * 12 + m - 1]) {
            seen[c][(y - FIRST_YEAR) * 12 + m - 1] = 1;
            d->groups++;
        }
        if (arena_add(d, j.p, j.len, &d->body_off[i]) != 0 ||
            arena_add(d, name, (size_t)nl, &d->name_off[i]) != 0)
            goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "bench-store: out of memory generating %zu records\n", n);
        dataset_free(d);
    }
    return rc;
}

/* ---- jget(): a JSON member extractor, the same on every backend ---------- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* p at the opening quote; returns just past the closing one, or NULL. */
static const char *skip_string(const char *p)
{
    for (p++; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Skip any JSON value; returns just past it, or NULL if malformed. */
static const char *skip_value(const char *p)
{
    int depth = 0;

    do {
        if (*p == '"') {
            if ((p = skip_string(p)) == NULL)
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0)
                return p;
            depth--;
        } else if (*p == '\0' || (depth == 0 && *p == ',')) {
            return depth == 0 ? p : NULL;
        }
        p++;
    } while (depth > 0 || (*p != ',' && *p != '}' && *p != ']' && *p != '\0'));
    return p;
}

/* jget(json, key): the member `key` of a JSON object: TEXT for a string (as
 * written, escapes kept), INTEGER or REAL for a number, 1/0 for true/false,
 * the raw text of an object or array, NULL if absent or not an object. */
static void jget(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *p = (const char *)sqlite3_value_text(argv[0]);
    const char *key = (const char *)sqlite3_value_text(argv[1]);
    size_t klen;

    (void)argc;
    if (p == NULL || key == NULL)
        return;
    klen = strlen(key);
    p = skip_ws(p);
    if (*p++ != '{')
        return;
    for (;;) {
        const char *k, *v, *end;

        p = skip_ws(p);
        if (*p != '"')
            return;
        k = p + 1;
        if ((p = skip_string(p)) == NULL)
            return;
        p = skip_ws(p);
        if (*p++ != ':')
            return;
        v = skip_ws(p);
        if ((end = skip_value(v)) == NULL)
            return;
        if ((size_t)(p - k) >= klen + 2 && memcmp(k, key, klen) == 0 && k[klen] == '"') {
            if (*v == '"') {
                sqlite3_result_text(ctx, v + 1, (int)(end - v - 2), SQLITE_TRANSIENT);
            } else if (*v == '-' || (*v >= '0' && *v <= '9')) {
                char *e;
                long long ll = strtoll(v, &e, 10);

                if (e == end || *e == ',' || *e == '}' || *e == ' ')
                    sqlite3_result_int64(ctx, ll);
                else
                    sqlite3_result_double(ctx, strtod(v, NULL));
            } else if (*v == 't' || *v == 'f') {
                sqlite3_result_int(ctx, *v == 't');
            } else if (*v == '{' || *v == '[') {
                sqlite3_result_text(ctx, v, (int)(end - v), SQLITE_TRANSIENT);
            }
            return;
        }
        p = skip_ws(end);
        if (*p != ',')
            return;
        p++;
    }
}

/* ---- SQLite helpers -------------------------------------------------------- */

typedef struct bench {
    const char *backend;
    char *dir;              /* this run's own directory, removed at the end */
    char *dbpath;
    sqlite3 *db;
#ifndef BENCH_SQLCIPHER
    vrm_vault *vault;
#endif
} bench;

static int fail_sql(const bench *b, const char *what)
{
    int code = b->db ? sqlite3_extended_errcode(b->db) : 0;

    fprintf(stderr, "bench-store: %s: %s: %s (SQLite code %d)\n", b->backend, what,
            b->db ? sqlite3_errmsg(b->db) : "no connection", code);
#ifndef BENCH_SQLCIPHER
    if (b->vault != NULL && code == SQLITE_IOERR_DATA)
        fprintf(stderr, "bench-store: %s: %s\n", b->backend, vrm_error_message());
#endif
    return -1;
}

static int exec_sql(const bench *b, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(b->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "bench-store: %s: %s: %s (SQLite code %d)\n", b->backend, sql,
                msg ? msg : sqlite3_errmsg(b->db), sqlite3_extended_errcode(b->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int prepare(const bench *b, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(b->db, sql, -1, st, NULL) != SQLITE_OK) {
        char what[160];

        snprintf(what, sizeof what, "preparing \"%.120s\"", sql);
        return fail_sql(b, what);
    }
    return 0;
}

/* The first column of the first row of `sql`, as text, into out. */
static int query_text(const bench *b, const char *sql, char *out, size_t outsz)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (prepare(b, sql, &st) != 0)
        return -1;
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        snprintf(out, outsz, "%s", sqlite3_column_text(st, 0) ?
                 (const char *)sqlite3_column_text(st, 0) : "NULL");
        rc = 0;
        break;
    case SQLITE_DONE:
        snprintf(out, outsz, "none");
        rc = 0;
        break;
    default:
        fail_sql(b, sql);
        break;
    }
    sqlite3_finalize(st);
    return rc;
}

static int unlink_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "bench-store: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, unlink_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);

    if (p != NULL)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* ---- backends: open and close ------------------------------------------------ */

#ifndef BENCH_SQLCIPHER
static int ignore_recovery_key(void *ctx, const char *recovery_key)
{
    (void)ctx;
    (void)recovery_key;
    return 0;
}
#endif

/* Open (create) the backend's database; for SQLCipher also key it.  Key
 * derivation is lazy in SQLCipher, so the caller's first statement pays it:
 * open_backend() ends with one read to make it happen here. */
static int open_backend(bench *b)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

#ifdef BENCH_SQLCIPHER
    b->dbpath = join(b->dir, "sqlcipher.db");
    if (b->dbpath == NULL)
        return -1;
    if (sqlite3_open_v2(b->dbpath, &b->db, flags, NULL) != SQLITE_OK)
        return fail_sql(b, "cannot open the database");
    sqlite3_extended_result_codes(b->db, 1);
    if (exec_sql(b, "PRAGMA key='" PASSPHRASE "'") != 0 ||
        exec_sql(b, "PRAGMA cipher_page_size=4096") != 0 ||
        exec_sql(b, "SELECT count(*) FROM sqlite_master") != 0)
        return -1;
    return 0;
#else
    if (strcmp(b->backend, "plain") == 0) {
        b->dbpath = join(b->dir, "plain.db");
        if (b->dbpath == NULL)
            return -1;
        if (sqlite3_open_v2(b->dbpath, &b->db, flags, NULL) != SQLITE_OK)
            return fail_sql(b, "cannot open the database");
        sqlite3_extended_result_codes(b->db, 1);
        return 0;
    } else {
        /* Minimal Argon2id cost: opening is not what is measured. */
        const vrm_kdf_limits lim = {.ops = 1, .mem = 8192};
        char *vdir = join(b->dir, "vault");
        int rc;

        if (vdir == NULL)
            return -1;
        rc = vrm_vault_create(vdir, PASSPHRASE, strlen(PASSPHRASE), &lim,
                              ignore_recovery_key, NULL);
        if (rc == 0)
            rc = vrm_vault_open(&b->vault, vdir, PASSPHRASE, strlen(PASSPHRASE), 0);
        if (rc != 0) {
            fprintf(stderr, "bench-store: vault: cannot create and open %s: %s\n",
                    vdir, vrm_error_message());
            free(vdir);
            return -1;
        }
        vrm_vault_lock(b->vault);    /* single-threaded, but by the rules */
        b->db = vrm_vault_sqlite(b->vault);
        b->dbpath = join(vdir, "vault.db");
        free(vdir);
        return b->dbpath != NULL ? 0 : -1;
    }
#endif
}

static int close_backend(bench *b)
{
    int rc = 0;

#ifndef BENCH_SQLCIPHER
    if (b->vault != NULL) {
        vrm_vault_unlock(b->vault);
        if (vrm_vault_close(b->vault) != 0) {
            fprintf(stderr, "bench-store: vault: closing: %s\n", vrm_error_message());
            rc = -1;
        }
        b->vault = NULL;
        b->db = NULL;
    }
#endif
    if (b->db != NULL && sqlite3_close(b->db) != SQLITE_OK) {
        rc = fail_sql(b, "closing the database");
        sqlite3_close_v2(b->db);
    }
    b->db = NULL;
    return rc;
}

/* ---- the phases ------------------------------------------------------------ */

/* start: the CLOCK_MONOTONIC second the phase began, to cut a profile by
 * phase (perf record -k CLOCK_MONOTONIC; perf report --time START,END). */
static void report(const bench *b, const char *phase, size_t n, double start)
{
    double secs = now() - start;

    printf("bench backend=%s phase=%s n=%zu seconds=%.6f per_sec=%.0f start=%.6f\n",
           b->backend, phase, n, secs, secs > 0 ? (double)n / secs : 0.0, start);
    fflush(stdout);
}

/* What the connection is really running with, as SQLite reports it. */
static int report_config(const bench *b, const dataset *d)
{
    static const char *const names[] = {"journal_mode", "synchronous", "page_size",
        "cache_size", "foreign_keys", "temp_store", "mmap_size", "wal_autocheckpoint"
#ifdef BENCH_SQLCIPHER
        , "cipher_version", "cipher", "kdf_iter", "cipher_use_hmac", "cipher_page_size",
        "cipher_provider"
#endif
    };
    char sql[64], val[128];
    size_t i;
#ifdef SQLITE_FCNTL_RESERVE_BYTES
    int reserve = -1;
#endif

    printf("bench backend=%s phase=config sqlite=%s records=%zu avg_body=%.0f",
           b->backend, sqlite3_libversion(), d->n,
           (double)d->body_bytes / (double)(d->n ? d->n : 1));
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *sp;

        snprintf(sql, sizeof sql, "PRAGMA %s", names[i]);
        if (query_text(b, sql, val, sizeof val) != 0)
            return -1;
        while ((sp = strchr(val, ' ')) != NULL)
            *sp = '_';
        printf(" %s=%s", names[i], val);
    }
#ifdef SQLITE_FCNTL_RESERVE_BYTES   /* SQLite >= 3.34: bytes at the end of each page */
    if (sqlite3_file_control(b->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve) ==
        SQLITE_OK)
        printf(" reserve=%d", reserve);
#endif
    printf("\n");
    fflush(stdout);
    return 0;
}

/* Every writing phase ends with the backend's WAL checkpointed and synced,
 * so that work a backend defers (the vault checkpoints in a thread of its
 * own) is counted where it belongs. */
static int sync_backend(const bench *b)
{
#ifndef BENCH_SQLCIPHER
    if (b->vault != NULL) {
        if (vrm_vault_sync_locked(b->vault) != 0) {  /* the mutex is held */
            fprintf(stderr, "bench-store: %s: final checkpoint: %s\n", b->backend,
                    vrm_error_message());
            return -1;
        }
        return 0;
    }
#endif
    return exec_sql(b, "PRAGMA wal_checkpoint(PASSIVE)");
}

static int phase_insert(const bench *b, const dataset *d)
{
    sqlite3_stmt *coll = NULL, *ins = NULL;
    int64_t t0 = d->n ? d->created[0] : 0;
    double start = now();
    size_t i;
    int c, rc = -1;

    if (prepare(b, SQL_INSERT_COLL, &coll) != 0 || prepare(b, SQL_INSERT, &ins) != 0)
        goto out;
    if (exec_sql(b, "BEGIN") != 0)
        goto out;
    for (c = 0; c < NCOLLS; c++) {
        if (sqlite3_bind_text(coll, 1, COLLS[c].name, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(coll, 2, t0) != SQLITE_OK) {
            fail_sql(b, "binding a collection");
            goto out;
        }
        if (sqlite3_step(coll) != SQLITE_DONE) {
            fail_sql(b, "inserting a collection");
            goto out;
        }
        sqlite3_reset(coll);
    }
    for (i = 0; i < d->n; i++) {
        const char *body = d->arena + d->body_off[i];

        if (sqlite3_bind_text(ins, 1, COLLS[d->coll[i]].name, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(ins, 2, d->arena + d->name_off[i], d->name_len[i],
                              SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(ins, 3, body, d->body_len[i], SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(ins, 4, d->pretty[i]) != SQLITE_OK ||
            sqlite3_bind_int64(ins, 5, d->created[i]) != SQLITE_OK ||
            sqlite3_bind_int64(ins, 6, d->created[i]) != SQLITE_OK) {
            fail_sql(b, "binding a record");
            goto out;
        }
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fail_sql(b, "inserting a record");
            goto out;
        }
        sqlite3_reset(ins);
        if ((i + 1) % TXN_RECORDS == 0 && i + 1 < d->n &&
            (exec_sql(b, "COMMIT") != 0 || exec_sql(b, "BEGIN") != 0))
            goto out;
    }
    if (exec_sql(b, "COMMIT") != 0)
        goto out;
    if (sync_backend(b) != 0)
        goto out;
    report(b, "insert", d->n, start);
    rc = 0;
out:
    if (rc != 0 && !sqlite3_get_autocommit(b->db))
        sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(coll);
    sqlite3_finalize(ins);
    return rc;
}

static int phase_reads(const bench *b, const dataset *d, size_t nreads, uint64_t seed)
{
    sqlite3_stmt *st = NULL;
    uint64_t s = seed ^ 0x5265616473ULL;       /* "Reads" */
    size_t k, bad = 0;
    double start;
    int rc = -1;

    if (prepare(b, SQL_READ, &st) != 0)
        goto out;
    start = now();
    for (k = 0; k < nreads; k++) {
        size_t i = (size_t)rng_below(&s, d->n);
        const void *body;
        int step;

        if (sqlite3_bind_text(st, 1, COLLS[d->coll[i]].name, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, d->arena + d->name_off[i], d->name_len[i],
                              SQLITE_STATIC) != SQLITE_OK) {
            fail_sql(b, "binding a key");
            goto out;
        }
        step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            body = sqlite3_column_blob(st, 0);
            if (sqlite3_column_bytes(st, 0) != d->body_len[i] || body == NULL ||
                memcmp(body, d->arena + d->body_off[i], (size_t)d->body_len[i]) != 0) {
                if (bad++ < 5)
                    fprintf(stderr, "bench-store: %s: record %s/%s reads back different\n",
                            b->backend, COLLS[d->coll[i]].name, d->arena + d->name_off[i]);
            }
        } else if (step == SQLITE_DONE) {
            if (bad++ < 5)
                fprintf(stderr, "bench-store: %s: record %s/%s not found\n", b->backend,
                        COLLS[d->coll[i]].name, d->arena + d->name_off[i]);
        } else {
            fail_sql(b, "reading a record");
            goto out;
        }
        sqlite3_reset(st);
    }
    report(b, "reads", nreads, start);
    if (bad != 0) {
        fprintf(stderr, "bench-store: %s: %zu of %zu point reads failed\n", b->backend,
                bad, nreads);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int phase_aggregate(const bench *b, const dataset *d, const char *phase,
                           const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long count = 0;
    double sum = 0, want = (double)d->total_cents / 100, start;
    size_t groups = 0;
    int step, rc = -1;

    if (prepare(b, sql, &st) != 0)
        goto out;
    start = now();
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        count += sqlite3_column_int64(st, 2);
        sum += sqlite3_column_double(st, 3);
        groups++;
    }
    if (step != SQLITE_DONE) {
        fail_sql(b, "running the aggregate");
        goto out;
    }
    report(b, phase, d->n, start);
    if (count != (long long)d->n || groups != d->groups ||
        !(sum - want < 0.005 + 1e-9 * want && want - sum < 0.005 + 1e-9 * want)) {
        fprintf(stderr, "bench-store: %s: %s: got %lld records in %zu groups summing "
                "%.2f; inserted %zu in %zu groups summing %.2f\n", b->backend, phase,
                count, groups, sum, d->n, d->groups, want);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

/* The documents' bytes: a splitmix64 stream from the seed. */
static uint8_t *documents_make(size_t mib, uint64_t seed)
{
    size_t n = mib * DOC_TXN, i;
    uint64_t s = seed ^ 0x446f6373ULL;        /* "Docs" */
    uint8_t *data = malloc(n);

    if (data == NULL) {
        fprintf(stderr, "bench-store: out of memory for %zu MiB of documents\n", mib);
        return NULL;
    }
    for (i = 0; i < n; i += 8) {
        uint64_t r = rng_next(&s);

        memcpy(data + i, &r, 8);
    }
    return data;
}

static int phase_documents(const bench *b, const uint8_t *data, size_t mib)
{
    sqlite3_stmt *ins = NULL, *sel = NULL;
    size_t rows = mib * (DOC_TXN / DOC_ROW), i, seen = 0, bad = 0;
    double start;
    int rc = -1, step;

    if (exec_sql(b, "CREATE TABLE docs(id INTEGER PRIMARY KEY, data BLOB)") != 0 ||
        prepare(b, "INSERT INTO docs(id, data) VALUES (?, ?)", &ins) != 0)
        goto out;
    start = now();
    for (i = 0; i < rows; i++) {
        if (i % (DOC_TXN / DOC_ROW) == 0 && exec_sql(b, "BEGIN") != 0)
            goto out;
        if (sqlite3_bind_int64(ins, 1, (sqlite3_int64)i) != SQLITE_OK ||
            sqlite3_bind_blob(ins, 2, data + i * DOC_ROW, DOC_ROW, SQLITE_STATIC) !=
                SQLITE_OK) {
            fail_sql(b, "binding a document row");
            goto out;
        }
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fail_sql(b, "inserting a document row");
            goto out;
        }
        sqlite3_reset(ins);
        if ((i + 1) % (DOC_TXN / DOC_ROW) == 0 && exec_sql(b, "COMMIT") != 0)
            goto out;
    }
    if (sync_backend(b) != 0)
        goto out;
    report(b, "documents", mib, start);

    /* Read every row back, in order, and compare. */
    if (prepare(b, "SELECT id, data FROM docs ORDER BY id", &sel) != 0)
        goto out;
    while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(sel, 0);
        const void *got = sqlite3_column_blob(sel, 1);

        if (id != (sqlite3_int64)seen || sqlite3_column_bytes(sel, 1) != (int)DOC_ROW ||
            got == NULL || memcmp(got, data + (size_t)id * DOC_ROW, DOC_ROW) != 0)
            bad++;
        seen++;
    }
    if (step != SQLITE_DONE) {
        fail_sql(b, "reading the documents back");
        goto out;
    }
    if (seen != rows || bad != 0) {
        fprintf(stderr, "bench-store: %s: documents: %zu rows of %zu read back, %zu "
                "different\n", b->backend, seen, rows, bad);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0 && !sqlite3_get_autocommit(b->db))
        sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    return rc;
}

static int phase_size(const bench *b)
{
    sqlite3_stmt *st = NULL;
    struct stat sd, sw;
    char *wal = NULL, pages[32];
    int rc = -1;

    if (prepare(b, "PRAGMA wal_checkpoint(TRUNCATE)", &st) != 0)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW) {
        fail_sql(b, "checkpointing");
        goto out;
    }
    if (sqlite3_column_int(st, 0) != 0) {
        fprintf(stderr, "bench-store: %s: the checkpoint was blocked\n", b->backend);
        goto out;
    }
    if (query_text(b, "PRAGMA page_count", pages, sizeof pages) != 0)
        goto out;
    wal = malloc(strlen(b->dbpath) + 5);
    if (wal == NULL)
        goto out;
    sprintf(wal, "%s-wal", b->dbpath);
    if (stat(b->dbpath, &sd) != 0) {
        fprintf(stderr, "bench-store: %s: %s: %s\n", b->backend, b->dbpath, strerror(errno));
        goto out;
    }
    if (stat(wal, &sw) != 0)
        sw.st_size = 0;
    printf("bench backend=%s phase=size bytes=%lld db=%lld wal=%lld pages=%s\n", b->backend,
           (long long)(sd.st_size + sw.st_size), (long long)sd.st_size,
           (long long)sw.st_size, pages);
    fflush(stdout);
    rc = 0;
out:
    free(wal);
    sqlite3_finalize(st);
    return rc;
}

/* The whole workload on one backend, in a directory of its own under o->dir. */
static int run_backend(const opts *o, const dataset *d, const uint8_t *docs,
                       const char *backend)
{
    bench b = {.backend = backend};
    char *tmpl = NULL, cache_sql[64];
    double start;
    int rc = -1, has_json1;
    sqlite3_stmt *probe = NULL;

    if (asprintf(&tmpl, "%s/bench-%s-XXXXXX", o->dir, backend) < 0) {
        tmpl = NULL;
        goto out;
    }
    if (mkdtemp(tmpl) == NULL) {
        fprintf(stderr, "bench-store: cannot make a directory in %s: %s\n", o->dir,
                strerror(errno));
        goto out;
    }
    b.dir = tmpl;

    start = now();
    snprintf(cache_sql, sizeof cache_sql, "PRAGMA cache_size=-%zu", o->cache_kib);
    if (open_backend(&b) != 0 || exec_sql(&b, PRAGMAS) != 0 || exec_sql(&b, cache_sql) != 0 ||
        exec_sql(&b, SCHEMA) != 0)
        goto out;
    report(&b, "open", 1, start);
    if (sqlite3_create_function_v2(b.db, "jget", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                   NULL, jget, NULL, NULL, NULL) != SQLITE_OK) {
        fail_sql(&b, "registering jget()");
        goto out;
    }
    if (report_config(&b, d) != 0)
        goto out;

    if (!o->documents_only) {
        if (phase_insert(&b, d) != 0 || phase_reads(&b, d, o->reads, o->seed) != 0 ||
            phase_aggregate(&b, d, "aggregate", SQL_AGG) != 0)
            goto out;
        has_json1 = sqlite3_prepare_v2(b.db, "SELECT json_extract('{}', '$')", -1, &probe,
                                       NULL) == SQLITE_OK;
        sqlite3_finalize(probe);
        if (has_json1 && phase_aggregate(&b, d, "aggregate_json1", SQL_AGG_JSON1) != 0)
            goto out;
    }
    if (phase_size(&b) != 0)
        goto out;
    if (o->doc_mib != 0 && phase_documents(&b, docs, o->doc_mib) != 0)
        goto out;
    rc = 0;
out:
    if (close_backend(&b) != 0)
        rc = -1;
    if (b.dir != NULL)
        remove_tree(b.dir);
    free(b.dbpath);
    free(tmpl);
    return rc;
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    size_t i;

    fprintf(f,
            "usage: bench-store [--backend LIST] [--records N] [--reads N] [--dir DIR]\n"
            "                   [--seed S] [--dump N] [--cache-kib N] [--print-cache-kib]\n"
            "                   [--documents MIB [--documents-only]]\n"
            "Runs the vrmfs storage benchmark (see tests/bench/README) on each backend of\n"
            "LIST (comma-separated) and prints one line per phase.  This binary runs:");
    for (i = 0; i < NBACKENDS; i++)
        fprintf(f, "%s %s", i ? "," : "", BACKENDS[i]);
    fprintf(f, "\n"
            "  --records N  records inserted (default 200000)\n"
            "  --reads N    random point reads (default 200000)\n"
            "  --dir DIR    where to make the run's temporary directory (default $TMPDIR\n"
            "               or /tmp); it is removed at the end\n"
            "  --seed S     seed of the data and of the read sequence (default 1)\n"
            "  --dump N     print the first N records (collection, name, body) and stop\n"
            "  --cache-kib N  PRAGMA cache_size=-N on every backend (default: the vault's\n"
            "               default, %s)\n"
            "  --print-cache-kib  print the vault's default page cache in KiB and stop\n"
            "  --documents MIB  also write MIB MiB as 64 KiB rows, 1 MiB per transaction\n"
            "               (phase documents; from 1 to %d)\n"
            "  --documents-only  run the documents phase alone (needs --documents)\n",
            DEFAULT_CACHE_KIB ? "which --print-cache-kib prints" : "required in this build",
            DOC_MIB_MAX);
}

static int parse_count(const char *s, size_t *out)
{
    char *e;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &e, 10);
    if (errno != 0 || e == s || *e != '\0' || v == 0 || v > 100000000ULL || s[0] == '-')
        return -1;
    *out = (size_t)v;
    return 0;
}

static int backend_known(const char *name)
{
    size_t i;

    for (i = 0; i < NBACKENDS; i++)
        if (strcmp(name, BACKENDS[i]) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"backend", required_argument, NULL, 'b'},
        {"records", required_argument, NULL, 'n'},
        {"reads", required_argument, NULL, 'r'},
        {"dir", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 's'},
        {"dump", required_argument, NULL, 'D'},
        {"cache-kib", required_argument, NULL, 'c'},
        {"print-cache-kib", no_argument, NULL, 'P'},
        {"documents", required_argument, NULL, 'M'},
        {"documents-only", no_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opts o = {.backends = NULL, .records = 200000, .reads = 200000, .dir = NULL, .seed = 1,
              .dump = 0, .cache_kib = DEFAULT_CACHE_KIB, .doc_mib = 0, .documents_only = 0};
    dataset d;
    uint8_t *docs = NULL;
    char *list = NULL, *name, *save = NULL;
    int c, rc = 1;

    memset(&d, 0, sizeof d);
    while ((c = getopt_long(argc, argv, "b:n:r:d:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o.backends = optarg;
            break;
        case 'n':
        case 'r':
            if (parse_count(optarg, c == 'n' ? &o.records : &o.reads) != 0) {
                fprintf(stderr, "bench-store: --%s wants a count from 1 to 100000000, "
                        "not \"%s\"\n", c == 'n' ? "records" : "reads", optarg);
                return 2;
            }
            break;
        case 'd':
            o.dir = optarg;
            break;
        case 's': {
            char *e;

            errno = 0;
            o.seed = strtoull(optarg, &e, 0);
            if (errno != 0 || e == optarg || *e != '\0') {
                fprintf(stderr, "bench-store: --seed wants a number, not \"%s\"\n", optarg);
                return 2;
            }
            break;
        }
        case 'c':
            if (parse_count(optarg, &o.cache_kib) != 0 || o.cache_kib > 64 * 1024 * 1024) {
                fprintf(stderr, "bench-store: --cache-kib wants a size in KiB from 1 to "
                        "67108864, not \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'P':
            if (DEFAULT_CACHE_KIB == 0) {
                fprintf(stderr, "bench-store: this build does not know the vault's default\n");
                return 2;
            }
            printf("%d\n", DEFAULT_CACHE_KIB);
            return 0;
        case 'M':
            if (parse_count(optarg, &o.doc_mib) != 0 || o.doc_mib > DOC_MIB_MAX) {
                fprintf(stderr, "bench-store: --documents wants a size in MiB from 1 to %d, "
                        "not \"%s\"\n", DOC_MIB_MAX, optarg);
                return 2;
            }
            break;
        case 'O':
            o.documents_only = 1;
            break;
        case 'D':
            if (parse_count(optarg, &o.dump) != 0) {
                fprintf(stderr, "bench-store: --dump wants a count, not \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "bench-store: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (o.documents_only && o.doc_mib == 0) {
        fprintf(stderr, "bench-store: --documents-only needs --documents MIB\n");
        return 2;
    }
    if (o.cache_kib == 0) {
        fprintf(stderr, "bench-store: this build needs --cache-kib (scripts/bench passes the "
                "vault's default, from bench-store --print-cache-kib)\n");
        return 2;
    }
    if (o.dir == NULL)
        o.dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    list = strdup(o.backends ? o.backends : BACKENDS[0]);
    if (list == NULL)
        return 1;
    for (name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        if (!backend_known(name)) {
            fprintf(stderr, "bench-store: this binary cannot run backend \"%s\"%s\n", name,
#ifdef BENCH_SQLCIPHER
                    " (plain and vault: use bench-store)"
#else
                    strcmp(name, "sqlcipher") == 0 ? " (use bench-store-sqlcipher)" : ""
#endif
                    );
            goto out;
        }
    }

    if (dataset_make(&d, o.records, o.seed) != 0)
        goto out;
    if (o.dump != 0) {
        size_t i;

        for (i = 0; i < o.dump && i < d.n; i++)
            printf("%s\t%s\t%s\n", COLLS[d.coll[i]].name, d.arena + d.name_off[i],
                   d.arena + d.body_off[i]);
        rc = 0;
        goto out;
    }
    if (o.doc_mib != 0 && (docs = documents_make(o.doc_mib, o.seed)) == NULL)
        goto out;
    free(list);
    list = strdup(o.backends ? o.backends : BACKENDS[0]);
    if (list == NULL)
        goto out;
    for (name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save))
        if (run_backend(&o, &d, docs, name) != 0) {
            fprintf(stderr, "bench-store: backend %s failed\n", name);
            goto out;
        }
    rc = 0;
out:
    dataset_free(&d);
    free(docs);
    free(list);
    return rc;
}
