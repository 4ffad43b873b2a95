/*
 * receipt.h: signed consent receipts, one per change of a vendor's grants.
 *
 * A receipt's payload holds the fields of the Kantara Initiative Consent
 * Receipt Specification v1.1:
 *
 *   version "KI-CR-v1.1.0", jurisdiction "EU", consentTimestamp (integer
 *   seconds), collectionMethod "vrmfs grants.json", consentReceiptID (a
 *   random UUID v4), publicKey (the pairwise Ed25519 key, unpadded
 *   base64url), language "en", piiPrincipalId (the pairwise id),
 *   piiControllers [{"piiController": display name, "contact": vendor name,
 *   "address": endpoint or "", "email": "", "phone": "",
 *   "piiControllerUrl": "" }], policyUrl (the vendor's terms, or ""),
 *   services [{"service": vendor name, "purposes": [one per grant in force:
 *     {"purpose", "purposeCategory": [purpose], "consentType": "EXPLICIT",
 *      "piiCategory": [its field paths], "primaryPurpose": true,
 *      "termination": its until, or "on revocation by the person",
 *      "thirdPartyDisclosure": false, "thirdPartyName": ""}]}],
 *   sensitive (true when a path reaches a sensitive collection, i.e. its
 *   text before the first '.' or '[' is "diet", "activity" or "health"),
 *   spiCat (["health"] then, else [])
 *
 * plus, outside the specification, "event" (grant, change, revoke, expire,
 * lapse, or disclose: a one-time provision by message, whose "grants" are
 * those in force plus the disclosure with "until" its time and "message"
 * its id), "receiptNumber" (N), "previousReceipt" (hex SHA-256 of the previous
 * receipt's JWS text, or null for the first) and "grants" (the grant objects
 * in force after the change, as stored: keys starting with '_', such as the
 * "_idx" of vrm_grants_in_force_locked, are left out).  Keys appear in the
 * order listed here.  A revocation is a receipt whose
 * services list no purposes.  The payload is signed with vrm_jws_sign (typ
 * "JWT") by the person's pairwise identity for the vendor.
 *
 * Receipts are numbered 1, 2, ... per vendor, never rewritten, and kept
 * after the vendor is removed; each supersedes the last.
 */
#ifndef VRM_RECEIPT_H
#define VRM_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "store/vault.h"

typedef int (*vrm_receipt_fn)(void *ctx, int64_t n);

/* Call fn for each receipt number of `vendor`, ascending; stops at (and
 * returns) a non-zero return of fn.  The numbers are read first and fn runs
 * without the vault mutex, so it may call vrm_receipt_get.  0 or a negative
 * errno; an unknown vendor simply has no receipts. */
int vrm_receipt_list(vrm_vault *v, const char *vendor, vrm_receipt_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* Receipt n of `vendor`: its JWS text (`jws` 1) with a final newline, or
 * its stored payload pretty-printed as vrm_json_pretty (`jws` 0).  Nothing
 * is verified here (see vrm_receipt_verify_all).  0 and *out (free()) with
 * *len, -ENOENT, -EBADMSG (the stored payload is not a JSON object). */
int vrm_receipt_get(vrm_vault *v, const char *vendor, int64_t n, int jws, char **out,
                    size_t *len)
    __attribute__((warn_unused_result));

/* The length of what vrm_receipt_get gives for receipt n of `vendor`, with
 * its errors.  The JWS's is its stored length and the newline, read without
 * copying the text; the payload's pretty text is built and dropped, since
 * only printing it tells its length (what is stored is whatever JSON came
 * in, an export's too, and must still parse).  0 and *size. */
int vrm_receipt_size(vrm_vault *v, const char *vendor, int64_t n, int jws, uint64_t *size)
    __attribute__((warn_unused_result));

/* Check every vendor's receipts (every vendor named in the receipts table,
 * removed ones included): each JWS verifies with the pairwise key, its
 * payload is byte for byte the stored one, numbers run 1..N, each payload's
 * receiptNumber, publicKey and piiPrincipalId are its own and its
 * previousReceipt names the hash of the one before (null for 1).  0, or
 * -EBADMSG with a message naming the vendor and receipt.  Receipts cut off
 * at the end (the last ones deleted) cannot be told from here. */
int vrm_receipt_verify_all(vrm_vault *v) __attribute__((warn_unused_result));

#endif
