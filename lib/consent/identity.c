/*
 * identity.c: the person's pairwise identity for one vendor, derived from
 * the master key and the vendor's name (see identity.h for the scheme).
 */
#include "consent/identity.h"
#include "base/error.h"
#include "base/json.h"
#include "base/naming.h"
#include "store/vault_int.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define ID_BYTES 16                    /* raw pairwise identifier */

/* The whole struct lives in one sodium_malloc'd block (guard pages, locked,
 * wiped by sodium_free) and is read-only once derived.  Byte arrays only,
 * so sodium_malloc's unaligned result does not matter. */
struct vrm_identity {
    uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES];   /* Ed25519 public key */
    uint8_t sign_sk[crypto_sign_SECRETKEYBYTES];   /* seed || public key */
    uint8_t box_pk[crypto_box_PUBLICKEYBYTES];     /* X25519 public key */
    uint8_t box_sk[crypto_box_SECRETKEYBYTES];     /* X25519 scalar */
    char id[VRM_ID_B64_MAX];                       /* base64url of 16 bytes */
    char ed25519[VRM_ID_B64_MAX];                  /* base64url of sign_pk */
    char x25519[VRM_ID_B64_MAX];                   /* base64url of box_pk */
};

/* BLAKE2b personal strings (exactly 16 bytes, zero-padded) that separate the
 * three values drawn from one vendor seed.  Changing any of them changes
 * every identity of every vault. */
static const unsigned char PERS_ED25519[crypto_generichash_blake2b_PERSONALBYTES] =
    "vrmfs-ed25519";
static const unsigned char PERS_X25519[crypto_generichash_blake2b_PERSONALBYTES] =
    "vrmfs-x25519";
static const unsigned char PERS_ID[crypto_generichash_blake2b_PERSONALBYTES] = "vrmfs-id";

/* identity.json's members, in order. */
static const struct member {
    const char *key;
    const char *(*value)(const vrm_identity *id);
    size_t raw;                                    /* bytes its base64url encodes */
} members[] = {
    {"id", vrm_identity_id, ID_BYTES},
    {"ed25519", vrm_identity_ed25519, crypto_sign_PUBLICKEYBYTES},
    {"x25519", vrm_identity_x25519, crypto_box_PUBLICKEYBYTES},
};

#define NMEMBERS (sizeof members / sizeof members[0])



/* out[0..outlen) = BLAKE2b(key = seed, personal = pers) of the empty
 * message. */
static int draw(uint8_t *out, size_t outlen, const uint8_t seed[32],
                const unsigned char pers[crypto_generichash_blake2b_PERSONALBYTES])
{
    return crypto_generichash_blake2b_salt_personal(out, outlen, NULL, 0, seed, 32, NULL, pers);
}

int vrm_identity_derive(const vrm_vault *v, const char *vendor, vrm_identity **out)
{
    uint8_t subkey[VRM_KEYBYTES];
    uint8_t seed[32], ed_seed[crypto_sign_SEEDBYTES], x_seed[crypto_box_SEEDBYTES];
    uint8_t raw_id[ID_BYTES];
    vrm_identity *id = NULL;
    int rc;

    *out = NULL;
    rc = vrm_vendor_name_valid(vendor);
    if (rc != 0)
        return rc;
    if (sodium_init() < 0)
        return vrm_error(ENOMEM, "libsodium failed to initialise");
    id = sodium_malloc(sizeof *id);
    if (id == NULL) {
        rc = vrm_error(ENOMEM, "out of memory for a pairwise identity");
        goto out;
    }
    memset(id, 0, sizeof *id);
    vrm_vault_pairwise_root(v, subkey);
    if (crypto_generichash(seed, sizeof seed, (const unsigned char *)vendor, strlen(vendor),
                           subkey, sizeof subkey) != 0 ||
        draw(ed_seed, sizeof ed_seed, seed, PERS_ED25519) != 0 ||
        draw(x_seed, sizeof x_seed, seed, PERS_X25519) != 0 ||
        draw(raw_id, sizeof raw_id, seed, PERS_ID) != 0 ||
        crypto_sign_seed_keypair(id->sign_pk, id->sign_sk, ed_seed) != 0 ||
        crypto_box_seed_keypair(id->box_pk, id->box_sk, x_seed) != 0) {
        rc = vrm_error(EINVAL, "cannot derive the pairwise keys for %s", vendor);
        goto out;
    }
    rc = vrm_b64url_encode(id->id, sizeof id->id, raw_id, sizeof raw_id);
    if (rc == 0)
        rc = vrm_b64url_encode(id->ed25519, sizeof id->ed25519, id->sign_pk, sizeof id->sign_pk);
    if (rc == 0)
        rc = vrm_b64url_encode(id->x25519, sizeof id->x25519, id->box_pk, sizeof id->box_pk);
    if (rc != 0)
        goto out;
    sodium_mprotect_readonly(id);
    *out = id;
    id = NULL;
out:
    vrm_identity_free(id);
    sodium_memzero(subkey, sizeof subkey);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(ed_seed, sizeof ed_seed);
    sodium_memzero(x_seed, sizeof x_seed);
    sodium_memzero(raw_id, sizeof raw_id);
    return rc;
}

void vrm_identity_free(vrm_identity *id)
{
    /* sodium_free makes the block writable again and wipes it. */
    if (id != NULL)
        sodium_free(id);
}

const char *vrm_identity_id(const vrm_identity *id)
{
    return id->id;
}

const char *vrm_identity_ed25519(const vrm_identity *id)
{
    return id->ed25519;
}

const char *vrm_identity_x25519(const vrm_identity *id)
{
    return id->x25519;
}

const uint8_t *vrm_identity_sign_pk(const vrm_identity *id)
{
    return id->sign_pk;
}

const uint8_t *vrm_identity_sign_sk(const vrm_identity *id)
{
    return id->sign_sk;
}

const uint8_t *vrm_identity_box_pk(const vrm_identity *id)
{
    return id->box_pk;
}

const uint8_t *vrm_identity_box_sk(const vrm_identity *id)
{
    return id->box_sk;
}

int vrm_identity_json(const vrm_identity *id, char **out, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    size_t i;
    int rc = -ENOMEM;

    *out = NULL;
    if (o == NULL)
        goto out;
    for (i = 0; i < NMEMBERS; i++)
        if (cJSON_AddStringToObject(o, members[i].key, members[i].value(id)) == NULL)
            goto out;
    rc = vrm_json_pretty(o, out, len);
    assert(rc != 0 || *len == vrm_identity_json_size());
out:
    cJSON_Delete(o);
    return rc;
}

size_t vrm_identity_json_size(void)
{
    size_t i, len = 2 + 2;                     /* "{\n" and "}\n" */

    /* each member on a line of its own, `  "KEY": "VALUE"`, with a comma
     * after all but the last: base64url holds nothing JSON escapes */
    for (i = 0; i < NMEMBERS; i++)
        len += 2 + strlen(members[i].key) + 2 + 2 +
               (sodium_base64_ENCODED_LEN(members[i].raw,
                                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1) +
               2 + (i + 1 < NMEMBERS) + 1;
    return len;
}
