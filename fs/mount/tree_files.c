/*
 * tree_files.c: files/ and the trash: a POSIX tree in libvrm's files
 * module, with symbolic links, hard links and user.* extended attributes.
 *
 * A handle holds the inode number, so a file unlinked while open stays
 * readable until released.  st_ino is the store's inode number here, and a
 * path's hash elsewhere (op_init); a change of a file with several names
 * is made visible through all of them (names_changed).
 *
 * The root's .Trash-<uid> (node.h): the trash file managers make at the top
 * of a mount.  It is a folder of the files store: mkdir makes it (0700, for
 * the mounting user only: GIO checks that the folder is the caller's),
 * rmdir removes it, and everything below it is files/ again, so trashing
 * (a rename from files/) and restoring are renames inside the store.  Any
 * other change of the name itself is refused, and so is its name in files/.
 * The store takes nothing from the other trees: links and renames across
 * are -EXDEV (mv copies instead).
 */
#define _GNU_SOURCE
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static void fill_files(vrmfs *fs, const vrm_stat *vs, struct stat *st)
{
    vrm_files_stat_posix(vs, st);
    st->st_uid = fs->uid;
    st->st_gid = fs->gid;
}

/* The names of one file that a change of it refreshes at most; the kernel
 * may keep the others' attributes until they time out (op_init). */
#define NAMES_MAX 256

/* A file of files/ with other names changed: its data, size, times, mode
 * or link count.  The high-level API gives each path a node of its own, so
 * the kernel keeps each name's attributes and pages apart and updates only
 * those of the name a request went through: have it forget them for every
 * name, and wait until it has, so that the change shows through all of
 * them once the request that made it returns.  `skip`: the request's own
 * path, which the kernel updates by itself, or NULL.  For files with one
 * name nothing calls this: handles note at open whether there are others
 * (handle.linked), and unlink, rename and link learn it from libvrm. */
static void names_changed(vrmfs *fs, uint64_t ino, const char *skip)
{
    char *paths, where[PATH_MAX];
    const char *p;
    size_t n, i;
    int queued = 0;

    if (!fs->inval_running || vrm_files_paths(fs->v, ino, NAMES_MAX, &paths, &n) != 0)
        return;  /* (a failure leaves the attribute timeout to do it) */
    for (i = 0, p = paths; i < n; i++, p += strlen(p) + 1)
        if (node_files_path(p, where, sizeof where) == 0 &&
            (skip == NULL || strcmp(where, skip) != 0)) {
            inval_queue(fs, where);
            queued = 1;
        }
    free(paths);
    if (queued)
        inval_wait(fs);
}

/* The inode `n` names: 0 and *ino, with *linked non-zero if it has other
 * names that must hear of a change (names_changed), or a negative errno. */
static int files_inode(vrmfs *fs, const node *n, uint64_t *ino, int *linked)
{
    vrm_stat vs;
    int rc = vrm_files_resolve(fs->v, n->rest, &vs);

    *ino = rc == 0 ? vs.ino : 0;
    *linked = rc == 0 && !S_ISDIR(vs.mode) && vs.nlink > 1;
    return rc;
}

/* ---- the trash ----------------------------------------------------------------- */

/* Refuse a change of the name .Trash-<uid> other than mkdir and rmdir, at
 * the root or (reserved) in files/: -EACCES, logged. */
static int trash_refuse(vrmfs *fs, const char *path)
{
    char reason[300];

    if (node_trash_reserved(path))
        snprintf(reason, sizeof reason, "files/%s is reserved: that name is the trash, "
                 "/%s at the root of the mount; nothing changed", node_trash_name(),
                 node_trash_name());
    else
        snprintf(reason, sizeof reason, "%s is the trash: only mkdir and rmdir make and "
                 "remove it; nothing changed", node_trash_name());
    vrmfs_refusal(fs, path, reason);
    return -EACCES;
}

/* mkdir of the trash: for the mounting user only, whose uid it names and
 * who owns every file shown; always 0700, as the trash specification
 * wants it. */
static int trash_mkdir(vrmfs *fs, const char *path, const node *n)
{
    char reason[300];

    if (fuse_get_context()->uid != fs->uid) {
        snprintf(reason, sizeof reason, "%s is the trash of uid %u, who mounted the vault; "
                 "nothing changed", node_trash_name(), (unsigned)fs->uid);
        vrmfs_refusal(fs, path, reason);
        return -EACCES;
    }
    return vrm_files_mkdir(fs->v, n->rest, 0700, fs->uid, fs->gid, NULL);
}

/* A path of files/ that names nothing is the trash's name there. */
static int files_unknown(vrmfs *fs, const char *path, int rc)
{
    if (rc == -ENOENT && node_trash_reserved(path))
        return trash_refuse(fs, path);
    return rc == -ENOENT ? -EACCES : rc;
}

