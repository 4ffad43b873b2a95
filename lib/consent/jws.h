/*
 * jws.h: JWS compact serialization (RFC 7515) with EdDSA over Ed25519
 * (RFC 8037), the signatures of consent receipts and messages.
 *
 * The protected header is {"alg":"EdDSA","kid":KID} (KID: the signer's
 * pairwise id) and, when `typ` is given, "typ".  Segments are unpadded
 * base64url; the signature is crypto_sign_detached over
 * ASCII(BASE64URL(header) "." BASE64URL(payload)).  Any JOSE library that
 * knows EdDSA verifies these.
 */
#ifndef VRM_JWS_H
#define VRM_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "consent/identity.h"

/* Sign payload[0..len) as `id`.  `typ` may be NULL.  0 and *out (free(),
 * NUL-terminated), -EINVAL, -ENOMEM. */
int vrm_jws_sign(const vrm_identity *id, const char *typ, const char *payload, size_t len,
                 char **out)
    __attribute__((warn_unused_result));

/* Verify `jws` (NUL-terminated, no trailing newline) against the Ed25519
 * public key `pk`: exactly three segments of canonical unpadded base64url,
 * a header that is one JSON object (no duplicate keys) saying alg EdDSA and
 * holding no "crit" (no extension is understood), a 64-byte signature.
 * kid and typ are not checked: the caller chose `pk`.  0 and *payload
 * (free(), NUL-terminated; may be NULL if not wanted) with *len (may be
 * NULL), or -EBADMSG (malformed or the signature does not verify; *payload
 * NULL), -ENOMEM. */
int vrm_jws_verify(const char *jws, const uint8_t pk[32], char **payload, size_t *len)
    __attribute__((warn_unused_result));

/* ---- signing with a raw key; reading a header before verifying ------------
 *
 * Messages (envelope.h) are signed by keys that are not pairwise identities
 * (a vendor's), and carry the signer's public key in the header so that a
 * recipient who does not know it yet can verify and then pin it.  The
 * verifier reads the header first (vrm_jws_header, unverified), chooses the
 * key (the pinned one, or the header's "jwk"), then calls vrm_jws_verify. */

/* Sign payload[0..len) with the Ed25519 secret key `sk` (libsodium's 64
 * bytes: seed || public key).  The protected header is, in this order,
 * {"alg":"EdDSA","kid":KID,"typ":TYP,"jwk":JWK}: "typ" only if `typ` is not
 * NULL, "jwk" only if `with_jwk`, as the RFC 8037 public key
 * {"kty":"OKP","crv":"Ed25519","x":B64URL(sk[32..64))}.  0 and *out (free(),
 * NUL-terminated), -EINVAL, -ENOMEM. */
int vrm_jws_sign_key(const uint8_t sk[64], const char *kid, const char *typ, int with_jwk,
                     const char *payload, size_t len, char **out)
    __attribute__((warn_unused_result));

/* The protected header of `jws` (NUL-terminated), parsed but NOT verified:
 * trust nothing in it until vrm_jws_verify has passed with a key chosen
 * for a reason.  Checks what vrm_jws_verify checks of the form (three
 * segments, canonical base64url, one JSON object without duplicate keys,
 * alg EdDSA, no "crit").  0 and *hdr (cJSON_Delete), -EBADMSG, -ENOMEM. */
int vrm_jws_header(const char *jws, cJSON **hdr)
    __attribute__((warn_unused_result));

/* The Ed25519 public key of a header's "jwk": exactly an RFC 8037 OKP key,
 * "kty" "OKP", "crv" "Ed25519", "x" the canonical unpadded base64url of 32
 * bytes; "kid", "use", "alg" and "key_ops" are tolerated, a private "d"
 * and any other member refused.  0 and pk, -ENOENT (no "jwk"), -EBADMSG. */
int vrm_jws_header_jwk(const cJSON *hdr, uint8_t pk[32])
    __attribute__((warn_unused_result));

#endif
