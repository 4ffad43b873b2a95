/*
 * vault_int.h: what libvrm's modules (and its tests and benchmark) may know
 * about an open vault beyond vault.h.  Not installed.
 */
#ifndef VRM_VAULT_INT_H
#define VRM_VAULT_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "cryptvfs.h"
#include "vault.h"

#define VRM_STMT_CACHE 128

/* The page cache of the vault's connection, in KiB (PRAGMA cache_size=-N).
 * See vault_open_db() for why it is this size. */
#define VRM_VAULT_CACHE_KIB 131072

struct vrm_vault {
    char *dir;                        /* vault directory, as given */
    int lockfd;                       /* vault.lock, flock'ed; -1 if none */
    uint8_t *master;                  /* master key, sodium_malloc'd, read-only */
    uint8_t id[VRM_VAULT_IDBYTES];    /* vault id */
    vrm_cryptvfs *vfs;                /* this vault's page-encrypting VFS */
    sqlite3 *db;                      /* guarded by mu */
    unsigned flags;                   /* VRM_OPEN_* */
    pthread_mutex_t mu;               /* serialises every use of db */
    /* Checkpoints run in a thread of their own on a second connection, so
     * that copying WAL frames into the database (decrypt, encrypt again)
     * overlaps the writer's work instead of adding to it.  The writer's WAL
     * hook wakes the thread once the WAL holds ckpt_frames frames, and
     * checkpoints itself only once the WAL outgrows 4 times that (so that
     * the WAL restarts from its beginning; see wal_hook()).  The thread's
     * connection must have read the database before its first checkpoint
     * (checkpointer_start() says why). */
    sqlite3 *ckpt_db;                 /* used by the thread only */
    pthread_t ckpt_thread;
    int ckpt_running;                 /* the thread was started */
    pthread_mutex_t ckpt_run;         /* held while a checkpoint runs */
    pthread_mutex_t ckpt_mu;          /* guards the two fields below */
    pthread_cond_t ckpt_cv;
    int ckpt_wanted;                  /* the writer asks for a checkpoint */
    int ckpt_stop;                    /* the vault is closing */
    int ckpt_frames;                  /* WAL size that wakes the thread */
    struct {
        const char *sql;              /* the literal it was prepared from */
        sqlite3_stmt *st;
    } stmts[VRM_STMT_CACHE];          /* prepared once, guarded by mu */
};

/* Take and release the vault's mutex around any use of v->db. */
void vrm_vault_lock(vrm_vault *v);
void vrm_vault_unlock(vrm_vault *v);

/* Checkpoint the WAL into the database now and sync, so that everything
 * committed so far is durable (synchronous=NORMAL does not sync the WAL at
 * each commit).  Mutex held. */
int vrm_vault_sync_locked(vrm_vault *v);

/* The open database; only with the mutex held (or single-threaded). */
sqlite3 *vrm_vault_sqlite(vrm_vault *v);

/* Run `sql` (no results) and map failure to a negative errno with SQLite's
 * message. */
int vrm_vault_exec(vrm_vault *v, const char *sql);

/* A prepared statement for `sql`, which must be a string literal (the cache
 * is keyed by its address), reset and unbound.  Reset it after use so that
 * no read transaction stays open.  Mutex held. */
int vrm_vault_stmt(vrm_vault *v, const char *sql, sqlite3_stmt **out);

/* The last SQLite error of v->db as a negative errno, with a message
 * "what: SQLite's message" (the shim's own message is kept for pages that
 * fail authentication). */
int vrm_vault_sqlerr(vrm_vault *v, const char *what);

/* schema.c: bring the database to the current schema, one transaction per
 * step.  -EPROTONOSUPPORT if it is newer than this build knows. */
int vrm_schema_migrate(sqlite3 *db);
int vrm_schema_version(void);        /* the newest schema this build knows */

#endif
