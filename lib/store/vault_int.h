/*
 * vault_int.h: what libvrm's modules (and its tests and benchmark) may know
 * about an open vault beyond vault.h.  Not installed.
 */
#ifndef VRM_VAULT_INT_H
#define VRM_VAULT_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/cryptvfs.h"
#include "store/schema.h"
#include "store/vault.h"

#define VRM_STMT_CACHE 128

/* The page cache of the vault's connection, in KiB (PRAGMA cache_size=-N).
 * See vrm_vault_open_db() for why it is this size. */
#define VRM_VAULT_CACHE_KIB 131072

/* Read connections: files/ reads run on one of these instead of the vault's
 * connection, so that they decrypt in parallel (the kernel sends a stream's
 * readahead as several requests at once) and do not wait behind a write
 * holding the vault's mutex.  Each sees the last committed state when its
 * statement starts, which is all a read needs: every write request commits
 * before it returns.  Their page caches are small (VRM_READER_CACHE_KIB):
 * file data is cached by the kernel above the mount, and a stream read
 * through a large cache would only push the records' pages out of it. */
#define VRM_READERS_MAX 4
#define VRM_READER_STMTS 8
#define VRM_READER_CACHE_KIB 2048

/* A record changed: told by the records module inside the transaction of
 * the change, mutex held, with the old and the new compact JSON body (NULL:
 * none).  This is how the data layer tells a higher one (messaging queues an
 * update to the vendors granted those fields) without including it, as
 * SQLite's update hook does: the front door registers the hook at open
 * (vrm.c).  A negative return fails the change, which is rolled back. */
typedef int (*vrm_record_hook)(void *ctx, vrm_vault *v, const char *coll, const char *name,
                               const char *old_body, const char *new_body);

/* Statements prepared once per connection, each found again by the
 * address of the literal it was prepared from (vrm_vault_stmt).  Guarded
 * by whatever guards the connection. */
typedef struct vrm_stmt_slot {
    const char *sql;                  /* the literal; NULL: free (and all after) */
    sqlite3_stmt *st;
} vrm_stmt_slot;

typedef struct vrm_stmt_cache {
    vrm_stmt_slot *slot;              /* cap slots, owned by the connection's holder */
    size_t cap;
} vrm_stmt_cache;

/* State that a module above the store keeps for as long as the vault is
 * open, one slot per module: made by the module when first needed
 * (vrm_vault_slot), freed with the `release` it gave when the vault closes.
 * The store knows only the slots' numbers. */
enum {
    VRM_SLOT_ANALYTICS,               /* the analytics' cache of results */
    VRM_SLOT_VIEWS,                   /* the views of the vendors read lately */
    VRM_SLOT_COUNT
};

/* Counters of changes, each moved on inside the transaction of a change
 * (mutex held) and read without the mutex by the caches above the store,
 * which must not serve what a change made stale: a cached text made under
 * one value is stale under another.  What moves each is said where it
 * moves (grants.c, facts.c). */
enum {
    VRM_GEN_GRANTS,                   /* what is in force for any vendor */
    VRM_GEN_FACTS,                    /* the first of facts.c's, one per
                                         collection with facts and one for
                                         all others */
    VRM_GEN_COUNT = VRM_GEN_FACTS + 8
};

typedef struct vrm_slot {
    void *p;                          /* the module's state, or NULL */
    void (*release)(void *p);
} vrm_slot;

typedef struct vrm_reader {
    pthread_mutex_t mu;               /* held by the one thread using db */
    sqlite3 *db;                      /* read-only connection, guarded by mu */
    vrm_stmt_cache stmts;             /* over stmt_slots, guarded by mu */
    vrm_stmt_slot stmt_slots[VRM_READER_STMTS];
} vrm_reader;

