/*
 * test_analytics.c: the analytics results against sums computed here from
 * the records the tests write (integer cents), the cache, the charts, and
 * custom queries with their refusals.
 *
 * `test_analytics --bench N` instead puts N finance rows into facts and
 * prints how long the first and a cached read of spending/by-month.json
 * take (not part of the suite).
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "data/analytics.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef tu_fixture fixture;

static const char *const colls[] = {"finance", "diet", "purchases", "activity", "profile",
                                    "notes"};

static int setup(void **state)
{
    fixture *f;
    size_t i;

    tu_setup(state);
    f = *state;
    for (i = 0; i < sizeof colls / sizeof colls[0]; i++)
        assert_int_equal(vrm_collection_create(f->v, colls[i]), 0);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put(vrm_vault *v, const char *coll, const char *name, const char *json)
{
    int rc = vrm_record_put(v, coll, name, json, strlen(json), 0, NULL);

    if (rc != 0)
        fail_msg("put %s/%s: %s (%s)", coll, name, vrm_error_message(), json);
}

/* A result's text, failing the test when there is none. */
static char *get(vrm_vault *v, const char *path)
{
    char *out = NULL;
    size_t len = 0;
    int64_t when = 0;
    int rc = vrm_analytics_get(v, path, &out, &len, &when);

    if (rc != 0)
        fail_msg("vrm_analytics_get(%s): %d %s", path, rc, vrm_error_message());
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    assert_true(when > 0);
    return out;
}

static cJSON *get_json(vrm_vault *v, const char *path)
{
    char *text = get(v, path);
    cJSON *j = cJSON_Parse(text);

    if (j == NULL)
        fail_msg("%s is not JSON: %s", path, text);
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
    return j;
}

/* "%lld.%02lld" of integer cents, as the result should print them. */
static const char *money(long long c, char buf[32])
{
    snprintf(buf, 32, "%s%lld.%02lld", c < 0 ? "-" : "", llabs(c) / 100, llabs(c) % 100);
    return buf;
}

/* A JSON number, as %.2f, must equal the cents. */
static void assert_cents(const cJSON *n, long long c)
{
    char want[32], got[32];

    assert_true(cJSON_IsNumber(n));
    snprintf(got, sizeof got, "%.2f", n->valuedouble);
    if (strcmp(got, money(c, want)) != 0)
        fail_msg("total %s, expected %s", got, want);
    /* and cJSON printed it in its shortest form */
    {
        char *s = cJSON_PrintUnformatted(n);

        assert_true(strlen(s) <= strlen(want));
        free(s);
    }
}

static const char *num_key(const cJSON *o, const char *key)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);

    assert_true(cJSON_IsString(s));
    return s->valuestring;
}

static const cJSON *item(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

    if (it == NULL)
        fail_msg("no \"%s\"", key);
    return it;
}

/* ---- spending ------------------------------------------------------------ */

/* Expected groups: key, cents, count. */
typedef struct exp_group {
    char key[32];
    long long cents;
    long long count;
} exp_group;

static exp_group *eg_find(exp_group *g, int *n, const char *key)
{
    int i;

    for (i = 0; i < *n; i++)
        if (strcmp(g[i].key, key) == 0)
            return &g[i];
    snprintf(g[*n].key, sizeof g[*n].key, "%s", key);
    g[*n].cents = 0;
    g[*n].count = 0;
    return &g[(*n)++];
}

