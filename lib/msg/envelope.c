/*
 * envelope.c: messages between the person and a vendor (envelope.h): a JWS
 * (jws.h) sealed with crypto_box_seal, and the vendor's key files.
 *
 * Opening is deliberately in this order: the box (only the recipient can),
 * the header's form (typ, kid, jwk), the choice of the key (pinned, or the
 * header's jwk where the contract allows it), the signature, and last the
 * size of what it signed.  Every refusal is -EBADMSG with a message that
 * starts "message: " and says which check failed.
 */
#define _GNU_SOURCE
#include "msg/envelope.h"
#include "base/error.h"
#include "base/fileio.h"
#include "base/json.h"
#include "consent/jws.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define TYP "vrm+jws"               /* the header's "typ" of every message */
#define KID_BYTES 16                /* a key id: BLAKE2b-256(Ed25519 key)[0..16) */

/* The longest protected header opened (ours are under 250 bytes), and from
 * it and VRM_MESSAGE_MAX the longest JWS and wire accepted: anything longer
 * is refused before any allocation that its length would size. */
#define HEADER_MAX 4096u
#define B64_LEN(n) (((n) + 2u) / 3u * 4u)     /* unpadded base64 of n bytes, rounded up */
#define JWS_MAX (B64_LEN(HEADER_MAX) + 1u + B64_LEN(VRM_MESSAGE_MAX) + 1u + \
                 B64_LEN(crypto_sign_BYTES))
#define WIRE_MAX (crypto_box_SEALBYTES + JWS_MAX)

/* secret.json: the largest file read, and the names of its two members. */
#define SECRET_FILE_MAX 4096u
#define SECRET_ED25519 "ed25519_secret"
#define SECRET_X25519 "x25519_secret"

/* One sodium_malloc'd block (guard pages, wiped by sodium_free), read-only
 * once complete.  Byte arrays only: sodium_malloc's result is unaligned. */
struct vrm_vendor_keys {
    uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES];   /* Ed25519 public key */
    uint8_t sign_sk[crypto_sign_SECRETKEYBYTES];   /* seed || public key */
    uint8_t box_pk[crypto_box_PUBLICKEYBYTES];     /* X25519 public key */
    uint8_t box_sk[crypto_box_SECRETKEYBYTES];     /* X25519 scalar */
    char ed25519[VRM_ID_B64_MAX];                  /* base64url of sign_pk */
    char x25519[VRM_ID_B64_MAX];                   /* base64url of box_pk */
    char kid[VRM_ID_B64_MAX];                      /* base64url of the key id */
};

/* Wipe and free a plaintext buffer of n bytes (a message's text is the
 * person's data); NULL is fine. */
static void free_wiped(void *p, size_t n)
{
    if (p != NULL) {
        sodium_memzero(p, n);
        free(p);
    }
}

/* kid[0..VRM_ID_B64_MAX) = the key id of the Ed25519 public key pk. */
static int key_id(char kid[VRM_ID_B64_MAX], const uint8_t pk[crypto_sign_PUBLICKEYBYTES])
{
    uint8_t h[32];

    if (crypto_generichash(h, sizeof h, pk, crypto_sign_PUBLICKEYBYTES, NULL, 0) != 0)
        return vrm_error(EINVAL, "cannot hash a key");
    return vrm_b64url_encode(kid, VRM_ID_B64_MAX, h, KID_BYTES);
}

/* ---- sealing and opening -------------------------------------------------- */

/* Sign payload[0..len) with sk as kid (the header carries the public key as
 * its jwk) and seal the JWS to the X25519 key `to`. */
