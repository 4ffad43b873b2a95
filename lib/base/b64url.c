/*
 * b64url.c: unpadded base64url through libsodium (see b64url.h).
 */
#include "base/b64url.h"
#include "base/error.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

int vrm_b64url_encode(char *out, size_t outsize, const uint8_t *in, size_t len)
{
    const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

    /* sodium_base64_encoded_len aborts on overflow: refuse first. */
    if (len > (SIZE_MAX - 8) / 4 * 3)
        return vrm_error(ENOSPC, "base64url: input too long");
    if (outsize < sodium_base64_encoded_len(len, variant))
        return -ENOSPC;
    sodium_bin2base64(out, outsize, in, len, variant);
    return 0;
}

int vrm_b64url_decode(uint8_t *out, size_t len, const char *text)
{
    size_t got = 0;

    /* With b64_end NULL and no ignore set, libsodium refuses padding, any
     * character outside the alphabet, a dangling character and non-zero
     * trailing bits; more than `len` bytes fails too. */
    if (sodium_base642bin(out, len, text, strlen(text), NULL, &got, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        got != len)
        return -EINVAL;
    return 0;
}
