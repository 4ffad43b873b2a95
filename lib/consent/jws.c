/*
 * jws.c: JWS compact serialization with EdDSA/Ed25519 (RFC 7515, RFC 8037).
 */
#include "consent/jws.h"
#include "base/error.h"
#include "base/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* Largest input whose base64 length (plus a NUL and some slack) fits a
 * size_t; anything longer is refused before any size arithmetic. */
#define B64_IN_MAX ((SIZE_MAX - 16) / 4 * 3)

/* Append the unpadded base64url of in[0..len) at out + *pos, which has room
 * (the caller sized it with sodium_base64_encoded_len); advance *pos past
 * the text (not the NUL). */
static void put_b64(char *out, size_t size, size_t *pos, const void *in, size_t len)
{
    sodium_bin2base64(out + *pos, size - *pos, in, len, B64);
    *pos += strlen(out + *pos);
}

/* Decode the unpadded base64url text[0..tlen) into a new buffer with a NUL
 * after the bytes: 0 and *out, *len; -EBADMSG for anything but canonical
 * base64url; -ENOMEM. */
static int b64_segment(const char *text, size_t tlen, uint8_t **out, size_t *len)
{
    size_t max = tlen / 4 * 3 + 2;    /* what tlen characters can carry */
    uint8_t *buf = malloc(max + 1);

    *out = NULL;
    if (buf == NULL)
        return -ENOMEM;
    if (sodium_base642bin(buf, max, text, tlen, NULL, len, NULL, B64) != 0) {
        free(buf);
        return -EBADMSG;
    }
    buf[*len] = '\0';
    *out = buf;
    return 0;
}

/* Check a protected header: a JSON object saying alg EdDSA, and no "crit"
 * (we implement no extension, so RFC 7515 4.1.11 says refuse). */
static int check_header(const uint8_t *text, size_t len)
{
    cJSON *hdr = NULL;
    const cJSON *alg;
    int rc;

    rc = vrm_json_parse_object((const char *)text, len, &hdr);
    if (rc != 0) {
        rc = vrm_error(EBADMSG, "jws: the header is not a JSON object");
        goto out;
    }
    alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
    if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "EdDSA") != 0) {
        rc = vrm_error(EBADMSG, "jws: alg is not EdDSA");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(hdr, "crit") != NULL) {
        rc = vrm_error(EBADMSG, "jws: unsupported critical header");
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(hdr);
    return rc;
}

int vrm_jws_verify(const char *jws, const uint8_t pk[32], char **payload, size_t *len)
{
    const char *dot1, *dot2;
    uint8_t *hdr = NULL, *body = NULL, *sig = NULL;
    size_t hlen = 0, blen = 0, slen = 0;
    int rc;

    if (payload != NULL)
        *payload = NULL;
    if (len != NULL)
        *len = 0;
    if (sodium_init() < 0)
        return vrm_error(ENOMEM, "libsodium failed to initialise");
    /* Exactly three segments: two dots, none empty but the payload's
     * (an empty payload is legal JWS). */
    dot1 = strchr(jws, '.');
    dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL || dot1 == jws || dot2[1] == '\0')
        return vrm_error(EBADMSG, "jws: not three segments");
    rc = b64_segment(jws, (size_t)(dot1 - jws), &hdr, &hlen);
    if (rc == 0)
        rc = b64_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1), &body, &blen);
    if (rc == 0)
        rc = b64_segment(dot2 + 1, strlen(dot2 + 1), &sig, &slen);
    if (rc == -EBADMSG)
        rc = vrm_error(EBADMSG, "jws: a segment is not base64url");
    if (rc != 0)
        goto out;
    if (slen != crypto_sign_BYTES) {
        rc = vrm_error(EBADMSG, "jws: the signature is not %d bytes", crypto_sign_BYTES);
        goto out;
    }
    rc = check_header(hdr, hlen);
    if (rc != 0)
        goto out;
    if (crypto_sign_verify_detached(sig, (const unsigned char *)jws, (size_t)(dot2 - jws),
                                    pk) != 0) {
        rc = vrm_error(EBADMSG, "jws: the signature does not verify");
        goto out;
    }
    if (payload != NULL) {
        *payload = (char *)body;      /* NUL-terminated by b64_segment */
        body = NULL;
    }
    if (len != NULL)
        *len = blen;
    rc = 0;
out:
    free(sig);
    free(body);
    free(hdr);
    return rc;
}

/* ---- signing with a raw key; reading a header before verifying ---------- */

/* *out = BASE64URL(htext) "." BASE64URL(payload) "." BASE64URL(signature by
 * sk); the lengths have been bounded by the caller. */
static int sign_compact(const uint8_t sk[crypto_sign_SECRETKEYBYTES], const char *htext,
                        size_t hlen, const char *payload, size_t len, char **out)
{
    uint8_t sig[crypto_sign_BYTES];
    size_t size, pos = 0;
    char *jws;

    size = sodium_base64_encoded_len(hlen, B64) + sodium_base64_encoded_len(len, B64) +
           sodium_base64_encoded_len(sizeof sig, B64);
    jws = malloc(size);
    if (jws == NULL)
        return -ENOMEM;
    put_b64(jws, size, &pos, htext, hlen);
    jws[pos++] = '.';
    put_b64(jws, size, &pos, payload, len);
    if (crypto_sign_detached(sig, NULL, (const unsigned char *)jws, pos, sk) != 0) {
        free(jws);
        return vrm_error(EINVAL, "jws: signing failed");
    }
    jws[pos++] = '.';
    put_b64(jws, size, &pos, sig, sizeof sig);
    *out = jws;
    return 0;
}

