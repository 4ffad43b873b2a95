/*
 * files.c: the file tree of files.h over the vault's database.
 *
 * Tables (schema.c, step 2): inodes, dentries, chunks, xattrs; see files.h
 * for why chunks are keyed by ino << 28 | index.  Invariants kept by every
 * function here:
 *   - a chunk row holds 1..VRM_FILES_CHUNK bytes from the chunk's start;
 *     bytes not in a row read as zeros, and so must every byte of a row at
 *     or past the file's size (rows grow with a zero tail, truncate trims),
 *     so that growing a file shows zeros;
 *   - a directory's nlink is 2 + its subdirectories, a non-directory's its
 *     names; an inode with nlink 0 is deleted (with its chunks and xattrs) as
 *     soon as no one has it open;
 *   - the open counts live in the in-memory table temp.vrm_files_open of the
 *     vault's connection: per vault, guarded by the vault's mutex like the
 *     database itself, and gone when the connection closes, so a vault opened
 *     again starts with none (no hook in vault.c is needed for that).
 * Every public function takes the mutex, and the static helpers expect it
 * held, except that vrm_files_read() runs on one of the vault's read
 * connections when it has them (vault_int.h: a committed snapshot, so that
 * reads decrypt in parallel and do not wait behind writes); the helpers
 * named _on take the connection to use.
 */
#include "data/files.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/strbuf.h"
#include "store/vault_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK VRM_FILES_CHUNK
#define IDX_BITS 28                                   /* chunk index bits of a chunk id */
#define IDX_MASK (((uint64_t)1 << IDX_BITS) - 1)
#define INO_MAX (((uint64_t)1 << (63 - IDX_BITS)) - 1)  /* so that every chunk id is >= 0 */
#define RW_MAX 0x7ffff000u                            /* Linux's MAX_RW_COUNT */
#define DEPTH_MAX 4096                                /* a deeper tree is a corrupt one */

_Static_assert(VRM_FILES_SIZE_MAX == (IDX_MASK + 1) * CHUNK, "size limit matches chunk ids");

/* Columns of vrm_stat, in stat_row's order. */
#define STAT_COLS "i.ino, i.mode, i.nlink, i.uid, i.gid, i.size, i.atime, i.mtime, i.ctime"

/* The chunk id of chunk `idx` of `ino` (ino <= INO_MAX, idx <= IDX_MASK). */
static sqlite3_int64 chunk_id(uint64_t ino, uint64_t idx)
{
    return (sqlite3_int64)(ino << IDX_BITS | idx);
}

/* ---- statements and transactions ---------------------------------------- */

/* Run a cached statement without parameters or rows. */
static int run(vrm_vault *v, const char *sql)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, sql, &st);

    return rc != 0 ? rc : vrm_vault_run(v, st);
}

/* ---- names and paths ---------------------------------------------------- */

/* 0 if name[0..len) may name an entry, else -ENAMETOOLONG or -EINVAL. */
static int name_check(const char *name, size_t len)
{
    if (len > VRM_FILES_NAME_MAX)
        return vrm_error(ENAMETOOLONG, "a name has at most %d bytes", VRM_FILES_NAME_MAX);
    if (len == 0 || (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.'))))
        return vrm_error(EINVAL, "\"%.*s\" cannot name a file", (int)len, name);
    return 0;
}

/* A path cut into the directory that holds its last name, and that name. */
typedef struct vpath {
    char buf[VRM_FILES_PATH_MAX];     /* copy of the path, cut at its last '/' */
    const char *dir;                  /* the directory part (in buf, or "") */
    const char *name;                 /* the last component (in buf), NULL for the root */
    size_t len;                       /* strlen(name) */
} vpath;

/* Copy and cut `path`; checks the last name (the directory part is checked
 * while it is walked).  No database access. */
static int path_split(const char *path, vpath *p)
{
    size_t n = strnlen(path, VRM_FILES_PATH_MAX);
    char *slash;

    if (n == VRM_FILES_PATH_MAX)
        return vrm_error(ENAMETOOLONG, "a path has fewer than %d bytes", VRM_FILES_PATH_MAX);
    memcpy(p->buf, path, n + 1);
    while (n > 0 && p->buf[n - 1] == '/')
        p->buf[--n] = '\0';
    p->dir = "";
    p->name = NULL;
    p->len = 0;
    if (n == 0)
        return 0;
    slash = strrchr(p->buf, '/');
    if (slash != NULL) {
        *slash = '\0';
        p->dir = p->buf;
        p->name = slash + 1;
    } else {
        p->name = p->buf;
    }
    p->len = strlen(p->name);
    return name_check(p->name, p->len);
}

/* Fill *out from the STAT_COLS columns of st's current row, from `col` on. */
static void stat_row(sqlite3_stmt *st, int col, vrm_stat *out)
{
    out->ino = (uint64_t)sqlite3_column_int64(st, col);
    out->mode = (uint32_t)sqlite3_column_int64(st, col + 1);
    out->nlink = (uint32_t)sqlite3_column_int64(st, col + 2);
    out->uid = (uint32_t)sqlite3_column_int64(st, col + 3);
    out->gid = (uint32_t)sqlite3_column_int64(st, col + 4);
    out->size = (uint64_t)sqlite3_column_int64(st, col + 5);
    out->blocks = (out->size + 511) / 512;
    out->atime_ns = sqlite3_column_int64(st, col + 6);
    out->mtime_ns = sqlite3_column_int64(st, col + 7);
    out->ctime_ns = sqlite3_column_int64(st, col + 8);
}

/* Where a read runs: one of the vault's read connections, or the vault's
 * own connection (with the vault's mutex held). */
typedef struct conn {
    vrm_vault *v;
    vrm_reader *r;                    /* a read connection (mutex held), or NULL */
} conn;

static int conn_stmt(const conn *c, const char *sql, sqlite3_stmt **st)
{
    return c->r != NULL ? vrm_reader_stmt(c->r, sql, st) : vrm_vault_stmt(c->v, sql, st);
}

static sqlite3 *conn_db(const conn *c)
{
    return c->r != NULL ? c->r->db : c->v->db;
}

static int conn_err(const conn *c)
{
    return vrm_error_from_db(conn_db(c), "files");
}

/* The inode `ino`, read on `c`: 0 and *out, or -ENOENT. */
static int inode_get_on(const conn *c, uint64_t ino, vrm_stat *out)
{
    sqlite3_stmt *st;
    int rc = conn_stmt(c, "SELECT " STAT_COLS " FROM inodes i WHERE i.ino = ?1", &st);

    if (rc != 0)
        return rc;
    if (ino > INT64_MAX)
        ino = 0;  /* no such inode */
    sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        stat_row(st, 0, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return vrm_error(ENOENT, "no inode %llu", (unsigned long long)ino);
    return conn_err(c);
}

/* The inode `ino`: 0 and *out, or -ENOENT.  Mutex held. */
static int inode_get(vrm_vault *v, uint64_t ino, vrm_stat *out)
{
    conn c = {v, NULL};

    return inode_get_on(&c, ino, out);
}

/* The entry name[0..len) of directory `dir`: 0 and *out, or -ENOENT. */
static int lookup(vrm_vault *v, uint64_t dir, const char *name, size_t len, vrm_stat *out)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "SELECT " STAT_COLS " FROM dentries d "
                               "JOIN inodes i ON i.ino = d.ino "
                               "WHERE d.parent = ?1 AND d.name = ?2", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)dir);
    sqlite3_bind_text(st, 2, name, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        stat_row(st, 0, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return vrm_error(ENOENT, "no such file: %.*s", (int)len, name);
    return vrm_vault_sqlerr(v, "files");
}

/* Walk the directory part of `p` from the root: *dir is the directory that
 * holds p->name.  -ENOENT, -ENOTDIR, and name_check's errors. */
static int walk(vrm_vault *v, const vpath *p, vrm_stat *dir)
{
    const char *s = p->dir;
    int rc = inode_get(v, VRM_FILES_ROOT, dir);

    while (rc == 0) {
        const char *e;
        size_t len;

        while (*s == '/')
            s++;
        if (*s == '\0')
            break;
        e = strchr(s, '/');
        len = e != NULL ? (size_t)(e - s) : strlen(s);
        if ((rc = name_check(s, len)) != 0 || (rc = lookup(v, dir->ino, s, len, dir)) != 0)
            break;
        if (!S_ISDIR(dir->mode))
            rc = vrm_error(ENOTDIR, "not a directory: %.*s", (int)len, s);
        s += len;
    }
    return rc;
}

/* Walk `p` to its directory and look its name up: 0 with *dir and *st (the
 * root for the root), or an error; -ENOENT with *dir set if only the last
 * name is missing. */
static int resolve(vrm_vault *v, const vpath *p, vrm_stat *dir, vrm_stat *st)
{
    int rc = walk(v, p, dir);

    if (rc != 0)
        return rc;
    if (p->name == NULL) {
        *st = *dir;
        return 0;
    }
    return lookup(v, dir->ino, p->name, p->len, st);
}

/* Walk `p` to its directory (*dir) and check that its name is free: 0,
 * -EEXIST, or walk's errors. */
static int walk_free(vrm_vault *v, const vpath *p, vrm_stat *dir)
{
    vrm_stat st;
    int rc = walk(v, p, dir);

    if (rc != 0)
        return rc;
    if (p->name == NULL)
        return vrm_error(EEXIST, "the root exists");
    rc = lookup(v, dir->ino, p->name, p->len, &st);
    if (rc == 0)
        return vrm_error(EEXIST, "%.*s exists", (int)p->len, p->name);
    return rc == -ENOENT ? 0 : rc;
}

/* ---- changes to inodes and entries -------------------------------------- */

/* Insert an inode; *ino is its number.  -ENOSPC once numbers run out. */
static int inode_new(vrm_vault *v, uint32_t mode, uint32_t nlink, uint32_t uid, uint32_t gid,
                     const char *target, int64_t now, uint64_t *ino)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "INSERT INTO inodes(mode, nlink, uid, gid, size, atime, mtime, "
                               "ctime, target) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, ?7)", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, mode);
    sqlite3_bind_int64(st, 2, nlink);
    sqlite3_bind_int64(st, 3, uid);
    sqlite3_bind_int64(st, 4, gid);
    sqlite3_bind_int64(st, 5, target != NULL ? (sqlite3_int64)strlen(target) : 0);
    sqlite3_bind_int64(st, 6, now);
    if (target != NULL)
        sqlite3_bind_text(st, 7, target, -1, SQLITE_STATIC);
    if ((rc = vrm_vault_run(v, st)) != 0)
        return rc;
    *ino = (uint64_t)sqlite3_last_insert_rowid(v->db);
    if (*ino > INO_MAX)
        return vrm_error(ENOSPC, "the vault has used up its inode numbers");
    return 0;
}

