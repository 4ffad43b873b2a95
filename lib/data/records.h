/*
 * records.h: collections of JSON records, the person's structured data.
 *
 * Collections and records are named by the rules of naming.h.  A record's
 * body is one JSON object (see json.h), stored compact and read back
 * pretty-printed with a final newline; `size` is the length of that form.
 *
 * Every function takes the vault's mutex; each write is one transaction.
 */
#ifndef VRM_RECORDS_H
#define VRM_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "base/names.h"
#include "base/naming.h"
#include "store/vault.h"

typedef struct vrm_record_info {
    int64_t created_ns;               /* ns since the epoch */
    int64_t updated_ns;
    uint64_t size;                    /* bytes of the pretty JSON */
} vrm_record_info;

int vrm_collection_create(vrm_vault *v, const char *name) __attribute__((warn_unused_result));   /* -EEXIST */
int vrm_collection_delete(vrm_vault *v, const char *name) __attribute__((warn_unused_result));   /* -ENOENT, -ENOTEMPTY */
int vrm_collection_exists(vrm_vault *v, const char *name) __attribute__((warn_unused_result));   /* 1, 0 or -errno */
int vrm_collection_list(vrm_vault *v, vrm_name_fn fn, void *ctx)
    __attribute__((warn_unused_result));

enum {
    VRM_PUT_CREATE = 1 << 0,          /* fail with -EEXIST if it exists */
    VRM_PUT_REPLACE = 1 << 1,         /* fail with -ENOENT if it does not */
};

/* Create or replace record `name` of collection `coll` (which must exist:
 * -ENOENT) with the JSON object in json[0..len).  -EINVAL with a message if
 * it is not one; nothing changes then.  Fills *info if not NULL. */
int vrm_record_put(vrm_vault *v, const char *coll, const char *name,
                   const char *json, size_t len, unsigned flags, vrm_record_info *info)
    __attribute__((warn_unused_result));

/* Read a record: *json (malloc'd, pretty, final newline, NUL-terminated;
 * free with free()) and *len; *info if not NULL.  -ENOENT if absent. */
int vrm_record_get(vrm_vault *v, const char *coll, const char *name,
                   char **json, size_t *len, vrm_record_info *info)
    __attribute__((warn_unused_result));

/* Times and size of a record without reading it.  -ENOENT if absent. */
int vrm_record_stat(vrm_vault *v, const char *coll, const char *name,
                    vrm_record_info *info) __attribute__((warn_unused_result));

int vrm_record_delete(vrm_vault *v, const char *coll, const char *name)
    __attribute__((warn_unused_result)); /* -ENOENT */

/* Rename record coll/name to to_coll/to_name in one transaction, keeping
 * its body and created time; an existing target is replaced unless
 * `noreplace` (then -EEXIST).  -ENOENT if the source or target collection
 * is missing. */
int vrm_record_rename(vrm_vault *v, const char *coll, const char *name,
                      const char *to_coll, const char *to_name, int noreplace)
    __attribute__((warn_unused_result));

/* Names of the records of `coll`, in order.  -ENOENT if no such collection. */
int vrm_record_list(vrm_vault *v, const char *coll, vrm_name_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* The same with each record's size and times (for listings that show them,
 * as `ls -l` does): fn(ctx, name, info), from the first name after `after`
 * (NULL: from the first), so that a listing given in parts can go on where
 * it stopped whatever was added or removed in between.  A non-zero return
 * of fn stops the walk and is returned. */
typedef int (*vrm_record_info_fn)(void *ctx, const char *name, const vrm_record_info *info);
int vrm_record_list_info(vrm_vault *v, const char *coll, const char *after,
                         vrm_record_info_fn fn, void *ctx) __attribute__((warn_unused_result));

/* Number of records in `coll` (>= 0) or a negative errno. */
int64_t vrm_record_count(vrm_vault *v, const char *coll) __attribute__((warn_unused_result));

#endif
