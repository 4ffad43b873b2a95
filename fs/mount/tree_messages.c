/*
 * tree_messages.c: outbox/, sent/ and inbox/, a folder per vendor in each.
 *
 * A message is written as a new file NAME.json in outbox/<vendor>/ and
 * queued when it is closed (H_OUTBOX); from then on it is ID.pending.json
 * there until the delivery threads (deliver.c) have sent it, then
 * sent/<vendor>/ID.json.  outbox/all/ broadcasts.  rm of a pending message
 * cancels it.  Replies are inbox/<vendor>/ID.json (rm forgets one),
 * rejected files inbox/.rejected/.  What went out and what came in is
 * otherwise read-only.
 */
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

/* A vendor of outbox/ (or its broadcast folder), sent/ or inbox/: 0 or
 * -ENOENT. */
static int msg_vendor_check(vrmfs *fs, const node *n)
{
    if ((n->kind == N_OUTBOX_VENDOR || n->kind == N_OUTBOX_MSG) &&
        vrm_outbox_broadcast(n->vendor))
        return 0;
    return vendor_check(fs, n);
}

/* The text of a message file: *text (free()), *len, *time_ns. */
static int msg_text(vrmfs *fs, const node *n, char **text, size_t *len, int64_t *time_ns)
{
    char id[VRM_OUTBOX_ID_SIZE];

    switch (n->kind) {
    case N_OUTBOX_MSG:
        if (vrm_outbox_pending_id(n->name, id) != 0)
            return -ENOENT;
        return vrm_outbox_get(fs->v, n->vendor, id, 0, text, len, time_ns);
    case N_SENT_MSG:
        return vrm_outbox_get(fs->v, n->vendor, n->name, 1, text, len, time_ns);
    case N_INBOX_MSG:
        return vrm_inbox_get(fs->v, n->vendor, n->name, text, len, time_ns);
    case N_REJECTED_MSG:
        return vrm_inbox_rejected_get(fs->v, n->name, text, len, time_ns);
    default:
        return -ENOENT;
    }
}

static int messages_getattr(vrmfs *fs, const char *path, const node *n, struct stat *st)
{
    char *text = NULL;
    size_t len = 0;
    int64_t t = 0;
    int rc;

    (void)path;
    switch (n->kind) {
    case N_OUTBOX:
        fill_dir(fs, st, 0700);
        return 0;
    case N_SENT:
    case N_INBOX:
    case N_REJECTED:
        fill_dir(fs, st, 0500);
        return 0;
    case N_OUTBOX_VENDOR:
    case N_SENT_VENDOR:
    case N_INBOX_VENDOR:
        rc = msg_vendor_check(fs, n);
        if (rc == 0)
            fill_dir(fs, st, n->kind == N_OUTBOX_VENDOR ? 0700 : 0500);
        return rc;
    default:
        /* a message, a reply and a rejected file's record are kept compact
         * and shown pretty (pending and sent ones, rejected files with
         * fields of their own): the size is known once the text is made */
        rc = msg_text(fs, n, &text, &len, &t);
        free(text);
        if (rc == 0)
            fill_file(fs, st, n->kind == N_INBOX_MSG ? 0600 : 0400, len, ns_to_ts(t),
                      ns_to_ts(t));
        return rc;
    }
}

static int fill_pending(void *ctx, const char *id)
{
    fill_ctx *c = ctx;
    char name[VRM_OUTBOX_ID_SIZE + sizeof VRM_OUTBOX_PENDING_SUFFIX];

    if (vrm_outbox_pending_file(id, name, sizeof name) != 0)
        return 0;
    return c->filler(c->buf, name, NULL, 0, 0) ? 1 : 0;
}

static int fill_json(void *ctx, const char *id)
{
    fill_ctx *c = ctx;
    char name[300];

    snprintf(name, sizeof name, "%s.json", id);
    return c->filler(c->buf, name, NULL, 0, 0) ? 1 : 0;
}

