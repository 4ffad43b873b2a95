/*
 * test_identity.c: pairwise identities, base64url, JWS (EdDSA) and signed,
 * chained consent receipts.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "consent/identity.h"
#include "consent/jws.h"
#include "consent/receipt.h"
#include "store/vault_int.h"
#include "consent/receipt_int.h"

typedef tu_fixture fixture;

static vrm_identity *derive(vrm_vault *v, const char *vendor)
{
    vrm_identity *id = NULL;
    int rc = vrm_identity_derive(v, vendor, &id);

    if (rc != 0)
        fail_msg("vrm_identity_derive(%s): %d %s", vendor, rc, vrm_error_message());
    return id;
}

/* A copy of the base64url of s[0..len) (malloc'd). */
static char *b64(const void *s, size_t len)
{
    size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(n);

    assert_non_null(out);
    assert_int_equal(vrm_b64url_encode(out, n, s, len), 0);
    return out;
}

/* ---- identity ---------------------------------------------------------- */

static void test_identity_derive(void **state)
{
    fixture *f = *state;
    vrm_identity *a = derive(f->v, "acme"), *a2 = derive(f->v, "acme");
    vrm_identity *b = derive(f->v, "bolt"), *o;
    char *other = tu_make_vault(f->tmp, "other");
    vrm_vault *v2 = tu_open(other);
    uint8_t raw[32], q[32], pk[32];
    vrm_identity *bad = (vrm_identity *)&bad;

    /* Same vault and vendor: the same identity, byte for byte. */
    assert_string_equal(vrm_identity_id(a), vrm_identity_id(a2));
    assert_string_equal(vrm_identity_ed25519(a), vrm_identity_ed25519(a2));
    assert_string_equal(vrm_identity_x25519(a), vrm_identity_x25519(a2));
    assert_memory_equal(vrm_identity_sign_sk(a), vrm_identity_sign_sk(a2), 64);
    assert_memory_equal(vrm_identity_box_sk(a), vrm_identity_box_sk(a2), 32);

    /* Another vendor, or another vault: nothing in common. */
    o = derive(v2, "acme");
    assert_string_not_equal(vrm_identity_id(a), vrm_identity_id(b));
    assert_string_not_equal(vrm_identity_ed25519(a), vrm_identity_ed25519(b));
    assert_string_not_equal(vrm_identity_x25519(a), vrm_identity_x25519(b));
    assert_string_not_equal(vrm_identity_id(a), vrm_identity_id(o));
    assert_string_not_equal(vrm_identity_ed25519(a), vrm_identity_ed25519(o));
    assert_string_not_equal(vrm_identity_x25519(a), vrm_identity_x25519(o));
    assert_string_not_equal(vrm_identity_ed25519(a), vrm_identity_x25519(a));

    /* The texts decode to the raw keys; the key pairs belong together. */
    assert_int_equal(vrm_b64url_decode(raw, 16, vrm_identity_id(a)), 0);
    assert_int_equal(strlen(vrm_identity_id(a)), 22);
    assert_int_equal(vrm_b64url_decode(raw, 32, vrm_identity_ed25519(a)), 0);
    assert_memory_equal(raw, vrm_identity_sign_pk(a), 32);
    assert_int_equal(vrm_b64url_decode(raw, 32, vrm_identity_x25519(a)), 0);
    assert_memory_equal(raw, vrm_identity_box_pk(a), 32);
    assert_int_equal(crypto_scalarmult_base(q, vrm_identity_box_sk(a)), 0);
    assert_memory_equal(q, vrm_identity_box_pk(a), 32);
    assert_int_equal(crypto_sign_ed25519_sk_to_pk(pk, vrm_identity_sign_sk(a)), 0);
    assert_memory_equal(pk, vrm_identity_sign_pk(a), 32);

    /* Only valid vendor names. */
    assert_int_equal(vrm_identity_derive(f->v, "all", &bad), -EINVAL);
    assert_null(bad);
    assert_int_equal(vrm_identity_derive(f->v, "Acme", &bad), -EINVAL);
    assert_int_equal(vrm_identity_derive(f->v, "", &bad), -EINVAL);
    assert_int_equal(vrm_identity_derive(f->v, "a/b", &bad), -EINVAL);

    vrm_identity_free(NULL);
    vrm_identity_free(o);
    vrm_identity_free(b);
    vrm_identity_free(a2);
    vrm_identity_free(a);
    assert_int_equal(vrm_vault_close(v2), 0);
    free(other);
}

