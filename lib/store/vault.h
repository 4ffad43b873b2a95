/*
 * vault.h: a person's vault: a directory holding vault.json (the wrapped
 * master key) and vault.db (an SQLite database whose every page is encrypted,
 * see cryptvfs.h).
 *
 * Keys: a random 32-byte master key is wrapped (XChaCha20-Poly1305) twice, by
 * a key derived from the passphrase with Argon2id, and by a random recovery
 * key shown once at creation.  Every other key derives from the master key
 * with crypto_kdf_derive_from_key, so a passphrase change rewrites vault.json
 * only.  vault.json is authenticated as a whole by a MAC under a subkey, so a
 * change to any of its fields is detected once the master key is unwrapped.
 *
 * While a vault is open its directory is locked (flock on vault.lock), so
 * one process at a time owns it.  All functions of an open vault are safe to
 * call from several threads; they are serialised by the vault's mutex.
 */
#ifndef VRM_VAULT_H
#define VRM_VAULT_H

#include <stddef.h>
#include <stdint.h>

#define VRM_FORMAT_VERSION 1          /* vault.json "format" this build writes */
#define VRM_KEYBYTES 32
#define VRM_RECOVERY_KEY_LEN 79       /* 64 hex digits in 16 groups of 4, dashes */

typedef struct vrm_vault vrm_vault;

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

/* How to open. */
enum {
    VRM_OPEN_READONLY = 1 << 0,       /* no writes; no migrations */
    VRM_OPEN_SYNC_FULL = 1 << 1,      /* fsync the WAL at every commit */
    VRM_OPEN_WAIT = 1 << 2,           /* wait up to 15 s for a holder of the
                                         lock that left no note (a daemon
                                         closing after an unmount) */
};

/* Receives the recovery key (printable, NUL-terminated) while a vault is being
 * created, before it is put in place; a non-zero return (a negative errno)
 * abandons the creation and is returned by vrm_vault_create. */
typedef int (*vrm_recovery_fn)(void *ctx, const char *recovery_key);

/* Create a new vault in `dir` (made with mode 0700 if missing; an existing
 * directory must be empty).  The recovery key is handed to `keep` once.
 * Returns 0; -EEXIST if `dir` already holds a vault or anything else;
 * -EINVAL for an empty passphrase or out-of-range limits; -ENOSPC if the
 * disk is full.  On failure nothing it created is left behind. */
int vrm_vault_create(const char *dir, const char *pass, size_t passlen,
                     const vrm_kdf_limits *limits, vrm_recovery_fn keep, void *ctx)
    __attribute__((warn_unused_result));

/* Remove a closed vault's files from `dir` (vault.json, the database and its
 * WAL, the lock file), and `dir` too if `remove_dir` and it is then empty:
 * for a vault just created whose filling failed. */
void vrm_vault_discard(const char *dir, int remove_dir);

/* Close, committing nothing that is not already committed; wipes keys.
 * Accepts NULL.  Returns 0 or a negative errno from the final checkpoint. */
int vrm_vault_close(vrm_vault *v);

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

/* What vrm_vault_check() found. */
typedef struct vrm_check_report {
    void (*bad)(void *ctx, const char *what);        /* one line per problem */
    void (*note)(void *ctx, const char *what);       /* not a problem */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
} vrm_check_report;

/* Unwrap the key, authenticate every page of the database and WAL, then run
 * SQLite's integrity check read-only.  Returns the number of problems found
 * (0 = healthy) or a negative errno as vrm_vault_open (vrm.h) does. */
int vrm_vault_check(const char *dir, const char *pass, size_t passlen,
                    const vrm_check_report *report);

/* Progress of vrm_vault_backup: pages copied so far out of total. */
typedef void (*vrm_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Copy the vault in `dir` into `dest`, a new directory (made with mode 0700;
 * an existing one must be empty): vault.json as it is, and the database with
 * SQLite's online backup API from a read-only connection through the vault's
 * encrypting VFS into dest/vault.db through the same VFS, so every page stays
 * encrypted under the same key and vault id and the same passphrase and
 * recovery key open the copy.  Does not take the vault lock: works while the
 * vault is mounted and in use, and copies one snapshot: what was committed
 * when the copy started (WAL included), in one read transaction that blocks
 * no writer.  The copy ends checkpointed (no -wal) and synced.  `progress`
 * (may be NULL) is called after every step of 256 pages.
 * Returns 0; -EEXIST if `dest` exists and is not empty; -EBADMSG if a page
 * of the vault fails authentication; otherwise as vrm_vault_open.  On failure nothing it created is left behind. */
int vrm_vault_backup(const char *dir, const char *pass, size_t passlen, const char *dest,
                     vrm_progress_fn progress, void *ctx)
    __attribute__((warn_unused_result));

/* Say in the vault's lock file what holds it, e.g. "mounted at /home/ada/mnt
 * by process 4242", so that another process trying to open the vault is told
 * that at once instead of waiting for the lock; NULL clears it (do that
 * before a long close).  0 or a negative errno. */
int vrm_vault_note(vrm_vault *v, const char *note);

/* Make everything committed so far durable: checkpoint the WAL into the
 * database and sync both.  0 or a negative errno. */
int vrm_vault_sync(vrm_vault *v);

/* Give the free pages of vault.db back to the file system.  Deleting frees
 * pages inside the file, which later writes reuse, but leaves its size; this
 * moves the pages at the end of the file into free ones (SQLite's
 * incremental vacuum, which the pointer map of auto_vacuum=INCREMENTAL
 * allows) and cuts the file, in steps of VRM_COMPACT_STEP pages, each its
 * own transaction followed by a checkpoint, so the WAL stays small and an
 * interruption leaves a consistent, partly compacted vault.  `progress` (may
 * be NULL) gets the free pages handled out of those there were.  *before and
 * *after (may be NULL) get vault.db's size.  The vault should be opened by
 * nothing else (the daemon's own checkpoints are waited for).
 * Returns 0; -EOPNOTSUPP (nothing changed) for a vault made without the
 * pointer map; -ENOSPC if the disk filled (the steps done stay done);
 * otherwise a negative errno. */
#define VRM_COMPACT_STEP 2560   /* pages: 10 MiB */
int vrm_vault_compact(vrm_vault *v, vrm_progress_fn progress, void *ctx, uint64_t *before,
                      uint64_t *after);

/* Derive a 32-byte subkey of the master key for `purpose` (8 characters,
 * e.g. "vrmpages") and `id`.  For libvrm's own modules. */
int vrm_vault_subkey(const vrm_vault *v, uint8_t out[VRM_KEYBYTES],
                     uint64_t id, const char purpose[8]);

/* The vault's directory and its 16-byte id. */
const char *vrm_vault_dir(const vrm_vault *v);
const uint8_t *vrm_vault_id(const vrm_vault *v);

#endif
