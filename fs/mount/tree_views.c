/*
 * tree_views.c: views/<vendor>/, exactly what that vendor may see now,
 * read-only: records/<collection>/<name>.json, the granted fields of each
 * record, and analytics/<topic>/<file>, the granted results (each with a
 * signed .jws beside it).  A --view mount (node.h) has one vendor's view at
 * its root, with modes for sharing.
 *
 * Everything here is computed by libvrm on each request; every open is a
 * read by the vendor, logged in vendors/<vendor>/access.log and counted
 * against the grant's max_reads.  A view file is read from a copy computed
 * at open and again at each later read from offset 0 (H_VIEW), so that a
 * long-lived reader sees grants change; it goes through the page cache,
 * its size kept true by invalidations.  The kernel is told to forget every
 * name of a view it was given (fs->viewnames) when the vendor's grants
 * change (view_changed), and a record's entries in every view when the
 * record changes (view_record_changed), so that a revoked field is gone at
 * once.  libvrm keeps the views of the vendors read lately (vrm_view_get).
 */
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* Modes: a --view mount is meant to be shared (with -o allow_other). */
static mode_t view_mode(int dir)
{
    if (node_view() != NULL)
        return dir ? 0555 : 0444;
    return dir ? 0500 : 0400;
}

/* ---- what the kernel holds of views (fs->viewnames, fs->mu) ---------------------- */

/* The kernel must forget what it knows of `vendor`'s view. */
typedef struct taken {
    char **paths;
    size_t n, cap;
} taken;

static void take_path(void *ctx, const char *path)
{
    taken *t = ctx;

    if (vrm_array_grow(&t->paths, &t->cap, t->n, sizeof *t->paths) != 0)
        return;   /* its entry expires by itself within a second */
    if ((t->paths[t->n] = malloc(strlen(path) + 2)) != NULL) {
        t->paths[t->n][0] = '!';
        strcpy(t->paths[t->n] + 1, path);
        t->n++;
    }
}

static size_t depth(const char *path)
{
    size_t d = 0;

    for (; *path; path++)
        d += *path == '/';
    return d;
}

static int shallower_first(const void *a, const void *b)
{
    size_t da = depth(*(char *const *)a), db = depth(*(char *const *)b);

    return da < db ? -1 : da > db;
}

/* Remember that the kernel was given the view path `path`. */
static void view_seen(vrmfs *fs, const char *path)
{
    pthread_mutex_lock(&fs->mu);
    nameset_add(&fs->viewnames, path);   /* -ENOMEM: expires within a second */
    pthread_mutex_unlock(&fs->mu);
}

static void view_changed(vrmfs *fs, const char *vendor)
{
    char prefix[32 + VRM_VENDOR_MAX], top[32 + VRM_VENDOR_MAX];
    taken t = {NULL, 0, 0};
    size_t i;

    if (node_view() != NULL && strcmp(node_view(), vendor) != 0)
        return;
    if (node_view() != NULL) {
        snprintf(prefix, sizeof prefix, "/");
        snprintf(top, sizeof top, "!/records");
    } else {
        snprintf(prefix, sizeof prefix, "/views/%s/", vendor);
        snprintf(top, sizeof top, "!/views/%s", vendor);
    }
    pthread_mutex_lock(&fs->mu);
    nameset_take(&fs->viewnames, prefix, take_path, &t);
    pthread_mutex_unlock(&fs->mu);
    /* the queue is served last in, first out: the deepest names go first,
     * then the folders above them */
    if (t.n > 1)
        qsort(t.paths, t.n, sizeof *t.paths, shallower_first);
    inval_queue(fs, top);
    if (node_view() == NULL) {
        snprintf(top, sizeof top, "!/views/%s/records", vendor);
        inval_queue(fs, top);
        snprintf(top, sizeof top, "!/views/%s/analytics", vendor);
        inval_queue(fs, top);
    } else {
        inval_queue(fs, "!/analytics");
    }
    for (i = 0; i < t.n; i++) {
        inval_queue(fs, t.paths[i]);
        inval_queue(fs, t.paths[i] + 1);   /* and its attributes and pages */
        free(t.paths[i]);
    }
    free(t.paths);
}

typedef struct record_change {
    vrmfs *fs;
    const char *coll, *name;
    int queued;
} record_change;

