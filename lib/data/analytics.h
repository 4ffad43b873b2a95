/*
 * analytics.h: results computed inside the vault from the person's records,
 * read as files.
 *
 * Results (paths below analytics/), computed from the facts table (facts.h)
 * with SQL on first read and cached until the records they read change
 * (vrm_facts_generation):
 *
 *   spending/by-month.json     [{"month": "YYYY-MM", "total": N, "count": N}]
 *                              in month order: total = sum of finance
 *                              records' amount that month (spent money is
 *                              positive), rounded to cents
 *   spending/by-category.json  the same by "category", largest total first
 *                              (ties by name); records without one count
 *                              under "uncategorized"
 *   spending/by-merchant.json  the same by "merchant" ("unknown" without)
 *   spending/by-month.csv      month,total,count with a header row
 *   spending/by-month.svg      a bar chart of by-month
 *   spending/summary.json      {"month": this month, "total": N, "average_12":
 *                              average of the 12 months before it,
 *                              "change": total - average_12, "top_categories":
 *                              [{"category", "total"}] (this month, top 5)}
 *   calories/daily.csv         date,kcal,average_7 (the 7 days up to it),
 *                              target (profile's kcal_target, or empty)
 *   calories/weekly.json       [{"week": "YYYY-Www", "average": N, "days": N}]
 *                              (ISO weeks; kcal per day with records averaged)
 *   calories/daily.svg         a line chart of kcal per day, the 7-day
 *                              average, and the target when set
 *   mileage/balance.json       [{"program", "earned", "used", "balance"}] from
 *                              purchases, by program
 *   mileage/history.csv        date,program,earned,used,balance (running)
 *   activity/summary.json      {"kinds": [{"kind", "count", "minutes"}],
 *                              "weeks": [{"week", "count", "minutes"}]}
 *
 * Charts are standalone SVG 1.1 (title, axes, labels, units; no external
 * resources).  Numbers are rounded to cents (kcal, minutes to 0.1).
 *
 * The details:
 *  - Rounding is printf's ("%.2f", "%.1f": the binary value, so 0.125 gives
 *    0.12), and JSON holds the nearest double, printed shortest (0.3).
 *    CSV prints money with two decimals, other numbers shortest.
 *  - Spending counts finance records with an amount (a number, or a string
 *    that is one); by-month and summary also need a date.  An empty
 *    category or merchant is "uncategorized" or "unknown".  Sums of mixed
 *    currencies are not converted; the chart's axis names the currency
 *    most records name.
 *  - summary: "this month" is local time; average_12 is the sum of the 12
 *    months before it divided by 12 (a month without records counts 0);
 *    change is total - average_12 of the rounded values; top_categories
 *    rank as by-category does.
 *  - calories: days with diet records that have kcal and a valid date;
 *    average_7 is the mean of the days with records among the 7 days up to
 *    that one; target comes from profile record "me", else the first
 *    profile record by name that has a kcal_target.
 *  - mileage: purchases with miles_earned or miles_used; no program is
 *    "unknown"; balance.json in program order; history.csv has one row per
 *    date and program (records without a date first, with an empty date),
 *    so each program's last balance is its balance.
 *  - activity: "kinds" by most minutes first (ties by name), no kind is
 *    "unknown"; "weeks" are the ISO weeks of dated records, in order.
 *  - CSV: a header row, RFC 4180 quoting, lines ending in LF.
 *  - Custom queries: NAME.error.txt is one line, "NAME.sql: why".  A query
 *    is refused with more than one statement, more than 100,000 rows,
 *    more than 10 s, a blob value or text that is not UTF-8, or two
 *    columns of one name.  json_each() and json_tree() may be used;
 *    recursive WITH is refused.  Integers are printed exactly, NULL is
 *    null (an empty CSV field).  Results (and refusals) are cached until a
 *    record or a stored query changes.
 *  - computed_ns of a cached result is when it was computed, so an
 *    unchanged result keeps its time.
 */
#ifndef VRM_ANALYTICS_H
#define VRM_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

#include "data/records.h"

