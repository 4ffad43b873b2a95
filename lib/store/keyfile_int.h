/*
 * keyfile_int.h: vault.json as the vault's own code reads and writes it
 * (vault.c, maint.c).  Not installed.
 *
 *     vrm_keyfile kf;
 *     rc = vrm_keyfile_read(dir, &kf, NULL, NULL);
 *     if (rc == 0) rc = vrm_keyfile_unlock(&kf, pass, passlen, NULL, master);
 *     sodium_memzero(&kf, sizeof kf);
 */
#ifndef VRM_KEYFILE_INT_H
#define VRM_KEYFILE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "store/cryptvfs.h"
#include "store/keyfile.h"

#define VRM_WRAPBYTES (crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + VRM_KEYBYTES + \
                       crypto_aead_xchacha20poly1305_ietf_ABYTES)

/* vault.json, parsed: nothing in it is secret, but wipe it anyway. */
typedef struct vrm_keyfile {
    int format;                       /* VRM_FORMAT_VERSION */
    uint8_t id[VRM_VAULT_IDBYTES];
    unsigned long long ops;           /* Argon2id passes */
    size_t mem;                       /* Argon2id bytes */
    uint8_t salt[crypto_pwhash_SALTBYTES];
    uint8_t wrap_pass[VRM_WRAPBYTES]; /* master key under the passphrase key */
    uint8_t wrap_rec[VRM_WRAPBYTES];  /* master key under the recovery key */
    uint8_t mac[crypto_auth_BYTES];   /* over all of the above */
} vrm_keyfile;

/* Subkey `id` of the master key for `purpose` (8 characters):
 * crypto_kdf_derive_from_key.  0 or -EINVAL. */
int vrm_keyfile_subkey(uint8_t out[VRM_KEYBYTES], const uint8_t master[VRM_KEYBYTES],
                       uint64_t id, const char purpose[8]) __attribute__((warn_unused_result));

/* Load and parse dir/vault.json into *kf; with `text`, also hand back the
 * bytes parsed (malloc'd) and their length.  -ENOENT or -ENOTDIR (no vault
 * there), -EPROTONOSUPPORT (a newer format), -EBADMSG (damaged, or asking
 * for more Argon2id than VRM_KDF_*_MAX), with a message. */
int vrm_keyfile_read(const char *dir, vrm_keyfile *kf, char **text, size_t *len)
    __attribute__((warn_unused_result));

/* Unwrap the master key with the passphrase (recovery NULL) or the recovery
 * key, then authenticate the whole of *kf with it.  -EKEYREJECTED (wrong
 * passphrase or recovery key), -EBADMSG (altered), -ENOMEM. */
int vrm_keyfile_unlock(const vrm_keyfile *kf, const char *pass, size_t passlen,
                       const char *recovery, uint8_t master[VRM_KEYBYTES])
    __attribute__((warn_unused_result));

/* Start a new key file with the Argon2id `limits` (NULL or zeros: libsodium's
 * MODERATE): -EINVAL, with a message, if they are out of range. */
int vrm_keyfile_init(vrm_keyfile *kf, const vrm_kdf_limits *limits)
    __attribute__((warn_unused_result));

/* Give *kf (from vrm_keyfile_init) a new id and salt, wrap `master` under
 * the passphrase and under a new recovery key, and MAC it all; the recovery
 * key's printed form goes to `recovery` (wipe it after use).  0, or -ENOMEM
 * (Argon2id could not have its memory). */
int vrm_keyfile_seal(vrm_keyfile *kf, const uint8_t master[VRM_KEYBYTES], const char *pass,
                     size_t passlen, char recovery[VRM_RECOVERY_KEY_LEN + 1])
    __attribute__((warn_unused_result));

/* Write *kf as dir/vault.json (replacing it atomically, vrm_file_replace),
 * or `text` exactly when it is not NULL (a backup's copy of the original).
 * 0 or a negative errno with a message. */
int vrm_keyfile_write(const char *dir, const vrm_keyfile *kf, const char *text, size_t len)
    __attribute__((warn_unused_result));

#endif
