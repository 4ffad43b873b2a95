/*
 * envelope.h: messages between the person and a vendor on the wire.
 *
 * A message is a JSON payload, signed as a JWS compact serialization with
 * EdDSA (RFC 8037, jws.h), then sealed with crypto_box_seal to the
 * recipient's X25519 public key.  The wire bytes are exactly the sealed box
 * (a file "ID.vrm", an HTTP body): crypto_box_SEALBYTES + the JWS text.
 *
 * From the person: signed with the person's pairwise Ed25519 key for that
 * vendor (identity.h), whose public key also travels in the protected
 * header as a JWK ({"kty":"OKP","crv":"Ed25519","x":B64URL}) so that a
 * vendor can verify before it knows the key, and pin it afterwards (it is
 * identity.json's "ed25519"); sealed to the vendor's "x25519" key from
 * vendor.json.
 *
 * From a vendor (replies): signed with the vendor's Ed25519 key (vendor.json
 * "keys.ed25519"), sealed to the person's pairwise X25519 key for that
 * vendor (identity.json "x25519").
 *
 * The protected header is {"alg":"EdDSA","kid":KID,"typ":"vrm+jws","jwk":...}
 * where KID is the signer's id (the person's pairwise id, or the vendor's
 * key id: the first 16 bytes of BLAKE2b-256 of its Ed25519 key, base64url).
 *
 * Both sides always send the "jwk".  Opening checks, in order: the sealed
 * box; the header (jws.h's checks, typ "vrm+jws", a string kid, a jwk if
 * present that is exactly an Ed25519 OKP public key); the signer; the
 * signature; a payload of at most VRM_MESSAGE_MAX bytes.  The person
 * (vrm_envelope_open) verifies with the vendor's pinned key only: a jwk, if
 * the header has one, must be that key and the kid its key id.  The vendor
 * (vrm_envelope_vendor_open) needs the jwk and verifies with it, and the
 * kid must be a pairwise id (16 bytes).  The payload is not parsed here.
 *
 * Every failure to open (bad box, wrong recipient key, not a JWS, a
 * signature that does not verify, a signer other than the expected one, a
 * truncated file) is -EBADMSG with a message, starting "message: ", saying
 * which.
 */
#ifndef VRM_ENVELOPE_H
#define VRM_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "consent/identity.h"

#define VRM_MESSAGE_MAX (1u << 20)    /* largest payload: 1 MiB */

/* ---- the person's side ---------------------------------------------------- */

/* Sign payload[0..len) as `id` and seal it to `vendor_x25519`.  0 and *wire
 * (malloc'd) with *wlen; -EINVAL (too large, or a recipient key that cannot
 * be sealed to), -ENOMEM. */
int vrm_envelope_seal(const vrm_identity *id, const uint8_t vendor_x25519[32],
                      const char *payload, size_t len, uint8_t **wire, size_t *wlen)
    __attribute__((warn_unused_result));

/* Open a reply sealed to `id` and check that `vendor_ed25519` signed it.
 * 0 and *payload (malloc'd, NUL-terminated) with *plen; -EBADMSG. */
int vrm_envelope_open(const vrm_identity *id, const uint8_t vendor_ed25519[32],
                      const uint8_t *wire, size_t wlen, char **payload, size_t *plen)
    __attribute__((warn_unused_result));

/* ---- the vendor's side (vrmfs vendor ...) ---------------------------------- */

typedef struct vrm_vendor_keys vrm_vendor_keys;   /* opaque; holds secrets */

/* New keys, random.  0 and *out, -ENOMEM. */
int vrm_vendor_keys_generate(vrm_vendor_keys **out) __attribute__((warn_unused_result));

/* Write keys to DIR (made if missing, mode 0700): DIR/secret.json (mode
 * 0600, O_EXCL: an existing key is never overwritten, -EEXIST) holding
 * {"ed25519_secret": B64URL(64 bytes), "x25519_secret": B64URL(32 bytes)},
 * and DIR/public.json {"ed25519": B64URL, "x25519": B64URL}, the value of
 * vendor.json's "keys" (mode 0644: it is public; also O_EXCL, so that a
 * stale one is never paired with a new secret).  Both pretty as
 * vrm_json_pretty, created with O_NOFOLLOW and synced, then DIR; on any
 * failure neither is left behind.  A DIR that is a symbolic link is
 * refused (-ENOTDIR). */
int vrm_vendor_keys_save(const vrm_vendor_keys *k, const char *dir)
    __attribute__((warn_unused_result));

/* Read DIR/secret.json.  0 and *out, -ENOENT, -EINVAL (malformed: not
 * exactly those two members with canonical unpadded base64url strings of
 * the right sizes, without JSON escapes; an Ed25519 secret whose public
 * half is not its seed's; a symbolic link or not a regular file; over 4
 * KiB).  It is parsed in guarded memory, never copied elsewhere. */
int vrm_vendor_keys_load(const char *dir, vrm_vendor_keys **out)
    __attribute__((warn_unused_result));

void vrm_vendor_keys_free(vrm_vendor_keys *k);   /* wipes; NULL is fine */

/* The public keys, unpadded base64url, and the key id (see above). */
const char *vrm_vendor_keys_ed25519(const vrm_vendor_keys *k);
const char *vrm_vendor_keys_x25519(const vrm_vendor_keys *k);
const char *vrm_vendor_keys_kid(const vrm_vendor_keys *k);

/* Open a message sealed to the vendor.  `person_ed25519` (may be NULL):
 * the signer it must be; NULL accepts the key in the header.  0 and
 * *payload (malloc'd, NUL-terminated) with *plen, and the signer's key
 * (unpadded base64url) in signer[0..VRM_ID_B64_MAX); -EBADMSG. */
int vrm_envelope_vendor_open(const vrm_vendor_keys *k, const uint8_t *person_ed25519,
                             const uint8_t *wire, size_t wlen, char **payload, size_t *plen,
                             char signer[VRM_ID_B64_MAX])
    __attribute__((warn_unused_result));

/* Sign payload as the vendor and seal it to `person_x25519`.  Same
 * contract as vrm_envelope_seal. */
int vrm_envelope_vendor_seal(const vrm_vendor_keys *k, const uint8_t person_x25519[32],
                             const char *payload, size_t len, uint8_t **wire, size_t *wlen)
    __attribute__((warn_unused_result));

#endif
