/*
 * outbox.c: queueing, listing and delivering the person's messages (see
 * outbox.h).
 *
 * Delivery claims a due message by moving its next_try ahead (a lease of a
 * few minutes) in a transaction of its own, sends it without the vault's
 * lock, and records the outcome in another; a daemon killed mid-send leaves
 * the lease to expire, and the message goes again (at-least-once).
 */
#include "msg/outbox.h"
#include "base/clock.h"
#include "msg/envelope.h"
#include "base/error.h"
#include "consent/fieldpath.h"
#include "consent/grants.h"
#include "consent/identity.h"
#include "base/json.h"
#include "base/names.h"
#include "consent/receipt.h"
#include "data/records_int.h"
#include "msg/transport.h"
#include "store/vault_int.h"
#include "consent/vendors.h"
#include "consent/grants_int.h"
#include "consent/receipt_int.h"
#include "msg/outbox_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define LEASE_NS (300LL * 1000000000)     /* a claimed message is retried after */
#define BACKOFF_BASE_NS (250LL * 1000000) /* first retry */
#define BACKOFF_MAX_NS (900LL * 1000000000)
#define TEXT_MAX 65536                    /* text, category: bytes */

static int new_id(char id[VRM_MESSAGE_ID_LEN + 1])
{
    uint8_t raw[16];

    randombytes_buf(raw, sizeof raw);
    return vrm_b64url_encode(id, VRM_MESSAGE_ID_LEN + 1, raw, sizeof raw);
}

/* ---- vendors as the outbox needs them ------------------------------------ */

typedef struct target {
    char name[VRM_VENDOR_MAX + 1];
    cJSON *body;                      /* vendor.json */
    uint8_t x25519[32];
    char to[VRM_ID_B64_MAX];          /* its key id, or its name */
    const char *endpoint;             /* in body */
    int accepts_intents;
} target;

/* Load vendor `name` as a message target.  Locked.  -ENOENT, -EINVAL (no
 * keys or endpoint: cannot be sent to). */
