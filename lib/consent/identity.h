/*
 * identity.h: the person's pairwise identity for one vendor.
 *
 * For each vendor name the person has an identifier and two key pairs,
 * Ed25519 (signatures: receipts, messages) and X25519 (sealed replies),
 * derived from the vault's master key and the vendor's name alone: nothing
 * is stored, the same vendor always gets the same identity, and no two
 * vendors share one or can link them.  Derivation: a subkey of the master
 * key (purpose "vrmpairw", id 0; or the root a vault brought back from an
 * export keeps: vrm_vault_pairwise_root gives either) keys a BLAKE2b hash
 * (crypto_generichash, 32 bytes) of the vendor name, which gives one
 * 32-byte seed per vendor; from it, as key of BLAKE2b over the empty
 * message under distinct 16-byte personal strings
 * (crypto_generichash_blake2b_salt_personal, salt zero), the Ed25519 seed
 * ("vrmfs-ed25519", for crypto_sign_seed_keypair), the X25519 seed
 * ("vrmfs-x25519", for crypto_box_seed_keypair) and the 16 bytes of the
 * identifier ("vrmfs-id").  Changing any of these changes every identity.
 *
 * Public keys and the id are written as unpadded base64url
 * (sodium_bin2base64 with sodium_base64_VARIANT_URLSAFE_NO_PADDING).
 * Secret keys live in sodium_malloc'd memory, wiped on free.
 */
#ifndef VRM_IDENTITY_H
#define VRM_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "base/b64url.h"
#include "store/vault.h"

#define VRM_ID_B64_MAX 64              /* room for any base64url value here, NUL included */

typedef struct vrm_identity vrm_identity;   /* opaque; holds secrets */

/* Derive the person's identity for `vendor` (a valid vendor name, see
 * vrm_vendor_name_valid; it need not be registered).  Touches no database,
 * so it may be called with or without the vault mutex.  0 and *out (free
 * with vrm_identity_free; *out is NULL on failure), -EINVAL, -ENOMEM. */
int vrm_identity_derive(const vrm_vault *v, const char *vendor, vrm_identity **out)
    __attribute__((warn_unused_result));

/* Wipe and free; NULL is fine. */
void vrm_identity_free(vrm_identity *id);

/* The identifier and public keys, unpadded base64url, NUL-terminated. */
const char *vrm_identity_id(const vrm_identity *id);
const char *vrm_identity_ed25519(const vrm_identity *id);
const char *vrm_identity_x25519(const vrm_identity *id);

/* The raw keys (32 bytes public, 64 bytes Ed25519 secret as libsodium's
 * crypto_sign, 32 bytes X25519 secret). */
const uint8_t *vrm_identity_sign_pk(const vrm_identity *id);
const uint8_t *vrm_identity_sign_sk(const vrm_identity *id);
const uint8_t *vrm_identity_box_pk(const vrm_identity *id);
const uint8_t *vrm_identity_box_sk(const vrm_identity *id);

/* identity.json: {"id": ..., "ed25519": ..., "x25519": ...} pretty with a
 * final newline (as vrm_json_pretty).  0 and *out (free()), or -ENOMEM. */
int vrm_identity_json(const vrm_identity *id, char **out, size_t *len)
    __attribute__((warn_unused_result));

/* The length of identity.json as vrm_identity_json gives it, the same for
 * every identity: its values are base64url of fixed lengths, which JSON
 * never escapes.  Derives nothing. */
size_t vrm_identity_json_size(void);

#endif
