/*
 * tree_records.c: records/, one folder per collection, one NAME.json file
 * per record.
 *
 * A record is served through an open file handle holding its whole JSON
 * text: opening reads it (or starts empty with O_TRUNC or O_CREAT), writes
 * change the handle, and flush (the close() of each descriptor) commits it
 * with one vrm_record_put.  A text that is not a JSON object fails that
 * close() with EINVAL, changes nothing and is logged.  Until its first
 * commit a newly created record is listed from fs->pending.  Scratch files
 * (names not ending in ".json") work the same way without the JSON rule and
 * are stored with vrm_scratch_put; renaming one to NAME.json commits it as
 * a record (libvrm's vrm_scratch_move decides).  mkdir and rmdir make and
 * remove collections.  A change of a record is told to the views that show
 * it (view_record_changed).
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

/* ---- handles others must see (fs->mu held) ------------------------------- *
 * `pending` lists the record handles of records created but not committed
 * yet, and every scratch handle open for writing, whose text others read
 * (vim's swap file is read by a second vim while the first has it open). */

static handle *pending_find(vrmfs *fs, const node *n, enum handle_kind kind)
{
    handle *h;

    for (h = fs->pending; h != NULL; h = h->next)
        if (h->kind == kind && strcmp(h->n.coll, n->coll) == 0 &&
            strcmp(h->n.name, n->name) == 0)
            return h;
    return NULL;
}

static void pending_add(vrmfs *fs, handle *h)
{
    h->created = 1;
    h->next = fs->pending;
    fs->pending = h;
}

static void pending_remove(vrmfs *fs, handle *h)
{
    handle **pp;

    for (pp = &fs->pending; *pp != NULL; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            h->next = NULL;
            h->created = 0;
            return;
        }
}

static int records_getattr(vrmfs *fs, const char *path, const node *n, struct stat *st)
{
    vrm_record_info info;
    uint64_t size;
    handle *h;
    int64_t t;
    int rc;

    (void)path;
    switch (n->kind) {
    case N_RECORDS:
        fill_dir(fs, st, 0700);
        return 0;
    case N_COLL:
        rc = vrm_collection_exists(fs->v, n->coll);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return -ENOENT;
        fill_dir(fs, st, 0700);
        return 0;
    case N_RECORD:
        rc = vrm_record_stat(fs->v, n->coll, n->name, &info);
        if (rc == 0) {
            fill_file(fs, st, 0600, info.size, ns_to_ts(info.updated_ns),
                      ns_to_ts(info.updated_ns));
            return 0;
        }
        if (rc != -ENOENT && rc != -EINVAL)
            return rc;
        rc = -ENOENT;
        pthread_mutex_lock(&fs->mu);
        h = pending_find(fs, n, H_RECORD);
        if (h != NULL) {
            fill_text(fs, h, st);
            rc = 0;
        }
        pthread_mutex_unlock(&fs->mu);
        return rc;
    case N_SCRATCH:
        pthread_mutex_lock(&fs->mu);
        h = pending_find(fs, n, H_SCRATCH);
        if (h != NULL)
            fill_text(fs, h, st);
        pthread_mutex_unlock(&fs->mu);
        if (h != NULL)
            return 0;
        rc = vrm_scratch_stat(fs->v, n->coll, n->name, &size, &t);
        if (rc == 0)
            fill_file(fs, st, 0600, (size_t)size, ns_to_ts(t), ns_to_ts(t));
        return rc == -EINVAL ? -ENOENT : rc;
    default:
        return -ENOENT;
    }
}

/* ---- listings -------------------------------------------------------------- *
 * A collection is listed with offsets (tree.h) in three parts: its records,
 * the records being created, its scratch files. */

static int fill_record_entry(void *ctx, const char *name, const vrm_record_info *info)
{
    fill_ctx *c = ctx;
    char full[300];
    struct stat s;

    snprintf(full, sizeof full, "%s.json", name);
    if (!c->plus)
        return emit(c, full, name, NULL);
    memset(&s, 0, sizeof s);
    fill_file(FS(), &s, 0600, (size_t)info->size, ns_to_ts(info->updated_ns),
              ns_to_ts(info->updated_ns));
    return emit(c, full, name, &s);
}

