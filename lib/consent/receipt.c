/*
 * receipt.c: signed, chained consent receipts (Kantara CR v1.1 fields).
 *
 * Each receipt row keeps the JWS as signed and its payload (compact JSON)
 * for reading without decoding.  The chain: receipt N's payload names the
 * hex SHA-256 of receipt N-1's JWS text, so removing or rewriting one
 * breaks verification of the next.
 */
#include "consent/receipt.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/strbuf.h"
#include "consent/identity.h"
#include "base/json.h"
#include "consent/jws.h"
#include "store/vault_int.h"
#include "consent/receipt_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define HASH_HEX (crypto_hash_sha256_BYTES * 2 + 1)

/* Collections whose data is special-category (GDPR art. 9: health): diet
 * and activity records, and health data. */
static const char *const sensitive_colls[] = {"diet", "activity", "health", NULL};

static const char *const events[] = {"grant", "change", "revoke", "expire", "lapse", "disclose",
                                     NULL};

/* hex SHA-256 of text (as stored: no newline). */
static void hash_hex(char out[HASH_HEX], const char *text, size_t len)
{
    uint8_t h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, (const unsigned char *)text, len);
    sodium_bin2hex(out, HASH_HEX, h, sizeof h);
}

/* A random UUID (RFC 4122 version 4), lowercase 8-4-4-4-12. */
static void uuid_v4(char out[37])
{
    uint8_t b[16];

    randombytes_buf(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);   /* variant 10 */
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
             b[12], b[13], b[14], b[15]);
}

/* 1 if field path `path` reaches a sensitive collection (its collection is
 * the text before the first '.' or '['). */
static int path_sensitive(const char *path)
{
    size_t n = strcspn(path, ".[");
    int i;

    for (i = 0; sensitive_colls[i] != NULL; i++)
        if (strlen(sensitive_colls[i]) == n && strncmp(path, sensitive_colls[i], n) == 0)
            return 1;
    return 0;
}

/* A string member of obj, or `dflt` when absent or not a string. */
static const char *str_or(const cJSON *obj, const char *key, const char *dflt)
{
    const cJSON *it = obj != NULL ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

    return cJSON_IsString(it) ? it->valuestring : dflt;
}

/* Add one purpose for grant `g` to `purposes`; *sensitive set to 1 if one of
 * its paths reaches a sensitive collection.  -EINVAL for a grant without
 * fields (array of strings) or purpose (string). */
static int add_purpose(cJSON *purposes, const cJSON *g, int *sensitive)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(g, "fields");
    const cJSON *purpose = cJSON_GetObjectItemCaseSensitive(g, "purpose");
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(g, "until");
    const cJSON *f;
    cJSON *p, *cat, *pii;

    if (!cJSON_IsObject(g) || !cJSON_IsArray(fields) || !cJSON_IsString(purpose) ||
        (until != NULL && !cJSON_IsString(until)))
        return vrm_error(EINVAL, "receipt: a grant needs \"fields\" and \"purpose\"");
    p = cJSON_CreateObject();
    if (p == NULL)
        return -ENOMEM;
    cJSON_AddItemToArray(purposes, p);
    cat = cJSON_CreateArray();
    pii = cJSON_CreateArray();
    if (cJSON_AddStringToObject(p, "purpose", purpose->valuestring) == NULL || cat == NULL ||
        !cJSON_AddItemToObject(p, "purposeCategory", cat)) {
        cJSON_Delete(cat);
        cJSON_Delete(pii);
        return -ENOMEM;
    }
    if (!cJSON_AddItemToArray(cat, cJSON_CreateString(purpose->valuestring)) ||
        cJSON_AddStringToObject(p, "consentType", "EXPLICIT") == NULL || pii == NULL ||
        !cJSON_AddItemToObject(p, "piiCategory", pii)) {
        cJSON_Delete(pii);
        return -ENOMEM;
    }
    cJSON_ArrayForEach(f, fields) {
        if (!cJSON_IsString(f))
            return vrm_error(EINVAL, "receipt: a grant's fields must be strings");
        if (!cJSON_AddItemToArray(pii, cJSON_CreateString(f->valuestring)))
            return -ENOMEM;
        if (path_sensitive(f->valuestring))
            *sensitive = 1;
    }
    if (cJSON_AddTrueToObject(p, "primaryPurpose") == NULL ||
        cJSON_AddStringToObject(p, "termination", until != NULL ? until->valuestring
                                                                : "on revocation by the person") == NULL ||
        cJSON_AddFalseToObject(p, "thirdPartyDisclosure") == NULL ||
        cJSON_AddStringToObject(p, "thirdPartyName", "") == NULL)
        return -ENOMEM;
    return 0;
}