static int dentry_add(vrm_vault *v, uint64_t dir, const char *name, size_t len, uint64_t ino)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "INSERT INTO dentries(parent, name, ino) VALUES (?1, ?2, ?3)", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)dir);
    sqlite3_bind_text(st, 2, name, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)ino);
    return vrm_vault_run(v, st);
}

static int dentry_drop(vrm_vault *v, uint64_t dir, const char *name, size_t len)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "DELETE FROM dentries WHERE parent = ?1 AND name = ?2", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)dir);
    sqlite3_bind_text(st, 2, name, (int)len, SQLITE_STATIC);
    return vrm_vault_run(v, st);
}

/* Add dlink to the nlink of `ino` and set its ctime to now, and its mtime
 * too if `content` (a directory whose entries changed). */
static int touch(vrm_vault *v, uint64_t ino, int dlink, int64_t now, int content)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "UPDATE inodes SET nlink = nlink + ?2, ctime = ?3, "
                               "mtime = CASE WHEN ?4 THEN ?3 ELSE mtime END WHERE ino = ?1", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
    sqlite3_bind_int(st, 2, dlink);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int(st, 4, content);
    return vrm_vault_run(v, st);
}

/* Write back mode, uid, gid and the three times of *s. */
static int inode_put_attrs(vrm_vault *v, const vrm_stat *s)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "UPDATE inodes SET mode = ?2, uid = ?3, gid = ?4, atime = ?5, "
                               "mtime = ?6, ctime = ?7 WHERE ino = ?1", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)s->ino);
    sqlite3_bind_int64(st, 2, s->mode);
    sqlite3_bind_int64(st, 3, s->uid);
    sqlite3_bind_int64(st, 4, s->gid);
    sqlite3_bind_int64(st, 5, s->atime_ns);
    sqlite3_bind_int64(st, 6, s->mtime_ns);
    sqlite3_bind_int64(st, 7, s->ctime_ns);
    return vrm_vault_run(v, st);
}

/* Set the size of `ino`, and its mtime and ctime to now. */
static int inode_put_size(vrm_vault *v, uint64_t ino, uint64_t size, int64_t now)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "UPDATE inodes SET size = ?2, mtime = ?3, ctime = ?3 "
                               "WHERE ino = ?1", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
    sqlite3_bind_int64(st, 3, now);
    return vrm_vault_run(v, st);
}

/* Drop the chunks of `ino` from index `first` on. */
static int chunks_drop(vrm_vault *v, uint64_t ino, uint64_t first)
{
    sqlite3_stmt *st;
    int rc;

    if (first > IDX_MASK)
        return 0;
    rc = vrm_vault_stmt(v, "DELETE FROM chunks WHERE id BETWEEN ?1 AND ?2", &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, chunk_id(ino, first));
    sqlite3_bind_int64(st, 2, chunk_id(ino, IDX_MASK));
    return vrm_vault_run(v, st);
}

/* Delete inode `ino` with its chunks and xattrs (it has no names left). */
static int inode_delete(vrm_vault *v, uint64_t ino)
{
    sqlite3_stmt *st;
    int rc = chunks_drop(v, ino, 0);

    if (rc == 0 && (rc = vrm_vault_stmt(v, "DELETE FROM xattrs WHERE ino = ?1", &st)) == 0) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
        rc = vrm_vault_run(v, st);
    }
    if (rc == 0 && (rc = vrm_vault_stmt(v, "DELETE FROM inodes WHERE ino = ?1", &st)) == 0) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
        rc = vrm_vault_run(v, st);
    }
    return rc;
}

/* Make sure temp.vrm_files_open exists on this connection. */
static int opens_ready(vrm_vault *v)
{
    return run(v, "CREATE TEMP TABLE IF NOT EXISTS vrm_files_open ("
                  "ino INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
}

/* 1 if `ino` is open, 0 if not, or a negative errno. */
static int is_open(vrm_vault *v, uint64_t ino)
{
    sqlite3_stmt *st;
    int rc = opens_ready(v);

    if (rc == 0)
        rc = vrm_vault_stmt(v, "SELECT 1 FROM temp.vrm_files_open WHERE ino = ?1", &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "files");
}

/* Delete `ino`, which now has `nlink` names, if that is 0 and no one has
 * it open. */
static int reap(vrm_vault *v, uint64_t ino, uint32_t nlink)
{
    int rc;

    if (nlink != 0)
        return 0;
    rc = is_open(v, ino);
    return rc != 0 ? (rc > 0 ? 0 : rc) : inode_delete(v, ino);
}

/* 1 if directory `dir` has an entry, 0 if not, or a negative errno. */
static int dir_has_entries(vrm_vault *v, uint64_t dir)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "SELECT 1 FROM dentries WHERE parent = ?1 LIMIT 1", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)dir);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "files");
}

