/*
 * ops.c: the FUSE operations: a request's path is parsed once into a node
 * (node.h), and the operation of the node's tree is called (tree.h), or of
 * the tree that opened the file for a request on an open file; what a tree
 * leaves out is answered here, as tree.h says.  The trees are:
 *
 *   tree_root.c      /, README.txt, .vrmfs/errors.log
 *   tree_records.c   records/
 *   tree_files.c     files/ and the trash
 *   tree_vendors.c   vendors/
 *   tree_views.c     views/ (a --view mount's root)
 *   tree_messages.c  outbox/, sent/, inbox/
 *   tree_data.c      import/, analytics/
 */
#define _GNU_SOURCE
#include "tree.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

/* Every tree's operations, by the tree a node names. */
const struct tree_ops *const trees[T_COUNT] = {
    [T_ROOT] = &root_tree,
    [T_RECORDS] = &records_tree,
    [T_FILES] = &files_tree,
    [T_VENDORS] = &vendors_tree,
    [T_VIEWS] = &views_tree,
    [T_MESSAGES] = &messages_tree,
    [T_DATA] = &data_tree,
};

/* The tree of a request on an open file: the one that opened it. */
static const struct tree_ops *handle_tree(const handle *h)
{
    return trees[h->n.tree];
}

void vrmfs_release_state(vrmfs *fs)
{
    int i;

    handles_free_all();
    for (i = 0; i < T_COUNT; i++)
        if (trees[i]->forget != NULL)
            trees[i]->forget(fs);
    free(fs->errlog);
    fs->errlog = NULL;
}

/* ---- attributes ---------------------------------------------------------- */

static int getattr_node(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    vrmfs *fs = FS();
    handle *h = HANDLE(fi);
    node n;
    int rc;

    memset(st, 0, sizeof *st);
    if (h != NULL && handle_tree(h)->fgetattr != NULL &&
        (rc = handle_tree(h)->fgetattr(fs, h, st)) != TREE_DEFAULT)
        return rc;
    if (path == NULL && h != NULL) {  /* removed while open */
        fill_text(fs, h, st);
        return 0;
    }
    rc = path ? node_parse(path, &n) : -EBADF;
    if (rc != 0)
        return rc;
    if (h != NULL && h->writable) {   /* being written: what it holds so far */
        fill_text(fs, h, st);
        return 0;
    }
    return trees[n.tree]->getattr(fs, path, &n, st);
}

/* Every getattr: the attributes, with the st_ino op_init explains (files/
 * inodes come with theirs; anything else has 0 here). */
static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    handle *h = HANDLE(fi);
    int rc = getattr_node(path, st, fi);

    if (rc == 0 && st->st_ino == 0)
        st->st_ino = path != NULL ? node_ino(path) : h != NULL ? h->ino : 0;
    return rc;
}

/* The st_ino of `path`: its tree's (files/: the inode's own number, 0 if
 * it cannot be read), or node_ino(path). */
static uint64_t path_ino(vrmfs *fs, const char *path)
{
    node n;

    if (node_parse(path, &n) == 0 && trees[n.tree]->ino != NULL)
        return trees[n.tree]->ino(fs, &n);
    return node_ino(path);
}

/* Records keep their own times and modes, and every file belongs to the
 * mounting user; tools that copy attributes (cp -a, rsync -a) must not fail
 * for it, so these succeed without effect where a tree has no such op. */
static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    vrmfs *fs = FS();
    handle *h = HANDLE(fi);
    struct stat st;
    node n;
    int rc;

    if (h != NULL && handle_tree(h)->fchmod != NULL)
        return handle_tree(h)->fchmod(fs, path, h, mode);
    rc = path ? node_parse(path, &n) : -EBADF;
    if (rc != 0)
        return rc;
    if (trees[n.tree]->chmod != NULL)
        return trees[n.tree]->chmod(fs, path, &n, mode);
    return op_getattr(path, &st, fi);
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    vrmfs *fs = FS();
    struct stat st;

    if ((uid != (uid_t)-1 && uid != fs->uid) || (gid != (gid_t)-1 && gid != fs->gid))
        return -EPERM;
    return op_getattr(path, &st, fi);
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    vrmfs *fs = FS();
    handle *h = HANDLE(fi);
    struct stat st;
    node n;
    int rc;

    if (h != NULL && handle_tree(h)->futimens != NULL)
        return handle_tree(h)->futimens(fs, path, h, tv);
    rc = path ? node_parse(path, &n) : -EBADF;
    if (rc != 0)
        return rc;
    rc = trees[n.tree]->utimens != NULL ? trees[n.tree]->utimens(fs, path, &n, tv)
                                        : TREE_DEFAULT;
    return rc != TREE_DEFAULT ? rc : op_getattr(path, &st, fi);
}