/* A copy of the grants in force as grants.json stores them: without the
 * annotations libvrm adds for itself (keys starting with '_', e.g. "_idx"). */
static cJSON *grants_as_stored(const cJSON *in_force)
{
    cJSON *out = cJSON_Duplicate(in_force, 1);
    cJSON *g;

    if (out == NULL)
        return NULL;
    cJSON_ArrayForEach(g, out) {
        cJSON *m = g->child;

        while (m != NULL) {
            cJSON *next = m->next;

            if (m->string != NULL && m->string[0] == '_')
                cJSON_Delete(cJSON_DetachItemViaPointer(g, m));
            m = next;
        }
    }
    return out;
}

/* Build receipt n's payload (compact, *out free()). */
static int build_payload(const vrm_identity *id, const char *vendor, const cJSON *vendor_body,
                         const cJSON *in_force, const char *event, int64_t now_s, int64_t n,
                         const char *prev_hash, char **out, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *ctrls, *ctrl, *services, *svc, *purposes, *spi, *grants;
    const cJSON *g;
    char uuid[37];
    int sensitive = 0, rc = -ENOMEM;

    *out = NULL;
    uuid_v4(uuid);
    if (root == NULL || cJSON_AddStringToObject(root, "version", "KI-CR-v1.1.0") == NULL ||
        cJSON_AddStringToObject(root, "jurisdiction", "EU") == NULL ||
        cJSON_AddNumberToObject(root, "consentTimestamp", (double)now_s) == NULL ||
        cJSON_AddStringToObject(root, "collectionMethod", "vrmfs grants.json") == NULL ||
        cJSON_AddStringToObject(root, "consentReceiptID", uuid) == NULL ||
        cJSON_AddStringToObject(root, "publicKey", vrm_identity_ed25519(id)) == NULL ||
        cJSON_AddStringToObject(root, "language", "en") == NULL ||
        cJSON_AddStringToObject(root, "piiPrincipalId", vrm_identity_id(id)) == NULL ||
        (ctrls = cJSON_AddArrayToObject(root, "piiControllers")) == NULL)
        goto out;
    ctrl = cJSON_CreateObject();
    if (ctrl == NULL || !cJSON_AddItemToArray(ctrls, ctrl)) {
        cJSON_Delete(ctrl);
        goto out;
    }
    if (cJSON_AddStringToObject(ctrl, "piiController", str_or(vendor_body, "name", vendor)) == NULL ||
        cJSON_AddStringToObject(ctrl, "contact", vendor) == NULL ||
        cJSON_AddStringToObject(ctrl, "address", str_or(vendor_body, "endpoint", "")) == NULL ||
        cJSON_AddStringToObject(ctrl, "email", "") == NULL ||
        cJSON_AddStringToObject(ctrl, "phone", "") == NULL ||
        cJSON_AddStringToObject(ctrl, "piiControllerUrl", "") == NULL ||
        cJSON_AddStringToObject(root, "policyUrl", str_or(vendor_body, "terms", "")) == NULL ||
        (services = cJSON_AddArrayToObject(root, "services")) == NULL)
        goto out;
    svc = cJSON_CreateObject();
    if (svc == NULL || !cJSON_AddItemToArray(services, svc)) {
        cJSON_Delete(svc);
        goto out;
    }
    if (cJSON_AddStringToObject(svc, "service", vendor) == NULL ||
        (purposes = cJSON_AddArrayToObject(svc, "purposes")) == NULL)
        goto out;
    cJSON_ArrayForEach(g, in_force) {
        rc = add_purpose(purposes, g, &sensitive);
        if (rc != 0)
            goto out;
    }
    rc = -ENOMEM;
    if (cJSON_AddBoolToObject(root, "sensitive", sensitive) == NULL ||
        (spi = cJSON_AddArrayToObject(root, "spiCat")) == NULL ||
        (sensitive && !cJSON_AddItemToArray(spi, cJSON_CreateString("health"))) ||
        cJSON_AddStringToObject(root, "event", event) == NULL ||
        cJSON_AddNumberToObject(root, "receiptNumber", (double)n) == NULL ||
        (prev_hash != NULL ? cJSON_AddStringToObject(root, "previousReceipt", prev_hash)
                           : cJSON_AddNullToObject(root, "previousReceipt")) == NULL)
        goto out;
    grants = grants_as_stored(in_force);
    if (grants == NULL || !cJSON_AddItemToObject(root, "grants", grants)) {
        cJSON_Delete(grants);
        goto out;
    }
    rc = vrm_json_compact(root, out, len);
out:
    cJSON_Delete(root);
    return rc;
}

