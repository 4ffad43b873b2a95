/*
 * vault.c: an open vault: its lock, its connections (the writer, the read
 * connections, the checkpointer's), their statements, transactions and
 * hooks; and making a new vault.  vault.json is keyfile.c's, backup, check
 * and compact maint.c's.
 */
#define _GNU_SOURCE
#include "store/vault_int.h"
#include "base/error.h"
#include "base/fileio.h"
#include "store/keyfile_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* Subkey ids under the master key (keyfile.c has the header's, 2). */
enum { SUBKEY_PAGES = 1 };

/* ---- the vault ------------------------------------------------------- */

void vrm_vault_lock(vrm_vault *v)
{
    pthread_mutex_lock(&v->mu);
}

void vrm_vault_unlock(vrm_vault *v)
{
    pthread_mutex_unlock(&v->mu);
}

sqlite3 *vrm_vault_sqlite(vrm_vault *v)
{
    return v->db;
}

int vrm_vault_exec(vrm_vault *v, const char *sql)
{
    return sqlite3_exec(v->db, sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0 : vrm_error_from_db(v->db, "database");
}

int vrm_vault_run(vrm_vault *v, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
}

int vrm_vault_step(vrm_vault *v, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW)
        return 1;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
}

/* Run a statement of the cache that returns no rows. */
static int run_sql(vrm_vault *v, const char *sql)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, sql, &st);

    return rc != 0 ? rc : vrm_vault_run(v, st);
}

int vrm_tx_begin(vrm_vault *v)
{
    return run_sql(v, "BEGIN IMMEDIATE");
}

