/*
 * tree_root.c: the root of the mount: the vault's folders, README.txt (what
 * they hold) and .vrmfs/errors.log (every refusal, newest last: tree.c's
 * vrmfs_refusal writes it, in memory only).  Both files are read-only and
 * read from a copy taken at open, since reads may come without a path.
 * The root's folders are fixed: none is made or removed here, and mkdir of
 * another name at the root is refused and logged, the trash being the one
 * folder made there (tree_files.c).
 */
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

static const char readme[] =
    "This is a vrmfs vault: a person's own data, encrypted at rest.\n"
    "\n"
    "records/<collection>/<name>.json\n"
    "    One JSON object per file.  Write a file and close it to create or\n"
    "    replace the record (one transaction); rm deletes it; mkdir and rmdir\n"
    "    make and remove collections (names: a-z, 0-9, '_' and '-').  What is\n"
    "    not a JSON object is refused when the file is closed (EINVAL) and\n"
    "    nothing changes.  Files not ending in .json are tools' scratch files\n"
    "    (vim's swap file, sed's temporary): kept, but never records.\n"
    "\n"
    "files/\n"
    "    Any documents: an ordinary tree of folders, files and symbolic links,\n"
    "    with user.* extended attributes, encrypted like everything else.\n"
    "\n"
    ".Trash-<uid>/\n"
    "    The trash of file managers (gio trash, Move to Trash), made when\n"
    "    first used: files/ and info/ as the freedesktop.org specification\n"
    "    has them.  Restore a file by moving it back into files/ (its\n"
    "    info/NAME.trashinfo says where from); rm -r empties the trash.\n"
    "\n"
    "vendors/<vendor>/\n"
    "    mkdir registers a vendor, rmdir (or rm -r) revokes its grants and\n"
    "    removes it.  vendor.json (name, keys, endpoint, terms, note,\n"
    "    accepts_intents) and grants.json (what it may see, for what purpose,\n"
    "    until when) are written as a whole; identity.json is your pairwise\n"
    "    identity for it; receipts/ holds a signed consent receipt for every\n"
    "    change of its grants; access.log every read of its view.\n"
    "\n"
    "outbox/<vendor>/NAME.json\n"
    "    Write a message (kind disclose, intent or note) and close it: it is\n"
    "    signed, sealed and sent; it waits as ID.pending.json until delivered.\n"
    "    outbox/all/ broadcasts an intent to every vendor that accepts them.\n"
    "\n"
    "import/<collection>/\n"
    "    Copy a CSV (with a header row) or JSON-lines file here: each row\n"
    "    becomes a record; NAME.report.json says what happened.\n"
    "\n"
    "analytics/<topic>/\n"
    "    Spending, calories, mileage and activity, computed from the records:\n"
    "    JSON, CSV and SVG charts.  analytics/custom/NAME.sql: your own query.\n"
    "\n"
    "sent/<vendor>/ID.json, inbox/<vendor>/ID.json\n"
    "    What went out, and the vendor's verified replies.\n"
    "\n"
    "views/<vendor>/records/<collection>/<name>.json\n"
    "    Exactly what that vendor may see now, read-only.  Every open is\n"
    "    logged in vendors/<vendor>/access.log.\n"
    "\n"
    ".vrmfs/errors.log\n"
    "    Every refusal, newest last: time, path and reason.\n"
    "\n"
    "Unmount with: fusermount3 -u <mountpoint>\n";

static int root_getattr(vrmfs *fs, const char *path, const node *n, struct stat *st)
{
    (void)path;
    switch (n->kind) {
    case N_ROOT:
        fill_dir(fs, st, 0700);
        return 0;
    case N_META:
        fill_dir(fs, st, 0500);
        return 0;
    case N_README:
        fill_file(fs, st, 0400, sizeof readme - 1, fs->mounted, fs->mounted);
        return 0;
    case N_ERRLOG:
        pthread_mutex_lock(&fs->mu);
        fill_file(fs, st, 0400, fs->errlen, fs->mounted, fs->mounted);
        pthread_mutex_unlock(&fs->mu);
        return 0;
    default:
        return -ENOENT;
    }
}

