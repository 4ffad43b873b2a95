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
 *
 * Anything else is -ENOENT.  Parsing checks lengths only; libvrm decides
 * which names are valid.
 */
#ifndef VRMFS_NODE_H
#define VRMFS_NODE_H

#include "records.h"

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
};

typedef struct node {
    enum node_kind kind;
    char coll[VRM_COLLECTION_MAX + 1];     /* N_COLL, N_RECORD, N_SCRATCH */
    char name[256];                        /* N_RECORD (no .json), N_SCRATCH */
    const char *rest;                      /* N_FILES: points into the path */
} node;

/* Parse `path` (absolute, as FUSE gives it).  0, -ENOENT or -ENAMETOOLONG. */
int node_parse(const char *path, node *n);

#endif
