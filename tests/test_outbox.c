/*
 * test_outbox.c: the person's messages to vendors (outbox.h) and vendors'
 * replies (inbox.h), through libvrm's public API, with real transports and
 * the vendor's side of envelope.h playing the vendor.
 *
 * Each test makes a vault of its own with a vendor "acme" whose vendor.json
 * holds freshly generated keys, terms and a dir: endpoint (a maildir under
 * the test's temporary directory), and collections "profile" and
 * "purchases".  What is checked is what a person (or the vendor) would
 * look at: what is queued and listed, the JSON shown for a message, the
 * file that arrives at the vendor and what it opens to, receipts, replies
 * kept or set aside.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

/* ---- fixture and small helpers -------------------------------------------- */

typedef struct fixture {
    char *tmp;
    char *vault;                      /* the vault's directory */
    vrm_vault *v;
    vrm_vendor_keys *acme;            /* acme's own keys (the vendor's side) */
    char *spool;                      /* acme's maildir: endpoint "dir:" spool */
} fixture;

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* RFC 3339 UTC text of `ns` with milliseconds. */
static void fmt_time_ms(char *buf, size_t n, int64_t ns)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    int w;

    gmtime_r(&t, &tm);
    w = snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ns % 1000000000 / 1000000));
    assert_true(w > 0 && (size_t)w < n);
}

static void mkdir_p(const char *path)
{
    char buf[4096];
    size_t i, n = strlen(path);

    assert_true(n < sizeof buf);
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            fail_msg("mkdir %s: %s", buf, strerror(errno));
        buf[i] = i < n ? '/' : '\0';
    }
}

static char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));

static char *fmt(const char *format, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, format);
    n = vasprintf(&s, format, ap);
    va_end(ap);
    if (n < 0)
        fail_msg("out of memory");
    return s;
}

/* Write vendor.json of `name` (registered first if new): keys from `k` (the
 * ones asked for), endpoint, terms, accepts_intents (-1: left out). */
static void vendor_set(fixture *f, const char *name, const vrm_vendor_keys *k, int ed, int x,
                       const char *endpoint, const char *terms, int accepts)
{
    cJSON *o = cJSON_CreateObject();
    char *text;
    int rc;

    rc = vrm_vendor_exists(f->v, name);
    assert_true(rc >= 0);
    if (rc == 0)
        assert_int_equal(vrm_vendor_create(f->v, name), 0);
    cJSON_AddStringToObject(o, "name", name);
    if (k != NULL && (ed || x)) {
        cJSON *keys = cJSON_AddObjectToObject(o, "keys");

        if (ed)
            cJSON_AddStringToObject(keys, "ed25519", vrm_vendor_keys_ed25519(k));
        if (x)
            cJSON_AddStringToObject(keys, "x25519", vrm_vendor_keys_x25519(k));
    }
    if (endpoint != NULL)
        cJSON_AddStringToObject(o, "endpoint", endpoint);
    if (terms != NULL)
        cJSON_AddStringToObject(o, "terms", terms);
    if (accepts >= 0)
        cJSON_AddBoolToObject(o, "accepts_intents", accepts);
    text = cJSON_PrintUnformatted(o);
    rc = vrm_vendor_put(f->v, name, text, strlen(text));
    if (rc != 0)
        fail_msg("vendor_put %s %s: %d %s", name, text, rc, vrm_error_message());
    free(text);
    cJSON_Delete(o);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char *ep;

    f->tmp = tu_tempdir();
    f->vault = tu_make_vault(f->tmp, "vault");
    f->v = tu_open(f->vault);
    f->spool = tu_path(f->tmp, "acme-spool");
    mkdir_p(f->spool);
    assert_int_equal(vrm_vendor_keys_generate(&f->acme), 0);
    assert_int_equal(vrm_collection_create(f->v, "profile"), 0);
    assert_int_equal(vrm_collection_create(f->v, "purchases"), 0);
    ep = fmt("dir:%s", f->spool);
    vendor_set(f, "acme", f->acme, 1, 1, ep, "acme-terms-1", 1);
    free(ep);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    assert_int_equal(vrm_vault_close(f->v), 0);
    vrm_vendor_keys_free(f->acme);
    free(f->spool);
    free(f->vault);
    tu_cleanup(f->tmp);
    free(f);
    return 0;
}

static void put(vrm_vault *v, const char *coll, const char *name, const char *json)
{
    int rc = vrm_record_put(v, coll, name, json, strlen(json), 0, NULL);

    if (rc != 0)
        fail_msg("put %s/%s: %d %s", coll, name, rc, vrm_error_message());
}

static void gput_ok(vrm_vault *v, const char *vendor, const char *json)
{
    int64_t n = 0;
    int rc = vrm_grants_put(v, vendor, json, strlen(json), &n);

    if (rc != 0)
        fail_msg("grants_put %s %s: %d %s", vendor, json, rc, vrm_error_message());
}

/* 1 if the two texts are equal JSON (cJSON_Compare, case-sensitive). */
static int json_same(const char *a, const char *b)
{
    cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(b);
    int same = x != NULL && y != NULL && cJSON_Compare(x, y, 1);

    cJSON_Delete(x);
    cJSON_Delete(y);
    return same;
}

static void assert_json_item(const cJSON *got, const char *want)
{
    char *g = got != NULL ? cJSON_PrintUnformatted(got) : strdup("(none)");

    if (!json_same(g, want))
        fail_msg("JSON differs:\n got: %s\nwant: %s", g, want);
    free(g);
}

/* The object has exactly these keys (NULL-terminated), in any order. */
static void assert_keys(const cJSON *o, const char *const *keys)
{
    const cJSON *item;
    int n = 0, i;

    assert_true(cJSON_IsObject(o));
    for (i = 0; keys[i] != NULL; i++)
        if (cJSON_GetObjectItemCaseSensitive(o, keys[i]) == NULL)
            fail_msg("key \"%s\" missing", keys[i]);
    cJSON_ArrayForEach(item, o) {
        for (i = 0; keys[i] != NULL && strcmp(keys[i], item->string) != 0; i++)
            ;
        if (keys[i] == NULL)
            fail_msg("unexpected key \"%s\"", item->string);
        n++;
    }
    for (i = 0; keys[i] != NULL; i++)
        ;
    assert_int_equal(n, i);
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsString(item))
        fail_msg("\"%s\" is not a string", key);
    return item->valuestring;
}

/* ---- name lists ------------------------------------------------------------ */

typedef struct names {
    char **s;
    size_t n;
} names;

static int names_add(void *ctx, const char *name)
{
    names *l = ctx;

    l->s = realloc(l->s, (l->n + 1) * sizeof *l->s);
    assert_non_null(l->s);
    l->s[l->n] = strdup(name);
    assert_non_null(l->s[l->n]);
    l->n++;
    return 0;
}

static void names_free(names *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    l->s = NULL;
    l->n = 0;
}

static int names_has(const names *l, const char *name)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        if (strcmp(l->s[i], name) == 0)
            return 1;
    return 0;
}

/* The ids of vendor's pending (sent 0) or sent messages. */
static names outbox_ids(vrm_vault *v, const char *vendor, int sent)
{
    names l = {NULL, 0};
    int rc = vrm_outbox_list(v, vendor, sent, names_add, &l);

    if (rc != 0)
        fail_msg("outbox_list %s: %d %s", vendor, rc, vrm_error_message());
    return l;
}

static size_t outbox_count(vrm_vault *v, const char *vendor, int sent)
{
    names l = outbox_ids(v, vendor, sent);
    size_t n = l.n;

    names_free(&l);
    return n;
}

static size_t inbox_count(vrm_vault *v, const char *vendor)
{
    names l = {NULL, 0};
    size_t n;

    assert_int_equal(vrm_inbox_list(v, vendor, names_add, &l), 0);
    n = l.n;
    names_free(&l);
    return n;
}

/* ---- submitting and reading messages ------------------------------------------ */

typedef struct ids {
    char id[8][VRM_MESSAGE_ID_LEN + 1];
    int n;
    int bad_len;
} ids;

static int ids_add(void *ctx, const char *id)
{
    ids *l = ctx;

    if (strlen(id) != VRM_MESSAGE_ID_LEN)
        l->bad_len++;
    if (l->n < 8)
        snprintf(l->id[l->n], sizeof l->id[l->n], "%s", id);
    l->n++;
    return 0;
}

static int submit(vrm_vault *v, const char *vendor, const char *json, ids *got)
{
    return vrm_outbox_submit(v, vendor, json, strlen(json), ids_add, got);
}

/* Submit that must queue exactly one; its id in id[]. */
static void submit_one(vrm_vault *v, const char *vendor, const char *json,
                       char id[VRM_MESSAGE_ID_LEN + 1])
{
    ids got = {.n = 0};
    int rc = submit(v, vendor, json, &got);

    if (rc != 1)
        fail_msg("submit %s %s: %d %s", vendor, json, rc, vrm_error_message());
    assert_int_equal(got.n, 1);
    assert_int_equal(got.bad_len, 0);
    memcpy(id, got.id[0], VRM_MESSAGE_ID_LEN + 1);
}

/* The message as shown (vrm_outbox_get), parsed; NULL and *rc for an error. */
static cJSON *outbox_doc(vrm_vault *v, const char *vendor, const char *id, int sent, int *rcp,
                         int64_t *time_ns)
{
    char *out = NULL;
    size_t len = 0;
    cJSON *doc;
    int rc = vrm_outbox_get(v, vendor, id, sent, &out, &len, time_ns);

    if (rcp != NULL)
        *rcp = rc;
    if (rc != 0) {
        if (rcp == NULL)
            fail_msg("outbox_get %s/%s sent=%d: %d %s", vendor, id, sent, rc,
                     vrm_error_message());
        assert_null(out);
        return NULL;
    }
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    assert_true(len > 0 && out[len - 1] == '\n');
    doc = cJSON_Parse(out);
    free(out);
    assert_non_null(doc);
    return doc;
}

static cJSON *pending_doc(vrm_vault *v, const char *vendor, const char *id)
{
    return outbox_doc(v, vendor, id, 0, NULL, NULL);
}

/* Its payload (cJSON_Delete), detached from the pending document. */
static cJSON *pending_payload(vrm_vault *v, const char *vendor, const char *id)
{
    cJSON *doc = pending_doc(v, vendor, id);
    cJSON *p = cJSON_DetachItemFromObjectCaseSensitive(doc, "payload");

    cJSON_Delete(doc);
    assert_non_null(p);
    return p;
}

static const char *const payload_keys[] = {"v", "id", "kind", "from", "to", "created",
                                           "terms", "body", NULL};

