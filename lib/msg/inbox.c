/*
 * inbox.c: picking up, verifying and keeping vendors' replies (see
 * inbox.h).
 */
#define _GNU_SOURCE
#include "msg/inbox.h"
#include "base/clock.h"
#include "msg/envelope.h"
#include "base/error.h"
#include "base/fileio.h"
#include "consent/grants.h"
#include "consent/identity.h"
#include "base/json.h"
#include "base/names.h"
#include "store/vault_int.h"
#include "consent/vendors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#define WIRE_MAX (VRM_MESSAGE_MAX + 4096)   /* a sealed, signed 1 MiB payload */


static int id_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > 64)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

/* Check a reply's payload (inbox.h); *id points into it.  0 or -EBADMSG
 * with the reason. */
static int check_reply(const cJSON *p, const char *pairwise_id, const char **id)
{
    static const char *const keys[] = {"v", "id", "kind", "from", "to", "created", "body",
                                       "in_reply_to", NULL};
    const cJSON *item;
    int64_t t;
    size_t i;

    cJSON_ArrayForEach(item, p) {
        for (i = 0; keys[i] != NULL && strcmp(keys[i], item->string) != 0; i++)
            ;
        if (keys[i] == NULL)
            return vrm_error(EBADMSG, "the payload has an unknown key \"%.64s\"", item->string);
    }
    item = cJSON_GetObjectItemCaseSensitive(p, "v");
    if (!cJSON_IsNumber(item) || item->valuedouble != 1)
        return vrm_error(EBADMSG, "the payload's \"v\" is not 1");
    item = cJSON_GetObjectItemCaseSensitive(p, "id");
    if (!cJSON_IsString(item) || !id_ok(item->valuestring))
        return vrm_error(EBADMSG, "the payload's \"id\" is not 1-64 of A-Z a-z 0-9 _ -");
    *id = item->valuestring;
    item = cJSON_GetObjectItemCaseSensitive(p, "kind");
    if (!cJSON_IsString(item) || strcmp(item->valuestring, "reply") != 0)
        return vrm_error(EBADMSG, "the payload's \"kind\" is not \"reply\"");
    item = cJSON_GetObjectItemCaseSensitive(p, "from");
    if (!cJSON_IsString(item))
        return vrm_error(EBADMSG, "the payload has no \"from\"");
    item = cJSON_GetObjectItemCaseSensitive(p, "to");
    if (!cJSON_IsString(item) || strcmp(item->valuestring, pairwise_id) != 0)
        return vrm_error(EBADMSG, "the payload is not addressed to the person's identity for "
                         "this vendor (\"to\")");
    item = cJSON_GetObjectItemCaseSensitive(p, "created");
    if (!cJSON_IsString(item) || vrm_rfc3339_parse(item->valuestring, &t) != 0)
        return vrm_error(EBADMSG, "the payload's \"created\" is not an RFC 3339 time");
    if (cJSON_GetObjectItemCaseSensitive(p, "body") == NULL)
        return vrm_error(EBADMSG, "the payload has no \"body\"");
    item = cJSON_GetObjectItemCaseSensitive(p, "in_reply_to");
    if (item != NULL && (!cJSON_IsString(item) || !id_ok(item->valuestring)))
        return vrm_error(EBADMSG, "the payload's \"in_reply_to\" is not a message id");
    return 0;
}

/* The vendor's Ed25519 key from vendor.json.  Locked. */
static int vendor_sign_key(vrm_vault *v, const char *vendor, uint8_t pk[32])
{
    sqlite3_stmt *st;
    cJSON *body = NULL;
    const cJSON *ed;
    int rc = vrm_vault_stmt(v, "SELECT body FROM vendors WHERE name = ?1", &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        body = cJSON_ParseWithLength((const char *)sqlite3_column_text(st, 0),
                                     (size_t)sqlite3_column_bytes(st, 0));
    sqlite3_reset(st);
    if (body == NULL)
        return vrm_error(ENOENT, "no vendor %s", vendor);
    ed = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(body, "keys"),
                                          "ed25519");
    rc = cJSON_IsString(ed) && vrm_b64url_decode(pk, 32, ed->valuestring) == 0
             ? 0 : vrm_error(EBADMSG, "vendor %s has no keys.ed25519 in vendor.json to check "
                             "replies with", vendor);
    cJSON_Delete(body);
    return rc;
}

/* Keep an accepted reply.  Locked. */
static int keep(vrm_vault *v, const char *vendor, const char *id, const cJSON *payload)
{
    sqlite3_stmt *st;
    char *text = NULL;
    size_t len;
    int rc = vrm_json_compact(payload, &text, &len);

    if (rc == 0)
        rc = vrm_vault_stmt(v, "INSERT INTO inbox(vendor, id, payload, received) "
                               "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, text, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, vrm_now_ns());
        rc = vrm_vault_run(v, st);
    }
    free(text);
    return rc;
}

