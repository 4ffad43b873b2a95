/*
 * vendorcmd.c: the vendor's side of messages, as commands: vrmfs vendor
 * keygen, open and reply.  What a vendor runs to exchange messages with a
 * person's vault; it needs no vault and no passphrase, only the vendor's key
 * directory and the person's identity.json for that vendor.
 *
 * Exit codes (cli.h): 0 ok; EXIT_DAMAGED (1) a message that fails to open or
 * verify, or is not a message; EXIT_EXISTS (8) a key or a message id that is
 * already there; EXIT_NOINPUT (10) a file named on the command line is
 * missing or unreadable; EXIT_BADINPUT (11) an input is malformed (key file,
 * identity.json, payload); EXIT_NOSPACE, EXIT_ERROR; EXIT_USAGE (64).
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "base/json.h"
#include "vrm.h"

/* The most read of a message file: more than any wire envelope.h accepts,
 * so that the library names the reason for anything longer. */
#define MESSAGE_FILE_MAX (2 * (size_t)VRM_MESSAGE_MAX + 65536)
#define IDENTITY_FILE_MAX 65536      /* identity.json is about 150 bytes */
#define REPLY_ID_MAX 64              /* a given "id" names a file: 1-64 base64url */

static const char vendor_help[] =
    "Usage: vrmfs vendor COMMAND [OPTIONS] ...\n"
    "The vendor's side of messages with a person's vault: its keys, opening what\n"
    "a person sends, and sealing replies into the vault's spool.  No vault and no\n"
    "passphrase are needed.\n"
    "\n"
    "Commands:\n"
    "  keygen DIR   make the vendor's keys in DIR; prints the public keys as JSON\n"
    "  open         open and verify a message from a person; prints its payload\n"
    "  reply        sign and seal a reply to a person into the vault's spool\n"
    "\n"
    "  -h, --help   show this help ('vrmfs vendor COMMAND --help' for a command's)\n"
    "\n"
    "Exit codes: 0 ok, 1 the message fails to open or verify, 6 disk full,\n"
    "8 already exists, 9 other error, 10 a named file is missing or unreadable,\n"
    "11 an input is malformed, 64 bad command line.  See vrmfs(1).\n";

/* ---- shared helpers -------------------------------------------------------- */

static int vendor_usage(const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int vendor_usage(const char *sub, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vrmfs vendor %s: ", sub);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'vrmfs vendor %s --help'.\n", sub);
    return EXIT_USAGE;
}

/* Print "vrmfs vendor SUB: message" and return `code`. */
static int vendor_fail(const char *sub, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int vendor_fail(const char *sub, int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vrmfs vendor %s: ", sub);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* The exit code of a negative errno from libvrm in these commands. */
static int vendor_code(int err)
{
    switch (-err) {
    case EBADMSG:
        return EXIT_DAMAGED;
    case EEXIST:
        return EXIT_EXISTS;
    case ENOENT:
    case ENOTDIR:
        return EXIT_NOINPUT;
    case EINVAL:
        return EXIT_BADINPUT;
    case ENOSPC:
    case EDQUOT:
        return EXIT_NOSPACE;
    default:
        return EXIT_ERROR;
    }
}

static int lib_fail(const char *sub, int err)
{
    return vendor_fail(sub, vendor_code(err), "%s", vrm_error_message());
}

/* Read all of `path` ("-": standard input), at most `max` bytes, into *out
 * (malloc'd, NUL-terminated) and *len.  0, or an exit code after printing
 * why: EXIT_NOINPUT if it cannot be read, `too_long` if it is longer. */
static int read_input(const char *sub, const char *path, size_t max, int too_long, char **out,
                      size_t *len)
{
    const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
    struct stat st;
    int fd, rc;

    *out = NULL;
    *len = 0;
    fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) != 0)
        rc = vendor_fail(sub, EXIT_NOINPUT, "%s: %s", name, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        rc = vendor_fail(sub, EXIT_NOINPUT, "%s: a directory, not a file", name);
    else if ((rc = vrm_fd_read_all(fd, max, out, len)) == -EFBIG)
        rc = vendor_fail(sub, too_long, "%s: too long (more than %zu bytes)", name, max);
    else if (rc == -ENOMEM)
        rc = vendor_fail(sub, EXIT_ERROR, "out of memory");
    else if (rc != 0)
        rc = vendor_fail(sub, EXIT_NOINPUT, "%s: %s", name, strerror(-rc));
    if (fd > STDIN_FILENO)
        close(fd);
    return rc;
}

/* Load the vendor's keys from DIR: 0, or an exit code after printing why. */
static int load_keys(const char *sub, const char *dir, vrm_vendor_keys **k)
{
    int rc = vrm_vendor_keys_load(dir, k);

    if (rc == -ENOENT)
        return vendor_fail(sub, EXIT_NOINPUT, "%s (make one with 'vrmfs vendor keygen %s')",
                           vrm_error_message(), dir);
    return rc == 0 ? 0 : lib_fail(sub, rc);
}

/* A person's identity.json for this vendor, decoded. */
typedef struct person {
    char id[VRM_ID_B64_MAX];        /* the pairwise id, as written */
    uint8_t ed25519[32];            /* signs the person's messages */
    uint8_t x25519[32];             /* receives replies */
} person;

/* The base64url string member `key` of `o`, decoded into out[0..len). */
static int identity_member(const char *sub, const char *path, const cJSON *o, const char *key,
                           uint8_t *out, size_t len)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);

    if (m == NULL)
        return vendor_fail(sub, EXIT_BADINPUT, "%s: no \"%s\" (is it an identity.json?)", path,
                           key);
    if (!cJSON_IsString(m) || vrm_b64url_decode(out, len, m->valuestring) != 0)
        return vendor_fail(sub, EXIT_BADINPUT, "%s: \"%s\" is not %zu bytes in unpadded "
                           "base64url", path, key, len);
    return 0;
}