static int record_changed_fn(void *ctx, const char *vendor)
{
    record_change *rcg = ctx;
    char path[PATH_MAX];
    int known;

    if (node_view() != NULL && strcmp(node_view(), vendor) != 0)
        return 0;
    if (node_view() != NULL)
        snprintf(path, sizeof path, "/records/%s/%s.json", rcg->coll, rcg->name);
    else
        snprintf(path, sizeof path, "/views/%s/records/%s/%s.json", vendor, rcg->coll,
                 rcg->name);
    pthread_mutex_lock(&rcg->fs->mu);
    known = nameset_has(&rcg->fs->viewnames, path);
    pthread_mutex_unlock(&rcg->fs->mu);
    if (known) {
        inval_queue(rcg->fs, path);
        rcg->queued = 1;
    }
    return 0;
}

/* Record coll/name changed: the kernel drops what it holds of it in any
 * view (its size there changed too), before the change returns. */
void view_record_changed(vrmfs *fs, const char *coll, const char *name)
{
    record_change rcg = {fs, coll, name, 0};
    size_t known;

    /* the usual case, no view file looked up: no vendor to ask about */
    pthread_mutex_lock(&fs->mu);
    known = fs->viewnames.len;
    pthread_mutex_unlock(&fs->mu);
    if (known == 0)
        return;
    if (vrm_vendor_list(fs->v, record_changed_fn, &rcg) != 0)   /* what the kernel holds */
        vrmfs_log(fs, LOG_WARNING, "views of %s/%s: %s", coll, name, vrm_error_message());
    if (rcg.queued)
        inval_wait(fs);
}

void view_changed_now(vrmfs *fs, const char *vendor)
{
    view_changed(fs, vendor);
    inval_wait(fs);
}

static int view_changed_fn(void *ctx, const char *vendor)
{
    view_changed(ctx, vendor);
    return 0;
}

/* Every view changed.  Should the vendors not be listed, what the kernel
 * holds of their views expires within a second (entry_timeout) and the
 * failure is logged. */
void views_changed(vrmfs *fs)
{
    if (vrm_vendor_list(fs->v, view_changed_fn, fs) != 0)
        vrmfs_log(fs, LOG_WARNING, "views: %s", vrm_error_message());
}

void view_collection_changed(vrmfs *fs, const char *coll)
{
    (void)coll;
    views_changed(fs);
    inval_wait(fs);
}

/* ---- attributes and listings ---------------------------------------------------- */

/* views/<vendor>/analytics/... */
static int analytics_getattr(vrmfs *fs, const char *path, const node *n, struct stat *st)
{
    vrm_view *view = NULL;
    char apath[600], *text = NULL;
    size_t len = 0;
    int64_t t = 0;
    int rc = vrm_view_get(fs->v, n->vendor, &view);

    if (rc != 0)
        return rc;
    switch (n->kind) {
    case N_VIEW_ANALYTICS:
    case N_VIEW_ATOPIC:
        if (!vrm_view_has_analytics(view, n->kind == N_VIEW_ANALYTICS ? "" : n->coll)) {
            rc = -ENOENT;
        } else {
            fill_dir(fs, st, view_mode(1));
            if (path != NULL && n->kind == N_VIEW_ATOPIC)
                view_seen(fs, path);
        }
        break;
    default:
        /* libvrm has no size of a result without its text */
        snprintf(apath, sizeof apath, "%s/%s", n->coll, n->name);
        rc = vrm_view_analytics_get(fs->v, view, apath, &text, &len, &t);
        free(text);
        if (rc == 0) {
            fill_file(fs, st, view_mode(0), len, ns_to_ts(t), ns_to_ts(t));
            if (path != NULL)
                view_seen(fs, path);
        }
        break;
    }
    vrm_view_unref(view);
    return rc;
}

static int views_getattr(vrmfs *fs, const char *path, const node *n, struct stat *st)
{
    vrm_record_info info;
    vrm_view *view = NULL;
    int rc;

    switch (n->kind) {
    case N_VIEWS:
        fill_dir(fs, st, 0500);
        return 0;
    case N_VIEW:
    case N_VIEW_RECORDS:
        rc = vendor_check(fs, n);
        if (rc == 0)
            fill_dir(fs, st, view_mode(1));
        return rc;
    case N_VIEW_COLL:
        rc = vrm_view_get(fs->v, n->vendor, &view);
        if (rc == 0)
            rc = vrm_view_has_collection(fs->v, view, n->coll);
        vrm_view_unref(view);
        if (rc == 1) {
            fill_dir(fs, st, view_mode(1));
            if (path != NULL)
                view_seen(fs, path);
        }
        return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
    case N_VIEW_RECORD:
        rc = vrm_view_get(fs->v, n->vendor, &view);
        if (rc == 0)
            rc = vrm_view_stat(fs->v, view, n->coll, n->name, &info);
        vrm_view_unref(view);
        if (rc == 0) {
            fill_file(fs, st, view_mode(0), (size_t)info.size, ns_to_ts(info.updated_ns),
                      ns_to_ts(info.updated_ns));
            if (path != NULL)
                view_seen(fs, path);
        }
        return rc;
    default:
        return analytics_getattr(fs, path, n, st);
    }
}