int vrm_tx_finish(vrm_vault *v, int rc)
{
    if (rc >= 0) {
        int c = run_sql(v, "COMMIT");

        if (c == 0)
            return rc;
        rc = c;
    }
    if (!sqlite3_get_autocommit(v->db))
        sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int vrm_find_named_locked(vrm_vault *v, const char *sql, const char *coll, const char *name,
                          const char *what, sqlite3_stmt **st)
{
    int rc = vrm_vault_stmt(v, sql, st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(*st, 1, coll, -1, SQLITE_STATIC);
    sqlite3_bind_text(*st, 2, name, -1, SQLITE_STATIC);
    rc = vrm_vault_step(v, *st);
    if (rc == 0)
        return vrm_error(ENOENT, "no %s %s/%s", what, coll, name);
    return rc == 1 ? 0 : rc;
}

int vrm_vault_record_changed_locked(vrm_vault *v, const char *coll, const char *name,
                                    const char *old_body, const char *new_body)
{
    if (v->record_hook == NULL)
        return 0;
    return v->record_hook(v->record_hook_ctx, v, coll, name, old_body, new_body);
}

/* Prepare `sql` on db once and keep it in c; hand it back reset and
 * unbound.  The cache is keyed by the literal's address. */
static int stmt_cache_get(vrm_stmt_cache *c, sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    size_t i;

    for (i = 0; i < c->cap && c->slot[i].sql != NULL; i++)
        if (c->slot[i].sql == sql) {
            sqlite3_reset(c->slot[i].st);
            sqlite3_clear_bindings(c->slot[i].st);
            *out = c->slot[i].st;
            return 0;
        }
    if (i == c->cap)
        return vrm_error(ENOSPC, "internal: statement cache full (%zu statements)", c->cap);
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return vrm_error_from_db(db, "database");
    c->slot[i].sql = sql;
    c->slot[i].st = *out;
    return 0;
}

/* Finalize every statement of c; it is empty and usable again. */
static void stmt_cache_release(vrm_stmt_cache *c)
{
    size_t i;

    for (i = 0; i < c->cap && c->slot[i].sql != NULL; i++) {
        sqlite3_finalize(c->slot[i].st);
        c->slot[i].sql = NULL;
        c->slot[i].st = NULL;
    }
}

void *vrm_vault_slot(vrm_vault *v, int which, void *(*make)(void), void (*release)(void *p))
{
    void *p;

    pthread_mutex_lock(&v->slots_mu);
    if (v->slots[which].p == NULL && (v->slots[which].p = make()) != NULL)
        v->slots[which].release = release;
    p = v->slots[which].p;
    pthread_mutex_unlock(&v->slots_mu);
    return p;
}

int vrm_vault_stmt(vrm_vault *v, const char *sql, sqlite3_stmt **out)
{
    return stmt_cache_get(&v->stmts, v->db, sql, out);
}

int vrm_reader_stmt(vrm_reader *r, const char *sql, sqlite3_stmt **out)
{
    return stmt_cache_get(&r->stmts, r->db, sql, out);
}

vrm_reader *vrm_vault_reader_get(vrm_vault *v)
{
    static _Thread_local unsigned next;  /* where this thread waits if all are busy */
    int i;

    if (v->nreaders == 0)
        return NULL;
    for (i = 0; i < v->nreaders; i++)
        if (pthread_mutex_trylock(&v->readers[i].mu) == 0)
            return &v->readers[i];
    i = (int)(next++ % (unsigned)v->nreaders);
    pthread_mutex_lock(&v->readers[i].mu);
    return &v->readers[i];
}

void vrm_vault_reader_release(vrm_reader *r)
{
    if (r != NULL)
        pthread_mutex_unlock(&r->mu);
}

/* Open the read connections (one per core, 2 to VRM_READERS_MAX).  Without
 * them reads go through v->db, so a failure here is not an error. */
static void readers_open(vrm_vault *v)
{
    char *path = vrm_path_join(v->dir, "vault.db");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int want = cores < 2 ? 2 : cores > VRM_READERS_MAX ? VRM_READERS_MAX : (int)cores;
    char pragmas[160];

    snprintf(pragmas, sizeof pragmas, "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=0; "
             "PRAGMA cache_size=-%d; PRAGMA schema_version", VRM_READER_CACHE_KIB);
    while (path != NULL && v->nreaders < want) {
        vrm_reader *r = &v->readers[v->nreaders];

        memset(r, 0, sizeof *r);
        r->stmts.slot = r->stmt_slots;
        r->stmts.cap = VRM_READER_STMTS;
        if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX |
                            SQLITE_OPEN_EXRESCODE, vrm_cryptvfs_name(v->vfs)) != SQLITE_OK ||
            sqlite3_busy_timeout(r->db, 5000) != SQLITE_OK ||
            sqlite3_exec(r->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
            pthread_mutex_init(&r->mu, NULL) != 0) {
            sqlite3_close(r->db);
            r->db = NULL;
            break;
        }
        v->nreaders++;
    }
    free(path);
}

static void readers_close(vrm_vault *v)
{
    int i;

    for (i = 0; i < v->nreaders; i++) {
        vrm_reader *r = &v->readers[i];

        stmt_cache_release(&r->stmts);
        sqlite3_close(r->db);
        pthread_mutex_destroy(&r->mu);
        memset(r, 0, sizeof *r);
    }
    v->nreaders = 0;
}

const char *vrm_vault_dir(const vrm_vault *v)
{
    return v->dir;
}

const uint8_t *vrm_vault_id(const vrm_vault *v)
{
    return v->id;
}

/* Subkey id under purpose "vrmpairw" (identity.h); one value for all
 * vendors, since the vendor name goes into the keyed hash. */
#define PAIRWISE_SUBKEY_ID 0

void vrm_vault_pairwise_root(const vrm_vault *v, uint8_t out[VRM_KEYBYTES])
{
    if (v->pairwise != NULL)
        memcpy(out, v->pairwise, VRM_KEYBYTES);
    else if (vrm_keyfile_subkey(out, v->master, PAIRWISE_SUBKEY_ID, "vrmpairw") != 0)
        memset(out, 0, VRM_KEYBYTES);   /* not reached: the arguments are fixed */
}

/* Load the settings' "pairwise-root", if the vault has one. */
static int pairwise_load(vrm_vault *v)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, step;

    if (sqlite3_prepare_v2(v->db, "SELECT value FROM settings WHERE key = 'pairwise-root'",
                           -1, &st, NULL) != SQLITE_OK)
        return vrm_vault_sqlerr(v, "cannot read the vault's settings");
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != VRM_KEYBYTES) {
            rc = vrm_error(EBADMSG, "the vault's pairwise-root setting has %d bytes, not %d",
                           sqlite3_column_bytes(st, 0), VRM_KEYBYTES);
        } else if ((v->pairwise = sodium_malloc(VRM_KEYBYTES)) == NULL) {
            rc = -ENOMEM;
        } else {
            memcpy(v->pairwise, sqlite3_column_blob(st, 0), VRM_KEYBYTES);
            sodium_mprotect_readonly(v->pairwise);
        }
    } else if (step != SQLITE_DONE) {
        rc = vrm_vault_sqlerr(v, "cannot read the vault's settings");
    }
    sqlite3_finalize(st);
    return rc;
}