static int eg_by_total(const void *a, const void *b)
{
    const exp_group *x = a, *y = b;

    if (x->cents != y->cents)
        return x->cents > y->cents ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int eg_by_key(const void *a, const void *b)
{
    return strcmp(((const exp_group *)a)->key, ((const exp_group *)b)->key);
}

static void check_groups(vrm_vault *v, const char *path, const char *keyname, exp_group *g,
                         int n)
{
    cJSON *arr = get_json(v, path), *o;
    int i = 0;

    assert_int_equal(cJSON_GetArraySize(arr), n);
    cJSON_ArrayForEach(o, arr) {
        assert_string_equal(num_key(o, keyname), g[i].key);
        assert_cents(item(o, "total"), g[i].cents);
        assert_int_equal((long long)item(o, "count")->valuedouble, g[i].count);
        i++;
    }
    cJSON_Delete(arr);
}

static void test_spending(void **state)
{
    static const char *const cats[] = {"food", "rent", "travel", "fun", "books", NULL};
    static const char *const merchants[] = {"acme", "grocer", "a, \"quoted\" one", NULL};
    fixture *f = *state;
    exp_group months[40], bycat[10], bymer[10];
    int nm = 0, nc = 0, nme = 0, i;
    unsigned seed = 7;

    for (i = 0; i < 300; i++) {
        char name[32], body[512], month[8], catpart[64] = "", merpart[96] = "";
        long long c;
        int m = 1 + i % 14, y = m > 12 ? 2025 : 2024;
        const char *cat, *mer;

        seed = seed * 1103515245u + 12345u;
        c = (long long)(seed >> 8) % 20000 - 1000;          /* -10.00 .. 189.99 */
        if (m > 12)
            m -= 12;
        cat = cats[i % 6];                                  /* NULL: none */
        mer = merchants[i % 4];
        if (cat != NULL)
            snprintf(catpart, sizeof catpart, ", \"category\": \"%s\"", cat);
        if (mer != NULL) {
            cJSON *s = cJSON_CreateString(mer);
            char *q = cJSON_PrintUnformatted(s);

            snprintf(merpart, sizeof merpart, ", \"merchant\": %s", q);
            free(q);
            cJSON_Delete(s);
        }
        snprintf(month, sizeof month, "%04d-%02d", y, m);
        snprintf(name, sizeof name, "t%03d", i);
        /* every 5th amount is a string, as CSV imports give */
        snprintf(body, sizeof body,
                 i % 5 == 0 ? "{\"date\": \"%s-%02d\", \"amount\": \"%s%lld.%02lld\", "
                              "\"currency\": \"EUR\"%s%s}"
                            : "{\"date\": \"%s-%02d\", \"amount\": %s%lld.%02lld, "
                              "\"currency\": \"EUR\"%s%s}",
                 month, 1 + i % 28, c < 0 ? "-" : "", llabs(c) / 100, llabs(c) % 100,
                 catpart, merpart);
        put(f->v, "finance", name, body);
        eg_find(months, &nm, month)->cents += c;
        eg_find(months, &nm, month)->count++;
        eg_find(bycat, &nc, cat ? cat : "uncategorized")->cents += c;
        eg_find(bycat, &nc, cat ? cat : "uncategorized")->count++;
        eg_find(bymer, &nme, mer ? mer : "unknown")->cents += c;
        eg_find(bymer, &nme, mer ? mer : "unknown")->count++;
    }
    /* no amount: counted nowhere; no date: in categories and merchants only */
    put(f->v, "finance", "noamount", "{\"date\": \"2024-03-03\", \"category\": \"food\"}");
    put(f->v, "finance", "nodate", "{\"amount\": 12.5, \"category\": \"zzz\"}");
    eg_find(bycat, &nc, "zzz")->cents += 1250;
    eg_find(bycat, &nc, "zzz")->count++;
    eg_find(bymer, &nme, "unknown")->cents += 1250;
    eg_find(bymer, &nme, "unknown")->count++;
    /* a tie with zzz, broken by name */
    put(f->v, "finance", "tie", "{\"amount\": 12.5, \"category\": \"yyy\"}");
    eg_find(bycat, &nc, "yyy")->cents += 1250;
    eg_find(bycat, &nc, "yyy")->count++;
    eg_find(bymer, &nme, "unknown")->cents += 1250;
    eg_find(bymer, &nme, "unknown")->count++;
    /* records elsewhere change nothing */
    put(f->v, "notes", "n1", "{\"date\": \"2024-01-01\", \"amount\": 1000}");

    qsort(months, (size_t)nm, sizeof months[0], eg_by_key);
    qsort(bycat, (size_t)nc, sizeof bycat[0], eg_by_total);
    qsort(bymer, (size_t)nme, sizeof bymer[0], eg_by_total);
    check_groups(f->v, "spending/by-month.json", "month", months, nm);
    check_groups(f->v, "spending/by-category.json", "category", bycat, nc);
    check_groups(f->v, "spending/by-merchant.json", "merchant", bymer, nme);

    /* the CSV, byte for byte */
    {
        char *csv = get(f->v, "spending/by-month.csv"), *want = NULL, m[32];
        size_t wl = 0;
        FILE *w = open_memstream(&want, &wl);

        fprintf(w, "month,total,count\n");
        for (i = 0; i < nm; i++)
            fprintf(w, "%s,%s,%lld\n", months[i].key, money(months[i].cents, m),
                    months[i].count);
        fclose(w);
        assert_string_equal(csv, want);
        free(want);
        free(csv);
    }
    /* the merchant with a comma and quotes is in the JSON as it is */
    {
        char *t = get(f->v, "spending/by-merchant.json");

        assert_non_null(strstr(t, "\"a, \\\"quoted\\\" one\""));
        free(t);
    }
}

/* Sums that print 0.30000000000000004 in binary: totals print as 0.3. */
static void test_spending_rounding(void **state)
{
    fixture *f = *state;
    char *t;

    put(f->v, "finance", "a", "{\"date\": \"2024-05-01\", \"amount\": 0.1}");
    put(f->v, "finance", "b", "{\"date\": \"2024-05-02\", \"amount\": 0.2}");
    put(f->v, "finance", "c", "{\"date\": \"2024-06-02\", \"amount\": 0.125}");
    t = get(f->v, "spending/by-month.json");
    assert_non_null(strstr(t, "\"total\": 0.3,"));
    /* printf("%.2f") rounds the binary value: 0.125 is a tie, to even */
    assert_non_null(strstr(t, "\"total\": 0.12,"));
    assert_null(strstr(t, "0000000"));
    free(t);
    t = get(f->v, "spending/by-month.csv");
    assert_string_equal(t, "month,total,count\n2024-05,0.30,2\n2024-06,0.12,1\n");
    free(t);
}

static void month_back(int back, char out[16])
{
    time_t now = time(NULL);
    struct tm tm;
    int y, m;

    localtime_r(&now, &tm);
    y = tm.tm_year + 1900;
    m = tm.tm_mon + 1 - back;
    while (m < 1) {
        m += 12;
        y--;
    }
    snprintf(out, 16, "%04d-%02d", y, m);
}

static void test_summary(void **state)
{
    static const char *const cats[] = {"a", "b", "c", "d", "e", "f", "g"};
    fixture *f = *state;
    long long total = 0, before = 0, catc[7] = {0};
    char month[16], name[32], body[256], want[32];
    exp_group top[7];
    int back, i, k;
    cJSON *s, *arr, *o;

    for (back = 0; back <= 14; back++) {
        month_back(back, month);
        for (k = 0; k < 3 + back % 4; k++) {
            long long c = 1000 + back * 337 + k * 1111;
            const char *cat = cats[(back + k * 3) % 7];

            snprintf(name, sizeof name, "m%d-%d", back, k);
            snprintf(body, sizeof body, "{\"date\": \"%s-1%d\", \"amount\": %lld.%02lld, "
                     "\"category\": \"%s\"}", month, k % 10, c / 100, c % 100, cat);
            put(f->v, "finance", name, body);
            if (back == 0) {
                total += c;
                catc[(back + k * 3) % 7] += c;
            } else if (back <= 12) {
                before += c;
            }
        }
    }
    s = get_json(f->v, "spending/summary.json");
    month_back(0, month);
    assert_string_equal(num_key(s, "month"), month);
    assert_cents(item(s, "total"), total);
    /* average of the 12 months before: printf's rounding of the exact mean */
    snprintf(want, sizeof want, "%.2f", (double)before / 1200.0);
    {
        char got[32];
        long long avg_c = llround(strtod(want, NULL) * 100);

        snprintf(got, sizeof got, "%.2f", item(s, "average_12")->valuedouble);
        assert_string_equal(got, want);
        assert_cents(item(s, "change"), total - avg_c);
    }
    for (i = 0; i < 7; i++) {
        snprintf(top[i].key, sizeof top[i].key, "%s", cats[i]);
        top[i].cents = catc[i];
    }
    qsort(top, 7, sizeof top[0], eg_by_total);
    arr = cJSON_GetObjectItemCaseSensitive(s, "top_categories");
    i = 0;
    k = 0;
    while (k < 7 && top[k].cents != 0)
        k++;
    assert_int_equal(cJSON_GetArraySize(arr), k < 5 ? k : 5);
    cJSON_ArrayForEach(o, arr) {
        assert_string_equal(num_key(o, "category"), top[i].key);
        assert_cents(item(o, "total"), top[i].cents);
        i++;
    }
    cJSON_Delete(s);
}

/* ---- calories, mileage, activity -------------------------------------------- */

static long long day_number(const char *date)
{
    struct tm tm = {0};

    sscanf(date, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = 12;
    return (long long)(timegm(&tm) / 86400);
}

static void test_calories(void **state)
{
    /* dates with their ISO weeks (from a calendar) and kcal per record */
    static const struct {
        const char *date, *week;
        int kcal[3];
    } days[] = {
        {"2020-12-31", "2020-W53", {2100, 0, 0}},
        {"2021-01-03", "2020-W53", {1800, 350, 0}},
        {"2021-01-04", "2021-W01", {2500, 0, 0}},
        {"2021-01-06", "2021-W01", {1500, 400, 120}},
        {"2021-01-10", "2021-W01", {2222, 0, 0}},
        {"2021-01-11", "2021-W02", {1999, 0, 0}},
        {"2024-12-30", "2025-W01", {2000, 1, 0}},
    };
    enum { NDAYS = sizeof days / sizeof days[0] };
    fixture *f = *state;
    long long sums[NDAYS];
    char name[32], body[128], *csv, *line, *save = NULL;
    int i, k, row;
    cJSON *w, *o;

    for (i = 0; i < NDAYS; i++) {
        sums[i] = 0;
        for (k = 0; k < 3 && days[i].kcal[k] != 0; k++) {
            snprintf(name, sizeof name, "d%d-%d", i, k);
            snprintf(body, sizeof body, k == 1 ? "{\"date\": \"%sT12:00\", \"kcal\": \"%d\"}"
                                               : "{\"date\": \"%s\", \"kcal\": %d}",
                     days[i].date, days[i].kcal[k]);
            put(f->v, "diet", name, body);
            sums[i] += days[i].kcal[k];
        }
    }
    put(f->v, "diet", "nokcal", "{\"date\": \"2021-01-04\"}");
    put(f->v, "diet", "baddate", "{\"date\": \"2021-02-30\", \"kcal\": 99}");

    /* without a target: the column is empty */
    csv = get(f->v, "calories/daily.csv");
    assert_non_null(strstr(csv, "date,kcal,average_7,target\n2020-12-31,2100,2100,\n"));
    free(csv);

    put(f->v, "profile", "me", "{\"name\": \"Ada\", \"kcal_target\": 2000}");
    put(f->v, "profile", "another", "{\"kcal_target\": 1234}");
    csv = get(f->v, "calories/daily.csv");
    line = strtok_r(csv, "\n", &save);
    assert_string_equal(line, "date,kcal,average_7,target");
    for (row = 0; (line = strtok_r(NULL, "\n", &save)) != NULL; row++) {
        char date[16];
        double kcal, avg, target, want = 0;
        int n = 0;

        assert_true(row < NDAYS);
        assert_int_equal(sscanf(line, "%10[^,],%lf,%lf,%lf", date, &kcal, &avg, &target), 4);
        assert_string_equal(date, days[row].date);
        assert_true(fabs(kcal - (double)sums[row]) < 1e-9);
        for (k = 0; k <= row; k++)
            if (day_number(days[k].date) >= day_number(days[row].date) - 6) {
                want += (double)sums[k];
                n++;
            }
        want /= n;
        if (fabs(avg - want) > 0.05 + 1e-9)
            fail_msg("%s: average_7 %f, expected %f", date, avg, want);
        assert_true(target == 2000);
    }
    assert_int_equal(row, NDAYS);
    free(csv);

    w = get_json(f->v, "calories/weekly.json");
    {
        const char *weeks[NDAYS];
        long long wsum[NDAYS];
        int wdays[NDAYS], nw = 0;

        for (i = 0; i < NDAYS; i++) {
            if (nw == 0 || strcmp(weeks[nw - 1], days[i].week) != 0) {
                weeks[nw] = days[i].week;
                wsum[nw] = 0;
                wdays[nw++] = 0;
            }
            wsum[nw - 1] += sums[i];
            wdays[nw - 1]++;
        }
        assert_int_equal(cJSON_GetArraySize(w), nw);
        i = 0;
        cJSON_ArrayForEach(o, w) {
            double want = (double)wsum[i] / wdays[i];

            assert_string_equal(num_key(o, "week"), weeks[i]);
            assert_int_equal((int)item(o, "days")->valuedouble, wdays[i]);
            assert_true(fabs(item(o, "average")->valuedouble - want) <= 0.05 + 1e-9);
            i++;
        }
    }
    cJSON_Delete(w);
}

static void test_mileage(void **state)
{
    fixture *f = *state;
    cJSON *b, *o;
    char *h;

    put(f->v, "purchases", "p1", "{\"date\": \"2024-01-05\", \"merchant\": \"air\", "
        "\"amount\": 300, \"miles_earned\": 1500, \"program\": \"skymiles\"}");
    put(f->v, "purchases", "p2", "{\"date\": \"2024-01-05\", \"miles_earned\": \"250.5\", "
        "\"program\": \"skymiles\"}");
    put(f->v, "purchases", "p3", "{\"date\": \"2024-02-01\", \"miles_used\": 1000, "
        "\"program\": \"skymiles\"}");
    put(f->v, "purchases", "p4", "{\"date\": \"2024-01-20\", \"miles_earned\": 40, "
        "\"program\": \"rail, \\\"club\\\"\"}");
    put(f->v, "purchases", "p5", "{\"miles_earned\": 7}");
    put(f->v, "purchases", "p6", "{\"date\": \"2024-03-01\", \"amount\": 5}");   /* no miles */
    b = get_json(f->v, "mileage/balance.json");
    assert_int_equal(cJSON_GetArraySize(b), 3);
    o = cJSON_GetArrayItem(b, 0);
    assert_string_equal(num_key(o, "program"), "rail, \"club\"");
    assert_cents(item(o, "earned"), 4000);
    assert_cents(item(o, "used"), 0);
    assert_cents(item(o, "balance"), 4000);
    o = cJSON_GetArrayItem(b, 1);
    assert_string_equal(num_key(o, "program"), "skymiles");
    assert_cents(item(o, "earned"), 175050);
    assert_cents(item(o, "used"), 100000);
    assert_cents(item(o, "balance"), 75050);
    o = cJSON_GetArrayItem(b, 2);
    assert_string_equal(num_key(o, "program"), "unknown");
    assert_cents(item(o, "balance"), 700);
    cJSON_Delete(b);
    h = get(f->v, "mileage/history.csv");
    assert_string_equal(h, "date,program,earned,used,balance\n"
                           ",unknown,7.00,0.00,7.00\n"
                           "2024-01-05,skymiles,1750.50,0.00,1750.50\n"
                           "2024-01-20,\"rail, \"\"club\"\"\",40.00,0.00,40.00\n"
                           "2024-02-01,skymiles,0.00,1000.00,750.50\n");
    free(h);
}

static void test_activity(void **state)
{
    fixture *f = *state;
    cJSON *a, *kinds, *weeks, *o;

    put(f->v, "activity", "a1", "{\"time\": \"2021-01-03T07:00:00Z\", \"kind\": \"run\", "
        "\"duration_min\": 30.25}");
    put(f->v, "activity", "a2", "{\"time\": \"2021-01-04T07:00:00Z\", \"kind\": \"run\", "
        "\"duration_min\": 20}");
    put(f->v, "activity", "a3", "{\"time\": \"2021-01-05\", \"kind\": \"swim\", "
        "\"duration_min\": \"45\"}");
    put(f->v, "activity", "a4", "{\"time\": \"2021-01-05\", \"kind\": \"walk\", "
        "\"duration_min\": 5}");
    put(f->v, "activity", "a5", "{\"kind\": \"walk\", \"duration_min\": 10}");
    put(f->v, "activity", "a6", "{\"time\": \"2021-01-12\"}");
    a = get_json(f->v, "activity/summary.json");
    kinds = cJSON_GetObjectItemCaseSensitive(a, "kinds");
    weeks = cJSON_GetObjectItemCaseSensitive(a, "weeks");
    assert_int_equal(cJSON_GetArraySize(kinds), 4);
    o = cJSON_GetArrayItem(kinds, 0);      /* most minutes first */
    assert_string_equal(num_key(o, "kind"), "run");
    assert_int_equal((int)item(o, "count")->valuedouble, 2);
    assert_true(fabs(item(o, "minutes")->valuedouble - 50.2) < 1e-9);  /* 50.25: a tie, to even */
    o = cJSON_GetArrayItem(kinds, 1);
    assert_string_equal(num_key(o, "kind"), "swim");
    assert_true(item(o, "minutes")->valuedouble == 45);
    o = cJSON_GetArrayItem(kinds, 2);
    assert_string_equal(num_key(o, "kind"), "walk");
    assert_int_equal((int)item(o, "count")->valuedouble, 2);
    assert_true(item(o, "minutes")->valuedouble == 15);
    o = cJSON_GetArrayItem(kinds, 3);
    assert_string_equal(num_key(o, "kind"), "unknown");
    assert_int_equal(cJSON_GetArraySize(weeks), 3);
    o = cJSON_GetArrayItem(weeks, 0);
    assert_string_equal(num_key(o, "week"), "2020-W53");
    assert_int_equal((int)item(o, "count")->valuedouble, 1);
    o = cJSON_GetArrayItem(weeks, 1);
    assert_string_equal(num_key(o, "week"), "2021-W01");
    assert_int_equal((int)item(o, "count")->valuedouble, 3);
    assert_true(item(o, "minutes")->valuedouble == 70);
    o = cJSON_GetArrayItem(weeks, 2);
    assert_string_equal(num_key(o, "week"), "2021-W02");
    assert_true(item(o, "minutes")->valuedouble == 0);
    cJSON_Delete(a);
}

/* ---- empty data, charts, names -------------------------------------------------- */

/* If xmllint is there, the text must parse as XML. */
static void assert_xml(const char *tmp, const char *text)
{
    char *file = tu_path(tmp, "chart.svg"), *cmd = NULL;
    FILE *fp;
    int rc;

    if (system("command -v xmllint >/dev/null 2>&1") != 0) {
        free(file);
        return;
    }
    fp = fopen(file, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_true(asprintf(&cmd, "xmllint --noout '%s'", file) > 0);
    rc = system(cmd);
    if (rc != 0)
        fail_msg("not XML:\n%s", text);
    free(cmd);
    free(file);
}

static void check_svg(fixture *f, const char *path, int empty)
{
    char *t = get(f->v, path);

    assert_true(strncmp(t, "<?xml", 5) == 0);
    assert_non_null(strstr(t, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\""));
    assert_non_null(strstr(t, "<title>"));
    assert_null(strstr(t, "href"));                    /* nothing external */
    assert_true(!empty == (strstr(t, "no data") == NULL));
    assert_xml(f->tmp, t);
    free(t);
}

static void test_empty(void **state)
{
    fixture *f = *state;
    char *t, month[16], want[128];
    size_t i;

    for (i = 0; vrm_analytics_files[i] != NULL; i++) {
        t = get(f->v, vrm_analytics_files[i]);
        free(t);
    }
    assert_int_equal(i, 12);
    t = get(f->v, "spending/by-month.json");
    assert_string_equal(t, "[]\n");
    free(t);
    t = get(f->v, "spending/by-month.csv");
    assert_string_equal(t, "month,total,count\n");
    free(t);
    t = get(f->v, "calories/daily.csv");
    assert_string_equal(t, "date,kcal,average_7,target\n");
    free(t);
    t = get(f->v, "mileage/history.csv");
    assert_string_equal(t, "date,program,earned,used,balance\n");
    free(t);
    t = get(f->v, "activity/summary.json");
    assert_string_equal(t, "{\n  \"kinds\": [],\n  \"weeks\": []\n}\n");
    free(t);
    t = get(f->v, "spending/summary.json");
    month_back(0, month);
    snprintf(want, sizeof want, "{\n  \"month\": \"%s\",\n  \"total\": 0,\n  \"average_12\": 0,"
             "\n  \"change\": 0,\n  \"top_categories\": []\n}\n", month);
    assert_string_equal(t, want);
    free(t);
    check_svg(f, "spending/by-month.svg", 1);
    check_svg(f, "calories/daily.svg", 1);
}

static void test_svg(void **state)
{
    fixture *f = *state;
    char name[32], body[160];
    int i;

    /* the most common currency names the axis, escaped */
    put(f->v, "finance", "x1", "{\"date\": \"2024-01-01\", \"amount\": 5, \"currency\": \"<&'\\\">\"}");
    put(f->v, "finance", "x2", "{\"date\": \"2024-02-01\", \"amount\": -3, \"currency\": \"<&'\\\">\"}");
    put(f->v, "finance", "x3", "{\"date\": \"2024-02-01\", \"amount\": 7, \"currency\": \"EUR\"}");
    check_svg(f, "spending/by-month.svg", 0);
    {
        char *t = get(f->v, "spending/by-month.svg");

        assert_non_null(strstr(t, "Spending (&lt;&amp;&apos;&quot;&gt;)"));
        free(t);
    }
    put(f->v, "finance", "x4", "{\"date\": \"2024-02-01\", \"amount\": 7, \"currency\": \"EUR\"}");
    put(f->v, "finance", "x5", "{\"date\": \"2024-02-01\", \"amount\": 7, \"currency\": \"EUR\"}");
    {
        char *t = get(f->v, "spending/by-month.svg");

        assert_non_null(strstr(t, "Spending (EUR)"));
        assert_non_null(strstr(t, ">Month</text>"));
        free(t);
    }
    /* many months, one calorie day, then many days and a target */
    for (i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "m%d", i);
        snprintf(body, sizeof body, "{\"date\": \"%04d-%02d-03\", \"amount\": %d.5}",
                 2020 + i / 12, 1 + i % 12, i * 13);
        put(f->v, "finance", name, body);
    }
    check_svg(f, "spending/by-month.svg", 0);
    put(f->v, "diet", "one", "{\"date\": \"2024-01-01\", \"kcal\": 1800}");
    check_svg(f, "calories/daily.svg", 0);
    put(f->v, "profile", "me", "{\"kcal_target\": 2100}");
    for (i = 0; i < 60; i++) {
        snprintf(name, sizeof name, "d%d", i);
        snprintf(body, sizeof body, "{\"date\": \"2024-%02d-%02d\", \"kcal\": %d}",
                 1 + i / 28, 1 + i % 28, 1500 + (i * 97) % 900);
        put(f->v, "diet", name, body);
    }
    check_svg(f, "calories/daily.svg", 0);
    {
        char *t = get(f->v, "calories/daily.svg");

        assert_non_null(strstr(t, "Energy (kcal)"));
        assert_non_null(strstr(t, "target"));
        free(t);
    }
}

static void test_unknown_paths(void **state)
{
    static const char *const bad[] = {
        "spending", "spending/by-month", "spending/by-month.json/x", "custom/nope.json",
        "custom/nope.csv", "custom/nope.error.txt", "custom/.json", "custom/a b.json",
        "custom/x.sql", "/spending/by-month.json", "", NULL,
    };
    fixture *f = *state;
    char *out = NULL;
    size_t len;
    int64_t when;
    int i;

    for (i = 0; bad[i] != NULL; i++) {
        if (vrm_analytics_get(f->v, bad[i], &out, &len, &when) != -ENOENT)
            fail_msg("%s: expected ENOENT", bad[i]);
        assert_null(out);
    }
}

/* ---- the topics ------------------------------------------------------------------- */

typedef struct topic_walk {
    vrm_names *l;
    const char *topic;                /* added before each name, or NULL */
} topic_walk;

static int add_name(void *ctx, const char *name)
{
    topic_walk *w = ctx;
    char path[128];

    snprintf(path, sizeof path, "%s%s%s", w->topic ? w->topic : "", w->topic ? "/" : "",
             name);
    return vrm_names_add(w->l, path);
}

static int stop_at_second(void *ctx, const char *name)
{
    int *n = ctx;

    (void)name;
    return ++*n == 2 ? 7 : 0;
}

/* The folders of analytics/ come from the list of results: each topic once,
 * in order, then custom; each topic's files are its files of that list. */
static void test_topics(void **state)
{
    static const char *const want[] = {"spending", "calories", "mileage", "activity", "custom"};
    static const char *const bad[] = {"", "spend", "spending/", "Spending", "customs",
                                      "by-month.json", "spending/by-month.json", NULL};
    vrm_names topics = VRM_NAMES_INIT, files = VRM_NAMES_INIT;
    topic_walk w = {&topics, NULL};
    size_t i;
    int n = 0;

    (void)state;
    assert_int_equal(vrm_analytics_topic_list(add_name, &w), 0);
    assert_int_equal(topics.n, sizeof want / sizeof want[0]);
    for (i = 0; i < topics.n; i++) {
        assert_string_equal(topics.names[i], want[i]);
        assert_int_equal(vrm_analytics_topic_valid(topics.names[i]), 0);
        w.l = &files;
        w.topic = topics.names[i];
        assert_int_equal(vrm_analytics_topic_files(topics.names[i], add_name, &w), 0);
    }
    for (i = 0; vrm_analytics_files[i] != NULL; i++) {
        assert_true(i < files.n);
        assert_string_equal(files.names[i], vrm_analytics_files[i]);
    }
    assert_int_equal(files.n, i);
    for (i = 0; bad[i] != NULL; i++)
        if (vrm_analytics_topic_valid(bad[i]) != -ENOENT)
            fail_msg("topic \"%s\": expected ENOENT", bad[i]);
    assert_int_equal(vrm_analytics_topic_list(stop_at_second, &n), 7);
    n = 0;
    assert_int_equal(vrm_analytics_topic_files("spending", stop_at_second, &n), 7);
    vrm_names_release(&topics);
    vrm_names_release(&files);
}

/* ---- the cache -------------------------------------------------------------------- */

static int statements;

static int count_stmt(unsigned type, void *ctx, void *p, void *x)
{
    (void)type;
    (void)ctx;
    (void)p;
    (void)x;
    statements++;
    return 0;
}

/* Count every statement run on the vault's connections. */
static void trace_all(vrm_vault *v)
{
    int i;

    sqlite3_trace_v2(v->db, SQLITE_TRACE_STMT, count_stmt, NULL);
    for (i = 0; i < v->nreaders; i++)
        sqlite3_trace_v2(v->readers[i].db, SQLITE_TRACE_STMT, count_stmt, NULL);
}

static void test_cache(void **state)
{
    fixture *f = *state;
    char *a, *b, *c;
    size_t len;
    int64_t t1, t2, t3;
    double t0, dt;
    int before, i;

    for (i = 0; i < 50; i++) {
        char name[16], body[96];

        snprintf(name, sizeof name, "r%d", i);
        snprintf(body, sizeof body, "{\"date\": \"2024-%02d-01\", \"amount\": %d.25}",
                 1 + i % 12, i);
        put(f->v, "finance", name, body);
    }
    put(f->v, "diet", "d", "{\"date\": \"2024-01-01\", \"kcal\": 1800}");
    trace_all(f->v);
    statements = 0;
    assert_int_equal(vrm_analytics_get(f->v, "spending/by-month.json", &a, &len, &t1), 0);
    assert_true(statements > 0);
    before = statements;
    t0 = now_s();
    assert_int_equal(vrm_analytics_get(f->v, "spending/by-month.json", &b, &len, &t2), 0);
    dt = now_s() - t0;
    assert_int_equal(statements, before);               /* no SQL at all */
    assert_true(dt < 0.005);
    assert_string_equal(a, b);
    assert_true(t1 == t2);                              /* computed once */
    free(b);
    /* another collection's change leaves it cached */
    put(f->v, "diet", "d2", "{\"date\": \"2024-01-02\", \"kcal\": 1700}");
    put(f->v, "notes", "n", "{\"date\": \"2024-01-02\", \"amount\": 1700}");
    before = statements;
    assert_int_equal(vrm_analytics_get(f->v, "spending/by-month.json", &b, &len, &t2), 0);
    assert_int_equal(statements, before);
    assert_true(t1 == t2);
    free(b);
    /* a finance change is seen at once */
    put(f->v, "finance", "r0", "{\"date\": \"2024-01-01\", \"amount\": 1000}");
    before = statements;
    assert_int_equal(vrm_analytics_get(f->v, "spending/by-month.json", &c, &len, &t3), 0);
    assert_true(statements > before);
    assert_string_not_equal(a, c);
    assert_true(t3 > t1);
    free(a);
    free(c);
    /* as is a delete */
    assert_int_equal(vrm_record_delete(f->v, "finance", "r0"), 0);
    a = get(f->v, "spending/by-month.json");
    assert_non_null(strstr(a, "\"total\": 121,"));    /* 12.25 + 24.25 + 36.25 + 48.25 */
    free(a);
    /* calories/daily.csv follows the profile's target */
    a = get(f->v, "calories/daily.csv");
    assert_non_null(strstr(a, "2024-01-01,1800,1800,\n"));
    free(a);
    put(f->v, "profile", "me", "{\"kcal_target\": 2500}");
    a = get(f->v, "calories/daily.csv");
    assert_non_null(strstr(a, "2024-01-01,1800,1800,2500\n"));
    free(a);
    /* a vault closed and opened again (perhaps at the same address) never
     * sees an older open's results */
    assert_int_equal(vrm_vault_close(f->v), 0);
    f->v = tu_open(f->vault);
    a = get(f->v, "spending/by-month.json");
    assert_non_null(strstr(a, "\"total\": 121,"));
    free(a);
}

/* ---- custom queries --------------------------------------------------------------- */

/* Everything a query might change, as one text. */
static char *fingerprint(vrm_vault *v)
{
    sqlite3_stmt *st;
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    static const char *const sqls[] = {
        "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name",
        "SELECT collection, name, body, created, updated FROM records ORDER BY id",
        "SELECT * FROM facts ORDER BY collection, name",
        "SELECT * FROM custom_queries ORDER BY name",
        "SELECT * FROM vendors ORDER BY name",
        "PRAGMA user_version",
    };
    size_t i;
    int c;

    vrm_vault_lock(v);
    for (i = 0; i < sizeof sqls / sizeof sqls[0]; i++) {
        assert_int_equal(sqlite3_prepare_v2(vrm_vault_sqlite(v), sqls[i], -1, &st, NULL),
                         SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
            for (c = 0; c < sqlite3_column_count(st); c++)
                fprintf(fp, "%s|", sqlite3_column_text(st, c) ? (const char *)sqlite3_column_text(st, c) : "NULL");
        fputc('\n', fp);
        sqlite3_finalize(st);
    }
    vrm_vault_unlock(v);
    fclose(fp);
    return out;
}

static int custom_rc(vrm_vault *v, const char *name, const char *ext, char **out)
{
    char path[128];
    size_t len;
    int64_t when;

    snprintf(path, sizeof path, "custom/%s.%s", name, ext);
    *out = NULL;
    return vrm_analytics_get(v, path, out, &len, &when);
}

static void put_query(vrm_vault *v, const char *name, const char *sql)
{
    int rc = vrm_analytics_custom_put(v, name, sql, strlen(sql));

    if (rc != 0)
        fail_msg("custom_put %s: %s", name, vrm_error_message());
}

static int names_cb(void *ctx, const char *name)
{
    strcat(ctx, name);
    strcat(ctx, " ");
    return 0;
}

static void test_custom_ok(void **state)
{
    fixture *f = *state;
    char *json, *csv, *err, *sql, list[256] = "";
    size_t len;
    int64_t updated;
    cJSON *arr, *o;

    put(f->v, "finance", "f1", "{\"date\": \"2024-01-01\", \"amount\": 12.5, "
        "\"merchant\": \"acme\", \"note\": \"a, \\\"b\\\"\\nc\"}");
    put(f->v, "finance", "f2", "{\"date\": \"2024-01-02\", \"amount\": 3, \"merchant\": \"bob\"}");
    put(f->v, "finance", "f3", "{\"date\": \"2024-01-03\", \"merchant\": \"anna\"}");
    put(f->v, "diet", "f4", "{\"merchant\": \"acme\"}");
    put_query(f->v, "acme", "-- merchants beginning with a\n"
              "SELECT name, json_extract(body, '$.amount') AS amount,\n"
              "       json_extract(body, '$.merchant') AS merchant,\n"
              "       json_extract(body, '$.note') AS note, 9007199254740993 AS big\n"
              "FROM records WHERE collection = 'finance'\n"
              "  AND json_extract(body, '$.merchant') LIKE 'a%' ORDER BY name;\n");
    if (custom_rc(f->v, "acme", "json", &json) != 0) {
        custom_rc(f->v, "acme", "error.txt", &err);
        fail_msg("acme: %s", err);
    }
    arr = cJSON_Parse(json);
    assert_non_null(arr);
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    o = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(num_key(o, "name"), "f1");
    assert_true(item(o, "amount")->valuedouble == 12.5);
    assert_string_equal(num_key(o, "merchant"), "acme");
    assert_string_equal(num_key(o, "note"), "a, \"b\"\nc");
    o = cJSON_GetArrayItem(arr, 1);
    assert_string_equal(num_key(o, "name"), "f3");
    assert_true(cJSON_IsNull(item(o, "amount")));
    assert_non_null(strstr(json, "\"big\": 9007199254740993"));   /* exact */
    cJSON_Delete(arr);
    assert_int_equal(custom_rc(f->v, "acme", "csv", &csv), 0);
    assert_string_equal(csv, "name,amount,merchant,note,big\n"
                             "f1,12.5,acme,\"a, \"\"b\"\"\nc\",9007199254740993\n"
                             "f3,,anna,,9007199254740993\n");
    assert_int_equal(custom_rc(f->v, "acme", "error.txt", &err), -ENOENT);
    free(json);
    free(csv);

    /* the view's columns; json_each over a record */
    put(f->v, "notes", "list", "{\"tags\": [\"x\", \"y\", \"z\"]}");
    put_query(f->v, "tags", "SELECT j.value AS tag, r.created > 0 AS has_time, "
              "r.updated >= r.created AS ordered FROM records r, json_each(r.body, '$.tags') j "
              "WHERE r.collection = 'notes' ORDER BY j.value DESC");
    assert_int_equal(custom_rc(f->v, "tags", "csv", &csv), 0);
    assert_string_equal(csv, "tag,has_time,ordered\nz,1,1\ny,1,1\nx,1,1\n");
    free(csv);
    /* an empty result */
    put_query(f->v, "none", "SELECT name FROM records WHERE 0");
    assert_int_equal(custom_rc(f->v, "none", "json", &json), 0);
    assert_string_equal(json, "[]\n");
    free(json);
    assert_int_equal(custom_rc(f->v, "none", "csv", &csv), 0);
    assert_string_equal(csv, "name\n");
    free(csv);

    /* results follow the records */
    put(f->v, "finance", "f5", "{\"merchant\": \"axe\"}");
    assert_int_equal(custom_rc(f->v, "acme", "csv", &csv), 0);
    assert_non_null(strstr(csv, "\nf5,,axe,,"));
    free(csv);
    /* and the query */
    put_query(f->v, "acme", "SELECT count(*) AS n FROM records");
    assert_int_equal(custom_rc(f->v, "acme", "csv", &csv), 0);
    assert_string_equal(csv, "n\n6\n");
    free(csv);

    /* storage */
    assert_int_equal(vrm_analytics_custom_get(f->v, "acme", &sql, &len, &updated), 0);
    assert_string_equal(sql, "SELECT count(*) AS n FROM records");
    assert_int_equal(len, strlen(sql));
    assert_true(updated > 0);
    free(sql);
    assert_int_equal(vrm_analytics_custom_list(f->v, names_cb, list), 0);
    assert_string_equal(list, "acme none tags ");
    assert_int_equal(vrm_analytics_custom_delete(f->v, "none"), 0);
    assert_int_equal(vrm_analytics_custom_delete(f->v, "none"), -ENOENT);
    assert_int_equal(custom_rc(f->v, "none", "json", &json), -ENOENT);
    assert_int_equal(vrm_analytics_custom_get(f->v, "none", &sql, &len, &updated), -ENOENT);
    assert_int_equal(vrm_analytics_custom_put(f->v, "bad name", "SELECT 1", 8), -EINVAL);
    assert_int_equal(vrm_analytics_custom_put(f->v, "", "SELECT 1", 8), -EINVAL);
    assert_int_equal(vrm_analytics_custom_put(f->v, "a.b", "SELECT 1", 8), -EINVAL);
    assert_int_equal(vrm_analytics_custom_put(f->v, "nul", "SELECT 1\0x", 10), -EINVAL);
    assert_int_equal(vrm_analytics_custom_put(f->v, "Mixed_Case-9", "SELECT 1", 8), 0);
}

static void test_custom_refused(void **state)
{
    static const struct {
        const char *sql, *why;
    } bad[] = {
        {"INSERT INTO records(collection, name, body) VALUES ('notes', 'x', '{}')", "INSERT is not allowed"},
        {"UPDATE records SET body = '{}'", "cannot modify records"},
        {"DELETE FROM records", "cannot modify records"},
        {"INSERT INTO main.records(collection, name, body, size, created, updated) "
         "VALUES ('notes', 'x', '{}', 3, 1, 1)", "INSERT"},
        {"DELETE FROM main.facts", "DELETE"},
        {"UPDATE main.records SET body = '{}'", "UPDATE"},
        {"ATTACH DATABASE ':memory:' AS x", "ATTACH"},
        {"PRAGMA user_version = 99", "PRAGMA"},
        {"PRAGMA table_info(records)", "PRAGMA"},
        {"SELECT * FROM pragma_table_info('records')", "not allowed"},
        {"CREATE TABLE t(x)", "touching the schema"},
        {"CREATE TEMP TABLE t(x)", "touching the schema"},
        {"CREATE TEMP VIEW v AS SELECT 1", "touching the schema"},
        {"DROP VIEW records", "touching the schema"},
        {"CREATE INDEX i ON facts(kind)", "not allowed"},
        {"UPDATE sqlite_master SET sql = ''", "may not be modified"},
        {"SELECT * FROM facts", "reading facts"},
        {"SELECT name FROM vendors", "reading vendors"},
        {"SELECT id FROM main.records", "reading records.id"},
        {"SELECT body FROM main.records", "reading records.body"},
        {"SELECT size FROM records", "no such column"},
        {"SELECT sql FROM sqlite_schema", "reading sqlite_"},
        {"SELECT * FROM temp.sqlite_temp_master", "reading sqlite_"},
        {"SELECT (SELECT count(*) FROM grants) AS n", "reading grants"},
        {"SELECT 1; DELETE FROM records", "more than one statement"},
        {"SELECT 1 AS a; SELECT 2 AS b", "more than one statement"},
        {"BEGIN", "transaction"},
        {"VACUUM", "only a SELECT"},
        {"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
         "recursive"},
        {"SELEC name FROM records", "syntax error"},
        {"SELECT x'00ff' AS b", "is a blob"},
        {"SELECT 1 AS a, 2 AS a", "two columns are named \"a\""},
        {"   -- nothing\n", "no statement"},
        {"SELECT load_extension('libm.so')", "not authorized"},
        {"SELECT CAST(x'ff' AS TEXT) AS t", "not UTF-8"},
        {"SELECT a.name FROM records a, records b, records c, records d", "more than 100000 rows"},
    };
    fixture *f = *state;
    char *before, *after, *out, name[16];
    size_t i;
    int n;

    for (n = 0; n < 25; n++) {
        char rec[16];

        snprintf(rec, sizeof rec, "r%02d", n);
        put(f->v, "notes", rec, "{\"x\": 1}");
    }
    put(f->v, "finance", "f", "{\"date\": \"2024-01-01\", \"amount\": 1}");
    before = fingerprint(f->v);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(name, sizeof name, "bad%zu", i);
        put_query(f->v, name, bad[i].sql);
    }
    free(before);
    before = fingerprint(f->v);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(name, sizeof name, "bad%zu", i);
        if (custom_rc(f->v, name, "error.txt", &out) != 0)
            fail_msg("%s: no error for %s", name, bad[i].sql);
        if (strstr(out, bad[i].why) == NULL)
            fail_msg("%s: error \"%s\" does not say \"%s\"", bad[i].sql, out, bad[i].why);
        assert_true(strncmp(out, name, strlen(name)) == 0);
        assert_int_equal(out[strlen(out) - 1], '\n');
        free(out);
        assert_int_equal(custom_rc(f->v, name, "json", &out), -ENOENT);
        assert_int_equal(custom_rc(f->v, name, "csv", &out), -ENOENT);
    }
    after = fingerprint(f->v);
    assert_string_equal(before, after);
    free(after);
    free(before);
    /* the built-ins still work after all that */
    out = get(f->v, "spending/by-month.json");
    assert_non_null(strstr(out, "\"total\": 1,"));
    free(out);
}

/* The files of analytics/custom/: NAME.sql is the query, and of its
 * results those there are: .json and .csv when it ran, .error.txt when it
 * was refused. */
static void test_custom_files(void **state)
{
    static const struct {
        const char *path, *name;
    } queries[] = {
        {"custom/totals.sql", "totals"}, {"custom/a.b.sql", "a.b"}, {"custom/.x.sql", ".x"},
        {"custom/x.sql.sql", "x.sql"}, {"custom/x y.sql", "x y"},
    };
    static const char *const others[] = {
        "custom/.sql", "custom/x.sql.swp", "custom/x.SQL", "custom/x/y.sql", "spending/x.sql",
        "customx/x.sql", "custom", "custom/", "x.sql", "", "custom/x.json", "custom/x.csv",
        "custom/x.error.txt", "/custom/x.sql", NULL,
    };
    static const char *const want[] = {".json", ".csv", ".error.txt"};
    fixture *f = *state;
    char name[256], path[128], *out = NULL;
    size_t i, len;
    int64_t when;

    for (i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        assert_int_equal(vrm_analytics_query_name(queries[i].path, name, sizeof name), 0);
        assert_string_equal(name, queries[i].name);
    }
    for (i = 0; others[i] != NULL; i++)
        if (vrm_analytics_query_name(others[i], name, sizeof name) != -ENOENT)
            fail_msg("%s: taken as a query", others[i]);
    assert_int_equal(vrm_analytics_query_name("custom/abcd.sql", name, 4), -ENOENT);
    assert_int_equal(vrm_analytics_query_name("custom/abcd.sql", name, 5), 0);
    assert_string_equal(name, "abcd");

    for (i = 0; vrm_analytics_custom_results[i] != NULL; i++) {
        assert_true(i < sizeof want / sizeof want[0]);
        assert_string_equal(vrm_analytics_custom_results[i], want[i]);
    }
    assert_int_equal(i, sizeof want / sizeof want[0]);

    /* a query that runs has its .json and .csv; a refused one its .error.txt */
    put_query(f->v, "good", "SELECT 1 AS one");
    put_query(f->v, "bad", "DELETE FROM records");
    for (i = 0; vrm_analytics_custom_results[i] != NULL; i++) {
        int error = strcmp(vrm_analytics_custom_results[i], ".error.txt") == 0;

        snprintf(path, sizeof path, "custom/good%s", vrm_analytics_custom_results[i]);
        assert_int_equal(vrm_analytics_get(f->v, path, &out, &len, &when), error ? -ENOENT : 0);
        free(out);
        snprintf(path, sizeof path, "custom/bad%s", vrm_analytics_custom_results[i]);
        assert_int_equal(vrm_analytics_get(f->v, path, &out, &len, &when), error ? 0 : -ENOENT);
        free(out);
        /* a result's name names no query */
        assert_int_equal(vrm_analytics_query_name(path, name, sizeof name), -ENOENT);
    }
    assert_int_equal(vrm_analytics_query_name("custom/good.sql", name, sizeof name), 0);
    assert_int_equal(vrm_analytics_custom_get(f->v, name, &out, &len, &when), 0);
    assert_string_equal(out, "SELECT 1 AS one");
    free(out);
}

static void test_custom_timeout(void **state)
{
    fixture *f = *state;
    char *out;
    double t0;
    int n;

    for (n = 0; n < 80; n++) {
        char rec[16];

        snprintf(rec, sizeof rec, "r%02d", n);
        put(f->v, "notes", rec, "{\"x\": 1}");
    }
    /* 80^5 rows to count: far more than 10 seconds */
    put_query(f->v, "slow", "SELECT count(*) AS n FROM records a, records b, records c, "
              "records d, records e WHERE a.body || b.name <> c.name");
    t0 = now_s();
    assert_int_equal(custom_rc(f->v, "slow", "error.txt", &out), 0);
    assert_true(now_s() - t0 < 15);
    assert_non_null(strstr(out, "stopped after 10 seconds"));
    free(out);
    /* kept: reading another of its files does not run it again */
    t0 = now_s();
    assert_int_equal(custom_rc(f->v, "slow", "json", &out), -ENOENT);
    assert_true(now_s() - t0 < 1);
}

/* ---- sizes without texts ---------------------------------------------------------- */

/* What vrm_analytics_stat says of `path` is what vrm_analytics_get gives. */
static void stat_is_get(vrm_vault *v, const char *path)
{
    uint64_t size = 0;
    int64_t st_when = 0, when = 0;
    char *out = NULL;
    size_t len = 0;
    int before;

    if (vrm_analytics_stat(v, path, &size, &st_when) != 0)
        fail_msg("stat %s: %s", path, vrm_error_message());
    before = statements;
    assert_int_equal(vrm_analytics_get(v, path, &out, &len, &when), 0);
    assert_int_equal(statements, before);            /* the stat cached it */
    if (size != len || strlen(out) != len)
        fail_msg("%s: stat says %llu bytes, get gives %zu", path, (unsigned long long)size,
                 len);
    assert_true(st_when == when);
    free(out);
}

/* The size of every result and query as its read gives it, without a copy
 * of the text: a cached result's from the cache, a query's from SQL. */
static void test_stat(void **state)
{
    static const char *const bad[] = {
        "spending", "spending/by-month", "custom/nope.json", "custom/good.error.txt",
        "custom/bad.json", "custom/bad.csv", "custom/good.sql", "", NULL,
    };
    static const char *const sql = "SELECT name, 'caf\xc3\xa9 \xe2\x82\xac' AS what "
                                   "FROM records ORDER BY name -- \xf0\x9f\x9a\xb2\n";
    fixture *f = *state;
    uint64_t size = 0;
    int64_t when = 0, updated = 0;
    char *out = NULL;
    size_t len = 0, i;
    int before;

    put(f->v, "finance", "f1", "{\"date\": \"2024-01-01\", \"amount\": 12.5, "
        "\"merchant\": \"caf\xc3\xa9\"}");
    put(f->v, "diet", "d1", "{\"date\": \"2024-01-01\", \"kcal\": 1800}");
    put(f->v, "purchases", "p1", "{\"date\": \"2024-01-01\", \"miles_earned\": 10}");
    put(f->v, "activity", "a1", "{\"date\": \"2024-01-01\", \"minutes\": 30}");
    put_query(f->v, "good", sql);
    put_query(f->v, "bad", "DELETE FROM records");
    trace_all(f->v);
    for (i = 0; vrm_analytics_files[i] != NULL; i++)
        stat_is_get(f->v, vrm_analytics_files[i]);
    stat_is_get(f->v, "custom/good.json");
    stat_is_get(f->v, "custom/good.csv");
    stat_is_get(f->v, "custom/bad.error.txt");

    /* a cached result is stated without SQL; a change is seen at once */
    before = statements;
    assert_int_equal(vrm_analytics_stat(f->v, "spending/by-category.json", &size, &when), 0);
    assert_int_equal(statements, before);
    put(f->v, "finance", "f2", "{\"date\": \"2024-02-01\", \"amount\": 3, "
        "\"category\": \"a rather long category name\"}");
    stat_is_get(f->v, "spending/by-category.json");
    assert_int_equal(vrm_analytics_stat(f->v, "spending/by-category.json", &size, &updated), 0);
    assert_true(updated > when);
    for (i = 0; bad[i] != NULL; i++)
        if (vrm_analytics_stat(f->v, bad[i], &size, &when) != -ENOENT)
            fail_msg("stat %s: expected ENOENT", bad[i]);

    /* a query's size is its bytes, not its characters */
    assert_int_equal(vrm_analytics_custom_stat(f->v, "good", &size, &when), 0);
    assert_int_equal(vrm_analytics_custom_get(f->v, "good", &out, &len, &updated), 0);
    assert_int_equal(size, strlen(sql));
    assert_int_equal(len, strlen(sql));
    assert_true(when == updated);
    free(out);
    assert_int_equal(vrm_analytics_custom_stat(f->v, "nope", &size, &when), -ENOENT);
    assert_int_equal(vrm_analytics_custom_stat(f->v, "a b", &size, &when), -ENOENT);
    assert_int_equal(vrm_analytics_custom_stat(f->v, "", &size, &when), -ENOENT);
    put_query(f->v, "good", "SELECT 1");
    assert_int_equal(vrm_analytics_custom_stat(f->v, "good", &size, &when), 0);
    assert_int_equal(size, 8);
    assert_true(when >= updated);
    assert_int_equal(vrm_analytics_custom_delete(f->v, "good"), 0);
    assert_int_equal(vrm_analytics_custom_stat(f->v, "good", &size, &when), -ENOENT);
}

/* ---- benchmark ---------------------------------------------------------------------- */

static int bench(long n)
{
    static const char *const cats[] = {"food", "rent", "travel", "fun", "books", "health",
                                       "transport", "gifts"};
    char *tmp = tu_tempdir(), *vault = tu_make_vault(tmp, "vault"), *out;
    vrm_vault *v = tu_open(vault);
    sqlite3_stmt *st;
    sqlite3 *db;
    size_t len;
    int64_t when;
    double t0, first, cached = 0, cold;
    long i;
    int k, reps = 1000;

    assert_int_equal(vrm_collection_create(v, "finance"), 0);
    printf("inserting %ld finance rows into facts...\n", n);
    t0 = now_s();
    vrm_vault_lock(v);
    db = vrm_vault_sqlite(v);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO facts(collection, name, day, month, amount, currency, "
                           "merchant, category) VALUES ('finance', ?1, ?2, substr(?2, 1, 7), "
                           "?3, 'EUR', ?4, ?5)", -1, &st, NULL);
    for (i = 0; i < n; i++) {
        char name[32], day[16], merchant[32];

        snprintf(name, sizeof name, "txn-%09ld", (i * 7919) % n);
        snprintf(day, sizeof day, "%04ld-%02ld-%02ld", 2016 + (i % 120) / 12,
                 1 + i % 12, 1 + (i / 120) % 28);
        snprintf(merchant, sizeof merchant, "merchant-%ld", i % 500);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 3, (double)(i % 20000) / 100.0);
        sqlite3_bind_text(st, 4, merchant, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, cats[i % 8], -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    vrm_vault_unlock(v);
    printf("  %.2f s\n", now_s() - t0);
    /* a fresh open: nothing of facts in any page cache */
    assert_int_equal(vrm_vault_close(v), 0);
    v = tu_open(vault);

    t0 = now_s();
    if (vrm_analytics_get(v, "spending/by-month.json", &out, &len, &when) != 0)
        fail_msg("by-month: %s", vrm_error_message());
    cold = now_s() - t0;
    free(out);
    /* a change to finance: computed again, pages now cached */
    put(v, "finance", "one-more", "{\"date\": \"2020-01-01\", \"amount\": 1}");
    t0 = now_s();
    assert_int_equal(vrm_analytics_get(v, "spending/by-month.json", &out, &len, &when), 0);
    first = now_s() - t0;
    free(out);
    for (k = 0; k < reps; k++) {
        t0 = now_s();
        assert_int_equal(vrm_analytics_get(v, "spending/by-month.json", &out, &len, &when), 0);
        cached += now_s() - t0;
        free(out);
    }
    printf("spending/by-month.json over %ld rows (%zu bytes):\n"
           "  first read after open:    %.3f s\n"
           "  first read after a change: %.3f s\n"
           "  cached read:              %.1f us (mean of %d)\n",
           n, len, cold, first, cached / reps * 1e6, reps);
    {
        static const char *const others[] = {"spending/by-category.json",
                                             "spending/by-merchant.json",
                                             "spending/by-month.svg", "spending/summary.json"};

        for (k = 0; k < 4; k++) {
            t0 = now_s();
            assert_int_equal(vrm_analytics_get(v, others[k], &out, &len, &when), 0);
            printf("  first read of %-26s %.3f s\n", others[k], now_s() - t0);
            free(out);
        }
    }
    assert_int_equal(vrm_vault_close(v), 0);
    free(vault);
    tu_cleanup(tmp);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spending, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_spending_rounding, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_summary, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_calories, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_mileage, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_activity, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_svg, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_paths, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_topics, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_cache, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_custom_ok, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_custom_refused, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_custom_files, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_custom_timeout, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_stat, setup, tu_teardown),
    };

    if (argc == 3 && strcmp(argv[1], "--bench") == 0)
        return bench(strtol(argv[2], NULL, 10));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