/* A later read of a view file from its start: computed again if what it
 * showed may have changed (vrm_view_file_reread); -EACCES once nothing of
 * it is granted.  Handle mutex held. */
static int view_reread(vrmfs *fs, handle *h)
{
    char *text = NULL;
    size_t len = 0;
    int rc = vrm_view_file_reread(fs->v, h->n.vendor, h->n.coll, h->n.name, &h->stamp, &text,
                                  &len);

    if (rc == -ENOENT)
        return -EACCES;   /* no longer granted */
    if (rc != 0 || text == NULL)
        return rc;        /* text NULL: nothing changed since, the text stands */
    free(h->buf);
    h->buf = text;
    h->len = h->cap = len;
    return 0;
}

/* An open view file: the kernel asks before reading again once the
 * attributes were dropped, so the text is computed anew, and its size is
 * the file's (0 once nothing of it is granted). */
static int views_fgetattr(vrmfs *fs, handle *h, struct stat *st)
{
    struct timespec ts;
    int rc;

    if (h->kind != H_VIEW)
        return TREE_DEFAULT;          /* an analytics file: by its path */
    pthread_mutex_lock(&h->mu);
    if (!h->fresh) {
        rc = view_reread(fs, h);
        if (rc == -EACCES) {
            h->len = 0;
            rc = 0;
        }
        h->fresh = rc == 0;
    }
    now(&ts);
    fill_file(fs, st, view_mode(0), h->len, ts, ts);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

typedef struct afill {
    fill_ctx *c;
    const char *topic;                /* NULL: list topics */
    char last[64];                    /* the last topic listed */
} afill;

static int fill_view_analytics(void *ctx, const char *file)
{
    afill *a = ctx;
    const char *slash = strchr(file, '/'), *dot;
    char jws[300];

    if (slash == NULL)
        return 0;
    if (a->topic == NULL) {
        size_t n = (size_t)(slash - file);

        if (n >= sizeof a->last || (strncmp(a->last, file, n) == 0 && a->last[n] == '\0'))
            return 0;
        memcpy(a->last, file, n);
        a->last[n] = '\0';
        return a->c->filler(a->c->buf, a->last, NULL, 0, 0) ? 1 : 0;
    }
    if (strncmp(file, a->topic, (size_t)(slash - file)) != 0 ||
        a->topic[slash - file] != '\0')
        return 0;
    if (a->c->filler(a->c->buf, slash + 1, NULL, 0, 0))
        return 1;
    dot = strrchr(slash + 1, '.');
    snprintf(jws, sizeof jws, "%.*s.jws", (int)(dot ? dot - slash - 1 : (long)strlen(slash + 1)),
             slash + 1);
    return a->c->filler(a->c->buf, jws, NULL, 0, 0) ? 1 : 0;
}

static int views_readdir(vrmfs *fs, const node *n, fill_ctx *c, dirh *d, off_t off)
{
    vrm_view *view = NULL;
    afill a = {c, n->kind == N_VIEW_ATOPIC ? n->coll : NULL, ""};
    int rc;

    (void)d;
    (void)off;
    if (n->kind == N_VIEW_RECORD || n->kind == N_VIEW_AFILE)
        return -ENOTDIR;
    rc = views_getattr(fs, NULL, n, &(struct stat){0});
    if (rc != 0)
        return rc;
    fill_dots(c);
    if (n->kind == N_VIEWS)
        return vrm_vendor_list(fs->v, fill_name, c);
    rc = vrm_view_get(fs->v, n->vendor, &view);
    if (rc != 0)
        return rc;
    switch (n->kind) {
    case N_VIEW:
        c->filler(c->buf, "records", NULL, 0, 0);
        if (vrm_view_has_analytics(view, ""))
            c->filler(c->buf, "analytics", NULL, 0, 0);
        break;
    case N_VIEW_RECORDS:
        rc = vrm_view_collections(fs->v, view, fill_name, c);
        break;
    case N_VIEW_COLL:
        rc = vrm_view_has_collection(fs->v, view, n->coll);
        if (rc == 0)
            rc = -ENOENT;
        if (rc == 1) {
            c->suffix = ".json";
            rc = vrm_view_records(fs->v, view, n->coll, fill_name, c);
        }
        break;
    default:                          /* analytics/, analytics/<topic>/ */
        rc = vrm_view_analytics(view, fill_view_analytics, &a);
        break;
    }
    vrm_view_unref(view);
    return rc < 0 ? rc : 0;
}

/* ---- reading -------------------------------------------------------------------- */

/* The command name of process `pid`, for the access log. */
static void process_name(pid_t pid, char *out, size_t size)
{
    char path[64];
    FILE *f;
    size_t n = 0;

    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    f = fopen(path, "re");
    if (f != NULL) {
        n = fread(out, 1, size - 1, f);
        fclose(f);
    }
    while (n > 0 && out[n - 1] == '\n')
        n--;
    out[n] = '\0';
    if (n == 0)
        snprintf(out, size, "?");
}

static int record_open(vrmfs *fs, const char *path, const node *n, struct fuse_file_info *fi)
{
    struct fuse_context *ctx = fuse_get_context();
    vrm_view_stamp stamp;
    char comm[64], *text = NULL;
    size_t len = 0;
    int lapsed = 0, rc;

    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return -EACCES;
    process_name(ctx->pid, comm, sizeof comm);
    rc = vrm_view_file_open(fs->v, n->vendor, n->coll, n->name, ctx->pid, ctx->uid, comm, &text,
                            &len, &stamp, &lapsed);
    if (rc != 0 && rc != -ENOENT)
        return refuse(path, rc);
    if (lapsed)
        view_changed(fs, n->vendor);
    if (rc == 0 && node_view() == NULL) {
        char log[32 + VRM_VENDOR_MAX];

        snprintf(log, sizeof log, "/vendors/%s/access.log", n->vendor);
        inval_queue(fs, log);   /* its size grew */
    }
    if (rc == 0 && (rc = snapshot_handle(fi, H_VIEW, n, text, len)) == 0)
        HANDLE(fi)->stamp = stamp;
    return rc;
}

static int analytics_open(vrmfs *fs, const char *path, const node *n,
                          struct fuse_file_info *fi)
{
    struct fuse_context *ctx = fuse_get_context();
    vrm_view *view = NULL;
    char apath[600], comm[64], *text = NULL;
    size_t len = 0;
    int lapsed = 0, rc;

    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return -EACCES;
    rc = vrm_view_get(fs->v, n->vendor, &view);
    if (rc != 0)
        return rc;
    process_name(ctx->pid, comm, sizeof comm);
    snprintf(apath, sizeof apath, "%s/%s", n->coll, n->name);
    rc = vrm_view_analytics_open(fs->v, view, apath, ctx->pid, ctx->uid, comm, &text, &len,
                                 &lapsed);
    vrm_view_unref(view);
    if (rc != 0 && rc != -ENOENT)
        return refuse(path, rc);
    if (lapsed)
        view_changed(fs, n->vendor);
    return rc != 0 ? rc : snapshot_handle(fi, H_SNAPSHOT, n, text, len);
}

static int views_open(vrmfs *fs, const char *path, const node *n, struct fuse_file_info *fi)
{
    if (n->kind == N_VIEW_RECORD)
        return record_open(fs, path, n, fi);
    if (n->kind == N_VIEW_AFILE)
        return analytics_open(fs, path, n, fi);
    return -EISDIR;
}

static int views_read(vrmfs *fs, handle *h, char *buf, size_t size, off_t off)
{
    int rc = 0;

    pthread_mutex_lock(&h->mu);
    if (h->kind == H_VIEW && off == 0 && !h->fresh)
        rc = view_reread(fs, h);
    h->fresh = 0;
    if (rc == 0)
        rc = buf_read(h->buf, h->len, buf, size, off);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

/* mkdir of a name that is not there: views/ is read-only all the same. */
static int views_mkdir_unknown(vrmfs *fs, const char *path, int rc)
{
    (void)fs;
    (void)path;
    return rc == -ENOENT ? -EROFS : rc;
}

static void views_forget(vrmfs *fs)
{
    nameset_release(&fs->viewnames);
}

const struct tree_ops views_tree = {
    .getattr = views_getattr,
    .readdir = views_readdir,
    .open = views_open,
    .mkdir_unknown = views_mkdir_unknown,
    .fgetattr = views_fgetattr,
    .fread = views_read,
    .forget = views_forget,
    .read_only = 1,
    .rename_rank = 1,
};