/* The person's pairwise id for vendor. */
static void pairwise_id(vrm_vault *v, const char *vendor, char out[VRM_ID_B64_MAX])
{
    vrm_identity *id = NULL;

    assert_int_equal(vrm_identity_derive(v, vendor, &id), 0);
    snprintf(out, VRM_ID_B64_MAX, "%s", vrm_identity_id(id));
    vrm_identity_free(id);
}

/* The key id of an Ed25519 key given as base64url, computed here. */
static void key_id_of(const char *ed25519, char out[VRM_ID_B64_MAX])
{
    uint8_t pk[32], h[32];

    assert_int_equal(vrm_b64url_decode(pk, sizeof pk, ed25519), 0);
    assert_int_equal(crypto_generichash(h, sizeof h, pk, sizeof pk, NULL, 0), 0);
    assert_int_equal(vrm_b64url_encode(out, VRM_ID_B64_MAX, h, 16), 0);
}

/* A payload's envelope fields as queued for `vendor` now. */
static void assert_payload_head(vrm_vault *v, const cJSON *p, const char *vendor,
                                const char *id, const char *kind, const char *to,
                                const char *terms)
{
    char from[VRM_ID_B64_MAX];
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(p, "v");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "terms");
    int64_t created, now = wall_ns();

    assert_keys(p, payload_keys);
    assert_true(cJSON_IsNumber(ver) && ver->valuedouble == 1);
    assert_string_equal(str_of(p, "id"), id);
    assert_string_equal(str_of(p, "kind"), kind);
    pairwise_id(v, vendor, from);
    assert_string_equal(str_of(p, "from"), from);
    assert_string_equal(str_of(p, "to"), to);
    assert_int_equal(vrm_rfc3339_parse(str_of(p, "created"), &created), 0);
    assert_true(created > now - 60LL * 1000000000 && created <= now);
    if (terms == NULL)
        assert_true(cJSON_IsNull(t));
    else
        assert_string_equal(str_of(p, "terms"), terms);
}

/* Nothing is queued for anyone, in any state. */
static void assert_outbox_empty(vrm_vault *v)
{
    int64_t pending = -1, failing = -1;

    assert_int_equal(vrm_outbox_pending(v, &pending, &failing), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(failing, 0);
}

/* Deliver until nothing more is due; returns how many were tried. */
static int deliver_all(vrm_vault *v)
{
    int n = vrm_outbox_deliver(v, 100000, NULL);

    if (n < 0)
        fail_msg("deliver: %d %s", n, vrm_error_message());
    return n;
}

/* Read a whole file; NULL if it cannot be opened. */
static uint8_t *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    uint8_t *buf;

    *len = 0;
    if (fd < 0)
        return NULL;
    assert_int_equal(fstat(fd, &st), 0);
    buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

/* Open the file the vendor got as acme (checking the signer is the person's
 * pairwise key for acme); the payload parsed. */
static cJSON *vendor_opens(fixture *f, const char *path)
{
    vrm_identity *ident = NULL;
    char signer[VRM_ID_B64_MAX], *text = NULL;
    size_t wlen = 0, tlen = 0;
    uint8_t *wire = slurp(path, &wlen);
    cJSON *p;
    int rc;

    if (wire == NULL)
        fail_msg("%s: %s", path, strerror(errno));
    assert_int_equal(vrm_identity_derive(f->v, "acme", &ident), 0);
    rc = vrm_envelope_vendor_open(f->acme, vrm_identity_sign_pk(ident), wire, wlen, &text,
                                  &tlen, signer);
    if (rc != 0)
        fail_msg("vendor_open %s: %d %s", path, rc, vrm_error_message());
    assert_string_equal(signer, vrm_identity_ed25519(ident));
    assert_int_equal(strlen(text), tlen);
    p = cJSON_Parse(text);
    assert_non_null(p);
    free(text);
    free(wire);
    vrm_identity_free(ident);
    return p;
}

static char *spool_file(const fixture *f, const char *id)
{
    return fmt("%s/new/%s.vrm", f->spool, id);
}

static int file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* ---- the names of outbox/ ---------------------------------------------------- */

/* The names of outbox/: the folder that broadcasts, a pending message's
 * ID.pending.json both ways, and which new names are messages. */
static void test_names(void **state)
{
    static const char *const messages[] = {"order.json", "a.b.json", "all.json", "x y.json",
                                           "pending.json", "x.pending.json.json", NULL};
    static const char *const refused[] = {".order.json", ".json", "json", "order.json~",
                                          ".order.json.swp", "order.txt", "4913",
                                          ".pending.json", "order.JSON", NULL};
    fixture *f = *state;
    char id[VRM_OUTBOX_ID_SIZE], queued[VRM_MESSAGE_ID_LEN + 1], file[64];
    char longest[VRM_OUTBOX_ID_SIZE + 16];
    size_t i;

    assert_int_equal(vrm_outbox_broadcast(VRM_OUTBOX_ALL), 1);
    assert_string_equal(VRM_OUTBOX_ALL, "all");
    assert_int_equal(vrm_outbox_broadcast("acme"), 0);
    assert_int_equal(vrm_outbox_broadcast("All"), 0);
    assert_int_equal(vrm_outbox_broadcast(""), 0);
    assert_int_equal(vrm_outbox_broadcast("all "), 0);
    /* no vendor takes the name of the broadcast folder */
    assert_int_equal(vrm_vendor_name_valid(VRM_OUTBOX_ALL), -EINVAL);

    for (i = 0; messages[i] != NULL; i++)
        if (vrm_outbox_file_valid(messages[i]) != 0)
            fail_msg("%s: refused (%s)", messages[i], vrm_error_message());
    for (i = 0; refused[i] != NULL; i++) {
        if (vrm_outbox_file_valid(refused[i]) != -EACCES)
            fail_msg("%s: taken as a message", refused[i]);
        assert_string_equal(vrm_error_message(), "a message is written as a NAME.json file");
    }

    /* a queued message's name, both ways: it is taken, not written again */
    submit_one(f->v, "acme", "{\"kind\": \"note\", \"text\": \"hi\"}", queued);
    assert_int_equal(vrm_outbox_pending_file(queued, file, sizeof file), 0);
    assert_string_equal(file + VRM_MESSAGE_ID_LEN, VRM_OUTBOX_PENDING_SUFFIX);
    assert_int_equal(vrm_outbox_pending_id(file, id), 0);
    assert_string_equal(id, queued);
    assert_int_equal(vrm_outbox_file_valid(file), -EEXIST);
    assert_int_equal(vrm_outbox_cancel(f->v, "acme", id), 0);
    assert_int_equal(vrm_outbox_pending_file(queued, file, VRM_MESSAGE_ID_LEN + 13), -ENAMETOOLONG);
    assert_int_equal(vrm_outbox_pending_file(queued, file, VRM_MESSAGE_ID_LEN + 14), 0);

    /* an ID is 1 to VRM_OUTBOX_ID_SIZE - 1 bytes; a longer one names no
     * pending message, so that name is a new message */
    assert_int_equal(vrm_outbox_pending_id("x.pending.json", id), 0);
    assert_string_equal(id, "x");
    assert_int_equal(vrm_outbox_pending_id(".pending.json", id), -ENOENT);
    assert_int_equal(vrm_outbox_pending_id("x.json", id), -ENOENT);
    assert_int_equal(vrm_outbox_pending_id("x.pending.jsonx", id), -ENOENT);
    memset(longest, 'A', VRM_OUTBOX_ID_SIZE - 1);
    strcpy(longest + VRM_OUTBOX_ID_SIZE - 1, VRM_OUTBOX_PENDING_SUFFIX);
    assert_int_equal(vrm_outbox_pending_id(longest, id), 0);
    assert_int_equal(strlen(id), VRM_OUTBOX_ID_SIZE - 1);
    assert_int_equal(vrm_outbox_file_valid(longest), -EEXIST);
    memset(longest, 'A', VRM_OUTBOX_ID_SIZE);
    strcpy(longest + VRM_OUTBOX_ID_SIZE, VRM_OUTBOX_PENDING_SUFFIX);
    assert_int_equal(vrm_outbox_pending_id(longest, id), -ENOENT);
    assert_int_equal(vrm_outbox_file_valid(longest), 0);
}

/* ---- submit: what is refused ------------------------------------------------ */

static void test_submit_refused(void **state)
{
    fixture *f = *state;
    /* refused whatever the vendor: the message itself is wrong */
    static const char *const bad[] = {
        "{",
        "",
        "[1]",
        "\"note\"",
        "{}",
        "{\"text\": \"hi\"}",
        "{\"kind\": 1, \"text\": \"hi\"}",
        "{\"kind\": \"reply\", \"text\": \"hi\"}",
        "{\"kind\": \"update\", \"text\": \"hi\"}",
        "{\"kind\": \"Note\", \"text\": \"hi\"}",
        /* note */
        "{\"kind\": \"note\"}",
        "{\"kind\": \"note\", \"text\": \"\"}",
        "{\"kind\": \"note\", \"text\": 5}",
        "{\"kind\": \"note\", \"text\": null}",
        "{\"kind\": \"note\", \"text\": \"hi\", \"to\": \"x\"}",
        "{\"kind\": \"note\", \"text\": \"hi\", \"category\": \"x\"}",
        /* intent */
        "{\"kind\": \"intent\"}",
        "{\"kind\": \"intent\", \"budget\": 5}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"colour\": \"red\"}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"fields\": [\"profile.email\"]}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": \"cheap\"}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": null}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": [5]}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": {}}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": {\"currency\": \"EUR\"}}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": {\"amount\": \"5\"}}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": {\"amount\": 5, "
        "\"currency\": 978}}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": {\"amount\": 5, "
        "\"currency\": \"EUR\", \"max\": 9}}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"category\": 3}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"category\": \"\"}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"until\": \"tomorrow\"}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"until\": \"2027-06-30\"}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"until\": \"2027-13-01T00:00:00Z\"}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"until\": \"2027-06-30 00:00:00\"}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"until\": 1830000000}",
        /* disclose */
        "{\"kind\": \"disclose\"}",
        "{\"kind\": \"disclose\", \"purpose\": \"checkout\"}",
        "{\"kind\": \"disclose\", \"fields\": []}",
        "{\"kind\": \"disclose\", \"fields\": \"profile.email\"}",
        "{\"kind\": \"disclose\", \"fields\": [5]}",
        "{\"kind\": \"disclose\", \"fields\": [\"profile\"]}",
        "{\"kind\": \"disclose\", \"fields\": [\"profile..email\"]}",
        "{\"kind\": \"disclose\", \"fields\": [\"profile.a*\"]}",
        "{\"kind\": \"disclose\", \"fields\": [\"profile.email\", \"profile[x\"]}",
        "{\"kind\": \"disclose\", \"fields\": [\"analytics.spending.by-category\"]}",
        "{\"kind\": \"disclose\", \"fields\": [\"analytics.spending.summary\"]}",
        "{\"kind\": \"disclose\", \"fields\": [\"profile.email\"], \"text\": \"hi\"}",
        "{\"kind\": \"disclose\", \"fields\": [\"profile.email\"], \"purpose\": 7}",
        "{\"kind\": \"disclose\", \"fields\": [\"profile.email\"], \"purpose\": \"\"}",
        NULL,
    };
    static const char *const vendors[] = {"acme", "nokeys", "noxkey", "noep", "nosuch", "all",
                                          NULL};
    vrm_vendor_keys *k = NULL;
    char *ep = fmt("dir:%s", f->spool);
    size_t i;
    int rc;

    put(f->v, "profile", "me", "{\"email\": \"ann@example.org\"}");
    assert_int_equal(vrm_vendor_keys_generate(&k), 0);
    vendor_set(f, "nokeys", NULL, 0, 0, ep, NULL, 1);
    vendor_set(f, "noxkey", k, 1, 0, ep, NULL, 1);    /* only keys.ed25519 */
    vendor_set(f, "noep", k, 1, 1, NULL, NULL, 1);

    /* a text longer than 64 KiB */
    {
        char *big = malloc(65537 + 64);
        ids got = {.n = 0};

        assert_non_null(big);
        strcpy(big, "{\"kind\": \"note\", \"text\": \"");
        memset(big + strlen(big), 'a', 65537);
        strcpy(big + 26 + 65537, "\"}");
        assert_int_equal(submit(f->v, "acme", big, &got), -EINVAL);
        assert_int_equal(got.n, 0);
        free(big);
    }
    for (i = 0; bad[i] != NULL; i++) {
        ids got = {.n = 0};

        rc = submit(f->v, "acme", bad[i], &got);
        if (rc != -EINVAL)
            fail_msg("submit %s: %d (%s), want -EINVAL", bad[i], rc, vrm_error_message());
        assert_int_equal(got.n, 0);
        assert_true(strlen(vrm_error_message()) > 0);
    }

    /* the vendor: unknown, or one that cannot be sealed to or reached */
    {
        static const char *const ok[] = {
            "{\"kind\": \"note\", \"text\": \"hi\"}",
            "{\"kind\": \"intent\", \"text\": \"bike\"}",
            "{\"kind\": \"disclose\", \"fields\": [\"profile.email\"]}",
            NULL,
        };

        for (i = 0; ok[i] != NULL; i++) {
            ids got = {.n = 0};

            assert_int_equal(submit(f->v, "nosuch", ok[i], &got), -ENOENT);
            assert_int_equal(submit(f->v, "nokeys", ok[i], &got), -EINVAL);
            assert_non_null(strstr(vrm_error_message(), "x25519"));
            assert_int_equal(submit(f->v, "noxkey", ok[i], &got), -EINVAL);
            assert_non_null(strstr(vrm_error_message(), "x25519"));
            assert_int_equal(submit(f->v, "noep", ok[i], &got), -EINVAL);
            assert_non_null(strstr(vrm_error_message(), "endpoint"));
            assert_int_equal(got.n, 0);
        }
    }

    /* only an intent can go to all vendors */
    {
        ids got = {.n = 0};

        assert_int_equal(submit(f->v, "all", "{\"kind\": \"note\", \"text\": \"hi\"}", &got),
                         -EINVAL);
        assert_int_equal(submit(f->v, "all",
                                "{\"kind\": \"disclose\", \"fields\": [\"profile.email\"]}",
                                &got),
                         -EINVAL);
        assert_int_equal(got.n, 0);
    }

    /* an intent to all with no vendor that accepts intents and can be sent
     * to: acme now says no; nokeys, noxkey, noep say yes but cannot be sent to */
    vendor_set(f, "acme", f->acme, 1, 1, ep, "acme-terms-1", 0);
    {
        ids got = {.n = 0};

        assert_int_equal(submit(f->v, "all", "{\"kind\": \"intent\", \"text\": \"bike\"}",
                                &got),
                         -EINVAL);
        assert_int_equal(got.n, 0);
    }
    vendor_set(f, "acme", f->acme, 1, 1, ep, "acme-terms-1", -1);   /* left out: no */
    {
        ids got = {.n = 0};

        assert_int_equal(submit(f->v, "all", "{\"kind\": \"intent\", \"text\": \"bike\"}",
                                &got),
                         -EINVAL);
        assert_int_equal(got.n, 0);
    }

    /* nothing anywhere: no message, no receipt */
    assert_outbox_empty(f->v);
    for (i = 0; vendors[i] != NULL; i++) {
        assert_int_equal(outbox_count(f->v, vendors[i], 0), 0);
        assert_int_equal(outbox_count(f->v, vendors[i], 1), 0);
        assert_int_equal(tu_receipt_count(f->v, vendors[i]), 0);
    }
    assert_int_equal(deliver_all(f->v), 0);
    free(ep);
    vrm_vendor_keys_free(k);
}

/* The shapes the contract allows are taken. */
static void test_submit_accepted_shapes(void **state)
{
    fixture *f = *state;
    static const char *const good[] = {
        "{\"kind\": \"note\", \"text\": \"hi\"}",
        "{\"text\": \"hi\", \"kind\": \"note\"}",
        "{\"kind\": \"intent\", \"text\": \"bike\"}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": 300}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": 299.5}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": {\"amount\": 300}}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"budget\": {\"amount\": 300, "
        "\"currency\": \"EUR\"}}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"category\": \"sport\", "
        "\"until\": \"2027-06-30T00:00:00Z\"}",
        "{\"kind\": \"intent\", \"text\": \"bike\", \"until\": \"2027-06-30T12:30:00.250+02:00\"}",
        "{\"kind\": \"disclose\", \"fields\": [\"profile.email\"]}",
        "{\"kind\": \"disclose\", \"fields\": [\"profile.*\", \"purchases[merchant=acme].total\"], "
        "\"purpose\": \"checkout\"}",
        NULL,
    };
    size_t i;

    put(f->v, "profile", "me", "{\"email\": \"ann@example.org\"}");
    for (i = 0; good[i] != NULL; i++) {
        char id[VRM_MESSAGE_ID_LEN + 1];
        cJSON *p, *want;
        const char *kind;

        submit_one(f->v, "acme", good[i], id);
        p = pending_payload(f->v, "acme", id);
        want = cJSON_Parse(good[i]);
        kind = str_of(want, "kind");
        assert_string_equal(str_of(p, "kind"), kind);
        if (strcmp(kind, "disclose") != 0) {
            /* the body is the message less its "kind" */
            cJSON_DeleteItemFromObjectCaseSensitive(want, "kind");
            if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(p, "body"), want, 1))
                fail_msg("body of %s", good[i]);
        }
        cJSON_Delete(want);
        cJSON_Delete(p);
    }
    assert_int_equal(outbox_count(f->v, "acme", 0), i);
}

