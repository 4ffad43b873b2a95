/*
 * test_envelope.c: messages between the person and a vendor (envelope.h):
 * round trips both ways, the wire format, every tamper refused, the
 * vendor's key files.
 *
 * Two more modes serve tests/vendor.bats, which has no vault of its own to
 * derive a person's identity from:
 *
 *   test_envelope --write-fixtures DIR
 *       makes (or reuses) a vault DIR/vault and the vendor key DIR/vendor
 *       (reused if DIR/vendor/secret.json exists, as made by vrmfs vendor
 *       keygen), then writes DIR/identity.json (the person's identity for
 *       vendor "acme"), DIR/payload.json (pretty), DIR/msg.vrm (that
 *       payload from the person to the vendor) and DIR/other.vrm (the same
 *       payload from another vault's "acme" identity).
 *   test_envelope --check-reply DIR FILE
 *       opens FILE as the person of DIR/vault with vrm_envelope_open,
 *       checking the signature against DIR/vendor/public.json; prints the
 *       payload and exits 0, or the reason on stderr and exits 1.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "msg/envelope.h"
#include "consent/identity.h"
#include "consent/jws.h"

typedef struct fixture {
    char *tmp;
    char *vault;
    vrm_vault *v;
    vrm_identity *acme;             /* the person's identity for "acme" */
    vrm_identity *bolt;             /* ... for "bolt" */
    vrm_identity *other;            /* another vault's identity for "acme" */
    vrm_vendor_keys *k;             /* the vendor acme */
    vrm_vendor_keys *k2;            /* another vendor */
    uint8_t ed[32], x[32];          /* acme's public keys, raw */
    uint8_t ed2[32], x2[32];        /* the other vendor's */
} fixture;

static const char PAYLOAD[] =
    "{\"v\":1,\"id\":\"m1\",\"kind\":\"disclose\",\"from\":\"me\",\"to\":\"acme\","
    "\"created\":\"2026-11-23T14:02:57Z\",\"body\":{\"email\":\"ada@example.org\"}}";

static vrm_identity *derive(vrm_vault *v, const char *vendor)
{
    vrm_identity *id = NULL;
    int rc = vrm_identity_derive(v, vendor, &id);

    if (rc != 0)
        fail_msg("vrm_identity_derive(%s): %d %s", vendor, rc, vrm_error_message());
    return id;
}

static vrm_vendor_keys *vkeys(void)
{
    vrm_vendor_keys *k = NULL;

    assert_int_equal(vrm_vendor_keys_generate(&k), 0);
    assert_non_null(k);
    return k;
}

