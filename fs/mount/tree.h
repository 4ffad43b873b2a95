/*
 * tree.h: the trees of the mount, inside the daemon: the operations each
 * one serves (struct tree_ops), and what they share: open file handles,
 * text buffers, attributes, directory listings, invalidations, the error
 * log.
 *
 * Locks (mountfs.h has the threads): a handle's own `mu` guards it and is
 * taken after fs->mu when both are held; open_mu (tree.c), which guards the
 * list of every open handle, is a leaf lock.  Every function here returns 0
 * or a negative errno unless it says otherwise.
 */
#ifndef VRMFS_TREE_H
#define VRMFS_TREE_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "mountfs.h"
#include "node.h"

#define RECORD_MAX (16u << 20)        /* largest record text accepted */
#define ERRLOG_MAX (256u << 10)       /* errors.log keeps its newest bytes */

typedef struct fill_ctx fill_ctx;     /* a listing being filled (below) */
typedef struct dirh dirh;             /* an open directory (below) */

/* ---- the trees -----------------------------------------------------------------
 * Each tree of the mount (node.h: T_ROOT...) serves its paths with one
 * tree_ops.  ops.c parses the path of a request once and calls the op of
 * the node's tree, or for a request on an open file the op of the tree
 * that opened it (h->n.tree).  An op a tree leaves NULL answers as its
 * comment says, for every node of that tree.  Ops return 0 or a negative
 * errno unless said otherwise; where said, TREE_DEFAULT asks for the NULL
 * answer for this node.  Paths are the request's; `n` is node_parse's. */
#define TREE_DEFAULT 1

struct tree_ops {
    /* ---- requests on a path */
    int (*getattr)(vrmfs *fs, const char *path, const node *n, struct stat *st);
                                      /* NULL: -ENOENT; path may be NULL */
    int (*readdir)(vrmfs *fs, const node *n, fill_ctx *c, dirh *d, off_t off);
                                      /* ".", ".." and the entries; d: the open
                                         directory, or NULL.  NULL: -ENOTDIR */
    int (*open)(vrmfs *fs, const char *path, const node *n, struct fuse_file_info *fi);
                                      /* a handle in fi->fh.  NULL: -EISDIR */
    int (*create)(vrmfs *fs, const char *path, const node *n, mode_t mode,
                  struct fuse_file_info *fi);            /* NULL: -EACCES */
    int (*mkdir)(vrmfs *fs, const char *path, const node *n, mode_t mode);
                                      /* NULL: -EACCES */
    int (*rmdir)(vrmfs *fs, const node *n);              /* NULL: -EACCES */
    int (*unlink)(vrmfs *fs, const node *n);             /* NULL: -EISDIR */
    int (*rename)(vrmfs *fs, const char *from, const char *to, const node *a,
                  const node *b, unsigned flags);
                                      /* a to b, either of them in this tree (see
                                         rename_rank).  NULL: -EACCES */
    int (*truncate)(vrmfs *fs, const char *path, const node *n, off_t size);
                                      /* NULL: -EISDIR */
    int (*chmod)(vrmfs *fs, const char *path, const node *n, mode_t mode);
    int (*utimens)(vrmfs *fs, const char *path, const node *n, const struct timespec tv[2]);
                                      /* NULL, or utimens' TREE_DEFAULT: nothing
                                         changes (tools that copy attributes must
                                         not fail): as getattr answers */
    int (*readlink)(vrmfs *fs, const node *n, char *buf, size_t size);
                                      /* NULL: -EINVAL */
    int (*symlink)(vrmfs *fs, const char *target, const char *path, const node *n);
                                      /* NULL: -EACCES */
    int (*link)(vrmfs *fs, const char *to, const node *a, const node *b);
                                      /* both ends in this tree.  NULL, or ends in
                                         two trees: -EXDEV if either tree has a
                                         link, else -EPERM */
    int (*setxattr)(vrmfs *fs, const char *path, const node *n, const char *name,
                    const char *value, size_t size, int flags);   /* NULL: -ENOTSUP */
    int (*getxattr)(vrmfs *fs, const node *n, const char *name, char *value, size_t size);
                                      /* the size.  NULL: -ENODATA */
    int (*listxattr)(vrmfs *fs, const node *n, char *list, size_t size);
                                      /* the size.  NULL: 0 */
    int (*removexattr)(vrmfs *fs, const char *path, const node *n, const char *name);
                                      /* NULL: -ENOTSUP */
    uint64_t (*ino)(vrmfs *fs, const node *n);
                                      /* the st_ino of a listed entry (0: unknown).
                                         NULL: node_ino of its path */
    /* a path in this tree that names nothing (node_parse said rc), for mkdir
     * and for a new file (create, symlink, the target of link and rename):
     * the errno, logged where that helps.  NULL: -EACCES for -ENOENT, else rc */
    int (*mkdir_unknown)(vrmfs *fs, const char *path, int rc);
    int (*create_unknown)(vrmfs *fs, const char *path, int rc);

