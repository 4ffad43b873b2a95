/*
 * tree_vendors.c: vendors/, one folder per vendor: mkdir registers one,
 * rmdir (or rm -r) revokes its grants and removes it.  vendor.json and
 * grants.json are read from copies taken at open and written as a whole,
 * committed at close like a record (H_VTEXT); identity.json, access.log and
 * receipts/N.jws, N.json are computed by libvrm and read-only.  A change of
 * grants invalidates the kernel's entries of that vendor's view
 * (view_changed_now), so that a revoked field is gone at once.
 *
 * vendor.json and grants.json removed with rm (mv from another file system
 * removes the target before creating it again) are absent until created
 * again or the vendor goes (fs->removed).  Tools' temporary files in a
 * vendor's folder (sed -i, vim's swap file) are kept in memory only
 * (fs->vscratch, under fs->mu), since they hold nothing but a draft of
 * vendor.json or grants.json; renaming one onto either commits it.
 */
#define _GNU_SOURCE
#include "tree.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vendor_check(vrmfs *fs, const node *n)
{
    int rc = vrm_vendor_exists(fs->v, n->vendor);

    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

/* ---- vendor.json and grants.json removed (fs->removed, fs->mu) -------------------
 * A state of this mount, not of the vault.  What removing grants.json means
 * to the vault (every grant revoked) is libvrm's, vrm_grants_revoke_all;
 * removing vendor.json means nothing to it (the vendor stays as it is).
 * That either file is then absent until created again is how the mount
 * shows a tool the rm it just did, so that mv from another file system
 * (which removes the target, then creates it) and rm followed by ls work
 * as on a disk: it is kept in memory and forgotten at unmount, and the
 * vault, a command or the next mount show both files as libvrm has them. */

/* The removed-set key of a vendor file node. */
static void removed_key(const node *n, char *key, size_t size)
{
    snprintf(key, size, "%s/%s", n->vendor, n->kind == N_GRANTS ? "grants.json" : "vendor.json");
}

/* Is vendor.json or grants.json of `n` removed? */
static int removed(vrmfs *fs, const node *n)
{
    char key[VRM_VENDOR_MAX + 16];
    size_t i;
    int found = 0;

    if (n->kind != N_VENDOR_JSON && n->kind != N_GRANTS)
        return 0;
    removed_key(n, key, sizeof key);
    pthread_mutex_lock(&fs->mu);
    for (i = 0; i < fs->nremoved && !found; i++)
        found = strcmp(fs->removed[i], key) == 0;
    pthread_mutex_unlock(&fs->mu);
    return found;
}

/* Mark the file of `n` removed (`on`) or present again.  For a vendor
 * node, forget all of that vendor's. */
static void set_removed(vrmfs *fs, const node *n, int on)
{
    char key[VRM_VENDOR_MAX + 16];
    size_t i, klen;

    if (n->kind == N_VENDOR) {
        klen = (size_t)snprintf(key, sizeof key, "%s/", n->vendor);
    } else {
        removed_key(n, key, sizeof key);
        klen = strlen(key) + 1;
    }
    pthread_mutex_lock(&fs->mu);
    for (i = 0; i < fs->nremoved;) {
        if (strncmp(fs->removed[i], key, klen) == 0) {
            free(fs->removed[i]);
            fs->removed[i] = fs->removed[--fs->nremoved];
        } else {
            i++;
        }
    }
    if (on && n->kind != N_VENDOR) {
        char **r = realloc(fs->removed, (fs->nremoved + 1) * sizeof *r);

        if (r != NULL) {
            fs->removed = r;
            if ((r[fs->nremoved] = strdup(key)) != NULL)
                fs->nremoved++;
        }
    }
    pthread_mutex_unlock(&fs->mu);
}

/* Removing grants.json revokes every grant (rm -r vendors/<v>); the file
 * is then absent until written again. */
static int grants_unlink(vrmfs *fs, const node *n)
{
    int64_t receipt = 0;
    int rc;

    if (removed(fs, n))
        return -ENOENT;
    rc = vrm_grants_revoke_all(fs->v, n->vendor, &receipt);
    if (rc == 0 && receipt > 0)
        view_changed_now(fs, n->vendor);
    if (rc == 0)
        set_removed(fs, n, 1);
    return rc;
}

/* Grants that expire end by themselves: once a second the invalidation
 * thread asks libvrm to write their receipts, if any is due, and drops
 * every cached view when one was.  A read-only mount writes nothing. */
static void expire_grants(vrmfs *fs)
{
    int rc;

    if (fs->read_only)
        return;
    rc = vrm_grants_expire_due(fs->v, now_ns(), &fs->grants_due);
    if (rc > 0)
        views_changed(fs);
}

/* Commit text[0..len) as the vendor.json or grants.json of `n`, the one
 * lib call each means; a refusal is logged against `path`, naming the
 * temporary file `from` it was renamed from (NULL: written in place).
 * *receipt: as vrm_grants_put's (0 for vendor.json). */
static int vfile_put(vrmfs *fs, const char *path, const node *n, const char *from,
                     const char *text, size_t len, int64_t *receipt)
{
    char reason[700];
    int grants = n->kind == N_GRANTS;
    int rc;

    assert(grants || n->kind == N_VENDOR_JSON);
    *receipt = 0;
    rc = grants ? vrm_grants_put(fs->v, n->vendor, text, len, receipt)
                : vrm_vendor_put(fs->v, n->vendor, text, len);
    if (rc != 0) {
        snprintf(reason, sizeof reason, "%s%s%s%s; %s unchanged", vrm_error_message(),
                 from != NULL ? " (renamed from " : "", from != NULL ? from : "",
                 from != NULL ? ")" : "", grants ? "the grants are" : "the vendor is");
        vrmfs_refusal(fs, path, reason);
    }
    return rc;
}

/* ---- tools' temporary files in vendors/<v>/ (fs->vscratch, fs->mu) ------- */

static vscratch *vs_find(vrmfs *fs, const char *vendor, const char *name)
{
    vscratch *s;

    for (s = fs->vscratch; s != NULL; s = s->next)
        if (strcmp(s->vendor, vendor) == 0 && strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

/* Create or replace vendor/name with a copy of buf[0..len). */
static int vs_put(vrmfs *fs, const char *vendor, const char *name, const char *buf, size_t len)
{
    char *copy = malloc(len ? len : 1);
    vscratch *s;

    if (copy == NULL)
        return -ENOMEM;
    if (len > 0)
        memcpy(copy, buf, len);
    pthread_mutex_lock(&fs->mu);
    s = vs_find(fs, vendor, name);
    if (s == NULL && (s = calloc(1, sizeof *s)) != NULL) {
        snprintf(s->vendor, sizeof s->vendor, "%s", vendor);
        snprintf(s->name, sizeof s->name, "%s", name);
        s->next = fs->vscratch;
        fs->vscratch = s;
    }
    if (s == NULL) {
        pthread_mutex_unlock(&fs->mu);
        free(copy);
        return -ENOMEM;
    }
    free(s->buf);
    s->buf = copy;
    s->len = len;
    now(&s->mtime);
    pthread_mutex_unlock(&fs->mu);
    return 0;
}

/* A copy of vendor/name's bytes: *buf (free()), *len.  -ENOENT. */
static int vs_get(vrmfs *fs, const char *vendor, const char *name, char **buf, size_t *len)
{
    vscratch *s;
    int rc = -ENOENT;

    *buf = NULL;
    *len = 0;
    pthread_mutex_lock(&fs->mu);
    s = vs_find(fs, vendor, name);
    if (s != NULL) {
        *buf = malloc(s->len ? s->len : 1);
        rc = *buf == NULL ? -ENOMEM : 0;
        if (rc == 0) {
            if (s->len > 0)
                memcpy(*buf, s->buf, s->len);
            *len = s->len;
        }
    }
    pthread_mutex_unlock(&fs->mu);
    return rc;
}

/* Remove vendor/name, or every file of `vendor` when name is NULL. */
static int vs_remove(vrmfs *fs, const char *vendor, const char *name)
{
    vscratch **pp, *s;
    int rc = -ENOENT;

    pthread_mutex_lock(&fs->mu);
    for (pp = &fs->vscratch; (s = *pp) != NULL;) {
        if (strcmp(s->vendor, vendor) == 0 && (name == NULL || strcmp(s->name, name) == 0)) {
            *pp = s->next;
            free(s->buf);
            free(s);
            rc = 0;
        } else {
            pp = &s->next;
        }
    }
    pthread_mutex_unlock(&fs->mu);
    return rc;
}

static int vs_getattr(vrmfs *fs, const node *n, struct stat *st)
{
    vscratch *s;
    int rc = vendor_check(fs, n);

    if (rc != 0)
        return rc;
    pthread_mutex_lock(&fs->mu);
    s = vs_find(fs, n->vendor, n->name);
    if (s != NULL)
        fill_file(fs, st, 0600, s->len, s->mtime, s->mtime);
    pthread_mutex_unlock(&fs->mu);
    return s != NULL ? 0 : -ENOENT;
}

static void vs_list(vrmfs *fs, const char *vendor, fill_ctx *c)
{
    vscratch *s;

    pthread_mutex_lock(&fs->mu);
    for (s = fs->vscratch; s != NULL; s = s->next)
        if (strcmp(s->vendor, vendor) == 0)
            c->filler(c->buf, s->name, NULL, 0, 0);
    pthread_mutex_unlock(&fs->mu);
}

/* Open (or, `create`, make) a temporary file of vendors/<v>/. */
static int vs_open(vrmfs *fs, const node *n, struct fuse_file_info *fi, int create)
{
    int writable = (fi->flags & O_ACCMODE) != O_RDONLY, rc;
    char *buf = NULL;
    size_t len = 0;
    handle *h;

    if (writable && fs->read_only)
        return -EROFS;
    if ((rc = vendor_check(fs, n)) != 0)
        return rc;
    if (create)
        rc = vs_put(fs, n->vendor, n->name, "", 0);
    else if (!(fi->flags & O_TRUNC) || !writable)
        rc = vs_get(fs, n->vendor, n->name, &buf, &len);
    else if (vs_find(fs, n->vendor, n->name) == NULL)
        rc = -ENOENT;
    if (rc != 0)
        return rc;
    h = handle_new(H_VSCRATCH, n, writable);
    if (h == NULL) {
        free(buf);
        return -ENOMEM;
    }
    h->buf = buf;
    h->len = h->cap = len;
    h->dirty = h->written = writable && !create && (fi->flags & O_TRUNC);
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->direct_io = 1;
    return 0;
}

/* rename() of a temporary file of vendors/<v>/: onto another, or onto
 * vendor.json or grants.json, which commits its text (sed -i, jq > t && mv
 * t grants.json). */
static int vs_rename(vrmfs *fs, const char *to_path, const node *a, const node *b)
{
    char *buf = NULL;
    int64_t receipt = 0;
    size_t len = 0;
    int rc;

    if (strcmp(a->vendor, b->vendor) != 0)
        return -EXDEV;
    rc = vs_get(fs, a->vendor, a->name, &buf, &len);
    if (rc != 0)
        return rc;
    switch (b->kind) {
    case N_VENDOR_SCRATCH:
        rc = vs_put(fs, b->vendor, b->name, buf, len);
        if (rc == 0)
            vs_remove(fs, a->vendor, a->name);
        break;
    case N_VENDOR_JSON:
    case N_GRANTS:
        if (fs->read_only) {
            rc = -EROFS;
            break;
        }
        rc = vfile_put(fs, to_path, b, a->name, buf, len, &receipt);
        if (rc != 0)
            break;
        vs_remove(fs, a->vendor, a->name);
        set_removed(fs, b, 0);
        inval_queue(fs, to_path);
        if (receipt > 0)
            view_changed_now(fs, b->vendor);
        break;
    default:
        rc = -EACCES;
        break;
    }
    free(buf);
    return rc;
}

/* ---- the vendors' files ------------------------------------------------------------ */

/* The text of a vendor's read-only or writable file: *text (free()), *len,
 * *mtime_ns. */
static int vendor_text(vrmfs *fs, const node *n, char **text, size_t *len, int64_t *mtime_ns)
{
    vrm_identity *id = NULL;
    int rc;

    *text = NULL;
    *len = 0;
    *mtime_ns = (int64_t)fs->mounted.tv_sec * 1000000000 + fs->mounted.tv_nsec;
    if (removed(fs, n))
        return -ENOENT;
    switch (n->kind) {
    case N_VENDOR_JSON:
        return vrm_vendor_get(fs->v, n->vendor, text, len, NULL, mtime_ns);
    case N_GRANTS:
        return vrm_grants_get(fs->v, n->vendor, text, len, mtime_ns);
    case N_IDENTITY:
        rc = vendor_check(fs, n);
        if (rc == 0)
            rc = vrm_identity_derive(fs->v, n->vendor, &id);
        if (rc == 0)
            rc = vrm_identity_json(id, text, len);
        vrm_identity_free(id);
        return rc;
    case N_ACCESSLOG:
        rc = vendor_check(fs, n);
        if (rc == 0)
            rc = vrm_accesslog_read(fs->v, n->vendor, text, len);
        *mtime_ns = now_ns();
        return rc;
    case N_RECEIPT:
        rc = vendor_check(fs, n);
        return rc != 0 ? rc : vrm_receipt_get(fs->v, n->vendor, n->num, n->jws, text, len);
    default:
        return -ENOENT;
    }
}

static int vendors_getattr(vrmfs *fs, const char *path, const node *n, struct stat *st)
{
    char *text = NULL;
    size_t len;
    int64_t t;
    uint64_t size;
    int rc;

    (void)path;
    switch (n->kind) {
    case N_VENDORS:
        fill_dir(fs, st, 0700);
        return 0;
    case N_VENDOR:
    case N_RECEIPTS:
        rc = vendor_check(fs, n);
        if (rc == 0)
            fill_dir(fs, st, n->kind == N_VENDOR ? 0700 : 0500);
        return rc;
    case N_VENDOR_SCRATCH:
        return vs_getattr(fs, n, st);
    case N_ACCESSLOG:
        rc = vendor_check(fs, n);
        if (rc == 0)
            rc = vrm_accesslog_size(fs->v, n->vendor, &size);
        if (rc == 0) {
            struct timespec ts;

            now(&ts);
            fill_file(fs, st, 0400, (size_t)size, ts, ts);
        }
        return rc;
    case N_IDENTITY:
    case N_RECEIPT:
        /* read-only texts of the vault that show the mount's time */
        rc = vendor_check(fs, n);
        if (rc == 0 && n->kind == N_IDENTITY)
            size = vrm_identity_json_size();
        else if (rc == 0)
            rc = vrm_receipt_size(fs->v, n->vendor, n->num, n->jws, &size);
        if (rc == 0)
            fill_file(fs, st, 0400, (size_t)size, fs->mounted, fs->mounted);
        return rc;
    case N_VENDOR_JSON:
    case N_GRANTS:
        /* pretty texts of JSON the vault stores compact: their length is
         * known only once printed */
        rc = vendor_text(fs, n, &text, &len, &t);
        free(text);
        if (rc == 0)
            fill_file(fs, st, 0600, len, ns_to_ts(t), ns_to_ts(t));
        return rc;
    default:
        return -ENOENT;
    }
}

static int fill_receipt(void *ctx, int64_t num)
{
    fill_ctx *c = ctx;
    char name[48];

    snprintf(name, sizeof name, "%lld.jws", (long long)num);
    if (c->filler(c->buf, name, NULL, 0, 0))
        return 1;
    snprintf(name, sizeof name, "%lld.json", (long long)num);
    return c->filler(c->buf, name, NULL, 0, 0) ? 1 : 0;
}

static int vendors_readdir(vrmfs *fs, const node *n, fill_ctx *c, dirh *d, off_t off)
{
    node f = *n;
    int rc;

    (void)d;
    (void)off;
    if (n->kind != N_VENDORS && n->kind != N_VENDOR && n->kind != N_RECEIPTS)
        return -ENOTDIR;
    rc = vendors_getattr(fs, NULL, n, &(struct stat){0});
    if (rc != 0)
        return rc;
    fill_dots(c);
    switch (n->kind) {
    case N_VENDORS:
        return vrm_vendor_list(fs->v, fill_name, c);
    case N_VENDOR:
        rc = vendor_check(fs, n);
        if (rc != 0)
            return rc;
        f.kind = N_VENDOR_JSON;
        if (!removed(fs, &f))
            c->filler(c->buf, "vendor.json", NULL, 0, 0);
        c->filler(c->buf, "identity.json", NULL, 0, 0);
        f.kind = N_GRANTS;
        if (!removed(fs, &f))
            c->filler(c->buf, "grants.json", NULL, 0, 0);
        c->filler(c->buf, "access.log", NULL, 0, 0);
        c->filler(c->buf, "receipts", NULL, 0, 0);
        vs_list(fs, n->vendor, c);
        return 0;
    default:
        rc = vendor_check(fs, n);
        return rc != 0 ? rc : vrm_receipt_list(fs->v, n->vendor, fill_receipt, c);
    }
}

/* vendor.json or grants.json: a snapshot to read, or an H_VTEXT to write;
 * `create`: made again after rm. */
static int vtext_open(vrmfs *fs, const node *n, struct fuse_file_info *fi, int create)
{
    int writable = (fi->flags & O_ACCMODE) != O_RDONLY, rc;
    char *text = NULL;
    size_t len = 0;
    int64_t t;
    handle *h;

    if (writable && fs->read_only)
        return -EROFS;
    if (create) {
        /* made again after rm: starts empty, committed once written */
        if (!writable)
            return -EACCES;
        if ((rc = vendor_check(fs, n)) != 0)
            return rc;
        set_removed(fs, n, 0);
    } else if (!writable || !(fi->flags & O_TRUNC)) {
        rc = vendor_text(fs, n, &text, &len, &t);
        if (rc != 0)
            return rc;
    } else if ((rc = vendor_check(fs, n)) != 0) {
        return rc;
    }
    if (!writable)
        return snapshot_handle(fi, H_SNAPSHOT, n, text, len);
    h = handle_new(H_VTEXT, n, 1);
    if (h == NULL) {
        free(text);
        return -ENOMEM;
    }
    h->buf = text;
    h->len = h->cap = len;
    /* emptied by O_TRUNC: committed once something is written (a
     * shell's `> file` closes a copy of the descriptor first) */
    h->dirty = create || (fi->flags & O_TRUNC) != 0;
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->direct_io = 1;
    return 0;
}

static int vendors_open(vrmfs *fs, const char *path, const node *n, struct fuse_file_info *fi)
{
    char *text = NULL;
    size_t len = 0;
    int64_t t;
    int rc;

    (void)path;
    switch (n->kind) {
    case N_VENDOR_JSON:
    case N_GRANTS:
        return vtext_open(fs, n, fi, 0);
    case N_VENDOR_SCRATCH:
        return vs_open(fs, n, fi, 0);
    case N_IDENTITY:
    case N_ACCESSLOG:
    case N_RECEIPT:
        if ((fi->flags & O_ACCMODE) != O_RDONLY)
            return -EACCES;
        rc = vendor_text(fs, n, &text, &len, &t);
        return rc != 0 ? rc : snapshot_handle(fi, H_SNAPSHOT, n, text, len);
    default:
        return -EISDIR;
    }
}

static int vendors_create(vrmfs *fs, const char *path, const node *n, mode_t mode,
                          struct fuse_file_info *fi)
{
    (void)path;
    (void)mode;
    switch (n->kind) {
    case N_VENDOR_JSON:
    case N_GRANTS:
        if (!removed(fs, n))
            return -EEXIST;
        return vtext_open(fs, n, fi, 1);
    case N_VENDOR_SCRATCH:
        return vs_open(fs, n, fi, 1);
    default:
        return -EACCES;
    }
}

static int vendors_mkdir(vrmfs *fs, const char *path, const node *n, mode_t mode)
{
    int rc;

    (void)mode;
    if (n->kind != N_VENDOR)
        return n->kind == N_VENDORS ? -EEXIST : -EACCES;
    set_removed(fs, n, 0);
    rc = vrm_vendor_create(fs->v, n->vendor);
    return rc == -EINVAL ? refuse(path, rc) : rc;
}

static int vendors_rmdir(vrmfs *fs, const node *n)
{
    int rc;

    switch (n->kind) {
    case N_VENDOR:
        /* vendors/<v> holds only files computed from the vault: removing
         * the folder revokes the grants (with a receipt) and the vendor */
        rc = vrm_vendor_delete(fs->v, n->vendor);
        if (rc == 0) {
            view_changed_now(fs, n->vendor);
            set_removed(fs, n, 0);
            vs_remove(fs, n->vendor, NULL);
        }
        return rc;
    case N_RECEIPTS:
        return vendor_check(fs, n);   /* goes with its vendor (rm -r) */
    default:
        return -EACCES;
    }
}

static int vendors_unlink(vrmfs *fs, const node *n)
{
    int rc;

    switch (n->kind) {
    case N_GRANTS:
        return grants_unlink(fs, n);
    case N_VENDOR_SCRATCH:
        return vs_remove(fs, n->vendor, n->name);
    case N_VENDOR_JSON:
        rc = vendor_check(fs, n);
        if (rc == 0 && removed(fs, n))
            rc = -ENOENT;
        if (rc == 0)
            set_removed(fs, n, 1);   /* the vendor stays as it is */
        return rc;
    case N_IDENTITY:
    case N_ACCESSLOG:
    case N_RECEIPT:
        /* these go with their vendor only: rm -r vendors/<v> then removes
         * the folder, which removes the vendor */
        return vendors_getattr(fs, NULL, n, &(struct stat){0});
    default:
        return -EISDIR;
    }
}

/* Only a temporary file is renamed (b may be in another tree). */
static int vendors_rename(vrmfs *fs, const char *from, const char *to, const node *a,
                          const node *b, unsigned flags)
{
    (void)from;
    if (a->kind != N_VENDOR_SCRATCH)
        return -EACCES;
    return flags & RENAME_EXCHANGE ? -EINVAL : vs_rename(fs, to, a, b);
}

/* Commit vendor.json or grants.json from a handle.  Handle mutex held. */
static int commit_vendor(vrmfs *fs, const char *path, handle *h)
{
    char where[200];
    int64_t receipt = 0;
    int rc;

    if (!h->writable || !h->dirty || !h->written)
        return 0;
    h->dirty = 0;
    if (path == NULL) {
        snprintf(where, sizeof where, "/vendors/%s/%s", h->n.vendor,
                 h->n.kind == N_VENDOR_JSON ? "vendor.json" : "grants.json");
        path = where;
    }
    rc = vfile_put(fs, path, &h->n, NULL, h->buf ? h->buf : "", h->len, &receipt);
    if (rc != 0)
        return rc;
    inval_queue(fs, path);
    if (receipt > 0)
        view_changed_now(fs, h->n.vendor);
    return 0;
}

static int vendors_commit(vrmfs *fs, const char *path, handle *h)
{
    int rc;

    switch (h->kind) {
    case H_VSCRATCH:
        pthread_mutex_lock(&h->mu);
        rc = h->writable && h->dirty ? vs_put(fs, h->n.vendor, h->n.name, h->buf ? h->buf : "",
                                              h->len) : 0;
        if (rc == 0)
            h->dirty = 0;
        pthread_mutex_unlock(&h->mu);
        return rc;
    case H_VTEXT:
        pthread_mutex_lock(&h->mu);
        rc = commit_vendor(fs, path, h);
        pthread_mutex_unlock(&h->mu);
        return rc;
    default:
        return 0;                     /* a snapshot */
    }
}

static void vendors_forget(vrmfs *fs)
{
    while (fs->vscratch != NULL) {
        vscratch *next = fs->vscratch->next;

        free(fs->vscratch->buf);
        free(fs->vscratch);
        fs->vscratch = next;
    }
    while (fs->nremoved > 0)
        free(fs->removed[--fs->nremoved]);
    free(fs->removed);
    fs->removed = NULL;
}

const struct tree_ops vendors_tree = {
    .getattr = vendors_getattr,
    .readdir = vendors_readdir,
    .open = vendors_open,
    .create = vendors_create,
    .mkdir = vendors_mkdir,
    .rmdir = vendors_rmdir,
    .unlink = vendors_unlink,
    .rename = vendors_rename,
    .commit = vendors_commit,
    .tick = expire_grants,
    .forget = vendors_forget,
};