static int op_statfs(const char *path, struct statvfs *st)
{
    (void)path;
    return vrm_files_statfs(FS()->v, st);
}

/* ---- directories --------------------------------------------------------- */

/* A filler in front of libfuse's that gives every entry the st_ino a
 * lookup of it shows (op_init): files/ entries come with theirs, the
 * others get that of their path, and so do "." and "..".  Only those and
 * the root's "files" and trash entries, filled outside any libvrm
 * callback, can make path_ino() call libvrm (a callback runs with the
 * vault's mutex held: vrm_files_readdir's gives every entry its st_ino). */
typedef struct ino_fill {
    void *buf;                        /* libfuse's */
    fuse_fill_dir_t filler;
    const char *dir;                  /* the directory listed */
} ino_fill;

static int fill_ino(void *ctx, const char *name, const struct stat *st, off_t off,
                    enum fuse_fill_dir_flags flags)
{
    ino_fill *w = ctx;
    char path[PATH_MAX];
    const char *slash;
    struct stat s;
    int n;

    if (st != NULL && st->st_ino != 0)
        return w->filler(w->buf, name, st, off, flags);
    if (st != NULL)
        s = *st;
    else
        memset(&s, 0, sizeof s);
    if (strcmp(name, ".") == 0) {
        n = snprintf(path, sizeof path, "%s", w->dir);
    } else if (strcmp(name, "..") == 0) {
        slash = strrchr(w->dir, '/');
        n = snprintf(path, sizeof path, "%.*s", slash != NULL && slash != w->dir
                                                    ? (int)(slash - w->dir) : 1, w->dir);
    } else {
        n = snprintf(path, sizeof path, "%s/%s", strcmp(w->dir, "/") == 0 ? "" : w->dir,
                     name);
    }
    if (n > 0 && (size_t)n < sizeof path)
        s.st_ino = path_ino(FS(), path);
    return w->filler(w->buf, name, s.st_ino != 0 || st != NULL ? &s : NULL, off, flags);
}

/* With nullpath_ok, readdir gets no path: opendir keeps a copy in fh. */
static int op_opendir(const char *path, struct fuse_file_info *fi)
{
    dirh *d = dirh_new(path);

    if (d == NULL)
        return -ENOMEM;
    fi->fh = (uint64_t)(uintptr_t)d;
    return 0;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    free((dirh *)(uintptr_t)fi->fh);
    return 0;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    ino_fill w = {buf, filler, NULL};
    fill_ctx c = {&w, fill_ino, "", (flags & FUSE_READDIR_PLUS) != 0, NULL, NULL, 0, 0, 0, NULL};
    dirh *d = fi != NULL ? (dirh *)(uintptr_t)fi->fh : NULL;
    node n;
    int rc;

    if (path == NULL && d != NULL)
        path = d->path;
    w.dir = path;                     /* every entry goes through fill_ino */
    rc = node_parse(path, &n);
    if (rc != 0)
        return rc;
    if (trees[n.tree]->readdir == NULL)
        return -ENOTDIR;
    return trees[n.tree]->readdir(FS(), &n, &c, d, off);
}

/* ---- changes of names ------------------------------------------------------ */

/* mkdir (`dir`), or a new file (create, symlink, link's and rename's
 * targets), of a path that names nothing (node_parse said rc): its tree
 * answers. */
static int unknown(vrmfs *fs, const char *path, const node *n, int rc, int dir)
{
    const struct tree_ops *t = trees[n->tree];
    int (*fn)(vrmfs *, const char *, int) = dir ? t->mkdir_unknown : t->create_unknown;

    if (fn != NULL)
        return fn(fs, path, rc);
    return rc == -ENOENT ? -EACCES : rc;
}

static int op_mkdir(const char *path, mode_t mode)
{
    vrmfs *fs = FS();
    const struct tree_ops *t;
    node n;
    int rc = node_parse(path, &n);

    if (rc != 0)
        return unknown(fs, path, &n, rc, 1);
    t = trees[n.tree];
    if (fs->read_only || t->read_only)
        return -EROFS;
    return t->mkdir != NULL ? t->mkdir(fs, path, &n, mode) : -EACCES;
}

/* rmdir (`dir`) and unlink. */
static int remove_path(const char *path, int dir)
{
    vrmfs *fs = FS();
    const struct tree_ops *t;
    node n;
    int rc = node_parse(path, &n);

    if (rc != 0)
        return rc;
    t = trees[n.tree];
    if (fs->read_only || t->read_only)
        return -EROFS;
    if (dir)
        return t->rmdir != NULL ? t->rmdir(fs, &n) : -EACCES;
    return t->unlink != NULL ? t->unlink(fs, &n) : -EISDIR;
}

