/*
 * b64url.h: unpadded base64url (RFC 4648 section 5), the encoding of every
 * key, identifier and signature libvrm writes, through libsodium
 * (sodium_base64_VARIANT_URLSAFE_NO_PADDING).
 *
 * Each value has exactly one text: decoding refuses padding, whitespace,
 * characters outside the URL-safe alphabet and non-zero trailing bits.
 */
#ifndef VRM_B64URL_H
#define VRM_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Encode in[0..len) into out, which has room for `outsize` bytes including
 * the NUL.  0, or -ENOSPC if it does not fit (out may have been written). */
int vrm_b64url_encode(char *out, size_t outsize, const uint8_t *in, size_t len)
    __attribute__((warn_unused_result));

/* Decode the NUL-terminated `text`, which must give exactly `len` bytes.
 * 0, or -EINVAL (out may have been written).  Sets no message. */
int vrm_b64url_decode(uint8_t *out, size_t len, const char *text)
    __attribute__((warn_unused_result));

#endif