/* The built-in result files, "topic/file" (NULL-terminated), grouped by
 * topic. */
extern const char *const vrm_analytics_files[];

/* ---- the topics, the folders of analytics/ ----------------------------------
 * The topics of vrm_analytics_files, in their order, then
 * VRM_ANALYTICS_CUSTOM, the topic of the person's own queries (below).
 * The lists call fn(ctx, name) for each name; a non-zero return stops the
 * walk and is returned. */
#define VRM_ANALYTICS_CUSTOM "custom"

/* 0 if `topic` is one of the topics, else -ENOENT. */
int vrm_analytics_topic_valid(const char *topic) __attribute__((warn_unused_result));

/* The topics. */
int vrm_analytics_topic_list(vrm_name_fn fn, void *ctx) __attribute__((warn_unused_result));

/* The built-in files of `topic` (names without "topic/"), in the order of
 * vrm_analytics_files; none for VRM_ANALYTICS_CUSTOM or an unknown topic. */
int vrm_analytics_topic_files(const char *topic, vrm_name_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* ---- the files of analytics/custom/ ----------------------------------------
 * The person writes query NAME as the file NAME.sql; its results are the
 * files NAME.json and NAME.csv when it ran, NAME.error.txt when it was
 * refused. */

/* The suffixes of a query's result files: ".json", ".csv", ".error.txt"
 * (NULL-terminated). */
extern const char *const vrm_analytics_custom_results[];

/* The NAME of a query's path "custom/NAME.sql" (NAME not empty, without
 * '/'; whether it is a valid name is judged when the query is stored) into
 * out[0..size): 0, or -ENOENT if `path` is no such path or NAME does not
 * fit. */
int vrm_analytics_query_name(const char *path, char *out, size_t size)
    __attribute__((warn_unused_result));

/* ---- results and queries ------------------------------------------------------ */

/* A result: `path` is "topic/file" (a built-in one, or "custom/NAME.json",
 * "custom/NAME.csv", "custom/NAME.error.txt").  0 and *out (free()) with
 * *len and *computed_ns (when it was computed), -ENOENT (no such result, or
 * for a custom query: not that one of its three files). */
int vrm_analytics_get(vrm_vault *v, const char *path, char **out, size_t *len,
                      int64_t *computed_ns) __attribute__((warn_unused_result));

/* The size (exactly the *len vrm_analytics_get gives) and time of a result,
 * without copying its text: from the cache, or computed and cached when the
 * cache does not hold it current.  -ENOENT as vrm_analytics_get. */
int vrm_analytics_stat(vrm_vault *v, const char *path, uint64_t *size, int64_t *computed_ns)
    __attribute__((warn_unused_result));

/* 0 if `name` may name a custom query (NAME of NAME.sql), else -EINVAL. */
int vrm_analytics_custom_name_valid(const char *name) __attribute__((warn_unused_result));

/* Custom queries: store (create or replace) NAME.sql; its text; its size
 * (the bytes get gives) and time without reading it; list the names;
 * remove.  NAME: 1-64 of [A-Za-z0-9_-].  put: -EINVAL for a bad name or
 * text that is not UTF-8 (or holds NUL), -EFBIG over 64 KiB; the SQL itself
 * is judged when a result is read.  get, stat, delete: -ENOENT.  list
 * calls fn without the vault's mutex, in name order. */
int vrm_analytics_custom_put(vrm_vault *v, const char *name, const char *sql, size_t len)
    __attribute__((warn_unused_result));
int vrm_analytics_custom_get(vrm_vault *v, const char *name, char **sql, size_t *len,
                             int64_t *updated_ns) __attribute__((warn_unused_result));
int vrm_analytics_custom_stat(vrm_vault *v, const char *name, uint64_t *size,
                              int64_t *updated_ns) __attribute__((warn_unused_result));
int vrm_analytics_custom_list(vrm_vault *v, vrm_name_fn fn, void *ctx)
    __attribute__((warn_unused_result));
int vrm_analytics_custom_delete(vrm_vault *v, const char *name) __attribute__((warn_unused_result));

#endif
