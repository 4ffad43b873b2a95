/*
 * keyfile.c: vault.json and the keys it wraps (see keyfile.h).
 *
 * vault.json (all binary values unpadded base64url):
 *   { "format": 1, "id": ID,
 *     "kdf": { "alg": "argon2id13", "ops": N, "mem": N, "salt": SALT },
 *     "wrapped": { "passphrase": W, "recovery": W },
 *     "mac": MAC }
 * W is nonce (24) || XChaCha20-Poly1305(master key) (48).  MAC is
 * crypto_auth (HMAC-SHA-512-256) under a subkey of the master key over every
 * other field, so once the key is unwrapped any change to the file shows.
 * A wrong passphrase and altered Argon2id limits look the same from inside
 * (the unwrap fails); everything else altered is reported as such.
 */
#define _GNU_SOURCE
#include "store/keyfile_int.h"
#include "base/b64url.h"
#include "base/error.h"
#include "base/fileio.h"
#include "base/json.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define WNONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define MACBYTES crypto_auth_BYTES
#define RECBYTES 32
#define JSON_MAX 65536

/* Subkey ids under the master key. */
enum { SUBKEY_HEADER = 2 };

static const char ROLE_PASS[] = "vrmfs passphrase key v1";
static const char ROLE_REC[] = "vrmfs recovery key v1";

static void put64(uint8_t *b, uint64_t v)
{
    int i;

    for (i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* ---- vault.json ------------------------------------------------------ */

static int b64_put(cJSON *obj, const char *key, const uint8_t *bin, size_t len)
{
    char buf[256];

    if (vrm_b64url_encode(buf, sizeof buf, bin, len) != 0)
        return -EINVAL;
    return cJSON_AddStringToObject(obj, key, buf) ? 0 : -ENOMEM;
}

static int b64_get(const cJSON *obj, const char *key, uint8_t *bin, size_t len)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsString(it) || vrm_b64url_decode(bin, len, it->valuestring) != 0)
        return vrm_error(EBADMSG, "vault.json is damaged: \"%s\" is not %zu bytes "
                         "of base64url", key, len);
    return 0;
}

static int uint_get(const cJSON *obj, const char *key, double max, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > max ||
        floor(it->valuedouble) != it->valuedouble)
        return vrm_error(EBADMSG, "vault.json is damaged: \"%s\" is not a valid number", key);
    *out = it->valuedouble;
    return 0;
}

/* Only the keys in `allowed` may appear in `obj`. */
static int only_keys(const cJSON *obj, const char *const *allowed, const char *where)
{
    const cJSON *it;
    size_t i;

    cJSON_ArrayForEach(it, obj) {
        for (i = 0; allowed[i] != NULL; i++)
            if (it->string && strcmp(it->string, allowed[i]) == 0)
                break;
        if (allowed[i] == NULL)
            return vrm_error(EBADMSG, "vault.json is damaged: unknown key \"%s\" in %s",
                             it->string ? it->string : "?", where);
    }
    return 0;
}