/* ---- attributes and listings --------------------------------------------------- */

static int files_getattr(vrmfs *fs, const char *path, const node *n, struct stat *st)
{
    vrm_stat vs;
    int rc = vrm_files_resolve(fs->v, n->rest, &vs);

    (void)path;
    if (rc == 0)
        fill_files(fs, &vs, st);
    return rc;
}

static int files_fgetattr(vrmfs *fs, handle *h, struct stat *st)
{
    vrm_stat vs;
    int rc = vrm_files_getattr(fs->v, h->ino, &vs);

    if (rc == 0)
        fill_files(fs, &vs, st);
    return rc;
}

static uint64_t files_ino(vrmfs *fs, const node *n)
{
    vrm_stat vs;

    return vrm_files_resolve(fs->v, n->rest, &vs) == 0 ? vs.ino : 0;
}

/* With readdirplus the kernel takes the attributes with the names, so that
 * `ls -l`, `find`, `rm -r` need no lookup of each entry afterwards. */
static int fill_files_entry(void *ctx, const char *name, const vrm_stat *st)
{
    fill_ctx *c = ctx;
    struct stat s;

    if (hidden_by_libfuse(name) || (c->hide != NULL && strcmp(name, c->hide) == 0))
        return 0;
    memset(&s, 0, sizeof s);
    fill_files(FS(), st, &s);   /* without readdirplus too: for d_ino and d_type */
    return emit(c, name, name, &s);
}

static int list_folder(vrmfs *fs, fill_ctx *c, const void *dir_ino)
{
    return vrm_files_readdir(fs->v, *(const uint64_t *)dir_ino, c->after, fill_files_entry, c);
}

/* A folder is listed with offsets (tree.h), in one part. */
static int files_readdir(vrmfs *fs, const node *n, fill_ctx *c, dirh *d, off_t off)
{
    static const part_fn parts[] = {list_folder};
    vrm_stat vs;
    int rc = vrm_files_resolve(fs->v, n->rest, &vs);

    if (rc != 0)
        return rc;
    if (!S_ISDIR(vs.mode))
        return -ENOTDIR;
    if (d == NULL) {
        fill_dots(c);
        return -EIO;                  /* always opened */
    }
    if (n->trash == 0 && strcmp(n->rest, "/") == 0)
        c->hide = node_trash_name();   /* the store's root: files/ */
    return list_in_parts(fs, c, d, off, parts, 1, &vs.ino);
}

/* ---- opening -------------------------------------------------------------------- */

/* Open the inode `vs` that `path` names.  Whether it has other names is
 * noted now, from what the lookup read (a link made later marks the handle
 * too, see handles_linked), so that writes to a file with one name cost
 * nothing more. */
static int open_file(vrmfs *fs, const char *path, const node *n, const vrm_stat *vs,
                     struct fuse_file_info *fi)
{
    int writable = (fi->flags & O_ACCMODE) != O_RDONLY, rc;
    uint64_t ino = vs->ino;
    handle *h;

    if (writable && fs->read_only)
        return -EROFS;
    h = handle_new(H_FILE, n, writable);
    if (h == NULL)
        return -ENOMEM;
    h->ino = ino;
    h->append = (fi->flags & O_APPEND) != 0;
    h->linked = vs->nlink > 1;
    rc = vrm_files_open(fs->v, ino);
    if (rc == 0 && writable && (fi->flags & O_TRUNC)) {
        rc = vrm_files_truncate(fs->v, ino, 0);
        if (rc == 0 && h->linked)
            names_changed(fs, ino, path);
    }
    if (rc != 0) {
        if (rc != -ENOENT && vrm_files_release(fs->v, ino) != 0)
            vrmfs_log(fs, LOG_WARNING, "%s: %s", path, vrm_error_message());
        handle_free(h);
        return rc;
    }
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->keep_cache = 0;
    return 0;
}

static int files_open(vrmfs *fs, const char *path, const node *n, struct fuse_file_info *fi)
{
    vrm_stat vs;
    int rc = vrm_files_resolve(fs->v, n->rest, &vs);

    if (rc != 0)
        return rc;
    if (S_ISDIR(vs.mode))
        return -EISDIR;
    return open_file(fs, path, n, &vs, fi);
}

static int files_create(vrmfs *fs, const char *path, const node *n, mode_t mode,
                        struct fuse_file_info *fi)
{
    vrm_stat vs;
    int rc;

    if (n->trash == 1)
        return trash_refuse(fs, path);
    rc = vrm_files_create(fs->v, n->rest, mode, fs->uid, fs->gid, &vs);
    if (rc == -EEXIST && !(fi->flags & O_EXCL)) {
        rc = vrm_files_resolve(fs->v, n->rest, &vs);
        if (rc == 0 && S_ISDIR(vs.mode))
            rc = -EISDIR;
    }
    return rc != 0 ? rc : open_file(fs, path, n, &vs, fi);
}