/* Record a rejected file.  Locked. */
static int reject(vrm_vault *v, const char *vendor, const char *file, const char *reason,
                  size_t size, char *shown, size_t shown_size)
{
    sqlite3_stmt *st;
    size_t base = strlen(shown);
    int rc, n;

    /* a file name used again: VENDOR.FILE.2, .3, ... */
    for (n = 2;; n++) {
        rc = vrm_vault_stmt(v, "SELECT 1 FROM inbox_rejected WHERE name = ?1", &st);
        if (rc != 0)
            return rc;
        sqlite3_bind_text(st, 1, shown, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW)
            return vrm_vault_sqlerr(v, "database");
        if (snprintf(shown + base, shown_size - base, ".%d", n) >= (int)(shown_size - base))
            return vrm_error(ENAMETOOLONG, "rejected file name too long");
    }
    rc = vrm_vault_stmt(v, "INSERT INTO inbox_rejected(name, vendor, file, "
                           "reason, size, received) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, shown, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, vendor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, file, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)size);
    sqlite3_bind_int64(st, 6, vrm_now_ns());
    rc = vrm_vault_run(v, st);
    return rc;
}

/* Open and check one spool file: 0 and *payload (with *id into it), or
 * -EBADMSG with the reason as the message. */
static int open_one(vrm_vault *v, const char *vendor, const uint8_t *wire, size_t wlen,
                    cJSON **payload, const char **id)
{
    vrm_identity *ident = NULL;
    uint8_t pk[32];
    char *text = NULL;
    size_t tlen;
    int rc;

    *payload = NULL;
    rc = vendor_sign_key(v, vendor, pk);
    if (rc == 0)
        rc = vrm_identity_derive(v, vendor, &ident);
    if (rc == 0)
        rc = vrm_envelope_open(ident, pk, wire, wlen, &text, &tlen);
    if (rc == 0 && vrm_json_parse_object(text, tlen, payload) != 0)
        rc = vrm_error(EBADMSG, "the payload is not a JSON object: %s", vrm_error_message());
    if (rc == 0)
        rc = check_reply(*payload, vrm_identity_id(ident), id);
    if (rc != 0) {
        cJSON_Delete(*payload);
        *payload = NULL;
    }
    free(text);
    vrm_identity_free(ident);
    return rc;
}

/* Handle the files of one vendor's spool.  Returns how many. */
static int scan_vendor(vrm_vault *v, const char *vault_dir, const char *vendor)
{
    char path[PATH_MAX], rejected[PATH_MAX];
    vrm_names files = VRM_NAMES_INIT;
    struct dirent *de;
    DIR *d;
    size_t i;
    int dfd, rc = 0, done = 0, n;

    n = snprintf(path, sizeof path, "%s/inbox/%s/new", vault_dir, vendor);
    if (n < 0 || (size_t)n >= sizeof path)
        return 0;
    d = opendir(path);
    if (d == NULL)
        return 0;   /* no spool: nothing came */
    while ((de = readdir(d)) != NULL && rc == 0)
        if (de->d_name[0] != '.')
            rc = vrm_names_add(&files, de->d_name);
    dfd = dirfd(d);
    n = snprintf(rejected, sizeof rejected, "%s/inbox/.rejected", vault_dir);
    for (i = 0; rc == 0 && i < files.n; i++) {
        const char *file = files.names[i], *id = NULL;
        cJSON *payload = NULL;
        char *wire = NULL;
        size_t wlen = 0;
        char shown[300], reason[512];
        int r;

        /* VENDOR.FILE: a vendor's name has no '.', so it cannot be confused */
        snprintf(shown, sizeof shown, "%s.%s", vendor, file);
        r = vrm_file_read(dfd, file, WIRE_MAX, &wire, &wlen);
        if (r == -ENOENT)
            continue;   /* gone meanwhile */
        vrm_vault_lock(v);
        if (r == 0)
            r = open_one(v, vendor, (const uint8_t *)wire, wlen, &payload, &id);
        else
            r = vrm_error(EBADMSG, "cannot read it: %s", strerror(-r));
        if (r == 0) {
            r = vrm_tx_begin(v);
            if (r == 0)
                r = vrm_tx_finish(v, keep(v, vendor, id, payload));
            if (r == 0)
                unlinkat(dfd, file, 0);
        } else if (r == -EBADMSG) {
            snprintf(reason, sizeof reason, "%s", vrm_error_message());
            r = vrm_tx_begin(v);
            if (r == 0)
                r = vrm_tx_finish(v, reject(v, vendor, file, reason, wlen, shown,
                                            sizeof shown));
            if (r == 0) {
                char to[PATH_MAX];
                int m = snprintf(to, sizeof to, "%s/%s", rejected, shown);

                mkdir(rejected, 0700);
                if (m < 0 || (size_t)m >= sizeof to || renameat(dfd, file, AT_FDCWD, to) != 0)
                    unlinkat(dfd, file, 0);
            }
        }
        vrm_vault_unlock(v);
        cJSON_Delete(payload);
        free(wire);
        if (r != 0)
            rc = r;   /* the vault's trouble, not the file's */
        else
            done++;
    }
    closedir(d);
    vrm_names_release(&files);
    return rc < 0 ? rc : done;
}

int vrm_inbox_scan(vrm_vault *v, const char *vault_dir)
{
    vrm_names vendors = VRM_NAMES_INIT;
    size_t i;
    int rc = vrm_vendor_list(v, vrm_names_add, &vendors), total = 0;

    for (i = 0; rc >= 0 && i < vendors.n; i++) {
        rc = scan_vendor(v, vault_dir, vendors.names[i]);
        if (rc > 0)
            total += rc;
    }
    vrm_names_release(&vendors);
    return rc < 0 ? rc : total;
}

/* ---- reading ---------------------------------------------------------------- */

static int list_by(vrm_vault *v, const char *sql, const char *arg, vrm_name_fn fn, void *ctx)
{
    vrm_names l = VRM_NAMES_INIT;
    sqlite3_stmt *st;
    size_t i;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, sql, &st);
    if (rc == 0) {
        if (arg != NULL)
            sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
        while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
            rc = vrm_names_add(&l, (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    for (i = 0; rc == 0 && i < l.n; i++)
        rc = fn(ctx, l.names[i]);
    vrm_names_release(&l);
    return rc;
}

int vrm_inbox_list(vrm_vault *v, const char *vendor, vrm_name_fn fn, void *ctx)
{
    return list_by(v, "SELECT id FROM inbox WHERE vendor = ?1 ORDER BY received, id", vendor,
                   fn, ctx);
}

int vrm_inbox_rejected_list(vrm_vault *v, vrm_name_fn fn, void *ctx)
{
    return list_by(v, "SELECT name FROM inbox_rejected ORDER BY received, name", NULL, fn, ctx);
}

int vrm_inbox_get(vrm_vault *v, const char *vendor, const char *id, char **out, size_t *len,
                  int64_t *received_ns)
{
    sqlite3_stmt *st;
    cJSON *p = NULL;
    int rc;

    *out = NULL;
    *len = 0;
    vrm_vault_lock(v);
    rc = vrm_find_named_locked(v, "SELECT payload, received FROM inbox "
                                  "WHERE vendor = ?1 AND id = ?2", vendor, id, "reply", &st);
    if (rc == 0) {
        p = cJSON_ParseWithLength((const char *)sqlite3_column_text(st, 0),
                                  (size_t)sqlite3_column_bytes(st, 0));
        if (received_ns != NULL)
            *received_ns = sqlite3_column_int64(st, 1);
        sqlite3_reset(st);
        rc = p == NULL ? vrm_error(EUCLEAN, "reply %s holds unreadable JSON", id)
                       : vrm_json_pretty(p, out, len);
    }
    vrm_vault_unlock(v);
    cJSON_Delete(p);
    return rc;
}

int vrm_inbox_delete(vrm_vault *v, const char *vendor, const char *id)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "DELETE FROM inbox WHERE vendor = ?1 AND id = ?2", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        rc = vrm_vault_run(v, st);
        if (rc == 0 && sqlite3_changes(vrm_vault_sqlite(v)) == 0)
            rc = vrm_error(ENOENT, "no reply %s from %s", id, vendor);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_inbox_rejected_get(vrm_vault *v, const char *name, char **out, size_t *len,
                           int64_t *received_ns)
{
    sqlite3_stmt *st;
    cJSON *doc = NULL;
    char when[32];
    int rc;

    *out = NULL;
    *len = 0;
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT vendor, file, reason, size, received FROM inbox_rejected "
                           "WHERE name = ?1", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int64_t t = sqlite3_column_int64(st, 4);

            vrm_rfc3339_format(t, when);
            if (received_ns != NULL)
                *received_ns = t;
            doc = cJSON_CreateObject();
            rc = doc != NULL &&
                         cJSON_AddStringToObject(doc, "vendor",
                                                 (const char *)sqlite3_column_text(st, 0)) &&
                         cJSON_AddStringToObject(doc, "file",
                                                 (const char *)sqlite3_column_text(st, 1)) &&
                         cJSON_AddStringToObject(doc, "reason",
                                                 (const char *)sqlite3_column_text(st, 2)) &&
                         cJSON_AddNumberToObject(doc, "size",
                                                 (double)sqlite3_column_int64(st, 3)) &&
                         cJSON_AddStringToObject(doc, "received", when)
                     ? 0 : -ENOMEM;
        } else {
            rc = rc == SQLITE_DONE ? vrm_error(ENOENT, "no rejected file %s", name)
                                   : vrm_vault_sqlerr(v, "database");
        }
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    if (rc == 0)
        rc = vrm_json_pretty(doc, out, len);
    cJSON_Delete(doc);
    return rc;
}