/* A scratch file of a collection (name order), after c->after. */
static int fill_scratch_entry(void *ctx, const char *name)
{
    fill_ctx *c = ctx;

    if (c->after != NULL && strcmp(name, c->after) <= 0)
        return 0;
    return emit(c, name, name, NULL);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_records(vrmfs *fs, fill_ctx *c, const void *coll)
{
    return vrm_record_list_info(fs->v, coll, c->after, fill_record_entry, c);
}

/* The records of `coll` being created (pending handles, not committed
 * yet), in name order, after c->after.  Returns 1 if the buffer filled,
 * -ENOMEM. */
static int list_creating(vrmfs *fs, fill_ctx *c, const void *coll)
{
    size_t cap = 0, count = 0, i;
    char **names = NULL, full[300];
    int rc = 0;
    handle *h;

    pthread_mutex_lock(&fs->mu);
    for (h = fs->pending; h != NULL && rc == 0; h = h->next) {
        if (h->kind != H_RECORD || strcmp(h->n.coll, coll) != 0 ||
            (c->after != NULL && strcmp(h->n.name, c->after) <= 0))
            continue;
        if (vrm_array_grow(&names, &cap, count, sizeof *names) != 0) {
            rc = -ENOMEM;
            break;
        }
        if ((names[count] = strdup(h->n.name)) == NULL)
            rc = -ENOMEM;
        else
            count++;
    }
    pthread_mutex_unlock(&fs->mu);
    if (count > 1)
        qsort(names, count, sizeof *names, cmp_names);
    for (i = 0; i < count; i++) {
        if (rc == 0 && (i == 0 || strcmp(names[i], names[i - 1]) != 0)) {
            snprintf(full, sizeof full, "%s.json", names[i]);
            rc = emit(c, full, names[i], NULL);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static int list_scratch(vrmfs *fs, fill_ctx *c, const void *coll)
{
    return vrm_scratch_list(fs->v, coll, fill_scratch_entry, c);
}

static int records_readdir(vrmfs *fs, const node *n, fill_ctx *c, dirh *d, off_t off)
{
    static const part_fn parts[] = {list_records, list_creating, list_scratch};
    int rc;

    switch (n->kind) {
    case N_RECORDS:
        fill_dots(c);
        rc = vrm_collection_list(fs->v, fill_name, c);
        return rc < 0 ? rc : 0;
    case N_COLL:
        if (d != NULL)
            return list_in_parts(fs, c, d, off, parts, sizeof parts / sizeof parts[0], n->coll);
        fill_dots(c);
        return -EIO;                  /* always opened */
    default:
        return -ENOTDIR;
    }
}

/* ---- opening --------------------------------------------------------------- */

/* Open a record or scratch file as a text handle.  `create`: it is new. */
static int open_text(vrmfs *fs, const node *n, struct fuse_file_info *fi, int create)
{
    enum handle_kind kind = n->kind == N_RECORD ? H_RECORD : H_SCRATCH;
    int writable = (fi->flags & O_ACCMODE) != O_RDONLY, rc;
    handle *h;

    if (writable && fs->read_only)
        return -EROFS;
    h = handle_new(kind, n, writable);
    if (h == NULL)
        return -ENOMEM;
    if (kind == H_SCRATCH)
        h->max = VRM_SCRATCH_MAX;
    if (!create && !(fi->flags & O_TRUNC)) {
        handle *p;

        /* The text another descriptor is writing (a record not committed
         * yet, a scratch file being written), or else the stored one. */
        pthread_mutex_lock(&fs->mu);
        p = pending_find(fs, n, kind);
        if (p != NULL) {
            pthread_mutex_lock(&p->mu);
            rc = buf_write(h, h->max, p->buf ? p->buf : "", p->len, 0);
            pthread_mutex_unlock(&p->mu);
            rc = rc < 0 ? rc : 0;
        }
        pthread_mutex_unlock(&fs->mu);
        if (p == NULL)
            rc = kind == H_RECORD
                     ? vrm_record_get(fs->v, n->coll, n->name, &h->buf, &h->len, NULL)
                     : vrm_scratch_get(fs->v, n->coll, n->name, &h->buf, &h->len, NULL);
        if (rc != 0) {
            handle_free(h);
            return rc;
        }
        if (p == NULL)
            h->cap = h->len;
    } else if (!writable) {
        handle_free(h);
        return -EACCES;
    } else if (kind == H_SCRATCH) {
        /* Scratch files exist from their creation (vim's 4913 probe). */
        rc = create ? vrm_scratch_put(fs->v, n->coll, n->name, "", 0) : 0;
        if (rc != 0) {
            handle_free(h);
            return rc;
        }
        h->dirty = h->written = !create;  /* O_TRUNC empties it at close */
    } else {
        /* O_TRUNC or a new record: empty until written; committed at close. */
        h->dirty = 1;
        if (create || vrm_record_stat(fs->v, n->coll, n->name, NULL) == -ENOENT) {
            pthread_mutex_lock(&fs->mu);
            if (pending_find(fs, n, H_RECORD) == NULL)
                pending_add(fs, h);
            pthread_mutex_unlock(&fs->mu);
        }
    }
    if (kind == H_SCRATCH && writable) {
        pthread_mutex_lock(&fs->mu);
        pending_add(fs, h);
        pthread_mutex_unlock(&fs->mu);
    }
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->keep_cache = 0;
    return 0;
}

static int records_open(vrmfs *fs, const char *path, const node *n, struct fuse_file_info *fi)
{
    (void)path;
    if (n->kind != N_RECORD && n->kind != N_SCRATCH)
        return -EISDIR;
    return open_text(fs, n, fi, 0);
}

static int records_create(vrmfs *fs, const char *path, const node *n, mode_t mode,
                          struct fuse_file_info *fi)
{
    int rc;

    (void)mode;
    if (n->kind != N_RECORD && n->kind != N_SCRATCH)
        return -EACCES;
    rc = vrm_collection_exists(fs->v, n->coll);
    if (rc <= 0)
        return rc < 0 ? rc : -ENOENT;
    if ((n->kind == N_RECORD ? vrm_record_name_valid(n->name)
                             : vrm_scratch_name_valid(n->name)) != 0)
        return refuse(path, -EINVAL);
    return open_text(fs, n, fi, 1);
}

/* ---- collections ----------------------------------------------------------- */

static int records_mkdir(vrmfs *fs, const char *path, const node *n, mode_t mode)
{
    int rc;

    (void)mode;
    if (n->kind != N_COLL)
        return n->kind == N_RECORD || n->kind == N_SCRATCH ? -EACCES : -EEXIST;
    rc = vrm_collection_create(fs->v, n->coll);
    return rc == -EINVAL ? refuse(path, rc) : rc;
}

/* A collection's name too long is refused with a word on the limit. */
static int records_mkdir_unknown(vrmfs *fs, const char *path, int rc)
{
    (void)fs;
    if (rc == -ENAMETOOLONG) {
        vrm_error(ENAMETOOLONG, "a collection name has 1 to %d characters", VRM_COLLECTION_MAX);
        return refuse(path, rc);
    }
    return rc == -ENOENT ? -EACCES : rc;
}

static int records_rmdir(vrmfs *fs, const node *n)
{
    if (n->kind != N_COLL)
        return n->kind == N_RECORD || n->kind == N_SCRATCH ? -ENOTDIR : -EACCES;
    return vrm_collection_delete(fs->v, n->coll);
}

static int records_unlink(vrmfs *fs, const node *n)
{
    int rc;

    switch (n->kind) {
    case N_RECORD:
        rc = vrm_record_delete(fs->v, n->coll, n->name);
        if (rc == 0)
            view_record_changed(fs, n->coll, n->name);
        return rc;
    case N_SCRATCH:
        return vrm_scratch_delete(fs->v, n->coll, n->name);
    default:
        return -EISDIR;
    }
}

static int commit_text(vrmfs *fs, const char *path, handle *h);

/* libfuse hides a file removed while open: it renames the file to
 * .fuse_hiddenNNN and removes that name at the file's last release.
 * libfuse 3.14.0 misses the removal when the release runs while it renames
 * (its issue #746), and the name would stay for good, so for scratch files
 * (vim's swap file, removed while vim still has it open) this tree removes
 * it itself: at once if no descriptor writes the file any more (its readers
 * hold their own copies), else at the writer's release.  libfuse's own
 * removal then finds nothing, which it ignores. */
static int hiding(const node *b)
{
    return b->kind == N_SCRATCH && strncmp(b->name, ".fuse_hidden", 12) == 0;
}

static int hide_scratch(vrmfs *fs, const char *from, const node *a, const node *b)
{
    handle *p;
    int rc;

    pthread_mutex_lock(&fs->mu);
    p = pending_find(fs, a, H_SCRATCH);
    if (p == NULL) {
        rc = vrm_scratch_delete(fs->v, a->coll, a->name);
    } else {
        pthread_mutex_lock(&p->mu);
        rc = commit_text(fs, from, p);
        if (rc == 0)
            rc = vrm_scratch_move(fs->v, a->coll, a->name, 0, b->coll, b->name, 0, 0);
        if (rc == 0) {
            snprintf(p->n.name, sizeof p->n.name, "%s", b->name);
            p->hidden = 1;
        }
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&fs->mu);
    return rc;
}

/* Between records and scratch files, in any collections; b may be in
 * another tree (then -EACCES). */
static int records_rename(vrmfs *fs, const char *from, const char *to, const node *a,
                          const node *b, unsigned flags)
{
    int rc = 0;

    if (a->kind == N_COLL && b->kind == N_COLL)
        return -EXDEV;  /* mv copies the collection's records instead */
    if ((a->kind != N_RECORD && a->kind != N_SCRATCH) ||
        (b->kind != N_RECORD && b->kind != N_SCRATCH))
        return -EACCES;
    if (flags & RENAME_EXCHANGE)
        return -EINVAL;
    if (a->kind == N_SCRATCH && hiding(b) && strcmp(a->coll, b->coll) == 0 && flags == 0)
        return hide_scratch(fs, from, a, b);
    if (a->kind == N_SCRATCH) {
        /* Text still being written under the old name goes with it. */
        handle *p;

        pthread_mutex_lock(&fs->mu);
        p = pending_find(fs, a, H_SCRATCH);
        if (p != NULL) {
            pthread_mutex_lock(&p->mu);
            rc = commit_text(fs, from, p);
            pthread_mutex_unlock(&p->mu);
        }
        pthread_mutex_unlock(&fs->mu);
        if (rc != 0)
            return rc;
    }
    rc = vrm_scratch_move(fs->v, a->coll, a->name, a->kind == N_RECORD, b->coll, b->name,
                          b->kind == N_RECORD, (flags & RENAME_NOREPLACE) != 0);
    if (rc == 0 && a->kind == N_RECORD)
        view_record_changed(fs, a->coll, a->name);
    if (rc == 0 && b->kind == N_RECORD)
        view_record_changed(fs, b->coll, b->name);
    if (rc == -EINVAL) {
        char reason[700];

        snprintf(reason, sizeof reason, "%s (renamed from %s); nothing changed",
                 vrm_error_message(), from);
        vrmfs_refusal(fs, to, reason);
    }
    return rc;
}

/* truncate(2) by path: read, cut, store (a record must stay valid). */
static int records_truncate(vrmfs *fs, const char *path, const node *n, off_t size)
{
    char *text = NULL;
    size_t len = 0, cap;
    int rc;

    if (n->kind != N_RECORD && n->kind != N_SCRATCH)
        return -EISDIR;
    rc = n->kind == N_RECORD ? vrm_record_get(fs->v, n->coll, n->name, &text, &len, NULL)
                             : vrm_scratch_get(fs->v, n->coll, n->name, &text, &len, NULL);
    if (rc != 0)
        return rc;
    cap = len;
    if ((uint64_t)size != len) {
        rc = buf_truncate(&text, &len, &cap, n->kind == N_RECORD ? RECORD_MAX
                                                                 : VRM_SCRATCH_MAX, size);
        if (rc == 0)
            rc = n->kind == N_RECORD
                     ? vrm_record_put(fs->v, n->coll, n->name, text, len, VRM_PUT_REPLACE, NULL)
                     : vrm_scratch_put(fs->v, n->coll, n->name, text, len);
        if (rc == 0 && n->kind == N_RECORD)
            view_record_changed(fs, n->coll, n->name);
        if (rc == -EINVAL)
            rc = refuse(path, rc);
    }
    free(text);
    return rc;
}

/* Records keep their own times; a scratch file's is set (make, rsync). */
static int records_utimens(vrmfs *fs, const char *path, const node *n,
                           const struct timespec tv[2])
{
    int64_t t = now_ns();

    (void)path;
    if (n->kind != N_SCRATCH || fs->read_only ||
        (tv != NULL && tv[1].tv_nsec == UTIME_OMIT))
        return TREE_DEFAULT;
    if (tv != NULL && tv[1].tv_nsec != UTIME_NOW)
        t = (int64_t)tv[1].tv_sec * 1000000000 + tv[1].tv_nsec;
    return vrm_scratch_touch(fs->v, n->coll, n->name, t);
}

/* user.vrm.visible-to of a record: the vendors that can see any of it. */
#define VISIBLE_TO "user.vrm.visible-to"

static int records_getxattr(vrmfs *fs, const node *n, const char *name, char *value,
                            size_t size)
{
    char *list = NULL;
    size_t len = 0;
    int rc;

    if (n->kind != N_RECORD || strcmp(name, VISIBLE_TO) != 0)
        return -ENODATA;  /* nothing is set outside files/ */
    rc = vrm_view_visible_to(fs->v, n->coll, n->name, &list, &len);
    if (rc == 0 && len > INT_MAX)
        rc = -E2BIG;
    if (rc == 0 && size > 0 && len > size)
        rc = -ERANGE;
    if (rc == 0 && size > 0)
        memcpy(value, list, len);
    free(list);
    return rc != 0 ? rc : (int)len;
}

/* ---- closing ---------------------------------------------------------------- */

/* The mount path of a records/ handle, for messages (flush and release may
 * come without a path). */
static const char *handle_path(const handle *h, char *buf, size_t size)
{
    snprintf(buf, size, "/records/%s/%s%s", h->n.coll, h->n.name,
             h->kind == H_RECORD ? ".json" : "");
    return buf;
}

/* Commit a text handle.  Handle mutex held.  A descriptor opened with
 * O_CREAT or O_TRUNC but not yet written to commits nothing: a shell's
 * `> file` opens, duplicates and closes one before the program writes
 * through the other. */
static int commit_text(vrmfs *fs, const char *path, handle *h)
{
    char where[400];
    int rc;

    if (!h->writable || !h->dirty || !h->written)
        return 0;
    if (h->kind == H_SCRATCH) {
        rc = vrm_scratch_put(fs->v, h->n.coll, h->n.name, h->buf, h->len);
        if (rc == 0)
            h->dirty = 0;
        return rc;
    }
    rc = vrm_record_put(fs->v, h->n.coll, h->n.name, h->buf ? h->buf : "", h->len, 0, NULL);
    h->dirty = 0;  /* one refusal per close; a later write tries again */
    if (rc != 0) {
        char reason[600];

        snprintf(reason, sizeof reason, "%s; the record is unchanged", vrm_error_message());
        vrmfs_refusal(fs, path ? path : handle_path(h, where, sizeof where), reason);
        return rc;
    }
    return 0;
}

static int records_commit(vrmfs *fs, const char *path, handle *h)
{
    int rc, listed, changed, unmade;

    pthread_mutex_lock(&h->mu);
    changed = h->writable && h->dirty && h->written;
    rc = commit_text(fs, path, h);
    listed = rc == 0 && h->kind == H_RECORD && h->created && !h->dirty;
    unmade = rc != 0 && h->kind == H_RECORD && h->created;
    pthread_mutex_unlock(&h->mu);
    if (changed && rc == 0 && h->kind == H_RECORD) {
        /* Its size is now that of the pretty text, not of what was written. */
        char where[400];

        inval_queue(fs, handle_path(h, where, sizeof where));
        view_record_changed(fs, h->n.coll, h->n.name);
    }
    if (listed) {  /* committed: from now on listed from the vault */
        pthread_mutex_lock(&fs->mu);
        pending_remove(fs, h);
        pthread_mutex_unlock(&fs->mu);
    }
    if (unmade) {
        /* A new record refused at its first commit never existed: its name
         * goes now, not at the release that follows close() asynchronously,
         * and the kernel forgets the entry its create was given (GIO stats
         * the copy after the failed close).  A later write through another
         * descriptor still commits it. */
        char where[400];

        pthread_mutex_lock(&fs->mu);
        pending_remove(fs, h);
        pthread_mutex_unlock(&fs->mu);
        where[0] = '!';
        handle_path(h, where + 1, sizeof where - 1);
        inval_queue(fs, where);
        inval_wait(fs);
    }
    return rc;
}

static void records_release(vrmfs *fs, const char *path, handle *h)
{
    char where[400];
    int rc;

    if (h->kind == H_RECORD && h->writable && h->dirty && !h->written)
        vrmfs_refusal(fs, path ? path : handle_path(h, where, sizeof where), h->created
                                    ? "an empty file is not a record; nothing was kept"
                                    : "emptied but never written; the record is unchanged");
    pthread_mutex_lock(&fs->mu);
    if (h->created)
        pending_remove(fs, h);
    /* -ENOENT: libfuse removed it first (see hide_scratch) */
    if (h->hidden && (rc = vrm_scratch_delete(fs->v, h->n.coll, h->n.name)) != 0 &&
        rc != -ENOENT)
        vrmfs_log(fs, LOG_WARNING, "removing %s: %s", handle_path(h, where, sizeof where),
                  vrm_error_message());
    pthread_mutex_unlock(&fs->mu);
}

/* The daemon is ending: the handles of fs->pending are freed already. */
static void records_forget(vrmfs *fs)
{
    fs->pending = NULL;
}

const struct tree_ops records_tree = {
    .getattr = records_getattr,
    .readdir = records_readdir,
    .open = records_open,
    .create = records_create,
    .mkdir = records_mkdir,
    .mkdir_unknown = records_mkdir_unknown,
    .rmdir = records_rmdir,
    .unlink = records_unlink,
    .rename = records_rename,
    .truncate = records_truncate,
    .utimens = records_utimens,
    .getxattr = records_getxattr,
    .commit = records_commit,
    .release = records_release,
    .forget = records_forget,
};
