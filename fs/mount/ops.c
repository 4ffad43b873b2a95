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
#include <fcntl.h>
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

/* An open text's attributes: what has been written so far. */
static int text_getattr(vrmfs *fs, handle *h, struct stat *st)
{
    struct timespec ts;

    now(&ts);
    pthread_mutex_lock(&h->mu);
    fill_file(fs, st, 0600, h->len, ts, ts);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

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
    if (path == NULL && h != NULL)    /* removed while open */
        return text_getattr(fs, h, st);
    rc = path ? node_parse(path, &n) : -EBADF;
    if (rc != 0)
        return rc;
    if (h != NULL && h->writable)
        return text_getattr(fs, h, st);
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

/* mkdir, or a new file (create, symlink, link's and rename's targets), of
 * a path that names nothing (node_parse said rc): its tree answers. */
static int mkdir_unknown(vrmfs *fs, const char *path, const node *n, int rc)
{
    if (trees[n->tree]->mkdir_unknown != NULL)
        return trees[n->tree]->mkdir_unknown(fs, path, rc);
    return rc == -ENOENT ? -EACCES : rc;
}

static int create_unknown(vrmfs *fs, const char *path, const node *n, int rc)
{
    if (trees[n->tree]->create_unknown != NULL)
        return trees[n->tree]->create_unknown(fs, path, rc);
    return rc == -ENOENT ? -EACCES : rc;
}

static int op_mkdir(const char *path, mode_t mode)
{
    vrmfs *fs = FS();
    const struct tree_ops *t;
    node n;
    int rc = node_parse(path, &n);

    if (rc != 0)
        return mkdir_unknown(fs, path, &n, rc);
    t = trees[n.tree];
    if (fs->read_only || t->read_only)
        return -EROFS;
    return t->mkdir != NULL ? t->mkdir(fs, path, &n, mode) : -EACCES;
}

static int op_rmdir(const char *path)
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
    return t->rmdir != NULL ? t->rmdir(fs, &n) : -EACCES;
}

static int op_unlink(const char *path)
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
    return t->unlink != NULL ? t->unlink(fs, &n) : -EISDIR;
}

static int op_symlink(const char *target, const char *path)
{
    vrmfs *fs = FS();
    node n;
    int rc = node_parse(path, &n);

    if (rc != 0)
        return create_unknown(fs, path, &n, rc);
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
        return create_unknown(fs, to, &b, rc);
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
        return create_unknown(fs, to, &b, rc);
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
        return create_unknown(fs, path, &n, rc);
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

/*
 * ==== tree_data: import/ and analytics/.
 *
 * import/<collection>/: a file copied in is held in its handle (H_IMPORT)
 * and imported at close (vrm_import: one transaction); it then is gone,
 * and NAME.report.json (NAME: the file's name less its last extension)
 * says what happened.  mkdir makes a collection, as in records/.
 *
 * analytics/<topic>/<file>: results computed by libvrm on open.
 * analytics/custom/NAME.sql is written by the person (H_CUSTOM, stored at
 * close) and NAME.json, NAME.csv or NAME.error.txt hold its result.
 */

#define IMPORT_MAX (1u << 30)         /* largest file taken into import/ */
#define REPORT_SUFFIX ".report.json"

static const char *const topics[] = {"spending", "calories", "mileage", "activity", "custom",
                                     NULL};

/* Is `t` a folder of analytics/? */
static int topic_known(const char *t)
{
    int i;

    for (i = 0; topics[i] != NULL; i++)
        if (strcmp(topics[i], t) == 0)
            return 1;
    return 0;
}

/* NAME of "NAME.report.json", or 0. */
static int report_name(const char *file, char *out, size_t size)
{
    size_t n = strlen(file), s = sizeof REPORT_SUFFIX - 1;

    if (n <= s || n - s >= size || strcmp(file + n - s, REPORT_SUFFIX) != 0)
        return 0;
    memcpy(out, file, n - s);
    out[n - s] = '\0';
    return 1;
}

/* NAME (for its report) of an imported file: less its last extension. */
static void import_base(const char *file, char *out, size_t size)
{
    const char *dot = strrchr(file, '.');
    size_t n = dot != NULL && dot != file ? (size_t)(dot - file) : strlen(file);

    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), file);
}