static void test_identity_json(void **state)
{
    fixture *f = *state;
    vrm_identity *a = derive(f->v, "acme");
    char *json = NULL;
    size_t len = 0;
    cJSON *o = NULL;
    const char *keys[] = {"id", "ed25519", "x25519"};
    const char *want[3];
    int i;

    want[0] = vrm_identity_id(a);
    want[1] = vrm_identity_ed25519(a);
    want[2] = vrm_identity_x25519(a);
    assert_int_equal(vrm_identity_json(a, &json, &len), 0);
    assert_int_equal(strlen(json), len);
    assert_int_equal(vrm_identity_json_size(), len);
    assert_true(len > 2 && json[len - 1] == '\n' && json[len - 2] == '}');
    assert_non_null(strstr(json, "\n  \"id\": \""));
    assert_int_equal(vrm_json_parse_object(json, len, &o), 0);
    assert_int_equal(cJSON_GetArraySize(o), 3);
    for (i = 0; i < 3; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, keys[i]);

        assert_true(cJSON_IsString(it));
        assert_string_equal(it->valuestring, want[i]);
    }
    cJSON_Delete(o);
    free(json);
    vrm_identity_free(a);

    /* the same size for every identity, of any vendor name's length */
    for (i = 0; i < 3; i++) {
        static const char *const vendors[] = {"a", "bolt-and-nut_supplies-2", "x9"};

        a = derive(f->v, vendors[i]);
        assert_int_equal(vrm_identity_json(a, &json, &len), 0);
        assert_int_equal(vrm_identity_json_size(), len);
        free(json);
        vrm_identity_free(a);
    }
}

/* ---- base64url --------------------------------------------------------- */

static void test_b64url(void **state)
{
    uint8_t in[40], out[40];
    char text[VRM_ID_B64_MAX];
    size_t n;

    (void)state;
    randombytes_buf(in, sizeof in);
    for (n = 0; n <= sizeof in; n++) {
        size_t want = (n * 4 + 2) / 3;     /* unpadded length */

        assert_int_equal(vrm_b64url_encode(text, sizeof text, in, n), 0);
        assert_int_equal(strlen(text), want);
        assert_null(strpbrk(text, "+/="));
        memset(out, 0xa5, sizeof out);
        assert_int_equal(vrm_b64url_decode(out, n, text), 0);
        assert_memory_equal(out, in, n);
        /* One byte more or fewer than the text holds is refused. */
        if (n > 0)
            assert_int_equal(vrm_b64url_decode(out, n - 1, text), -EINVAL);
        if (n < sizeof in)
            assert_int_equal(vrm_b64url_decode(out, n + 1, text), -EINVAL);
    }

    /* Known text; room for exactly the text and its NUL, not one byte less. */
    assert_int_equal(vrm_b64url_encode(text, 5, (const uint8_t *)"\xfb\xff\xbf", 3), 0);
    assert_string_equal(text, "-_-_");
    assert_int_equal(vrm_b64url_encode(text, 4, (const uint8_t *)"\xfb\xff\xbf", 3), -ENOSPC);
    assert_int_equal(vrm_b64url_encode(text, 3, (const uint8_t *)"ab", 2), -ENOSPC);
    assert_int_equal(vrm_b64url_encode(text, 4, (const uint8_t *)"ab", 2), 0);
    assert_string_equal(text, "YWI");

    /* Padding, the standard alphabet, whitespace, stray characters, a
     * dangling character and non-zero trailing bits are all refused. */
    assert_int_equal(vrm_b64url_decode(out, 2, "YWI"), 0);
    assert_memory_equal(out, "ab", 2);
    assert_int_equal(vrm_b64url_decode(out, 2, "YWI="), -EINVAL);
    assert_int_equal(vrm_b64url_decode(out, 1, "YQ=="), -EINVAL);
    assert_int_equal(vrm_b64url_decode(out, 3, "+/+/"), -EINVAL);
    assert_int_equal(vrm_b64url_decode(out, 3, "-_-_"), 0);
    assert_int_equal(vrm_b64url_decode(out, 3, "-_-_\n"), -EINVAL);
    assert_int_equal(vrm_b64url_decode(out, 3, " -_-_"), -EINVAL);
    assert_int_equal(vrm_b64url_decode(out, 3, "-_.-_"), -EINVAL);
    assert_int_equal(vrm_b64url_decode(out, 3, "-_-_Y"), -EINVAL);
    assert_int_equal(vrm_b64url_decode(out, 2, "YWJ"), -EINVAL);   /* trailing bits */
    assert_int_equal(vrm_b64url_decode(out, 0, ""), 0);
    assert_int_equal(vrm_b64url_decode(out, 1, ""), -EINVAL);
}

/* ---- JWS --------------------------------------------------------------- */

/* RFC 8037 Appendix A.1 key and A.4 signature of "Example of Ed25519
 * signing" under the header {"alg":"EdDSA"}. */