static int op_rmdir(const char *path)
{
    return remove_path(path, 1);
}

static int op_unlink(const char *path)
{
    return remove_path(path, 0);
}

static int op_symlink(const char *target, const char *path)
{
    vrmfs *fs = FS();
    node n;
    int rc = node_parse(path, &n);

    if (rc != 0)
        return unknown(fs, path, &n, rc, 0);
    if (trees[n.tree]->symlink == NULL)
        return -EACCES;
    return trees[n.tree]->symlink(fs, target, path, &n);
}

static int op_readlink(const char *path, char *buf, size_t size)
{
    node n;
    int rc = node_parse(path, &n);

    if (rc != 0)
        return rc;
    if (trees[n.tree]->readlink == NULL)
        return -EINVAL;
    return trees[n.tree]->readlink(FS(), &n, buf, size);
}

static int op_link(const char *from, const char *to)
{
    vrmfs *fs = FS();
    const struct tree_ops *ta, *tb;
    node a, b;
    int rc;

    if ((rc = node_parse(from, &a)) != 0)
        return rc;
    if ((rc = node_parse(to, &b)) != 0)
        return unknown(fs, to, &b, rc, 0);
    ta = trees[a.tree];
    tb = trees[b.tree];
    if (ta == tb && ta->link != NULL)
        return ta->link(fs, to, &a, &b);
    return ta->link != NULL || tb->link != NULL ? -EXDEV : -EPERM;
}

/* The tree of whichever end ranks higher answers (tree.h): files/ for any
 * rename with an end in it, a read-only tree next, else the source's. */
static int op_rename(const char *from, const char *to, unsigned int flags)
{
    vrmfs *fs = FS();
    const struct tree_ops *t;
    node a, b;
    int rc;

    if ((rc = node_parse(from, &a)) != 0)
        return rc;
    if ((rc = node_parse(to, &b)) != 0)
        return unknown(fs, to, &b, rc, 0);
    if (fs->read_only)
        return -EROFS;
    t = trees[b.tree]->rename_rank > trees[a.tree]->rename_rank ? trees[b.tree] : trees[a.tree];
    if (t->read_only)
        return -EROFS;
    return t->rename != NULL ? t->rename(fs, from, to, &a, &b, flags) : -EACCES;
}

/* ---- opening --------------------------------------------------------------- */

/* A handle outside files/ keeps the st_ino of the path it was opened by,
 * for fstat(), which comes without a path (nullpath_ok); files/ handles
 * come with their inode's. */
static void handle_ino(const char *path, struct fuse_file_info *fi)
{
    handle *h = HANDLE(fi);

    if (h != NULL && h->ino == 0)
        h->ino = node_ino(path);
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
    node n;
    int rc = node_parse(path, &n);

    if (rc != 0)
        return rc;
    fi->fh = 0;
    rc = trees[n.tree]->open != NULL ? trees[n.tree]->open(FS(), path, &n, fi) : -EISDIR;
    if (rc == 0)
        handle_ino(path, fi);
    return rc;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    vrmfs *fs = FS();
    const struct tree_ops *t;
    node n;
    int rc = node_parse(path, &n);

    if (rc != 0)
        return unknown(fs, path, &n, rc, 0);
    if (fs->read_only)
        return -EROFS;
    fi->fh = 0;
    t = trees[n.tree];
    if (t->read_only)
        return -EROFS;
    rc = t->create != NULL ? t->create(fs, path, &n, mode, fi) : -EACCES;
    if (rc == 0)
        handle_ino(path, fi);
    return rc;
}

/* ---- data ------------------------------------------------------------------ */

static int op_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    handle *h = HANDLE(fi);
    int rc;

    (void)path;
    if (h == NULL)
        return -EBADF;                /* every open gives a handle */
    if (handle_tree(h)->fread != NULL)
        return handle_tree(h)->fread(FS(), h, buf, size, off);
    pthread_mutex_lock(&h->mu);
    rc = buf_read(h->buf, h->len, buf, size, off);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static int op_write(const char *path, const char *data, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    handle *h = HANDLE(fi);
    int rc;

    (void)path;
    if (h == NULL || !h->writable)
        return -EBADF;
    if (handle_tree(h)->fwrite != NULL)
        return handle_tree(h)->fwrite(FS(), h, data, size, off);
    pthread_mutex_lock(&h->mu);
    rc = buf_write(h, h->max, data, size, off);
    if (rc >= 0)
        h->dirty = h->written = 1;
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    vrmfs *fs = FS();
    handle *h = HANDLE(fi);
    node n;
    int rc;

    if (size < 0)
        return -EINVAL;
    if (fs->read_only)
        return -EROFS;
    if (h != NULL && handle_tree(h)->ftruncate != NULL)
        return handle_tree(h)->ftruncate(fs, path, h, size);
    if (h != NULL && h->writable) {
        pthread_mutex_lock(&h->mu);
        rc = buf_truncate(&h->buf, &h->len, &h->cap, h->max, size);
        if (rc == 0)
            h->dirty = h->written = 1;
        pthread_mutex_unlock(&h->mu);
        return rc;
    }
    rc = path ? node_parse(path, &n) : -EBADF;
    if (rc != 0)
        return rc;
    return trees[n.tree]->truncate != NULL ? trees[n.tree]->truncate(fs, path, &n, size)
                                           : -EISDIR;
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
    handle *h = HANDLE(fi);

    if (h == NULL || handle_tree(h)->commit == NULL)
        return 0;
    return handle_tree(h)->commit(FS(), path, h);
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
    handle *h = HANDLE(fi);

    if (h == NULL)
        return 0;
    if (handle_tree(h)->release != NULL)
        handle_tree(h)->release(FS(), path, h);
    handle_free(h);
    return 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    int rc = op_flush(path, fi);

    (void)datasync;
    return rc != 0 ? rc : vrm_vault_sync(FS()->v);
}