/* Read identity.json ({"id", "ed25519", "x25519"}; other members are
 * ignored): 0, or an exit code after printing why. */
static int load_identity(const char *sub, const char *path, person *p)
{
    uint8_t raw_id[16];
    char *text = NULL;
    cJSON *o = NULL;
    size_t len = 0;
    int rc;

    memset(p, 0, sizeof *p);
    rc = read_input(sub, path, IDENTITY_FILE_MAX, EXIT_BADINPUT, &text, &len);
    if (rc != 0)
        return rc;
    if (vrm_json_parse_object(text, len, &o) != 0) {
        rc = vendor_fail(sub, EXIT_BADINPUT, "%s: %s", path, vrm_error_message());
        goto out;
    }
    rc = identity_member(sub, path, o, "id", raw_id, sizeof raw_id);
    if (rc == 0)
        rc = identity_member(sub, path, o, "ed25519", p->ed25519, sizeof p->ed25519);
    if (rc == 0)
        rc = identity_member(sub, path, o, "x25519", p->x25519, sizeof p->x25519);
    if (rc == 0)   /* 16 bytes decoded: 22 characters, which fit */
        strcpy(p->id, cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring);
out:
    cJSON_Delete(o);
    free(text);
    return rc;
}

/* Print `o` pretty (as jq) on standard output: 0 or an exit code. */
static int print_pretty(const char *sub, const cJSON *o)
{
    char *text = NULL;
    size_t len = 0;
    int rc = vrm_json_pretty(o, &text, &len);

    if (rc != 0)
        return lib_fail(sub, rc);
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
        rc = vendor_fail(sub, EXIT_ERROR, "cannot write to standard output: %s",
                         strerror(errno));
    free(text);
    return rc;
}

/* ---- keygen ---------------------------------------------------------------- */

static const char keygen_help[] =
    "Usage: vrmfs vendor keygen [OPTIONS] DIR\n"
    "Make a vendor's keys, an Ed25519 pair to sign replies and an X25519 pair to\n"
    "receive messages, in DIR (made with mode 0700 if missing): DIR/secret.json\n"
    "(mode 0600; keep it secret) and DIR/public.json.  Prints the public keys as\n"
    "JSON, ready to paste into the person's vendor.json as the value of \"keys\".\n"
    "An existing key is never overwritten (exit 8).\n"
    "\n"
    "  -h, --help   show this help\n";

