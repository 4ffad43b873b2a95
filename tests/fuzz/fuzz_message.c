/*
 * fuzz_message.c: incoming messages.
 *
 * The person's side takes a vendor's reply from the vault's spool
 * (VAULT/inbox/acme/new/FILE) with vrm_inbox_scan, as the daemon does once
 * a second: open the sealed box (envelope.h), check the JWS, then the
 * payload's shape.  The vendor's side (`vrmfs vendor open`) opens what the
 * person sent with vrm_envelope_vendor_open.  A mutated sealed box never
 * opens, so the first byte of the input says which layer the rest is, the
 * layers below it made here with fixed keys:
 *
 *   0  the wire bytes of a reply, as they land in the spool
 *   1  the JWS text of a reply; sealed here to the person's key (and,
 *      for the vendor's side, to the vendor's)
 *   2  the payload of a reply; signed and sealed here as the vendor does
 *      (vrm_envelope_vendor_seal)
 *   3  the wire bytes of a message to the vendor, opened as the vendor
 *
 * The vault (fixed randomness, fuzz.h) and the vendor key (a fixed seed)
 * are the same in every run, so the wire seeds stay valid; `replay_message
 * --seeds DIR` writes them.
 *
 * Checks: a spool file is always handled (kept or set aside with a
 * reason); a kept reply is a JSON object of kind "reply" addressed to the
 * person's pairwise id, the payload that was signed, under a signature
 * that verifies with the vendor's key; opening as the vendor is 0 or
 * -EBADMSG, and with the person's key pinned names that key as signer.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "consent/jws.h"
#include "base/names.h"
#include "store/vault_int.h"

static vrm_vault *v;
static char *vault_dir;
static vrm_identity *id;              /* the person's, for acme */
static vrm_vendor_keys *k;            /* acme's */
static uint8_t vendor_sk[crypto_sign_SECRETKEYBYTES], vendor_pk[crypto_sign_PUBLICKEYBYTES];
static uint8_t vendor_box_pk[crypto_box_PUBLICKEYBYTES];
static unsigned files;                /* spool files written */

static void make_dir(const char *name)
{
    char *p = NULL;

    if (asprintf(&p, "%s/%s", vault_dir, name) < 0 || (mkdir(p, 0700) != 0 && errno != EEXIST))
        abort();
    free(p);
}