/* ---- changes by path ---------------------------------------------------------------- */

static int files_mkdir(vrmfs *fs, const char *path, const node *n, mode_t mode)
{
    if (n->trash == 1)
        return trash_mkdir(fs, path, n);
    return vrm_files_mkdir(fs->v, n->rest, mode, fs->uid, fs->gid, NULL);
}

static int files_rmdir(vrmfs *fs, const node *n)
{
    return vrm_files_rmdir(fs->v, n->rest);
}

static int files_unlink(vrmfs *fs, const node *n)
{
    vrm_stat left;
    int rc = vrm_files_unlink_stat(fs->v, n->rest, &left);

    if (rc == 0 && left.nlink > 0)
        names_changed(fs, left.ino, NULL);   /* their link count */
    return rc;
}

/* files/ and the trash are one store: trashing and restoring are renames;
 * with an end elsewhere, -EXDEV. */
static int files_rename(vrmfs *fs, const char *from, const char *to, const node *a,
                        const node *b, unsigned flags)
{
    vrm_stat moved, replaced;
    int rc;

    if ((a->kind == N_FILES && a->trash == 1) || (b->kind == N_FILES && b->trash == 1))
        return trash_refuse(fs, a->trash == 1 ? from : to);
    if (a->kind != N_FILES || b->kind != N_FILES)
        return -EXDEV;  /* mv copies between files/ and records/ instead */
    rc = vrm_files_rename_stat(fs->v, a->rest, b->rest, flags, &moved, &replaced);
    if (rc != 0)
        return rc;
    /* the kernel updates the two names itself; other names of either
     * file: the replaced one's link count, the ctime of both */
    if (!S_ISDIR(moved.mode) && moved.nlink > 1)
        names_changed(fs, moved.ino, NULL);
    if (replaced.ino != 0 && !S_ISDIR(replaced.mode) &&
        replaced.nlink > ((flags & RENAME_EXCHANGE) ? 1u : 0u))
        names_changed(fs, replaced.ino, NULL);
    return 0;
}

static int files_link(vrmfs *fs, const char *to, const node *a, const node *b)
{
    vrm_stat vs;
    int rc;

    if (fs->read_only)
        return -EROFS;
    if (b->trash == 1)
        return trash_refuse(fs, to);
    rc = vrm_files_link(fs->v, a->rest, b->rest, &vs);
    if (rc == 0) {
        handles_linked(vs.ino);
        names_changed(fs, vs.ino, to);   /* `to` is looked up anew */
    }
    return rc;
}

static int files_symlink(vrmfs *fs, const char *target, const char *path, const node *n)
{
    if (fs->read_only)
        return -EROFS;
    if (n->trash == 1)
        return trash_refuse(fs, path);
    return vrm_files_symlink(fs->v, target, n->rest, fs->uid, fs->gid, NULL);
}

static int files_readlink(vrmfs *fs, const node *n, char *buf, size_t size)
{
    int rc = vrm_files_readlink(fs->v, n->rest, buf, size);

    return rc < 0 ? rc : 0;
}

static int files_truncate(vrmfs *fs, const char *path, const node *n, off_t size)
{
    vrm_stat vs;
    int rc = vrm_files_resolve(fs->v, n->rest, &vs);

    if (rc == 0)
        rc = vrm_files_truncate(fs->v, vs.ino, (uint64_t)size);
    if (rc == 0 && vs.nlink > 1)
        names_changed(fs, vs.ino, path);
    return rc;
}

/* chmod and utimens of inode `ino` (`linked`: see files_inode). */
static int chmod_ino(vrmfs *fs, const char *path, uint64_t ino, int linked, mode_t mode)
{
    int rc = fs->read_only ? -EROFS : vrm_files_chmod(fs->v, ino, mode);

    if (rc == 0 && linked)
        names_changed(fs, ino, path);
    return rc;
}

static int utimens_ino(vrmfs *fs, const char *path, uint64_t ino, int linked,
                       const struct timespec tv[2])
{
    int rc = fs->read_only ? -EROFS : vrm_files_utimens(fs->v, ino, tv);

    if (rc == 0 && linked)
        names_changed(fs, ino, path);
    return rc;
}

static int files_chmod(vrmfs *fs, const char *path, const node *n, mode_t mode)
{
    uint64_t ino;
    int linked, rc = files_inode(fs, n, &ino, &linked);

    return rc != 0 ? rc : chmod_ino(fs, path, ino, linked, mode);
}

static int files_utimens(vrmfs *fs, const char *path, const node *n,
                         const struct timespec tv[2])
{
    uint64_t ino;
    int linked, rc = files_inode(fs, n, &ino, &linked);

    return rc != 0 ? rc : utimens_ino(fs, path, ino, linked, tv);
}