struct vrm_vault {
    char *dir;                        /* vault directory, as given */
    int lockfd;                       /* vault.lock, flock'ed; -1 if none */
    uint8_t *master;                  /* master key, sodium_malloc'd, read-only */
    uint8_t *pairwise;                /* settings' "pairwise-root", sodium_malloc'd,
                                         or NULL: derive from master (identity.h);
                                         set at open, or once by an import before
                                         any identity is derived */
    uint8_t id[VRM_VAULT_IDBYTES];    /* vault id */
    vrm_cryptvfs *vfs;                /* this vault's page-encrypting VFS */
    sqlite3 *db;                      /* guarded by mu */
    unsigned flags;                   /* VRM_OPEN_* */
    pthread_mutex_t mu;               /* serialises every use of db */
    /* Checkpoints run in a thread of their own on a second connection, so
     * that copying WAL frames into the database (decrypt, encrypt again)
     * overlaps the writer's work instead of adding to it.  The writer's WAL
     * hook wakes the thread once the WAL holds ckpt_frames frames, and
     * once the WAL outgrows 4 times that waits for the thread and
     * checkpoints the rest itself (so that the WAL restarts from its
     * beginning; see wal_hook()).  The thread's
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
    vrm_stmt_cache stmts;             /* over stmt_slots, guarded by mu */
    vrm_stmt_slot stmt_slots[VRM_STMT_CACHE];
    vrm_reader readers[VRM_READERS_MAX];  /* the first nreaders are open */
    int nreaders;                     /* set at open, read-only after */
    _Atomic uint64_t gen[VRM_GEN_COUNT];  /* see VRM_GEN_*; start at 1 */
    pthread_mutex_t slots_mu;         /* guards slots; a leaf lock */
    vrm_slot slots[VRM_SLOT_COUNT];
    vrm_record_hook record_hook;      /* set once at open (vrm.c), then read-only */
    void *record_hook_ctx;
};

/* Take and release the vault's mutex around any use of v->db. */
void vrm_vault_lock(vrm_vault *v);
void vrm_vault_unlock(vrm_vault *v);

/* Checkpoint the WAL into the database now and sync, so that everything
 * committed so far is durable (synchronous=NORMAL does not sync the WAL at
 * each commit).  Mutex held. */
int vrm_vault_sync_locked(vrm_vault *v) __attribute__((warn_unused_result));

/* The open database; only with the mutex held (or single-threaded). */
sqlite3 *vrm_vault_sqlite(vrm_vault *v);

/* Run `sql` (no results) and map failure to a negative errno with SQLite's
 * message. */
int vrm_vault_exec(vrm_vault *v, const char *sql) __attribute__((warn_unused_result));

/* A prepared statement for `sql`, which must be a string literal (the cache
 * is keyed by its address), reset and unbound.  Reset it after use so that
 * no read transaction stays open.  Mutex held. */
int vrm_vault_stmt(vrm_vault *v, const char *sql, sqlite3_stmt **out)
    __attribute__((warn_unused_result));

/* A read connection, its mutex held, or NULL if the vault has none (then
 * read through v->db under the vault's mutex).  Takes a free one if there
 * is one, else waits for one.  Give it back with vrm_vault_reader_release()
 * (which accepts NULL). */
vrm_reader *vrm_vault_reader_get(vrm_vault *v);
void vrm_vault_reader_release(vrm_reader *r);

/* vrm_vault_stmt() for a read connection (at most VRM_READER_STMTS
 * statements).  Reset it after use.  r's mutex held. */
int vrm_reader_stmt(vrm_reader *r, const char *sql, sqlite3_stmt **out)
    __attribute__((warn_unused_result));

/* BEGIN IMMEDIATE; and COMMIT if rc >= 0 (0 or a count, returned as is),
 * else ROLLBACK (returns the first error).  Mutex held. */
int vrm_tx_begin(vrm_vault *v) __attribute__((warn_unused_result));
int vrm_tx_finish(vrm_vault *v, int rc) __attribute__((warn_unused_result));

/* Step a statement that returns no rows (INSERT, UPDATE, DELETE) and reset
 * it: 0, or the error as vrm_vault_sqlerr(v, "database").  Mutex held. */
