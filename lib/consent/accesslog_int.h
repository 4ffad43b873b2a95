/*
 * accesslog_int.h: what other libvrm modules call of accesslog inside their
 * own transactions (vault mutex held).  Not installed.
 */
#ifndef VRM_ACCESSLOG_INT_H
#define VRM_ACCESSLOG_INT_H

#include "consent/accesslog.h"
#include "store/vault_int.h"

/* With the vault locked and inside a transaction (vault_int.h): append a
 * line for `path` read by (pid, uid, comm) now.  `vendor` follows the rule
 * of collection names; `comm` may be NULL (written as "").  0, -EINVAL (bad
 * vendor name, no path, negative pid), -EBADMSG if the stored last line has
 * no chain= to append to (fails closed: the log is left for verify to
 * report), or another negative errno. */
int vrm_accesslog_append_locked(vrm_vault *v, const char *vendor, const char *path,
                                pid_t pid, uid_t uid, const char *comm)
    __attribute__((warn_unused_result));

#endif