/* ---- queueing ---------------------------------------------------------------- */

static void test_queue_note(void **state)
{
    fixture *f = *state;
    static const char *const pending_keys[] = {"id", "vendor", "kind", "created", "attempts",
                                               "last_error", "next_try", "payload", NULL};
    char id[VRM_MESSAGE_ID_LEN + 1], to[VRM_ID_B64_MAX], *out = NULL;
    int64_t before = wall_ns(), t = 0, created, next, pending = 0, failing = 0;
    names l;
    cJSON *doc, *p;
    size_t len = 0, i;
    int rc;

    submit_one(f->v, "acme", "{\"kind\": \"note\", \"text\": \"please call me back\"}", id);
    assert_int_equal(strlen(id), VRM_MESSAGE_ID_LEN);
    for (i = 0; i < VRM_MESSAGE_ID_LEN; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                               id[i]));

    l = outbox_ids(f->v, "acme", 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0], id);
    names_free(&l);
    assert_int_equal(outbox_count(f->v, "acme", 1), 0);
    assert_int_equal(vrm_outbox_pending(f->v, &pending, &failing), 0);
    assert_int_equal(pending, 1);
    assert_int_equal(failing, 0);

    /* as shown, pending */
    doc = outbox_doc(f->v, "acme", id, 0, NULL, &t);
    assert_true(t >= before - 1000000000LL && t <= wall_ns());
    assert_keys(doc, pending_keys);
    assert_string_equal(str_of(doc, "id"), id);
    assert_string_equal(str_of(doc, "vendor"), "acme");
    assert_string_equal(str_of(doc, "kind"), "note");
    assert_int_equal(vrm_rfc3339_parse(str_of(doc, "created"), &created), 0);
    assert_true(created / 1000000000 == t / 1000000000);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(doc, "attempts")));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(doc, "attempts")->valueint, 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(doc, "last_error")));
    assert_int_equal(vrm_rfc3339_parse(str_of(doc, "next_try"), &next), 0);
    assert_true(next >= created && next <= created + 1000000000LL);

    /* the payload: to the vendor's key id, from the person's pairwise id */
    p = cJSON_GetObjectItemCaseSensitive(doc, "payload");
    key_id_of(vrm_vendor_keys_ed25519(f->acme), to);
    assert_string_equal(to, vrm_vendor_keys_kid(f->acme));
    assert_payload_head(f->v, p, "acme", id, "note", to, "acme-terms-1");
    assert_json_item(cJSON_GetObjectItemCaseSensitive(p, "body"),
                     "{\"text\": \"please call me back\"}");
    assert_string_equal(str_of(p, "created"), str_of(doc, "created"));
    cJSON_Delete(doc);

    /* not sent, so not there as sent; unknown ids are not there at all */
    rc = vrm_outbox_get(f->v, "acme", id, 1, &out, &len, NULL);
    assert_int_equal(rc, -ENOENT);
    assert_null(out);
    assert_int_equal(vrm_outbox_get(f->v, "acme", "AAAAAAAAAAAAAAAAAAAAAA", 0, &out, &len, NULL),
                     -ENOENT);
    assert_int_equal(vrm_outbox_get(f->v, "nosuch", id, 0, &out, &len, NULL), -ENOENT);

    /* a second message gets another id, listed after the first */
    {
        char id2[VRM_MESSAGE_ID_LEN + 1];

        submit_one(f->v, "acme", "{\"kind\": \"note\", \"text\": \"second\"}", id2);
        assert_string_not_equal(id, id2);
        l = outbox_ids(f->v, "acme", 0);
        assert_int_equal(l.n, 2);
        assert_string_equal(l.s[0], id);
        assert_string_equal(l.s[1], id2);
        names_free(&l);
    }
    /* a message is no receipt */
    assert_int_equal(tu_receipt_count(f->v, "acme"), 0);
}