static int target_load(vrm_vault *v, const char *name, target *t)
{
    sqlite3_stmt *st;
    const cJSON *keys, *x, *ed, *ep, *ai;
    int rc;

    memset(t, 0, sizeof *t);
    if (strlen(name) > VRM_VENDOR_MAX)
        return vrm_error(ENOENT, "no vendor %.64s", name);
    strcpy(t->name, name);
    rc = vrm_vault_stmt(v, "SELECT body FROM vendors WHERE name = ?1", &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        t->body = cJSON_ParseWithLength((const char *)sqlite3_column_text(st, 0),
                                        (size_t)sqlite3_column_bytes(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? vrm_error(ENOENT, "no vendor %s", name)
                                 : vrm_vault_sqlerr(v, "database");
    if (t->body == NULL)
        return vrm_error(EUCLEAN, "vendor %s holds unreadable JSON", name);
    keys = cJSON_GetObjectItemCaseSensitive(t->body, "keys");
    x = cJSON_GetObjectItemCaseSensitive(keys, "x25519");
    ed = cJSON_GetObjectItemCaseSensitive(keys, "ed25519");
    ep = cJSON_GetObjectItemCaseSensitive(t->body, "endpoint");
    ai = cJSON_GetObjectItemCaseSensitive(t->body, "accepts_intents");
    t->accepts_intents = cJSON_IsTrue(ai);
    if (!cJSON_IsString(x) || vrm_b64url_decode(t->x25519, sizeof t->x25519, x->valuestring) != 0)
        return vrm_error(EINVAL, "vendor %s has no keys.x25519 in vendor.json: messages to it "
                         "cannot be sealed", name);
    if (!cJSON_IsString(ep) || vrm_transport_kind(ep->valuestring) == NULL)
        return vrm_error(EINVAL, "vendor %s has no endpoint in vendor.json: messages to it "
                         "cannot be delivered", name);
    t->endpoint = ep->valuestring;
    if (cJSON_IsString(ed)) {
        uint8_t pk[32], h[32];

        if (vrm_b64url_decode(pk, sizeof pk, ed->valuestring) == 0 &&
            crypto_generichash(h, sizeof h, pk, sizeof pk, NULL, 0) == 0 &&
            vrm_b64url_encode(t->to, sizeof t->to, h, 16) == 0)
            return 0;
    }
    snprintf(t->to, sizeof t->to, "%s", name);
    return 0;
}

static void target_free(target *t)
{
    cJSON_Delete(t->body);
    t->body = NULL;
}

/* ---- checking what the person wrote -------------------------------------- */

static int check_text(const cJSON *item, const char *key, int required)
{
    if (item == NULL)
        return required ? vrm_error(EINVAL, "message: \"%s\" is required", key) : 0;
    if (!cJSON_IsString(item) || item->valuestring[0] == '\0' ||
        strlen(item->valuestring) > TEXT_MAX)
        return vrm_error(EINVAL, "message: \"%s\" must be a non-empty string of at most %d "
                         "bytes", key, TEXT_MAX);
    return 0;
}

static int check_budget(const cJSON *b)
{
    const cJSON *item;

    if (b == NULL || cJSON_IsNumber(b))
        return 0;
    if (!cJSON_IsObject(b))
        return vrm_error(EINVAL, "message: \"budget\" must be a number or {\"amount\": NUMBER, "
                         "\"currency\": TEXT}");
    cJSON_ArrayForEach(item, b) {
        if (strcmp(item->string, "amount") == 0 && cJSON_IsNumber(item))
            continue;
        if (strcmp(item->string, "currency") == 0 && cJSON_IsString(item))
            continue;
        return vrm_error(EINVAL, "message: \"budget\" must be a number or {\"amount\": NUMBER, "
                         "\"currency\": TEXT}");
    }
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(b, "amount")))
        return vrm_error(EINVAL, "message: \"budget\" needs an \"amount\"");
    return 0;
}

/* Only the keys in `allowed` (NULL-terminated) besides "kind". */
static int check_keys(const cJSON *msg, const char *kind, const char *const *allowed)
{
    const cJSON *item;
    size_t i;

    cJSON_ArrayForEach(item, msg) {
        if (strcmp(item->string, "kind") == 0)
            continue;
        for (i = 0; allowed[i] != NULL && strcmp(allowed[i], item->string) != 0; i++)
            ;
        if (allowed[i] == NULL)
            return vrm_error(EINVAL, "message: unknown key \"%.64s\" in a %s", item->string,
                             kind);
    }
    return 0;
}

/* The parsed field paths of a disclose, checked against the vault.  Locked. */
typedef struct paths {
    vrm_fieldpath **p;
    size_t n;
} paths;

static void paths_free(paths *ps)
{
    size_t i;

    for (i = 0; i < ps->n; i++)
        vrm_fieldpath_free(ps->p[i]);
    free(ps->p);
    ps->p = NULL;
    ps->n = 0;
}

static int paths_parse(vrm_vault *v, const cJSON *fields, paths *ps)
{
    const cJSON *f;
    int rc;

    ps->p = NULL;
    ps->n = 0;
    if (!cJSON_IsArray(fields) || cJSON_GetArraySize(fields) == 0)
        return vrm_error(EINVAL, "message: a disclose needs \"fields\", a non-empty list of "
                         "field paths");
    cJSON_ArrayForEach(f, fields) {
        vrm_fieldpath *p = NULL, **grown;

        if (!cJSON_IsString(f))
            return vrm_error(EINVAL, "message: \"fields\" holds field paths (strings)");
        rc = vrm_fieldpath_parse(f->valuestring, &p);
        if (rc != 0)
            return vrm_error(-rc, "message: %s", vrm_error_message());
        if (vrm_fieldpath_is_analytics(p)) {
            vrm_fieldpath_free(p);
            return vrm_error(EINVAL, "message: \"%.200s\": analytics cannot be disclosed "
                             "yet", f->valuestring);
        }
        rc = vrm_coll_exists_locked(v, vrm_fieldpath_root(p));
        if (rc == 0)
            rc = vrm_error(EINVAL, "message: \"%.200s\": no collection %s in the vault",
                           f->valuestring, vrm_fieldpath_root(p));
        if (rc < 0) {
            vrm_fieldpath_free(p);
            return rc;
        }
        grown = realloc(ps->p, (ps->n + 1) * sizeof *grown);
        if (grown == NULL) {
            vrm_fieldpath_free(p);
            return -ENOMEM;
        }
        ps->p = grown;
        ps->p[ps->n++] = p;
    }
    return 0;
}

/* {COLL: {NAME: projection}} of every record the paths grant something of. */
static int disclose_records(vrm_vault *v, const paths *ps, cJSON **out)
{
    cJSON *all = cJSON_CreateObject();
    size_t i, j;
    int rc = all == NULL ? -ENOMEM : 0;

    for (i = 0; rc == 0 && i < ps->n; i++) {
        const char *coll = vrm_fieldpath_root(ps->p[i]);
        sqlite3_stmt *st;
        cJSON *c;

        for (j = 0; j < i && strcmp(vrm_fieldpath_root(ps->p[j]), coll) != 0; j++)
            ;
        if (j < i)
            continue;   /* done with this collection */
        c = cJSON_AddObjectToObject(all, coll);
        if (c == NULL) {
            rc = -ENOMEM;
            break;
        }
        rc = vrm_vault_stmt(v, "SELECT name, body FROM records WHERE collection = ?1 "
                               "ORDER BY name", &st);
        if (rc != 0)
            break;
        sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
        while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
            cJSON *rec = cJSON_ParseWithLength((const char *)sqlite3_column_text(st, 1),
                                               (size_t)sqlite3_column_bytes(st, 1));
            cJSON *p = NULL;

            if (rec == NULL) {
                rc = vrm_error(EUCLEAN, "a record of %s holds unreadable JSON", coll);
                break;
            }
            rc = vrm_fieldpath_project((const vrm_fieldpath *const *)ps->p, ps->n, coll, rec,
                                       &p);
            cJSON_Delete(rec);
            if (rc == 0 && p != NULL &&
                !cJSON_AddItemToObject(c, (const char *)sqlite3_column_text(st, 0), p)) {
                cJSON_Delete(p);
                rc = -ENOMEM;
            }
        }
        sqlite3_reset(st);
    }
    if (rc != 0) {
        cJSON_Delete(all);
        return rc;
    }
    *out = all;
    return 0;
}