static const char RFC8037_D[] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
static const char RFC8037_X[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
static const char RFC8037_JWS[] =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

static void test_jws_rfc8037(void **state)
{
    uint8_t d[32], x[32], pk[32], sk[64], sig[64], other[32];
    const char *input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    char *payload = NULL, *sigtext;
    size_t len = 0;

    (void)state;
    assert_int_equal(vrm_b64url_decode(d, 32, RFC8037_D), 0);
    assert_int_equal(vrm_b64url_decode(x, 32, RFC8037_X), 0);

    /* The RFC's private key gives its public key and, Ed25519 being
     * deterministic, its signature. */
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, d), 0);
    assert_memory_equal(pk, x, 32);
    assert_int_equal(crypto_sign_detached(sig, NULL, (const uint8_t *)input, strlen(input), sk), 0);
    sigtext = b64(sig, sizeof sig);
    assert_string_equal(sigtext, strrchr(RFC8037_JWS, '.') + 1);
    free(sigtext);
    sodium_memzero(sk, sizeof sk);

    assert_int_equal(vrm_jws_verify(RFC8037_JWS, x, &payload, &len), 0);
    assert_int_equal(len, strlen("Example of Ed25519 signing"));
    assert_string_equal(payload, "Example of Ed25519 signing");
    free(payload);
    assert_int_equal(vrm_jws_verify(RFC8037_JWS, x, NULL, NULL), 0);

    memcpy(other, x, 32);
    other[0] ^= 1;
    payload = (char *)"untouched";
    assert_int_equal(vrm_jws_verify(RFC8037_JWS, other, &payload, &len), -EBADMSG);
    assert_null(payload);
}

