/*
 * facts_int.h: what other libvrm modules call of facts inside their
 * own transactions (vault mutex held).  Not installed.
 */
#ifndef VRM_FACTS_INT_H
#define VRM_FACTS_INT_H

#include "data/facts.h"
#include "store/vault_int.h"

/* Locked, in the transaction of the change: record coll/name now has the
 * compact JSON `body`, or is gone (NULL). */
int vrm_facts_record_changed_locked(vrm_vault *v, const char *coll, const char *name,
                                    const char *body) __attribute__((warn_unused_result));

#endif