int vrm_vault_set_pairwise_root_locked(vrm_vault *v, const uint8_t root[VRM_KEYBYTES])
{
    sqlite3_stmt *st;
    uint8_t *copy;
    int rc;

    if (v->pairwise != NULL)
        return vrm_error(EEXIST, "the vault already has its pairwise identities' root");
    rc = vrm_vault_stmt(v, "INSERT INTO settings(key, value) VALUES ('pairwise-root', ?1)", &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_blob(st, 1, root, VRM_KEYBYTES, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "cannot store a setting");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != 0)
        return rc;
    copy = sodium_malloc(VRM_KEYBYTES);
    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, root, VRM_KEYBYTES);
    sodium_mprotect_readonly(copy);
    v->pairwise = copy;
    return 0;
}

vrm_vault *vrm_vault_new(const char *dir, unsigned flags)
{
    vrm_vault *v = calloc(1, sizeof *v);
    int i;

    if (v == NULL)
        return NULL;
    v->lockfd = -1;
    v->flags = flags;
    for (i = 0; i < VRM_GEN_COUNT; i++)
        v->gen[i] = 1;
    v->stmts.slot = v->stmt_slots;
    v->stmts.cap = VRM_STMT_CACHE;
    v->dir = strdup(dir);
    v->master = sodium_malloc(VRM_KEYBYTES);
    if (v->dir == NULL || v->master == NULL || pthread_mutex_init(&v->mu, NULL) != 0 ||
        pthread_mutex_init(&v->slots_mu, NULL) != 0 ||
        pthread_mutex_init(&v->ckpt_mu, NULL) != 0 || pthread_cond_init(&v->ckpt_cv, NULL) != 0 ||
        pthread_mutex_init(&v->ckpt_run, NULL) != 0) {
        free(v->dir);
        sodium_free(v->master);
        free(v);
        return NULL;
    }
    return v;
}

static void checkpointer_stop(vrm_vault *v);

void vrm_vault_free(vrm_vault *v)
{
    int i;

    if (v == NULL)
        return;
    readers_close(v);
    checkpointer_stop(v);
    stmt_cache_release(&v->stmts);
    if (v->db != NULL)
        sqlite3_close(v->db);
    vrm_cryptvfs_destroy(v->vfs);
    if (v->lockfd >= 0)
        close(v->lockfd);
    sodium_free(v->master);
    sodium_free(v->pairwise);
    for (i = 0; i < VRM_SLOT_COUNT; i++)
        if (v->slots[i].p != NULL)
            v->slots[i].release(v->slots[i].p);
    pthread_mutex_destroy(&v->slots_mu);
    pthread_mutex_destroy(&v->mu);
    pthread_mutex_destroy(&v->ckpt_mu);
    pthread_mutex_destroy(&v->ckpt_run);
    pthread_cond_destroy(&v->ckpt_cv);
    free(v->dir);
    free(v);
}

/* Take the vault's lock file, so only one process has the database open. */
/* Take the vault's lock file, so only one process has the database open.
 * The holder may have written what it is doing into the file (see
 * vrm_vault_note): then the vault is busy and we say so at once.  An empty
 * note means the holder is closing (a daemon finishing its last checkpoint
 * after an unmount) or checking: with VRM_OPEN_WAIT, wait for it, up to
 * LOCK_WAIT_MS. */
