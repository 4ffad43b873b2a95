/*
 * fuzz_outbox.c: a message the person writes into outbox/VENDOR/ (or
 * outbox/all/): vrm_outbox_submit, which checks it, projects a disclose's
 * field paths onto the records, signs, seals and queues it.
 *
 * Input: the first byte chooses the folder (even: outbox/acme, odd:
 * outbox/all); the rest is the file.  The vault has the vendors acme (keys,
 * a dir: endpoint, accepts intents), bolt (likewise, but no intents) and
 * nokeys (neither), and records in profile and purchases.
 *
 * Checks: a count >= 1 or -EINVAL with a message; each queued message is
 * pending, of the kind written; a note's or intent's body is what was
 * written less "kind"; a disclose's body holds, for each record, what is
 * contained in that record; to all, only acme gets it.  The messages are
 * cancelled again, and every 1000 queued the vault is made anew (a
 * disclose writes a receipt).
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"

#define RESET_EVERY 1000

#define KEY "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik"   /* any 32 bytes */

static vrm_vault *v;
static unsigned queued_total;

static void put(const char *coll, const char *name, const char *json)
{
    if (vrm_record_put(v, coll, name, json, strlen(json), 0, NULL) != 0)
        abort();
}

static void vendor(const char *name, const char *json)
{
    if (vrm_vendor_create(v, name) != 0 || vrm_vendor_put(v, name, json, strlen(json)) != 0)
        abort();
}

/* A new vault, in place of the old one if any. */
static void make_vault(void)
{
    char acme[512], bolt[512], *spool = fuzz_path("spool");

    fuzz_vault_renew(&v, "vault");
    if (vrm_collection_create(v, "profile") != 0 || vrm_collection_create(v, "purchases") != 0)
        abort();
    put("profile", "me", "{\"name\": \"Ada\", \"email\": \"ada@example.org\", \"address\": "
        "{\"city\": \"Zürich\", \"zip\": \"8001\"}, \"tags\": [{\"t\": 1}, 2, [3]]}");
    put("purchases", "p1", "{\"merchant\": \"acme\", \"total\": 42, \"items\": "
        "[{\"sku\": \"x1\", \"q\": 2}, {\"sku\": \"x2\"}]}");
    put("purchases", "p2", "{\"merchant\": \"bolt\", \"total\": 7.5}");
    snprintf(acme, sizeof acme, "{\"name\": \"Acme\", \"keys\": {\"ed25519\": \"%s\", "
             "\"x25519\": \"%s\"}, \"endpoint\": \"dir:%s\", \"terms\": \"t-1\", "
             "\"accepts_intents\": true}", KEY, KEY, spool);
    snprintf(bolt, sizeof bolt, "{\"name\": \"Bolt\", \"keys\": {\"x25519\": \"%s\"}, "
             "\"endpoint\": \"dir:%s\"}", KEY, spool);
    vendor("acme", acme);
    vendor("bolt", bolt);
    vendor("nokeys", "{\"name\": \"No keys\", \"accepts_intents\": true}");
    free(spool);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_fixed_random();
    make_vault();
    return 0;
}

/* Check a disclose's body: "records" {COLL: {NAME: projection}}, each
 * contained in the record. */
static void check_disclosed(const cJSON *body)
{
    const cJSON *records = cJSON_GetObjectItemCaseSensitive(body, "records"), *coll, *rec;

    FUZZ_CHECK(cJSON_IsObject(records));
    FUZZ_CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(body, "fields")));
    cJSON_ArrayForEach(coll, records) {
        FUZZ_CHECK(cJSON_IsObject(coll));
        cJSON_ArrayForEach(rec, coll) {
            cJSON *whole = NULL;
            char *json = NULL;
            size_t len = 0;

            FUZZ_CHECK(vrm_record_get(v, coll->string, rec->string, &json, &len, NULL) == 0);
            FUZZ_CHECK(vrm_json_parse_object(json, len, &whole) == 0);
            FUZZ_CHECK(fuzz_json_contained(rec, whole));
            cJSON_Delete(whole);
            free(json);
        }
    }
}

/* Check the pending message `id` to `to` made from `msg`, and cancel it. */
static void check_queued(const char *to, const char *id, const cJSON *msg)
{
    const cJSON *payload, *kind = cJSON_GetObjectItemCaseSensitive(msg, "kind"), *item;
    cJSON *doc = NULL, *written;
    char *json = NULL;
    size_t len = 0;

    FUZZ_CHECK(vrm_outbox_get(v, to, id, 0, &json, &len, NULL) == 0);
    FUZZ_CHECK(vrm_json_parse_object(json, len, &doc) == 0);
    payload = cJSON_GetObjectItemCaseSensitive(doc, "payload");
    item = cJSON_GetObjectItemCaseSensitive(payload, "kind");
    FUZZ_CHECK(cJSON_IsString(item) && strcmp(item->valuestring, kind->valuestring) == 0);
    item = cJSON_GetObjectItemCaseSensitive(payload, "id");
    FUZZ_CHECK(cJSON_IsString(item) && strcmp(item->valuestring, id) == 0);
    item = cJSON_GetObjectItemCaseSensitive(payload, "body");
    if (strcmp(kind->valuestring, "disclose") == 0) {
        check_disclosed(item);
    } else {
        written = cJSON_Duplicate(msg, 1);
        FUZZ_CHECK(written != NULL);
        cJSON_DeleteItemFromObjectCaseSensitive(written, "kind");
        FUZZ_CHECK(cJSON_Compare(item, written, 1));
        cJSON_Delete(written);
    }
    FUZZ_CHECK(vrm_outbox_cancel(v, to, id) == 0);
    cJSON_Delete(doc);
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vrm_names ids = VRM_NAMES_INIT;
    const char *to, *text;
    cJSON *msg = NULL;
    size_t n, i;
    int rc;

    if (size == 0)
        return 0;
    to = data[0] & 1 ? "all" : "acme";
    text = (const char *)data + 1;
    n = size - 1;
    rc = vrm_outbox_submit(v, to, text, n, vrm_names_add, &ids);
    FUZZ_CHECK(rc >= 1 || rc == -EINVAL);
    if (rc < 0) {
        FUZZ_CHECK(vrm_error_message()[0] != '\0' && ids.n == 0);
        return 0;
    }
    fuzz_accept();
    FUZZ_CHECK(ids.n == (size_t)rc);
    FUZZ_CHECK(ids.n == 1);           /* of the three vendors, only acme takes it */
    FUZZ_CHECK(vrm_json_parse_object(text, n, &msg) == 0);
    for (i = 0; i < ids.n; i++)
        check_queued("acme", ids.names[i], msg);
    cJSON_Delete(msg);
    vrm_names_release(&ids);
    queued_total += (unsigned)rc;
    if (queued_total >= RESET_EVERY) {
        queued_total = 0;
        make_vault();
    }
    return 0;
}
