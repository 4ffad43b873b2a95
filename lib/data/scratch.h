/*
 * scratch.h: scratch files, the temporary files that tools leave beside
 * records while they work (vim's swap and backup files and its "4913"
 * probe, the temporaries of sed -i, rsync and jq > tmp).
 *
 * A scratch file lives in a collection under any name that does not end in
 * ".json" (1-255 bytes, no '/', not "." or ".."), holds any bytes (up to
 * VRM_SCRATCH_MAX), and never counts as a record.  It is kept in the
 * encrypted database, so that a rename of a record to a backup name and back
 * loses nothing even if the daemon dies in between.
 *
 * vrm_scratch_move() moves between the two kinds in one transaction:
 * scratch to record commits the bytes as a record (they must be a JSON
 * object, see records.h), record to scratch keeps the record's pretty text.
 */
#ifndef VRM_SCRATCH_H
#define VRM_SCRATCH_H

#include <stddef.h>
#include <stdint.h>

#include "data/records.h"

#define VRM_SCRATCH_MAX (64u << 20)

/* Create or replace the whole content.  -ENOENT without the collection. */
int vrm_scratch_put(vrm_vault *v, const char *coll, const char *name,
                    const void *data, size_t len) __attribute__((warn_unused_result));

/* Read the whole content: *data (malloc'd, NUL-terminated for convenience,
 * free with free()), *len, and *updated_ns if not NULL.  -ENOENT. */
int vrm_scratch_get(vrm_vault *v, const char *coll, const char *name,
                    char **data, size_t *len, int64_t *updated_ns)
    __attribute__((warn_unused_result));

/* Size and time without reading.  -ENOENT. */
int vrm_scratch_stat(vrm_vault *v, const char *coll, const char *name,
                     uint64_t *size, int64_t *updated_ns) __attribute__((warn_unused_result));

int vrm_scratch_delete(vrm_vault *v, const char *coll, const char *name)
    __attribute__((warn_unused_result));   /* -ENOENT */

/* Set the time (ns since the epoch) of a scratch file.  -ENOENT. */
int vrm_scratch_touch(vrm_vault *v, const char *coll, const char *name, int64_t ns)
    __attribute__((warn_unused_result));

/* Names of the scratch files of `coll`, in order. */
int vrm_scratch_list(vrm_vault *v, const char *coll, vrm_name_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* Move `from` (a record if from_record, else a scratch file) to `to` (a
 * record if to_record), replacing what is there unless `noreplace`
 * (-EEXIST).  -EINVAL, with nothing changed, if scratch bytes moved to a
 * record are not a JSON object. */
int vrm_scratch_move(vrm_vault *v, const char *from_coll, const char *from_name,
                     int from_record, const char *to_coll, const char *to_name,
                     int to_record, int noreplace) __attribute__((warn_unused_result));

#endif