/* ---- the names of outbox/ ------------------------------------------------ */

int vrm_outbox_broadcast(const char *vendor)
{
    return strcmp(vendor, VRM_OUTBOX_ALL) == 0;
}

int vrm_outbox_pending_id(const char *file, char id[VRM_OUTBOX_ID_SIZE])
{
    size_t n = strlen(file), s = strlen(VRM_OUTBOX_PENDING_SUFFIX);

    if (n <= s || n - s >= VRM_OUTBOX_ID_SIZE ||
        strcmp(file + n - s, VRM_OUTBOX_PENDING_SUFFIX) != 0)
        return -ENOENT;
    memcpy(id, file, n - s);
    id[n - s] = '\0';
    return 0;
}

int vrm_outbox_pending_file(const char *id, char *out, size_t size)
{
    int n = snprintf(out, size, "%s%s", id, VRM_OUTBOX_PENDING_SUFFIX);

    return n >= 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

int vrm_outbox_file_valid(const char *file)
{
    char id[VRM_OUTBOX_ID_SIZE];
    size_t n = strlen(file);

    if (vrm_outbox_pending_id(file, id) == 0)
        return vrm_error(EEXIST, "%s names a queued message", file);
    if (file[0] == '.' || n <= 5 || strcmp(file + n - 5, ".json") != 0)
        return vrm_error(EACCES, "a message is written as a NAME.json file");
    return 0;
}

/* ---- queueing ------------------------------------------------------------ */

/* Build, sign, seal and insert one message to `t` with `kind` and `body`
 * (taken over).  Locked, in a transaction.  `id` is given or made. */
static int enqueue(vrm_vault *v, const target *t, const char *kind, cJSON *body,
                   const char *given_id, char id_out[VRM_MESSAGE_ID_LEN + 1])
{
    vrm_identity *ident = NULL;
    cJSON *payload = cJSON_CreateObject(), *terms;
    char id[VRM_MESSAGE_ID_LEN + 1], created[32], *text = NULL;
    uint8_t *wire = NULL;
    size_t tlen, wlen;
    int64_t now = vrm_now_ns();
    sqlite3_stmt *st;
    int rc;

    if (payload == NULL) {
        cJSON_Delete(body);
        return -ENOMEM;
    }
    if (given_id != NULL)
        snprintf(id, sizeof id, "%s", given_id);
    else if ((rc = new_id(id)) != 0)
        goto out;
    vrm_rfc3339_format(now, created);
    rc = vrm_identity_derive(v, t->name, &ident);
    if (rc != 0)
        goto out;
    terms = cJSON_GetObjectItemCaseSensitive(t->body, "terms");
    if (cJSON_AddNumberToObject(payload, "v", 1) == NULL ||
        cJSON_AddStringToObject(payload, "id", id) == NULL ||
        cJSON_AddStringToObject(payload, "kind", kind) == NULL ||
        cJSON_AddStringToObject(payload, "from", vrm_identity_id(ident)) == NULL ||
        cJSON_AddStringToObject(payload, "to", t->to) == NULL ||
        cJSON_AddStringToObject(payload, "created", created) == NULL ||
        !cJSON_AddItemToObject(payload, "terms", cJSON_IsString(terms)
                                                     ? cJSON_CreateString(terms->valuestring)
                                                     : cJSON_CreateNull())) {
        rc = -ENOMEM;
        goto out;
    }
    if (!cJSON_AddItemToObject(payload, "body", body)) {
        rc = -ENOMEM;
        goto out;
    }
    body = NULL;
    rc = vrm_json_compact(payload, &text, &tlen);
    if (rc == 0)
        rc = vrm_envelope_seal(ident, t->x25519, text, tlen, &wire, &wlen);
    if (rc == 0)
        rc = vrm_vault_stmt(v, "INSERT INTO messages(id, vendor, kind, payload, wire, created, "
                               "state, next_try, endpoint) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?6, ?7)", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, text, (int)tlen, SQLITE_STATIC);
        sqlite3_bind_blob(st, 5, wire, (int)wlen, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, now);
        sqlite3_bind_text(st, 7, t->endpoint, -1, SQLITE_STATIC);
        rc = vrm_vault_run(v, st);
    }
    if (rc == 0 && id_out != NULL)
        memcpy(id_out, id, sizeof id);
out:
    free(wire);
    free(text);
    vrm_identity_free(ident);
    cJSON_Delete(payload);
    cJSON_Delete(body);
    return rc;
}

