/*
 * maint.h: keeping a vault: checking every page, copying it while it is in
 * use, and giving back the space of deleted data.
 */
#ifndef VRM_MAINT_H
#define VRM_MAINT_H

#include <stddef.h>
#include <stdint.h>

#include "store/vault.h"

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
                    const vrm_check_report *report) __attribute__((warn_unused_result));

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
                      uint64_t *after) __attribute__((warn_unused_result));

#endif