static int seal(const uint8_t sk[crypto_sign_SECRETKEYBYTES], const char *kid,
                const uint8_t to[crypto_box_PUBLICKEYBYTES], const char *payload, size_t len,
                uint8_t **wire, size_t *wlen)
{
    char *jws = NULL;
    uint8_t *w = NULL;
    size_t n = 0;
    int rc;

    *wire = NULL;
    *wlen = 0;
    if (payload == NULL && len > 0)
        return vrm_error(EINVAL, "message: no payload");
    if (len > VRM_MESSAGE_MAX)
        return vrm_error(EINVAL, "message: the payload is %zu bytes; at most %u are sent", len,
                         VRM_MESSAGE_MAX);
    if (sodium_init() < 0)
        return vrm_error(ENOMEM, "libsodium failed to initialise");
    rc = vrm_jws_sign_key(sk, kid, TYP, 1, payload, len, &jws);
    if (rc != 0)
        return rc;
    n = strlen(jws);
    assert(n <= JWS_MAX);           /* payload and header are bounded above */
    w = malloc(crypto_box_SEALBYTES + n);
    if (w == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (crypto_box_seal(w, (const unsigned char *)jws, n, to) != 0) {
        rc = vrm_error(EINVAL, "message: the recipient's X25519 key is not usable");
        goto out;
    }
    *wire = w;
    *wlen = crypto_box_SEALBYTES + n;
    w = NULL;
    rc = 0;
out:
    free(w);
    free_wiped(jws, n);
    return rc;
}

/* Open the sealed box wire[0..wlen) with the X25519 pair (pk, sk): 0 and
 * *jws (malloc'd, NUL-terminated, *jlen bytes), -EBADMSG, -ENOMEM. */
static int unseal(const uint8_t pk[crypto_box_PUBLICKEYBYTES],
                  const uint8_t sk[crypto_box_SECRETKEYBYTES], const uint8_t *wire, size_t wlen,
                  char **jws, size_t *jlen)
{
    size_t n;
    char *t;

    *jws = NULL;
    *jlen = 0;
    if (wire == NULL || wlen == 0)
        return vrm_error(EBADMSG, "message: empty");
    if (wlen <= crypto_box_SEALBYTES)
        return vrm_error(EBADMSG, "message: truncated (%zu bytes; a sealed box has more than %u)",
                         wlen, (unsigned)crypto_box_SEALBYTES);
    if (wlen > WIRE_MAX)
        return vrm_error(EBADMSG, "message: too long (%zu bytes; at most %zu)", wlen,
                         (size_t)WIRE_MAX);
    if (sodium_init() < 0)
        return vrm_error(ENOMEM, "libsodium failed to initialise");
    n = wlen - crypto_box_SEALBYTES;
    t = malloc(n + 1);
    if (t == NULL)
        return -ENOMEM;
    if (crypto_box_seal_open((unsigned char *)t, wire, wlen, pk, sk) != 0) {
        free(t);
        return vrm_error(EBADMSG, "message: the sealed box does not open with this key "
                         "(sealed to another key, truncated or damaged)");
    }
    if (memchr(t, '\0', n) != NULL) {
        free_wiped(t, n);
        return vrm_error(EBADMSG, "message: what is sealed is not a JWS (it holds a NUL byte)");
    }
    t[n] = '\0';
    *jws = t;
    *jlen = n;
    return 0;
}

/* What the header of a message says, before anything is verified. */
typedef struct msg_header {
    char kid[VRM_ID_B64_MAX];       /* "kid", a string */
    uint8_t jwk[crypto_sign_PUBLICKEYBYTES];   /* the key of "jwk", if has_jwk */
    int has_jwk;
} msg_header;

/* Read the protected header of a message: a JWS header (jws.h) with typ
 * "vrm+jws", a string kid and, if there is one, a well-formed jwk. */
static int read_header(const char *jws, msg_header *h)
{
    const cJSON *typ, *kid;
    cJSON *hdr = NULL;
    int rc;

    memset(h, 0, sizeof *h);
    rc = vrm_jws_header(jws, &hdr);
    if (rc == -EBADMSG)
        return vrm_error(EBADMSG, "message: not a JWS: %s", vrm_error_message());
    if (rc != 0)
        return rc;
    typ = cJSON_GetObjectItemCaseSensitive(hdr, "typ");
    kid = cJSON_GetObjectItemCaseSensitive(hdr, "kid");
    if (!cJSON_IsString(typ) || strcmp(typ->valuestring, TYP) != 0) {
        rc = vrm_error(EBADMSG, "message: the header's typ is not \"" TYP "\"");
        goto out;
    }
    if (!cJSON_IsString(kid) || strlen(kid->valuestring) >= sizeof h->kid) {
        rc = vrm_error(EBADMSG, "message: the header has no kid, or a wrong one");
        goto out;
    }
    strcpy(h->kid, kid->valuestring);
    rc = vrm_jws_header_jwk(hdr, h->jwk);
    if (rc == 0)
        h->has_jwk = 1;
    else if (rc == -ENOENT)
        rc = 0;
    else if (rc == -EBADMSG)
        rc = vrm_error(EBADMSG, "message: %s", vrm_error_message());
out:
    cJSON_Delete(hdr);
    return rc;
}

/* Verify jws with pk and hand out its payload, bounded by VRM_MESSAGE_MAX. */
static int verified_payload(const char *jws, const uint8_t pk[crypto_sign_PUBLICKEYBYTES],
                            const char *whose, char **payload, size_t *plen)
{
    char *p = NULL;
    size_t n = 0;
    int rc;

    rc = vrm_jws_verify(jws, pk, &p, &n);
    if (rc == -EBADMSG)
        return vrm_error(EBADMSG, "message: the signature is not %s: %s", whose,
                         vrm_error_message());
    if (rc != 0)
        return rc;
    if (n > VRM_MESSAGE_MAX) {
        free_wiped(p, n);
        return vrm_error(EBADMSG, "message: the payload is %zu bytes; at most %u", n,
                         VRM_MESSAGE_MAX);
    }
    *payload = p;
    *plen = n;
    return 0;
}

int vrm_envelope_seal(const vrm_identity *id, const uint8_t vendor_x25519[32],
                      const char *payload, size_t len, uint8_t **wire, size_t *wlen)
{
    return seal(vrm_identity_sign_sk(id), vrm_identity_id(id), vendor_x25519, payload, len,
                wire, wlen);
}

int vrm_envelope_open(const vrm_identity *id, const uint8_t vendor_ed25519[32],
                      const uint8_t *wire, size_t wlen, char **payload, size_t *plen)
{
    char want_kid[VRM_ID_B64_MAX];
    char *jws = NULL;
    size_t jlen = 0;
    msg_header h;
    int rc;

    *payload = NULL;
    *plen = 0;
    rc = unseal(vrm_identity_box_pk(id), vrm_identity_box_sk(id), wire, wlen, &jws, &jlen);
    if (rc != 0)
        return rc;
    rc = read_header(jws, &h);
    if (rc != 0)
        goto out;
    /* A reply is checked against the vendor's pinned key alone; a header
     * that names another key or key id is not the vendor's. */
    if (h.has_jwk && sodium_memcmp(h.jwk, vendor_ed25519, sizeof h.jwk) != 0) {
        rc = vrm_error(EBADMSG, "message: the header's jwk is not the vendor's key");
        goto out;
    }
    rc = key_id(want_kid, vendor_ed25519);
    if (rc != 0)
        goto out;
    if (strcmp(h.kid, want_kid) != 0) {
        rc = vrm_error(EBADMSG, "message: the header's kid is not the vendor's key id");
        goto out;
    }
    rc = verified_payload(jws, vendor_ed25519, "the vendor's", payload, plen);
out:
    free_wiped(jws, jlen);
    return rc;
}

/* ---- the vendor's keys ---------------------------------------------------- */

static int keys_alloc(vrm_vendor_keys **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return vrm_error(ENOMEM, "libsodium failed to initialise");
    *out = sodium_malloc(sizeof **out);
    if (*out == NULL)
        return vrm_error(ENOMEM, "out of memory for a vendor key");
    memset(*out, 0, sizeof **out);
    return 0;
}

/* The texts of the public keys and the key id; then read-only. */
static int keys_finish(vrm_vendor_keys *k)
{
    int rc = vrm_b64url_encode(k->ed25519, sizeof k->ed25519, k->sign_pk, sizeof k->sign_pk);

    if (rc == 0)
        rc = vrm_b64url_encode(k->x25519, sizeof k->x25519, k->box_pk, sizeof k->box_pk);
    if (rc == 0)
        rc = key_id(k->kid, k->sign_pk);
    if (rc == 0)
        sodium_mprotect_readonly(k);
    return rc;
}

int vrm_vendor_keys_generate(vrm_vendor_keys **out)
{
    vrm_vendor_keys *k = NULL;
    int rc = keys_alloc(&k);

    if (rc != 0)
        return rc;
    if (crypto_sign_keypair(k->sign_pk, k->sign_sk) != 0 ||
        crypto_box_keypair(k->box_pk, k->box_sk) != 0) {
        vrm_vendor_keys_free(k);
        return vrm_error(ENOMEM, "cannot generate a vendor key");
    }
    rc = keys_finish(k);
    if (rc != 0) {
        vrm_vendor_keys_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void vrm_vendor_keys_free(vrm_vendor_keys *k)
{
    if (k != NULL)
        sodium_free(k);             /* makes it writable, wipes, frees */
}

const char *vrm_vendor_keys_ed25519(const vrm_vendor_keys *k)
{
    return k->ed25519;
}

const char *vrm_vendor_keys_x25519(const vrm_vendor_keys *k)
{
    return k->x25519;
}

const char *vrm_vendor_keys_kid(const vrm_vendor_keys *k)
{
    return k->kid;
}

/* Create dir/name (dirfd dfd) with O_EXCL, write buf[0..len), fsync.  On
 * failure nothing of it is left. */
static int write_new(int dfd, const char *dir, const char *name, mode_t mode, const char *buf,
                     size_t len)
{
    int rc = vrm_file_write_new(dfd, name, mode, buf, len);

    if (rc == -EEXIST)
        return vrm_error(EEXIST, "%s/%s exists: a vendor key is never overwritten", dir, name);
    if (rc != 0)
        return vrm_error(-rc, "%s/%s: cannot write: %s", dir, name, strerror(-rc));
    return 0;
}

/* secret.json's text and the base64url it is made of, in guarded memory
 * (never through cJSON, whose strings would be freed unwiped). */
typedef struct secret_text {
    char ed[128];                   /* base64url of 64 bytes: 86 characters */
    char x[VRM_ID_B64_MAX];         /* base64url of 32 bytes: 43 characters */
    char text[512];                 /* the file */
} secret_text;

int vrm_vendor_keys_save(const vrm_vendor_keys *k, const char *dir)
{
    secret_text *s = NULL;
    char pub[256];
    int dfd = -1, rc, n, err;

    if (sodium_init() < 0)
        return vrm_error(ENOMEM, "libsodium failed to initialise");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        err = errno;
        return vrm_error(err, "%s: cannot make the directory: %s", dir, strerror(err));
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        err = errno;
        if (err == ELOOP)
            return vrm_error(ENOTDIR, "%s: a symbolic link, not a directory", dir);
        return vrm_error(err, "%s: %s", dir, strerror(err));
    }
    s = sodium_malloc(sizeof *s);
    if (s == NULL) {
        rc = vrm_error(ENOMEM, "out of memory for a vendor key");
        goto out;
    }
    rc = vrm_b64url_encode(s->ed, sizeof s->ed, k->sign_sk, sizeof k->sign_sk);
    if (rc == 0)
        rc = vrm_b64url_encode(s->x, sizeof s->x, k->box_sk, sizeof k->box_sk);
    if (rc != 0)
        goto out;
    /* Both texts as vrm_json_pretty prints them. */
    n = snprintf(s->text, sizeof s->text, "{\n  \"" SECRET_ED25519 "\": \"%s\",\n  \""
                 SECRET_X25519 "\": \"%s\"\n}\n", s->ed, s->x);
    if (n < 0 || (size_t)n >= sizeof s->text) {
        rc = vrm_error(ENOMEM, "secret.json: text too long");
        goto out;
    }
    rc = snprintf(pub, sizeof pub, "{\n  \"ed25519\": \"%s\",\n  \"x25519\": \"%s\"\n}\n",
                  k->ed25519, k->x25519);
    if (rc < 0 || (size_t)rc >= sizeof pub) {
        rc = vrm_error(ENOMEM, "public.json: text too long");
        goto out;
    }
    /* secret.json first: its O_EXCL is what keeps a key from being
     * replaced.  public.json is public (mode 0644), but O_EXCL too, so a
     * stale one is never silently paired with a new secret. */
    rc = write_new(dfd, dir, "secret.json", 0600, s->text, (size_t)n);
    if (rc != 0)
        goto out;
    rc = write_new(dfd, dir, "public.json", 0644, pub, strlen(pub));
    if (rc == 0 && fsync(dfd) != 0) {
        err = errno;
        unlinkat(dfd, "public.json", 0);
        rc = vrm_error(err, "%s: cannot sync the directory: %s", dir, strerror(err));
    }
    if (rc != 0)
        unlinkat(dfd, "secret.json", 0);
out:
    sodium_free(s);
    close(dfd);
    return rc;
}

/* ---- reading secret.json ---------------------------------------------------
 *
 * A JSON object with exactly the two members, in any order, whose values are
 * strings of the base64url alphabet; whitespace as JSON allows it.  Parsed
 * here, in place, rather than by cJSON, so that no copy of a secret is made
 * outside guarded memory. */

static char *skip_ws(char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* A string of base64url characters (or '_' in names) at *pp: NUL-terminate
 * it in place (over its closing quote), advance *pp past it, return its
 * start; NULL if there is none. */
static char *plain_string(char **pp, const char *end)
{
    char *p = *pp, *s;

    if (p >= end || *p != '"')
        return NULL;
    s = ++p;
    while (p < end && b64url_char(*p))
        p++;
    if (p >= end || *p != '"')
        return NULL;
    *p = '\0';
    *pp = p + 1;
    return s;
}

static int parse_secret(char *p, const char *end, const char *path, vrm_vendor_keys *k)
{
    int have_ed = 0, have_x = 0;
    char *key, *val;

    p = skip_ws(p, end);
    if (p >= end || *p++ != '{')
        return vrm_error(EINVAL, "%s: not a JSON object", path);
    for (;;) {
        p = skip_ws(p, end);
        key = plain_string(&p, end);
        if (key == NULL)
            return vrm_error(EINVAL, "%s: expected \"" SECRET_ED25519 "\" or \"" SECRET_X25519
                             "\"", path);
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':')
            return vrm_error(EINVAL, "%s: expected ':' after \"%s\"", path, key);
        p = skip_ws(p, end);
        val = plain_string(&p, end);
        if (val == NULL)
            return vrm_error(EINVAL, "%s: %s is not a base64url string", path, key);
        if (strcmp(key, SECRET_ED25519) == 0 && !have_ed) {
            if (vrm_b64url_decode(k->sign_sk, sizeof k->sign_sk, val) != 0)
                return vrm_error(EINVAL, "%s: " SECRET_ED25519 " is not %u bytes of unpadded "
                                 "base64url", path, (unsigned)sizeof k->sign_sk);
            have_ed = 1;
        } else if (strcmp(key, SECRET_X25519) == 0 && !have_x) {
            if (vrm_b64url_decode(k->box_sk, sizeof k->box_sk, val) != 0)
                return vrm_error(EINVAL, "%s: " SECRET_X25519 " is not %u bytes of unpadded "
                                 "base64url", path, (unsigned)sizeof k->box_sk);
            have_x = 1;
        } else {
            return vrm_error(EINVAL, "%s: unexpected or repeated member \"%s\"", path, key);
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') {
            p++;
            break;
        }
        return vrm_error(EINVAL, "%s: expected ',' or '}'", path);
    }
    if (skip_ws(p, end) != end)
        return vrm_error(EINVAL, "%s: something follows the JSON object", path);
    if (!have_ed || !have_x)
        return vrm_error(EINVAL, "%s: needs both " SECRET_ED25519 " and " SECRET_X25519, path);
    return 0;
}

/* The public halves of the loaded secrets, and a check that the Ed25519
 * secret's stored public half is the one its seed gives. */
static int keys_complete(vrm_vendor_keys *k, const char *path)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    int rc = 0;

    if (crypto_sign_seed_keypair(pk, sk, k->sign_sk) != 0 ||
        sodium_memcmp(sk, k->sign_sk, sizeof sk) != 0)
        rc = vrm_error(EINVAL, "%s: " SECRET_ED25519 " is inconsistent (its public half is not "
                       "its seed's)", path);
    else if (crypto_scalarmult_base(k->box_pk, k->box_sk) != 0)
        rc = vrm_error(EINVAL, "%s: " SECRET_X25519 " is not a usable key", path);
    else
        memcpy(k->sign_pk, pk, sizeof pk);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

int vrm_vendor_keys_load(const char *dir, vrm_vendor_keys **out)
{
    char path[PATH_MAX];
    vrm_vendor_keys *k = NULL;
    char *buf = NULL;
    size_t used = 0;
    struct stat st;
    ssize_t n;
    int fd = -1, rc, err;

    *out = NULL;
    rc = snprintf(path, sizeof path, "%s/secret.json", dir);
    if (rc < 0 || (size_t)rc >= sizeof path)
        return vrm_error(ENAMETOOLONG, "%s: path too long", dir);
    rc = keys_alloc(&k);
    if (rc != 0)
        return rc;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
        if (err == ENOENT || err == ENOTDIR)
            rc = vrm_error(ENOENT, "%s: no such file (no vendor key in %s)", path, dir);
        else if (err == ELOOP)
            rc = vrm_error(EINVAL, "%s: a symbolic link, not the key file", path);
        else
            rc = vrm_error(err, "%s: %s", path, strerror(err));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
        rc = vrm_error(err, "%s: %s", path, strerror(err));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = vrm_error(EINVAL, "%s: not a regular file", path);
        goto out;
    }
    buf = sodium_malloc(SECRET_FILE_MAX + 1);
    if (buf == NULL) {
        rc = vrm_error(ENOMEM, "out of memory for a vendor key");
        goto out;
    }
    for (;;) {
        n = read(fd, buf + used, SECRET_FILE_MAX + 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = errno;
            rc = vrm_error(err, "%s: %s", path, strerror(err));
            goto out;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > SECRET_FILE_MAX) {
            rc = vrm_error(EINVAL, "%s: too long to be a vendor's secret.json", path);
            goto out;
        }
    }
    rc = parse_secret(buf, buf + used, path, k);
    if (rc == 0)
        rc = keys_complete(k, path);
    if (rc == 0)
        rc = keys_finish(k);
    if (rc != 0)
        goto out;
    *out = k;
    k = NULL;
out:
    if (fd >= 0)
        close(fd);
    if (buf != NULL)
        sodium_free(buf);
    vrm_vendor_keys_free(k);
    return rc;
}

/* ---- the vendor's side of messages ---------------------------------------- */

int vrm_envelope_vendor_open(const vrm_vendor_keys *k, const uint8_t *person_ed25519,
                             const uint8_t *wire, size_t wlen, char **payload, size_t *plen,
                             char signer[VRM_ID_B64_MAX])
{
    uint8_t raw_kid[KID_BYTES];
    char *jws = NULL;
    size_t jlen = 0;
    msg_header h;
    int rc;

    *payload = NULL;
    *plen = 0;
    signer[0] = '\0';
    rc = unseal(k->box_pk, k->box_sk, wire, wlen, &jws, &jlen);
    if (rc != 0)
        return rc;
    rc = read_header(jws, &h);
    if (rc != 0)
        goto out;
    if (!h.has_jwk) {
        rc = vrm_error(EBADMSG, "message: the header has no jwk (the signer's key)");
        goto out;
    }
    if (person_ed25519 != NULL && sodium_memcmp(h.jwk, person_ed25519, sizeof h.jwk) != 0) {
        rc = vrm_error(EBADMSG, "message: signed by another key than the person's expected one");
        goto out;
    }
    if (vrm_b64url_decode(raw_kid, sizeof raw_kid, h.kid) != 0) {
        rc = vrm_error(EBADMSG, "message: the header's kid is not a pairwise id");
        goto out;
    }
    rc = verified_payload(jws, h.jwk, "the header's jwk's", payload, plen);
    if (rc != 0)
        goto out;
    rc = vrm_b64url_encode(signer, VRM_ID_B64_MAX, h.jwk, sizeof h.jwk);
    if (rc != 0) {
        free_wiped(*payload, *plen);
        *payload = NULL;
        *plen = 0;
    }
out:
    free_wiped(jws, jlen);
    return rc;
}

int vrm_envelope_vendor_seal(const vrm_vendor_keys *k, const uint8_t person_x25519[32],
                             const char *payload, size_t len, uint8_t **wire, size_t *wlen)
{
    return seal(k->sign_sk, k->kid, person_x25519, payload, len, wire, wlen);
}