static void raw_keys(const vrm_vendor_keys *k, uint8_t ed[32], uint8_t x[32])
{
    assert_int_equal(vrm_b64url_decode(ed, 32, vrm_vendor_keys_ed25519(k)), 0);
    assert_int_equal(vrm_b64url_decode(x, 32, vrm_vendor_keys_x25519(k)), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char *other;
    vrm_vault *v2;

    f->tmp = tu_tempdir();
    f->vault = tu_make_vault(f->tmp, "vault");
    f->v = tu_open(f->vault);
    f->acme = derive(f->v, "acme");
    f->bolt = derive(f->v, "bolt");
    other = tu_make_vault(f->tmp, "other");
    v2 = tu_open(other);
    f->other = derive(v2, "acme");
    assert_int_equal(vrm_vault_close(v2), 0);
    free(other);
    f->k = vkeys();
    f->k2 = vkeys();
    raw_keys(f->k, f->ed, f->x);
    raw_keys(f->k2, f->ed2, f->x2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    vrm_vendor_keys_free(f->k2);
    vrm_vendor_keys_free(f->k);
    vrm_identity_free(f->other);
    vrm_identity_free(f->bolt);
    vrm_identity_free(f->acme);
    assert_int_equal(vrm_vault_close(f->v), 0);
    free(f->vault);
    tu_cleanup(f->tmp);
    free(f);
    return 0;
}

/* Seals, failing the test on error. */
static void p_seal(const vrm_identity *id, const uint8_t to[32], const char *payload,
                   size_t len, uint8_t **wire, size_t *wlen)
{
    int rc = vrm_envelope_seal(id, to, payload, len, wire, wlen);

    if (rc != 0)
        fail_msg("vrm_envelope_seal: %d %s", rc, vrm_error_message());
}

static void v_seal(const vrm_vendor_keys *k, const uint8_t to[32], const char *payload,
                   size_t len, uint8_t **wire, size_t *wlen)
{
    int rc = vrm_envelope_vendor_seal(k, to, payload, len, wire, wlen);

    if (rc != 0)
        fail_msg("vrm_envelope_vendor_seal: %d %s", rc, vrm_error_message());
}

/* The vendor opening `wire` must fail with -EBADMSG and hand out nothing. */
static void v_refuses(const vrm_vendor_keys *k, const uint8_t *person, const uint8_t *wire,
                      size_t wlen, const char *why)
{
    char signer[VRM_ID_B64_MAX] = "x";
    char *payload = (char *)&payload;
    size_t plen = 7;
    int rc = vrm_envelope_vendor_open(k, person, wire, wlen, &payload, &plen, signer);

    if (rc != -EBADMSG)
        fail_msg("%s: vendor_open gave %d, not -EBADMSG (%s)", why, rc, vrm_error_message());
    assert_null(payload);
    assert_int_equal(plen, 0);
    assert_string_equal(signer, "");
    assert_int_equal(strncmp(vrm_error_message(), "message: ", 9), 0);
}

static void p_refuses(const vrm_identity *id, const uint8_t vendor_ed[32], const uint8_t *wire,
                      size_t wlen, const char *why)
{
    char *payload = (char *)&payload;
    size_t plen = 7;
    int rc = vrm_envelope_open(id, vendor_ed, wire, wlen, &payload, &plen);

    if (rc != -EBADMSG)
        fail_msg("%s: open gave %d, not -EBADMSG (%s)", why, rc, vrm_error_message());
    assert_null(payload);
    assert_int_equal(plen, 0);
    assert_int_equal(strncmp(vrm_error_message(), "message: ", 9), 0);
}

/* out = tmpl with each "{c}" replaced by subs[c - 'a'] (NULL: left as
 * is); fails the test if it does not fit. */
static void fill(char *out, size_t size, const char *tmpl, const char *const subs[26])
{
    size_t pos = 0, n;
    const char *s;

    for (; *tmpl != '\0'; tmpl++) {
        if (tmpl[0] == '{' && tmpl[1] >= 'a' && tmpl[1] <= 'z' && tmpl[2] == '}' &&
            subs[tmpl[1] - 'a'] != NULL) {
            s = subs[tmpl[1] - 'a'];
            tmpl += 2;
        } else {
            s = NULL;
        }
        n = s != NULL ? strlen(s) : 1;
        if (pos + n >= size)
            fail_msg("fill: too long");
        memcpy(out + pos, s != NULL ? s : tmpl, n);
        pos += n;
    }
    out[pos] = '\0';
}

/* ---- round trips ------------------------------------------------------- */

static void test_person_to_vendor(void **state)
{
    fixture *f = *state;
    char signer[VRM_ID_B64_MAX];
    uint8_t *wire = NULL;
    char *payload = NULL;
    size_t wlen = 0, plen = 0;

    p_seal(f->acme, f->x, PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    assert_true(wlen > crypto_box_SEALBYTES + strlen(PAYLOAD));
    /* Any signer, then the pinned one. */
    assert_int_equal(vrm_envelope_vendor_open(f->k, NULL, wire, wlen, &payload, &plen, signer), 0);
    assert_int_equal(plen, strlen(PAYLOAD));
    assert_string_equal(payload, PAYLOAD);
    assert_string_equal(signer, vrm_identity_ed25519(f->acme));
    free(payload);
    assert_int_equal(vrm_envelope_vendor_open(f->k, vrm_identity_sign_pk(f->acme), wire, wlen,
                                              &payload, &plen, signer), 0);
    assert_string_equal(payload, PAYLOAD);
    free(payload);
    free(wire);

    /* An empty payload is a legal JWS, and round-trips. */
    p_seal(f->acme, f->x, "", 0, &wire, &wlen);
    assert_int_equal(vrm_envelope_vendor_open(f->k, NULL, wire, wlen, &payload, &plen, signer), 0);
    assert_int_equal(plen, 0);
    assert_string_equal(payload, "");
    free(payload);
    free(wire);
}

static void test_vendor_to_person(void **state)
{
    fixture *f = *state;
    uint8_t *wire = NULL;
    char *payload = NULL;
    size_t wlen = 0, plen = 0;

    v_seal(f->k, vrm_identity_box_pk(f->acme), PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    assert_int_equal(vrm_envelope_open(f->acme, f->ed, wire, wlen, &payload, &plen), 0);
    assert_int_equal(plen, strlen(PAYLOAD));
    assert_string_equal(payload, PAYLOAD);
    free(payload);
    free(wire);
}

/* Two seals of one payload differ (the sealed box's ephemeral key), and the
 * size is exactly the box overhead plus the JWS. */
static void test_seal_is_randomised(void **state)
{
    fixture *f = *state;
    uint8_t *w1 = NULL, *w2 = NULL;
    size_t l1 = 0, l2 = 0;

    p_seal(f->acme, f->x, PAYLOAD, strlen(PAYLOAD), &w1, &l1);
    p_seal(f->acme, f->x, PAYLOAD, strlen(PAYLOAD), &w2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_not_equal(w1, w2, l1);
    free(w1);
    free(w2);
}

/* ---- the wire format, read with the secret key from secret.json ---------- */

/* The vendor's raw X25519 secret, as a vendor's own code would get it. */
static void secret_x25519(const vrm_vendor_keys *k, const char *dir, uint8_t sk[32])
{
    char *path = tu_path(dir, "secret.json"), buf[1024];
    const cJSON *m;
    cJSON *o = NULL;
    ssize_t n;
    int fd;

    assert_int_equal(vrm_vendor_keys_save(k, dir), 0);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof buf);
    assert_true(n > 0);
    close(fd);
    assert_int_equal(vrm_json_parse_object(buf, (size_t)n, &o), 0);
    m = cJSON_GetObjectItemCaseSensitive(o, "x25519_secret");
    assert_true(cJSON_IsString(m));
    assert_int_equal(vrm_b64url_decode(sk, 32, m->valuestring), 0);
    cJSON_Delete(o);
    free(path);
}

static void test_wire_format(void **state)
{
    fixture *f = *state;
    char *dir = tu_path(f->tmp, "wirekey"), *jws, *hdr_text = NULL, expect[512], kid[64];
    uint8_t sk[32], h[32], *wire = NULL;
    size_t wlen = 0, hlen = 0;
    cJSON *hdr = NULL;
    char *payload = NULL;

    secret_x25519(f->k, dir, sk);
    p_seal(f->acme, f->x, PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    jws = calloc(1, wlen);
    assert_int_equal(crypto_box_seal_open((unsigned char *)jws, wire, wlen, f->x, sk), 0);
    /* The header, exactly, and a JWS that jws.h verifies with the
     * person's key. */
    assert_int_equal(vrm_jws_header(jws, &hdr), 0);
    assert_int_equal(vrm_json_compact(hdr, &hdr_text, &hlen), 0);
    snprintf(expect, sizeof expect,
             "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"vrm+jws\",\"jwk\":{\"kty\":\"OKP\","
             "\"crv\":\"Ed25519\",\"x\":\"%s\"}}",
             vrm_identity_id(f->acme), vrm_identity_ed25519(f->acme));
    assert_string_equal(hdr_text, expect);
    assert_int_equal(vrm_jws_verify(jws, vrm_identity_sign_pk(f->acme), &payload, NULL), 0);
    assert_string_equal(payload, PAYLOAD);
    free(payload);
    free(hdr_text);
    cJSON_Delete(hdr);
    free(jws);
    free(wire);

    /* The vendor's key id: BLAKE2b-256 of its Ed25519 key, 16 bytes. */
    assert_int_equal(crypto_generichash(h, sizeof h, f->ed, 32, NULL, 0), 0);
    assert_int_equal(vrm_b64url_encode(kid, sizeof kid, h, 16), 0);
    assert_string_equal(vrm_vendor_keys_kid(f->k), kid);
    assert_int_equal(strlen(kid), 22);
    sodium_memzero(sk, sizeof sk);
    free(dir);
}

/* ---- tampering ------------------------------------------------------------ */

static void test_every_byte_flipped(void **state)
{
    fixture *f = *state;
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    uint8_t *wire = NULL, *vwire = NULL;
    size_t wlen = 0, vwlen = 0, i, m;
    const char *small = "{\"v\":1}";

    p_seal(f->acme, f->x, small, strlen(small), &wire, &wlen);
    v_seal(f->k, vrm_identity_box_pk(f->acme), small, strlen(small), &vwire, &vwlen);
    for (i = 0; i < wlen; i++)
        for (m = 0; m < sizeof masks; m++) {
            wire[i] ^= masks[m];
            v_refuses(f->k, NULL, wire, wlen, "flipped byte to the vendor");
            wire[i] ^= masks[m];
        }
    for (i = 0; i < vwlen; i++)
        for (m = 0; m < sizeof masks; m++) {
            vwire[i] ^= masks[m];
            p_refuses(f->acme, f->ed, vwire, vwlen, "flipped byte to the person");
            vwire[i] ^= masks[m];
        }
    /* Untouched, both still open. */
    {
        char signer[VRM_ID_B64_MAX], *p = NULL;
        size_t pl = 0;

        assert_int_equal(vrm_envelope_vendor_open(f->k, NULL, wire, wlen, &p, &pl, signer), 0);
        free(p);
        assert_int_equal(vrm_envelope_open(f->acme, f->ed, vwire, vwlen, &p, &pl), 0);
        free(p);
    }
    free(vwire);
    free(wire);
}

static void test_truncated_and_empty(void **state)
{
    fixture *f = *state;
    uint8_t *wire = NULL, *vwire = NULL, *longer;
    size_t wlen = 0, vwlen = 0, i;
    size_t cuts[] = {1, 2, crypto_box_SEALBYTES - 1, crypto_box_SEALBYTES,
                     crypto_box_SEALBYTES + 1, 0 /* half */, 0 /* all but one */};

    p_seal(f->acme, f->x, PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    v_seal(f->k, vrm_identity_box_pk(f->acme), PAYLOAD, strlen(PAYLOAD), &vwire, &vwlen);
    cuts[5] = wlen / 2;
    cuts[6] = wlen - 1;
    for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        v_refuses(f->k, NULL, wire, cuts[i], "truncated");
        p_refuses(f->acme, f->ed, vwire, cuts[i] < vwlen ? cuts[i] : vwlen - 1, "truncated");
    }
    v_refuses(f->k, NULL, wire, 0, "empty");
    v_refuses(f->k, NULL, NULL, 0, "NULL");
    p_refuses(f->acme, f->ed, vwire, 0, "empty");
    p_refuses(f->acme, f->ed, NULL, 0, "NULL");
    /* One byte more is no better. */
    longer = malloc(wlen + 1);
    memcpy(longer, wire, wlen);
    longer[wlen] = 0;
    v_refuses(f->k, NULL, longer, wlen + 1, "a byte appended");
    free(longer);
    free(vwire);
    free(wire);
}

static void test_wrong_recipient(void **state)
{
    fixture *f = *state;
    uint8_t *wire = NULL;
    size_t wlen = 0;

    /* Sealed to the other vendor; sealed to the person's bolt identity. */
    p_seal(f->acme, f->x2, PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    v_refuses(f->k, NULL, wire, wlen, "sealed to another vendor");
    free(wire);
    v_seal(f->k, vrm_identity_box_pk(f->bolt), PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    p_refuses(f->acme, f->ed, wire, wlen, "sealed to another identity");
    free(wire);
    /* A vendor cannot open what a vendor sealed to the person either. */
    v_seal(f->k, vrm_identity_box_pk(f->acme), PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    v_refuses(f->k, NULL, wire, wlen, "a reply is not for the vendor");
    free(wire);
}

static void test_wrong_signer(void **state)
{
    fixture *f = *state;
    uint8_t *wire = NULL;
    size_t wlen = 0;

    /* The person's message, expected from another identity: bolt's of the
     * same vault, or acme's of another vault. */
    p_seal(f->acme, f->x, PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    v_refuses(f->k, vrm_identity_sign_pk(f->bolt), wire, wlen, "another identity");
    v_refuses(f->k, vrm_identity_sign_pk(f->other), wire, wlen, "another vault's identity");
    free(wire);
    p_seal(f->other, f->x, PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    v_refuses(f->k, vrm_identity_sign_pk(f->acme), wire, wlen, "signed by another person");
    free(wire);
    /* A reply from another vendor, sealed to the right person. */
    v_seal(f->k2, vrm_identity_box_pk(f->acme), PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    p_refuses(f->acme, f->ed, wire, wlen, "signed by another vendor");
    free(wire);
    /* A "reply" signed by a person's key. */
    p_seal(f->other, vrm_identity_box_pk(f->acme), PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    p_refuses(f->acme, f->ed, wire, wlen, "signed by a person");
    free(wire);
}

/* A hand-made JWS: header text as given, signed by sk, sealed to `to`. */
static void forge(const char *header, const char *payload, const uint8_t sk[64],
                  const uint8_t to[32], uint8_t **wire, size_t *wlen)
{
    char jws[2048];
    uint8_t sig[64];
    size_t pos;

    sodium_bin2base64(jws, sizeof jws, (const unsigned char *)header, strlen(header),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    pos = strlen(jws);
    jws[pos++] = '.';
    sodium_bin2base64(jws + pos, sizeof jws - pos, (const unsigned char *)payload,
                      strlen(payload), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    pos += strlen(jws + pos);
    assert_int_equal(crypto_sign_detached(sig, NULL, (unsigned char *)jws, pos, sk), 0);
    jws[pos++] = '.';
    sodium_bin2base64(jws + pos, sizeof jws - pos, sig, sizeof sig,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    pos += strlen(jws + pos);
    *wlen = crypto_box_SEALBYTES + pos;
    *wire = malloc(*wlen);
    assert_int_equal(crypto_box_seal(*wire, (unsigned char *)jws, pos, to), 0);
}

static void test_forged_headers(void **state)
{
    fixture *f = *state;
    const char *id = vrm_identity_id(f->acme), *ed = vrm_identity_ed25519(f->acme);
    const char *bed = vrm_identity_ed25519(f->bolt);
    const uint8_t *sk = vrm_identity_sign_sk(f->acme);
    char h[512], signer[VRM_ID_B64_MAX], *p = NULL;
    uint8_t *wire = NULL;
    size_t wlen = 0, pl = 0;
    const char *subs[26] = {0};
    struct {
        const char *fmt;            /* {k}: kid, {x}: the jwk's x */
        const char *x;
        int ok;
    } cases[] = {
        {"{\"alg\":\"EdDSA\",\"kid\":\"{k}\",\"typ\":\"vrm+jws\",\"jwk\":{\"kty\":\"OKP\","
         "\"crv\":\"Ed25519\",\"x\":\"{x}\"}}", ed, 1},
        /* the header names bolt's key, acme's signed */
        {"{\"alg\":\"EdDSA\",\"kid\":\"{k}\",\"typ\":\"vrm+jws\",\"jwk\":{\"kty\":\"OKP\","
         "\"crv\":\"Ed25519\",\"x\":\"{x}\"}}", bed, 0},
        /* no jwk */
        {"{\"alg\":\"EdDSA\",\"kid\":\"{k}\",\"typ\":\"vrm+jws\",\"x\":\"{x}\"}", ed, 0},
        /* no typ, another typ */
        {"{\"alg\":\"EdDSA\",\"kid\":\"{k}\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
         "\"x\":\"{x}\"}}", ed, 0},
        {"{\"alg\":\"EdDSA\",\"kid\":\"{k}\",\"typ\":\"JWT\",\"jwk\":{\"kty\":\"OKP\","
         "\"crv\":\"Ed25519\",\"x\":\"{x}\"}}", ed, 0},
        /* alg none; a critical extension */
        {"{\"alg\":\"none\",\"kid\":\"{k}\",\"typ\":\"vrm+jws\",\"jwk\":{\"kty\":\"OKP\","
         "\"crv\":\"Ed25519\",\"x\":\"{x}\"}}", ed, 0},
        {"{\"alg\":\"EdDSA\",\"kid\":\"{k}\",\"typ\":\"vrm+jws\",\"crit\":[\"b64\"],\"b64\":false,"
         "\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"{x}\"}}", ed, 0},
        /* a jwk of another kind, or with a private part */
        {"{\"alg\":\"EdDSA\",\"kid\":\"{k}\",\"typ\":\"vrm+jws\",\"jwk\":{\"kty\":\"OKP\","
         "\"crv\":\"X25519\",\"x\":\"{x}\"}}", ed, 0},
        {"{\"alg\":\"EdDSA\",\"kid\":\"{k}\",\"typ\":\"vrm+jws\",\"jwk\":{\"kty\":\"OKP\","
         "\"crv\":\"Ed25519\",\"x\":\"{x}\",\"d\":\"AAAA\"}}", ed, 0},
        /* a duplicate key in the header */
        {"{\"alg\":\"EdDSA\",\"kid\":\"{k}\",\"typ\":\"vrm+jws\",\"typ\":\"vrm+jws\",\"jwk\":"
         "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"{x}\"}}", ed, 0},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        subs['k' - 'a'] = id;
        subs['x' - 'a'] = cases[i].x;
        fill(h, sizeof h, cases[i].fmt, subs);
        forge(h, PAYLOAD, sk, f->x, &wire, &wlen);
        if (cases[i].ok) {
            assert_int_equal(vrm_envelope_vendor_open(f->k, NULL, wire, wlen, &p, &pl, signer), 0);
            assert_string_equal(p, PAYLOAD);
            free(p);
        } else {
            v_refuses(f->k, NULL, wire, wlen, h);
        }
        free(wire);
    }
    /* The kid must be a pairwise id (16 bytes). */
    snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"kid\":\"me\",\"typ\":\"vrm+jws\",\"jwk\":"
             "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}}", ed);
    forge(h, PAYLOAD, sk, f->x, &wire, &wlen);
    v_refuses(f->k, NULL, wire, wlen, "kid not a pairwise id");
    free(wire);
    /* Not a JWS at all: sealed text. */
    {
        const char *junk = "hello, vendor";

        wlen = crypto_box_SEALBYTES + strlen(junk);
        wire = malloc(wlen);
        assert_int_equal(crypto_box_seal(wire, (const unsigned char *)junk, strlen(junk), f->x), 0);
        v_refuses(f->k, NULL, wire, wlen, "not a JWS");
        free(wire);
        wlen = crypto_box_SEALBYTES + 4;
        wire = malloc(wlen);
        assert_int_equal(crypto_box_seal(wire, (const unsigned char *)"a\0.b", 4, f->x), 0);
        v_refuses(f->k, NULL, wire, wlen, "a NUL byte");
        free(wire);
    }
}

/* Replies: the person checks the kid and any jwk against the pinned key. */
static void test_forged_reply_headers(void **state)
{
    fixture *f = *state;
    const char *kid = vrm_vendor_keys_kid(f->k), *ed = vrm_vendor_keys_ed25519(f->k);
    const char *ed2 = vrm_vendor_keys_ed25519(f->k2);
    char h[512], *p = NULL, *dir = tu_path(f->tmp, "replykey"), path[512], buf[1024];
    uint8_t sk[64], *wire = NULL;
    const cJSON *m;
    cJSON *o = NULL;
    size_t wlen = 0, pl = 0;
    ssize_t n;
    int fd;

    /* The vendor's signing key, from its secret.json. */
    assert_int_equal(vrm_vendor_keys_save(f->k, dir), 0);
    snprintf(path, sizeof path, "%s/secret.json", dir);
    fd = open(path, O_RDONLY);
    n = read(fd, buf, sizeof buf);
    close(fd);
    assert_true(n > 0);
    assert_int_equal(vrm_json_parse_object(buf, (size_t)n, &o), 0);
    m = cJSON_GetObjectItemCaseSensitive(o, "ed25519_secret");
    assert_int_equal(vrm_b64url_decode(sk, 64, m->valuestring), 0);
    cJSON_Delete(o);

    /* Without a jwk: fine (the key is pinned). */
    snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"vrm+jws\"}", kid);
    forge(h, PAYLOAD, sk, vrm_identity_box_pk(f->acme), &wire, &wlen);
    assert_int_equal(vrm_envelope_open(f->acme, f->ed, wire, wlen, &p, &pl), 0);
    assert_string_equal(p, PAYLOAD);
    free(p);
    free(wire);
    /* A kid that is not the vendor's key id. */
    snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"vrm+jws\"}",
             vrm_vendor_keys_kid(f->k2));
    forge(h, PAYLOAD, sk, vrm_identity_box_pk(f->acme), &wire, &wlen);
    p_refuses(f->acme, f->ed, wire, wlen, "another kid");
    free(wire);
    /* A jwk naming another key. */
    snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"vrm+jws\",\"jwk\":"
             "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}}", kid, ed2);
    forge(h, PAYLOAD, sk, vrm_identity_box_pk(f->acme), &wire, &wlen);
    p_refuses(f->acme, f->ed, wire, wlen, "another jwk");
    free(wire);
    /* The right jwk: fine. */
    snprintf(h, sizeof h, "{\"alg\":\"EdDSA\",\"kid\":\"%s\",\"typ\":\"vrm+jws\",\"jwk\":"
             "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}}", kid, ed);
    forge(h, PAYLOAD, sk, vrm_identity_box_pk(f->acme), &wire, &wlen);
    assert_int_equal(vrm_envelope_open(f->acme, f->ed, wire, wlen, &p, &pl), 0);
    free(p);
    free(wire);
    sodium_memzero(sk, sizeof sk);
    free(dir);
}

static void test_sizes(void **state)
{
    fixture *f = *state;
    size_t n = VRM_MESSAGE_MAX;
    char *big = malloc(n + 2), *p = NULL, signer[VRM_ID_B64_MAX];
    uint8_t *wire = (uint8_t *)&wire;
    size_t wlen = 5, pl = 0;

    memset(big, 'a', n + 1);
    big[n + 1] = '\0';
    assert_int_equal(vrm_envelope_seal(f->acme, f->x, big, n + 1, &wire, &wlen), -EINVAL);
    assert_null(wire);
    assert_int_equal(wlen, 0);
    wire = (uint8_t *)&wire;
    assert_int_equal(vrm_envelope_vendor_seal(f->k, vrm_identity_box_pk(f->acme), big, n + 1,
                                              &wire, &wlen), -EINVAL);
    assert_null(wire);
    assert_int_equal(vrm_envelope_seal(f->acme, f->x, NULL, 1, &wire, &wlen), -EINVAL);
    /* The largest payload goes through. */
    p_seal(f->acme, f->x, big, n, &wire, &wlen);
    assert_int_equal(vrm_envelope_vendor_open(f->k, NULL, wire, wlen, &p, &pl, signer), 0);
    assert_int_equal(pl, n);
    assert_memory_equal(p, big, n);
    free(p);
    free(wire);
    /* A recipient key of all zeros cannot be sealed to. */
    {
        uint8_t zero[32] = {0};

        assert_int_equal(vrm_envelope_seal(f->acme, zero, "{}", 2, &wire, &wlen), -EINVAL);
    }
    free(big);
}

/* ---- the vendor's key files ------------------------------------------------ */

static void test_keys_save_load(void **state)
{
    fixture *f = *state;
    char *dir = tu_path(f->tmp, "keys"), *sec = tu_path(dir, "secret.json");
    char *pub = tu_path(dir, "public.json"), expect[256], got[256], signer[VRM_ID_B64_MAX];
    vrm_vendor_keys *k = NULL, *bad = (vrm_vendor_keys *)&bad;
    struct stat st;
    uint8_t *wire = NULL;
    char *p = NULL;
    size_t wlen = 0, pl = 0;
    ssize_t n;
    int fd;

    umask(022);
    assert_int_equal(vrm_vendor_keys_save(f->k, dir), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(stat(sec, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(pub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    /* public.json is vendor.json's "keys", pretty. */
    snprintf(expect, sizeof expect, "{\n  \"ed25519\": \"%s\",\n  \"x25519\": \"%s\"\n}\n",
             vrm_vendor_keys_ed25519(f->k), vrm_vendor_keys_x25519(f->k));
    fd = open(pub, O_RDONLY);
    n = read(fd, got, sizeof got - 1);
    close(fd);
    assert_true(n > 0);
    got[n] = '\0';
    assert_string_equal(got, expect);

    /* Loaded: the same keys, and they work with each other. */
    assert_int_equal(vrm_vendor_keys_load(dir, &k), 0);
    assert_string_equal(vrm_vendor_keys_ed25519(k), vrm_vendor_keys_ed25519(f->k));
    assert_string_equal(vrm_vendor_keys_x25519(k), vrm_vendor_keys_x25519(f->k));
    assert_string_equal(vrm_vendor_keys_kid(k), vrm_vendor_keys_kid(f->k));
    p_seal(f->acme, f->x, PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    assert_int_equal(vrm_envelope_vendor_open(k, NULL, wire, wlen, &p, &pl, signer), 0);
    free(p);
    free(wire);
    v_seal(k, vrm_identity_box_pk(f->acme), PAYLOAD, strlen(PAYLOAD), &wire, &wlen);
    assert_int_equal(vrm_envelope_open(f->acme, f->ed, wire, wlen, &p, &pl), 0);
    free(p);
    free(wire);

    /* Never overwritten: not by itself, not by another key. */
    assert_int_equal(vrm_vendor_keys_save(f->k2, dir), -EEXIST);
    vrm_vendor_keys_free(k);
    k = NULL;
    assert_int_equal(vrm_vendor_keys_load(dir, &k), 0);
    assert_string_equal(vrm_vendor_keys_ed25519(k), vrm_vendor_keys_ed25519(f->k));
    vrm_vendor_keys_free(k);

    /* A stale public.json alone: refused, and no secret.json left behind. */
    assert_int_equal(unlink(sec), 0);
    assert_int_equal(vrm_vendor_keys_save(f->k2, dir), -EEXIST);
    assert_int_equal(access(sec, F_OK), -1);
    assert_int_equal(vrm_vendor_keys_load(dir, &bad), -ENOENT);
    assert_null(bad);

    /* Missing directory; secret.json as a symbolic link. */
    bad = (vrm_vendor_keys *)&bad;
    assert_int_equal(vrm_vendor_keys_load("/nonexistent/vrm-keys", &bad), -ENOENT);
    assert_null(bad);
    assert_int_equal(symlink("/etc/hostname", sec), 0);
    assert_int_equal(vrm_vendor_keys_load(dir, &bad), -EINVAL);
    assert_null(bad);
    assert_int_equal(unlink(sec), 0);
    assert_int_equal(unlink(pub), 0);
    /* A symbolic link in place of the secret is never written through. */
    {
        char *target = tu_path(f->tmp, "target");

        assert_int_equal(symlink(target, sec), 0);
        assert_int_equal(vrm_vendor_keys_save(f->k, dir), -EEXIST);
        assert_int_equal(access(target, F_OK), -1);
        assert_int_equal(unlink(sec), 0);
        free(target);
    }
    vrm_vendor_keys_free(NULL);
    free(pub);
    free(sec);
    free(dir);
}

/* Write text as dir/secret.json (replacing it). */
static void put_secret(const char *dir, const char *text)
{
    char *path = tu_path(dir, "secret.json");
    int fd;

    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    free(path);
}

static void test_secret_malformed(void **state)
{
    fixture *f = *state;
    char *dir = tu_path(f->tmp, "malformed"), ed[128], x[64], ed_bad[128], text[1024];
    char ed32[44], x_short[43];
    const char *subs[26] = {0};
    uint8_t sk[64], xs[32];
    vrm_vendor_keys *k = NULL;
    size_t i;

    /* A consistent key pair, to vary. */
    crypto_sign_keypair(sk + 32, sk);
    randombytes_buf(xs, sizeof xs);
    sodium_bin2base64(ed, sizeof ed, sk, 64, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(x, sizeof x, xs, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sk[40] ^= 1;                    /* the public half no longer matches the seed */
    sodium_bin2base64(ed_bad, sizeof ed_bad, sk, 64, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert_int_equal(mkdir(dir, 0700), 0);
    memcpy(ed32, ed, 43);           /* 43 characters: 32 bytes */
    ed32[43] = '\0';
    memcpy(x_short, x, 42);
    x_short[42] = '\0';
    subs['e' - 'a'] = ed;
    subs['x' - 'a'] = x;
    subs['s' - 'a'] = ed32;
    subs['t' - 'a'] = x_short;

    /* Accepted: any order and whitespace. */
    snprintf(text, sizeof text, " {\"x25519_secret\" : \"%s\",\n\t\"ed25519_secret\":\"%s\"}\r\n",
             x, ed);
    put_secret(dir, text);
    assert_int_equal(vrm_vendor_keys_load(dir, &k), 0);
    vrm_vendor_keys_free(k);

    {
        const char *fmts[] = {
            "",
            "{}",
            "[]",
            "not json",
            "{\"ed25519_secret\": \"{e}\"}",                                  /* no x25519 */
            "{\"ed25519_secret\": \"{e}\", \"x25519_secret\": \"{x}\", \"note\": \"x\"}",
            "{\"ed25519_secret\": \"{e}\", \"x25519_secret\": \"{x}\"} {}",   /* trailing */
            "{\"ed25519_secret\": \"{e}\", \"x25519_secret\": \"{x}\",}",     /* comma */
            "{\"ed25519_secret\": \"{e}\", \"ed25519_secret\": \"{e}\"}",     /* duplicate */
            "{\"ed25519_secret\": \"{e}=\", \"x25519_secret\": \"{x}\"}",     /* padding */
            "{\"ed25519_secret\": \"{e}\", \"x25519_secret\": \"{x}==\"}",
            "{\"ed25519_secret\": \"{s}\", \"x25519_secret\": \"{x}\"}",   /* 32 bytes */
            "{\"ed25519_secret\": \"{e}\", \"x25519_secret\": \"{t}\"}",   /* short */
            "{\"ed25519_secret\": \"{e}\", \"x25519_secret\": \"{x}AA\"}",    /* long */
            "{\"ed25519_secret\": \"{e}\", \"x25519_secret\": 7}",       /* a number */
            "{\"ed25519_secret\": \"{e}\", \"x25519_secret\": \"a b\"}",
            "{\"ed25519\\u005fsecret\": \"{e}\", \"x25519_secret\": \"{x}\"}", /* escaped */
            "{\"ed25519_secret\": \"{e}\", \"x25519_secret\": \"{x}\"",       /* unclosed */
        };

        for (i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
            fill(text, sizeof text, fmts[i], subs);
            put_secret(dir, text);
            k = (vrm_vendor_keys *)&k;
            if (vrm_vendor_keys_load(dir, &k) != -EINVAL)
                fail_msg("accepted: %s", text);
            assert_null(k);
        }
    }
    snprintf(text, sizeof text, "{\"ed25519_secret\": \"%s\", \"x25519_secret\": \"%s\"}",
             ed_bad, x);
    put_secret(dir, text);
    assert_int_equal(vrm_vendor_keys_load(dir, &k), -EINVAL);
    /* Too long to be a key file. */
    {
        char *huge = malloc(10000);

        memset(huge, ' ', 9999);
        huge[9999] = '\0';
        put_secret(dir, huge);
        assert_int_equal(vrm_vendor_keys_load(dir, &k), -EINVAL);
        free(huge);
    }
    sodium_memzero(sk, sizeof sk);
    free(dir);
}

/* ---- jws.h additions ------------------------------------------------------- */

static void test_jws_additions(void **state)
{
    fixture *f = *state;
    char *jws = NULL, *p = NULL;
    uint8_t pk[32];
    cJSON *hdr = NULL;

    assert_int_equal(vrm_jws_sign_key(vrm_identity_sign_sk(f->acme), "k1", NULL, 0, "hi", 2,
                                      &jws), 0);
    assert_int_equal(vrm_jws_header(jws, &hdr), 0);
    assert_int_equal(vrm_jws_header_jwk(hdr, pk), -ENOENT);
    assert_null(cJSON_GetObjectItemCaseSensitive(hdr, "typ"));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(hdr, "kid")->valuestring, "k1");
    cJSON_Delete(hdr);
    assert_int_equal(vrm_jws_verify(jws, vrm_identity_sign_pk(f->acme), &p, NULL), 0);
    assert_string_equal(p, "hi");
    free(p);
    free(jws);
    assert_int_equal(vrm_jws_sign_key(vrm_identity_sign_sk(f->acme), "k1", "t", 1, "hi", 2,
                                      &jws), 0);
    assert_int_equal(vrm_jws_header(jws, &hdr), 0);
    assert_int_equal(vrm_jws_header_jwk(hdr, pk), 0);
    assert_memory_equal(pk, vrm_identity_sign_pk(f->acme), 32);
    cJSON_Delete(hdr);
    free(jws);
    assert_int_equal(vrm_jws_header("a.b", &hdr), -EBADMSG);
    assert_null(hdr);
    assert_int_equal(vrm_jws_header("!!.b.c", &hdr), -EBADMSG);
    assert_int_equal(vrm_jws_sign_key(vrm_identity_sign_sk(f->acme), NULL, NULL, 0, "", 0, &jws),
                     -EINVAL);
}

/* ---- fixture modes for tests/vendor.bats ------------------------------------ */

static int write_file(const char *dir, const char *name, const void *buf, size_t len)
{
    char *path = tu_path(dir, name);
    FILE *fp = fopen(path, "wb");
    int rc = fp != NULL && fwrite(buf, 1, len, fp) == len ? 0 : -1;

    if (fp != NULL && fclose(fp) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "write-fixtures: %s: %s\n", path, strerror(errno));
    free(path);
    return rc;
}

static vrm_vault *fixture_vault(const char *dir, const char *name)
{
    char *path = tu_path(dir, name), *vj = tu_path(path, "vault.json"), *made;
    vrm_vault *v;

    if (access(vj, F_OK) != 0) {
        made = tu_make_vault(dir, name);
        free(made);
    }
    v = tu_open(path);
    free(vj);
    free(path);
    return v;
}

static int write_fixtures(const char *dir)
{
    vrm_vault *v = fixture_vault(dir, "vault"), *v2 = fixture_vault(dir, "vault2");
    vrm_identity *id = derive(v, "acme"), *other = derive(v2, "acme");
    char *kdir = tu_path(dir, "vendor"), *sec = tu_path(kdir, "secret.json");
    char *json = NULL, *payload = NULL, *pretty = NULL;
    vrm_vendor_keys *k = NULL;
    uint8_t ed[32], x[32], *wire = NULL, *owire = NULL;
    size_t len = 0, plen = 0, wlen = 0, owlen = 0;
    cJSON *o = NULL, *body;
    int rc;

    rc = access(sec, F_OK) == 0 ? vrm_vendor_keys_load(kdir, &k) : vrm_vendor_keys_generate(&k);
    if (rc == 0 && access(sec, F_OK) != 0)
        rc = vrm_vendor_keys_save(k, kdir);
    if (rc != 0) {
        fprintf(stderr, "write-fixtures: vendor key: %s\n", vrm_error_message());
        return 1;
    }
    if (vrm_b64url_decode(ed, 32, vrm_vendor_keys_ed25519(k)) != 0 ||
        vrm_b64url_decode(x, 32, vrm_vendor_keys_x25519(k)) != 0)
        return 1;
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "id", "fixture-1");
    cJSON_AddStringToObject(o, "kind", "disclose");
    cJSON_AddStringToObject(o, "from", vrm_identity_id(id));
    cJSON_AddStringToObject(o, "to", vrm_vendor_keys_kid(k));
    cJSON_AddStringToObject(o, "created", "2026-11-23T14:02:57Z");
    cJSON_AddStringToObject(o, "terms", "CC-BY-ND-Purpose-Limited");
    body = cJSON_AddObjectToObject(o, "body");
    cJSON_AddStringToObject(body, "email", "ada@example.org");
    cJSON_AddStringToObject(body, "city", "Z\xc3\xbcrich \"old town\"");
    cJSON_AddNumberToObject(body, "items", 3);
    if (vrm_json_compact(o, &payload, &plen) != 0 || vrm_json_pretty(o, &pretty, &len) != 0 ||
        write_file(dir, "payload.json", pretty, len) != 0)
        return 1;
    free(pretty);
    if (vrm_identity_json(id, &json, &len) != 0 || write_file(dir, "identity.json", json, len) != 0)
        return 1;
    free(json);
    if (vrm_envelope_seal(id, x, payload, plen, &wire, &wlen) != 0 ||
        write_file(dir, "msg.vrm", wire, wlen) != 0 ||
        vrm_envelope_seal(other, x, payload, plen, &owire, &owlen) != 0 ||
        write_file(dir, "other.vrm", owire, owlen) != 0) {
        fprintf(stderr, "write-fixtures: %s\n", vrm_error_message());
        return 1;
    }
    free(owire);
    free(wire);
    free(payload);
    cJSON_Delete(o);
    vrm_vendor_keys_free(k);
    vrm_identity_free(other);
    vrm_identity_free(id);
    assert_int_equal(vrm_vault_close(v2), 0);
    assert_int_equal(vrm_vault_close(v), 0);
    free(sec);
    free(kdir);
    return 0;
}

static int check_reply(const char *dir, const char *file)
{
    vrm_vault *v = fixture_vault(dir, "vault");
    vrm_identity *id = derive(v, "acme");
    char *pubpath = tu_path(dir, "vendor/public.json"), buf[1024], *wire, *payload = NULL;
    const cJSON *m;
    cJSON *o = NULL;
    uint8_t ed[32];
    size_t wlen = 0, plen = 0;
    FILE *fp;
    int rc = 1;

    fp = fopen(pubpath, "r");
    if (fp == NULL) {
        fprintf(stderr, "check-reply: %s: %s\n", pubpath, strerror(errno));
        return 1;
    }
    wlen = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    if (vrm_json_parse_object(buf, wlen, &o) != 0 ||
        !cJSON_IsString(m = cJSON_GetObjectItemCaseSensitive(o, "ed25519")) ||
        vrm_b64url_decode(ed, 32, m->valuestring) != 0) {
        fprintf(stderr, "check-reply: %s: no ed25519 key\n", pubpath);
        return 1;
    }
    cJSON_Delete(o);
    wire = malloc(4 << 20);
    fp = fopen(file, "rb");
    if (fp == NULL) {
        fprintf(stderr, "check-reply: %s: %s\n", file, strerror(errno));
        return 1;
    }
    wlen = fread(wire, 1, 4 << 20, fp);
    fclose(fp);
    if (vrm_envelope_open(id, ed, (uint8_t *)wire, wlen, &payload, &plen) != 0) {
        fprintf(stderr, "check-reply: %s: %s\n", file, vrm_error_message());
    } else {
        fwrite(payload, 1, plen, stdout);
        putchar('\n');
        rc = 0;
    }
    free(payload);
    free(wire);
    free(pubpath);
    vrm_identity_free(id);
    assert_int_equal(vrm_vault_close(v), 0);
    return rc;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_person_to_vendor),
        cmocka_unit_test(test_vendor_to_person),
        cmocka_unit_test(test_seal_is_randomised),
        cmocka_unit_test(test_wire_format),
        cmocka_unit_test(test_every_byte_flipped),
        cmocka_unit_test(test_truncated_and_empty),
        cmocka_unit_test(test_wrong_recipient),
        cmocka_unit_test(test_wrong_signer),
        cmocka_unit_test(test_forged_headers),
        cmocka_unit_test(test_forged_reply_headers),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_keys_save_load),
        cmocka_unit_test(test_secret_malformed),
        cmocka_unit_test(test_jws_additions),
    };

    if (argc == 3 && strcmp(argv[1], "--write-fixtures") == 0)
        return write_fixtures(argv[2]);
    if (argc == 4 && strcmp(argv[1], "--check-reply") == 0)
        return check_reply(argv[2], argv[3]);
    if (argc != 1) {
        fprintf(stderr, "usage: test_envelope [--write-fixtures DIR | --check-reply DIR FILE]\n");
        return 64;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