    /* ---- requests on a handle this tree made (open, create) */
    int (*fgetattr)(vrmfs *fs, handle *h, struct stat *st);
                                      /* NULL, TREE_DEFAULT: a handle being written
                                         or whose path is gone shows its text's
                                         size, else the path's getattr answers */
    int (*fread)(vrmfs *fs, handle *h, char *buf, size_t size, off_t off);
                                      /* bytes read.  NULL: from its text */
    int (*fwrite)(vrmfs *fs, handle *h, const char *data, size_t size, off_t off);
                                      /* bytes written.  NULL: into its text */
    int (*ftruncate)(vrmfs *fs, const char *path, handle *h, off_t size);
                                      /* NULL: its text, if open for writing,
                                         else by path */
    int (*fchmod)(vrmfs *fs, const char *path, handle *h, mode_t mode);
    int (*futimens)(vrmfs *fs, const char *path, handle *h, const struct timespec tv[2]);
                                      /* NULL: by path */
    int (*commit)(vrmfs *fs, const char *path, handle *h);
                                      /* at each close (flush); path may be
                                         NULL.  NULL: 0 */
    void (*release)(vrmfs *fs, const char *path, handle *h);
                                      /* before the handle is freed */

    /* ---- the daemon */
    void (*tick)(vrmfs *fs);          /* once a second (inval.c) */
    void (*forget)(vrmfs *fs);        /* free the tree's state (after the loop) */

    int read_only;                    /* every mkdir, rmdir, unlink, create and
                                         rename in it: -EROFS */
    int rename_rank;                  /* a rename is the tree's of whichever end
                                         ranks higher, the source's if neither:
                                         a tree that ranks answers for every
                                         rename that touches it */
};

/* The trees, by enum tree_id (ops.c), and each tree's own. */
extern const struct tree_ops *const trees[T_COUNT];
extern const struct tree_ops root_tree, records_tree, files_tree, vendors_tree, views_tree,
    messages_tree, data_tree;

/* What one tree asks of another.  tree_vendors.c: 0 if the vendor of `n`
 * is registered, else -ENOENT (or an error). */
int vendor_check(vrmfs *fs, const node *n);

/* tree_views.c: the kernel must forget what it holds of a view: `vendor`'s
 * (returning once it has), everyone's, everyone's that show record
 * coll/name, everyone's after a bulk change of `coll` (returning once it
 * has). */
void view_changed_now(vrmfs *fs, const char *vendor);
void views_changed(vrmfs *fs);
void view_record_changed(vrmfs *fs, const char *coll, const char *name);
void view_collection_changed(vrmfs *fs, const char *coll);

static inline vrmfs *FS(void)
{
    return fuse_get_context()->private_data;
}

static inline void now(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
}

static inline struct timespec ns_to_ts(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};

    return ts;
}