/* 1 if directory `anc` is directory `dir` or one of its ancestors, 0 if
 * not, or a negative errno. */
static int is_ancestor(vrm_vault *v, uint64_t anc, uint64_t dir)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "SELECT parent FROM dentries WHERE ino = ?1", &st);
    int depth;

    if (rc != 0)
        return rc;
    for (depth = 0; depth < DEPTH_MAX; depth++) {
        if (dir == anc)
            return 1;
        if (dir == VRM_FILES_ROOT)
            return 0;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)dir);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            dir = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            return 0;  /* a removed directory, still open */
        if (rc != SQLITE_ROW)
            return vrm_vault_sqlerr(v, "files");
    }
    return vrm_error(EUCLEAN, "the file tree is deeper than %d: a loop?", DEPTH_MAX);
}

/* ---- the tree ------------------------------------------------------------ */

void vrm_files_stat_posix(const vrm_stat *in, struct stat *out)
{
    const int64_t *t[3] = {&in->atime_ns, &in->mtime_ns, &in->ctime_ns};
    struct timespec *ts[3];
    int i;

    memset(out, 0, sizeof *out);
    ts[0] = &out->st_atim;
    ts[1] = &out->st_mtim;
    ts[2] = &out->st_ctim;
    out->st_ino = (ino_t)in->ino;
    out->st_mode = (mode_t)in->mode;
    out->st_nlink = (nlink_t)in->nlink;
    out->st_uid = (uid_t)in->uid;
    out->st_gid = (gid_t)in->gid;
    out->st_size = (off_t)in->size;
    out->st_blocks = (blkcnt_t)in->blocks;
    out->st_blksize = CHUNK;
    for (i = 0; i < 3; i++) {
        int64_t ns = *t[i], sec = ns / 1000000000, rem = ns % 1000000000;

        if (rem < 0) {  /* before 1970: floor, so that tv_nsec is in [0, 1e9) */
            sec--;
            rem += 1000000000;
        }
        ts[i]->tv_sec = (time_t)sec;
        ts[i]->tv_nsec = (long)rem;
    }
}

int vrm_files_resolve(vrm_vault *v, const char *path, vrm_stat *st)
{
    vrm_stat dir;
    vpath p;
    int rc = path_split(path, &p);

    if (rc != 0)
        return rc;
    vrm_vault_lock(v);
    rc = resolve(v, &p, &dir, st);
    vrm_vault_unlock(v);
    return rc;
}

int vrm_files_getattr(vrm_vault *v, uint64_t ino, vrm_stat *st)
{
    int rc;

    vrm_vault_lock(v);
    rc = inode_get(v, ino, st);
    vrm_vault_unlock(v);
    return rc;
}

/* Make an inode of type and permissions `mode` (a link to `target` if not
 * NULL) at `path`: the body of create, mkdir and symlink. */
static int make(vrm_vault *v, const char *path, uint32_t mode, uint32_t uid, uint32_t gid,
                const char *target, vrm_stat *out)
{
    int64_t now = vrm_now_ns();
    int isdir = S_ISDIR(mode);
    vrm_stat dir;
    uint64_t ino;
    vpath p;
    int rc = path_split(path, &p);

    if (rc != 0)
        return rc;
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = walk_free(v, &p, &dir);
    if (rc != 0)
        goto done;
    if (dir.mode & S_ISGID) {  /* BSD group semantics, as Linux gives them */
        gid = dir.gid;
        if (isdir)
            mode |= S_ISGID;
    }
    rc = inode_new(v, mode, isdir ? 2 : 1, uid, gid, target, now, &ino);
    if (rc == 0)
        rc = dentry_add(v, dir.ino, p.name, p.len, ino);
    if (rc == 0)
        rc = touch(v, dir.ino, isdir ? 1 : 0, now, 1);
    if (rc == 0 && out != NULL)
        rc = inode_get(v, ino, out);
done:
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    return rc;
}

int vrm_files_create(vrm_vault *v, const char *path, uint32_t mode, uint32_t uid,
                     uint32_t gid, vrm_stat *out)
{
    return make(v, path, S_IFREG | (mode & 07777), uid, gid, NULL, out);
}

int vrm_files_mkdir(vrm_vault *v, const char *path, uint32_t mode, uint32_t uid,
                    uint32_t gid, vrm_stat *out)
{
    return make(v, path, S_IFDIR | (mode & 07777), uid, gid, NULL, out);
}

int vrm_files_symlink(vrm_vault *v, const char *target, const char *path, uint32_t uid,
                      uint32_t gid, vrm_stat *out)
{
    size_t n = strnlen(target, VRM_FILES_SYMLINK_MAX + 1);

    if (n == 0)
        return vrm_error(ENOENT, "a symbolic link needs a target");
    if (n > VRM_FILES_SYMLINK_MAX)
        return vrm_error(ENAMETOOLONG, "a link's target has at most %d bytes",
                         VRM_FILES_SYMLINK_MAX);
    return make(v, path, S_IFLNK | 0777, uid, gid, target, out);
}

