/*
 * outbox.h: messages from the person to vendors, queued in the vault and
 * delivered by a thread of the daemon (transactional outbox).
 *
 * A message written by the person is a JSON object with "kind":
 *
 *   {"kind": "disclose", "fields": [FIELD PATH, ...], "purpose": TEXT}
 *       the current values of those fields (fieldpath.h) go in the body,
 *       once; writing it is the person's consent, so it also writes a
 *       "disclose" consent receipt (receipt.h); "purpose" is optional
 *   {"kind": "intent", "text": TEXT, "category": TEXT, "budget": NUMBER or
 *    {"amount": NUMBER, "currency": TEXT}, "until": RFC 3339}
 *       a want; "text" is required, the rest optional
 *   {"kind": "note", "text": TEXT}
 *
 * and nothing else.  Written to vendor "all", an intent goes to every vendor
 * whose vendor.json says "accepts_intents": true (each under that vendor's
 * pairwise identity); other kinds cannot be broadcast.
 *
 * The message's payload is {"v": 1, "id", "kind", "from", "to", "created",
 * "terms", "body"}: "id" 16 random bytes in unpadded base64url, "from" the
 * person's pairwise id for the vendor, "to" the vendor's key id (see
 * envelope.h) or, without an Ed25519 key, its name, "created" RFC 3339 UTC,
 * "terms" vendor.json's terms (or null), "body" the message less its
 * "kind" (a disclose's body: {"purpose", "fields", "records": {COLL: {NAME:
 * projection}}}).  It is signed and sealed (envelope.h) when queued, in
 * the transaction that queues it, with the endpoint it is to go to.
 *
 * Pushed changes: vrm_outbox_record_changed_locked, the record hook that
 * vrm_vault_open registers (vrm.h), called by records.c in the transaction
 * of every change of a record, queues for each vendor
 * with grants in force that say "notify": true and cover a field that
 * changed an "update" message whose body is {"collection", "record",
 * "values": the new projection onto those grants' paths, or null once the
 * record is gone}.  Each change goes out; none is merged away.
 *
 * Delivery: pending messages are tried in order of their next try; a
 * failure is retried after 250 ms * 2^(attempts-1), at most 15 minutes,
 * with +-25% jitter; messages wait in the vault through unmounts and
 * crashes.  At-least-once: a vendor drops duplicates by id.
 */
#ifndef VRM_OUTBOX_H
#define VRM_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "data/records.h"

#define VRM_MESSAGE_ID_LEN 22         /* base64url of 16 bytes */

/* ---- the names of outbox/ ------------------------------------------------------
 * outbox/VRM_OUTBOX_ALL/ broadcasts; every other folder of outbox/ is a
 * vendor's.  In a folder, a pending message shows as ID.pending.json, and
 * a new message is written as any other NAME.json that is not hidden:
 * what an editor or a tool writes beside it (a swap file, NAME.json~) is
 * refused. */
#define VRM_OUTBOX_ALL "all"
#define VRM_OUTBOX_PENDING_SUFFIX ".pending.json"
#define VRM_OUTBOX_ID_SIZE (VRM_MESSAGE_ID_LEN + 8)
                                      /* holds the ID of a pending message's
                                         name: 1 to VRM_OUTBOX_ID_SIZE - 1
                                         bytes (an id libvrm makes is
                                         VRM_MESSAGE_ID_LEN) */

/* 1 if `vendor`, a folder of outbox/, is the one that broadcasts, else 0. */
int vrm_outbox_broadcast(const char *vendor) __attribute__((warn_unused_result));

/* The ID of a pending message's file name "ID.pending.json" into id: 0,
 * or -ENOENT if `file` is no such name (its ID empty or longer than
 * VRM_OUTBOX_ID_SIZE - 1 bytes). */
int vrm_outbox_pending_id(const char *file, char id[VRM_OUTBOX_ID_SIZE])
    __attribute__((warn_unused_result));

/* The file name "ID.pending.json" of pending message `id` into
 * out[0..size): 0, or -ENAMETOOLONG if it does not fit. */
int vrm_outbox_pending_file(const char *id, char *out, size_t size)
    __attribute__((warn_unused_result));

/* 0 if a new file named `file` in a folder of outbox/ is a message to
 * write; -EEXIST if it is a pending message's name; -EACCES with a message
 * if it is not NAME.json or is hidden. */
int vrm_outbox_file_valid(const char *file) __attribute__((warn_unused_result));

/* ---- queueing, listing, delivering --------------------------------------------- */

/* Queue the message json[0..len) (a file written to outbox/<vendor>/) for
 * `vendor`, or for every vendor that accepts intents when vendor is
 * VRM_OUTBOX_ALL.  fn (may be NULL) is called with each message id
 * queued.  Returns how many were queued (>= 1), or -EINVAL with a message
 * (bad JSON, unknown kind or key, a vendor without keys.x25519 or
 * endpoint, no vendor accepting intents, a field path the vault has not),
 * -ENOENT (no such vendor): nothing is queued then. */
int vrm_outbox_submit(vrm_vault *v, const char *vendor, const char *json, size_t len,
                      vrm_name_fn fn, void *ctx) __attribute__((warn_unused_result));

/* The ids of vendor's pending (`sent` 0) or delivered (`sent` 1) messages,
 * oldest first. */
int vrm_outbox_list(vrm_vault *v, const char *vendor, int sent, vrm_name_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* A message as shown in the mount, pretty with a final newline: pending,
 * {"id", "vendor", "kind", "created", "attempts", "last_error",
 * "next_try", "payload"}; sent, the payload plus "delivered" (RFC 3339) and
 * "transport".  -ENOENT if it is not (or no longer) in that state.
 * *time_ns: its creation or delivery time. */
int vrm_outbox_get(vrm_vault *v, const char *vendor, const char *id, int sent, char **out,
                   size_t *len, int64_t *time_ns) __attribute__((warn_unused_result));

/* Cancel a pending message.  -ENOENT if it is not pending (sent already). */
int vrm_outbox_cancel(vrm_vault *v, const char *vendor, const char *id)
    __attribute__((warn_unused_result));

/* Deliver up to `max` messages due by now, one after another (several
 * threads may call this at once: each message is claimed by one).  Returns
 * how many were tried, or a negative errno.  *next_ns (if not NULL): when
 * the next pending message is due (0: none pending). */
int vrm_outbox_deliver(vrm_vault *v, int max, int64_t *next_ns) __attribute__((warn_unused_result));

/* Counts for status: pending messages, and of them those that failed at
 * least once. */
int vrm_outbox_pending(vrm_vault *v, int64_t *pending, int64_t *failing)
    __attribute__((warn_unused_result));

#endif