/* Decode segment i (0..2) of jws into a new NUL-terminated string. */
static char *segment(const char *jws, int i)
{
    const char *s = jws, *e;
    size_t n, got = 0;
    char *out;

    while (i-- > 0)
        s = strchr(s, '.') + 1;
    e = strchr(s, '.');
    n = e != NULL ? (size_t)(e - s) : strlen(s);
    out = calloc(1, n + 1);
    assert_non_null(out);
    assert_int_equal(sodium_base642bin((uint8_t *)out, n, s, n, NULL, &got, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
    return out;
}

/* A JWS of header text `hdr` and payload `payload` signed with sk (or with
 * the signature `sig_b64` as given when it is not NULL); malloc'd. */
static char *forge(const char *hdr, const char *payload, const uint8_t *sk, const char *sig_b64)
{
    char *h = b64(hdr, strlen(hdr)), *p = b64(payload, strlen(payload)), *input, *s, *jws;
    uint8_t sig[64];

    assert_true(asprintf(&input, "%s.%s", h, p) > 0);
    if (sig_b64 == NULL) {
        assert_int_equal(crypto_sign_detached(sig, NULL, (const uint8_t *)input, strlen(input),
                                              sk), 0);
        s = b64(sig, sizeof sig);
    } else {
        s = strdup(sig_b64);
    }
    assert_true(asprintf(&jws, "%s.%s", input, s) > 0);
    free(s);
    free(input);
    free(p);
    free(h);
    return jws;
}

static void test_jws_sign_verify(void **state)
{
    fixture *f = *state;
    vrm_identity *a = derive(f->v, "acme"), *b = derive(f->v, "bolt");
    const char msg[] = "{\"hello\":\"world\"}";
    char *jws = NULL, *jws2 = NULL, *payload = NULL, *hdr, *want;
    size_t len = 0;
    cJSON *h = NULL;

    assert_int_equal(vrm_jws_sign(a, "JWT", msg, strlen(msg), &jws), 0);
    assert_int_equal(vrm_jws_verify(jws, vrm_identity_sign_pk(a), &payload, &len), 0);
    assert_int_equal(len, strlen(msg));
    assert_string_equal(payload, msg);
    free(payload);

    /* The header: alg, kid (the pairwise id), typ, compact. */
    hdr = segment(jws, 0);
    assert_true(asprintf(&want, "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                         vrm_identity_id(a)) > 0);
    assert_string_equal(hdr, want);
    free(want);
    free(hdr);

    /* Without typ; an empty payload is a legal JWS. */
    assert_int_equal(vrm_jws_sign(a, NULL, "", 0, &jws2), 0);
    hdr = segment(jws2, 0);
    assert_int_equal(vrm_json_parse_object(hdr, strlen(hdr), &h), 0);
    assert_int_equal(cJSON_GetArraySize(h), 2);
    assert_null(cJSON_GetObjectItemCaseSensitive(h, "typ"));
    cJSON_Delete(h);
    free(hdr);
    assert_non_null(strstr(jws2, ".."));
    assert_int_equal(vrm_jws_verify(jws2, vrm_identity_sign_pk(a), &payload, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(payload, "");
    free(payload);
    free(jws2);

    /* Another vendor's key does not verify it. */
    assert_int_equal(vrm_jws_verify(jws, vrm_identity_sign_pk(b), NULL, NULL), -EBADMSG);
    free(jws);
    vrm_identity_free(b);
    vrm_identity_free(a);
}

static void test_jws_tamper(void **state)
{
    fixture *f = *state;
    vrm_identity *a = derive(f->v, "acme");
    const uint8_t *pk = vrm_identity_sign_pk(a);
    const char msg[] = "{\"receiptNumber\":1,\"event\":\"grant\"}";
    char *jws = NULL, *t, *payload = NULL, *sig;
    size_t i, n, len;
    int seg = 0;

    assert_int_equal(vrm_jws_sign(a, "JWT", msg, strlen(msg), &jws), 0);
    n = strlen(jws);

    /* Any character of any segment changed to another of the alphabet:
     * either not canonical base64url or a signature that fails. */
    t = strdup(jws);
    for (i = 0; i < n; i++) {
        if (jws[i] == '.') {
            seg++;
            continue;
        }
        t[i] = jws[i] == 'A' ? 'B' : 'A';
        payload = (char *)"untouched";
        if (vrm_jws_verify(t, pk, &payload, &len) != -EBADMSG)
            fail_msg("changing byte %zu (segment %d) of %s was not noticed", i, seg, jws);
        assert_null(payload);
        t[i] = jws[i];
    }
    assert_int_equal(seg, 2);
    free(t);

    /* Wrong number of segments. */
    assert_int_equal(vrm_jws_verify("", pk, NULL, NULL), -EBADMSG);
    assert_int_equal(vrm_jws_verify("abc", pk, NULL, NULL), -EBADMSG);
    assert_int_equal(vrm_jws_verify("..", pk, NULL, NULL), -EBADMSG);
    *strrchr(jws, '.') = '\0';                       /* header.payload */
    assert_int_equal(vrm_jws_verify(jws, pk, NULL, NULL), -EBADMSG);
    jws[strlen(jws)] = '.';
    assert_true(asprintf(&t, "%s.", jws) > 0);       /* four segments */
    assert_int_equal(vrm_jws_verify(t, pk, NULL, NULL), -EBADMSG);
    free(t);
    assert_true(asprintf(&t, "%s.%s", jws, "AAAA") > 0);
    assert_int_equal(vrm_jws_verify(t, pk, NULL, NULL), -EBADMSG);
    free(t);

    /* Bad base64: padding added, the standard alphabet, a space. */
    assert_true(asprintf(&t, "%s==", jws) > 0);
    assert_int_equal(vrm_jws_verify(t, pk, NULL, NULL), -EBADMSG);
    free(t);
    t = strdup(jws);
    t[1] = '+';
    assert_int_equal(vrm_jws_verify(t, pk, NULL, NULL), -EBADMSG);
    t[1] = ' ';
    assert_int_equal(vrm_jws_verify(t, pk, NULL, NULL), -EBADMSG);
    free(t);

    /* A signature one byte short, or one byte long. */
    sig = segment(jws, 2);
    t = b64(sig, 63);
    free(sig);
    sig = t;
    t = forge("{\"alg\":\"EdDSA\"}", msg, NULL, sig);
    assert_int_equal(vrm_jws_verify(t, pk, NULL, NULL), -EBADMSG);
    free(t);
    free(sig);

    /* alg none (unsigned, or with the real signature), other algs, a header
     * that is not an object or has a duplicate alg, and crit: all refused
     * even when properly signed. */
    sig = strrchr(jws, '.') + 1;
    t = forge("{\"alg\":\"none\"}", msg, NULL, "");
    assert_int_equal(vrm_jws_verify(t, pk, NULL, NULL), -EBADMSG);
    free(t);
    t = forge("{\"alg\":\"none\"}", msg, NULL, sig);
    assert_int_equal(vrm_jws_verify(t, pk, NULL, NULL), -EBADMSG);
    free(t);
    {
        static const char *const hdrs[] = {
            "{\"alg\":\"none\"}", "{\"alg\":\"HS256\"}", "{\"alg\":\"eddsa\"}", "{}",
            "{\"alg\":[\"EdDSA\"]}", "[\"EdDSA\"]", "\"EdDSA\"", "{\"alg\":\"EdDSA\"",
            "{\"alg\":\"EdDSA\",\"alg\":\"none\"}",
            "{\"alg\":\"EdDSA\",\"crit\":[\"b64\"],\"b64\":false}", NULL};
        uint8_t sk[64], p2[32];
        int k;

        crypto_sign_keypair(p2, sk);
        t = forge("{\"alg\":\"EdDSA\"}", msg, sk, NULL);
        assert_int_equal(vrm_jws_verify(t, p2, NULL, NULL), 0);
        free(t);
        for (k = 0; hdrs[k] != NULL; k++) {
            t = forge(hdrs[k], msg, sk, NULL);
            if (vrm_jws_verify(t, p2, NULL, NULL) != -EBADMSG)
                fail_msg("header %s was accepted", hdrs[k]);
            free(t);
        }
        sodium_memzero(sk, sizeof sk);
    }

    free(jws);
    vrm_identity_free(a);
}

/* ---- receipts ---------------------------------------------------------- */

enum { T_STR, T_INT, T_BOOL, T_ARR, T_OBJ, T_NULL_OR_STR };

typedef struct keyspec {
    const char *key;
    int type;
} keyspec;

/* obj has exactly the keys of spec, in that order, with those types. */
static void check_keys(const cJSON *obj, const keyspec *spec)
{
    const cJSON *it = obj->child;
    int i;

    assert_true(cJSON_IsObject(obj));
    for (i = 0; spec[i].key != NULL; i++, it = it->next) {
        int ok = 0;

        if (it == NULL || strcmp(it->string, spec[i].key) != 0)
            fail_msg("expected key %s at %d, found %s", spec[i].key, i,
                     it != NULL ? it->string : "(end)");
        switch (spec[i].type) {
        case T_STR: ok = cJSON_IsString(it); break;
        case T_INT: ok = cJSON_IsNumber(it) && it->valuedouble == (double)(int64_t)it->valuedouble; break;
        case T_BOOL: ok = cJSON_IsBool(it); break;
        case T_ARR: ok = cJSON_IsArray(it); break;
        case T_OBJ: ok = cJSON_IsObject(it); break;
        case T_NULL_OR_STR: ok = cJSON_IsNull(it) || cJSON_IsString(it); break;
        }
        if (!ok)
            fail_msg("%s has the wrong type", spec[i].key);
    }
    if (it != NULL)
        fail_msg("unexpected key %s", it->string);
}

static const keyspec receipt_keys[] = {
    {"version", T_STR}, {"jurisdiction", T_STR}, {"consentTimestamp", T_INT},
    {"collectionMethod", T_STR}, {"consentReceiptID", T_STR}, {"publicKey", T_STR},
    {"language", T_STR}, {"piiPrincipalId", T_STR}, {"piiControllers", T_ARR},
    {"policyUrl", T_STR}, {"services", T_ARR}, {"sensitive", T_BOOL}, {"spiCat", T_ARR},
    {"event", T_STR}, {"receiptNumber", T_INT}, {"previousReceipt", T_NULL_OR_STR},
    {"grants", T_ARR}, {NULL, 0}};
static const keyspec controller_keys[] = {
    {"piiController", T_STR}, {"contact", T_STR}, {"address", T_STR}, {"email", T_STR},
    {"phone", T_STR}, {"piiControllerUrl", T_STR}, {NULL, 0}};
static const keyspec service_keys[] = {{"service", T_STR}, {"purposes", T_ARR}, {NULL, 0}};
static const keyspec purpose_keys[] = {
    {"purpose", T_STR}, {"purposeCategory", T_ARR}, {"consentType", T_STR},
    {"piiCategory", T_ARR}, {"primaryPurpose", T_BOOL}, {"termination", T_STR},
    {"thirdPartyDisclosure", T_BOOL}, {"thirdPartyName", T_STR}, {NULL, 0}};

static cJSON *parse(const char *json)
{
    cJSON *o = NULL;

    if (vrm_json_parse_object(json, strlen(json), &o) != 0)
        fail_msg("not a JSON object: %s (%s)", json, vrm_error_message());
    return o;
}

/* Append a receipt the way grants.c does: locked, in a transaction. */
static int append(vrm_vault *v, const char *vendor, const char *body, const char *grants,
                  const char *event, int64_t now_s, int64_t *n)
{
    cJSON *vb = parse(body), *g = cJSON_Parse(grants);
    int rc;

    assert_non_null(g);
    vrm_vault_lock(v);
    rc = vrm_tx_begin(v);
    if (rc == 0)
        rc = vrm_tx_finish(v, vrm_receipt_append_locked(v, vendor, vb, g, event, now_s, n));
    vrm_vault_unlock(v);
    cJSON_Delete(g);
    cJSON_Delete(vb);
    return rc;
}

static const char ACME[] = "{\"name\":\"ACME Corp\",\"endpoint\":\"https://acme.example/vrm\","
                           "\"terms\":\"https://acme.example/terms\"}";
static const char G1[] = "[{\"fields\":[\"profile.email\",\"profile.address\"],"
                         "\"purpose\":\"delivery\",\"until\":\"2027-06-30T00:00:00Z\","
                         "\"notify\":true,\"_idx\":0}]";
static const char G2[] = "[{\"fields\":[\"profile.email\"],\"purpose\":\"delivery\",\"_idx\":0},"
                         "{\"fields\":[\"diet[kind=meal].*\",\"purchases.*\"],"
                         "\"purpose\":\"nutrition advice\",\"max_reads\":3,\"_idx\":1}]";

static int collect_n(void *ctx, int64_t n)
{
    char *s = ctx;
    char num[24];

    snprintf(num, sizeof num, "%lld ", (long long)n);
    strcat(s, num);
    return 0;
}

static int stop_at_2(void *ctx, int64_t n)
{
    (void)ctx;
    return n == 2 ? 42 : 0;
}

static char *get(vrm_vault *v, const char *vendor, int64_t n, int jws)
{
    char *out = NULL;
    size_t len = 0;
    int rc = vrm_receipt_get(v, vendor, n, jws, &out, &len);

    uint64_t size = 0;

    if (rc != 0)
        fail_msg("vrm_receipt_get(%s, %lld): %d %s", vendor, (long long)n, rc,
                 vrm_error_message());
    assert_int_equal(strlen(out), len);
    assert_true(len > 0 && out[len - 1] == '\n');
    /* the size said without the text is the text's */
    assert_int_equal(vrm_receipt_size(v, vendor, n, jws, &size), 0);
    assert_int_equal(size, len);
    return out;
}

static void test_receipts(void **state)
{
    fixture *f = *state;
    vrm_identity *a = derive(f->v, "acme");
    char listed[64] = "", *jws[4] = {NULL}, *json, *signed_payload = NULL, hex[65];
    uint8_t h[32];
    size_t len;
    int64_t n = 0, i;
    cJSON *r[4] = {NULL};

    assert_int_equal(vrm_receipt_verify_all(f->v), 0);            /* none yet */
    assert_int_equal(append(f->v, "acme", ACME, G1, "grant", 1700000000, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(append(f->v, "acme", ACME, G2, "change", 1700000100, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(append(f->v, "acme", "{\"name\":\"ACME Corp\"}", "[]", "revoke",
                            1700000200, &n), 0);
    assert_int_equal(n, 3);
    /* Another vendor's numbering is its own. */
    assert_int_equal(append(f->v, "bolt", "{\"name\":\"Bolt\"}", G1, "grant", 1700000300, &n), 0);
    assert_int_equal(n, 1);
    /* Unknown events and malformed grants write nothing. */
    assert_int_equal(append(f->v, "acme", ACME, G1, "bogus", 1, &n), -EINVAL);
    assert_int_equal(append(f->v, "acme", ACME, "[{\"purpose\":\"x\"}]", "change", 1, &n),
                     -EINVAL);
    assert_int_equal(append(f->v, "acme", ACME, "{}", "change", 1, &n), -EINVAL);

    assert_int_equal(vrm_receipt_list(f->v, "acme", collect_n, listed), 0);
    assert_string_equal(listed, "1 2 3 ");
    assert_int_equal(vrm_receipt_list(f->v, "acme", stop_at_2, NULL), 42);
    listed[0] = '\0';
    assert_int_equal(vrm_receipt_list(f->v, "nobody", collect_n, listed), 0);
    assert_string_equal(listed, "");
    assert_int_equal(vrm_receipt_get(f->v, "acme", 4, 1, &json, &len), -ENOENT);
    assert_int_equal(vrm_receipt_get(f->v, "acme", 0, 0, &json, &len), -ENOENT);
    {
        uint64_t size = 1;

        assert_int_equal(vrm_receipt_size(f->v, "acme", 4, 1, &size), -ENOENT);
        assert_int_equal(size, 0);
        assert_int_equal(vrm_receipt_size(f->v, "acme", 0, 0, &size), -ENOENT);
        assert_int_equal(vrm_receipt_size(f->v, "nobody", 1, 1, &size), -ENOENT);
    }

    for (i = 1; i <= 3; i++) {
        const cJSON *svc, *ctrl;
        char *pretty;

        jws[i] = get(f->v, "acme", i, 1);
        assert_null(strchr(jws[i], ' '));
        assert_ptr_equal(strchr(jws[i], '\n'), jws[i] + strlen(jws[i]) - 1);
        json = get(f->v, "acme", i, 0);
        r[i] = parse(json);
        check_keys(r[i], receipt_keys);

        /* N.json is the signed payload, pretty. */
        jws[i][strlen(jws[i]) - 1] = '\0';
        assert_int_equal(vrm_jws_verify(jws[i], vrm_identity_sign_pk(a), &signed_payload,
                                        &len), 0);
        {
            cJSON *sp = parse(signed_payload);

            assert_int_equal(vrm_json_pretty(sp, &pretty, &len), 0);
            assert_string_equal(pretty, json);
            free(pretty);
            cJSON_Delete(sp);
        }
        free(signed_payload);
        free(json);

        assert_string_equal(cJSON_GetObjectItem(r[i], "version")->valuestring, "KI-CR-v1.1.0");
        assert_string_equal(cJSON_GetObjectItem(r[i], "jurisdiction")->valuestring, "EU");
        assert_string_equal(cJSON_GetObjectItem(r[i], "collectionMethod")->valuestring,
                            "vrmfs grants.json");
        assert_string_equal(cJSON_GetObjectItem(r[i], "language")->valuestring, "en");
        assert_int_equal((int64_t)cJSON_GetObjectItem(r[i], "consentTimestamp")->valuedouble,
                         1700000000 + 100 * (i - 1));
        assert_int_equal((int64_t)cJSON_GetObjectItem(r[i], "receiptNumber")->valuedouble, i);
        assert_string_equal(cJSON_GetObjectItem(r[i], "publicKey")->valuestring,
                            vrm_identity_ed25519(a));
        assert_string_equal(cJSON_GetObjectItem(r[i], "piiPrincipalId")->valuestring,
                            vrm_identity_id(a));
        {
            const char *u = cJSON_GetObjectItem(r[i], "consentReceiptID")->valuestring;
            size_t k;

            assert_int_equal(strlen(u), 36);
            for (k = 0; k < 36; k++) {
                if (k == 8 || k == 13 || k == 18 || k == 23)
                    assert_int_equal(u[k], '-');
                else
                    assert_non_null(strchr("0123456789abcdef", u[k]));
            }
            assert_int_equal(u[14], '4');
            assert_non_null(strchr("89ab", u[19]));
        }
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r[i], "piiControllers")), 1);
        ctrl = cJSON_GetArrayItem(cJSON_GetObjectItem(r[i], "piiControllers"), 0);
        check_keys(ctrl, controller_keys);
        assert_string_equal(cJSON_GetObjectItem(ctrl, "piiController")->valuestring, "ACME Corp");
        assert_string_equal(cJSON_GetObjectItem(ctrl, "contact")->valuestring, "acme");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r[i], "services")), 1);
        svc = cJSON_GetArrayItem(cJSON_GetObjectItem(r[i], "services"), 0);
        check_keys(svc, service_keys);
        assert_string_equal(cJSON_GetObjectItem(svc, "service")->valuestring, "acme");
        {
            const cJSON *p;

            cJSON_ArrayForEach(p, cJSON_GetObjectItem(svc, "purposes"))
                check_keys(p, purpose_keys);
        }
        {
            const cJSON *g;

            cJSON_ArrayForEach(g, cJSON_GetObjectItem(r[i], "grants"))
                assert_null(cJSON_GetObjectItem(g, "_idx"));
        }
    }

    /* The chain: null, then the SHA-256 of the previous JWS text. */
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(r[1], "previousReceipt")));
    for (i = 2; i <= 3; i++) {
        crypto_hash_sha256(h, (const uint8_t *)jws[i - 1], strlen(jws[i - 1]));
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        assert_string_equal(cJSON_GetObjectItem(r[i], "previousReceipt")->valuestring, hex);
    }

    /* 1: grant with until, not sensitive. */
    {
        const cJSON *ctrl = cJSON_GetArrayItem(cJSON_GetObjectItem(r[1], "piiControllers"), 0);
        const cJSON *ps = cJSON_GetObjectItem(
            cJSON_GetArrayItem(cJSON_GetObjectItem(r[1], "services"), 0), "purposes");
        const cJSON *p = cJSON_GetArrayItem(ps, 0);
        char *text;

        assert_string_equal(cJSON_GetObjectItem(r[1], "event")->valuestring, "grant");
        assert_string_equal(cJSON_GetObjectItem(r[1], "policyUrl")->valuestring,
                            "https://acme.example/terms");
        assert_string_equal(cJSON_GetObjectItem(ctrl, "address")->valuestring,
                            "https://acme.example/vrm");
        assert_int_equal(cJSON_GetArraySize(ps), 1);
        assert_string_equal(cJSON_GetObjectItem(p, "purpose")->valuestring, "delivery");
        text = cJSON_PrintUnformatted(cJSON_GetObjectItem(p, "purposeCategory"));
        assert_string_equal(text, "[\"delivery\"]");
        free(text);
        text = cJSON_PrintUnformatted(cJSON_GetObjectItem(p, "piiCategory"));
        assert_string_equal(text, "[\"profile.email\",\"profile.address\"]");
        free(text);
        assert_string_equal(cJSON_GetObjectItem(p, "consentType")->valuestring, "EXPLICIT");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(p, "primaryPurpose")));
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(p, "thirdPartyDisclosure")));
        assert_string_equal(cJSON_GetObjectItem(p, "termination")->valuestring,
                            "2027-06-30T00:00:00Z");
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r[1], "sensitive")));
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r[1], "spiCat")), 0);
        text = cJSON_PrintUnformatted(cJSON_GetObjectItem(r[1], "grants"));
        assert_string_equal(text, "[{\"fields\":[\"profile.email\",\"profile.address\"],"
                                  "\"purpose\":\"delivery\",\"until\":\"2027-06-30T00:00:00Z\","
                                  "\"notify\":true}]");
        free(text);
    }
    /* 2: two purposes, diet makes it sensitive. */
    {
        const cJSON *ps = cJSON_GetObjectItem(
            cJSON_GetArrayItem(cJSON_GetObjectItem(r[2], "services"), 0), "purposes");
        const cJSON *spi = cJSON_GetObjectItem(r[2], "spiCat");

        assert_int_equal(cJSON_GetArraySize(ps), 2);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ps, 0), "termination")
                                ->valuestring, "on revocation by the person");
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ps, 1), "purpose")
                                ->valuestring, "nutrition advice");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r[2], "sensitive")));
        assert_int_equal(cJSON_GetArraySize(spi), 1);
        assert_string_equal(cJSON_GetArrayItem(spi, 0)->valuestring, "health");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r[2], "grants")), 2);
    }
    /* 3: a revocation lists no purposes; no terms, no endpoint. */
    {
        const cJSON *ctrl = cJSON_GetArrayItem(cJSON_GetObjectItem(r[3], "piiControllers"), 0);

        assert_string_equal(cJSON_GetObjectItem(r[3], "event")->valuestring, "revoke");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
                             cJSON_GetArrayItem(cJSON_GetObjectItem(r[3], "services"), 0),
                             "purposes")), 0);
        assert_string_equal(cJSON_GetObjectItem(r[3], "policyUrl")->valuestring, "");
        assert_string_equal(cJSON_GetObjectItem(ctrl, "address")->valuestring, "");
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r[3], "sensitive")));
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r[3], "grants")), 0);
    }
    /* Receipt IDs are fresh. */
    assert_string_not_equal(cJSON_GetObjectItem(r[1], "consentReceiptID")->valuestring,
                            cJSON_GetObjectItem(r[2], "consentReceiptID")->valuestring);

    assert_int_equal(vrm_receipt_verify_all(f->v), 0);

    /* A stored payload that is not the signed one. */
    assert_int_equal(vrm_vault_exec(f->v, "UPDATE receipts SET payload = "
                                          "replace(payload, 'delivery', 'marketing') "
                                          "WHERE vendor = 'acme' AND n = 2"), 0);
    assert_int_equal(vrm_receipt_verify_all(f->v), -EBADMSG);
    assert_non_null(strstr(vrm_error_message(), "acme"));
    assert_non_null(strstr(vrm_error_message(), "2"));

    for (i = 1; i <= 3; i++) {
        free(jws[i]);
        cJSON_Delete(r[i]);
    }
    vrm_identity_free(a);
}