int vrm_files_readlink(vrm_vault *v, const char *path, char *buf, size_t size)
{
    sqlite3_stmt *st;
    vrm_stat dir, s;
    vpath p;
    int rc = path_split(path, &p);

    if (rc != 0)
        return rc;
    vrm_vault_lock(v);
    rc = resolve(v, &p, &dir, &s);
    if (rc == 0 && !S_ISLNK(s.mode))
        rc = vrm_error(EINVAL, "%s is not a symbolic link", path);
    if (rc == 0)
        rc = vrm_vault_stmt(v, "SELECT target FROM inodes WHERE ino = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)s.ino);
        if (sqlite3_step(st) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            size_t n = (size_t)sqlite3_column_bytes(st, 0);

            if (t == NULL)
                t = "";
            if (size > 0) {
                size_t c = n < size - 1 ? n : size - 1;

                memcpy(buf, t, c);
                buf[c] = '\0';
            }
            rc = (int)n;
        } else {
            rc = vrm_vault_sqlerr(v, "files");
        }
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_files_link(vrm_vault *v, const char *from, const char *to, vrm_stat *out)
{
    int64_t now = vrm_now_ns();
    vrm_stat fdir, src, tdir;
    vpath *p = malloc(2 * sizeof *p);
    int rc;

    if (p == NULL)
        return -ENOMEM;
    if ((rc = path_split(from, &p[0])) != 0 || (rc = path_split(to, &p[1])) != 0) {
        free(p);
        return rc;
    }
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = resolve(v, &p[0], &fdir, &src);
    if (rc == 0 && S_ISDIR(src.mode))
        rc = vrm_error(EPERM, "a directory cannot have a second name");
    if (rc == 0 && src.nlink >= VRM_FILES_LINK_MAX)
        rc = vrm_error(EMLINK, "%s has %d names already", from, VRM_FILES_LINK_MAX);
    if (rc != 0)
        goto done;
    rc = walk_free(v, &p[1], &tdir);
    if (rc == 0)
        rc = dentry_add(v, tdir.ino, p[1].name, p[1].len, src.ino);
    if (rc == 0)
        rc = touch(v, src.ino, 1, now, 0);
    if (rc == 0)
        rc = touch(v, tdir.ino, 0, now, 1);
    if (rc == 0 && out != NULL)
        rc = inode_get(v, src.ino, out);
done:
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    free(p);
    return rc;
}

/* Remove the name `path`: a directory if `want_dir`, else anything else.
 * Fills *after (if not NULL) as vrm_files_unlink_stat says. */
static int remove_name(vrm_vault *v, const char *path, int want_dir, vrm_stat *after)
{
    int64_t now = vrm_now_ns();
    vrm_stat dir, st;
    vpath p;
    int rc = path_split(path, &p);

    if (rc != 0)
        return rc;
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = resolve(v, &p, &dir, &st);
    if (rc != 0)
        goto done;
    if (!want_dir && S_ISDIR(st.mode)) {
        rc = vrm_error(EISDIR, "%s is a directory", path);
    } else if (want_dir && !S_ISDIR(st.mode)) {
        rc = vrm_error(ENOTDIR, "%s is not a directory", path);
    } else if (p.name == NULL) {
        rc = vrm_error(EBUSY, "the root cannot be removed");
    } else if (want_dir && (rc = dir_has_entries(v, st.ino)) != 0) {
        if (rc > 0)
            rc = vrm_error(ENOTEMPTY, "%s is not empty", path);
    }
    if (rc != 0)
        goto done;
    rc = dentry_drop(v, dir.ino, p.name, p.len);
    if (rc == 0)
        rc = touch(v, st.ino, want_dir ? -(int)st.nlink : -1, now, 0);
    if (rc == 0)
        rc = touch(v, dir.ino, want_dir ? -1 : 0, now, 1);
    if (rc == 0)
        rc = reap(v, st.ino, want_dir ? 0 : st.nlink - 1);
    if (rc == 0 && after != NULL) {
        if (!want_dir && st.nlink > 1) {
            rc = inode_get(v, st.ino, after);  /* names are left: as it is now */
        } else {  /* none left, and maybe deleted already */
            *after = st;
            after->nlink = 0;
            after->ctime_ns = now;
        }
    }
done:
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    return rc;
}

int vrm_files_unlink(vrm_vault *v, const char *path)
{
    return remove_name(v, path, 0, NULL);
}

int vrm_files_unlink_stat(vrm_vault *v, const char *path, vrm_stat *out)
{
    return remove_name(v, path, 0, out);
}

int vrm_files_rmdir(vrm_vault *v, const char *path)
{
    return remove_name(v, path, 1, NULL);
}

/* Checks of rename(2) once both names are looked up; `dst` valid if
 * `exists`.  0 to go on. */
static int rename_check(vrm_vault *v, const vrm_stat *fdir, const vrm_stat *src,
                        const vrm_stat *tdir, const vrm_stat *dst, int exists,
                        unsigned flags)
{
    int rc;

    /* `from` must not be `to`'s directory or above it... */
    if (S_ISDIR(src->mode) && (rc = is_ancestor(v, src->ino, tdir->ino)) != 0)
        return rc < 0 ? rc : vrm_error(EINVAL, "cannot move a directory into itself");
    if (!exists)
        return 0;
    /* ...nor `to` above `from` (in Linux, -ENOTEMPTY unless exchanging). */
    if (S_ISDIR(dst->mode) && (rc = is_ancestor(v, dst->ino, fdir->ino)) != 0)
        return rc < 0 ? rc : vrm_error((flags & VRM_FILES_EXCHANGE) ? EINVAL : ENOTEMPTY,
                                       "cannot replace a directory above the source");
    if (flags & VRM_FILES_EXCHANGE)
        return 0;
    if (S_ISDIR(src->mode) && !S_ISDIR(dst->mode))
        return vrm_error(ENOTDIR, "cannot replace a non-directory by a directory");
    if (!S_ISDIR(src->mode) && S_ISDIR(dst->mode))
        return vrm_error(EISDIR, "cannot replace a directory by a non-directory");
    if (S_ISDIR(dst->mode) && (rc = dir_has_entries(v, dst->ino)) != 0)
        return rc < 0 ? rc : vrm_error(ENOTEMPTY, "the directory to replace is not empty");
    return 0;
}

/* The body of vrm_files_rename_stat (moved and replaced may be NULL). */
static int move(vrm_vault *v, const char *from, const char *to, unsigned flags,
                vrm_stat *moved, vrm_stat *replaced)
{
    int64_t now = vrm_now_ns();
    vrm_stat fdir, src, tdir, dst;
    vpath *p;
    int rc, exists = 0, had = 0, same = 0;

    if ((flags & ~(VRM_FILES_NOREPLACE | VRM_FILES_EXCHANGE)) != 0 ||
        flags == (VRM_FILES_NOREPLACE | VRM_FILES_EXCHANGE))
        return vrm_error(EINVAL, "bad rename flags %#x", flags);
    p = malloc(2 * sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    if ((rc = path_split(from, &p[0])) != 0 || (rc = path_split(to, &p[1])) != 0)
        goto out;
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto unlock;
    if ((rc = resolve(v, &p[0], &fdir, &src)) != 0 || (rc = walk(v, &p[1], &tdir)) != 0)
        goto done;
    if (p[0].name == NULL || p[1].name == NULL) {
        rc = vrm_error(EBUSY, "the root cannot be renamed or replaced");
        goto done;
    }
    rc = lookup(v, tdir.ino, p[1].name, p[1].len, &dst);
    if (rc != 0 && rc != -ENOENT)
        goto done;
    exists = had = rc == 0;
    rc = 0;
    if (exists && (flags & VRM_FILES_NOREPLACE))
        rc = vrm_error(EEXIST, "%s exists", to);
    else if (!exists && (flags & VRM_FILES_EXCHANGE))
        rc = vrm_error(ENOENT, "no such file: %s", to);
    same = exists && dst.ino == src.ino;
    if (rc != 0 || same)  /* the same file: nothing to do */
        goto report;
    if ((rc = rename_check(v, &fdir, &src, &tdir, &dst, exists, flags)) != 0)
        goto done;

    if (exists && !(flags & VRM_FILES_EXCHANGE)) {  /* replace: `to` loses its name */
        rc = dentry_drop(v, tdir.ino, p[1].name, p[1].len);
        if (rc == 0)
            rc = touch(v, dst.ino, S_ISDIR(dst.mode) ? -(int)dst.nlink : -1, now, 0);
        if (rc == 0 && S_ISDIR(dst.mode))
            rc = touch(v, tdir.ino, -1, now, 1);
        if (rc == 0)
            rc = reap(v, dst.ino, S_ISDIR(dst.mode) ? 0 : dst.nlink - 1);
        if (rc != 0)
            goto done;
        exists = 0;
    }
    rc = dentry_drop(v, fdir.ino, p[0].name, p[0].len);
    if (rc == 0 && exists)
        rc = dentry_drop(v, tdir.ino, p[1].name, p[1].len);
    if (rc == 0)
        rc = dentry_add(v, tdir.ino, p[1].name, p[1].len, src.ino);
    if (rc == 0 && exists)
        rc = dentry_add(v, fdir.ino, p[0].name, p[0].len, dst.ino);
    /* A directory moving to another parent moves a link count with it. */
    if (rc == 0) {
        int down = (S_ISDIR(src.mode) ? 1 : 0) - (exists && S_ISDIR(dst.mode) ? 1 : 0);

        if (fdir.ino == tdir.ino)
            down = 0;
        rc = touch(v, fdir.ino, -down, now, 1);
        if (rc == 0 && tdir.ino != fdir.ino)
            rc = touch(v, tdir.ino, down, now, 1);
    }
    if (rc == 0)
        rc = touch(v, src.ino, 0, now, 0);
    if (rc == 0 && exists)
        rc = touch(v, dst.ino, 0, now, 0);
    if (rc == 0) {
        src.ctime_ns = dst.ctime_ns = now;
        if (had && !(flags & VRM_FILES_EXCHANGE))  /* replaced: a name fewer */
            dst.nlink = S_ISDIR(dst.mode) ? 0 : dst.nlink - 1;
    }
report:
    if (rc == 0 && moved != NULL)
        *moved = src;
    if (rc == 0 && replaced != NULL) {
        if (had && !same)
            *replaced = dst;
        else
            memset(replaced, 0, sizeof *replaced);
    }
done:
    rc = vrm_tx_finish(v, rc);
unlock:
    vrm_vault_unlock(v);
out:
    free(p);
    return rc;
}

int vrm_files_rename(vrm_vault *v, const char *from, const char *to, unsigned flags)
{
    return move(v, from, to, flags, NULL, NULL);
}

int vrm_files_rename_stat(vrm_vault *v, const char *from, const char *to, unsigned flags,
                          vrm_stat *moved, vrm_stat *replaced)
{
    return move(v, from, to, flags, moved, replaced);
}

int vrm_files_readdir(vrm_vault *v, uint64_t ino, const char *after, vrm_files_dir_fn fn,
                      void *ctx)
{
    sqlite3_stmt *st;
    vrm_stat dir, s;
    int rc;

    vrm_vault_lock(v);
    rc = inode_get(v, ino, &dir);
    if (rc == 0 && !S_ISDIR(dir.mode))
        rc = vrm_error(ENOTDIR, "inode %llu is not a directory", (unsigned long long)ino);
    if (rc == 0)
        rc = vrm_vault_stmt(v, "SELECT d.name, " STAT_COLS " FROM dentries d "
                               "JOIN inodes i ON i.ino = d.ino "
                               "WHERE d.parent = ?1 AND d.name > ?2 ORDER BY d.name", &st);
    if (rc == 0) {
        int step = SQLITE_DONE, stop = 0;

        sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
        sqlite3_bind_text(st, 2, after != NULL ? after : "", -1, SQLITE_STATIC);
        while (stop == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
            stat_row(st, 1, &s);
            stop = fn(ctx, (const char *)sqlite3_column_text(st, 0), &s);
        }
        if (stop != 0)
            rc = stop;
        else if (step != SQLITE_DONE)
            rc = vrm_vault_sqlerr(v, "files");
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc;
}

/* A name of an inode: the directory that holds it, and the name. */
typedef struct dname {
    uint64_t parent;
    char name[VRM_FILES_NAME_MAX + 1];
} dname;

/* Up to `max` names of `ino` into n[0..*count) (malloc'd; NULL if none).
 * With a `max` of 1, for a directory (which has one name).  Mutex held. */
static int names_of(vrm_vault *v, uint64_t ino, size_t max, dname **n, size_t *count)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc = vrm_vault_stmt(v, "SELECT parent, name FROM dentries WHERE ino = ?1 LIMIT ?2", &st);

    *n = NULL;
    *count = 0;
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
    sqlite3_bind_int64(st, 2, max < INT64_MAX ? (sqlite3_int64)max : INT64_MAX);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(st, 1);

        if (vrm_array_grow(n, &cap, *count, sizeof **n) != 0) {
            rc = -ENOMEM;
            break;
        }
        if (len > VRM_FILES_NAME_MAX)
            len = VRM_FILES_NAME_MAX;  /* not made by this module */
        (*n)[*count].parent = (uint64_t)sqlite3_column_int64(st, 0);
        memcpy((*n)[*count].name, sqlite3_column_blob(st, 1), len);
        (*n)[*count].name[len] = '\0';
        ++*count;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    free(*n);
    *n = NULL;
    *count = 0;
    return rc < 0 ? rc : vrm_vault_sqlerr(v, "files");
}

/* Write the path of the name `d`, walking up to the root, at the end of
 * buf[0..VRM_FILES_PATH_MAX): *start is where it begins.  0; 1 if it has no
 * path the path functions take (too long, or below a removed directory);
 * or a negative errno. */
static int path_of(vrm_vault *v, const dname *d, char *buf, size_t *start)
{
    size_t pos = VRM_FILES_PATH_MAX - 1, len, n;
    dname cur = *d, *up;
    int depth, rc;

    buf[pos] = '\0';
    for (depth = 0; depth < DEPTH_MAX; depth++) {
        len = strlen(cur.name);
        if (len + 1 > pos)
            return 1;
        pos -= len;
        memcpy(buf + pos, cur.name, len);
        buf[--pos] = '/';
        if (cur.parent == VRM_FILES_ROOT) {
            *start = pos;
            return 0;
        }
        if ((rc = names_of(v, cur.parent, 1, &up, &n)) != 0)
            return rc;
        if (n == 0)
            return 1;  /* a removed directory, still open: no path */
        cur = *up;
        free(up);
    }
    return vrm_error(EUCLEAN, "the file tree is deeper than %d: a loop?", DEPTH_MAX);
}

int vrm_files_paths(vrm_vault *v, uint64_t ino, size_t max, char **paths, size_t *count)
{
    vrm_strbuf out = VRM_STRBUF_INIT;
    char *buf = malloc(VRM_FILES_PATH_MAX);
    size_t n = 0, i, start = 0;
    dname *names = NULL;
    vrm_stat s;
    int rc;

    *paths = NULL;
    *count = 0;
    if (buf == NULL)
        return -ENOMEM;
    vrm_vault_lock(v);
    rc = inode_get(v, ino, &s);
    if (rc == 0 && ino == VRM_FILES_ROOT && max > 0) {
        rc = vrm_strbuf_add(&out, "/", 2);
        *count = rc == 0;
    } else if (rc == 0) {
        rc = names_of(v, ino, max, &names, &n);
    }
    for (i = 0; rc == 0 && i < n; i++) {
        size_t len;

        if ((rc = path_of(v, &names[i], buf, &start)) != 0) {
            rc = rc > 0 ? 0 : rc;  /* no path by which anyone can reach it */
            continue;
        }
        len = VRM_FILES_PATH_MAX - start;  /* with its NUL */
        if (vrm_strbuf_add(&out, buf + start, len) != 0) {
            rc = -ENOMEM;
            break;
        }
        ++*count;
    }
    vrm_vault_unlock(v);
    free(names);
    free(buf);
    if (rc != 0 || *count == 0) {
        vrm_strbuf_release(&out);
        *count = 0;
        return rc;
    }
    *paths = vrm_strbuf_detach(&out, NULL);
    return *paths != NULL ? 0 : -ENOMEM;
}

/* ---- open files ---------------------------------------------------------- */

int vrm_files_open(vrm_vault *v, uint64_t ino)
{
    sqlite3_stmt *st;
    vrm_stat s;
    int rc;

    vrm_vault_lock(v);
    rc = inode_get(v, ino, &s);
    if (rc == 0)
        rc = opens_ready(v);
    if (rc == 0)
        rc = vrm_vault_stmt(v, "INSERT INTO temp.vrm_files_open(ino, n) VALUES (?1, 1) "
                               "ON CONFLICT(ino) DO UPDATE SET n = n + 1", &st);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
        rc = vrm_vault_run(v, st);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_files_release(vrm_vault *v, uint64_t ino)
{
    sqlite3_stmt *st;
    vrm_stat s;
    int rc;

    vrm_vault_lock(v);
    rc = opens_ready(v);
    if (rc == 0)
        rc = vrm_vault_stmt(v, "UPDATE temp.vrm_files_open SET n = n - 1 WHERE ino = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, ino > INT64_MAX ? 0 : (sqlite3_int64)ino);
        rc = vrm_vault_run(v, st);
        if (rc == 0 && sqlite3_changes(v->db) == 0)
            rc = vrm_error(EBADF, "inode %llu is not open", (unsigned long long)ino);
    }
    if (rc == 0)
        rc = vrm_vault_stmt(v, "DELETE FROM temp.vrm_files_open WHERE ino = ?1 AND n <= 0", &st);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
        rc = vrm_vault_run(v, st);
    }
    /* The last close of a file without names deletes it. */
    if (rc == 0)
        rc = inode_get(v, ino, &s);
    if (rc == 0 && s.nlink == 0 && !(v->flags & VRM_OPEN_READONLY)) {
        rc = vrm_tx_begin(v);
        if (rc == 0)
            rc = vrm_tx_finish(v, reap(v, ino, 0));
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_files_purge_orphans(vrm_vault *v)
{
    sqlite3_stmt *st = NULL;
    uint64_t *inos = NULL;
    size_t n = 0, cap = 0, i;
    int rc;

    if (v->flags & VRM_OPEN_READONLY)
        return 0;
    vrm_vault_lock(v);
    rc = opens_ready(v);
    if (rc == 0)
        rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    /* Run once per open: prepared here rather than kept in the cache. */
    if (sqlite3_prepare_v2(v->db, "SELECT ino FROM inodes WHERE nlink = 0 AND ino NOT IN "
                                  "(SELECT ino FROM temp.vrm_files_open)", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = vrm_vault_sqlerr(v, "files");
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (vrm_array_grow(&inos, &cap, n, sizeof *inos) != 0) {
            rc = -ENOMEM;
            goto done;
        }
        inos[n++] = (uint64_t)sqlite3_column_int64(st, 0);
    }
    rc = rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "files");
    for (i = 0; rc == 0 && i < n; i++)
        rc = inode_delete(v, inos[i]);
done:
    sqlite3_finalize(st);
    rc = vrm_tx_finish(v, rc == 0 ? (int)(n < INT_MAX ? n : INT_MAX) : rc);
out:
    vrm_vault_unlock(v);
    free(inos);
    return rc;
}

/* ---- data ---------------------------------------------------------------- */

/* 0 if `s` is a regular file, else -EISDIR or -EINVAL. */
static int regular(const vrm_stat *s)
{
    if (S_ISREG(s->mode))
        return 0;
    if (S_ISDIR(s->mode))
        return vrm_error(EISDIR, "inode %llu is a directory", (unsigned long long)s->ino);
    return vrm_error(EINVAL, "inode %llu is not a regular file", (unsigned long long)s->ino);
}

/* Bytes held by chunk `id` (0 if it has no row), read on `c`. */
static int chunk_len_on(const conn *c, sqlite3_int64 id, size_t *len)
{
    sqlite3_stmt *st;
    int rc = conn_stmt(c, "SELECT length(data) FROM chunks WHERE id = ?1", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    *len = rc == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : conn_err(c);
}

static int chunk_len(vrm_vault *v, sqlite3_int64 id, size_t *len)
{
    conn c = {v, NULL};

    return chunk_len_on(&c, id, len);
}

/* Store data[0..len) as the whole of chunk `id`. */
static int chunk_put(vrm_vault *v, sqlite3_int64 id, const void *data, size_t len)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "INSERT OR REPLACE INTO chunks(id, data) VALUES (?1, ?2)", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_blob(st, 2, data, (int)len, SQLITE_STATIC);
    return vrm_vault_run(v, st);
}

/* Read or write buf[0..len) at `off` of the row of chunk `id`, in place:
 * only the database pages it covers are read or written. */
static int chunk_io_on(const conn *c, sqlite3_int64 id, void *buf, size_t len, size_t off,
                       int write)
{
    sqlite3_blob *b = NULL;
    int rc = sqlite3_blob_open(conn_db(c), "main", "chunks", "data", id, write, &b);

    if (rc == SQLITE_OK)
        rc = write ? sqlite3_blob_write(b, buf, (int)len, (int)off)
                   : sqlite3_blob_read(b, buf, (int)len, (int)off);
    rc = rc == SQLITE_OK ? 0 : conn_err(c);
    sqlite3_blob_close(b);
    return rc;
}

static int chunk_io(vrm_vault *v, sqlite3_int64 id, void *buf, size_t len, size_t off,
                    int write)
{
    conn c = {v, NULL};

    return chunk_io_on(&c, id, buf, len, off, write);
}

/* Write src[0..len) at `off` of chunk `id`, where off + len <= CHUNK and not
 * the whole chunk: in place if the row already reaches past it, else by
 * rewriting the row longer.  A row that grows at least doubles (up to
 * CHUNK), zero-filled past the data, so that a file written in small
 * appends rewrites each chunk a few times rather than once per write. */
static int chunk_patch(vrm_vault *v, sqlite3_int64 id, size_t off, const uint8_t *src,
                       size_t len)
{
    uint8_t *tmp;
    size_t have, keep, grow;
    int rc = chunk_len(v, id, &have);

    if (rc != 0)
        return rc;
    if (off + len <= have)
        return chunk_io(v, id, (void *)src, len, off, 1);
    grow = off + len;
    if (grow < 2 * have)
        grow = 2 * have < CHUNK ? 2 * have : CHUNK;
    tmp = malloc(grow);
    if (tmp == NULL)
        return -ENOMEM;
    keep = have < off ? have : off;
    if (keep > 0)
        rc = chunk_io(v, id, tmp, keep, 0, 0);
    if (rc == 0) {
        memset(tmp + keep, 0, off - keep);
        memcpy(tmp + off, src, len);
        memset(tmp + off + len, 0, grow - off - len);
        rc = chunk_put(v, id, tmp, grow);
    }
    free(tmp);
    return rc;
}

ssize_t vrm_files_read(vrm_vault *v, uint64_t ino, void *buf, size_t size, uint64_t off)
{
    uint8_t *out = buf;
    sqlite3_stmt *st;
    uint64_t n = 0;
    vrm_stat s;
    conn c = {v, vrm_vault_reader_get(v)};
    int rc;

    if (off > INT64_MAX)
        return vrm_error(EINVAL, "offset past INT64_MAX");
    if (size > RW_MAX)
        size = RW_MAX;
    if (c.r == NULL)
        vrm_vault_lock(v);
    rc = inode_get_on(&c, ino, &s);
    if (rc == 0)
        rc = regular(&s);
    if (rc != 0 || off >= s.size || size == 0)
        goto out;
    n = s.size - off < size ? s.size - off : size;
    if (off / CHUNK == (off + n - 1) / CHUNK && n < CHUNK / 2) {
        /* A small read: only the pages it covers (and the overflow pages
         * before them, whose links SQLite follows) are read. */
        sqlite3_int64 id = chunk_id(ino, off / CHUNK);
        size_t have, at = (size_t)(off % CHUNK), got = 0;

        rc = chunk_len_on(&c, id, &have);
        if (rc == 0 && have > at) {
            got = have - at < n ? have - at : (size_t)n;
            rc = chunk_io_on(&c, id, out, got, at, 0);
        }
        if (rc == 0)
            memset(out + got, 0, n - got);
        goto out;
    }
    rc = conn_stmt(&c, "SELECT id, data FROM chunks WHERE id BETWEEN ?1 AND ?2", &st);
    if (rc != 0)
        goto out;
    memset(out, 0, n);  /* holes */
    sqlite3_bind_int64(st, 1, chunk_id(ino, off / CHUNK));
    sqlite3_bind_int64(st, 2, chunk_id(ino, (off + n - 1) / CHUNK));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t base = ((uint64_t)sqlite3_column_int64(st, 0) & IDX_MASK) * CHUNK;
        const uint8_t *data = sqlite3_column_blob(st, 1);
        uint64_t end = base + (uint64_t)sqlite3_column_bytes(st, 1);
        uint64_t lo = base > off ? base : off, hi = end < off + n ? end : off + n;

        if (data != NULL && lo < hi)
            memcpy(out + (lo - off), data + (lo - base), hi - lo);
    }
    rc = rc == SQLITE_DONE ? 0 : conn_err(&c);
    sqlite3_reset(st);
out:
    if (c.r == NULL)
        vrm_vault_unlock(v);
    vrm_vault_reader_release(c.r);
    return rc != 0 ? rc : (ssize_t)n;
}

/* Write at `off`, or at the end if `append`: one transaction. */
static ssize_t put(vrm_vault *v, uint64_t ino, const void *buf, size_t size, uint64_t off,
                   int append)
{
    const uint8_t *src = buf;
    int64_t now = vrm_now_ns();
    uint64_t pos, end;
    size_t written = 0;
    vrm_stat s;
    int rc;

    if (!append && off > INT64_MAX)
        return vrm_error(EINVAL, "offset past INT64_MAX");
    if (size > RW_MAX)
        size = RW_MAX;
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = inode_get(v, ino, &s);
    if (rc == 0)
        rc = regular(&s);
    if (rc != 0 || size == 0)
        goto done;
    if (append)
        off = s.size;
    if (off >= VRM_FILES_SIZE_MAX) {
        rc = vrm_error(EFBIG, "files hold at most %llu bytes",
                       (unsigned long long)VRM_FILES_SIZE_MAX);
        goto done;
    }
    if (size > VRM_FILES_SIZE_MAX - off)
        size = (size_t)(VRM_FILES_SIZE_MAX - off);
    for (pos = off; rc == 0 && written < size; pos += CHUNK - pos % CHUNK) {
        size_t at = (size_t)(pos % CHUNK), len = CHUNK - at;
        sqlite3_int64 id = chunk_id(ino, pos / CHUNK);

        if (len > size - written)
            len = size - written;
        rc = len == CHUNK ? chunk_put(v, id, src + written, len)
                          : chunk_patch(v, id, at, src + written, len);
        written += len;
    }
    end = off + size;
    if (rc == 0)
        rc = inode_put_size(v, ino, end > s.size ? end : s.size, now);
done:
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    return rc != 0 ? rc : (ssize_t)size;
}

ssize_t vrm_files_write(vrm_vault *v, uint64_t ino, const void *buf, size_t size,
                        uint64_t off)
{
    return put(v, ino, buf, size, off, 0);
}

ssize_t vrm_files_append(vrm_vault *v, uint64_t ino, const void *buf, size_t size)
{
    return put(v, ino, buf, size, 0, 1);
}

int vrm_files_truncate(vrm_vault *v, uint64_t ino, uint64_t size)
{
    int64_t now = vrm_now_ns();
    sqlite3_stmt *st;
    vrm_stat s;
    int rc;

    if (size > VRM_FILES_SIZE_MAX)
        return vrm_error(EFBIG, "files hold at most %llu bytes",
                         (unsigned long long)VRM_FILES_SIZE_MAX);
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = inode_get(v, ino, &s);
    if (rc == 0)
        rc = regular(&s);
    if (rc != 0)
        goto done;
    if (size < s.size) {
        rc = chunks_drop(v, ino, (size + CHUNK - 1) / CHUNK);
        if (rc == 0 && size % CHUNK != 0)
            rc = vrm_vault_stmt(v, "UPDATE chunks SET data = substr(data, 1, ?2) "
                                   "WHERE id = ?1 AND length(data) > ?2", &st);
        if (rc == 0 && size % CHUNK != 0) {
            sqlite3_bind_int64(st, 1, chunk_id(ino, size / CHUNK));
            sqlite3_bind_int64(st, 2, (sqlite3_int64)(size % CHUNK));
            rc = vrm_vault_run(v, st);
        }
    }
    if (rc == 0)
        rc = inode_put_size(v, ino, size, now);
done:
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    return rc;
}

/* ---- attributes ---------------------------------------------------------- */

/* How an attribute change edits an inode. */
typedef struct attr_edit {
    int kind;                         /* ATTR_MODE, ATTR_OWNER or ATTR_TIMES */
    uint32_t mode;                    /* ATTR_MODE: new permission bits */
    uint32_t uid, gid;                /* ATTR_OWNER: new owner, (uint32_t)-1 keeps */
    int64_t atime, mtime;             /* ATTR_TIMES: new times, or... */
    int keep_atime, keep_mtime;       /* ...non-zero to leave one as it is */
} attr_edit;

enum { ATTR_MODE, ATTR_OWNER, ATTR_TIMES };

/* Read `ino`, apply `e`, set ctime to now, write it back. */
static int setattr(vrm_vault *v, uint64_t ino, const attr_edit *e)
{
    vrm_stat s;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = inode_get(v, ino, &s);
    if (rc != 0)
        goto done;
    switch (e->kind) {
    case ATTR_MODE:
        s.mode = (s.mode & (uint32_t)S_IFMT) | (e->mode & 07777);
        break;
    case ATTR_OWNER:
        if (e->uid != (uint32_t)-1)
            s.uid = e->uid;
        if (e->gid != (uint32_t)-1)
            s.gid = e->gid;
        break;
    default:
        if (!e->keep_atime)
            s.atime_ns = e->atime;
        if (!e->keep_mtime)
            s.mtime_ns = e->mtime;
        break;
    }
    s.ctime_ns = vrm_now_ns();
    rc = inode_put_attrs(v, &s);
done:
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    return rc;
}

int vrm_files_chmod(vrm_vault *v, uint64_t ino, uint32_t mode)
{
    attr_edit e = {.kind = ATTR_MODE, .mode = mode};

    return setattr(v, ino, &e);
}

int vrm_files_chown(vrm_vault *v, uint64_t ino, uint32_t uid, uint32_t gid)
{
    attr_edit e = {.kind = ATTR_OWNER, .uid = uid, .gid = gid};

    return setattr(v, ino, &e);
}

/* A timespec as ns since the epoch, clamped to what an int64_t holds. */
static int64_t ts_ns(const struct timespec *ts)
{
    const int64_t lim = INT64_MAX / 1000000000 - 1;

    if (ts->tv_sec > lim)
        return INT64_MAX;
    if (ts->tv_sec < -lim)
        return INT64_MIN;
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

int vrm_files_utimens(vrm_vault *v, uint64_t ino, const struct timespec tv[2])
{
    attr_edit e = {.kind = ATTR_TIMES};
    int64_t now = vrm_now_ns();
    vrm_stat s;
    int i;

    for (i = 0; i < 2; i++) {
        long ns = tv != NULL ? tv[i].tv_nsec : UTIME_NOW;
        int64_t *t = i == 0 ? &e.atime : &e.mtime;
        int *keep = i == 0 ? &e.keep_atime : &e.keep_mtime;

        if (ns == UTIME_OMIT)
            *keep = 1;
        else if (ns == UTIME_NOW)
            *t = now;
        else if (ns < 0 || ns >= 1000000000)
            return vrm_error(EINVAL, "tv_nsec %ld is out of range", ns);
        else
            *t = ts_ns(&tv[i]);
    }
    if (e.keep_atime && e.keep_mtime)  /* nothing to change: utimensat checks nothing more */
        return vrm_files_getattr(v, ino, &s);
    return setattr(v, ino, &e);
}

/* ---- extended attributes -------------------------------------------------- */

/* 0 if `name` is an xattr name this module keeps; else -ERANGE, -ENOTSUP,
 * -EINVAL, as Linux. */
static int xattr_name_check(const char *name)
{
    size_t n = strnlen(name, XATTR_NAME_MAX + 1);

    if (n == 0 || n > XATTR_NAME_MAX)
        return vrm_error(ERANGE, "an xattr name has 1 to %d bytes", XATTR_NAME_MAX);
    if (strncmp(name, "user.", 5) != 0)
        return vrm_error(ENOTSUP, "only user.* extended attributes are kept");
    if (n == 5)
        return vrm_error(EINVAL, "an xattr name needs something after \"user.\"");
    return 0;
}

/* The value of xattr `name` of `ino`: its length in *len (and a pointer
 * valid until `*stp` is reset in *val), or -ENODATA (statement reset). */
static int xattr_find(vrm_vault *v, uint64_t ino, const char *name, sqlite3_stmt **stp,
                      const void **val, size_t *len)
{
    int rc = vrm_vault_stmt(v, "SELECT value FROM xattrs WHERE ino = ?1 AND name = ?2", stp);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(*stp, 1, (sqlite3_int64)ino);
    sqlite3_bind_text(*stp, 2, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(*stp);
    if (rc == SQLITE_ROW) {
        *val = sqlite3_column_blob(*stp, 0);
        *len = (size_t)sqlite3_column_bytes(*stp, 0);
        return 0;
    }
    sqlite3_reset(*stp);
    if (rc == SQLITE_DONE)
        return vrm_error(ENODATA, "no extended attribute %s", name);
    return vrm_vault_sqlerr(v, "files");
}

/* The NUL-separated name list of `ino` into list[0..size) if it fits; its
 * total length in *total. */
static int xattr_names(vrm_vault *v, uint64_t ino, char *list, size_t size, size_t *total)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "SELECT name FROM xattrs WHERE ino = ?1 ORDER BY name", &st);

    *total = 0;
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0) + 1;

        if (list != NULL && *total + n <= size)
            memcpy(list + *total, sqlite3_column_text(st, 0), n);
        *total += n;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "files");
}

int vrm_files_setxattr(vrm_vault *v, uint64_t ino, const char *name, const void *value,
                       size_t size, int flags)
{
    const void *old;
    sqlite3_stmt *st;
    size_t oldlen, total;
    vrm_stat s;
    int rc = xattr_name_check(name), exists;

    if (rc != 0)
        return rc;
    if (size > VRM_FILES_XATTR_MAX)
        return vrm_error(E2BIG, "an xattr value has at most %u bytes", VRM_FILES_XATTR_MAX);
    if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
        return vrm_error(EINVAL, "bad setxattr flags %#x", (unsigned)flags);
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = inode_get(v, ino, &s);
    if (rc == 0 && !S_ISREG(s.mode) && !S_ISDIR(s.mode))
        rc = vrm_error(EPERM, "user.* attributes go on files and directories only");
    if (rc != 0)
        goto done;
    rc = xattr_find(v, ino, name, &st, &old, &oldlen);
    exists = rc == 0;
    if (exists)
        sqlite3_reset(st);
    else if (rc != -ENODATA)
        goto done;
    rc = 0;
    if (exists && (flags & XATTR_CREATE))
        rc = vrm_error(EEXIST, "extended attribute %s exists", name);
    else if (!exists && (flags & XATTR_REPLACE))
        rc = vrm_error(ENODATA, "no extended attribute %s", name);
    else if (!exists && (rc = xattr_names(v, ino, NULL, 0, &total)) == 0 &&
             total + strlen(name) + 1 > VRM_FILES_XATTR_LIST_MAX)
        rc = vrm_error(ENOSPC, "the names of a file's xattrs fill at most %u bytes",
                       VRM_FILES_XATTR_LIST_MAX);
    if (rc == 0)
        rc = vrm_vault_stmt(v, "INSERT OR REPLACE INTO xattrs(ino, name, value) "
                               "VALUES (?1, ?2, ?3)", &st);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, size > 0 ? value : "", (int)size, SQLITE_STATIC);
        rc = vrm_vault_run(v, st);
    }
    if (rc == 0)
        rc = touch(v, ino, 0, vrm_now_ns(), 0);
done:
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    return rc;
}