static int parse(const char *text, size_t len, vrm_keyfile *h)
{
    static const char *const top_keys[] = {"format", "id", "kdf", "wrapped", "mac", NULL};
    static const char *const kdf_keys[] = {"alg", "ops", "mem", "salt", NULL};
    static const char *const wrap_keys[] = {"passphrase", "recovery", NULL};
    const cJSON *kdf, *wrapped, *alg;
    cJSON *root;
    double d;
    int rc;

    memset(h, 0, sizeof *h);
    root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return vrm_error(EBADMSG, "vault.json is damaged: not a JSON object");
    }
    /* The format first: a newer vault must say so, not "damaged". */
    rc = uint_get(root, "format", INT_MAX, &d);
    if (rc != 0)
        goto out;
    h->format = (int)d;
    if (h->format > VRM_FORMAT_VERSION) {
        rc = vrm_error(EPROTONOSUPPORT, "the vault is in format %d, newer than this "
                       "vrmfs understands (%d); upgrade vrmfs", h->format,
                       VRM_FORMAT_VERSION);
        goto out;
    }
    if (h->format < 1) {
        rc = vrm_error(EBADMSG, "vault.json is damaged: format %d", h->format);
        goto out;
    }
    kdf = cJSON_GetObjectItemCaseSensitive(root, "kdf");
    wrapped = cJSON_GetObjectItemCaseSensitive(root, "wrapped");
    if (!cJSON_IsObject(kdf) || !cJSON_IsObject(wrapped)) {
        rc = vrm_error(EBADMSG, "vault.json is damaged: \"kdf\" or \"wrapped\" missing");
        goto out;
    }
    alg = cJSON_GetObjectItemCaseSensitive(kdf, "alg");
    if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "argon2id13") != 0) {
        rc = vrm_error(EBADMSG, "vault.json is damaged: unknown kdf algorithm");
        goto out;
    }
    if ((rc = only_keys(root, top_keys, "the top level")) != 0 ||
        (rc = only_keys(kdf, kdf_keys, "\"kdf\"")) != 0 ||
        (rc = only_keys(wrapped, wrap_keys, "\"wrapped\"")) != 0 ||
        (rc = b64_get(root, "id", h->id, sizeof h->id)) != 0 ||
        (rc = b64_get(root, "mac", h->mac, sizeof h->mac)) != 0 ||
        (rc = b64_get(kdf, "salt", h->salt, sizeof h->salt)) != 0 ||
        (rc = b64_get(wrapped, "passphrase", h->wrap_pass, sizeof h->wrap_pass)) != 0 ||
        (rc = b64_get(wrapped, "recovery", h->wrap_rec, sizeof h->wrap_rec)) != 0)
        goto out;
    /* The limits are authenticated only after the key is derived with them:
     * a vault.json altered to ask for more than vrmfs ever writes would make
     * every open spend that much first. */
    if ((rc = uint_get(kdf, "ops", (double)crypto_pwhash_OPSLIMIT_MAX, &d)) != 0)
        goto out;
    h->ops = (unsigned long long)d;
    if ((rc = uint_get(kdf, "mem", (double)crypto_pwhash_MEMLIMIT_MAX, &d)) != 0)
        goto out;
    h->mem = (size_t)d;
    if (h->ops < crypto_pwhash_OPSLIMIT_MIN || h->mem < crypto_pwhash_MEMLIMIT_MIN)
        rc = vrm_error(EBADMSG, "vault.json is damaged: Argon2id limits below the minimum");
    else if (h->ops > VRM_KDF_OPS_MAX || h->mem > VRM_KDF_MEM_MAX)
        rc = vrm_error(EBADMSG, "vault.json is damaged or tampered: it asks for Argon2id "
                       "limits above what vrmfs allows (%d passes, %d MiB)", VRM_KDF_OPS_MAX,
                       (int)(VRM_KDF_MEM_MAX >> 20));
out:
    cJSON_Delete(root);
    return rc;
}

int vrm_keyfile_write(const char *dir, const vrm_keyfile *h, const char *text, size_t len)
{
    cJSON *root = NULL, *kdf, *wrapped;
    char *made = NULL;
    int rc = -ENOMEM;

    if (text != NULL)
        goto write;
    root = cJSON_CreateObject();
    if (root == NULL)
        goto out;
    kdf = cJSON_CreateObject();
    wrapped = cJSON_CreateObject();
    if (kdf == NULL || wrapped == NULL) {
        cJSON_Delete(kdf);
        cJSON_Delete(wrapped);
        goto out;
    }
    if (!cJSON_AddNumberToObject(root, "format", h->format) ||
        b64_put(root, "id", h->id, sizeof h->id) != 0 ||
        !cJSON_AddItemToObject(root, "kdf", kdf)) {
        cJSON_Delete(kdf);
        cJSON_Delete(wrapped);
        goto out;
    }
    if (!cJSON_AddItemToObject(root, "wrapped", wrapped)) {
        cJSON_Delete(wrapped);
        goto out;
    }
    if (!cJSON_AddStringToObject(kdf, "alg", "argon2id13") ||
        !cJSON_AddNumberToObject(kdf, "ops", (double)h->ops) ||
        !cJSON_AddNumberToObject(kdf, "mem", (double)h->mem) ||
        b64_put(kdf, "salt", h->salt, sizeof h->salt) != 0 ||
        b64_put(wrapped, "passphrase", h->wrap_pass, sizeof h->wrap_pass) != 0 ||
        b64_put(wrapped, "recovery", h->wrap_rec, sizeof h->wrap_rec) != 0 ||
        b64_put(root, "mac", h->mac, sizeof h->mac) != 0)
        goto out;
    if ((rc = vrm_json_pretty(root, &made, &len)) != 0)
        goto out;
    text = made;
write:
    rc = vrm_file_replace(dir, "vault.json", 0600, text, len);
    if (rc != 0)
        vrm_error(-rc, "cannot write %s/vault.json: %s", dir, strerror(-rc));
out:
    if (rc == -ENOMEM)
        vrm_error(ENOMEM, "out of memory writing vault.json");
    free(made);
    cJSON_Delete(root);
    return rc;
}