/*
 * vrm_receipt_size of receipts stored in forms libvrm does not write (an
 * export brought in keeps what it holds): the size is still that of the
 * text vrm_receipt_get gives, and an unreadable payload the same error.
 */
static void test_receipt_size_stored_forms(void **state)
{
    fixture *f = *state;
    static const char *const forms[] = {
        /* spaces, an escape that prints as its character, a number that
         * prints shorter, a key with a multibyte character */
        "UPDATE receipts SET payload = '{ \"a\" : \"\\u0041\", \"n\": 1.0, "
        "\"\u00e9t\u00e9\": [ ] }' WHERE vendor = 'acme' AND n = 1",
        /* a JWS with a multibyte character: bytes, not characters */
        "UPDATE receipts SET jws = jws || '\u00e9' WHERE vendor = 'acme' AND n = 1",
        NULL};
    uint64_t size = 0;
    char *out = NULL;
    size_t len = 0;
    int k, jws;

    for (k = 0; forms[k] != NULL; k++) {
        assert_int_equal(vrm_vault_exec(f->v, "DELETE FROM receipts"), 0);
        assert_int_equal(append(f->v, "acme", ACME, G1, "grant", 1, NULL), 0);
        assert_int_equal(vrm_vault_exec(f->v, forms[k]), 0);
        for (jws = 0; jws <= 1; jws++)
            free(get(f->v, "acme", 1, jws));
    }
    assert_int_equal(vrm_vault_exec(f->v, "UPDATE receipts SET payload = 'not json' "
                                          "WHERE vendor = 'acme' AND n = 1"), 0);
    assert_int_equal(vrm_receipt_get(f->v, "acme", 1, 0, &out, &len), -EBADMSG);
    assert_int_equal(vrm_receipt_size(f->v, "acme", 1, 0, &size), -EBADMSG);
    free(get(f->v, "acme", 1, 1));
}