/* The "disclose" consent receipt: the grants in force plus this disclosure. */
static int disclose_receipt(vrm_vault *v, const target *t, const cJSON *msg, const char *id)
{
    cJSON *force = NULL, *g, *item;
    char when[32];
    int64_t now = vrm_now_ns();
    int rc = vrm_grants_in_force_locked(v, t->name, now, &force);

    if (rc != 0)
        return rc;
    vrm_rfc3339_format(now, when);
    g = cJSON_CreateObject();
    item = cJSON_GetObjectItemCaseSensitive(msg, "purpose");
    if (g == NULL || !cJSON_AddItemToArray(force, g) ||
        !cJSON_AddItemToObject(g, "fields",
                               cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(msg, "fields"),
                                               1)) ||
        cJSON_AddStringToObject(g, "purpose", cJSON_IsString(item) ? item->valuestring
                                                                   : "one-time disclosure") ==
            NULL ||
        cJSON_AddStringToObject(g, "until", when) == NULL ||
        cJSON_AddStringToObject(g, "message", id) == NULL) {
        cJSON_Delete(force);
        return -ENOMEM;
    }
    rc = vrm_receipt_append_locked(v, t->name, t->body, force, "disclose", now / 1000000000,
                                   NULL);
    cJSON_Delete(force);
    return rc;
}

/* The body of the message `msg` of kind `kind` (checked).  Locked. */
static int make_body(vrm_vault *v, const cJSON *msg, const char *kind, cJSON **body)
{
    static const char *const disclose_keys[] = {"fields", "purpose", NULL};
    static const char *const intent_keys[] = {"text", "category", "budget", "until", NULL};
    static const char *const note_keys[] = {"text", NULL};
    const cJSON *item;
    paths ps = VRM_NAMES_INIT;
    int64_t t;
    int rc;

    *body = NULL;
    if (strcmp(kind, "disclose") == 0) {
        cJSON *records = NULL, *b;

        rc = check_keys(msg, kind, disclose_keys);
        if (rc == 0)
            rc = check_text(cJSON_GetObjectItemCaseSensitive(msg, "purpose"), "purpose", 0);
        if (rc == 0)
            rc = paths_parse(v, cJSON_GetObjectItemCaseSensitive(msg, "fields"), &ps);
        if (rc == 0)
            rc = disclose_records(v, &ps, &records);
        paths_free(&ps);
        if (rc != 0)
            return rc;
        b = cJSON_CreateObject();
        item = cJSON_GetObjectItemCaseSensitive(msg, "purpose");
        if (b == NULL ||
            (item != NULL && !cJSON_AddItemToObject(b, "purpose", cJSON_Duplicate(item, 1))) ||
            !cJSON_AddItemToObject(b, "fields",
                                   cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(msg, "fields"),
                                                   1)) ||
            !cJSON_AddItemToObject(b, "records", records)) {
            cJSON_Delete(b);
            cJSON_Delete(records);
            return -ENOMEM;
        }
        *body = b;
        return 0;
    }
    if (strcmp(kind, "intent") == 0) {
        rc = check_keys(msg, kind, intent_keys);
        if (rc == 0)
            rc = check_text(cJSON_GetObjectItemCaseSensitive(msg, "text"), "text", 1);
        if (rc == 0)
            rc = check_text(cJSON_GetObjectItemCaseSensitive(msg, "category"), "category", 0);
        if (rc == 0)
            rc = check_budget(cJSON_GetObjectItemCaseSensitive(msg, "budget"));
        item = cJSON_GetObjectItemCaseSensitive(msg, "until");
        if (rc == 0 && item != NULL &&
            (!cJSON_IsString(item) || vrm_rfc3339_parse(item->valuestring, &t) != 0))
            rc = vrm_error(EINVAL, "message: \"until\" must be an RFC 3339 time "
                           "(2027-06-30T00:00:00Z)");
    } else if (strcmp(kind, "note") == 0) {
        rc = check_keys(msg, kind, note_keys);
        if (rc == 0)
            rc = check_text(cJSON_GetObjectItemCaseSensitive(msg, "text"), "text", 1);
    } else {
        return vrm_error(EINVAL, "message: unknown kind \"%.32s\" (disclose, intent or note)",
                         kind);
    }
    if (rc != 0)
        return rc;
    *body = cJSON_Duplicate(msg, 1);
    if (*body == NULL)
        return -ENOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(*body, "kind");
    return 0;
}


