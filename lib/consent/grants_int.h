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
                               cJSON **out);

/* Count one open against grant `idx` of `vendor`; when that uses up its
 * max_reads the grant ends with a "lapse" receipt (*lapsed set to 1). */
int vrm_grants_count_read_locked(vrm_vault *v, const char *vendor, int64_t idx,
                                 int64_t now_ns, int *lapsed);

/* End every grant of `vendor` with a "revoke" receipt (if any was in force)
 * and forget them. */
int vrm_grants_revoke_all_locked(vrm_vault *v, const char *vendor, int64_t now_ns);

#endif