/* terms null without terms; "to" is the vendor's name without an Ed25519 key. */
static void test_queue_terms_and_to(void **state)
{
    fixture *f = *state;
    char id[VRM_MESSAGE_ID_LEN + 1], *ep = fmt("dir:%s", f->spool);
    cJSON *p;

    vendor_set(f, "bolt", f->acme, 0, 1, ep, NULL, -1);
    submit_one(f->v, "bolt", "{\"kind\": \"note\", \"text\": \"hi\"}", id);
    p = pending_payload(f->v, "bolt", id);
    assert_payload_head(f->v, p, "bolt", id, "note", "bolt", NULL);
    cJSON_Delete(p);

    /* terms follow vendor.json at the time of queueing */
    vendor_set(f, "bolt", f->acme, 1, 1, ep, "bolt-terms-2", -1);
    submit_one(f->v, "bolt", "{\"kind\": \"note\", \"text\": \"hi\"}", id);
    p = pending_payload(f->v, "bolt", id);
    assert_payload_head(f->v, p, "bolt", id, "note", vrm_vendor_keys_kid(f->acme),
                        "bolt-terms-2");
    cJSON_Delete(p);
    free(ep);
}

static void test_queue_disclose(void **state)
{
    fixture *f = *state;
    char id[VRM_MESSAGE_ID_LEN + 1];
    cJSON *p, *r, *g, *item, *fields;
    int64_t n;
    int found = 0;

    put(f->v, "profile", "me", "{\"name\": \"Ann\", \"email\": \"ann@example.org\", "
                               "\"phone\": \"+44 1\", \"address\": {\"city\": \"Leeds\"}}");
    put(f->v, "profile", "work", "{\"email\": \"ann@work.example\", \"desk\": 4}");
    put(f->v, "profile", "blank", "{\"nickname\": \"a\"}");
    put(f->v, "purchases", "p1", "{\"merchant\": \"acme\", \"total\": 12.5, \"item\": \"bell\"}");
    put(f->v, "purchases", "p2", "{\"merchant\": \"bolt\", \"total\": 99, \"item\": \"tyre\"}");
    gput_ok(f->v, "acme", "{\"grants\": [{\"fields\": [\"profile.name\"], "
                          "\"purpose\": \"greeting\"}]}");
    assert_int_equal(tu_receipt_count(f->v, "acme"), 1);

    submit_one(f->v, "acme",
               "{\"kind\": \"disclose\", \"purpose\": \"checkout\", \"fields\": "
               "[\"profile.email\", \"profile.address.city\", "
               "\"purchases[merchant=acme].total\"]}",
               id);
    p = pending_payload(f->v, "acme", id);
    assert_payload_head(f->v, p, "acme", id, "disclose", vrm_vendor_keys_kid(f->acme),
                        "acme-terms-1");
    /* exactly the current values the fields name, nothing else */
    assert_json_item(cJSON_GetObjectItemCaseSensitive(p, "body"),
                     "{\"purpose\": \"checkout\","
                     " \"fields\": [\"profile.email\", \"profile.address.city\","
                     "              \"purchases[merchant=acme].total\"],"
                     " \"records\": {"
                     "   \"profile\": {\"me\": {\"email\": \"ann@example.org\","
                     "                          \"address\": {\"city\": \"Leeds\"}},"
                     "                 \"work\": {\"email\": \"ann@work.example\"}},"
                     "   \"purchases\": {\"p1\": {\"total\": 12.5}}}}");
    cJSON_Delete(p);

    /* the disclosure is consented to in a receipt: the grant in force plus it */
    n = tu_receipt_count(f->v, "acme");
    assert_int_equal(n, 2);
    r = tu_receipt_payload(f->v, "acme", 2);
    assert_string_equal(str_of(r, "event"), "disclose");
    g = cJSON_GetObjectItemCaseSensitive(r, "grants");
    assert_true(cJSON_IsArray(g));
    assert_int_equal(cJSON_GetArraySize(g), 2);
    fields = cJSON_Parse("[\"profile.email\", \"profile.address.city\", "
                         "\"purchases[merchant=acme].total\"]");
    cJSON_ArrayForEach(item, g) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(item, "message");

        if (!cJSON_IsString(m))
            continue;
        found++;
        assert_string_equal(m->valuestring, id);
        assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(item, "fields"), fields, 1));
        assert_string_equal(str_of(item, "purpose"), "checkout");
        assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "until")));
    }
    assert_int_equal(found, 1);
    cJSON_Delete(fields);
    cJSON_Delete(r);
    assert_int_equal(vrm_receipt_verify_all(f->v), 0);

    /* a disclosure sends the values of the moment: a later change is not in it */
    put(f->v, "profile", "me", "{\"email\": \"new@example.org\"}");
    p = pending_payload(f->v, "acme", id);
    assert_string_equal(str_of(cJSON_GetObjectItemCaseSensitive(
                                   cJSON_GetObjectItemCaseSensitive(
                                       cJSON_GetObjectItemCaseSensitive(
                                           cJSON_GetObjectItemCaseSensitive(p, "body"),
                                           "records"),
                                       "profile"),
                                   "me"),
                               "email"),
                        "ann@example.org");
    cJSON_Delete(p);

    /* without a purpose: none in the body; a receipt still */
    submit_one(f->v, "acme", "{\"kind\": \"disclose\", \"fields\": [\"profile.desk\"]}", id);
    p = pending_payload(f->v, "acme", id);
    assert_json_item(cJSON_GetObjectItemCaseSensitive(p, "body"),
                     "{\"fields\": [\"profile.desk\"],"
                     " \"records\": {\"profile\": {\"work\": {\"desk\": 4}}}}");
    cJSON_Delete(p);
    assert_int_equal(tu_receipt_count(f->v, "acme"), 3);
}

static void test_intent_broadcast(void **state)
{
    fixture *f = *state;
    vrm_vendor_keys *kb = NULL, *kc = NULL;
    char *ep = fmt("dir:%s", f->spool), from_a[VRM_ID_B64_MAX] = "";
    static const char *const vendors[] = {"acme", "bolt", "cory", "dull", "eve", NULL};
    const char *json = "{\"kind\": \"intent\", \"text\": \"a road bike\", \"category\": "
                       "\"sport\", \"budget\": {\"amount\": 800, \"currency\": \"EUR\"}, "
                       "\"until\": \"2030-01-01T00:00:00Z\"}";
    ids got = {.n = 0};
    size_t i;
    int rc, queued = 0;

    assert_int_equal(vrm_vendor_keys_generate(&kb), 0);
    assert_int_equal(vrm_vendor_keys_generate(&kc), 0);
    vendor_set(f, "bolt", kb, 1, 1, ep, "bolt-terms", 1);
    vendor_set(f, "cory", kc, 1, 1, ep, NULL, 0);            /* says no */
    vendor_set(f, "dull", NULL, 0, 0, ep, NULL, 1);          /* no keys */
    vendor_set(f, "eve", kc, 1, 1, NULL, NULL, 1);           /* no endpoint */

    rc = submit(f->v, "all", json, &got);
    if (rc != 2)
        fail_msg("broadcast: %d %s", rc, vrm_error_message());
    assert_int_equal(got.n, 2);
    assert_int_equal(got.bad_len, 0);
    assert_string_not_equal(got.id[0], got.id[1]);
    assert_int_equal(outbox_count(f->v, "all", 0), 0);

    for (i = 0; vendors[i] != NULL; i++) {
        names l = outbox_ids(f->v, vendors[i], 0);
        int want = strcmp(vendors[i], "acme") == 0 || strcmp(vendors[i], "bolt") == 0;

        assert_int_equal(l.n, want);
        if (want) {
            const vrm_vendor_keys *k = strcmp(vendors[i], "acme") == 0 ? f->acme : kb;
            cJSON *p, *body = cJSON_Parse(json);

            assert_true(names_has(&l, got.id[0]) || names_has(&l, got.id[1]));
            p = pending_payload(f->v, vendors[i], l.s[0]);
            assert_payload_head(f->v, p, vendors[i], l.s[0], "intent", vrm_vendor_keys_kid(k),
                                strcmp(vendors[i], "acme") == 0 ? "acme-terms-1"
                                                                : "bolt-terms");
            cJSON_DeleteItemFromObjectCaseSensitive(body, "kind");
            assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(p, "body"), body, 1));
            /* each under its own pairwise identity */
            if (from_a[0] == '\0')
                snprintf(from_a, sizeof from_a, "%s", str_of(p, "from"));
            else
                assert_string_not_equal(from_a, str_of(p, "from"));
            cJSON_Delete(body);
            cJSON_Delete(p);
            queued++;
        }
        names_free(&l);
        assert_int_equal(tu_receipt_count(f->v, vendors[i]), 0);
    }
    assert_int_equal(queued, 2);

    /* directly, a vendor that does not accept intents can still be told one */
    rc = vrm_outbox_submit(f->v, "cory", json, strlen(json), NULL, NULL);
    assert_int_equal(rc, 1);
    free(ep);
    vrm_vendor_keys_free(kb);
    vrm_vendor_keys_free(kc);
}

/* ---- delivery ------------------------------------------------------------------- */