static int vendor_names_locked(vrm_vault *v, vrm_names *out)
{
    sqlite3_stmt *st;
    int rc = vrm_vault_stmt(v, "SELECT name FROM vendors ORDER BY name", &st);

    out->names = NULL;
    out->n = 0;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
        rc = vrm_names_add(out, (const char *)sqlite3_column_text(st, 0));
    if (st != NULL)
        sqlite3_reset(st);
    return rc;
}

int vrm_outbox_submit(vrm_vault *v, const char *vendor, const char *json, size_t len,
                      vrm_name_fn fn, void *ctx)
{
    cJSON *msg = NULL, *body = NULL;
    const cJSON *kind;
    char ids[1][VRM_MESSAGE_ID_LEN + 1];
    vrm_names queued = VRM_NAMES_INIT, vendors = VRM_NAMES_INIT;
    int broadcast = vrm_outbox_broadcast(vendor), rc, count = 0;
    size_t i;

    rc = vrm_json_parse_object(json, len, &msg);
    if (rc != 0)
        return vrm_error(-rc, "message: %s", vrm_error_message());
    kind = cJSON_GetObjectItemCaseSensitive(msg, "kind");
    if (!cJSON_IsString(kind)) {
        cJSON_Delete(msg);
        return vrm_error(EINVAL, "message: \"kind\" (disclose, intent or note) is required");
    }
    if (broadcast && strcmp(kind->valuestring, "intent") != 0) {
        cJSON_Delete(msg);
        return vrm_error(EINVAL, "message: only an intent can go to all vendors (outbox/all)");
    }
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto unlock;
    rc = make_body(v, msg, kind->valuestring, &body);
    if (rc == 0 && broadcast)
        rc = vendor_names_locked(v, &vendors);
    else if (rc == 0)
        rc = vrm_names_add(&vendors, vendor);
    for (i = 0; rc == 0 && i < vendors.n; i++) {
        target t;
        cJSON *b;

        rc = target_load(v, vendors.names[i], &t);
        if (broadcast && (rc == -EINVAL || (rc == 0 && !t.accepts_intents))) {
            target_free(&t);
            rc = 0;
            continue;   /* not one that takes intents */
        }
        b = rc == 0 ? cJSON_Duplicate(body, 1) : NULL;
        if (rc == 0 && b == NULL)
            rc = -ENOMEM;
        if (rc == 0)
            rc = enqueue(v, &t, kind->valuestring, b, NULL, ids[0]);
        if (rc == 0 && strcmp(kind->valuestring, "disclose") == 0)
            rc = disclose_receipt(v, &t, msg, ids[0]);
        if (rc == 0)
            rc = vrm_names_add(&queued, ids[0]);
        target_free(&t);
        count += rc == 0;
    }
    if (rc == 0 && count == 0)
        rc = vrm_error(EINVAL, "message: no vendor accepts intents (\"accepts_intents\": true "
                       "in vendor.json, with keys and an endpoint)");
    rc = vrm_tx_finish(v, rc);
unlock:
    vrm_vault_unlock(v);
    for (i = 0; rc == 0 && fn != NULL && i < queued.n; i++)
        fn(ctx, queued.names[i]);
    vrm_names_release(&queued);
    vrm_names_release(&vendors);
    cJSON_Delete(body);
    cJSON_Delete(msg);
    return rc < 0 ? rc : count;
}

/* ---- pushed changes -------------------------------------------------------- */

typedef struct notify_set {
    char vendor[VRM_VENDOR_MAX + 1];
    paths ps;
} notify_set;

