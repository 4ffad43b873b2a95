/*
 * cryptvfs.h: an SQLite VFS shim that encrypts every page of a vault.
 *
 * It sits over the default (unix) VFS and forwards everything it does not
 * change.  Pages are VRM_PAGE_SIZE bytes; the last VRM_PAGE_RESERVE bytes of
 * each page, which SQLite is told to leave unused, hold a random 24-byte nonce
 * and a 16-byte Poly1305 tag.  The rest of the page is sealed with
 * XChaCha20-Poly1305-IETF under the vault's page key; the associated data binds
 * the vault id, the file kind (database or WAL), the byte offset of the page
 * in that file and, in the WAL, the frame header's page number and commit
 * size.  SQLite always sees zeroed reserved bytes, so the checksums it
 * computes over WAL frames stay valid across recovery.
 *
 * Only the main database and its WAL are opened; any other file kind (a
 * rollback journal, a temporary file) is refused, so nothing SQLite writes can
 * reach the disk unencrypted.  Connections must therefore use
 * journal_mode=WAL and temp_store=MEMORY (vrm_vault_open does).
 *
 * A page that fails to authenticate makes the read fail with
 * SQLITE_IOERR_DATA and a message naming the file and page.  The one
 * tolerated failure is the WAL's incomplete tail: a frame whose write was cut
 * short by a crash and after which no later transaction committed.  SQLite
 * ignores such frames itself; the shim hands SQLite a page that fails SQLite's
 * own frame checksum so recovery stops there, exactly as without encryption.
 *
 * Frames appended to the WAL are written to the file in batches of up to 31
 * (127 KiB) rather than in two calls each; a batch goes out before any other
 * call on the file returns and with the frame that commits, so a committed
 * transaction is in the file when its commit returns, as without the shim.
 *
 * Each vault gets its own VFS instance, registered under a unique name, which
 * owns a copy of the page key in guarded memory.
 */
#ifndef VRM_CRYPTVFS_H
#define VRM_CRYPTVFS_H

#include <stdint.h>

#define VRM_PAGE_SIZE 4096     /* bytes per database page */
#define VRM_PAGE_RESERVE 40    /* nonce (24) + tag (16) at the end of each page */
#define VRM_PAGE_KEYBYTES 32
#define VRM_VAULT_IDBYTES 16

typedef struct vrm_cryptvfs vrm_cryptvfs;

/* Register a new VFS instance that encrypts with `key` and binds pages to
 * `vault_id`.  The key is copied into sodium_malloc'd memory.  Returns 0 and
 * sets *out, or a negative errno. */
int vrm_cryptvfs_create(vrm_cryptvfs **out, const uint8_t key[VRM_PAGE_KEYBYTES],
                        const uint8_t vault_id[VRM_VAULT_IDBYTES])
    __attribute__((warn_unused_result));

/* The name to pass to sqlite3_open_v2(). */
const char *vrm_cryptvfs_name(const vrm_cryptvfs *cv);

/* Unregister and wipe.  Every connection using it must be closed first.
 * Accepts NULL. */
void vrm_cryptvfs_destroy(vrm_cryptvfs *cv);

/* What vrm_cryptvfs_verify() tells its caller as it walks a file. */
typedef struct vrm_verify_report {
    /* a page (database, 1-based) or frame (WAL, 1-based) that is damaged */
    void (*bad)(void *ctx, const char *file, uint64_t index, const char *why);
    /* a note that is not damage (e.g. the WAL's incomplete tail) */
    void (*note)(void *ctx, const char *file, uint64_t index, const char *what);
    /* pages done so far out of total; may be NULL */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
} vrm_verify_report;

/* Authenticate every page of the database file at `db_path` and every frame
 * of the current generation of its WAL (`db_path`-wal, if present), without
 * SQLite.  Returns the number of damaged pages and frames found (0 = all
 * authentic), or a negative errno if the files cannot be read. */
int vrm_cryptvfs_verify(const vrm_cryptvfs *cv, const char *db_path,
                        const vrm_verify_report *report) __attribute__((warn_unused_result));

#endif