int vrm_jws_sign_key(const uint8_t sk[64], const char *kid, const char *typ, int with_jwk,
                     const char *payload, size_t len, char **out)
{
    char x[VRM_ID_B64_MAX];
    cJSON *hdr = NULL, *jwk;
    char *htext = NULL;
    size_t hlen = 0;
    int rc;

    *out = NULL;
    if (kid == NULL)
        return vrm_error(EINVAL, "jws: no kid");
    if (payload == NULL && len > 0)
        return vrm_error(EINVAL, "jws: no payload");
    if (len > B64_IN_MAX / 4)
        return vrm_error(EINVAL, "jws: payload too long");
    if (sodium_init() < 0)
        return vrm_error(ENOMEM, "libsodium failed to initialise");
    /* The public half of a libsodium Ed25519 secret key is its last 32
     * bytes. */
    rc = vrm_b64url_encode(x, sizeof x, sk + crypto_sign_SEEDBYTES, crypto_sign_PUBLICKEYBYTES);
    if (rc != 0)
        return rc;
    hdr = cJSON_CreateObject();
    if (hdr == NULL || cJSON_AddStringToObject(hdr, "alg", "EdDSA") == NULL ||
        cJSON_AddStringToObject(hdr, "kid", kid) == NULL ||
        (typ != NULL && cJSON_AddStringToObject(hdr, "typ", typ) == NULL)) {
        rc = -ENOMEM;
        goto out;
    }
    if (with_jwk) {
        jwk = cJSON_AddObjectToObject(hdr, "jwk");
        if (jwk == NULL || cJSON_AddStringToObject(jwk, "kty", "OKP") == NULL ||
            cJSON_AddStringToObject(jwk, "crv", "Ed25519") == NULL ||
            cJSON_AddStringToObject(jwk, "x", x) == NULL) {
            rc = -ENOMEM;
            goto out;
        }
    }
    rc = vrm_json_compact(hdr, &htext, &hlen);
    if (rc != 0)
        goto out;
    if (hlen > B64_IN_MAX / 4) {
        rc = vrm_error(EINVAL, "jws: header too long");
        goto out;
    }
    rc = sign_compact(sk, htext, hlen, payload, len, out);
out:
    free(htext);
    cJSON_Delete(hdr);
    return rc;
}

int vrm_jws_header(const char *jws, cJSON **hdr)
{
    const char *dot1, *dot2;
    uint8_t *text = NULL;
    size_t tlen = 0;
    int rc;

    *hdr = NULL;
    dot1 = strchr(jws, '.');
    dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL || dot1 == jws || dot2[1] == '\0')
        return vrm_error(EBADMSG, "jws: not three segments");
    rc = b64_segment(jws, (size_t)(dot1 - jws), &text, &tlen);
    if (rc == -EBADMSG)
        return vrm_error(EBADMSG, "jws: a segment is not base64url");
    if (rc != 0)
        return rc;
    rc = check_header(text, tlen);
    if (rc == 0 && vrm_json_parse_object((const char *)text, tlen, hdr) != 0)
        rc = vrm_error(EBADMSG, "jws: the header is not a JSON object");
    free(text);
    return rc;
}

int vrm_jws_header_jwk(const cJSON *hdr, uint8_t pk[32])
{
    const cJSON *jwk = cJSON_GetObjectItemCaseSensitive(hdr, "jwk"), *m;
    int kty = 0, crv = 0, x = 0;

    if (jwk == NULL)
        return vrm_error(ENOENT, "jws: the header has no jwk");
    if (!cJSON_IsObject(jwk))
        return vrm_error(EBADMSG, "jws: the header's jwk is not an object");
    cJSON_ArrayForEach(m, jwk) {
        if (strcmp(m->string, "kty") == 0) {
            if (!cJSON_IsString(m) || strcmp(m->valuestring, "OKP") != 0)
                return vrm_error(EBADMSG, "jws: the jwk's kty is not OKP");
            kty = 1;
        } else if (strcmp(m->string, "crv") == 0) {
            if (!cJSON_IsString(m) || strcmp(m->valuestring, "Ed25519") != 0)
                return vrm_error(EBADMSG, "jws: the jwk's crv is not Ed25519");
            crv = 1;
        } else if (strcmp(m->string, "x") == 0) {
            if (!cJSON_IsString(m) || vrm_b64url_decode(pk, 32, m->valuestring) != 0)
                return vrm_error(EBADMSG, "jws: the jwk's x is not a 32-byte key in base64url");
            x = 1;
        } else if (strcmp(m->string, "d") == 0) {
            return vrm_error(EBADMSG, "jws: the jwk holds a private key (d)");
        } else if (strcmp(m->string, "kid") != 0 && strcmp(m->string, "use") != 0 &&
                   strcmp(m->string, "alg") != 0 && strcmp(m->string, "key_ops") != 0) {
            return vrm_error(EBADMSG, "jws: the jwk has an unknown member");
        }
    }
    if (!kty || !crv || !x)
        return vrm_error(EBADMSG, "jws: the jwk lacks kty, crv or x");
    return 0;
}

int vrm_jws_sign(const vrm_identity *id, const char *typ, const char *payload, size_t len,
                 char **out)
{
    return vrm_jws_sign_key(vrm_identity_sign_sk(id), vrm_identity_id(id), typ, 0, payload, len,
                            out);
}