static int root_readdir(vrmfs *fs, const node *n, fill_ctx *c, dirh *d, off_t off)
{
    static const char *const entries[] = {"README.txt", ".vrmfs", "files", "records", "vendors",
                                          "views", "outbox", "sent", "inbox", "import",
                                          "analytics"};
    vrm_stat vs;
    size_t i;

    (void)d;
    (void)off;
    if (n->kind != N_ROOT && n->kind != N_META)
        return -ENOTDIR;
    fill_dots(c);
    if (n->kind == N_META) {
        c->filler(c->buf, "errors.log", NULL, 0, 0);
        return 0;
    }
    for (i = 0; i < sizeof entries / sizeof entries[0]; i++)
        c->filler(c->buf, entries[i], NULL, 0, 0);
    if (node_trash_name()[0] != '\0' && vrm_files_resolve(fs->v, node_trash_name(), &vs) == 0)
        c->filler(c->buf, node_trash_name(), NULL, 0, 0);   /* once made */
    return 0;
}

static int root_open(vrmfs *fs, const char *path, const node *n, struct fuse_file_info *fi)
{
    handle *h;
    int rc;

    (void)path;
    if (n->kind != N_README && n->kind != N_ERRLOG)
        return -EISDIR;
    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return -EACCES;
    h = handle_new(H_SNAPSHOT, n, 0);
    if (h == NULL)
        return -ENOMEM;
    pthread_mutex_lock(&fs->mu);
    rc = n->kind == N_README ? buf_write(h, sizeof readme, readme, sizeof readme - 1, 0)
                             : buf_write(h, ERRLOG_MAX, fs->errlog ? fs->errlog : "",
                                         fs->errlen, 0);
    pthread_mutex_unlock(&fs->mu);
    if (rc < 0) {
        handle_free(h);
        return rc;
    }
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->direct_io = 1;
    return 0;
}

/* The root's folders exist: mkdir of any of them (or of a file) is -EEXIST. */
static int root_mkdir(vrmfs *fs, const char *path, const node *n, mode_t mode)
{
    (void)fs;
    (void)path;
    (void)n;
    (void)mode;
    return -EEXIST;
}

/* mkdir of an unknown name: refused, and logged at the root itself. */
static int root_mkdir_unknown(vrmfs *fs, const char *path, int rc)
{
    char reason[300];

    if (rc == -ENOENT && strchr(path + 1, '/') == NULL) {
        if (node_trash_name()[0] != '\0')
            snprintf(reason, sizeof reason, "the root holds the vault's folders; the only "
                     "folder made here is the trash, %s; nothing changed", node_trash_name());
        else
            snprintf(reason, sizeof reason, "the root holds the vault's folders; nothing "
                     "changed");
        vrmfs_refusal(fs, path, reason);
    }
    return rc == -ENOENT ? -EACCES : rc;
}

/* README.txt and errors.log are read-only; the rest are folders. */
static int root_read_only(const node *n)
{
    return n->kind == N_README || n->kind == N_ERRLOG ? -EACCES : -EISDIR;
}

static int root_unlink(vrmfs *fs, const node *n)
{
    (void)fs;
    return root_read_only(n);
}

static int root_truncate(vrmfs *fs, const char *path, const node *n, off_t size)
{
    (void)fs;
    (void)path;
    (void)size;
    return root_read_only(n);
}

const struct tree_ops root_tree = {
    .getattr = root_getattr,
    .readdir = root_readdir,
    .open = root_open,
    .mkdir = root_mkdir,
    .mkdir_unknown = root_mkdir_unknown,
    .unlink = root_unlink,
    .truncate = root_truncate,
};