/* acme's key files, from fixed seeds, loaded as `vrmfs vendor` does. */
static void vendor_keys(void)
{
    uint8_t box_sk[crypto_box_SECRETKEYBYTES], seed[crypto_sign_SEEDBYTES];
    char ed[128], x[64], text[512], *dir = fuzz_path("acme-keys"), *file;

    memset(seed, 0x5e, sizeof seed);
    memset(box_sk, 0xb0, sizeof box_sk);
    if (crypto_sign_seed_keypair(vendor_pk, vendor_sk, seed) != 0 ||
        vrm_b64url_encode(ed, sizeof ed, vendor_sk, sizeof vendor_sk) != 0 ||
        vrm_b64url_encode(x, sizeof x, box_sk, sizeof box_sk) != 0)
        abort();
    snprintf(text, sizeof text, "{\"ed25519_secret\": \"%s\", \"x25519_secret\": \"%s\"}\n",
             ed, x);
    if (mkdir(dir, 0700) != 0 || asprintf(&file, "%s/secret.json", dir) < 0)
        abort();
    fuzz_write(file, text, strlen(text));
    if (vrm_vendor_keys_load(dir, &k) != 0 ||
        vrm_b64url_decode(vendor_box_pk, sizeof vendor_box_pk, vrm_vendor_keys_x25519(k)) != 0)
        abort();
    free(file);
    free(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char body[512];

    (void)argc;
    (void)argv;
    if (v != NULL)
        return 0;                     /* --seeds calls it again */
    fuzz_fixed_random();
    vault_dir = fuzz_vault_create("vault", NULL);
    v = fuzz_vault_open(vault_dir);
    vendor_keys();
    snprintf(body, sizeof body, "{\"name\": \"Acme\", \"keys\": {\"ed25519\": \"%s\", "
             "\"x25519\": \"%s\"}}", vrm_vendor_keys_ed25519(k), vrm_vendor_keys_x25519(k));
    if (vrm_vendor_create(v, "acme") != 0 || vrm_vendor_put(v, "acme", body, strlen(body)) != 0 ||
        vrm_identity_derive(v, "acme", &id) != 0)
        abort();
    make_dir("inbox");
    make_dir("inbox/acme");
    make_dir("inbox/acme/tmp");
    make_dir("inbox/acme/new");
    return 0;
}

/* Seal bytes to an X25519 key, as a sender would: malloc'd, *wlen. */
static uint8_t *seal_to(const uint8_t pk[crypto_box_PUBLICKEYBYTES], const void *m, size_t n,
                        size_t *wlen)
{
    uint8_t *w = malloc(crypto_box_SEALBYTES + n);

    if (w == NULL || crypto_box_seal(w, m, n, pk) != 0)
        abort();
    *wlen = crypto_box_SEALBYTES + n;
    return w;
}

/* The vendor's side: open wire as acme, unpinned and pinned to the
 * person's key. */
static void vendor_opens(const uint8_t *wire, size_t wlen)
{
    char signer[VRM_ID_B64_MAX], *payload = NULL;
    size_t plen = 0;
    int rc;

    rc = vrm_envelope_vendor_open(k, NULL, wire, wlen, &payload, &plen, signer);
    FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
    FUZZ_CHECK((rc == 0) == (payload != NULL));
    FUZZ_CHECK(rc != 0 || strlen(payload) <= plen);
    free(payload);
    payload = NULL;
    rc = vrm_envelope_vendor_open(k, vrm_identity_sign_pk(id), wire, wlen, &payload, &plen,
                                  signer);
    FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
    if (rc == 0) {
        fuzz_accept();
        FUZZ_CHECK(strcmp(signer, vrm_identity_ed25519(id)) == 0);
    }
    free(payload);
}

/* The person's side: drop wire into acme's spool and scan.  1 if the reply
 * was kept, 0 if set aside; *payload: what was kept. */
static int person_takes(const uint8_t *wire, size_t wlen, cJSON **payload)
{
    char name[32], shown[64], *file = NULL, *rejected = NULL, *text = NULL;
    vrm_names ids = VRM_NAMES_INIT;
    const cJSON *item;
    struct stat st;
    size_t len = 0;
    int kept;

    *payload = NULL;
    snprintf(name, sizeof name, "%u.vrm", files++);
    snprintf(shown, sizeof shown, "acme.%s", name);
    if (asprintf(&file, "%s/inbox/acme/new/%s", vault_dir, name) < 0 ||
        asprintf(&rejected, "%s/inbox/.rejected/%s", vault_dir, shown) < 0)
        abort();
    fuzz_write(file, wire, wlen);
    FUZZ_CHECK(vrm_inbox_scan(v, vault_dir) == 1);
    FUZZ_CHECK(stat(file, &st) != 0);                   /* handled */
    kept = stat(rejected, &st) != 0;
    FUZZ_CHECK(vrm_inbox_list(v, "acme", vrm_names_add, &ids) == 0);
    if (kept) {
        FUZZ_CHECK(ids.n == 1);
        FUZZ_CHECK(vrm_inbox_get(v, "acme", ids.names[0], &text, &len, NULL) == 0);
        FUZZ_CHECK(vrm_json_parse_object(text, len, payload) == 0);
        item = cJSON_GetObjectItemCaseSensitive(*payload, "kind");
        FUZZ_CHECK(cJSON_IsString(item) && strcmp(item->valuestring, "reply") == 0);
        item = cJSON_GetObjectItemCaseSensitive(*payload, "to");
        FUZZ_CHECK(cJSON_IsString(item) && strcmp(item->valuestring, vrm_identity_id(id)) == 0);
        item = cJSON_GetObjectItemCaseSensitive(*payload, "id");
        FUZZ_CHECK(cJSON_IsString(item) && strcmp(item->valuestring, ids.names[0]) == 0);
        free(text);
    } else {
        FUZZ_CHECK(ids.n == 0);
        FUZZ_CHECK(vrm_inbox_rejected_get(v, shown, &text, &len, NULL) == 0);
        free(text);
        unlink(rejected);
    }
    vrm_names_release(&ids);
    /* forget it, so that every input meets the same vault */
    vrm_vault_lock(v);
    FUZZ_CHECK(vrm_vault_exec(v, "DELETE FROM inbox; DELETE FROM inbox_rejected") == 0);
    vrm_vault_unlock(v);
    free(rejected);
    free(file);
    return kept;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *wire = NULL, *to_vendor = NULL;
    cJSON *kept = NULL, *signed_payload = NULL;
    const uint8_t *rest;
    char *jws = NULL;
    size_t n, wlen = 0;

    if (size == 0)
        return 0;
    rest = data + 1;
    n = size - 1;
    switch (data[0] & 3) {
    case 0:
        if (person_takes(rest, n, &kept))
            fuzz_accept();
        break;
    case 1:
        jws = fuzz_strndup(rest, n);
        wire = seal_to(vrm_identity_box_pk(id), rest, n, &wlen);
        if (person_takes(wire, wlen, &kept)) {
            fuzz_accept();
            FUZZ_CHECK(vrm_jws_verify(jws, vendor_pk, NULL, NULL) == 0);
        }
        free(wire);
        wire = NULL;
        to_vendor = seal_to(vendor_box_pk, rest, n, &wlen);
        vendor_opens(to_vendor, wlen);
        break;
    case 2:
        FUZZ_CHECK(vrm_envelope_vendor_seal(k, vrm_identity_box_pk(id), (const char *)rest, n,
                                            &wire, &wlen) == 0);
        if (person_takes(wire, wlen, &kept)) {
            fuzz_accept();
            FUZZ_CHECK(vrm_json_parse_object((const char *)rest, n, &signed_payload) == 0);
            FUZZ_CHECK(cJSON_Compare(kept, signed_payload, 1));
        }
        break;
    case 3:
        vendor_opens(rest, n);
        break;
    }
    cJSON_Delete(signed_payload);
    cJSON_Delete(kept);
    free(to_vendor);
    free(wire);
    free(jws);
    return 0;
}

/* ---- seeds ------------------------------------------------------------------ */

static int seed(const char *dir, const char *name, int layer, const void *buf, size_t len)
{
    char *path = NULL;
    uint8_t *b = malloc(len + 1);

    if (b == NULL || asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    b[0] = (uint8_t)layer;
    memcpy(b + 1, buf, len);
    fuzz_write(path, b, len + 1);
    free(path);
    free(b);
    return 0;
}

/* A reply from acme; `change` (may be NULL) is "KEY=JSON" set over it, or
 * "-KEY" to leave KEY out. */
static char *reply(const char *change)
{
    cJSON *o = cJSON_CreateObject(), *body;
    char *text;
    size_t len;

    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "id", "r-1");
    cJSON_AddStringToObject(o, "kind", "reply");
    cJSON_AddStringToObject(o, "from", "Acme");
    cJSON_AddStringToObject(o, "to", vrm_identity_id(id));
    cJSON_AddStringToObject(o, "created", "2026-11-23T14:02:57Z");
    body = cJSON_AddObjectToObject(o, "body");
    cJSON_AddStringToObject(body, "text", "Your order ships Monday.");
    cJSON_AddNumberToObject(body, "eur", 799.5);
    if (change != NULL && change[0] == '-') {
        cJSON_DeleteItemFromObjectCaseSensitive(o, change + 1);
    } else if (change != NULL) {
        const char *eq = strchr(change, '=');
        char key[64];

        snprintf(key, sizeof key, "%.*s", (int)(eq - change), change);
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        cJSON_AddItemToObject(o, key, cJSON_Parse(eq + 1));
    }
    if (vrm_json_compact(o, &text, &len) != 0)
        abort();
    cJSON_Delete(o);
    return text;
}

int fuzz_seeds(const char *dir)
{
    static const struct {
        const char *name, *change;
    } payloads[] = {
        {"accept-payload", NULL},
        {"accept-payload-in-reply-to", "in_reply_to=\"m-7\""},
        {"accept-payload-body-null", "body=null"},
        {"payload-wrong-to", "to=\"AAAAAAAAAAAAAAAAAAAAAA\""},
        {"payload-kind-note", "kind=\"note\""},
        {"payload-no-body", "-body"},
        {"payload-v2", "v=2"},
        {"payload-bad-id", "id=\"a/b\""},
        {"payload-bad-created", "created=\"2026-02-30T00:00:00Z\""},
        {"payload-extra-key", "cc=\"x\""},
        {"payload-bad-in-reply-to", "in_reply_to=7"},
    };
    char *text, *jws;
    uint8_t *wire;
    size_t i, wlen;

    for (i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        text = reply(payloads[i].change);
        seed(dir, payloads[i].name, 2, text, strlen(text));
        free(text);
    }
    text = reply(NULL);
    /* the JWS layer: as acme signs, and variations of its header */
    if (vrm_jws_sign_key(vendor_sk, vrm_vendor_keys_kid(k), "vrm+jws", 1, text, strlen(text),
                         &jws) != 0)
        abort();
    seed(dir, "accept-jws", 1, jws, strlen(jws));
    free(jws);
    if (vrm_jws_sign_key(vendor_sk, vrm_vendor_keys_kid(k), "vrm+jws", 0, text, strlen(text),
                         &jws) != 0)
        abort();
    seed(dir, "accept-jws-no-jwk", 1, jws, strlen(jws));
    free(jws);
    if (vrm_jws_sign_key(vendor_sk, vrm_vendor_keys_kid(k), NULL, 1, text, strlen(text),
                         &jws) != 0)
        abort();
    seed(dir, "jws-no-typ", 1, jws, strlen(jws));
    free(jws);
    if (vrm_jws_sign_key(vendor_sk, vrm_identity_id(id), "vrm+jws", 1, text, strlen(text),
                         &jws) != 0)
        abort();
    seed(dir, "jws-wrong-kid", 1, jws, strlen(jws));
    free(jws);
    if (vrm_jws_sign_key(vrm_identity_sign_sk(id), vrm_identity_id(id), "vrm+jws", 1, text,
                         strlen(text), &jws) != 0)
        abort();
    seed(dir, "jws-signed-by-the-person", 1, jws, strlen(jws));   /* the vendor accepts it */
    free(jws);
    /* the wire */
    if (vrm_envelope_vendor_seal(k, vrm_identity_box_pk(id), text, strlen(text), &wire,
                                 &wlen) != 0)
        abort();
    seed(dir, "accept-wire", 0, wire, wlen);
    seed(dir, "wire-truncated", 0, wire, wlen - 7);
    free(wire);
    if (vrm_envelope_seal(id, vendor_box_pk, text, strlen(text), &wire, &wlen) != 0)
        abort();
    seed(dir, "accept-wire-to-vendor", 3, wire, wlen);
    seed(dir, "wire-to-vendor-given-to-the-person", 0, wire, wlen);
    free(wire);
    free(text);
    return 0;
}