int vrm_keyfile_read(const char *dir, vrm_keyfile *h, char **keep, size_t *keeplen)
{
    char *path = vrm_path_join(dir, "vault.json"), *text = NULL;
    struct stat st;
    size_t len = 0;
    int rc;

    if (path == NULL)
        return -ENOMEM;
    if (stat(dir, &st) != 0) {
        rc = vrm_error(errno, "no vault at %s: %s", dir, strerror(errno));
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = vrm_error(ENOTDIR, "no vault at %s: not a directory", dir);
        goto out;
    }
    rc = vrm_file_read(AT_FDCWD, path, JSON_MAX, &text, &len);
    if (rc == -EFBIG || rc == -EINVAL) {
        rc = vrm_error(EBADMSG, "cannot read %s: not a small regular file", path);
        goto out;
    }
    if (rc == -ENOENT) {
        vrm_error(ENOENT, "no vault at %s (no vault.json)", dir);
        goto out;
    }
    if (rc != 0) {
        vrm_error(-rc, "cannot read %s: %s", path, strerror(-rc));
        goto out;
    }
    rc = parse(text, len, h);
    if (rc == 0 && keep != NULL) {
        *keep = text;
        *keeplen = len;
        text = NULL;
    }
out:
    free(text);
    free(path);
    return rc;
}

/* ---- keys ------------------------------------------------------------ */

int vrm_keyfile_subkey(uint8_t out[VRM_KEYBYTES], const uint8_t master[VRM_KEYBYTES],
                       uint64_t id, const char ctx[8])
{
    return crypto_kdf_derive_from_key(out, VRM_KEYBYTES, id, ctx, master) == 0 ? 0 : -EINVAL;
}

static void mac_of(const vrm_keyfile *h, const uint8_t *master, uint8_t out[MACBYTES])
{
    uint8_t *key = sodium_malloc(crypto_auth_KEYBYTES);
    crypto_auth_hmacsha512256_state st;
    uint8_t b[8];
    static const char tag[] = "vrmfs vault.json v1";

    if (key == NULL || vrm_keyfile_subkey(key, master, SUBKEY_HEADER, "vrmheadr") != 0) {
        memset(out, 0, MACBYTES);  /* a MAC that cannot match */
        sodium_free(key);
        return;
    }
    crypto_auth_hmacsha512256_init(&st, key, crypto_auth_KEYBYTES);
    crypto_auth_hmacsha512256_update(&st, (const uint8_t *)tag, sizeof tag);
    put64(b, (uint64_t)h->format);
    crypto_auth_hmacsha512256_update(&st, b, 8);
    crypto_auth_hmacsha512256_update(&st, h->id, sizeof h->id);
    crypto_auth_hmacsha512256_update(&st, (const uint8_t *)"argon2id13", 10);
    put64(b, h->ops);
    crypto_auth_hmacsha512256_update(&st, b, 8);
    put64(b, (uint64_t)h->mem);
    crypto_auth_hmacsha512256_update(&st, b, 8);
    crypto_auth_hmacsha512256_update(&st, h->salt, sizeof h->salt);
    crypto_auth_hmacsha512256_update(&st, h->wrap_pass, sizeof h->wrap_pass);
    crypto_auth_hmacsha512256_update(&st, h->wrap_rec, sizeof h->wrap_rec);
    crypto_auth_hmacsha512256_final(&st, out);
    sodium_memzero(&st, sizeof st);
    sodium_free(key);
}

