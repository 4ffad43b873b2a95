/*
 * node.h: a path in the mounted tree, parsed once into what it names: its
 * node, and the tree of the mount that serves it.
 *
 * Which path is which node, and of which tree, is the route table at the
 * top of node.c.
 *
 * The trash.  File managers (GIO) trash a file of a mount into the mount's
 * own `$top/.Trash-$uid` and rename the file into it; so the root has, once
 * made, `.Trash-<uid>` for the mounting user's uid (node_set_trash): a
 * folder of the files store kept at the store's root under that name, so
 * that `rest` is the path itself and renames between files/ and the trash
 * are renames inside the store.  It is N_FILES, `trash` 1 for the folder
 * and 2 below it.  Below files/ that name of the store root is the trash's,
 * so `/files/.Trash-<uid>` and below are -ENOENT.
 *
 * A mount of one vendor's view (vrmfs --view VENDOR, see node_set_view) has
 * that view at its root: "/" is N_VIEW and "/records/..." the rest, and
 * nothing else exists.
 *
 * Anything else is -ENOENT.  Parsing checks lengths only; libvrm decides
 * which names are valid.
 */
#ifndef VRMFS_NODE_H
#define VRMFS_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "vrm.h"

/* The trees of the mount, each served by its own tree_ops (tree.h). */
enum tree_id {
    T_ROOT,                           /* /, README.txt, .vrmfs/ */
    T_RECORDS,                        /* records/ */
    T_FILES,                          /* files/ and the trash */
    T_VENDORS,                        /* vendors/ */
    T_VIEWS,                          /* views/ (a --view mount's root) */
    T_MESSAGES,                       /* outbox/, sent/, inbox/ */
    T_DATA,                           /* import/, analytics/ */
    T_COUNT
};

/* What a path names.  The order means nothing: the route table (node.c)
 * says which path is which. */
enum node_kind {
    N_ROOT,
    N_README,
    N_META,
    N_ERRLOG,
    N_RECORDS,
    N_COLL,
    N_RECORD,
    N_SCRATCH,
    N_FILES,
    N_VENDORS,
    N_VENDOR,
    N_VENDOR_JSON,
    N_IDENTITY,
    N_GRANTS,
    N_ACCESSLOG,
    N_RECEIPTS,
    N_RECEIPT,
    N_VENDOR_SCRATCH,
    N_VIEWS,
    N_VIEW,
    N_VIEW_RECORDS,
    N_VIEW_COLL,
    N_VIEW_RECORD,
    N_OUTBOX,
    N_OUTBOX_VENDOR,
    N_OUTBOX_MSG,
    N_SENT,
    N_SENT_VENDOR,
    N_SENT_MSG,
    N_INBOX,
    N_INBOX_VENDOR,
    N_INBOX_MSG,
    N_REJECTED,
    N_REJECTED_MSG,
    N_IMPORT,
    N_IMPORT_COLL,
    N_IMPORT_FILE,
    N_ANALYTICS,
    N_ANALYTICS_TOPIC,
    N_ANALYTICS_FILE,
    N_VIEW_ANALYTICS,
    N_VIEW_ATOPIC,
    N_VIEW_AFILE,
};

typedef struct node {
    enum node_kind kind;
    enum tree_id tree;                     /* the tree that serves it */
    char coll[VRM_COLLECTION_MAX + 1];     /* a collection, or an analytics topic */
    char name[256];                        /* a file's name (less .json where
                                              the route has "*.json") */
    char vendor[VRM_VENDOR_MAX + 1];       /* a vendor (its view, its messages) */
    long long num;                         /* N_RECEIPT: its number */
    int jws;                               /* N_RECEIPT: .jws (1) or .json (0) */
    const char *rest;                      /* N_FILES: the files store's path,
                                              pointing into the path */
    int trash;                             /* N_FILES: 1 the root's .Trash-<uid>
                                              folder itself, 2 below it, else 0 */
} node;

/* Parse `path` (absolute, as FUSE gives it).  0, -ENOENT or -ENAMETOOLONG.
 * Whatever it returns, n->tree is set: on failure, the tree of the folder
 * at the top of the path (T_ROOT when there is none such, T_VIEWS on a
 * --view mount), whose rules say how to refuse a name made there. */
int node_parse(const char *path, node *n);

/* Make every later node_parse() see the tree of one vendor's view (a
 * `--view VENDOR` mount).  Call once, before the file system runs. */
void node_set_view(const char *vendor);

/* The view's vendor of such a mount, or NULL. */
const char *node_view(void);

/* Give the root the trash folder `.Trash-<uid>` (and hide that name in
 * files/).  Call once, before the file system serves a request; not on a
 * view mount. */
void node_set_trash(unsigned uid);

/* The trash folder's name (".Trash-<uid>"), or "" if there is none. */
const char *node_trash_name(void);

/* 1 if `path` is /files/.Trash-<uid> or below: the trash's name, reserved
 * in files/ (node_parse says -ENOENT; this tells a refusal why). */
int node_trash_reserved(const char *path);

/* The inverse of node_parse for N_FILES: the path in the mount of the
 * files store's path `rest` ("/a/b" -> "/files/a/b"; the trash's folder and
 * what is below it keep their path), into out[0..size).  0, or -ENOENT on a
 * view mount (no files there), -ENAMETOOLONG if it does not fit. */
int node_files_path(const char *rest, char *out, size_t size);

/* The inode number shown for `path` when it is not in the files store,
 * whose own numbers (1 up to 2^35) name its files: a 64-bit hash of the
 * path with bit 62 set and bit 63 clear, so that it never equals one of
 * those, stays positive for tools that hold it in a signed 64-bit integer,
 * and is the same for a path for as long as the mount lasts and across
 * mounts (see op_init in ops.c). */
uint64_t node_ino(const char *path);

#endif