static int op_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    (void)datasync;
    (void)fi;
    return vrm_vault_sync(FS()->v);
}

/* ---- extended attributes: files/ only, and records' user.vrm.visible-to ---- */

static int op_setxattr(const char *path, const char *name, const char *value, size_t size,
                       int flags)
{
    node n;
    int rc = path ? node_parse(path, &n) : -EBADF;

    if (rc != 0)
        return rc;
    if (trees[n.tree]->setxattr == NULL)
        return -ENOTSUP;
    return trees[n.tree]->setxattr(FS(), path, &n, name, value, size, flags);
}

static int op_getxattr(const char *path, const char *name, char *value, size_t size)
{
    node n;
    int rc = path ? node_parse(path, &n) : -EBADF;

    if (rc != 0)
        return rc;
    if (trees[n.tree]->getxattr == NULL)
        return -ENODATA;              /* nothing is set outside files/ */
    return trees[n.tree]->getxattr(FS(), &n, name, value, size);
}

static int op_listxattr(const char *path, char *list, size_t size)
{
    node n;
    int rc = path ? node_parse(path, &n) : -EBADF;

    if (rc != 0)
        return rc;
    if (trees[n.tree]->listxattr == NULL)
        return 0;
    return trees[n.tree]->listxattr(FS(), &n, list, size);
}

static int op_removexattr(const char *path, const char *name)
{
    node n;
    int rc = path ? node_parse(path, &n) : -EBADF;

    if (rc != 0)
        return rc;
    if (trees[n.tree]->removexattr == NULL)
        return -ENOTSUP;
    return trees[n.tree]->removexattr(FS(), path, &n, name);
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    /* Writes of up to 1 MiB (the kernel's default is 128 KiB): one
     * transaction each, so a large file is written in 8 times fewer. */
    conn->max_write = 1u << 20;
    /* Inode numbers.  The high-level API gives the kernel a node id per
     * path, so with use_ino off every name of a hard-linked file would show
     * an inode number of its own, and cp -a, rsync -H, du and tar would take
     * them for different files.  With use_ino on, st_ino is ours: a files/
     * inode's own number (1 to 2^35, lib/files.h), and for everything else
     * a stable hash of the path that can never equal one (node_ino in
     * node.h), given by getattr, readdir (fill_ino) and fstat (handle_ino)
     * alike.  Node ids stay libfuse's: inval_entry learns a directory's from
     * a file handle (node_id), and names_changed has the kernel forget the
     * attributes of a file's other names when it changes. */
    cfg->use_ino = 1;
    /* A record's size changes when its text is committed at close() (to its
     * pretty-printed length), after tools may have set times or modes on the
     * open descriptor: flush has those attributes invalidated. */
    cfg->entry_timeout = 1.0;
    cfg->attr_timeout = 1.0;
    cfg->negative_timeout = 0.0;
    /* A file removed while open is renamed to .fuse_hiddenNNN by libfuse
     * and removed at its last close, so that fstat() and read() on it
     * still find it by path. */
    cfg->hard_remove = 0;
    cfg->nullpath_ok = 1;       /* open files are reached by their handle */
    /* before the first request: node_parse reads it without a lock */
    if (node_view() == NULL)
        node_set_trash((unsigned)FS()->uid);
    return FS();
}

const struct fuse_operations vrmfs_ops = {
    .init = op_init,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .chmod = op_chmod,
    .chown = op_chown,
    .truncate = op_truncate,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .statfs = op_statfs,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .setxattr = op_setxattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .removexattr = op_removexattr,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .fsyncdir = op_fsyncdir,
    .create = op_create,
    .utimens = op_utimens,
};
