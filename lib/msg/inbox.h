/*
 * inbox.h: replies from vendors.
 *
 * A vendor answers by dropping a message (envelope.h: signed with its
 * Ed25519 key from vendor.json, sealed to the person's pairwise X25519 key
 * for it) into the vault's spool for it, a maildir VAULT/inbox/VENDOR/:
 * written in tmp/, renamed into new/.  vrm_inbox_scan opens every file in
 * new/, checks the signer and that the payload is exactly
 *
 *   {"v": 1, "id": ID, "kind": "reply", "from": TEXT, "to": PAIRWISE ID,
 *    "created": RFC 3339, "body": ANY[, "in_reply_to": MESSAGE ID]}
 *
 * with "to" the person's pairwise id for that vendor, and keeps it in the
 * vault (inbox/VENDOR/ID.json in the mount); the spool file is removed
 * once that has committed.  A reply whose id was seen before is dropped as
 * a duplicate.  Anything else (not a sealed box for this identity, a
 * signature that does not verify, no Ed25519 key in vendor.json, a payload
 * of another shape) is moved to VAULT/inbox/.rejected/VENDOR.FILE and
 * recorded with the reason (inbox/.rejected/VENDOR.FILE.json in the
 * mount); nothing that fails is ever shown as a reply.
 */
#ifndef VRM_INBOX_H
#define VRM_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "data/records.h"

/* Take in what waits in the spools of every vendor under vault_dir (the
 * vault's directory).  Returns how many files were handled (accepted or
 * rejected), or a negative errno (the vault's). */
int vrm_inbox_scan(vrm_vault *v, const char *vault_dir) __attribute__((warn_unused_result));

/* The ids of vendor's replies, oldest first; fn is called without the
 * vault's lock. */
int vrm_inbox_list(vrm_vault *v, const char *vendor, vrm_name_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* A reply's payload pretty with a final newline, and when it arrived.
 * -ENOENT. */
int vrm_inbox_get(vrm_vault *v, const char *vendor, const char *id, char **out, size_t *len,
                  int64_t *received_ns) __attribute__((warn_unused_result));

/* Forget a reply (rm in the mount).  -ENOENT. */
int vrm_inbox_delete(vrm_vault *v, const char *vendor, const char *id)
    __attribute__((warn_unused_result));

/* The rejected files (names VENDOR.FILE), oldest first. */
int vrm_inbox_rejected_list(vrm_vault *v, vrm_name_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* {"vendor", "file", "reason", "size", "received"} of a rejected file,
 * pretty.  -ENOENT. */
int vrm_inbox_rejected_get(vrm_vault *v, const char *name, char **out, size_t *len,
                           int64_t *received_ns) __attribute__((warn_unused_result));

#endif