static int messages_readdir(vrmfs *fs, const node *n, fill_ctx *c, dirh *d, off_t off)
{
    int rc;

    (void)d;
    (void)off;
    switch (n->kind) {
    case N_OUTBOX_MSG:
    case N_SENT_MSG:
    case N_INBOX_MSG:
    case N_REJECTED_MSG:
        return -ENOTDIR;
    default:
        break;
    }
    rc = messages_getattr(fs, NULL, n, &(struct stat){0});
    if (rc != 0)
        return rc;
    fill_dots(c);
    switch (n->kind) {
    case N_OUTBOX:
        c->filler(c->buf, VRM_OUTBOX_ALL, NULL, 0, 0);
        /* fall through */
    case N_SENT:
        rc = vrm_vendor_list(fs->v, fill_name, c);
        break;
    case N_INBOX:
        c->filler(c->buf, ".rejected", NULL, 0, 0);
        rc = vrm_vendor_list(fs->v, fill_name, c);
        break;
    case N_OUTBOX_VENDOR:
        rc = vrm_outbox_broadcast(n->vendor)
                 ? 0 : vrm_outbox_list(fs->v, n->vendor, 0, fill_pending, c);
        break;
    case N_SENT_VENDOR:
        rc = vrm_outbox_list(fs->v, n->vendor, 1, fill_json, c);
        break;
    case N_INBOX_VENDOR:
        rc = vrm_inbox_list(fs->v, n->vendor, fill_json, c);
        break;
    default:                          /* N_REJECTED */
        rc = vrm_inbox_rejected_list(fs->v, fill_json, c);
        break;
    }
    return rc < 0 ? rc : 0;
}

/* A new message file in outbox/<vendor>/, written, then queued at close;
 * names libvrm refuses (an editor's swap file) are logged. */
static int messages_create(vrmfs *fs, const char *path, const node *n, mode_t mode,
                           struct fuse_file_info *fi)
{
    int rc;

    (void)mode;
    if (n->kind != N_OUTBOX_MSG)
        return -EACCES;
    rc = msg_vendor_check(fs, n);
    if (rc != 0)
        return rc;
    rc = vrm_outbox_file_valid(n->name);
    if (rc != 0)
        return rc == -EEXIST ? rc : refuse(path, rc);
    return text_handle(fi, H_OUTBOX, n, RECORD_MAX);
}

static int messages_open(vrmfs *fs, const char *path, const node *n, struct fuse_file_info *fi)
{
    char *text = NULL;
    size_t len = 0;
    int64_t t;
    int rc;

    (void)path;
    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return n->kind == N_OUTBOX_MSG || n->kind == N_INBOX_MSG ? -EACCES : -EROFS;
    if (n->kind != N_OUTBOX_MSG && n->kind != N_SENT_MSG && n->kind != N_INBOX_MSG &&
        n->kind != N_REJECTED_MSG)
        return -EISDIR;
    rc = msg_text(fs, n, &text, &len, &t);
    return rc != 0 ? rc : snapshot_handle(fi, H_SNAPSHOT, n, text, len);
}

static int queued_fn(void *ctx, const char *id)
{
    (void)ctx;
    (void)id;
    return 0;
}

/* Queue the message of an H_OUTBOX handle (a snapshot commits nothing). */
static int messages_commit(vrmfs *fs, const char *path, handle *h)
{
    char where[400], reason[700];
    int rc = 0;

    pthread_mutex_lock(&h->mu);
    if (!h->dirty || !h->written)
        goto out;
    h->dirty = 0;
    rc = vrm_outbox_submit(fs->v, h->n.vendor, h->buf ? h->buf : "", h->len, queued_fn, NULL);
    if (path == NULL) {
        snprintf(where, sizeof where, "/outbox/%s/%s", h->n.vendor, h->n.name);
        path = where;
    }
    if (rc < 0) {
        snprintf(reason, sizeof reason, "%s; nothing was queued", vrm_error_message());
        vrmfs_refusal(fs, path, reason);
        goto out;
    }
    rc = 0;
    vrmfs_deliver_wake(fs);
out:
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static int messages_unlink(vrmfs *fs, const node *n)
{
    char id[VRM_OUTBOX_ID_SIZE];

    switch (n->kind) {
    case N_OUTBOX_MSG:
        if (vrm_outbox_pending_id(n->name, id) != 0)
            return -ENOENT;
        return vrm_outbox_cancel(fs->v, n->vendor, id);   /* a pending one is cancelled */
    case N_INBOX_MSG:
        return vrm_inbox_delete(fs->v, n->vendor, n->name);
    case N_SENT_MSG:
    case N_REJECTED_MSG:
        return -EACCES;   /* the record of what went out and what came in */
    default:
        return -EISDIR;
    }
}

const struct tree_ops messages_tree = {
    .getattr = messages_getattr,
    .readdir = messages_readdir,
    .open = messages_open,
    .create = messages_create,
    .unlink = messages_unlink,
    .commit = messages_commit,
};