int vrm_outbox_record_changed_locked(vrm_vault *v, const char *coll, const char *name,
                                     const char *old_body, const char *new_body)
{
    notify_set *sets = NULL;
    size_t nsets = 0, i;
    sqlite3_stmt *st;
    cJSON *oldr = NULL, *newr = NULL;
    int64_t now = vrm_now_ns();
    int rc;

    /* grants in force that ask to be told (compact JSON: "notify":true) */
    rc = vrm_vault_stmt(v, "SELECT vendor, body FROM grants WHERE ended IS NULL AND "
                           "instr(body, '\"notify\":true') > 0 ORDER BY vendor, idx", &st);
    if (rc != 0)
        return rc;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *vendor = (const char *)sqlite3_column_text(st, 0);
        cJSON *g = cJSON_ParseWithLength((const char *)sqlite3_column_text(st, 1),
                                         (size_t)sqlite3_column_bytes(st, 1));
        const cJSON *until = cJSON_GetObjectItemCaseSensitive(g, "until"), *f;
        int64_t t;

        if (g == NULL || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "notify")) ||
            (cJSON_IsString(until) && vrm_rfc3339_parse(until->valuestring, &t) == 0 &&
             t <= now)) {
            cJSON_Delete(g);
            continue;
        }
        if (nsets == 0 || strcmp(sets[nsets - 1].vendor, vendor) != 0) {
            notify_set *grown = realloc(sets, (nsets + 1) * sizeof *grown);

            if (grown == NULL) {
                cJSON_Delete(g);
                rc = -ENOMEM;
                break;
            }
            sets = grown;
            memset(&sets[nsets], 0, sizeof sets[nsets]);
            snprintf(sets[nsets].vendor, sizeof sets[nsets].vendor, "%s", vendor);
            nsets++;
        }
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(g, "fields")) {
            vrm_fieldpath *p = NULL, **grown;
            paths *ps = &sets[nsets - 1].ps;

            if (!cJSON_IsString(f) || vrm_fieldpath_parse(f->valuestring, &p) != 0)
                continue;
            if (strcmp(vrm_fieldpath_root(p), coll) != 0) {
                vrm_fieldpath_free(p);
                continue;
            }
            grown = realloc(ps->p, (ps->n + 1) * sizeof *grown);
            if (grown == NULL) {
                vrm_fieldpath_free(p);
                rc = -ENOMEM;
                break;
            }
            ps->p = grown;
            ps->p[ps->n++] = p;
        }
        cJSON_Delete(g);
    }
    sqlite3_reset(st);
    if (rc == 0 && nsets > 0) {
        oldr = old_body != NULL ? cJSON_Parse(old_body) : NULL;
        newr = new_body != NULL ? cJSON_Parse(new_body) : NULL;
    }
    for (i = 0; rc == 0 && i < nsets; i++) {
        const paths *ps = &sets[i].ps;
        cJSON *a = NULL, *b = NULL, *body = NULL;
        target t;

        if (ps->n == 0)
            continue;
        if (oldr != NULL)
            rc = vrm_fieldpath_project((const vrm_fieldpath *const *)ps->p, ps->n, coll, oldr,
                                       &a);
        if (rc == 0 && newr != NULL)
            rc = vrm_fieldpath_project((const vrm_fieldpath *const *)ps->p, ps->n, coll, newr,
                                       &b);
        if (rc == 0 && (a != NULL || b != NULL) &&
            (a == NULL || b == NULL || !cJSON_Compare(a, b, 1))) {
            if (target_load(v, sets[i].vendor, &t) == 0) {
                body = cJSON_CreateObject();
                if (body == NULL || cJSON_AddStringToObject(body, "collection", coll) == NULL ||
                    cJSON_AddStringToObject(body, "record", name) == NULL ||
                    !cJSON_AddItemToObject(body, "values", b != NULL ? b : cJSON_CreateNull())) {
                    cJSON_Delete(body);
                    rc = -ENOMEM;
                } else {
                    b = NULL;
                    rc = enqueue(v, &t, "update", body, NULL, NULL);
                }
            }
            /* a vendor without keys or endpoint cannot be told: no update */
            target_free(&t);
        }
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    for (i = 0; i < nsets; i++)
        paths_free(&sets[i].ps);
    free(sets);
    cJSON_Delete(oldr);
    cJSON_Delete(newr);
    return rc;
}

/* ---- listing and status ---------------------------------------------------- */