/* Other ways to break the chain: each one is noticed. */
static void test_receipts_tamper(void **state)
{
    fixture *f = *state;
    static const char *const breaks[] = {
        /* a receipt removed: the numbers no longer run 1..N */
        "DELETE FROM receipts WHERE vendor = 'acme' AND n = 2",
        /* the last one removed and the one before renumbered */
        "DELETE FROM receipts WHERE vendor = 'acme' AND n = 3; "
        "UPDATE receipts SET n = 3 WHERE vendor = 'acme' AND n = 2",
        /* a receipt's signature altered */
        "UPDATE receipts SET jws = substr(jws, 1, length(jws) - 2) || "
        "CASE WHEN substr(jws, -2, 1) = 'A' THEN 'B' ELSE 'A' END || substr(jws, -1) "
        "WHERE vendor = 'acme' AND n = 1",
        /* a receipt moved to another vendor */
        "UPDATE receipts SET vendor = 'bolt', n = 2 WHERE vendor = 'acme' AND n = 3",
        /* the first receipt replaced by the second (chain link missing) */
        "DELETE FROM receipts WHERE vendor = 'acme' AND n = 1; "
        "UPDATE receipts SET n = 1 WHERE vendor = 'acme' AND n = 2; "
        "UPDATE receipts SET n = 2 WHERE vendor = 'acme' AND n = 3",
        NULL};
    int k;

    for (k = 0; breaks[k] != NULL; k++) {
        int i;

        assert_int_equal(vrm_vault_exec(f->v, "DELETE FROM receipts"), 0);
        assert_int_equal(append(f->v, "bolt", "{\"name\":\"Bolt\"}", G1, "grant", 1, NULL), 0);
        for (i = 0; i < 3; i++)
            assert_int_equal(append(f->v, "acme", ACME, i == 2 ? "[]" : G2,
                                    i == 0 ? "grant" : i == 1 ? "change" : "revoke", 10 + i,
                                    NULL), 0);
        assert_int_equal(vrm_receipt_verify_all(f->v), 0);
        assert_int_equal(vrm_vault_exec(f->v, breaks[k]), 0);
        if (vrm_receipt_verify_all(f->v) != -EBADMSG)
            fail_msg("not noticed: %s", breaks[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_derive, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_identity_json, tu_setup, tu_teardown),
        cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_jws_rfc8037),
        cmocka_unit_test_setup_teardown(test_jws_sign_verify, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_jws_tamper, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_receipts, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_receipts_tamper, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_receipt_size_stored_forms, tu_setup, tu_teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
