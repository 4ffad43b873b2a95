/*
 * grants_int.h: what other libvrm modules call of grants inside their
 * own transactions (vault mutex held).  Not installed.
 */
#ifndef VRM_GRANTS_INT_H
#define VRM_GRANTS_INT_H

#include "base/json.h"
#include "consent/grants.h"
#include "store/vault_int.h"

/* Move the generation on (vrm_grants_generation). */
void vrm_grants_changed(vrm_vault *v);

/* The grant objects of `vendor` in force at now_ns, each with its stored
 * index as "_idx" (a number), in a new array (*out, cJSON_Delete). */
int vrm_grants_in_force_locked(vrm_vault *v, const char *vendor, int64_t now_ns,
                               cJSON **out) __attribute__((warn_unused_result));

/* Count one open against grant `idx` of `vendor`; when that uses up its
 * max_reads the grant ends with a "lapse" receipt (*lapsed set to 1). */
int vrm_grants_count_read_locked(vrm_vault *v, const char *vendor, int64_t idx,
                                 int64_t now_ns, int *lapsed) __attribute__((warn_unused_result));

/* The vendor goes (vrm_vendor_delete): end every grant of `vendor` with a
 * "revoke" receipt (if any was in force at now_ns) and forget them.  Unlike
 * vrm_grants_revoke_all, an until that passed unreceipted gets no "expire"
 * receipt first, and the time of grants.json (grant_docs) is not touched. */
int vrm_grants_drop_vendor_locked(vrm_vault *v, const char *vendor, int64_t now_ns)
    __attribute__((warn_unused_result));

#endif