int vrm_receipt_append_locked(vrm_vault *v, const char *vendor, const cJSON *vendor_body,
                              const cJSON *in_force, const char *event, int64_t now_s,
                              int64_t *n)
{
    vrm_identity *id = NULL;
    sqlite3_stmt *st;
    cJSON *empty = NULL;
    char prev[HASH_HEX], *payload = NULL, *jws = NULL;
    size_t plen = 0;
    int64_t next = 1;
    int have_prev = 0, i, rc;

    for (i = 0; events[i] != NULL && strcmp(events[i], event) != 0; i++)
        ;
    if (events[i] == NULL)
        return vrm_error(EINVAL, "receipt: unknown event \"%.32s\"", event);
    if (vendor_body != NULL && !cJSON_IsObject(vendor_body))
        return vrm_error(EINVAL, "receipt: vendor.json must be an object");
    if (in_force == NULL) {
        in_force = empty = cJSON_CreateArray();
        if (empty == NULL)
            return -ENOMEM;
    } else if (!cJSON_IsArray(in_force)) {
        return vrm_error(EINVAL, "receipt: the grants in force must be an array");
    }
    rc = vrm_identity_derive(v, vendor, &id);
    if (rc != 0)
        goto out;
    rc = vrm_vault_stmt(v, "SELECT n, jws FROM receipts WHERE vendor = ?1 "
                           "ORDER BY n DESC LIMIT 1", &st);
    if (rc != 0)
        goto out;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *last = (const char *)sqlite3_column_text(st, 1);

        next = sqlite3_column_int64(st, 0) + 1;
        if (last != NULL) {
            hash_hex(prev, last, (size_t)sqlite3_column_bytes(st, 1));
            have_prev = 1;
        }
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = vrm_vault_sqlerr(v, "database");
        goto out;
    }
    rc = build_payload(id, vendor, vendor_body, in_force, event, now_s, next,
                       have_prev ? prev : NULL, &payload, &plen);
    if (rc != 0)
        goto out;
    rc = vrm_jws_sign(id, "JWT", payload, plen, &jws);
    if (rc != 0)
        goto out;
    rc = vrm_vault_stmt(v, "INSERT INTO receipts(vendor, n, jws, payload, created) "
                           "VALUES (?1, ?2, ?3, ?4, ?5)", &st);
    if (rc != 0)
        goto out;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, next);
    sqlite3_bind_text(st, 3, jws, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, payload, (int)plen, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, vrm_now_ns());
    rc = vrm_vault_run(v, st);
    if (rc == 0 && n != NULL)
        *n = next;
out:
    free(jws);
    free(payload);
    vrm_identity_free(id);
    cJSON_Delete(empty);
    return rc;
}

int vrm_receipt_list(vrm_vault *v, const char *vendor, vrm_receipt_fn fn, void *ctx)
{
    sqlite3_stmt *st;
    int64_t *ns = NULL;
    size_t count = 0, cap = 0, i;
    int rc;

    /* Numbers are collected first and fn runs without the mutex, so that it
     * may call back into libvrm (vrm_receipt_get). */
    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT n FROM receipts WHERE vendor = ?1 ORDER BY n", &st);
    if (rc != 0)
        goto unlock;
    sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (vrm_array_grow(&ns, &cap, count, sizeof *ns) != 0) {
            rc = -ENOMEM;
            break;
        }
        ns[count++] = sqlite3_column_int64(st, 0);
    }
    if (rc == SQLITE_DONE)
        rc = 0;
    else if (rc != -ENOMEM)
        rc = vrm_vault_sqlerr(v, "database");
    sqlite3_reset(st);