/* ---- extended attributes -------------------------------------------------------- */

static int files_setxattr(vrmfs *fs, const char *path, const node *n, const char *name,
                          const char *value, size_t size, int flags)
{
    uint64_t ino;
    int linked, rc = files_inode(fs, n, &ino, &linked);

    if (rc == 0 && fs->read_only)
        rc = -EROFS;
    if (rc == 0)
        rc = vrm_files_setxattr(fs->v, ino, name, value, size, flags);
    if (rc == 0 && linked)
        names_changed(fs, ino, path);   /* its ctime */
    return rc;
}

static int files_getxattr(vrmfs *fs, const node *n, const char *name, char *value,
                          size_t size)
{
    uint64_t ino;
    int linked, rc = files_inode(fs, n, &ino, &linked);

    return rc != 0 ? rc : vrm_files_getxattr(fs->v, ino, name, value, size);
}

static int files_listxattr(vrmfs *fs, const node *n, char *list, size_t size)
{
    uint64_t ino;
    int linked, rc = files_inode(fs, n, &ino, &linked);

    return rc != 0 ? rc : vrm_files_listxattr(fs->v, ino, list, size);
}

static int files_removexattr(vrmfs *fs, const char *path, const node *n, const char *name)
{
    uint64_t ino;
    int linked, rc = files_inode(fs, n, &ino, &linked);

    if (rc == 0 && fs->read_only)
        rc = -EROFS;
    if (rc == 0)
        rc = vrm_files_removexattr(fs->v, ino, name);
    if (rc == 0 && linked)
        names_changed(fs, ino, path);
    return rc;
}

/* ---- open files ------------------------------------------------------------------ */

static int files_read(vrmfs *fs, handle *h, char *buf, size_t size, off_t off)
{
    if (off < 0)
        return -EINVAL;
    return (int)vrm_files_read(fs->v, h->ino, buf, size, (uint64_t)off);
}

static int files_write(vrmfs *fs, handle *h, const char *data, size_t size, off_t off)
{
    ssize_t n;

    if (off < 0)
        return -EINVAL;
    n = h->append ? vrm_files_append(fs->v, h->ino, data, size)
                  : vrm_files_write(fs->v, h->ino, data, size, (uint64_t)off);
    if (n > 0 && h->linked)
        h->changed = 1;   /* the other names learn of it at flush */
    return (int)n;
}

static int files_ftruncate(vrmfs *fs, const char *path, handle *h, off_t size)
{
    int rc = vrm_files_truncate(fs->v, h->ino, (uint64_t)size);

    if (rc == 0 && h->linked)
        names_changed(fs, h->ino, path);
    return rc;
}

static int files_fchmod(vrmfs *fs, const char *path, handle *h, mode_t mode)
{
    return chmod_ino(fs, path, h->ino, h->linked, mode);
}

static int files_futimens(vrmfs *fs, const char *path, handle *h, const struct timespec tv[2])
{
    return utimens_ino(fs, path, h->ino, h->linked, tv);
}

/* files/ data is committed by each write; other names of the file show
 * what was written once it is closed (or synced). */
static int files_commit(vrmfs *fs, const char *path, handle *h)
{
    if (h->linked && atomic_exchange(&h->changed, 0))
        names_changed(fs, h->ino, path);
    return 0;
}

/* The last close of a file removed while open deletes it: a failure then
 * (a full disk) leaves it for the next mount's clean-up, and is logged. */
static void files_release(vrmfs *fs, const char *path, handle *h)
{
    if (vrm_files_release(fs->v, h->ino) != 0)
        vrmfs_log(fs, LOG_WARNING, "releasing %s: %s", path != NULL ? path : "a file",
                  vrm_error_message());
}

const struct tree_ops files_tree = {
    .getattr = files_getattr,
    .readdir = files_readdir,
    .open = files_open,
    .create = files_create,
    .mkdir = files_mkdir,
    .rmdir = files_rmdir,
    .unlink = files_unlink,
    .rename = files_rename,
    .truncate = files_truncate,
    .chmod = files_chmod,
    .utimens = files_utimens,
    .readlink = files_readlink,
    .symlink = files_symlink,
    .link = files_link,
    .setxattr = files_setxattr,
    .getxattr = files_getxattr,
    .listxattr = files_listxattr,
    .removexattr = files_removexattr,
    .ino = files_ino,
    .mkdir_unknown = files_unknown,
    .create_unknown = files_unknown,
    .fgetattr = files_fgetattr,
    .fread = files_read,
    .fwrite = files_write,
    .ftruncate = files_ftruncate,
    .fchmod = files_fchmod,
    .futimens = files_futimens,
    .commit = files_commit,
    .release = files_release,
    .rename_rank = 2,
};