/* "topic/file" of an analytics node. */
static void analytics_path(const node *n, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", n->coll, n->name);
}

/* The custom query NAME of "NAME.sql", or 0. */
static int sql_name(const char *file, char *out, size_t size)
{
    size_t n = strlen(file);

    if (n <= 4 || n - 4 >= size || strcmp(file + n - 4, ".sql") != 0)
        return 0;
    memcpy(out, file, n - 4);
    out[n - 4] = '\0';
    return 1;
}

/* Is `n` a custom query, analytics/custom/NAME.sql?  Its NAME into name[256]. */
static int custom_query(const node *n, char *name)
{
    return n->kind == N_ANALYTICS_FILE && strcmp(n->coll, "custom") == 0 &&
           sql_name(n->name, name, 256);
}

static int data_text(vrmfs *fs, const node *n, char **text, size_t *len, int64_t *t)
{
    char name[256], path[600];

    switch (n->kind) {
    case N_IMPORT_FILE:
        if (!report_name(n->name, name, sizeof name))
            return -ENOENT;
        return vrm_import_report_get(fs->v, n->coll, name, text, len, t);
    case N_ANALYTICS_FILE:
        if (strcmp(n->coll, "custom") == 0 && sql_name(n->name, name, sizeof name))
            return vrm_analytics_custom_get(fs->v, name, text, len, t);
        analytics_path(n, path, sizeof path);
        return vrm_analytics_get(fs->v, path, text, len, t);
    default:
        return -ENOENT;
    }
}

static int data_getattr(vrmfs *fs, const char *path, const node *n, struct stat *st)
{
    char *text = NULL, name[256];
    size_t len = 0;
    int64_t t = 0;
    int rc;

    (void)path;
    switch (n->kind) {
    case N_IMPORT:
    case N_ANALYTICS:
        fill_dir(fs, st, n->kind == N_IMPORT ? 0700 : 0500);
        return 0;
    case N_IMPORT_COLL:
        rc = vrm_collection_exists(fs->v, n->coll);
        if (rc == 1)
            fill_dir(fs, st, 0700);
        return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
    case N_ANALYTICS_TOPIC:
        if (!topic_known(n->coll))
            return -ENOENT;
        fill_dir(fs, st, strcmp(n->coll, "custom") == 0 ? 0700 : 0500);
        return 0;
    default:
        if (n->kind == N_ANALYTICS_FILE && !topic_known(n->coll))
            return -ENOENT;
        /* libvrm has no size of a report or a result without its text */
        rc = data_text(fs, n, &text, &len, &t);
        free(text);
        if (rc == 0)
            fill_file(fs, st, custom_query(n, name) ? 0600 : 0400, len, ns_to_ts(t),
                      ns_to_ts(t));
        return rc;
    }
}

typedef struct prefix_fill {
    fill_ctx *c;
    const char *prefix;               /* of names to list, stripped */
    const char *suffix;               /* added */
} prefix_fill;

static int fill_report(void *ctx, const char *name)
{
    fill_ctx *c = ctx;
    char full[300];

    snprintf(full, sizeof full, "%s%s", name, REPORT_SUFFIX);
    return c->filler(c->buf, full, NULL, 0, 0) ? 1 : 0;
}

static int fill_topic_file(void *ctx, const char *path)
{
    prefix_fill *pf = ctx;
    size_t n = strlen(pf->prefix);

    if (strncmp(path, pf->prefix, n) != 0 || path[n] != '/')
        return 0;
    return pf->c->filler(pf->c->buf, path + n + 1, NULL, 0, 0) ? 1 : 0;
}

/* A custom query and those of its result files there are (libvrm has no
 * way to tell which without computing them). */