int vrm_outbox_list(vrm_vault *v, const char *vendor, int sent, vrm_name_fn fn, void *ctx)
{
    vrm_names l = VRM_NAMES_INIT;
    sqlite3_stmt *st;
    size_t i;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT id FROM messages WHERE vendor = ?1 AND state = ?2 "
                           "ORDER BY created, id", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, sent ? 1 : 0);
        while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
            rc = vrm_names_add(&l, (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    /* called without the lock: fn may read the vault */
    for (i = 0; rc == 0 && i < l.n; i++)
        rc = fn(ctx, l.names[i]);
    vrm_names_release(&l);
    return rc;
}

int vrm_outbox_get(vrm_vault *v, const char *vendor, const char *id, int sent, char **out,
                   size_t *len, int64_t *time_ns)
{
    sqlite3_stmt *st;
    cJSON *payload = NULL, *doc = NULL;
    char when[32];
    int rc;

    *out = NULL;
    *len = 0;
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT payload, kind, created, attempts, last_error, next_try, "
                           "sent, transport FROM messages "
                           "WHERE vendor = ?1 AND id = ?2 AND state = ?3", &st);
    if (rc != 0)
        goto unlock;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, sent ? 1 : 0);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? vrm_error(ENOENT, "no %s message %s to %s",
                                           sent ? "sent" : "pending", id, vendor)
                               : vrm_vault_sqlerr(v, "database");
        sqlite3_reset(st);
        goto unlock;
    }
    rc = 0;
    payload = cJSON_ParseWithLength((const char *)sqlite3_column_text(st, 0),
                                    (size_t)sqlite3_column_bytes(st, 0));
    if (payload == NULL) {
        rc = vrm_error(EUCLEAN, "message %s holds unreadable JSON", id);
    } else if (sent) {
        int64_t t = sqlite3_column_int64(st, 6);

        vrm_rfc3339_format(t, when);
        if (time_ns != NULL)
            *time_ns = t;
        doc = payload;
        payload = NULL;
        if (cJSON_AddStringToObject(doc, "delivered", when) == NULL ||
            cJSON_AddStringToObject(doc, "transport",
                                    sqlite3_column_type(st, 7) == SQLITE_NULL
                                        ? "" : (const char *)sqlite3_column_text(st, 7)) ==
                NULL)
            rc = -ENOMEM;
    } else {
        int64_t created = sqlite3_column_int64(st, 2), next = sqlite3_column_int64(st, 5);
        char nextw[32];

        if (time_ns != NULL)
            *time_ns = created;
        vrm_rfc3339_format(created, when);
        vrm_rfc3339_format(next, nextw);
        doc = cJSON_CreateObject();
        if (doc == NULL || cJSON_AddStringToObject(doc, "id", id) == NULL ||
            cJSON_AddStringToObject(doc, "vendor", vendor) == NULL ||
            cJSON_AddStringToObject(doc, "kind", (const char *)sqlite3_column_text(st, 1)) ==
                NULL ||
            cJSON_AddStringToObject(doc, "created", when) == NULL ||
            cJSON_AddNumberToObject(doc, "attempts", (double)sqlite3_column_int64(st, 3)) ==
                NULL ||
            !cJSON_AddItemToObject(doc, "last_error",
                                   sqlite3_column_type(st, 4) == SQLITE_NULL
                                       ? cJSON_CreateNull()
                                       : cJSON_CreateString(
                                             (const char *)sqlite3_column_text(st, 4))) ||
            cJSON_AddStringToObject(doc, "next_try", nextw) == NULL ||
            !cJSON_AddItemToObject(doc, "payload", payload))
            rc = -ENOMEM;
        else
            payload = NULL;
    }
    sqlite3_reset(st);
    if (rc == 0)
        rc = vrm_json_pretty(doc, out, len);
unlock:
    vrm_vault_unlock(v);
    cJSON_Delete(payload);
    cJSON_Delete(doc);
    return rc;
}