static void test_deliver_dir(void **state)
{
    fixture *f = *state;
    char id[VRM_MESSAGE_ID_LEN + 1], id2[VRM_MESSAGE_ID_LEN + 1], *path, *out = NULL;
    int64_t next = -1, t = 0, before, delivered, pending = -1, failing = -1;
    cJSON *queued, *got, *doc;
    names l;
    size_t len;
    int rc;

    submit_one(f->v, "acme", "{\"kind\": \"note\", \"text\": \"deliver me\"}", id);
    queued = pending_payload(f->v, "acme", id);
    before = wall_ns();
    rc = vrm_outbox_deliver(f->v, 10, &next);
    if (rc != 1)
        fail_msg("deliver: %d %s", rc, vrm_error_message());
    assert_int_equal(next, 0);   /* nothing left pending */

    /* the vendor finds it in its maildir and opens it to the same payload */
    path = spool_file(f, id);
    assert_true(file_exists(path));
    got = vendor_opens(f, path);
    assert_true(cJSON_Compare(got, queued, 1));
    cJSON_Delete(got);
    free(path);
    {
        char *tmpdir = fmt("%s/tmp", f->spool);
        DIR *d = opendir(tmpdir);
        struct dirent *e;
        int left = 0;

        assert_non_null(d);
        while ((e = readdir(d)) != NULL)
            left += e->d_name[0] != '.';
        closedir(d);
        assert_int_equal(left, 0);   /* nothing left behind in tmp/ */
        free(tmpdir);
    }

    /* it is sent now, and no longer pending */
    assert_int_equal(outbox_count(f->v, "acme", 0), 0);
    l = outbox_ids(f->v, "acme", 1);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0], id);
    names_free(&l);
    assert_int_equal(vrm_outbox_get(f->v, "acme", id, 0, &out, &len, NULL), -ENOENT);
    doc = outbox_doc(f->v, "acme", id, 1, NULL, &t);
    assert_true(t >= before - 1000000000LL && t <= wall_ns());
    assert_string_equal(str_of(doc, "transport"), "dir");
    assert_int_equal(vrm_rfc3339_parse(str_of(doc, "delivered"), &delivered), 0);
    assert_true(delivered / 1000000000 == t / 1000000000);
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "transport");
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "delivered");
    assert_true(cJSON_Compare(doc, queued, 1));   /* the payload plus those two */
    cJSON_Delete(doc);
    cJSON_Delete(queued);
    assert_int_equal(vrm_outbox_pending(f->v, &pending, &failing), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(failing, 0);

    /* a sent message cannot be cancelled; nothing is sent twice */
    assert_int_equal(vrm_outbox_cancel(f->v, "acme", id), -ENOENT);
    assert_int_equal(outbox_count(f->v, "acme", 1), 1);
    assert_int_equal(vrm_outbox_deliver(f->v, 10, NULL), 0);

    /* a pending one can: it is gone and never delivered */
    submit_one(f->v, "acme", "{\"kind\": \"note\", \"text\": \"never mind\"}", id2);
    assert_int_equal(vrm_outbox_cancel(f->v, "acme", "AAAAAAAAAAAAAAAAAAAAAA"), -ENOENT);
    assert_int_equal(vrm_outbox_cancel(f->v, "bolt", id2), -ENOENT);
    assert_int_equal(vrm_outbox_cancel(f->v, "acme", id2), 0);
    assert_int_equal(outbox_count(f->v, "acme", 0), 0);
    assert_int_equal(vrm_outbox_get(f->v, "acme", id2, 0, &out, &len, NULL), -ENOENT);
    assert_int_equal(vrm_outbox_get(f->v, "acme", id2, 1, &out, &len, NULL), -ENOENT);
    assert_int_equal(vrm_outbox_cancel(f->v, "acme", id2), -ENOENT);
    assert_int_equal(vrm_outbox_deliver(f->v, 10, &next), 0);
    assert_int_equal(next, 0);
    path = spool_file(f, id2);
    assert_false(file_exists(path));
    free(path);
    l = outbox_ids(f->v, "acme", 1);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0], id);
    names_free(&l);
}

/* Deliver survives the vault being closed and opened again: queued
 * messages wait in the vault. */
static void test_deliver_after_reopen(void **state)
{
    fixture *f = *state;
    char id[VRM_MESSAGE_ID_LEN + 1], *path;
    cJSON *got;

    submit_one(f->v, "acme", "{\"kind\": \"note\", \"text\": \"kept\"}", id);
    assert_int_equal(vrm_vault_close(f->v), 0);
    f->v = tu_open(f->vault);
    assert_int_equal(outbox_count(f->v, "acme", 0), 1);
    assert_int_equal(deliver_all(f->v), 1);
    path = spool_file(f, id);
    got = vendor_opens(f, path);
    assert_json_item(cJSON_GetObjectItemCaseSensitive(got, "body"), "{\"text\": \"kept\"}");
    cJSON_Delete(got);
    free(path);
    assert_int_equal(outbox_count(f->v, "acme", 1), 1);
}

/* exec: transports, succeeding and failing. */
static void test_deliver_exec(void **state)
{
    fixture *f = *state;
    char id[VRM_MESSAGE_ID_LEN + 1], *out_path = tu_path(f->tmp, "exec-out.vrm");
    char *ep = fmt("exec:cat > '%s'", out_path);
    int64_t next = 0, pending = 0, failing = 0;
    cJSON *doc, *got, *queued;
    const cJSON *le;

    vendor_set(f, "acme", f->acme, 1, 1, ep, "acme-terms-1", 1);
    submit_one(f->v, "acme", "{\"kind\": \"note\", \"text\": \"by pipe\"}", id);
    queued = pending_payload(f->v, "acme", id);
    assert_int_equal(deliver_all(f->v), 1);
    got = vendor_opens(f, out_path);
    assert_true(cJSON_Compare(got, queued, 1));
    cJSON_Delete(got);
    cJSON_Delete(queued);
    doc = outbox_doc(f->v, "acme", id, 1, NULL, NULL);
    assert_string_equal(str_of(doc, "transport"), "exec");
    cJSON_Delete(doc);

    /* a command that fails: the attempt and its reason are recorded */
    vendor_set(f, "acme", f->acme, 1, 1, "exec:echo no thanks >&2; exit 3", "acme-terms-1", 1);
    submit_one(f->v, "acme", "{\"kind\": \"note\", \"text\": \"refused\"}", id);
    assert_int_equal(vrm_outbox_deliver(f->v, 10, &next), 1);
    assert_true(next > wall_ns());
    doc = pending_doc(f->v, "acme", id);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(doc, "attempts")->valueint, 1);
    le = cJSON_GetObjectItemCaseSensitive(doc, "last_error");
    assert_true(cJSON_IsString(le));
    assert_non_null(strstr(le->valuestring, "exit status 3"));
    assert_non_null(strstr(le->valuestring, "no thanks"));
    cJSON_Delete(doc);
    assert_int_equal(vrm_outbox_pending(f->v, &pending, &failing), 0);
    assert_int_equal(pending, 1);
    assert_int_equal(failing, 1);
    assert_int_equal(outbox_count(f->v, "acme", 1), 1);   /* only the first */
    free(ep);
    free(out_path);
}

/* Attempts, last_error and next_try of a pending message. */
static void pending_state(vrm_vault *v, const char *id, int *attempts, char **last_error,
                          int64_t *next_try)
{
    cJSON *doc = pending_doc(v, "acme", id);
    const cJSON *le = cJSON_GetObjectItemCaseSensitive(doc, "last_error");

    *attempts = cJSON_GetObjectItemCaseSensitive(doc, "attempts")->valueint;
    *last_error = cJSON_IsString(le) ? strdup(le->valuestring) : NULL;
    assert_int_equal(vrm_rfc3339_parse(str_of(doc, "next_try"), next_try), 0);
    cJSON_Delete(doc);
}

/* One failed attempt at t0..t1 (around the call): tried 1, and the retry is
 * due `base_ms` +-25% after the failure. */
static int64_t fail_once(vrm_vault *v, const char *id, int want_attempts, int64_t base_ms)
{
    int64_t next = 0, t0, t1, lo = base_ms * 750000, hi = base_ms * 1250000, nt;
    char *le = NULL;
    int attempts, rc;

    t0 = wall_ns();
    rc = vrm_outbox_deliver(v, 10, &next);
    t1 = wall_ns();
    assert_int_equal(rc, 1);
    pending_state(v, id, &attempts, &le, &nt);
    assert_int_equal(attempts, want_attempts);
    assert_non_null(le);
    assert_true(strlen(le) > 0);
    free(le);
    /* the failure was recorded between t0 and t1: next - (t0..t1) is the
     * backoff */
    if (next - t0 < lo || next - t1 > hi)
        fail_msg("attempt %d: retry due %.1f..%.1f ms after the failure, want %.1f..%.1f",
                 want_attempts, (double)(next - t1) / 1e6, (double)(next - t0) / 1e6,
                 (double)lo / 1e6, (double)hi / 1e6);
    assert_true(nt / 1000000000 == next / 1000000000);   /* shown as next_try */
    /* not due yet: another call tries nothing and says when */
    if (wall_ns() < next - 20000000) {
        int64_t again = 0;

        assert_int_equal(vrm_outbox_deliver(v, 10, &again), 0);
        assert_int_equal(again, next);
        pending_state(v, id, &attempts, &le, &nt);
        assert_int_equal(attempts, want_attempts);
        free(le);
    }
    return next;
}