static int fill_custom(void *ctx, const char *name)
{
    vrmfs *fs = FS();
    fill_ctx *c = ctx;
    static const char *const exts[] = {".json", ".csv", ".error.txt"};
    char full[300], path[320], *text = NULL;
    size_t i, len;

    snprintf(full, sizeof full, "%s.sql", name);
    if (c->filler(c->buf, full, NULL, 0, 0))
        return 1;
    for (i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        snprintf(path, sizeof path, "custom/%s%s", name, exts[i]);
        int64_t t;

        if (vrm_analytics_get(fs->v, path, &text, &len, &t) == 0 &&
            c->filler(c->buf, path + 7, NULL, 0, 0)) {
            free(text);
            return 1;
        }
        free(text);
        text = NULL;
    }
    return 0;
}

static int data_readdir(vrmfs *fs, const node *n, fill_ctx *c, dirh *d, off_t off)
{
    prefix_fill pf = {c, n->coll, ""};
    int i, rc;

    (void)d;
    (void)off;
    if (n->kind == N_IMPORT_FILE || n->kind == N_ANALYTICS_FILE)
        return -ENOTDIR;
    rc = data_getattr(fs, NULL, n, &(struct stat){0});
    if (rc != 0)
        return rc;
    fill_dots(c);
    switch (n->kind) {
    case N_IMPORT:
        rc = vrm_collection_list(fs->v, fill_name, c);
        break;
    case N_IMPORT_COLL:
        rc = vrm_import_reports(fs->v, n->coll, fill_report, c);
        break;
    case N_ANALYTICS:
        for (i = 0; topics[i] != NULL; i++)
            c->filler(c->buf, topics[i], NULL, 0, 0);
        break;
    default:                          /* N_ANALYTICS_TOPIC */
        if (strcmp(n->coll, "custom") == 0) {
            rc = vrm_analytics_custom_list(fs->v, fill_custom, c);
            break;
        }
        for (i = 0; vrm_analytics_files[i] != NULL && rc == 0; i++)
            rc = fill_topic_file(&pf, vrm_analytics_files[i]);
        break;
    }
    return rc < 0 ? rc : 0;
}

/* A file copied into import/<coll>/ or a query written as custom/NAME.sql. */
static int data_create(vrmfs *fs, const char *path, const node *n, mode_t mode,
                       struct fuse_file_info *fi)
{
    char name[256];
    handle *h;
    int rc;

    (void)mode;
    if (n->kind == N_IMPORT_FILE) {
        rc = vrm_collection_exists(fs->v, n->coll);
        if (rc <= 0)
            return rc < 0 ? rc : -ENOENT;
        if (report_name(n->name, name, sizeof name) || n->name[0] == '.') {
            vrm_error(EACCES, "import/: copy in a .csv or .jsonl file (not a report or a "
                      "hidden file)");
            return refuse(path, -EACCES);
        }
        h = handle_new(H_IMPORT, n, 1);
        if (h != NULL)
            h->max = IMPORT_MAX;
    } else if (custom_query(n, name)) {
        h = handle_new(H_CUSTOM, n, 1);
    } else {
        return -EACCES;
    }
    if (h == NULL)
        return -ENOMEM;
    h->dirty = 1;
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->direct_io = 1;
    return 0;
}

static int data_open(vrmfs *fs, const char *path, const node *n, struct fuse_file_info *fi)
{
    int writable = (fi->flags & O_ACCMODE) != O_RDONLY, rc;
    char *text = NULL, name[256];
    size_t len = 0;
    int64_t t;
    handle *h;

    (void)path;
    if (n->kind != N_IMPORT_FILE && n->kind != N_ANALYTICS_FILE)
        return -EISDIR;
    if (n->kind == N_ANALYTICS_FILE && !topic_known(n->coll))
        return -ENOENT;
    if (writable) {
        /* only a custom query can be rewritten */
        if (!custom_query(n, name))
            return -EACCES;
        if (fs->read_only)
            return -EROFS;
        if (!(fi->flags & O_TRUNC) && (rc = data_text(fs, n, &text, &len, &t)) != 0)
            return rc;
        h = handle_new(H_CUSTOM, n, 1);
        if (h == NULL) {
            free(text);
            return -ENOMEM;
        }
        h->buf = text;
        h->len = h->cap = len;
        h->dirty = (fi->flags & O_TRUNC) != 0;
        fi->fh = (uint64_t)(uintptr_t)h;
        fi->direct_io = 1;
        return 0;
    }
    rc = data_text(fs, n, &text, &len, &t);
    return rc != 0 ? rc : snapshot_handle(fi, H_SNAPSHOT, n, text, len);
}