int vrm_files_getxattr(vrm_vault *v, uint64_t ino, const char *name, void *value,
                       size_t size)
{
    sqlite3_stmt *st;
    const void *val;
    size_t len = 0;
    vrm_stat s;
    int rc = xattr_name_check(name);

    if (rc != 0)
        return rc;
    vrm_vault_lock(v);
    rc = inode_get(v, ino, &s);
    if (rc == 0)
        rc = xattr_find(v, ino, name, &st, &val, &len);
    if (rc == 0) {
        if (size > 0 && size < len)
            rc = vrm_error(ERANGE, "the value of %s has %zu bytes", name, len);
        else if (size > 0 && len > 0)
            memcpy(value, val, len);
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc != 0 ? rc : (int)len;
}

int vrm_files_listxattr(vrm_vault *v, uint64_t ino, char *list, size_t size)
{
    size_t total = 0;
    vrm_stat s;
    int rc;

    vrm_vault_lock(v);
    rc = inode_get(v, ino, &s);
    if (rc == 0)
        rc = xattr_names(v, ino, size > 0 ? list : NULL, size, &total);
    vrm_vault_unlock(v);
    if (rc == 0 && total > VRM_FILES_XATTR_LIST_MAX)
        rc = vrm_error(E2BIG, "the xattr name list is longer than %u bytes",
                       VRM_FILES_XATTR_LIST_MAX);
    if (rc == 0 && size > 0 && size < total)
        rc = vrm_error(ERANGE, "the xattr name list has %zu bytes", total);
    return rc != 0 ? rc : (int)total;
}

int vrm_files_removexattr(vrm_vault *v, uint64_t ino, const char *name)
{
    sqlite3_stmt *st;
    vrm_stat s;
    int rc = xattr_name_check(name);

    if (rc != 0)
        return rc;
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto out;
    rc = inode_get(v, ino, &s);
    if (rc == 0)
        rc = vrm_vault_stmt(v, "DELETE FROM xattrs WHERE ino = ?1 AND name = ?2", &st);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        rc = vrm_vault_run(v, st);
        if (rc == 0 && sqlite3_changes(v->db) == 0)
            rc = vrm_error(ENODATA, "no extended attribute %s", name);
    }
    if (rc == 0)
        rc = touch(v, ino, 0, vrm_now_ns(), 0);
    rc = vrm_tx_finish(v, rc);
out:
    vrm_vault_unlock(v);
    return rc;
}