static int cmd_vendor_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    vrm_vendor_keys *k = NULL;
    cJSON *pub = NULL;
    const char *dir;
    int c, rc;

    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(keygen_help, stdout);
            return 0;
        default:
            return vendor_usage("keygen", "%s", "bad option");
        }
    }
    if (optind != argc - 1)
        return vendor_usage("keygen", "%s", "expects one DIR");
    dir = argv[optind];
    rc = vrm_vendor_keys_generate(&k);
    if (rc == 0)
        rc = vrm_vendor_keys_save(k, dir);
    if (rc != 0) {
        rc = lib_fail("keygen", rc);
        goto out;
    }
    pub = cJSON_CreateObject();
    if (pub == NULL || cJSON_AddStringToObject(pub, "ed25519", vrm_vendor_keys_ed25519(k)) == NULL ||
        cJSON_AddStringToObject(pub, "x25519", vrm_vendor_keys_x25519(k)) == NULL) {
        rc = vendor_fail("keygen", EXIT_ERROR, "out of memory");
        goto out;
    }
    rc = print_pretty("keygen", pub);
    if (rc == 0)
        fprintf(stderr, "vrmfs vendor keygen: wrote %s/secret.json (keep it secret) and "
                "%s/public.json; key id %s\n", dir, dir, vrm_vendor_keys_kid(k));
out:
    cJSON_Delete(pub);
    vrm_vendor_keys_free(k);
    return rc;
}

/* ---- open ------------------------------------------------------------------ */

static const char open_help[] =
    "Usage: vrmfs vendor open [OPTIONS] --key DIR FILE\n"
    "Open a message a person's vault sent to this vendor (FILE; - for standard\n"
    "input): unseal it with the vendor's X25519 key, verify its JWS signature\n"
    "with the Ed25519 key in its header, and print the payload as JSON (exit 0).\n"
    "A message that fails any check is not printed: the reason goes to standard\n"
    "error and the exit status is 1.\n"
    "\n"
    "  -k, --key DIR        the vendor's key directory (vrmfs vendor keygen)\n"
    "  -f, --from IDENTITY  the person's identity.json for this vendor: the\n"
    "                       message must be signed by its \"ed25519\" key, and its\n"
    "                       payload's \"from\" must be its \"id\"\n"
    "  -h, --help           show this help\n";