static int passkey(uint8_t *key, const vrm_keyfile *h, const char *pass, size_t passlen)
{
    if (crypto_pwhash(key, VRM_KEYBYTES, pass, passlen, h->salt, h->ops, h->mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return vrm_error(ENOMEM, "Argon2id needs %zu MiB of memory that could not be had",
                         h->mem >> 20);
    return 0;
}

/* The recovery key as bytes, from its printed form (hex; dashes, spaces and
 * case ignored). */
static int recovery_parse(uint8_t *out, const char *text)
{
    char hex[2 * RECBYTES + 1];
    size_t n = 0, got = 0;
    const char *s;

    for (s = text; *s; s++) {
        if (*s == '-' || isspace((unsigned char)*s))
            continue;
        if (!isxdigit((unsigned char)*s) || n == sizeof hex - 1) {
            sodium_memzero(hex, sizeof hex);
            return vrm_error(EKEYREJECTED, "that is not a recovery key "
                             "(64 hexadecimal digits expected)");
        }
        hex[n++] = (char)tolower((unsigned char)*s);
    }
    hex[n] = '\0';
    if (n != sizeof hex - 1 ||
        sodium_hex2bin(out, RECBYTES, hex, n, NULL, &got, NULL) != 0 || got != RECBYTES) {
        sodium_memzero(hex, sizeof hex);
        return vrm_error(EKEYREJECTED, "that is not a recovery key "
                         "(64 hexadecimal digits expected)");
    }
    sodium_memzero(hex, sizeof hex);
    return 0;
}

static void recovery_format(char *out, const uint8_t *bin)
{
    char hex[2 * RECBYTES + 1];
    size_t i, j = 0;

    sodium_bin2hex(hex, sizeof hex, bin, RECBYTES);
    for (i = 0; i < 2 * RECBYTES; i++) {
        if (i > 0 && i % 4 == 0)
            out[j++] = '-';
        out[j++] = hex[i];
    }
    out[j] = '\0';
    sodium_memzero(hex, sizeof hex);
}

static void wrap(uint8_t out[VRM_WRAPBYTES], const uint8_t *key, const uint8_t *master,
                 const char *role)
{
    randombytes_buf(out, WNONCE);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + WNONCE, NULL, master, VRM_KEYBYTES,
                                               (const uint8_t *)role, strlen(role),
                                               NULL, out, key);
}

static int unwrap(uint8_t *master, const uint8_t in[VRM_WRAPBYTES], const uint8_t *key,
                  const char *role)
{
    return crypto_aead_xchacha20poly1305_ietf_decrypt(
               master, NULL, NULL, in + WNONCE, VRM_WRAPBYTES - WNONCE,
               (const uint8_t *)role, strlen(role), in, key) == 0 ? 0 : -1;
}

int vrm_keyfile_unlock(const vrm_keyfile *h, const char *pass, size_t passlen, const char *rec,
                       uint8_t master[VRM_KEYBYTES])
{
    uint8_t *key = sodium_malloc(VRM_KEYBYTES), *recbin = sodium_malloc(RECBYTES);
    uint8_t mac[MACBYTES];
    int rc;

    if (key == NULL || recbin == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (rec != NULL) {
        rc = recovery_parse(recbin, rec);
        if (rc == 0)
            rc = vrm_keyfile_subkey(key, recbin, 1, "vrmrecov");
        if (rc == 0 && unwrap(master, h->wrap_rec, key, ROLE_REC) != 0)
            rc = vrm_error(EKEYREJECTED, "wrong recovery key");
    } else {
        rc = passkey(key, h, pass, passlen);
        if (rc == 0 && unwrap(master, h->wrap_pass, key, ROLE_PASS) != 0)
            rc = vrm_error(EKEYREJECTED, "wrong passphrase");
    }
    if (rc != 0)
        goto out;
    mac_of(h, master, mac);
    if (sodium_memcmp(mac, h->mac, MACBYTES) != 0)
        rc = vrm_error(EBADMSG, "vault.json has been altered or damaged (its MAC "
                       "does not match)");
out:
    sodium_memzero(mac, sizeof mac);
    sodium_free(key);
    sodium_free(recbin);
    return rc;
}

int vrm_keyfile_init(vrm_keyfile *h, const vrm_kdf_limits *limits)
{
    memset(h, 0, sizeof *h);
    h->format = VRM_FORMAT_VERSION;
    h->ops = limits && limits->ops ? limits->ops : crypto_pwhash_OPSLIMIT_MODERATE;
    h->mem = limits && limits->mem ? limits->mem : crypto_pwhash_MEMLIMIT_MODERATE;
    if (h->ops < crypto_pwhash_OPSLIMIT_MIN || h->ops > VRM_KDF_OPS_MAX)
        return vrm_error(EINVAL, "Argon2id ops must be between %llu and %d",
                         (unsigned long long)crypto_pwhash_OPSLIMIT_MIN, VRM_KDF_OPS_MAX);
    if (h->mem < crypto_pwhash_MEMLIMIT_MIN || h->mem > VRM_KDF_MEM_MAX)
        return vrm_error(EINVAL, "Argon2id memory must be between %zu bytes and %d MiB",
                         (size_t)crypto_pwhash_MEMLIMIT_MIN, (int)(VRM_KDF_MEM_MAX >> 20));
    return 0;
}

int vrm_keyfile_seal(vrm_keyfile *h, const uint8_t master[VRM_KEYBYTES], const char *pass,
                     size_t passlen, char recovery[VRM_RECOVERY_KEY_LEN + 1])
{
    uint8_t *key = sodium_malloc(VRM_KEYBYTES), *rec = sodium_malloc(RECBYTES);
    int rc = -ENOMEM;

    if (key == NULL || rec == NULL)
        goto out;
    randombytes_buf(h->id, sizeof h->id);
    randombytes_buf(h->salt, sizeof h->salt);
    randombytes_buf(rec, RECBYTES);
    if ((rc = passkey(key, h, pass, passlen)) != 0)
        goto out;
    wrap(h->wrap_pass, key, master, ROLE_PASS);
    if ((rc = vrm_keyfile_subkey(key, rec, 1, "vrmrecov")) != 0)
        goto out;
    wrap(h->wrap_rec, key, master, ROLE_REC);
    mac_of(h, master, h->mac);
    recovery_format(recovery, rec);
out:
    sodium_free(key);
    sodium_free(rec);
    return rc;
}

/* Rewrap the master key under a new passphrase; serialised against other
 * rewraps by a lock on the directory itself. */
static int rewrap(const char *dir, const char *old, size_t oldlen, const char *rec,
                  const char *new_pass, size_t newlen)
{
    uint8_t *master = NULL, *key = NULL;
    int dfd, rc;
    vrm_keyfile h;

    if (sodium_init() < 0)
        return vrm_error(EIO, "libsodium failed to initialise");
    if (newlen == 0)
        return vrm_error(EINVAL, "the new passphrase is empty");
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return vrm_error(errno, "no vault at %s: %s", dir, strerror(errno));
    if (flock(dfd, LOCK_EX) != 0) {
        rc = vrm_error(errno, "cannot lock %s: %s", dir, strerror(errno));
        goto out;
    }
    master = sodium_malloc(VRM_KEYBYTES);
    key = sodium_malloc(VRM_KEYBYTES);
    if (master == NULL || key == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = vrm_keyfile_read(dir, &h, NULL, NULL)) != 0 ||
        (rc = vrm_keyfile_unlock(&h, old, oldlen, rec, master)) != 0)
        goto out;
    randombytes_buf(h.salt, sizeof h.salt);
    if ((rc = passkey(key, &h, new_pass, newlen)) != 0)
        goto out;
    wrap(h.wrap_pass, key, master, ROLE_PASS);
    mac_of(&h, master, h.mac);
    rc = vrm_keyfile_write(dir, &h, NULL, 0);
out:
    sodium_memzero(&h, sizeof h);
    sodium_free(master);
    sodium_free(key);
    close(dfd);
    return rc;
}

int vrm_vault_passwd(const char *dir, const char *old, size_t oldlen,
                     const char *new_pass, size_t newlen)
{
    return rewrap(dir, old, oldlen, NULL, new_pass, newlen);
}

int vrm_vault_recover(const char *dir, const char *recovery, const char *new_pass,
                      size_t newlen)
{
    return rewrap(dir, NULL, 0, recovery, new_pass, newlen);
}