static inline int64_t now_ns(void)
{
    struct timespec ts;

    now(&ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Log libvrm's refusal of `path` (vrm_error_message) and pass its errno on. */
int refuse(const char *path, int err);

/* ---- open files ---------------------------------------------------------------
 * An open file is a handle in fi->fh.  H_RECORD, H_SCRATCH: a record or a
 * scratch file of records/, its whole text held and committed at close.
 * H_FILE: a file of files/, by its inode.  H_SNAPSHOT: a read-only copy of
 * a computed text, taken at open.  H_VTEXT: vendor.json or grants.json open
 * for writing, committed at close like a record.  H_VIEW: a view file, read
 * from a copy computed at open and again at each later read from offset 0,
 * so that a long-lived reader sees grants change.  H_OUTBOX: a message
 * being written into outbox/, queued at close.  H_IMPORT: a file copied
 * into import/, imported at close.  H_CUSTOM: an analytics query, stored at
 * close.  H_VSCRATCH: a tool's temporary file in vendors/<v>/, kept in
 * fs->vscratch at close. */
enum handle_kind { H_RECORD, H_SCRATCH, H_FILE, H_SNAPSHOT, H_VTEXT, H_VIEW, H_OUTBOX,
                   H_IMPORT, H_CUSTOM, H_VSCRATCH };

struct handle {
    enum handle_kind kind;
    node n;                           /* what was opened (rest: NULL) */
    uint64_t ino;                     /* H_FILE: the inode; else the st_ino
                                         of the path opened (node_ino) */
    int append;                       /* H_FILE: opened with O_APPEND */
    _Atomic int linked;               /* H_FILE: the file had other names
                                         while open (see names_changed) */
    _Atomic int changed;              /* H_FILE and linked: written since
                                         the last flush */
    char *buf;                        /* the text, len bytes of it */
    size_t len, cap;
    size_t max;                       /* the longest it may grow (RECORD_MAX) */
    int writable;                     /* opened for writing */
    int dirty;                        /* changed since the last commit */
    int written;                      /* write() or ftruncate() seen */
    int created;                      /* H_RECORD: in fs->pending until committed */
    int hidden;                       /* H_SCRATCH: removed while open, now under
                                         libfuse's .fuse_hidden name: removed at
                                         its release (tree_records.c) */
    int fresh;                        /* H_VIEW: buf not read from offset 0 yet */
    vrm_view_stamp stamp;             /* H_VIEW: what buf was computed from */
    pthread_mutex_t mu;               /* guards this handle */
    handle *next;                     /* in fs->pending */
    handle *open_prev, *open_next;    /* in the list of open handles */
};

static inline handle *HANDLE(const struct fuse_file_info *fi)
{
    return fi ? (handle *)(uintptr_t)fi->fh : NULL;
}

/* A new handle of `kind` for node n (copied; NULL: none), in the list of
 * open handles, or NULL if out of memory.  Free it with handle_free. */
handle *handle_new(enum handle_kind kind, const node *n, int writable);

/* Take h out of the list and free it and its text; NULL is a no-op. */
void handle_free(handle *h);

/* Free every handle still open (the daemon is ending: see tree.c). */
void handles_free_all(void);

/* Mark the open handles of files/ inode `ino` as those of a file with other
 * names: it just got one. */
void handles_linked(uint64_t ino);

/* Give `fi` a new handle of `kind` for a new file being written: empty,
 * committed at its close, up to `max` bytes, read with direct I/O. */
int text_handle(struct fuse_file_info *fi, enum handle_kind kind, const node *n, size_t max);

/* Give `fi` a read-only handle of `kind` holding text[0..len) (taken over,
 * freed on failure). */
int snapshot_handle(struct fuse_file_info *fi, enum handle_kind kind, const node *n,
                    char *text, size_t len);

/* ---- text buffers -------------------------------------------------------------
 * A text grows up to `max` bytes: more is -EFBIG. */

/* Write data[0..size) at `off` into h's text: the bytes written. */
int buf_write(handle *h, size_t max, const char *data, size_t size, off_t off);

/* Make *buf (*len bytes used of *cap) `size` bytes long, zero-filled. */
int buf_truncate(char **buf, size_t *len, size_t *cap, size_t max, off_t size);

/* Read up to `size` bytes at `off` of buf[0..len): the bytes read. */
int buf_read(const char *buf, size_t len, char *out, size_t size, off_t off);

/* ---- attributes ---------------------------------------------------------------
 * Every file shows the mounting user as its owner: the vault is single-user. */

void fill_dir(vrmfs *fs, struct stat *st, mode_t mode);
void fill_file(vrmfs *fs, struct stat *st, mode_t mode, size_t size, struct timespec mtime,
               struct timespec ctime);

/* The attributes of h's text as it is now: what was written so far. */
void fill_text(vrmfs *fs, handle *h, struct stat *st);

/* ---- directories ------------------------------------------------------------ *
 * An open directory (fi->fh): its path, since with nullpath_ok readdir
 * gets none, and, for the two listings that can be long (a collection in
 * records/, a folder of files/), where the last readdir stopped.
 *
 * Those two are given with offsets, libfuse's unbuffered mode: only there
 * does libfuse hand the kernel the attributes of readdirplus entries (in
 * its buffered mode it sends them with node id 0, and the kernel then looks
 * up every name that find, ls -l, cat or rm -r meets: one more round trip
 * per file).  An entry's offset is its number in the walk: ".", "..", then
 * the parts below, each in name order.  The handle keeps the offset, part
 * and name of the last entry given; a readdir at that offset goes on from
 * the next name of that part, so that entries added or removed in between
 * (rm -r unlinks between two getdents) shift nothing.  A readdir at any
 * other offset (seekdir) walks from the start and skips that many.  The
 * kernel sends one readdir of an open directory at a time. */
struct dirh {
    off_t off;                        /* offset of the last entry given, 0: none */
    int part;                         /* its part */
    char last[VRM_FILES_NAME_MAX + 1];/* its name (records: without .json) */
    char path[];                      /* the directory */
};

struct fill_ctx {
    void *buf;
    fuse_fill_dir_t filler;
    const char *suffix;
    int plus;                         /* FUSE_READDIR_PLUS: give attributes too */
    const char *hide;                 /* a name not to list (files/: the trash's), or NULL */
    /* A listing given with offsets (dirh above); d == NULL: buffered. */
    dirh *d;
    off_t n;                          /* number of the last entry walked */
    off_t skip;                       /* entries numbered up to this are not given */
    int part;                         /* the part being walked */
    const char *after;                /* in it, give the names after this (NULL: all) */
};

/* A new open directory `path`, nothing of it given yet (free() it), or
 * NULL if out of memory. */
dirh *dirh_new(const char *path);

/* "." and ".." of a listing without offsets. */
void fill_dots(fill_ctx *c);

/* A file removed while open lives on as .fuse_hiddenNNN until its last
 * close (see op_init); its name is gone for the person, so listings skip it. */
int hidden_by_libfuse(const char *name);

/* A vrm_name_fn: list `name` + c->suffix (ctx: a fill_ctx).  1 once
 * libfuse's buffer is full. */
int fill_name(void *ctx, const char *name);

/* Give one entry of a listing with offsets: `shown` is its name in the
 * directory, `key` its name in the part's order, `st` its attributes
 * (NULL: name only).  Returns 1 once libfuse's buffer is full. */
int emit(fill_ctx *c, const char *shown, const char *key, const struct stat *st);

/* One part of a listing with offsets: its entries in name order after
 * c->after (all if NULL), each given with emit().  1 once the buffer is
 * full, or a negative errno. */
typedef int (*part_fn)(vrmfs *fs, fill_ctx *c, const void *arg);

/* List the open directory d from offset `off`: ".", "..", then parts[0],
 * parts[1]... (arg: theirs). */
int list_in_parts(vrmfs *fs, fill_ctx *c, dirh *d, off_t off, const part_fn *parts,
                  int nparts, const void *arg);

/* ---- invalidations (inval.c) ------------------------------------------------
 * Queue `path` for the invalidation thread (mountfs.h): its cached
 * attributes and pages, or, written "!PATH", its cached name and everything
 * below it.  Nothing if the thread is not running or memory is short (the
 * attributes then time out within a second). */
void inval_queue(vrmfs *fs, const char *path);

/* Wait (at most 2 s) until every invalidation queued so far has been sent:
 * a change of grants returns only once the kernel has forgotten the view.
 * Safe in a handler: the thread's own requests go to the other threads of
 * the loop. */
void inval_wait(vrmfs *fs);

#endif
