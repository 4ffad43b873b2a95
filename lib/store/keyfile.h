/*
 * keyfile.h: vault.json, the key file of a vault: the master key wrapped
 * under the passphrase and under the recovery key.
 *
 * A random 32-byte master key is wrapped (XChaCha20-Poly1305) twice, by a
 * key derived from the passphrase with Argon2id, and by a random recovery
 * key shown once at creation.  Every other key derives from the master key
 * with crypto_kdf_derive_from_key, so a passphrase change rewrites
 * vault.json only.  vault.json is authenticated as a whole by a MAC under a
 * subkey, so a change to any of its fields is detected once the master key
 * is unwrapped.  Its format is in keyfile.c and vrmfs(5).
 */
#ifndef VRM_KEYFILE_H
#define VRM_KEYFILE_H

#include <stddef.h>

#define VRM_FORMAT_VERSION 1          /* vault.json "format" this build writes */
#define VRM_KEYBYTES 32
#define VRM_RECOVERY_KEY_LEN 79       /* 64 hex digits in 16 groups of 4, dashes */

/* The most Argon2id cost a vault may ask for (libsodium's SENSITIVE is 4
 * passes over 1 GiB): init refuses more, and open takes a vault.json asking
 * for more as tampered, before spending it. */
#define VRM_KDF_OPS_MAX 64
#define VRM_KDF_MEM_MAX ((size_t)4 << 30)

/* Argon2id cost; zeros mean libsodium's MODERATE limits. */
typedef struct vrm_kdf_limits {
    unsigned long long ops;           /* passes over memory */
    size_t mem;                       /* bytes */
} vrm_kdf_limits;

/* Change the passphrase: unwraps with `old`, wraps again under `new_pass` with
 * a new salt and the same Argon2id limits.  Data is not re-encrypted.  Does
 * not need the vault lock, so it works while the vault is mounted. */
int vrm_vault_passwd(const char *dir, const char *old, size_t oldlen,
                     const char *new_pass, size_t newlen)
    __attribute__((warn_unused_result));

/* Set a new passphrase with the recovery key (dashes, spaces and case are
 * ignored).  -EKEYREJECTED if the recovery key is wrong. */
int vrm_vault_recover(const char *dir, const char *recovery,
                      const char *new_pass, size_t newlen)
    __attribute__((warn_unused_result));

#endif
