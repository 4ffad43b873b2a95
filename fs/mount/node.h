/*
 * node.h: a path in the mounted tree, parsed once into what it names.
 *
 *   /                                  N_ROOT
 *   /README.txt                        N_README
 *   /.vrmfs                            N_META
 *   /.vrmfs/errors.log                 N_ERRLOG
 *   /records                           N_RECORDS
 *   /records/<collection>              N_COLL
 *   /records/<collection>/<name>.json  N_RECORD   (name without ".json")
 *   /records/<collection>/<other>      N_SCRATCH  (an editor's temporary file)
 *   /files, /files/...                 N_FILES    (`rest`: the path below files/,
 *                                                  "/" for files/ itself)
 *   /.Trash-<uid>, /.Trash-<uid>/...   N_FILES    (`trash` 1 for the folder, 2
 *                                                  below it; `rest`: the whole
 *                                                  path, see below)
 *   /vendors                           N_VENDORS
 *   /vendors/<vendor>                  N_VENDOR
 *   /vendors/<vendor>/vendor.json      N_VENDOR_JSON
 *   /vendors/<vendor>/identity.json    N_IDENTITY
 *   /vendors/<vendor>/grants.json      N_GRANTS
 *   /vendors/<vendor>/access.log       N_ACCESSLOG
 *   /vendors/<vendor>/receipts         N_RECEIPTS
 *   /vendors/<vendor>/receipts/<N>.jws N_RECEIPT  (`num` N, `jws` 1; .json: 0)
 *   /vendors/<vendor>/<other>          N_VENDOR_SCRATCH (`name`: an editor's
 *                                                  temporary file, sed -i's)
 *   /views                             N_VIEWS
 *   /views/<vendor>                    N_VIEW
 *   /views/<vendor>/records            N_VIEW_RECORDS
 *   /views/<vendor>/records/<coll>     N_VIEW_COLL
 *   /views/<vendor>/records/<coll>/<name>.json   N_VIEW_RECORD
 *
 *   /outbox                            N_OUTBOX
 *   /outbox/<vendor>                   N_OUTBOX_VENDOR  ("all": broadcasts)
 *   /outbox/<vendor>/<name>            N_OUTBOX_MSG  (`name` whole: ID.pending.json,
 *                                                     or a new message's file)
 *   /sent, /sent/<vendor>              N_SENT, N_SENT_VENDOR
 *   /sent/<vendor>/<id>.json           N_SENT_MSG    (`name`: the id)
 *   /inbox, /inbox/<vendor>            N_INBOX, N_INBOX_VENDOR
 *   /inbox/<vendor>/<id>.json          N_INBOX_MSG   (`name`: the id)
 *   /inbox/.rejected                   N_REJECTED
 *   /inbox/.rejected/<name>.json       N_REJECTED_MSG  (`name` without .json)
 *
 *   /import                            N_IMPORT
 *   /import/<collection>               N_IMPORT_COLL
 *   /import/<collection>/<name>        N_IMPORT_FILE (`name` whole: NAME.report.json,
 *                                                     or a file being imported)
 *   /analytics                         N_ANALYTICS
 *   /analytics/<topic>                 N_ANALYTICS_TOPIC (`coll`: the topic)
 *   /analytics/<topic>/<file>          N_ANALYTICS_FILE  (`name`: the file)
 *   /views/<vendor>/analytics          N_VIEW_ANALYTICS
 *   /views/<vendor>/analytics/<topic>  N_VIEW_ATOPIC     (`coll`: the topic)
 *   /views/<vendor>/analytics/<topic>/<file>  N_VIEW_AFILE (`name`: the file)
 *
 * The trash.  File managers (GIO) trash a file of a mount into the mount's
 * own `$top/.Trash-$uid` and rename the file into it; so the root has, once
 * made, `.Trash-<uid>` for the mounting user's uid (node_set_trash): a
 * folder of the files store kept at the store's root under that name, so
 * that `rest` is the path itself and renames between files/ and the trash
 * are renames inside the store.  Below files/ that name of the store root
 * is the trash's, so `/files/.Trash-<uid>` and below are -ENOENT.
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
    char coll[VRM_COLLECTION_MAX + 1];     /* N_COLL, N_RECORD, N_SCRATCH, N_VIEW_* */
    char name[256];                        /* N_RECORD (no .json), N_SCRATCH,
                                              N_VIEW_RECORD (no .json) */
    char vendor[VRM_COLLECTION_MAX + 1];   /* N_VENDOR..N_RECEIPT, N_VIEW.. */
    long long num;                         /* N_RECEIPT: its number */
    int jws;                               /* N_RECEIPT: .jws (1) or .json (0) */
    const char *rest;                      /* N_FILES: points into the path */
    int trash;                             /* N_FILES: 1 the root's .Trash-<uid>
                                              folder itself, 2 below it, else 0 */
} node;

/* Parse `path` (absolute, as FUSE gives it).  0, -ENOENT or -ENAMETOOLONG. */
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
