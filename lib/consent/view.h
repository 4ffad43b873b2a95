/*
 * view.h: what one vendor may see, computed from the grants in force.
 *
 * views/VENDOR/records/COLL/NAME.json holds the projection (fieldpath.h) of
 * record COLL/NAME onto the field paths of VENDOR's grants in force, pretty
 * as records are.  A collection is in the view when a grant in force names
 * it and it exists; a record is in the view when its projection is not
 * empty.  A vrm_view is a snapshot of the grants taken when it is made: make
 * a new one to see changes.
 *
 * Opening a view file (vrm_view_open_file) is what a vendor's read is: it
 * appends a line to the vendor's access log and counts against the
 * max_reads of each grant that contributes to the file, in one transaction.
 */
#ifndef VRM_VIEW_H
#define VRM_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "data/records.h"

typedef struct vrm_view vrm_view;   /* opaque; read-only once made */

/* A snapshot of `vendor`'s grants in force now.  0 and *out, -ENOENT for an
 * unknown vendor.  A view is reference-counted: vrm_view_ref takes another
 * reference, vrm_view_unref drops one (NULL is fine); views are immutable,
 * so threads may share one.  A view never outlives its vault. */
int vrm_view_make(vrm_vault *v, const char *vendor, vrm_view **out)
    __attribute__((warn_unused_result));
vrm_view *vrm_view_ref(vrm_view *view);
void vrm_view_unref(vrm_view *view);

/* `vendor`'s view now: one of the vault's cache of the views of the vendors
 * read lately, while it is current (vrm_view_current), else made anew and
 * kept there (8 of them, reused round robin).  0 and *out, a reference
 * (vrm_view_unref), or as vrm_view_make.  Thread-safe. */
int vrm_view_get(vrm_vault *v, const char *vendor, vrm_view **out)
    __attribute__((warn_unused_result));

/* 1 while nothing has changed what `view` shows: no grant of any vendor
 * written, ended or revoked since it was made (vrm_grants_generation) and
 * no until of it passed; else 0.  A cache of views keeps one while this
 * says 1. */
int vrm_view_current(const vrm_view *view) __attribute__((warn_unused_result));

/* 1 if collection `coll` is in the view, else 0 (or a negative errno). */
int vrm_view_has_collection(vrm_vault *v, const vrm_view *view, const char *coll)
    __attribute__((warn_unused_result));

/* The view's collections, in order. */
int vrm_view_collections(vrm_vault *v, const vrm_view *view, vrm_name_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* The names of the records of `coll` in the view, in order. */
int vrm_view_records(vrm_vault *v, const vrm_view *view, const char *coll, vrm_name_fn fn,
                     void *ctx) __attribute__((warn_unused_result));

/* The view's text of record coll/name: *json (free()), *len, *info (the
 * record's times; size = len).  -ENOENT if it is not in the view. */
int vrm_view_record(vrm_vault *v, const vrm_view *view, const char *coll, const char *name,
                    char **json, size_t *len, vrm_record_info *info)
    __attribute__((warn_unused_result));

/* Its times and size only (cheaper when the record is granted whole). */
int vrm_view_stat(vrm_vault *v, const vrm_view *view, const char *coll, const char *name,
                  vrm_record_info *info) __attribute__((warn_unused_result));

/* The same, as a read by (pid, uid, comm): logged and counted.  `view`
 * (may be NULL) is used if it is `vendor`'s and current, else the grants
 * are read again.  *lapsed: 1 if that ended a grant (the caller invalidates
 * cached views). */
int vrm_view_open_file(vrm_vault *v, const vrm_view *view, const char *vendor,
                       const char *coll, const char *name, pid_t pid, uid_t uid,
                       const char *comm, char **json, size_t *len, vrm_record_info *info,
                       int *lapsed) __attribute__((warn_unused_result));

/* ---- a view file held open ----------------------------------------------
 * A reader that keeps views/VENDOR/records/COLL/NAME.json open and reads it
 * again from the start (tail -f, a program polling its file) sees what is
 * granted then: the text it was given carries a stamp of what it was
 * computed from, and a read from the start computes it again only when the
 * stamp no longer holds. */

typedef struct vrm_view_stamp {
    uint64_t grants;                  /* vrm_grants_generation then */
    uint64_t data;                    /* vrm_facts_generation of the collection */
} vrm_view_stamp;

/* Open the file as vrm_view_open_file does (a read by (pid, uid, comm),
 * logged and counted), through the cache of views: *json, *len, *lapsed as
 * there, and *stamp, taken after the open's own count so that a grant the
 * open itself used up leaves its text standing.  -ENOENT if it is not in
 * the view. */
int vrm_view_file_open(vrm_vault *v, const char *vendor, const char *coll, const char *name,
                       pid_t pid, uid_t uid, const char *comm, char **json, size_t *len,
                       vrm_view_stamp *stamp, int *lapsed) __attribute__((warn_unused_result));

/* Read it again from the start, as the reader that opened it (not logged or
 * counted again): 0 and *json NULL while *stamp holds (the text stands), or
 * 0 and the new *json, *len with *stamp moved on; -ENOENT once the record
 * is no longer in the view. */
int vrm_view_file_reread(vrm_vault *v, const char *vendor, const char *coll, const char *name,
                         vrm_view_stamp *stamp, char **json, size_t *len)
    __attribute__((warn_unused_result));

/* ---- analytics results granted by name (analytics.spending.by-month) ------
 * views/VENDOR/analytics/TOPIC/FILE is the result (analytics.h), the .json
 * of it or, for a result that has none, its .csv; beside it BASE.jws is the
 * same result signed by the person's pairwise key for the vendor: a JWS
 * (EdDSA) of {"result": "TOPIC/FILE", "computed": RFC 3339, "content": the
 * JSON result, or the CSV text as a string}. */

/* The granted result files ("spending/by-month.json"), in grant order. */
int vrm_view_analytics(const vrm_view *view, vrm_name_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* 1 if a result of `topic` ("" for any) is granted. */
int vrm_view_has_analytics(const vrm_view *view, const char *topic)
    __attribute__((warn_unused_result));

/* The text of "TOPIC/FILE" or "TOPIC/BASE.jws" in the view: *out (free()),
 * *len, *computed_ns.  -ENOENT if it is not granted. */
int vrm_view_analytics_get(vrm_vault *v, const vrm_view *view, const char *path, char **out,
                           size_t *len, int64_t *computed_ns) __attribute__((warn_unused_result));

/* The same as a read by (pid, uid, comm): logged and counted against
 * max_reads; *lapsed as for vrm_view_open_file. */
int vrm_view_analytics_open(vrm_vault *v, const vrm_view *view, const char *path, pid_t pid,
                            uid_t uid, const char *comm, char **out, size_t *len, int *lapsed)
    __attribute__((warn_unused_result));

/* The vendors that can see any field of record coll/name now, as a
 * comma-separated list ("" if none).  0 and *out (free()). */
int vrm_view_visible_to(vrm_vault *v, const char *coll, const char *name, char **out,
                        size_t *len) __attribute__((warn_unused_result));

#endif
