/*
 * records_int.h: pieces of the records module that other libvrm modules
 * (scratch) use inside their own transactions.  Not installed.  Functions
 * named _locked expect the vault mutex held and an open transaction.
 */
#ifndef VRM_RECORDS_INT_H
#define VRM_RECORDS_INT_H

#include <stddef.h>

#include "data/records.h"
#include "store/vault_int.h"

/* 1 if the collection exists, 0 if not, or a negative errno. */
int vrm_coll_exists_locked(vrm_vault *v, const char *coll) __attribute__((warn_unused_result));

/* Validate json[0..len) as a record body: *compact (malloc'd) and its
 * length, and the length of the pretty form.  -EINVAL with a message. */
int vrm_record_prepare(const char *json, size_t len, char **compact, size_t *clen,
                       size_t *plen) __attribute__((warn_unused_result));

int vrm_record_put_locked(vrm_vault *v, const char *coll, const char *name,
                          const char *compact, size_t clen, size_t plen, unsigned flags,
                          vrm_record_info *info) __attribute__((warn_unused_result));
int vrm_record_get_locked(vrm_vault *v, const char *coll, const char *name, char **json,
                          size_t *len, vrm_record_info *info) __attribute__((warn_unused_result));
int vrm_record_delete_locked(vrm_vault *v, const char *coll, const char *name)
    __attribute__((warn_unused_result));

#endif