/* ---- the file system as a whole ------------------------------------------ */

int vrm_files_statfs(vrm_vault *v, struct statvfs *out)
{
    const uint64_t bs = 4096;
    struct statvfs host;
    sqlite3_stmt *st;
    uint64_t used = 0, freepages = 0, total, bfree, bavail, room;
    int rc;

    if (statvfs(vrm_vault_dir(v), &host) != 0)
        return vrm_error(errno, "statvfs %s: %s", vrm_vault_dir(v), strerror(errno));
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT (SELECT count(*) FROM inodes), "
                           "(SELECT freelist_count FROM pragma_freelist_count())", &st);
    if (rc == 0) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            used = (uint64_t)sqlite3_column_int64(st, 0);
            freepages = (uint64_t)sqlite3_column_int64(st, 1);
        }
        rc = rc == SQLITE_ROW ? 0 : vrm_vault_sqlerr(v, "files");
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    if (rc != 0)
        return rc;
    total = (uint64_t)host.f_blocks * host.f_frsize / bs;
    bfree = (uint64_t)host.f_bfree * host.f_frsize / bs + freepages;
    bavail = (uint64_t)host.f_bavail * host.f_frsize / bs + freepages;
    memset(out, 0, sizeof *out);
    out->f_bsize = bs;
    out->f_frsize = bs;
    out->f_blocks = total;
    out->f_bfree = bfree < total ? bfree : total;
    out->f_bavail = bavail < total ? bavail : total;
    room = INO_MAX > used ? INO_MAX - used : 0;  /* each new file takes a page or more */
    out->f_ffree = out->f_bavail < room ? out->f_bavail : room;
    out->f_favail = out->f_ffree;
    out->f_files = used + out->f_ffree;
    out->f_namemax = VRM_FILES_NAME_MAX;
    out->f_flag = (v->flags & VRM_OPEN_READONLY) ? ST_RDONLY : 0;
    return 0;
}

int vrm_files_sync(vrm_vault *v)
{
    if (v->flags & VRM_OPEN_READONLY)
        return 0;  /* nothing was written */
    return vrm_vault_sync(v);
}