int vrm_outbox_cancel(vrm_vault *v, const char *vendor, const char *id)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "DELETE FROM messages WHERE vendor = ?1 AND id = ?2 AND state = 0",
                        &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        rc = vrm_vault_run(v, st);
        if (rc == 0 && sqlite3_changes(vrm_vault_sqlite(v)) == 0)
            rc = vrm_error(ENOENT, "no pending message %s to %s", id, vendor);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_outbox_pending(vrm_vault *v, int64_t *pending, int64_t *failing)
{
    sqlite3_stmt *st;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT count(*), count(CASE WHEN attempts > 0 THEN 1 END) "
                           "FROM messages WHERE state = 0", &st);
    if (rc == 0) {
        rc = sqlite3_step(st) == SQLITE_ROW ? 0 : vrm_vault_sqlerr(v, "database");
        if (rc == 0) {
            *pending = sqlite3_column_int64(st, 0);
            *failing = sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc;
}

/* ---- delivery ---------------------------------------------------------------- */

typedef struct claim {
    char id[VRM_MESSAGE_ID_LEN + 1];
    char *endpoint;
    uint8_t *wire;
    size_t wlen;
    int64_t attempts;
} claim;

/* Claim the next due message: 1 (and *c filled), 0 if none is due, or a
 * negative errno.  *next_ns: when the next one is due. */
static int claim_next(vrm_vault *v, claim *c, int64_t *next_ns)
{
    sqlite3_stmt *st;
    int64_t now = vrm_now_ns();
    int rc, got = 0;

    memset(c, 0, sizeof *c);
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc != 0)
        goto unlock;
    rc = vrm_vault_stmt(v, "SELECT id, endpoint, wire, attempts, next_try FROM messages "
                           "WHERE state = 0 ORDER BY next_try LIMIT 1", &st);
    if (rc == 0) {
        int s = sqlite3_step(st);

        if (s == SQLITE_ROW && sqlite3_column_int64(st, 4) <= now) {
            const void *w = sqlite3_column_blob(st, 2);

            c->wlen = (size_t)sqlite3_column_bytes(st, 2);
            snprintf(c->id, sizeof c->id, "%s", (const char *)sqlite3_column_text(st, 0));
            c->endpoint = strdup((const char *)sqlite3_column_text(st, 1));
            c->wire = malloc(c->wlen ? c->wlen : 1);
            c->attempts = sqlite3_column_int64(st, 3);
            if (c->endpoint == NULL || c->wire == NULL)
                rc = -ENOMEM;
            else if (c->wlen > 0)
                memcpy(c->wire, w, c->wlen);
            got = rc == 0;
        } else if (s == SQLITE_ROW) {
            if (next_ns != NULL)
                *next_ns = sqlite3_column_int64(st, 4);
        } else if (s != SQLITE_DONE) {
            rc = vrm_vault_sqlerr(v, "database");
        }
        sqlite3_reset(st);
    }
    if (rc == 0 && got)
        rc = vrm_vault_stmt(v, "UPDATE messages SET next_try = ?2 WHERE id = ?1", &st);
    if (rc == 0 && got) {
        sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now + LEASE_NS);
        rc = vrm_vault_run(v, st);
    }
    rc = vrm_tx_finish(v, rc);
unlock:
    vrm_vault_unlock(v);
    if (rc != 0 || !got) {
        free(c->endpoint);
        free(c->wire);
        memset(c, 0, sizeof *c);
        return rc;
    }
    return 1;
}

static int64_t backoff_ns(int64_t attempts)
{
    int64_t d = BACKOFF_BASE_NS;
    uint32_t r = randombytes_uniform(501);   /* 0..500: -25%..+25% */

    while (attempts-- > 1 && d < BACKOFF_MAX_NS)
        d *= 2;
    if (d > BACKOFF_MAX_NS)
        d = BACKOFF_MAX_NS;
    return d + d * ((int64_t)r - 250) / 1000;
}

/* Record the outcome of trying `c`. */
static int settle(vrm_vault *v, const claim *c, int ok, const char *kind, const char *error)
{
    sqlite3_stmt *st;
    int64_t now = vrm_now_ns();
    int rc;

    vrm_vault_lock(v);
    if (ok)
        rc = vrm_vault_stmt(v, "UPDATE messages SET state = 1, sent = ?2, transport = ?3, "
                               "attempts = attempts + 1, last_error = NULL, wire = x'' "
                               "WHERE id = ?1 AND state = 0", &st);
    else
        rc = vrm_vault_stmt(v, "UPDATE messages SET attempts = attempts + 1, next_try = ?2, "
                               "last_error = ?3 WHERE id = ?1 AND state = 0", &st);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, ok ? now : now + backoff_ns(c->attempts + 1));
        sqlite3_bind_text(st, 3, ok ? kind : error, -1, SQLITE_STATIC);
        rc = vrm_vault_run(v, st);
    }
    vrm_vault_unlock(v);
    return rc;
}

int vrm_outbox_deliver(vrm_vault *v, int max, int64_t *next_ns)
{
    int tried = 0, rc = 0;

    if (next_ns != NULL)
        *next_ns = 0;
    while (tried < max) {
        char error[256] = "";
        const char *kind;
        claim c;
        int sent;

        rc = claim_next(v, &c, next_ns);
        if (rc <= 0)
            break;
        kind = vrm_transport_kind(c.endpoint);
        sent = vrm_transport_send(c.endpoint, c.id, c.wire, c.wlen, error, sizeof error) == 0;
        rc = settle(v, &c, sent, kind ? kind : "?", error[0] ? error : "failed");
        free(c.endpoint);
        free(c.wire);
        tried++;
        if (rc != 0)
            break;
    }
    return rc < 0 ? rc : tried;
}
