/*
 * tree_data.c: import/ and analytics/.
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
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_MAX (1u << 30)         /* largest file taken into import/ */

/* "topic/file" of an analytics node. */
static void analytics_path(const node *n, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", n->coll, n->name);
}

/* 0 if `n` is a custom query, analytics/custom/NAME.sql (its NAME into
 * name[256]), else -ENOENT. */
static int custom_query(const node *n, char *name)
{
    char path[600];

    if (n->kind != N_ANALYTICS_FILE)
        return -ENOENT;
    analytics_path(n, path, sizeof path);
    return vrm_analytics_query_name(path, name, 256);
}

static int data_text(vrmfs *fs, const node *n, char **text, size_t *len, int64_t *t)
{
    char name[256], path[600];

    switch (n->kind) {
    case N_IMPORT_FILE:
        if (vrm_import_report_name(n->name, name, sizeof name) != 0)
            return -ENOENT;
        return vrm_import_report_get(fs->v, n->coll, name, text, len, t);
    case N_ANALYTICS_FILE:
        analytics_path(n, path, sizeof path);
        if (vrm_analytics_query_name(path, name, sizeof name) == 0)
            return vrm_analytics_custom_get(fs->v, name, text, len, t);
        return vrm_analytics_get(fs->v, path, text, len, t);
    default:
        return -ENOENT;
    }
}

/* The size and time of a file of import/ or analytics/.  A report is kept
 * compact and shown pretty: its size is known once it is printed. */
static int data_stat(vrmfs *fs, const node *n, uint64_t *size, int64_t *t)
{
    char name[256], path[600], *text = NULL;
    size_t len = 0;
    int rc;

    if (n->kind == N_ANALYTICS_FILE) {
        analytics_path(n, path, sizeof path);
        if (vrm_analytics_query_name(path, name, sizeof name) == 0)
            return vrm_analytics_custom_stat(fs->v, name, size, t);
        return vrm_analytics_stat(fs->v, path, size, t);
    }
    rc = data_text(fs, n, &text, &len, t);
    free(text);
    *size = len;
    return rc;
}

static int data_getattr(vrmfs *fs, const char *path, const node *n, struct stat *st)
{
    char name[256];
    uint64_t size = 0;
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
        rc = vrm_analytics_topic_valid(n->coll);
        if (rc == 0)
            fill_dir(fs, st, strcmp(n->coll, VRM_ANALYTICS_CUSTOM) == 0 ? 0700 : 0500);
        return rc;
    default:
        if (n->kind == N_ANALYTICS_FILE && (rc = vrm_analytics_topic_valid(n->coll)) != 0)
            return rc;
        rc = data_stat(fs, n, &size, &t);
        if (rc == 0)
            fill_file(fs, st, custom_query(n, name) == 0 ? 0600 : 0400, (size_t)size,
                      ns_to_ts(t), ns_to_ts(t));
        return rc;
    }
}

static int fill_report(void *ctx, const char *name)
{
    fill_ctx *c = ctx;
    char full[300];

    if (vrm_import_report_file(name, full, sizeof full) != 0)
        return 0;
    return c->filler(c->buf, full, NULL, 0, 0) ? 1 : 0;
}

/* A custom query and those of its result files there are (libvrm tells
 * which once it has computed them). */
static int fill_custom(void *ctx, const char *name)
{
    vrmfs *fs = FS();
    fill_ctx *c = ctx;
    char full[300], path[320];
    uint64_t size;
    size_t i;

    snprintf(full, sizeof full, "%s.sql", name);
    if (c->filler(c->buf, full, NULL, 0, 0))
        return 1;
    for (i = 0; vrm_analytics_custom_results[i] != NULL; i++) {
        int64_t t;

        snprintf(path, sizeof path, "custom/%s%s", name, vrm_analytics_custom_results[i]);
        if (vrm_analytics_stat(fs->v, path, &size, &t) == 0 &&
            c->filler(c->buf, path + 7, NULL, 0, 0))
            return 1;
    }
    return 0;
}

static int data_readdir(vrmfs *fs, const node *n, fill_ctx *c, dirh *d, off_t off)
{
    int rc;

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
        rc = vrm_analytics_topic_list(fill_name, c);
        break;
    default:                          /* N_ANALYTICS_TOPIC */
        if (strcmp(n->coll, VRM_ANALYTICS_CUSTOM) == 0)
            rc = vrm_analytics_custom_list(fs->v, fill_custom, c);
        else
            rc = vrm_analytics_topic_files(n->coll, fill_name, c);
        break;
    }
    return rc < 0 ? rc : 0;
}

/* A file copied into import/<coll>/ or a query written as custom/NAME.sql. */
static int data_create(vrmfs *fs, const char *path, const node *n, mode_t mode,
                       struct fuse_file_info *fi)
{
    char name[256];
    int rc;

    (void)mode;
    if (n->kind == N_IMPORT_FILE) {
        rc = vrm_collection_exists(fs->v, n->coll);
        if (rc <= 0)
            return rc < 0 ? rc : -ENOENT;
        if ((rc = vrm_import_file_valid(n->name)) != 0)
            return refuse(path, rc);
        return text_handle(fi, H_IMPORT, n, IMPORT_MAX);
    }
    if (custom_query(n, name) == 0)
        return text_handle(fi, H_CUSTOM, n, RECORD_MAX);
    return -EACCES;
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
    if (n->kind == N_ANALYTICS_FILE && (rc = vrm_analytics_topic_valid(n->coll)) != 0)
        return rc;
    if (writable) {
        /* only a custom query can be rewritten */
        if (custom_query(n, name) != 0)
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
    char path[300];
    size_t i;

    for (i = 0; vrm_analytics_custom_results[i] != NULL; i++) {
        snprintf(path, sizeof path, "!/analytics/custom/%s%s", name,
                 vrm_analytics_custom_results[i]);
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
        rc = vrm_import_file_name(h->n.name, name, sizeof name);
        if (rc == 0)
            rc = vrm_import(fs->v, h->n.coll, name, h->buf ? h->buf : "", h->len, NULL, NULL,
                            &report, &rlen);
        free(report);
        if (rc == 0) {
            view_collection_changed(fs, h->n.coll);
            return 0;
        }
        snprintf(reason, sizeof reason, "%s; nothing was imported", vrm_error_message());
    } else {
        rc = custom_query(&h->n, name);
        if (rc == 0)
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

    if (n->kind == N_IMPORT_FILE && vrm_import_report_name(n->name, name, sizeof name) == 0)
        return vrm_import_report_delete(fs->v, n->coll, name);
    if (custom_query(n, name) == 0) {
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
