/*
 * grants.h: the person's standing grants to each vendor.
 *
 * vendors/VENDOR/grants.json is read and written as a whole:
 *
 *   {"grants": [
 *     {"fields": ["profile.email", "purchases[merchant=acme].*"],
 *      "purpose": "delivery",                 required, non-empty
 *      "until": "2027-06-30T00:00:00Z",       optional, RFC 3339
 *      "max_reads": 3,                        optional, 1..2^31-1
 *      "notify": true}                        optional
 *   ]}
 *
 * Every field path must parse (fieldpath.h) and name an existing collection
 * or a known analytics result; "grants" is the only key at the top and a
 * grant has no keys but these five.  A write that breaks any rule is
 * refused whole (-EINVAL with a message) and the previous grants stay.
 *
 * A grant is in force from its write until it ends: its `until` passes, its
 * view files have been opened `max_reads` times, or it is rewritten away.
 * Every change of what is in force writes a consent receipt (receipt.h) in
 * the same transaction: "grant" (none were in force before), "change",
 * "revoke" (none are after), "expire" (an until passed, noticed by
 * vrm_grants_expire, vrm_grants_expire_due or at the next change) and
 * "lapse" (max_reads used up).
 * Rewriting a grant unchanged keeps its count of reads.
 */
#ifndef VRM_GRANTS_H
#define VRM_GRANTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "store/vault.h"

/* The analytics results a grant may name (NULL-terminated), as
 * "TOPIC.NAME" (e.g. "spending.by-category"). */
extern const char *const vrm_grants_analytics[];

/* grants.json of `vendor`, pretty with a final newline ({"grants": []} when
 * none were written); *updated_ns: its last write (or the vendor's
 * creation).  -ENOENT for an unknown vendor. */
int vrm_grants_get(vrm_vault *v, const char *vendor, char **json, size_t *len,
                   int64_t *updated_ns) __attribute__((warn_unused_result));

/* Replace the grants of `vendor` with json[0..len).  0 and *receipt (the
 * number of the receipt written, 0 if nothing in force changed), or -EINVAL
 * (nothing changed), -ENOENT. */
int vrm_grants_put(vrm_vault *v, const char *vendor, const char *json, size_t len,
                   int64_t *receipt) __attribute__((warn_unused_result));

/* Revoke every grant of `vendor`: what removing grants.json means.  The
 * same as vrm_grants_put of {"grants": []}: an until that passed without its
 * "expire" receipt gets it first, then one "revoke" receipt is written if
 * any grant was still in force, and grants.json reads {"grants": []} from
 * then on (its time: now).  0 and *receipt (if not NULL: the number of the
 * "revoke" receipt, 0 if nothing was in force), or -ENOENT (no such vendor;
 * nothing changed). */
int vrm_grants_revoke_all(vrm_vault *v, const char *vendor, int64_t *receipt)
    __attribute__((warn_unused_result));

/* Write "expire" receipts for grants whose until has passed by `now_ns`.
 * Returns how many vendors changed (0 if none) or a negative errno; *next_ns
 * (if not NULL): the next until still ahead, or 0 if none. */
int vrm_grants_expire(vrm_vault *v, int64_t now_ns, int64_t *next_ns)
    __attribute__((warn_unused_result));

/* What vrm_grants_expire_due knows of the last scan: kept by its caller
 * between calls, one per open vault, all zero (VRM_GRANTS_DUE_INIT) at
 * first.  Its fields are libvrm's. */
typedef struct vrm_grants_due {
    int known;                        /* a scan succeeded and filled the rest */
    uint64_t gen;                     /* vrm_grants_generation before it */
    int64_t next_ns;                  /* the next until it left ahead, 0: none */
} vrm_grants_due;

#define VRM_GRANTS_DUE_INIT {0, 0, 0}

/* vrm_grants_expire(v, now_ns, NULL) for a caller that asks often (once a
 * second): it scans only when an until may have passed since its last scan
 * (the first time, once the next until that scan left ahead has come, or
 * when what is in force has changed since, the only way a new until comes
 * in) and otherwise returns 0 at once.  What it writes and returns is what
 * vrm_grants_expire would at the same now_ns. */
int vrm_grants_expire_due(vrm_vault *v, int64_t now_ns, vrm_grants_due *due)
    __attribute__((warn_unused_result));

/* A number that changes whenever what is in force may have changed in the
 * open vault (grants written, expired, lapsed, revoked; vendors removed): a
 * view made under one number is stale under another.  Thread-safe. */
uint64_t vrm_grants_generation(const vrm_vault *v);

#endif
