/*
 * outbox_int.h: what other libvrm modules call of outbox inside their
 * own transactions (vault mutex held).  Not installed.
 */
#ifndef VRM_OUTBOX_INT_H
#define VRM_OUTBOX_INT_H

#include "msg/outbox.h"
#include "store/vault_int.h"

/* In the transaction of a change of record coll/name (locked): old and new
 * compact bodies, NULL for none (created, deleted). */
int vrm_outbox_record_changed_locked(vrm_vault *v, const char *coll, const char *name,
                                     const char *old_body, const char *new_body)
    __attribute__((warn_unused_result));

#endif
