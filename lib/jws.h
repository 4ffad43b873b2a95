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

#include "identity.h"

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

#endif