static int cmd_vendor_open(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"from", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char signer[VRM_ID_B64_MAX];
    const char *keydir = NULL, *from = NULL, *file;
    vrm_vendor_keys *k = NULL;
    const cJSON *v, *f;
    char *wire = NULL, *payload = NULL;
    size_t wlen = 0, plen = 0;
    cJSON *o = NULL;
    person p;
    int c, rc;

    while ((c = getopt_long(argc, argv, "+k:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            keydir = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 'h':
            fputs(open_help, stdout);
            return 0;
        default:
            return vendor_usage("open", "%s", "bad option");
        }
    }
    if (keydir == NULL)
        return vendor_usage("open", "%s", "--key DIR is required");
    if (optind != argc - 1)
        return vendor_usage("open", "%s", "expects one FILE");
    file = argv[optind];
    rc = load_keys("open", keydir, &k);
    if (rc == 0 && from != NULL)
        rc = load_identity("open", from, &p);
    if (rc == 0)
        rc = read_input("open", file, MESSAGE_FILE_MAX, EXIT_DAMAGED, &wire, &wlen);
    if (rc != 0)
        goto out;
    rc = vrm_envelope_vendor_open(k, from != NULL ? p.ed25519 : NULL, (const uint8_t *)wire,
                                  wlen, &payload, &plen, signer);
    if (rc != 0) {
        rc = vendor_fail("open", vendor_code(rc), "%s: %s", file, vrm_error_message());
        goto out;
    }
    /* Signed, but it must also be a message: a JSON object of version 1
     * and, with --from, from that person. */
    if (vrm_json_parse_object(payload, plen, &o) != 0) {
        rc = vendor_fail("open", EXIT_DAMAGED, "%s: the payload is not a JSON object: %s", file,
                         vrm_error_message());
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "v");
    if (!cJSON_IsNumber(v) || v->valuedouble != 1) {
        rc = vendor_fail("open", EXIT_DAMAGED, "%s: not a version 1 message (\"v\" is not 1)",
                         file);
        goto out;
    }
    f = cJSON_GetObjectItemCaseSensitive(o, "from");
    if (from != NULL && (!cJSON_IsString(f) || strcmp(f->valuestring, p.id) != 0)) {
        rc = vendor_fail("open", EXIT_DAMAGED, "%s: the payload's \"from\" is not the id of %s",
                         file, from);
        goto out;
    }
    rc = print_pretty("open", o);
out:
    cJSON_Delete(o);
    if (payload != NULL) {
        sodium_memzero(payload, plen);
        free(payload);
    }
    free(wire);
    vrm_vendor_keys_free(k);
    return rc;
}

/* ---- reply ----------------------------------------------------------------- */

static const char reply_help[] =
    "Usage: vrmfs vendor reply [OPTIONS] --key DIR --to IDENTITY --spool PATH < PAYLOAD\n"
    "Read a reply's payload, a JSON object, from standard input; fill in what it\n"
    "lacks (\"v\": 1, a random \"id\", \"kind\": \"reply\", \"from\": the vendor's key\n"
    "id, \"to\": the person's id, \"created\": now in UTC); sign it with the\n"
    "vendor's Ed25519 key, seal it to the person's X25519 key, and deliver it into\n"
    "the maildir PATH (PATH/tmp/ID.vrm, synced, renamed to PATH/new/ID.vrm; PATH,\n"
    "tmp/, new/ and cur/ are made if missing).  Prints the id.  \"body\" (any JSON)\n"
    "is required; \"in_reply_to\" (the id of the message answered) is optional;\n"
    "no other members are allowed.\n"
    "\n"
    "  -k, --key DIR        the vendor's key directory (vrmfs vendor keygen)\n"
    "  -t, --to IDENTITY    the person's identity.json for this vendor\n"
    "  -s, --spool PATH     the vault's spool for this vendor: VAULT/inbox/VENDOR\n"
    "  -h, --help           show this help\n";

static int id_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > REPLY_ID_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

/* Check the given payload `in` and build the reply in canonical order into
 * `out` (moving "body" over).  0, or an exit code after printing why. */
static int build_reply(cJSON *in, const vrm_vendor_keys *k, const person *p, cJSON *out)
{
    static const char *const allowed[] = {"v", "id", "kind", "from", "to", "created",
                                          "in_reply_to", "body"};
    char id[REPLY_ID_MAX + 1], created[40];
    const cJSON *m;
    cJSON *body;
    uint8_t raw[16];
    struct tm tm;
    time_t now;
    int64_t t;
    size_t i;

    cJSON_ArrayForEach(m, in) {
        for (i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
            if (strcmp(m->string, allowed[i]) == 0)
                break;
        if (i == sizeof allowed / sizeof allowed[0])
            return vendor_fail("reply", EXIT_BADINPUT, "the payload has \"%s\", which a reply "
                               "does not (v, id, kind, from, to, created, in_reply_to, body)",
                               m->string);
    }
    m = cJSON_GetObjectItemCaseSensitive(in, "v");
    if (m != NULL && (!cJSON_IsNumber(m) || m->valuedouble != 1))
        return vendor_fail("reply", EXIT_BADINPUT, "\"v\" must be 1");
    m = cJSON_GetObjectItemCaseSensitive(in, "id");
    if (m != NULL && (!cJSON_IsString(m) || !id_ok(m->valuestring)))
        return vendor_fail("reply", EXIT_BADINPUT, "\"id\" must be 1-%d characters of "
                           "A-Z a-z 0-9 - _ (it names the file)", REPLY_ID_MAX);
    if (m != NULL) {
        memcpy(id, m->valuestring, strlen(m->valuestring) + 1);    /* id_ok: it fits */
    } else {
        randombytes_buf(raw, sizeof raw);
        if (vrm_b64url_encode(id, sizeof id, raw, sizeof raw) != 0)
            return vendor_fail("reply", EXIT_ERROR, "cannot make an id");
    }
    m = cJSON_GetObjectItemCaseSensitive(in, "kind");
    if (m != NULL && (!cJSON_IsString(m) || strcmp(m->valuestring, "reply") != 0))
        return vendor_fail("reply", EXIT_BADINPUT, "\"kind\" must be \"reply\": a vendor sends "
                           "replies only");
    m = cJSON_GetObjectItemCaseSensitive(in, "from");
    if (m != NULL && (!cJSON_IsString(m) || strcmp(m->valuestring, vrm_vendor_keys_kid(k)) != 0))
        return vendor_fail("reply", EXIT_BADINPUT, "\"from\" must be the vendor's key id %s",
                           vrm_vendor_keys_kid(k));
    m = cJSON_GetObjectItemCaseSensitive(in, "to");
    if (m != NULL && (!cJSON_IsString(m) || strcmp(m->valuestring, p->id) != 0))
        return vendor_fail("reply", EXIT_BADINPUT, "\"to\" must be the person's id %s", p->id);
    m = cJSON_GetObjectItemCaseSensitive(in, "created");
    if (m != NULL && (!cJSON_IsString(m) || vrm_rfc3339_parse(m->valuestring, &t) != 0))
        return vendor_fail("reply", EXIT_BADINPUT, "\"created\" must be an RFC 3339 time such "
                           "as 2026-11-23T14:02:57Z");
    if (m != NULL && strlen(m->valuestring) >= sizeof created)
        return vendor_fail("reply", EXIT_BADINPUT, "\"created\" is too long");
    if (m != NULL) {
        memcpy(created, m->valuestring, strlen(m->valuestring) + 1);
    } else {
        now = time(NULL);
        if (gmtime_r(&now, &tm) == NULL ||
            strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            return vendor_fail("reply", EXIT_ERROR, "cannot tell the time");
    }
    /* The person's side refuses a reply without a body, or answering
     * something that is no message id (inbox.h). */
    if (cJSON_GetObjectItemCaseSensitive(in, "body") == NULL)
        return vendor_fail("reply", EXIT_BADINPUT, "the payload has no \"body\" (any JSON value)");
    m = cJSON_GetObjectItemCaseSensitive(in, "in_reply_to");
    if (m != NULL && (!cJSON_IsString(m) || !id_ok(m->valuestring)))
        return vendor_fail("reply", EXIT_BADINPUT, "\"in_reply_to\" must be a message id: 1-%d "
                           "characters of A-Z a-z 0-9 - _", REPLY_ID_MAX);
    if (cJSON_AddNumberToObject(out, "v", 1) == NULL ||
        cJSON_AddStringToObject(out, "id", id) == NULL ||
        cJSON_AddStringToObject(out, "kind", "reply") == NULL ||
        cJSON_AddStringToObject(out, "from", vrm_vendor_keys_kid(k)) == NULL ||
        cJSON_AddStringToObject(out, "to", p->id) == NULL ||
        cJSON_AddStringToObject(out, "created", created) == NULL ||
        (m != NULL && cJSON_AddStringToObject(out, "in_reply_to", m->valuestring) == NULL))
        return vendor_fail("reply", EXIT_ERROR, "out of memory");
    body = cJSON_DetachItemFromObjectCaseSensitive(in, "body");
    if (body != NULL)
        cJSON_AddItemToObject(out, "body", body);
    return 0;
}

/* mkdir -p with mode 0700; an existing directory is fine. */
static int make_dirs(const char *path)
{
    char buf[4096], *s;
    struct stat st;

    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (s = buf + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;

            *s = '\0';
            if (mkdir(buf, 0700) != 0 &&
                (errno != EEXIST || stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))) {
                if (errno == EEXIST)
                    errno = ENOTDIR;
                return -1;
            }
            *s = c;
            if (c == '\0')
                return 0;
        }
    }
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* The exit code for an errno while delivering. */
static int spool_code(int err)
{
    return err == ENOSPC || err == EDQUOT ? EXIT_NOSPACE : err == EEXIST ? EXIT_EXISTS
                                                                         : EXIT_ERROR;
}

/* Deliver wire[0..wlen) as spool/new/ID.vrm, maildir-style: 0 or an exit
 * code after printing why. */
static int spool_write(const char *spool, const char *id, const uint8_t *wire, size_t wlen)
{
    char tmpdir[4096], newdir[4096], curdir[4096], tmp[4200], dst[4200];
    size_t done = 0;
    ssize_t n;
    int fd = -1, err;

    if (snprintf(tmpdir, sizeof tmpdir, "%s/tmp", spool) >= (int)sizeof tmpdir ||
        snprintf(newdir, sizeof newdir, "%s/new", spool) >= (int)sizeof newdir ||
        snprintf(curdir, sizeof curdir, "%s/cur", spool) >= (int)sizeof curdir)
        return vendor_fail("reply", EXIT_USAGE, "%s: path too long", spool);
    if (snprintf(tmp, sizeof tmp, "%s/%s.vrm", tmpdir, id) >= (int)sizeof tmp ||
        snprintf(dst, sizeof dst, "%s/%s.vrm", newdir, id) >= (int)sizeof dst)
        return vendor_fail("reply", EXIT_USAGE, "%s: path too long", spool);
    if (make_dirs(spool) != 0 || make_dirs(tmpdir) != 0 || make_dirs(newdir) != 0 ||
        make_dirs(curdir) != 0) {
        err = errno;
        return vendor_fail("reply", spool_code(err), "%s: cannot make the maildir: %s", spool,
                           strerror(err));
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno;
        return vendor_fail("reply", spool_code(err), "%s: %s", tmp, strerror(err));
    }
    while (done < wlen) {
        n = write(fd, wire + done, wlen - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        done += (size_t)n;
    }
    if (fsync(fd) != 0)
        goto fail;
    err = close(fd);
    fd = -1;
    if (err != 0)
        goto fail;
    /* Into new/ without replacing a message of the same id: rename with
     * RENAME_NOREPLACE, or where the file system lacks it, link + unlink. */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) != 0) {
        if (errno != EINVAL && errno != ENOSYS)
            goto fail;
        if (link(tmp, dst) != 0)
            goto fail;
        unlink(tmp);
    }
    if (fsync_dir(newdir) != 0 || fsync_dir(tmpdir) != 0)
        goto fail_synced;
    return 0;
fail:
    err = errno != 0 ? errno : EIO;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    if (err == EEXIST)
        return vendor_fail("reply", EXIT_EXISTS, "%s exists: a message with id %s is already "
                           "in the spool", dst, id);
    return vendor_fail("reply", spool_code(err), "%s: cannot deliver: %s", tmp, strerror(err));
fail_synced:
    err = errno;
    return vendor_fail("reply", spool_code(err), "%s: delivered but not synced: %s", dst,
                       strerror(err));
}

static int cmd_vendor_reply(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"to", required_argument, NULL, 't'},
        {"spool", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *keydir = NULL, *to = NULL, *spool = NULL;
    vrm_vendor_keys *k = NULL;
    cJSON *in = NULL, *out = NULL;
    char *text = NULL, *payload = NULL;
    size_t len = 0, plen = 0, wlen = 0;
    uint8_t *wire = NULL;
    person p;
    int c, rc;

    while ((c = getopt_long(argc, argv, "+k:t:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            keydir = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 's':
            spool = optarg;
            break;
        case 'h':
            fputs(reply_help, stdout);
            return 0;
        default:
            return vendor_usage("reply", "%s", "bad option");
        }
    }
    if (keydir == NULL || to == NULL || spool == NULL)
        return vendor_usage("reply", "%s", "--key DIR, --to IDENTITY and --spool PATH are "
                            "required");
    if (optind != argc)
        return vendor_usage("reply", "%s", "takes no FILE: the payload comes on standard input");
    if (spool[0] == '\0')
        return vendor_usage("reply", "%s", "--spool: an empty path");
    rc = load_keys("reply", keydir, &k);
    if (rc == 0)
        rc = load_identity("reply", to, &p);
    if (rc == 0)
        rc = read_input("reply", "-", VRM_MESSAGE_MAX, EXIT_BADINPUT, &text, &len);
    if (rc != 0)
        goto out;
    if (vrm_json_parse_object(text, len, &in) != 0) {
        rc = vendor_fail("reply", EXIT_BADINPUT, "standard input: %s", vrm_error_message());
        goto out;
    }
    out = cJSON_CreateObject();
    if (out == NULL) {
        rc = vendor_fail("reply", EXIT_ERROR, "out of memory");
        goto out;
    }
    rc = build_reply(in, k, &p, out);
    if (rc != 0)
        goto out;
    rc = vrm_json_compact(out, &payload, &plen);
    if (rc == 0)
        rc = vrm_envelope_vendor_seal(k, p.x25519, payload, plen, &wire, &wlen);
    if (rc != 0) {
        rc = lib_fail("reply", rc);
        goto out;
    }
    rc = spool_write(spool, cJSON_GetObjectItemCaseSensitive(out, "id")->valuestring, wire,
                     wlen);
    if (rc == 0 && (printf("%s\n", cJSON_GetObjectItemCaseSensitive(out, "id")->valuestring) < 0 ||
                    fflush(stdout) != 0))
        rc = vendor_fail("reply", EXIT_ERROR, "cannot write to standard output: %s",
                         strerror(errno));
out:
    free(wire);
    free(payload);
    cJSON_Delete(out);
    cJSON_Delete(in);
    free(text);
    vrm_vendor_keys_free(k);
    return rc;
}

/* ---- dispatch -------------------------------------------------------------- */

int cmd_vendor(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } subs[] = {
        {"keygen", cmd_vendor_keygen},
        {"open", cmd_vendor_open},
        {"reply", cmd_vendor_reply},
    };
    size_t i;

    if (argc < 2) {
        fputs(vendor_help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(vendor_help, stdout);
        return 0;
    }
    for (i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "vrmfs vendor: no command %s\nTry 'vrmfs vendor --help'.\n", argv[1]);
    return EXIT_USAGE;
}