unlock:
    vrm_vault_unlock(v);
    for (i = 0; rc == 0 && i < count; i++)
        rc = fn(ctx, ns[i]);
    free(ns);
    return rc;
}

/* Step `sql` (?1: the vendor, ?2: the number) onto receipt n of `vendor`,
 * vault locked: 0 with *st on its row (reset it), or -ENOENT, or another
 * negative errno. */
static int receipt_row(vrm_vault *v, const char *sql, const char *vendor, int64_t n,
                       sqlite3_stmt **st)
{
    int rc = vrm_vault_stmt(v, sql, st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(*st, 1, vendor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(*st, 2, n);
    rc = sqlite3_step(*st);
    if (rc == SQLITE_ROW)
        return 0;
    rc = rc == SQLITE_DONE ? vrm_error(ENOENT, "no receipt %" PRId64 " of %s", n, vendor)
                           : vrm_vault_sqlerr(v, "database");
    sqlite3_reset(*st);
    return rc;
}

int vrm_receipt_get(vrm_vault *v, const char *vendor, int64_t n, int jws, char **out,
                    size_t *len)
{
    sqlite3_stmt *st;
    cJSON *obj = NULL;
    char *copy = NULL;
    size_t clen = 0;
    int rc;

    *out = NULL;
    vrm_vault_lock(v);
    rc = receipt_row(v, "SELECT jws, payload FROM receipts WHERE vendor = ?1 AND n = ?2",
                     vendor, n, &st);
    if (rc == 0) {
        int col = jws ? 0 : 1;
        const char *text = (const char *)sqlite3_column_text(st, col);

        clen = (size_t)sqlite3_column_bytes(st, col);
        copy = text != NULL ? malloc(clen + 2) : NULL;
        if (copy == NULL) {
            rc = -ENOMEM;
        } else {
            memcpy(copy, text, clen);
            copy[clen] = '\0';
        }
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    if (rc != 0)
        goto out;
    if (jws) {
        copy[clen++] = '\n';
        copy[clen] = '\0';
        *out = copy;
        *len = clen;
        copy = NULL;
        goto out;
    }
    rc = vrm_json_parse_object(copy, clen, &obj);
    if (rc != 0) {
        rc = vrm_error(EBADMSG, "receipt %" PRId64 " of %s: the stored payload is not JSON",
                       n, vendor);
        goto out;
    }
    rc = vrm_json_pretty(obj, out, len);
out:
    cJSON_Delete(obj);
    free(copy);
    return rc;
}

int vrm_receipt_size(vrm_vault *v, const char *vendor, int64_t n, int jws, uint64_t *size)
{
    sqlite3_stmt *st;
    char *text = NULL;
    size_t len = 0;
    int rc;

    *size = 0;
    if (!jws) {
        rc = vrm_receipt_get(v, vendor, n, 0, &text, &len);
        free(text);
        if (rc == 0)
            *size = len;
        return rc;
    }
    vrm_vault_lock(v);
    /* length() of TEXT counts characters; the cast makes it count bytes */
    rc = receipt_row(v, "SELECT length(CAST(jws AS BLOB)) FROM receipts "
                        "WHERE vendor = ?1 AND n = ?2", vendor, n, &st);
    if (rc == 0) {
        *size = (uint64_t)sqlite3_column_int64(st, 0) + 1;   /* and the newline */
        sqlite3_reset(st);
    }
    vrm_vault_unlock(v);
    return rc;
}

/* Check one receipt row of `vendor` against what the chain expects: number
 * `n`, previous JWS hash `prev` (NULL for the first), signed by `id`. */
static int verify_one(const vrm_identity *id, const char *vendor, int64_t n,
                      const char *prev, const char *jws, const char *payload, size_t plen)
{
    cJSON *obj = NULL;
    const cJSON *num, *pr, *pk, *pid;
    char *signed_payload = NULL;
    size_t slen = 0;
    int rc;

    rc = vrm_jws_verify(jws, vrm_identity_sign_pk(id), &signed_payload, &slen);
    if (rc == -ENOMEM)
        goto out;
    if (rc != 0) {
        char why[256];

        snprintf(why, sizeof why, "%s", vrm_error_message());
        rc = vrm_error(EBADMSG, "receipt %s/%" PRId64 ": %s", vendor, n, why);
        goto out;
    }
    if (slen != plen || memcmp(signed_payload, payload, plen) != 0) {
        rc = vrm_error(EBADMSG, "receipt %s/%" PRId64 ": the stored payload is not the "
                       "signed one", vendor, n);
        goto out;
    }
    if (vrm_json_parse_object(signed_payload, slen, &obj) != 0) {
        rc = vrm_error(EBADMSG, "receipt %s/%" PRId64 ": the payload is not JSON", vendor, n);
        goto out;
    }
    num = cJSON_GetObjectItemCaseSensitive(obj, "receiptNumber");
    pr = cJSON_GetObjectItemCaseSensitive(obj, "previousReceipt");
    pk = cJSON_GetObjectItemCaseSensitive(obj, "publicKey");
    pid = cJSON_GetObjectItemCaseSensitive(obj, "piiPrincipalId");
    if (!cJSON_IsNumber(num) || num->valuedouble != (double)n) {
        rc = vrm_error(EBADMSG, "receipt %s/%" PRId64 ": receiptNumber does not match", vendor, n);
        goto out;
    }
    if (prev == NULL ? !cJSON_IsNull(pr)
                     : !cJSON_IsString(pr) || strcmp(pr->valuestring, prev) != 0) {
        rc = vrm_error(EBADMSG, "receipt %s/%" PRId64 ": previousReceipt does not name the "
                       "receipt before", vendor, n);
        goto out;
    }
    if (!cJSON_IsString(pk) || strcmp(pk->valuestring, vrm_identity_ed25519(id)) != 0 ||
        !cJSON_IsString(pid) || strcmp(pid->valuestring, vrm_identity_id(id)) != 0) {
        rc = vrm_error(EBADMSG, "receipt %s/%" PRId64 ": not the person's pairwise identity",
                       vendor, n);
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(obj);
    free(signed_payload);
    return rc;
}

int vrm_receipt_verify_all(vrm_vault *v)
{
    sqlite3_stmt *st = NULL;
    vrm_identity *id = NULL;
    char *vendor = NULL;
    char prev[HASH_HEX];
    int64_t expect = 0;
    int rc;

    vrm_vault_lock(v);
    rc = vrm_vault_stmt(v, "SELECT vendor, n, jws, payload FROM receipts ORDER BY vendor, n",
                        &st);
    if (rc != 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int64_t n = sqlite3_column_int64(st, 1);
        const char *jws = (const char *)sqlite3_column_text(st, 2);
        const char *payload = (const char *)sqlite3_column_text(st, 3);
        size_t jlen = (size_t)sqlite3_column_bytes(st, 2);
        size_t plen = (size_t)sqlite3_column_bytes(st, 3);

        if (name == NULL || jws == NULL || payload == NULL) {
            rc = vrm_error(EBADMSG, "receipts: a row without vendor, jws or payload");
            goto out;
        }
        if (vendor == NULL || strcmp(vendor, name) != 0) {
            free(vendor);
            vrm_identity_free(id);
            id = NULL;
            vendor = strdup(name);
            if (vendor == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            rc = vrm_identity_derive(v, vendor, &id);
            if (rc == -EINVAL)
                rc = vrm_error(EBADMSG, "receipts of \"%.64s\": not a vendor name", vendor);
            if (rc != 0)
                goto out;
            expect = 1;
        }
        if (n != expect) {
            rc = vrm_error(EBADMSG, "receipts of %s: %" PRId64 " where %" PRId64
                           " should be", vendor, n, expect);
            goto out;
        }
        rc = verify_one(id, vendor, n, n > 1 ? prev : NULL, jws, payload, plen);
        if (rc != 0)
            goto out;
        hash_hex(prev, jws, jlen);
        expect++;
    }
    rc = rc == SQLITE_DONE ? 0 : vrm_vault_sqlerr(v, "database");
out:
    if (st != NULL)
        sqlite3_reset(st);
    vrm_vault_unlock(v);
    vrm_identity_free(id);
    free(vendor);
    return rc;
}