static void test_deliver_backoff(void **state)
{
    fixture *f = *state;
    char id[VRM_MESSAGE_ID_LEN + 1], *missing = tu_path(f->tmp, "later"), *ep, *path, *out;
    int64_t next, deadline, pending = 0, failing = 0;
    size_t len;
    cJSON *got;
    int n;

    /* a dir: endpoint whose directory is not there yet */
    ep = fmt("dir:%s", missing);
    vendor_set(f, "acme", f->acme, 1, 1, ep, "acme-terms-1", 1);
    submit_one(f->v, "acme", "{\"kind\": \"note\", \"text\": \"eventually\"}", id);

    next = fail_once(f->v, id, 1, 250);
    assert_int_equal(vrm_outbox_pending(f->v, &pending, &failing), 0);
    assert_int_equal(pending, 1);
    assert_int_equal(failing, 1);
    assert_int_equal(outbox_count(f->v, "acme", 1), 0);
    while (wall_ns() < next)
        sleep_ms(10);
    next = fail_once(f->v, id, 2, 500);

    /* the endpoint works now: delivered once the backoff is over, not before */
    mkdir_p(missing);
    if (wall_ns() < next - 50000000)
        assert_int_equal(vrm_outbox_deliver(f->v, 10, NULL), 0);
    deadline = wall_ns() + 5000000000LL;
    for (n = 0; outbox_count(f->v, "acme", 1) == 0 && wall_ns() < deadline;) {
        int rc = vrm_outbox_deliver(f->v, 10, NULL);

        assert_true(rc >= 0);
        n += rc;
        if (rc == 0)
            sleep_ms(20);
    }
    assert_int_equal(n, 1);
    assert_true(wall_ns() >= next);
    assert_int_equal(outbox_count(f->v, "acme", 1), 1);
    assert_int_equal(outbox_count(f->v, "acme", 0), 0);
    assert_int_equal(vrm_outbox_get(f->v, "acme", id, 0, &out, &len, NULL), -ENOENT);
    assert_int_equal(vrm_outbox_pending(f->v, &pending, &failing), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(failing, 0);
    path = fmt("%s/new/%s.vrm", missing, id);
    got = vendor_opens(f, path);
    assert_json_item(cJSON_GetObjectItemCaseSensitive(got, "body"),
                     "{\"text\": \"eventually\"}");
    cJSON_Delete(got);
    free(path);
    free(ep);
    free(missing);
}

/* A message that fails does not hold up one that can go. */
static void test_deliver_failure_isolated(void **state)
{
    fixture *f = *state;
    char bad_id[VRM_MESSAGE_ID_LEN + 1], good_id[VRM_MESSAGE_ID_LEN + 1], *path;

    vendor_set(f, "bolt", f->acme, 1, 1, "exec:exit 3", NULL, -1);
    submit_one(f->v, "bolt", "{\"kind\": \"note\", \"text\": \"stuck\"}", bad_id);
    submit_one(f->v, "acme", "{\"kind\": \"note\", \"text\": \"fine\"}", good_id);
    assert_int_equal(deliver_all(f->v), 2);
    assert_int_equal(outbox_count(f->v, "acme", 1), 1);
    assert_int_equal(outbox_count(f->v, "bolt", 0), 1);
    path = spool_file(f, good_id);
    assert_true(file_exists(path));
    free(path);
}

typedef struct deliverer {
    vrm_vault *v;
    int tried;                        /* sum of vrm_outbox_deliver's returns */
    int error;                        /* a negative return, if any */
} deliverer;

static void *deliver_thread(void *arg)
{
    deliverer *d = arg;

    for (;;) {
        int rc = vrm_outbox_deliver(d->v, 7, NULL);

        if (rc < 0) {
            d->error = rc;
            break;
        }
        if (rc == 0)
            break;
        d->tried += rc;
    }
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_deliver_concurrent(void **state)
{
    enum { N = 200, THREADS = 8 };
    fixture *f = *state;
    pthread_t th[THREADS];
    deliverer d[THREADS];
    names queued, sent, files = {NULL, 0};
    char *newdir = fmt("%s/new", f->spool);
    struct dirent *e;
    DIR *dir;
    int i, tried = 0;
    size_t j;

    for (i = 0; i < N; i++) {
        char json[64], id[VRM_MESSAGE_ID_LEN + 1];

        snprintf(json, sizeof json, "{\"kind\": \"note\", \"text\": \"n%d\"}", i);
        submit_one(f->v, "acme", json, id);
    }
    queued = outbox_ids(f->v, "acme", 0);
    assert_int_equal(queued.n, N);

    for (i = 0; i < THREADS; i++) {
        d[i] = (deliverer){f->v, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, deliver_thread, &d[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(d[i].error, 0);
        tried += d[i].tried;
    }
    /* each message claimed by exactly one thread, once */
    assert_int_equal(tried, N);
    assert_int_equal(outbox_count(f->v, "acme", 0), 0);
    sent = outbox_ids(f->v, "acme", 1);
    assert_int_equal(sent.n, N);

    dir = opendir(newdir);
    assert_non_null(dir);
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.')
            names_add(&files, e->d_name);
    closedir(dir);
    assert_int_equal(files.n, N);
    qsort(files.s, files.n, sizeof *files.s, cmp_str);
    qsort(queued.s, queued.n, sizeof *queued.s, cmp_str);
    for (j = 0; j < N; j++) {
        char want[64];

        snprintf(want, sizeof want, "%s.vrm", queued.s[j]);
        assert_string_equal(files.s[j], want);   /* each id once, nothing else */
    }
    names_free(&files);
    names_free(&sent);
    names_free(&queued);
    free(newdir);
}

/* ---- pushed updates ---------------------------------------------------------- */

/* The body of the k-th pending message of vendor (oldest first), which
 * must be an update. */
static cJSON *update_body(vrm_vault *v, const char *vendor, size_t k)
{
    names l = outbox_ids(v, vendor, 0);
    cJSON *p, *body;

    assert_true(k < l.n);
    p = pending_payload(v, vendor, l.s[k]);
    assert_string_equal(str_of(p, "kind"), "update");
    body = cJSON_DetachItemFromObjectCaseSensitive(p, "body");
    cJSON_Delete(p);
    names_free(&l);
    return body;
}

static void test_updates_pushed(void **state)
{
    fixture *f = *state;
    vrm_vendor_keys *kb = NULL;
    char *ep = fmt("dir:%s", f->spool), id[VRM_MESSAGE_ID_LEN + 1];
    cJSON *b, *p;
    names l;
    int i, rc;

    assert_int_equal(vrm_vendor_keys_generate(&kb), 0);
    vendor_set(f, "bolt", kb, 1, 1, ep, NULL, -1);     /* granted, not notified */
    vendor_set(f, "cory", NULL, 0, 0, ep, NULL, -1);   /* notified, but no keys */
    put(f->v, "profile", "me", "{\"name\": \"Ann\", \"email\": \"a@x.example\"}");
    gput_ok(f->v, "acme", "{\"grants\": [{\"fields\": [\"profile.email\"], \"purpose\": "
                          "\"contact\", \"notify\": true}]}");
    gput_ok(f->v, "bolt", "{\"grants\": [{\"fields\": [\"profile.email\"], \"purpose\": "
                          "\"contact\"}]}");
    gput_ok(f->v, "cory", "{\"grants\": [{\"fields\": [\"profile.email\"], \"purpose\": "
                          "\"contact\", \"notify\": true}]}");
    assert_outbox_empty(f->v);   /* granting sends nothing */

    /* the email changes: acme is told, with the new value only */
    rc = vrm_record_put(f->v, "profile", "me", "{\"name\": \"Ann\", \"email\": \"b@x.example\"}",
                        strlen("{\"name\": \"Ann\", \"email\": \"b@x.example\"}"), 0, NULL);
    assert_int_equal(rc, 0);   /* cory's lack of keys does not stop the change */
    assert_int_equal(outbox_count(f->v, "acme", 0), 1);
    assert_int_equal(outbox_count(f->v, "bolt", 0), 0);
    assert_int_equal(outbox_count(f->v, "cory", 0), 0);
    l = outbox_ids(f->v, "acme", 0);
    p = pending_payload(f->v, "acme", l.s[0]);
    assert_payload_head(f->v, p, "acme", l.s[0], "update", vrm_vendor_keys_kid(f->acme),
                        "acme-terms-1");
    assert_json_item(cJSON_GetObjectItemCaseSensitive(p, "body"),
                     "{\"collection\": \"profile\", \"record\": \"me\", "
                     "\"values\": {\"email\": \"b@x.example\"}}");
    cJSON_Delete(p);
    names_free(&l);
    {
        char *out = NULL;
        size_t len = 0;

        assert_int_equal(vrm_record_get(f->v, "profile", "me", &out, &len, NULL), 0);
        assert_non_null(strstr(out, "b@x.example"));
        free(out);
    }

    /* a field not granted changes: nobody is told */
    put(f->v, "profile", "me", "{\"name\": \"Anne\", \"email\": \"b@x.example\"}");
    put(f->v, "profile", "me", "{\"email\": \"b@x.example\", \"name\": \"Anne\", \"x\": 1}");
    put(f->v, "purchases", "p1", "{\"email\": \"c@x.example\"}");
    assert_int_equal(outbox_count(f->v, "acme", 0), 1);

    /* another record of the collection gets its own update */
    put(f->v, "profile", "work", "{\"email\": \"w@x.example\"}");
    assert_int_equal(outbox_count(f->v, "acme", 0), 2);
    b = update_body(f->v, "acme", 1);
    assert_json_item(b, "{\"collection\": \"profile\", \"record\": \"work\", "
                        "\"values\": {\"email\": \"w@x.example\"}}");
    cJSON_Delete(b);

    /* the record goes: values null */
    assert_int_equal(vrm_record_delete(f->v, "profile", "me"), 0);
    assert_int_equal(outbox_count(f->v, "acme", 0), 3);
    b = update_body(f->v, "acme", 2);
    assert_json_item(b, "{\"collection\": \"profile\", \"record\": \"me\", \"values\": null}");
    cJSON_Delete(b);

    /* ten quick edits: ten updates, in order, the last with the last value */
    for (i = 0; i < 10; i++) {
        char json[64];

        snprintf(json, sizeof json, "{\"email\": \"e%d@x.example\"}", i);
        put(f->v, "profile", "work", json);
    }
    assert_int_equal(outbox_count(f->v, "acme", 0), 13);
    for (i = 0; i < 10; i++) {
        char want[128];

        snprintf(want, sizeof want, "{\"collection\": \"profile\", \"record\": \"work\", "
                                    "\"values\": {\"email\": \"e%d@x.example\"}}", i);
        b = update_body(f->v, "acme", 3 + (size_t)i);
        assert_json_item(b, want);
        cJSON_Delete(b);
    }
    assert_int_equal(outbox_count(f->v, "bolt", 0), 0);
    assert_int_equal(outbox_count(f->v, "cory", 0), 0);

    /* updates are delivered like any message */
    assert_int_equal(deliver_all(f->v), 13);
    l = outbox_ids(f->v, "acme", 1);
    assert_int_equal(l.n, 13);
    snprintf(id, sizeof id, "%s", l.s[12]);
    names_free(&l);
    {
        char *path = spool_file(f, id);
        cJSON *got = vendor_opens(f, path);

        assert_json_item(cJSON_GetObjectItemCaseSensitive(got, "body"),
                         "{\"collection\": \"profile\", \"record\": \"work\", "
                         "\"values\": {\"email\": \"e9@x.example\"}}");
        cJSON_Delete(got);
        free(path);
    }

    /* no grant any more: no update */
    gput_ok(f->v, "acme", "{\"grants\": []}");
    put(f->v, "profile", "work", "{\"email\": \"gone@x.example\"}");
    assert_outbox_empty(f->v);
    free(ep);
    vrm_vendor_keys_free(kb);
}

/* A record created with a granted field is news too; one without it is not. */
/* Pushed updates are the front door's wiring: a vault opened alone
 * (vrm_vault_open_raw, the store's open) tells no vendor of a change, one
 * opened through vrm_vault_open does. */
static void test_updates_front_door(void **state)
{
    fixture *f = *state;
    vrm_vault *raw = NULL;

    gput_ok(f->v, "acme", "{\"grants\": [{\"fields\": [\"profile.email\"], \"purpose\": "
                          "\"p\", \"notify\": true}]}");
    assert_int_equal(vrm_vault_close(f->v), 0);
    f->v = NULL;
    assert_int_equal(vrm_vault_open_raw(&raw, f->vault, TU_PASS, strlen(TU_PASS), 0), 0);
    put(raw, "profile", "me", "{\"email\": \"a@x.example\"}");
    assert_int_equal(outbox_count(raw, "acme", 0), 0);
    assert_int_equal(vrm_vault_close(raw), 0);
    f->v = tu_open(f->vault);
    put(f->v, "profile", "me", "{\"email\": \"b@x.example\"}");
    assert_int_equal(outbox_count(f->v, "acme", 0), 1);
}

static void test_updates_created(void **state)
{
    fixture *f = *state;
    cJSON *b;

    gput_ok(f->v, "acme", "{\"grants\": [{\"fields\": [\"profile.email\", "
                          "\"purchases[merchant=acme].*\"], \"purpose\": \"p\", "
                          "\"notify\": true}]}");
    put(f->v, "profile", "plain", "{\"name\": \"Ann\"}");
    assert_int_equal(outbox_count(f->v, "acme", 0), 0);
    put(f->v, "profile", "me", "{\"name\": \"Ann\", \"email\": \"a@x.example\"}");
    assert_int_equal(outbox_count(f->v, "acme", 0), 1);
    b = update_body(f->v, "acme", 0);
    assert_json_item(b, "{\"collection\": \"profile\", \"record\": \"me\", "
                        "\"values\": {\"email\": \"a@x.example\"}}");
    cJSON_Delete(b);
    /* a filter decides: a purchase from another merchant is not acme's news */
    put(f->v, "purchases", "p1", "{\"merchant\": \"bolt\", \"total\": 3}");
    assert_int_equal(outbox_count(f->v, "acme", 0), 1);
    put(f->v, "purchases", "p2", "{\"merchant\": \"acme\", \"total\": 4}");
    assert_int_equal(outbox_count(f->v, "acme", 0), 2);
    b = update_body(f->v, "acme", 1);
    assert_json_item(b, "{\"collection\": \"purchases\", \"record\": \"p2\", "
                        "\"values\": {\"merchant\": \"acme\", \"total\": 4}}");
    cJSON_Delete(b);
}

static void test_updates_expired_grant(void **state)
{
    fixture *f = *state;
    char until[64], *grant;
    int64_t end = wall_ns() + 1000000000LL;
    size_t told;

    put(f->v, "profile", "me", "{\"email\": \"a@x.example\"}");
    fmt_time_ms(until, sizeof until, end);
    grant = fmt("{\"grants\": [{\"fields\": [\"profile.email\"], \"purpose\": \"p\", "
                "\"notify\": true, \"until\": \"%s\"}]}", until);
    gput_ok(f->v, "acme", grant);
    free(grant);
    /* in force: told */
    put(f->v, "profile", "me", "{\"email\": \"b@x.example\"}");
    told = outbox_count(f->v, "acme", 0);
    if (wall_ns() < end)
        assert_int_equal(told, 1);
    /* its until passes (before anything notices it as expired): not told */
    while (wall_ns() < end + 50000000)
        sleep_ms(20);
    put(f->v, "profile", "me", "{\"email\": \"c@x.example\"}");
    assert_int_equal(outbox_count(f->v, "acme", 0), told);
    /* nor once it has been noticed */
    assert_true(vrm_grants_expire(f->v, wall_ns(), NULL) >= 0);
    put(f->v, "profile", "me", "{\"email\": \"d@x.example\"}");
    assert_int_equal(outbox_count(f->v, "acme", 0), told);
}

/* A rename is a change of two records: the old name is gone, the new one
 * holds the values (a regression test: vrm_record_rename once told no
 * vendor), and a record the rename replaces is gone too. */
static void test_updates_rename(void **state)
{
    fixture *f = *state;
    names l;
    size_t i;
    int gone = 0, came = 0;

    gput_ok(f->v, "acme", "{\"grants\": [{\"fields\": [\"profile.email\"], \"purpose\": "
                          "\"p\", \"notify\": true}]}");
    put(f->v, "profile", "me", "{\"email\": \"a@x.example\"}");
    assert_int_equal(outbox_count(f->v, "acme", 0), 1);
    assert_int_equal(vrm_record_rename(f->v, "profile", "me", "profile", "home", 0), 0);
    l = outbox_ids(f->v, "acme", 0);
    for (i = 1; i < l.n; i++) {
        cJSON *b = update_body(f->v, "acme", i);
        char *text = cJSON_PrintUnformatted(b);

        gone += json_same(text, "{\"collection\": \"profile\", \"record\": \"me\", "
                                "\"values\": null}");
        came += json_same(text, "{\"collection\": \"profile\", \"record\": \"home\", "
                                "\"values\": {\"email\": \"a@x.example\"}}");
        free(text);
        cJSON_Delete(b);
    }
    names_free(&l);
    assert_int_equal(gone, 1);
    assert_int_equal(came, 1);
}

/* ---- inbox --------------------------------------------------------------------- */

/* The person's pairwise identity for vendor (vrm_identity_free). */
static vrm_identity *person(vrm_vault *v, const char *vendor)
{
    vrm_identity *id = NULL;

    assert_int_equal(vrm_identity_derive(v, vendor, &id), 0);
    return id;
}

/* Drop bytes into VAULT/inbox/VENDOR/ as a maildir writer would. */
static void spool_drop(fixture *f, const char *vendor, const char *file, const void *data,
                       size_t len)
{
    char *tmpd = fmt("%s/inbox/%s/tmp", f->vault, vendor);
    char *newd = fmt("%s/inbox/%s/new", f->vault, vendor);
    char *from = fmt("%s/%s", tmpd, file), *to = fmt("%s/%s", newd, file);
    int fd;

    mkdir_p(tmpd);
    mkdir_p(newd);
    fd = open(from, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    assert_int_equal(rename(from, to), 0);
    free(from);
    free(to);
    free(tmpd);
    free(newd);
}

/* Seal `payload` as the vendor with keys k to x25519 and drop it. */
static void spool_reply(fixture *f, const char *vendor, const char *file,
                        const vrm_vendor_keys *k, const uint8_t x25519[32], const char *payload)
{
    uint8_t *wire = NULL;
    size_t wlen = 0;

    assert_int_equal(vrm_envelope_vendor_seal(k, x25519, payload, strlen(payload), &wire, &wlen),
                     0);
    spool_drop(f, vendor, file, wire, wlen);
    free(wire);
}

/* A reply payload from acme to `to` with these fields. */
static char *reply_json(const char *id, const char *to, const char *extra)
{
    return fmt("{\"v\": 1, \"id\": \"%s\", \"kind\": \"reply\", \"from\": \"acme\", "
               "\"to\": \"%s\", \"created\": \"2026-03-01T10:00:00Z\", "
               "\"body\": {\"text\": \"thanks\"}%s}",
               id, to, extra);
}

static size_t dir_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    size_t n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_inbox_accept(void **state)
{
    fixture *f = *state;
    vrm_identity *me = person(f->v, "acme");
    char *json = reply_json("r-1", vrm_identity_id(me),
                            ", \"in_reply_to\": \"AAAAAAAAAAAAAAAAAAAAAA\"");
    char *spooled = fmt("%s/inbox/acme/new/reply1", f->vault);
    char *newd = fmt("%s/inbox/acme/new", f->vault), *out = NULL;
    int64_t before = wall_ns(), t = 0;
    names l = {NULL, 0};
    size_t len = 0;
    int rc;

    spool_reply(f, "acme", "reply1", f->acme, vrm_identity_box_pk(me), json);
    rc = vrm_inbox_scan(f->v, f->vault);
    if (rc != 1)
        fail_msg("scan: %d %s", rc, vrm_error_message());
    assert_false(file_exists(spooled));
    assert_int_equal(vrm_inbox_list(f->v, "acme", names_add, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0], "r-1");
    names_free(&l);
    assert_int_equal(vrm_inbox_get(f->v, "acme", "r-1", &out, &len, &t), 0);
    assert_int_equal(strlen(out), len);
    assert_true(len > 0 && out[len - 1] == '\n');
    assert_true(json_same(out, json));
    assert_true(t >= before && t <= wall_ns());
    free(out);
    assert_int_equal(vrm_inbox_rejected_list(f->v, names_add, &l), 0);
    assert_int_equal(l.n, 0);

    /* nothing more: a scan finds nothing */
    assert_int_equal(vrm_inbox_scan(f->v, f->vault), 0);

    /* the same id again (a redelivery, even altered): dropped, the first kept */
    {
        char *again = fmt("{\"v\": 1, \"id\": \"r-1\", \"kind\": \"reply\", \"from\": \"acme\", "
                          "\"to\": \"%s\", \"created\": \"2026-03-02T10:00:00Z\", "
                          "\"body\": {\"text\": \"changed\"}}",
                          vrm_identity_id(me));

        spool_reply(f, "acme", "reply1-again", f->acme, vrm_identity_box_pk(me), again);
        free(again);
    }
    rc = vrm_inbox_scan(f->v, f->vault);
    assert_int_equal(rc, 1);
    assert_int_equal(dir_entries(newd), 0);
    assert_int_equal(inbox_count(f->v, "acme"), 1);
    assert_int_equal(vrm_inbox_get(f->v, "acme", "r-1", &out, &len, NULL), 0);
    assert_true(json_same(out, json));
    free(out);
    assert_int_equal(vrm_inbox_rejected_list(f->v, names_add, &l), 0);
    assert_int_equal(l.n, 0);

    /* a second reply is listed after the first */
    free(json);
    json = reply_json("r-2", vrm_identity_id(me), "");
    spool_reply(f, "acme", "reply2", f->acme, vrm_identity_box_pk(me), json);
    assert_int_equal(vrm_inbox_scan(f->v, f->vault), 1);
    assert_int_equal(vrm_inbox_list(f->v, "acme", names_add, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.s[0], "r-1");
    assert_string_equal(l.s[1], "r-2");
    names_free(&l);

    /* forgetting one */
    assert_int_equal(vrm_inbox_delete(f->v, "acme", "r-1"), 0);
    assert_int_equal(vrm_inbox_get(f->v, "acme", "r-1", &out, &len, NULL), -ENOENT);
    assert_int_equal(vrm_inbox_delete(f->v, "acme", "r-1"), -ENOENT);
    assert_int_equal(vrm_inbox_delete(f->v, "bolt", "r-2"), -ENOENT);
    assert_int_equal(vrm_inbox_list(f->v, "acme", names_add, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0], "r-2");
    names_free(&l);

    free(json);
    free(spooled);
    free(newd);
    vrm_identity_free(me);
}

typedef struct bad_reply {
    const char *file;
    const char *reason;               /* a part of the recorded reason, or NULL */
} bad_reply;

static void test_inbox_rejected(void **state)
{
    fixture *f = *state;
    vrm_identity *me = person(f->v, "acme"), *other = person(f->v, "other");
    vrm_vendor_keys *stranger = NULL, *kb = NULL;
    char *newd = fmt("%s/inbox/acme/new", f->vault), *json, *ep = fmt("dir:%s", f->spool);
    static const bad_reply bad[] = {
        {"garbage", NULL},
        {"empty", NULL},
        {"stranger", NULL},
        {"sealed-other", NULL},
        {"kind-note", "kind"},
        {"to-other", "\"to\""},
        {"unknown-key", "unknown key"},
        {"bad-created", "created"},
        {"v2", "\"v\""},
        {"not-object", NULL},
        {"no-body", "body"},
        {"bad-id", "\"id\""},
        {"bad-in-reply-to", "in_reply_to"},
        {NULL, NULL},
    };
    names l = {NULL, 0};
    size_t i;
    int rc;

    assert_int_equal(vrm_vendor_keys_generate(&stranger), 0);
    assert_int_equal(vrm_vendor_keys_generate(&kb), 0);

    spool_drop(f, "acme", "garbage", "this is not a sealed box at all, just some bytes", 48);
    spool_drop(f, "acme", "empty", "", 0);
    /* signed by a key other than acme's */
    json = reply_json("s-1", vrm_identity_id(me), "");
    spool_reply(f, "acme", "stranger", stranger, vrm_identity_box_pk(me), json);
    free(json);
    /* sealed to the person's identity for another vendor */
    json = reply_json("s-2", vrm_identity_id(me), "");
    spool_reply(f, "acme", "sealed-other", f->acme, vrm_identity_box_pk(other), json);
    free(json);
    json = fmt("{\"v\": 1, \"id\": \"s-3\", \"kind\": \"note\", \"from\": \"acme\", \"to\": "
               "\"%s\", \"created\": \"2026-03-01T10:00:00Z\", \"body\": {}}",
               vrm_identity_id(me));
    spool_reply(f, "acme", "kind-note", f->acme, vrm_identity_box_pk(me), json);
    free(json);
    json = reply_json("s-4", vrm_identity_id(other), "");
    spool_reply(f, "acme", "to-other", f->acme, vrm_identity_box_pk(me), json);
    free(json);
    json = reply_json("s-5", vrm_identity_id(me), ", \"price\": 12");
    spool_reply(f, "acme", "unknown-key", f->acme, vrm_identity_box_pk(me), json);
    free(json);
    json = fmt("{\"v\": 1, \"id\": \"s-6\", \"kind\": \"reply\", \"from\": \"acme\", \"to\": "
               "\"%s\", \"created\": \"yesterday\", \"body\": {}}",
               vrm_identity_id(me));
    spool_reply(f, "acme", "bad-created", f->acme, vrm_identity_box_pk(me), json);
    free(json);
    json = fmt("{\"v\": 2, \"id\": \"s-7\", \"kind\": \"reply\", \"from\": \"acme\", \"to\": "
               "\"%s\", \"created\": \"2026-03-01T10:00:00Z\", \"body\": {}}",
               vrm_identity_id(me));
    spool_reply(f, "acme", "v2", f->acme, vrm_identity_box_pk(me), json);
    free(json);
    spool_reply(f, "acme", "not-object", f->acme, vrm_identity_box_pk(me), "[1, 2]");
    json = fmt("{\"v\": 1, \"id\": \"s-9\", \"kind\": \"reply\", \"from\": \"acme\", \"to\": "
               "\"%s\", \"created\": \"2026-03-01T10:00:00Z\"}",
               vrm_identity_id(me));
    spool_reply(f, "acme", "no-body", f->acme, vrm_identity_box_pk(me), json);
    free(json);
    json = reply_json("../s-10", vrm_identity_id(me), "");
    spool_reply(f, "acme", "bad-id", f->acme, vrm_identity_box_pk(me), json);
    free(json);
    json = reply_json("s-11", vrm_identity_id(me), ", \"in_reply_to\": 42");
    spool_reply(f, "acme", "bad-in-reply-to", f->acme, vrm_identity_box_pk(me), json);
    free(json);

    rc = vrm_inbox_scan(f->v, f->vault);
    if (rc != 13)
        fail_msg("scan: %d (%s), want 13", rc, vrm_error_message());
    assert_int_equal(dir_entries(newd), 0);
    assert_int_equal(inbox_count(f->v, "acme"), 0);

    assert_int_equal(vrm_inbox_rejected_list(f->v, names_add, &l), 0);
    assert_int_equal(l.n, 13);
    for (i = 0; bad[i].file != NULL; i++) {
        char *name = fmt("acme.%s", bad[i].file);
        char *moved = fmt("%s/inbox/.rejected/%s", f->vault, name), *out = NULL;
        int64_t t = 0;
        size_t len = 0;
        cJSON *doc;
        const cJSON *size;

        if (!names_has(&l, name))
            fail_msg("%s not among the rejected", name);
        assert_true(file_exists(moved));
        assert_int_equal(vrm_inbox_rejected_get(f->v, name, &out, &len, &t), 0);
        assert_int_equal(strlen(out), len);
        doc = cJSON_Parse(out);
        assert_non_null(doc);
        assert_string_equal(str_of(doc, "vendor"), "acme");
        assert_string_equal(str_of(doc, "file"), bad[i].file);
        assert_true(strlen(str_of(doc, "reason")) > 0);
        if (bad[i].reason != NULL && strstr(str_of(doc, "reason"), bad[i].reason) == NULL)
            fail_msg("%s: reason \"%s\" does not mention %s", name, str_of(doc, "reason"),
                     bad[i].reason);
        size = cJSON_GetObjectItemCaseSensitive(doc, "size");
        assert_true(cJSON_IsNumber(size));
        assert_int_equal((off_t)size->valuedouble, tu_file_size(moved));
        assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "received")));
        assert_true(t > 0);
        cJSON_Delete(doc);
        free(out);
        free(moved);
        free(name);
    }
    names_free(&l);
    {
        char *out = NULL;
        size_t len = 0;

        assert_int_equal(vrm_inbox_rejected_get(f->v, "acme.nosuch", &out, &len, NULL),
                         -ENOENT);
    }
    /* nothing rejected shows as a reply, under any id */
    {
        static const char *const sids[] = {"s-1", "s-2", "s-3", "s-4", "s-5", "s-6", "s-7",
                                           "s-9", "s-11", NULL};
        char *out = NULL;
        size_t len = 0;

        for (i = 0; sids[i] != NULL; i++)
            assert_int_equal(vrm_inbox_get(f->v, "acme", sids[i], &out, &len, NULL), -ENOENT);
        assert_int_equal(inbox_count(f->v, "other"), 0);
    }

    /* a vendor without keys.ed25519: its replies cannot be checked */
    vendor_set(f, "bolt", kb, 0, 1, ep, NULL, -1);
    {
        vrm_identity *mb = person(f->v, "bolt");
        char *name, *out = NULL;
        size_t len = 0;
        cJSON *doc;

        json = fmt("{\"v\": 1, \"id\": \"b-1\", \"kind\": \"reply\", \"from\": \"bolt\", "
                   "\"to\": \"%s\", \"created\": \"2026-03-01T10:00:00Z\", \"body\": {}}",
                   vrm_identity_id(mb));
        spool_reply(f, "bolt", "unverifiable", kb, vrm_identity_box_pk(mb), json);
        free(json);
        assert_int_equal(vrm_inbox_scan(f->v, f->vault), 1);
        assert_int_equal(inbox_count(f->v, "bolt"), 0);
        name = fmt("%s/inbox/.rejected/bolt.unverifiable", f->vault);
        assert_true(file_exists(name));
        free(name);
        assert_int_equal(vrm_inbox_rejected_get(f->v, "bolt.unverifiable", &out, &len, NULL),
                         0);
        doc = cJSON_Parse(out);
        assert_non_null(strstr(str_of(doc, "reason"), "ed25519"));
        cJSON_Delete(doc);
        free(out);

        /* with its key, the same reply is taken */
        vendor_set(f, "bolt", kb, 1, 1, ep, NULL, -1);
        json = fmt("{\"v\": 1, \"id\": \"b-1\", \"kind\": \"reply\", \"from\": \"bolt\", "
                   "\"to\": \"%s\", \"created\": \"2026-03-01T10:00:00Z\", \"body\": {}}",
                   vrm_identity_id(mb));
        spool_reply(f, "bolt", "verifiable", kb, vrm_identity_box_pk(mb), json);
        free(json);
        assert_int_equal(vrm_inbox_scan(f->v, f->vault), 1);
        assert_int_equal(inbox_count(f->v, "bolt"), 1);
        vrm_identity_free(mb);
    }
    assert_int_equal(inbox_count(f->v, "acme"), 0);
    assert_int_equal(vrm_inbox_rejected_list(f->v, names_add, &l), 0);
    assert_int_equal(l.n, 14);
    names_free(&l);

    free(ep);
    free(newd);
    vrm_vendor_keys_free(stranger);
    vrm_vendor_keys_free(kb);
    vrm_identity_free(other);
    vrm_identity_free(me);
}

/* A disclose of a collection the vault has not: the message names it (a
 * regression test: the path was once freed before the message was made). */
static void test_submit_unknown_collection(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {
        "{\"kind\": \"disclose\", \"fields\": [\"nosuch.email\"]}",
        "{\"kind\": \"disclose\", \"fields\": [\"profile.email\", \"nosuch.*\"]}",
        NULL,
    };
    size_t i;

    put(f->v, "profile", "me", "{\"email\": \"ann@example.org\"}");
    for (i = 0; bad[i] != NULL; i++) {
        ids got = {.n = 0};
        int rc = submit(f->v, "acme", bad[i], &got);

        if (rc != -EINVAL)
            fail_msg("submit %s: %d (%s), want -EINVAL", bad[i], rc, vrm_error_message());
        assert_int_equal(got.n, 0);
        /* the message names the missing collection */
        if (strstr(vrm_error_message(), "nosuch") == NULL)
            fail_msg("message \"%s\" does not name the collection", vrm_error_message());
    }
    assert_outbox_empty(f->v);
    assert_int_equal(tu_receipt_count(f->v, "acme"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_accepted_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_note, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_terms_and_to, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_disclose, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intent_broadcast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_after_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_failure_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates_pushed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates_front_door, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates_created, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates_expired_grant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox_accept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox_rejected, setup, teardown),

        cmocka_unit_test_setup_teardown(test_submit_unknown_collection, setup, teardown),
    };

    if (vrm_transport_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