/* A custom query changed: the kernel forgets its result files. */
static void custom_changed(vrmfs *fs, const char *name)
{
    static const char *const exts[] = {".json", ".csv", ".error.txt"};
    char path[300];
    size_t i;

    for (i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        snprintf(path, sizeof path, "!/analytics/custom/%s%s", name, exts[i]);
        inval_queue(fs, path);
        inval_queue(fs, path + 1);
    }
    inval_wait(fs);
}

/* Import the file of an H_IMPORT handle, or store the query of an H_CUSTOM
 * one.  Handle mutex held. */
static int commit_data(vrmfs *fs, const char *path, handle *h)
{
    char where[600], reason[700], name[256], *report = NULL;
    size_t rlen;
    int rc;

    if (!h->dirty || !h->written)
        return 0;
    h->dirty = 0;
    if (path == NULL) {
        snprintf(where, sizeof where, "/%s/%s/%s", h->kind == H_IMPORT ? "import" : "analytics",
                 h->n.coll, h->n.name);
        path = where;
    }
    if (h->kind == H_IMPORT) {
        import_base(h->n.name, name, sizeof name);
        rc = vrm_import(fs->v, h->n.coll, name, h->buf ? h->buf : "", h->len, NULL, NULL,
                        &report, &rlen);
        free(report);
        if (rc == 0) {
            view_collection_changed(fs, h->n.coll);
            return 0;
        }
        snprintf(reason, sizeof reason, "%s; nothing was imported", vrm_error_message());
    } else {
        sql_name(h->n.name, name, sizeof name);
        rc = vrm_analytics_custom_put(fs->v, name, h->buf ? h->buf : "", h->len);
        if (rc == 0) {
            custom_changed(fs, name);
            return 0;
        }
        snprintf(reason, sizeof reason, "%s; the query is unchanged", vrm_error_message());
    }
    vrmfs_refusal(fs, path, reason);
    return rc;
}

static int data_commit(vrmfs *fs, const char *path, handle *h)
{
    int rc;

    pthread_mutex_lock(&h->mu);
    rc = commit_data(fs, path, h);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static int data_unlink(vrmfs *fs, const node *n)
{
    char name[256];

    if (n->kind == N_IMPORT_FILE && report_name(n->name, name, sizeof name))
        return vrm_import_report_delete(fs->v, n->coll, name);
    if (custom_query(n, name)) {
        int rc = vrm_analytics_custom_delete(fs->v, name);

        if (rc == 0)
            custom_changed(fs, name);
        return rc;
    }
    return n->kind == N_IMPORT_FILE || n->kind == N_ANALYTICS_FILE ? -EACCES : -EISDIR;
}

/* mkdir import/<collection> makes the collection. */
static int data_mkdir(vrmfs *fs, const char *path, const node *n, mode_t mode)
{
    int rc;

    (void)mode;
    if (n->kind != N_IMPORT_COLL)
        return -EACCES;
    rc = vrm_collection_create(fs->v, n->coll);
    return rc == -EINVAL ? refuse(path, rc) : rc;
}

const struct tree_ops data_tree = {
    .getattr = data_getattr,
    .readdir = data_readdir,
    .open = data_open,
    .create = data_create,
    .mkdir = data_mkdir,
    .unlink = data_unlink,
    .commit = data_commit,
};