int vrm_vault_run(vrm_vault *v, sqlite3_stmt *st) __attribute__((warn_unused_result));

/* Step a query once: 1 on a row (st stays on it; the caller resets it), 0
 * when there is none, or the error as vrm_vault_sqlerr(v, "database"); on 0
 * and errors st is reset.  Mutex held. */
int vrm_vault_step(vrm_vault *v, sqlite3_stmt *st) __attribute__((warn_unused_result));

/* Run `sql` (a literal, for the statement cache) with ?1 = coll and
 * ?2 = name; 0 with *st on the first row (the caller resets it), or -ENOENT
 * ("no <what> coll/name"), or another negative errno.  Mutex held. */
int vrm_find_named_locked(vrm_vault *v, const char *sql, const char *coll, const char *name,
                          const char *what, sqlite3_stmt **st)
    __attribute__((warn_unused_result));

/* Tell the record hook, if one is registered, of a change (see
 * vrm_record_hook): 0 or its negative errno.  Mutex held, in the
 * transaction of the change. */
int vrm_vault_record_changed_locked(vrm_vault *v, const char *coll, const char *name,
                                    const char *old_body, const char *new_body)
    __attribute__((warn_unused_result));

/* The state in slot `which` (VRM_SLOT_*): made with make() the first time
 * it is asked for, to be freed with release() at close; NULL if make()
 * fails (and asked again next time).  Thread-safe, with or without the
 * vault's mutex; the state's own fields are its module's to guard. */
void *vrm_vault_slot(vrm_vault *v, int which, void *(*make)(void), void (*release)(void *p));

/* The last SQLite error of v->db as a negative errno, with a message
 * "what: SQLite's message" (the shim's own message is kept for pages that
 * fail authentication). */
int vrm_vault_sqlerr(vrm_vault *v, const char *what) __attribute__((warn_unused_result));

/* The steps of opening, for maint.c's copies and checks (vault.c).
 * vrm_vault_new: an unopened vault for `dir` (nothing touched on disk), or
 * NULL.  vrm_vault_free: close whatever of it is open and free it (NULL is
 * fine).  vrm_vault_lock_dir: take vault.lock (-EBUSY, see VRM_OPEN_WAIT).
 * vrm_vault_unwrap: unwrap the master key from a read key file and make the
 * page-encrypting VFS from it.  vrm_vault_open_db: open vault.db through it
 * (`create`: a new one, page size and reserved bytes set first). */
struct vrm_keyfile;
vrm_vault *vrm_vault_new(const char *dir, unsigned flags);
void vrm_vault_free(vrm_vault *v);
int vrm_vault_lock_dir(vrm_vault *v) __attribute__((warn_unused_result));
int vrm_vault_unwrap(vrm_vault *v, const struct vrm_keyfile *kf, const char *pass,
                     size_t passlen) __attribute__((warn_unused_result));
int vrm_vault_open_db(vrm_vault *v, int create) __attribute__((warn_unused_result));

/* Open the vault alone: the key file, the database and its schema, and
 * nothing of the layers above (no hook, no clean-up of the files store):
 * what vrm_vault_open() in vrm.c builds on.  As vrm_vault_open(). */
int vrm_vault_open_raw(vrm_vault **out, const char *dir, const char *pass, size_t passlen,
                       unsigned flags) __attribute__((warn_unused_result));

/* The key the pairwise identities derive from (identity.h): the settings'
 * "pairwise-root" if the vault has one, else a subkey of the master key. */
void vrm_vault_pairwise_root(const vrm_vault *v, uint8_t out[VRM_KEYBYTES]);

/* Store `root` as the vault's "pairwise-root" (mutex held, in the caller's
 * transaction) and use it from now on.  For bringing back an export, before
 * any identity is derived.  0 or a negative errno. */
int vrm_vault_set_pairwise_root_locked(vrm_vault *v, const uint8_t root[VRM_KEYBYTES])
    __attribute__((warn_unused_result));

#endif