#define LOCK_WAIT_MS 15000

int vrm_vault_lock_dir(vrm_vault *v)
{
    char *path = vrm_path_join(v->dir, "vault.lock"), note[300];
    int rc = 0, waited = 0;
    ssize_t n;

    if (path == NULL)
        return -ENOMEM;
    v->lockfd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (v->lockfd < 0) {
        rc = vrm_error(errno, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    while (flock(v->lockfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            rc = vrm_error(errno, "cannot lock %s: %s", path, strerror(errno));
            goto out;
        }
        n = pread(v->lockfd, note, sizeof note - 1, 0);
        if (n > 0) {
            note[n] = '\0';
            note[strcspn(note, "\n")] = '\0';
            rc = vrm_error(EBUSY, "the vault at %s is in use: %s", v->dir, note);
            goto out;
        }
        if (!(v->flags & VRM_OPEN_WAIT) || waited >= LOCK_WAIT_MS) {
            rc = vrm_error(EBUSY, "the vault at %s is in use by another process", v->dir);
            goto out;
        }
        usleep(50 * 1000);
        waited += 50;
    }
out:
    free(path);
    return rc;
}

int vrm_vault_note(vrm_vault *v, const char *note)
{
    size_t n = note ? strlen(note) : 0;

    if (v->lockfd < 0)
        return -EBADF;
    if (ftruncate(v->lockfd, 0) != 0)
        return vrm_error(errno, "vault.lock: %s", strerror(errno));
    if (n > 0 && (pwrite(v->lockfd, note, n, 0) != (ssize_t)n || pwrite(v->lockfd, "\n", 1,
                                                                     (off_t)n) != 1))
        return vrm_error(errno ? errno : EIO, "vault.lock: %s", strerror(errno ? errno : EIO));
    return 0;
}

/* The page key derives from the master key, and the VFS from both. */
static int vault_make_vfs(vrm_vault *v)
{
    uint8_t *key = sodium_malloc(VRM_KEYBYTES);
    int rc;

    if (key == NULL)
        return -ENOMEM;
    rc = vrm_keyfile_subkey(key, v->master, SUBKEY_PAGES, "vrmpages");
    if (rc == 0)
        rc = vrm_cryptvfs_create(&v->vfs, key, v->id);
    sodium_free(key);
    return rc;
}

int vrm_vault_sqlerr(vrm_vault *v, const char *what)
{
    return vrm_error_from_db(v->db, what);
}

/* Open vault.db through the shim and set the connection up.  `create` makes
 * a new database: page size and reserved bytes are fixed before its first
 * page is written, and it goes straight from an in-memory journal to WAL, so
 * no rollback journal file is ever needed. */
int vrm_vault_open_db(vrm_vault *v, int create)
{
    char *path = vrm_path_join(v->dir, "vault.db");
    int flags = SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX;
    int rc = 0, reserve = VRM_PAGE_RESERVE;
    char pragmas[256];
    sqlite3_stmt *st = NULL;

    if (path == NULL)
        return -ENOMEM;
    if (create)
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    else if (v->flags & VRM_OPEN_READONLY)
        flags |= SQLITE_OPEN_READONLY;
    else
        flags |= SQLITE_OPEN_READWRITE;
    if (!create && access(path, F_OK) != 0) {
        rc = vrm_error(ENOENT, "the vault at %s has no vault.db", v->dir);
        goto out;
    }
    if (sqlite3_open_v2(path, &v->db, flags, vrm_cryptvfs_name(v->vfs)) != SQLITE_OK) {
        rc = vrm_vault_sqlerr(v, "cannot open vault.db");
        goto out;
    }
    sqlite3_extended_result_codes(v->db, 1);
    sqlite3_busy_timeout(v->db, 5000);
    /* The WAL and its index take the database file's mode. */
    if (create && chmod(path, 0600) != 0) {
        rc = vrm_error(errno, "cannot set the mode of %s: %s", path, strerror(errno));
        goto out;
    }
    /* The page cache is where the vault's plaintext lives: every page read
     * from the file costs a decryption (3.6 us per 4 KiB page here) that
     * plain SQLite does not pay, so a cache miss costs the vault about twice
     * what it costs plain SQLite.  VRM_VAULT_CACHE_KIB (128 MiB) is a limit,
     * not an allocation: SQLite allocates cache pages as they are first
     * used, so a vault of 10 MiB costs 10 MiB, and only a vault (or a file
     * read through it) of 128 MiB or more holds the full 128 MiB (+ ~5% of
     * page headers) for as long as it is open.  Measured with
     * tests/bench (an 80 MiB database, the same cache on every backend),
     * vault / plain SQLite:
     *     cache      16 MiB   32 MiB   64 MiB   128 MiB
     *     reads      1.80x    1.43x    1.12x    0.96x
     *     aggregate  2.23x    1.97x    1.61x    0.99x
     * Point reads and the aggregate come within 1.3x only when the working
     * set fits.  The plaintext stays in process memory as it did at 16 MiB,
     * just more of it: swap, if any, should be encrypted (as for any
     * program holding decrypted data). */
    /* secure_delete=FAST, not Debian's default ON: ON zeroes every page
     * SQLite frees, which for a document means writing (and encrypting,
     * twice: WAL, then checkpoint) as much as it held; deleting a 256 MiB
     * file took longer than writing it.  FAST still zeroes what is deleted
     * from a b-tree page (records, names, small rows) when that page is
     * written anyway, and leaves freed pages as they were: ciphertext under
     * the vault's page key, reused by later writes (vrmfs(5), "Deleting and
     * compacting"). */
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=0; PRAGMA foreign_keys=ON;"
             "PRAGMA secure_delete=FAST; "
             "PRAGMA cache_size=-%d; PRAGMA synchronous=%s;", VRM_VAULT_CACHE_KIB,
             (v->flags & VRM_OPEN_SYNC_FULL) ? "FULL" : "NORMAL");
    if ((rc = vrm_vault_exec(v, pragmas)) != 0)
        goto out;
    /* auto_vacuum=INCREMENTAL keeps a pointer map (one page per 811),
     * from which SQLite finds each next page of a document chunk's overflow
     * chain without reading the page before it: deleting a 256 MiB file
     * read and decrypted all its 65,536 pages (0.3-0.4 s) just to free
     * them, and now reads a few dozen (0.02 s).  The pages stay in the
     * file, free, as before; no incremental_vacuum is run.  Set in the
     * in-memory journal mode: it writes the header, and the shim opens no
     * rollback journal.  Vaults made before keep auto_vacuum=NONE. */
    if (create) {
        if ((rc = vrm_vault_exec(v, "PRAGMA page_size=4096")) != 0)
            goto out;
        sqlite3_file_control(v->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
        if ((rc = vrm_vault_exec(v, "PRAGMA journal_mode=MEMORY")) != 0 ||
            (rc = vrm_vault_exec(v, "PRAGMA auto_vacuum=INCREMENTAL")) != 0 ||
            (rc = vrm_vault_exec(v, "PRAGMA journal_mode=WAL")) != 0)
            goto out;
    }
    /* The first real read: a page failing authentication shows here. */
    if (sqlite3_prepare_v2(v->db, "PRAGMA journal_mode", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = vrm_vault_sqlerr(v, "cannot read vault.db");
        goto out;
    }
    if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
        rc = vrm_error(EUCLEAN, "vault.db is not in WAL mode (journal_mode=%s)",
                       sqlite3_column_text(st, 0));
        goto out;
    }
    reserve = -1;
    sqlite3_file_control(v->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
    if (reserve != VRM_PAGE_RESERVE) {
        rc = vrm_error(EUCLEAN, "vault.db reserves %d bytes per page, not %d",
                       reserve, VRM_PAGE_RESERVE);
        goto out;
    }
out:
    sqlite3_finalize(st);
    free(path);
    return rc;
}

/* ---- background checkpoints ------------------------------------------ */

/* Called by SQLite after each commit of the writer, with the WAL's size in
 * frames.  While a steady writer keeps committing, the thread never finds
 * the WAL wholly copied at the start of a write transaction, which is the
 * only time SQLite restarts it from the beginning; so the WAL would grow
 * without bound.  At CKPT_WRITER_HELPS times ckpt_frames the writer waits
 * for the thread's checkpoint and copies what is left itself, so that its
 * next transaction restarts the WAL.  It waits rather than skip its turn
 * when the thread is busy: a stream of 1 MiB writes to files/ keeps the
 * thread busy all the time, and skipping let the WAL reach 80-176 MiB during
 * a 256 MiB write, each new frame allocating disk and many missing the
 * shim's plaintext WAL cache (2,048 frames), and left the fsync at the end
 * a backlog to copy.  Waiting keeps the WAL under ~4,300 frames (17 MiB);
 * the write took as long either way (1.0-1.5 s on a noisy machine, the
 * waits adding up to ~0.3 s), as it did at 8 or 16 times instead of 4, or
 * when waking the thread only once ckpt_frames frames wait to be copied.
 * In the insert benchmark the WAL file
 * peaked at ~4,900 frames (20 MiB) at 4x, at 16,100 (66 MiB) at 16x, with
 * no measurable difference in time (best of 7: 0.534 s at 4x, 0.530 s at
 * 16x). */
#define CKPT_WRITER_HELPS 4

static int wal_hook(void *ctx, sqlite3 *db, const char *name, int nframes)
{
    vrm_vault *v = ctx;

    if (nframes >= CKPT_WRITER_HELPS * v->ckpt_frames) {
        /* The WAL is long enough: the writer helps, so it can restart. */
        pthread_mutex_lock(&v->ckpt_run);
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_unlock(&v->ckpt_run);
    } else if (nframes >= v->ckpt_frames) {
        pthread_mutex_lock(&v->ckpt_mu);
        v->ckpt_wanted = 1;
        pthread_cond_signal(&v->ckpt_cv);
        pthread_mutex_unlock(&v->ckpt_mu);
    }
    return SQLITE_OK;
}

static void *checkpointer(void *arg)
{
    vrm_vault *v = arg;

    for (;;) {
        int rc;

        pthread_mutex_lock(&v->ckpt_mu);
        while (!v->ckpt_wanted && !v->ckpt_stop)
            pthread_cond_wait(&v->ckpt_cv, &v->ckpt_mu);
        if (v->ckpt_stop) {
            pthread_mutex_unlock(&v->ckpt_mu);
            return NULL;
        }
        v->ckpt_wanted = 0;
        pthread_mutex_unlock(&v->ckpt_mu);
        pthread_mutex_lock(&v->ckpt_run);
        rc = sqlite3_wal_checkpoint_v2(v->ckpt_db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_unlock(&v->ckpt_run);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            sqlite3_log(rc, "background checkpoint: %s", sqlite3_errmsg(v->ckpt_db));
    }
}

/* Open the second connection and start the thread; on failure the vault
 * just checkpoints in the writer, as SQLite does by default. */
static void checkpointer_start(vrm_vault *v)
{
    char *path = vrm_path_join(v->dir, "vault.db");

    v->ckpt_frames = 1000;
    if (path == NULL ||
        sqlite3_open_v2(path, &v->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                        SQLITE_OPEN_EXRESCODE, vrm_cryptvfs_name(v->vfs)) != SQLITE_OK) {
        sqlite3_close(v->ckpt_db);
        v->ckpt_db = NULL;
        free(path);
        return;
    }
    free(path);
    sqlite3_busy_timeout(v->ckpt_db, 5000);
    /* The read is what makes the thread work at all: a connection that has
     * never read the database has not opened its WAL yet, and SQLite answers
     * its checkpoints with SQLITE_OK having done nothing (log and checkpoint
     * counts -1), which left every frame to the writer. */
    if (sqlite3_exec(v->ckpt_db, "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=0; "
                     "PRAGMA wal_autocheckpoint=0; PRAGMA schema_version", NULL, NULL,
                     NULL) != SQLITE_OK) {
        sqlite3_close(v->ckpt_db);
        v->ckpt_db = NULL;
        return;
    }
    if (pthread_create(&v->ckpt_thread, NULL, checkpointer, v) != 0) {
        sqlite3_close(v->ckpt_db);
        v->ckpt_db = NULL;
        return;
    }
    v->ckpt_running = 1;
    sqlite3_wal_hook(v->db, wal_hook, v);
}

static void checkpointer_stop(vrm_vault *v)
{
    if (v->ckpt_running) {
        if (v->db != NULL)
            sqlite3_wal_hook(v->db, NULL, NULL);
        pthread_mutex_lock(&v->ckpt_mu);
        v->ckpt_stop = 1;
        pthread_cond_signal(&v->ckpt_cv);
        pthread_mutex_unlock(&v->ckpt_mu);
        pthread_join(v->ckpt_thread, NULL);
        v->ckpt_running = 0;
    }
    if (v->ckpt_db != NULL) {
        sqlite3_close(v->ckpt_db);
        v->ckpt_db = NULL;
    }
}

int vrm_vault_sync_locked(vrm_vault *v)
{
    int rc;

    /* Wait out a background checkpoint rather than be told SQLITE_BUSY. */
    pthread_mutex_lock(&v->ckpt_run);
    rc = sqlite3_wal_checkpoint_v2(v->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    pthread_mutex_unlock(&v->ckpt_run);
    return rc == SQLITE_OK ? 0 : vrm_vault_sqlerr(v, "checkpoint");
}

int vrm_vault_sync(vrm_vault *v)
{
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_sync_locked(v);
    vrm_vault_unlock(v);
    return rc;
}

int vrm_vault_unwrap(vrm_vault *v, const vrm_keyfile *kf, const char *pass, size_t passlen)
{
    int rc = vrm_keyfile_unlock(kf, pass, passlen, NULL, v->master);

    if (rc != 0)
        return rc;
    memcpy(v->id, kf->id, sizeof v->id);
    sodium_mprotect_readonly(v->master);
    return vault_make_vfs(v);
}

/* A read-only open cannot migrate: the schema must be this build's. */
static int schema_current(vrm_vault *v)
{
    sqlite3_stmt *st = NULL;
    int version = -1, rc = 0;

    if (sqlite3_prepare_v2(v->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    else
        rc = vrm_vault_sqlerr(v, "cannot read vault.db");
    sqlite3_finalize(st);
    if (rc == 0 && version > vrm_schema_version())
        rc = vrm_error(EPROTONOSUPPORT, "the vault's schema (version %d) is newer than "
                       "this vrmfs knows (%d); upgrade vrmfs", version, vrm_schema_version());
    else if (rc == 0 && version < vrm_schema_version())
        rc = vrm_error(EROFS, "the vault's schema (version %d) needs upgrading to %d; "
                       "open it once read-write", version, vrm_schema_version());
    return rc;
}

int vrm_vault_open_raw(vrm_vault **out, const char *dir, const char *pass, size_t passlen,
                       unsigned flags)
{
    vrm_vault *v;
    vrm_keyfile kf;
    int rc;

    *out = NULL;
    if (sodium_init() < 0)
        return vrm_error(EIO, "libsodium failed to initialise");
    v = vrm_vault_new(dir, flags);
    if (v == NULL)
        return -ENOMEM;
    rc = vrm_keyfile_read(dir, &kf, NULL, NULL);  /* "no vault here" before a lock file */
    if (rc == 0)
        rc = vrm_vault_lock_dir(v);
    if (rc == 0)
        rc = vrm_vault_unwrap(v, &kf, pass, passlen);
    if (rc == 0)
        rc = vrm_vault_open_db(v, 0);
    if (rc == 0)
        rc = (flags & VRM_OPEN_READONLY) ? schema_current(v) : vrm_schema_migrate(v->db);
    if (rc == 0)
        rc = pairwise_load(v);
    if (rc == 0 && !(flags & VRM_OPEN_READONLY))
        checkpointer_start(v);
    if (rc == 0)
        readers_open(v);
    sodium_memzero(&kf, sizeof kf);
    if (rc != 0) {
        vrm_vault_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int vrm_vault_close(vrm_vault *v)
{
    int rc = 0;

    if (v == NULL)
        return 0;
    readers_close(v);
    checkpointer_stop(v);
    stmt_cache_release(&v->stmts);
    if (v->db != NULL && sqlite3_close(v->db) != SQLITE_OK)
        rc = vrm_vault_sqlerr(v, "closing vault.db");
    else
        v->db = NULL;
    if (v->db != NULL) {  /* statements left open: force it */
        sqlite3_close_v2(v->db);
        v->db = NULL;
    }
    vrm_vault_free(v);
    return rc;
}

void vrm_vault_discard(const char *dir, int remove_dir)
{
    static const char *const names[] = {"vault.json", "vault.json.new", "vault.db",
                                        "vault.db-wal", "vault.db-shm", "vault.lock"};
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = vrm_path_join(dir, names[i]);

        if (p != NULL)
            unlink(p);
        free(p);
    }
    if (remove_dir)
        rmdir(dir);
}

int vrm_vault_create(const char *dir, const char *pass, size_t passlen,
                     const vrm_kdf_limits *limits, vrm_recovery_fn keep, void *ctx)
{
    char recovery[VRM_RECOVERY_KEY_LEN + 1];
    vrm_vault *v = NULL;
    int made_dir = 0, rc;
    vrm_keyfile kf;

    memset(&kf, 0, sizeof kf);
    if (sodium_init() < 0)
        return vrm_error(EIO, "libsodium failed to initialise");
    if (passlen == 0)
        return vrm_error(EINVAL, "the passphrase is empty");
    if ((rc = vrm_keyfile_init(&kf, limits)) != 0)
        return rc;

    if (mkdir(dir, 0700) == 0) {
        made_dir = 1;
    } else if (errno == EEXIST) {
        char *vj = vrm_path_join(dir, "vault.json");
        int empty = vrm_dir_empty(dir);

        if (vj != NULL && access(vj, F_OK) == 0)
            rc = vrm_error(EEXIST, "%s already holds a vault; not overwriting it", dir);
        else if (empty < 0)
            rc = vrm_error(-empty, "%s: %s", dir, strerror(-empty));
        else if (!empty)
            rc = vrm_error(EEXIST, "%s exists and is not empty; not making a vault there", dir);
        else
            rc = 0;
        free(vj);
        if (rc != 0)
            return rc;
    } else {
        return vrm_error(errno, "cannot make %s: %s", dir, strerror(errno));
    }

    rc = -ENOMEM;
    v = vrm_vault_new(dir, 0);
    if (v == NULL)
        goto fail;
    if ((rc = vrm_vault_lock_dir(v)) != 0)
        goto fail;
    randombytes_buf(v->master, VRM_KEYBYTES);
    if ((rc = vrm_keyfile_seal(&kf, v->master, pass, passlen, recovery)) != 0)
        goto fail;
    memcpy(v->id, kf.id, sizeof v->id);
    if ((rc = vault_make_vfs(v)) != 0 || (rc = vrm_vault_open_db(v, 1)) != 0 ||
        (rc = vrm_schema_migrate(v->db)) != 0)
        goto fail;
    if (sqlite3_close(v->db) != SQLITE_OK) {
        rc = vrm_vault_sqlerr(v, "closing vault.db");
        goto fail;
    }
    v->db = NULL;
    rc = keep(ctx, recovery);
    if (rc != 0)
        goto fail;
    if ((rc = vrm_keyfile_write(dir, &kf, NULL, 0)) != 0)
        goto fail;
    goto out;
fail:
    if (v != NULL && v->db != NULL) {
        sqlite3_close_v2(v->db);
        v->db = NULL;
    }
    vrm_vault_discard(dir, made_dir);
out:
    if (v != NULL)
        vrm_vault_free(v);
    sodium_memzero(recovery, sizeof recovery);
    sodium_memzero(&kf, sizeof kf);
    return rc;
}
