/*
 * vault.h: a person's vault: a directory holding vault.json (the wrapped
 * master key, keyfile.h) and vault.db (an SQLite database whose every page
 * is encrypted, see cryptvfs.h).
 *
 * While a vault is open its directory is locked (flock on vault.lock), so
 * one process at a time owns it.  All functions of an open vault are safe to
 * call from several threads; they are serialised by the vault's mutex.
 * Opening is the front door's (vrm_vault_open, vrm.h); backup, check and
 * compact are maint.h's.
 */
#ifndef VRM_VAULT_H
#define VRM_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "store/keyfile.h"

typedef struct vrm_vault vrm_vault;

/* Progress of a long operation (a backup, a compaction, an export): how
 * much is done so far out of the total. */
typedef void (*vrm_progress_fn)(void *ctx, uint64_t done, uint64_t total);


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
int vrm_vault_close(vrm_vault *v) __attribute__((warn_unused_result));

/* Say in the vault's lock file what holds it, e.g. "mounted at /home/ada/mnt
 * by process 4242", so that another process trying to open the vault is told
 * that at once instead of waiting for the lock; NULL clears it (do that
 * before a long close).  0 or a negative errno. */
int vrm_vault_note(vrm_vault *v, const char *note) __attribute__((warn_unused_result));

/* Make everything committed so far durable: checkpoint the WAL into the
 * database and sync both.  0 or a negative errno. */
int vrm_vault_sync(vrm_vault *v) __attribute__((warn_unused_result));

/* The vault's directory and its 16-byte id. */
const char *vrm_vault_dir(const vrm_vault *v);
const uint8_t *vrm_vault_id(const vrm_vault *v);

#endif
