/*
 * vaultcmd.c: the vault commands: init, check, verify-log, passwd, recover,
 * backup, restore, export, import-all.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vrm.h"

/* A size in bytes with an optional K, M or G (binary) suffix. */
static int parse_size(const char *s, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || s[0] == '-')
        return -1;
    switch (*end) {
    case '\0':
        break;
    case 'k': case 'K':
        v <<= 10, end++;
        break;
    case 'm': case 'M':
        v <<= 20, end++;
        break;
    case 'g': case 'G':
        v <<= 30, end++;
        break;
    default:
        return -1;
    }
    if (*end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* ---- init ------------------------------------------------------------ */

static const char init_help[] =
    "Usage: vrmfs init [OPTIONS] VAULT\n"
    "Create a new, empty vault in the directory VAULT (made if missing; an\n"
    "existing directory must be empty).  The passphrase is asked twice on the\n"
    "terminal, or read from the first line of --passfile or standard input.\n"
    "A recovery key is printed once: keep it apart from the vault.\n"
    "\n"
    "  -p, --passfile F       read the passphrase from the first line of F\n"
    "  -r, --recovery-file R  write the recovery key to R (mode 0600, must not exist)\n"
    "                         instead of printing it\n"
    "      --kdf-ops N        Argon2id passes (default: libsodium MODERATE, 3)\n"
    "      --kdf-mem BYTES    Argon2id memory, K/M/G suffixes allowed\n"
    "                         (default: libsodium MODERATE, 256M)\n"
    "  -h, --help             show this help\n";

typedef struct keep_ctx {
    const char *file;     /* --recovery-file, or NULL to print */
    int fd;               /* that file, created empty beforehand */
} keep_ctx;

static int keep_recovery(void *ctx, const char *key)
{
    keep_ctx *k = ctx;

    if (k->file != NULL) {
        size_t n = strlen(key);

        if (write(k->fd, key, n) != (ssize_t)n || write(k->fd, "\n", 1) != 1 ||
            fsync(k->fd) != 0)
            return vrm_error(errno ? errno : EIO, "cannot write the recovery key to %s: %s",
                             k->file, strerror(errno ? errno : EIO));
        return 0;
    }
    if (printf("Recovery key (shown only this once; write it down and keep it apart\n"
               "from the vault: with it a forgotten passphrase can be replaced):\n\n"
               "    %s\n\n", key) < 0 || fflush(stdout) != 0)
        return vrm_error(errno ? errno : EIO, "cannot print the recovery key: %s",
                         strerror(errno ? errno : EIO));
    return 0;
}

/* What init and import-all share: the options and steps that make a new
 * vault. */
typedef struct new_vault {
    const char *passfile;   /* -p */
    keep_ctx keep;          /* -r */
    vrm_kdf_limits limits;  /* --kdf-ops, --kdf-mem */
} new_vault;

#define NEW_VAULT_OPTIONS                                           \
    {"passfile", required_argument, NULL, 'p'},                     \
    {"recovery-file", required_argument, NULL, 'r'},                \
    {"kdf-ops", required_argument, NULL, 'O'},                      \
    {"kdf-mem", required_argument, NULL, 'M'}

/* Take option `c` of `cmd` if it is one of NEW_VAULT_OPTIONS: 1, or
 * -EXIT_USAGE after saying why; 0 if it is another option. */
static int new_vault_option(new_vault *nv, int c, const char *cmd)
{
    unsigned long long n;

    switch (c) {
    case 'p':
        nv->passfile = optarg;
        return 1;
    case 'r':
        nv->keep.file = optarg;
        return 1;
    case 'O':
        if (parse_size(optarg, &n) != 0 || n == 0)
            return -cli_usage_error(cmd, "--kdf-ops: not a positive number: %s", optarg);
        nv->limits.ops = n;
        return 1;
    case 'M':
        if (parse_size(optarg, &n) != 0 || n == 0 || n > SIZE_MAX)
            return -cli_usage_error(cmd, "--kdf-mem: not a size: %s", optarg);
        nv->limits.mem = (size_t)n;
        return 1;
    default:
        return 0;
    }
}

/* Make sure the recovery key can be kept: standard output open, or the
 * --recovery-file made (empty, mode 0600, never over an existing file).
 * 0 or an exit code. */
static int new_vault_begin(new_vault *nv)
{
    if (nv->keep.file == NULL && cli_stdout_closed) {
        fprintf(stderr, "vrmfs: standard output is closed: the recovery key would be lost "
                "(use --recovery-file)\n");
        return EXIT_USAGE;
    }
    if (nv->keep.file != NULL) {
        nv->keep.fd = open(nv->keep.file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           0600);
        if (nv->keep.fd < 0) {
            fprintf(stderr, "vrmfs: %s: %s%s\n", nv->keep.file, strerror(errno),
                    errno == EEXIST ? " (not overwriting it)" : "");
            return errno == EEXIST ? EXIT_EXISTS : EXIT_ERROR;
        }
    }
    return 0;
}

/* Ask the new passphrase (twice on a terminal) and create the vault in
 * `dir`, handing the recovery key over.  0 with *pass kept for the caller
 * (secret_free), or an exit code. */
static int new_vault_create(new_vault *nv, const char *dir, secret *pass)
{
    int rc = secret_read(pass, nv->passfile, "New passphrase: ", 1);

    if (rc != 0)
        return rc;
    rc = vrm_vault_create(dir, pass->buf, pass->len, &nv->limits, keep_recovery, &nv->keep);
    if (rc != 0) {
        secret_free(pass);
        return cli_fail(rc);
    }
    return 0;
}

/* Close the recovery key's file; remove it when the command failed (`rc`). */
static void new_vault_end(new_vault *nv, int rc)
{
    if (nv->keep.fd >= 0) {
        close(nv->keep.fd);
        if (rc != 0)
            unlink(nv->keep.file);
    }
}

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        NEW_VAULT_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    new_vault nv = {NULL, {NULL, -1}, {0, 0}};
    secret pass;
    int c, rc;

    while ((c = getopt_long(argc, argv, "+p:r:h", opts, NULL)) != -1) {
        if ((rc = new_vault_option(&nv, c, "init")) != 0) {
            if (rc < 0)
                return -rc;
            continue;
        }
        if (c != 'h')
            return cli_usage_error("init", "%s", "bad option");
        fputs(init_help, stdout);
        return 0;
    }
    if (optind != argc - 1)
        return cli_usage_error("init", "%s", "expects one VAULT directory");
    rc = new_vault_begin(&nv);
    if (rc == 0 && (rc = new_vault_create(&nv, argv[optind], &pass)) == 0)
        secret_free(&pass);
    new_vault_end(&nv, rc);
    if (rc == 0)
        fprintf(stderr, "vrmfs: created the vault at %s%s%s\n", argv[optind],
                nv.keep.file ? "; recovery key written to " : "",
                nv.keep.file ? nv.keep.file : "");
    return rc;
}

/* ---- check ----------------------------------------------------------- */

static const char check_help[] =
    "Usage: vrmfs check [OPTIONS] VAULT\n"
    "Authenticate every page of the vault's database and WAL, run SQLite's\n"
    "integrity check and verify the hash chain of every access log.  Prints 'ok'\n"
    "and exits 0 if all is well; otherwise prints each damaged page or problem\n"
    "and exits 1.  Exits 2 on a wrong passphrase.\n"
    "The vault must not be mounted.\n"
    "\n"
    "  -p, --passfile F   read the passphrase from the first line of F\n"
    "  -q, --quiet        print nothing when all is well\n"
    "  -h, --help         show this help\n";

static void check_bad(void *ctx, const char *what)
{
    cli_progress_end(ctx);
    printf("%s\n", what);
}

static void check_note(void *ctx, const char *what)
{
    cli_progress_end(ctx);
    fprintf(stderr, "note: %s\n", what);
}

/* After a clean vrm_vault_check: open the vault read-only and verify the
 * access logs' chains and the consent receipts (signatures, chains).  The
 * number of problems (0 or 1, reported through r->bad) or a negative errno.  A vault whose schema awaits an upgrade
 * cannot be opened read-only; that is noted, not counted. */
static int check_access_logs(const char *dir, const secret *pass,
                             const vrm_check_report *r)
{
    vrm_vault *v = NULL;
    char note[512];
    int rc, c;

    rc = vrm_vault_open(&v, dir, pass->buf, pass->len, VRM_OPEN_READONLY);
    if (rc == -EROFS) {
        snprintf(note, sizeof note, "access logs not verified: %s", vrm_error_message());
        r->note(r->ctx, note);
        return 0;
    }
    if (rc != 0)
        return rc;
    rc = vrm_accesslog_verify_all(v);
    if (rc == -EBADMSG) {
        r->bad(r->ctx, vrm_error_message());
        rc = 1;
    }
    if (rc == 0) {
        rc = vrm_receipt_verify_all(v);   /* signatures and the chains */
        if (rc == -EBADMSG) {
            r->bad(r->ctx, vrm_error_message());
            rc = 1;
        }
    }
    c = vrm_vault_close(v);
    return rc == 0 && c < 0 ? c : rc;
}

/* What `vrmfs check` does once it has the passphrase: an exit code. */
static int check_vault(const char *dir, const secret *pass, int quiet)
{
    /* under 2,048 pages (8 MiB) it is over at once */
    cli_progress out = {isatty(STDERR_FILENO), 0, "checking", "pages", 2048, 0};
    vrm_check_report report = {check_bad, check_note, cli_progress_show, &out};
    int rc;

    rc = vrm_vault_check(dir, pass->buf, pass->len, &report);
    cli_progress_end(&out);
    if (rc == 0)
        rc = check_access_logs(dir, pass, &report);
    if (rc < 0)
        return cli_fail(rc);
    if (rc > 0) {
        printf("damaged: %d problem%s found\n", rc, rc == 1 ? "" : "s");
        return EXIT_DAMAGED;
    }
    if (!quiet)
        printf("ok\n");
    return 0;
}

/* The command line of a command taking [-p F] [-q] VAULT: parses it,
 * leaving VAULT at argv[optind], and reads the passphrase into *pass.
 * Returns -1 to go on, else an exit code (--help: 0), *pass then unset. */
static int vault_and_passphrase(int argc, char **argv, const char *cmd, const char *help,
                                int *quiet, secret *pass)
{
    static const struct option opts[] = {
        {"passfile", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *passfile = NULL;
    int c, rc;

    while ((c = getopt_long(argc, argv, "+p:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            passfile = optarg;
            break;
        case 'q':
            *quiet = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            return cli_usage_error(cmd, "%s", "bad option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(cmd, "%s", "expects one VAULT directory");
    rc = secret_read(pass, passfile, "Passphrase: ", 0);
    return rc != 0 ? rc : -1;
}

int cmd_check(int argc, char **argv)
{
    int rc, quiet = 0;
    secret pass;

    if ((rc = vault_and_passphrase(argc, argv, "check", check_help, &quiet, &pass)) >= 0)
        return rc;
    rc = check_vault(argv[optind], &pass, quiet);
    secret_free(&pass);
    return rc;
}

/* ---- verify-log ------------------------------------------------------ */

static const char verify_log_help[] =
    "Usage: vrmfs verify-log [OPTIONS] VAULT\n"
    "       vrmfs verify-log FILE\n"
    "Verify the hash chain of access logs.  With VAULT (a directory holding\n"
    "vault.json), every vendor's stored log, removed vendors' included: prints\n"
    "'ok' and exits 0, or the vendor and the first bad line and exits 1.  With\n"
    "FILE (a copy of vendors/VENDOR/access.log taken out of the mount), its text\n"
    "alone, without the vault: prints 'ok (N lines)' and exits 0, or\n"
    "'FILE: line K: why' and exits 1.  A vault must not be mounted.\n"
    "\n"
    "  -p, --passfile F   read the vault's passphrase from the first line of F\n"
    "  -h, --help         show this help\n";

/* Read all of the regular file `path` into *out (malloc'd, NUL-terminated)
 * and *len.  0, or an exit code after printing why. */
static int slurp(const char *path, char **out, size_t *len)
{
    struct stat st;
    int fd, rc;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "vrmfs: %s: %s\n", path, strerror(errno));
        rc = EXIT_ERROR;
    } else if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "vrmfs: %s: not a regular file\n", path);
        rc = EXIT_USAGE;
    } else if ((rc = vrm_fd_read_all(fd, SIZE_MAX / 2, out, len)) != 0) {
        fprintf(stderr, "vrmfs: %s: %s\n", path, strerror(-rc));
        rc = EXIT_ERROR;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

static int verify_log_file(const char *path)
{
    size_t len, lines = 0, i;
    char *text;
    int rc = slurp(path, &text, &len);

    if (rc != 0)
        return rc;
    if (vrm_accesslog_verify_text(text, len, NULL) != 0) {
        printf("%s: %s\n", path, vrm_error_message());
        rc = EXIT_DAMAGED;
    } else {
        for (i = 0; i < len; i++)
            lines += text[i] == '\n';
        printf("ok (%zu line%s)\n", lines, lines == 1 ? "" : "s");
    }
    free(text);
    return rc;
}

static int verify_log_vault(const char *dir, const char *passfile)
{
    vrm_vault *v = NULL;
    secret pass;
    int rc, c;

    rc = secret_read(&pass, passfile, "Passphrase: ", 0);
    if (rc != 0)
        return rc;
    rc = vrm_vault_open(&v, dir, pass.buf, pass.len, VRM_OPEN_READONLY);
    secret_free(&pass);
    if (rc != 0)
        return cli_fail(rc);
    rc = vrm_accesslog_verify_all(v);
    if (rc == -EBADMSG)
        printf("%s\n", vrm_error_message());
    else if (rc != 0)
        rc = cli_fail(rc);
    else
        printf("ok\n");
    c = vrm_vault_close(v);
    if (rc == -EBADMSG)
        return EXIT_DAMAGED;
    if (rc == 0 && c != 0)
        return cli_fail(c);
    return rc;
}

int cmd_verify_log(int argc, char **argv)
{
    static const struct option opts[] = {
        {"passfile", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *passfile = NULL, *arg;
    struct stat st;
    char *vj;
    int c, is_vault;

    while ((c = getopt_long(argc, argv, "+p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            passfile = optarg;
            break;
        case 'h':
            fputs(verify_log_help, stdout);
            return 0;
        default:
            return cli_usage_error("verify-log", "%s", "bad option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("verify-log", "%s", "expects one VAULT directory or log FILE");
    arg = argv[optind];
    if (stat(arg, &st) != 0)
        return cli_usage_error("verify-log", "%s: %s", arg, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        if (passfile != NULL)
            return cli_usage_error("verify-log", "%s is a log file: --passfile is for a vault",
                               arg);
        return verify_log_file(arg);
    }
    if (!S_ISDIR(st.st_mode))
        return cli_usage_error("verify-log", "%s is neither a vault nor a regular file", arg);
    vj = malloc(strlen(arg) + sizeof "/vault.json");
    if (vj == NULL) {
        fprintf(stderr, "vrmfs: out of memory\n");
        return EXIT_ERROR;
    }
    strcpy(vj, arg);
    strcat(vj, "/vault.json");
    is_vault = stat(vj, &st) == 0 && S_ISREG(st.st_mode);
    free(vj);
    if (!is_vault)
        return cli_usage_error("verify-log", "%s is a directory without vault.json, not a vault",
                           arg);
    return verify_log_vault(arg, passfile);
}

/* ---- passwd and recover ---------------------------------------------- */

static const char passwd_help[] =
    "Usage: vrmfs passwd [OPTIONS] VAULT\n"
    "Change the vault's passphrase.  Only vault.json is rewritten (atomically);\n"
    "the data is not re-encrypted, and a mounted vault stays mounted.\n"
    "\n"
    "  -p, --passfile OLD       read the current passphrase from the first line of OLD\n"
    "  -n, --new-passfile NEW   read the new passphrase from the first line of NEW\n"
    "  -h, --help               show this help\n"
    "Without files, both are asked on the terminal (the new one twice), or read\n"
    "as two lines of standard input.\n";

static const char recover_help[] =
    "Usage: vrmfs recover [OPTIONS] VAULT\n"
    "Set a new passphrase with the recovery key printed by 'vrmfs init'.\n"
    "\n"
    "  -r, --recovery-file R    read the recovery key from the first line of R\n"
    "  -n, --new-passfile NEW   read the new passphrase from the first line of NEW\n"
    "  -h, --help               show this help\n";

static int rekey(int argc, char **argv, int recover)
{
    static const struct option opts[] = {
        {"passfile", required_argument, NULL, 'p'},
        {"recovery-file", required_argument, NULL, 'r'},
        {"new-passfile", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = recover ? "recover" : "passwd";
    const char *oldfile = NULL, *newfile = NULL;
    secret old, new_pass;
    int c, rc;

    while ((c = getopt_long(argc, argv, recover ? "+r:n:h" : "+p:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
        case 'r':
            if ((c == 'r') != recover)
                return cli_usage_error(cmd, "%s", recover ? "takes --recovery-file, not --passfile"
                                                      : "takes --passfile, not --recovery-file");
            oldfile = optarg;
            break;
        case 'n':
            newfile = optarg;
            break;
        case 'h':
            fputs(recover ? recover_help : passwd_help, stdout);
            return 0;
        default:
            return cli_usage_error(cmd, "%s", "bad option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(cmd, "%s", "expects one VAULT directory");
    rc = secret_read(&old, oldfile, recover ? "Recovery key: " : "Current passphrase: ", 0);
    if (rc != 0)
        return rc;
    rc = secret_read(&new_pass, newfile, "New passphrase: ", 1);
    if (rc != 0) {
        secret_free(&old);
        return rc;
    }
    if (recover)
        rc = vrm_vault_recover(argv[optind], old.buf, new_pass.buf, new_pass.len);
    else
        rc = vrm_vault_passwd(argv[optind], old.buf, old.len, new_pass.buf, new_pass.len);
    secret_free(&old);
    secret_free(&new_pass);
    if (rc != 0)
        return cli_fail(rc);
    fprintf(stderr, "vrmfs: passphrase changed for %s\n", argv[optind]);
    return 0;
}

int cmd_passwd(int argc, char **argv)
{
    return rekey(argc, argv, 0);
}

int cmd_recover(int argc, char **argv)
{
    return rekey(argc, argv, 1);
}

/* ---- backup and restore ---------------------------------------------- */

static const char backup_help[] =
    "Usage: vrmfs backup [OPTIONS] VAULT DEST\n"
    "       vrmfs backup --check [OPTIONS] DEST\n"
    "Copy the vault into DEST, a new directory (an existing one must be empty),\n"
    "consistently, even while the vault is mounted and in use.  vault.json is\n"
    "copied as it is and the database page by page through SQLite's online\n"
    "backup, every page staying encrypted: nothing is written in clear, and the\n"
    "same passphrase and recovery key open the copy.  With --check, verify the\n"
    "backup DEST as 'vrmfs check' verifies a vault: prints 'ok' and exits 0, or\n"
    "each problem and exits 1.\n"
    "\n"
    "  -p, --passfile F   read the passphrase from the first line of F\n"
    "  -c, --check        verify the backup DEST instead of making one\n"
    "  -q, --quiet        print nothing when all is well\n"
    "  -h, --help         show this help\n";

static const char restore_help[] =
    "Usage: vrmfs restore [OPTIONS] BACKUP NEWVAULT\n"
    "Verify the backup BACKUP (as 'vrmfs backup --check' does), then copy it to\n"
    "NEWVAULT, a new directory (an existing one must be empty; nothing is\n"
    "overwritten), synced to disk.  Prints 'ok'.  The restored vault opens with\n"
    "the passphrase and recovery key the vault had when the backup was made.\n"
    "\n"
    "  -p, --passfile F   read the passphrase from the first line of F\n"
    "  -q, --quiet        print nothing when all is well\n"
    "  -h, --help         show this help\n";

/* Copy `from` into the new directory `to`; an exit code. */
static int copy_vault(const char *from, const char *to, const secret *pass, const char *what)
{
    /* under 2,048 pages (8 MiB) it is over at once */
    cli_progress out = {isatty(STDERR_FILENO), 0, what, "pages", 2048, 0};
    int rc = vrm_vault_backup(from, pass->buf, pass->len, to, cli_progress_show, &out);

    cli_progress_end(&out);
    return rc == 0 ? 0 : cli_fail(rc);
}

static int backup_or_restore(int argc, char **argv, int restore)
{
    static const struct option opts[] = {
        {"passfile", required_argument, NULL, 'p'},
        {"check", no_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = restore ? "restore" : "backup";
    const char *passfile = NULL;
    int c, rc, check = 0, quiet = 0;
    secret pass;

    while ((c = getopt_long(argc, argv, restore ? "+p:qh" : "+p:cqh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            passfile = optarg;
            break;
        case 'c':
            if (restore)
                return cli_usage_error(cmd, "%s", "bad option");
            check = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(restore ? restore_help : backup_help, stdout);
            return 0;
        default:
            return cli_usage_error(cmd, "%s", "bad option");
        }
    }
    if (check && optind != argc - 1)
        return cli_usage_error(cmd, "%s", "--check expects one backup directory DEST");
    if (!check && optind != argc - 2)
        return cli_usage_error(cmd, "%s", restore ? "expects a BACKUP and a NEWVAULT directory"
                                              : "expects a VAULT and a DEST directory");
    rc = secret_read(&pass, passfile, "Passphrase: ", 0);
    if (rc != 0)
        return rc;
    if (check) {
        rc = check_vault(argv[optind], &pass, quiet);
    } else if (!restore) {
        rc = copy_vault(argv[optind], argv[optind + 1], &pass, "backing up");
        if (rc == 0 && !quiet)
            printf("ok\n");
    } else {
        rc = check_vault(argv[optind], &pass, 1);
        if (rc == 0)
            rc = copy_vault(argv[optind], argv[optind + 1], &pass, "restoring");
        if (rc == 0 && !quiet)
            printf("ok\n");
    }
    secret_free(&pass);
    return rc;
}

int cmd_backup(int argc, char **argv)
{
    return backup_or_restore(argc, argv, 0);
}

int cmd_restore(int argc, char **argv)
{
    return backup_or_restore(argc, argv, 1);
}

/* ---- export and import-all ------------------------------------------- */

static const char export_help[] =
    "Usage: vrmfs export [OPTIONS] VAULT DIR\n"
    "Write everything in the vault into DIR (made with mode 0700; an existing\n"
    "directory must be empty) as plain, unencrypted files: records as JSON,\n"
    "documents with their modes, times and xattrs, vendors, grants, consent\n"
    "receipts, access logs, messages and custom analytics, with index files\n"
    "that 'vrmfs import-all' reads to make a new vault of it.  DIR also holds\n"
    "the key of your pairwise identities.  Decrypting is your choice: anyone\n"
    "who can read DIR can read all of it.  Asks for confirmation on a\n"
    "terminal; elsewhere --yes is needed.  A mounted vault is exported as it\n"
    "is when the command starts, from a snapshot (an encrypted backup made\n"
    "beside DIR and removed afterwards).\n"
    "\n"
    "  -p, --passfile F   read the passphrase from the first line of F\n"
    "  -y, --yes          do not ask: export in clear\n"
    "  -q, --quiet        print nothing when all is well\n"
    "  -h, --help         show this help\n";

static const char import_all_help[] =
    "Usage: vrmfs import-all [OPTIONS] DIR NEWVAULT\n"
    "Make a new vault in NEWVAULT (made if missing; an existing directory must\n"
    "be empty) from DIR, an export made by 'vrmfs export': records, documents\n"
    "with modes, times and xattrs, vendors, grants, receipts, access logs,\n"
    "pending and sent messages, the inbox and custom analytics.  Every file is\n"
    "checked against the export's sha256 sums, and the receipts' and access\n"
    "logs' chains are verified; on any error nothing is left in NEWVAULT.  The\n"
    "new vault keeps the pairwise identities vendors know.  A new passphrase\n"
    "is asked twice (or read from --passfile) and a new recovery key printed\n"
    "once.  Delete DIR when done: it is in clear.\n"
    "\n"
    "  -p, --passfile F       read the new passphrase from the first line of F\n"
    "  -r, --recovery-file R  write the recovery key to R (mode 0600, must not\n"
    "                         exist) instead of printing it\n"
    "      --kdf-ops N        Argon2id passes (as in 'vrmfs init')\n"
    "      --kdf-mem BYTES    Argon2id memory, K/M/G suffixes allowed\n"
    "  -q, --quiet            print nothing when all is well\n"
    "  -h, --help             show this help\n";

/* Ask on the terminal; 1 for yes. */
static int confirm(const char *question)
{
    char answer[16];
    FILE *tty = fopen("/dev/tty", "r+e");
    int yes = 0;

    if (tty == NULL)
        return 0;
    fputs(question, tty);
    fflush(tty);
    if (fgets(answer, sizeof answer, tty) != NULL)
        yes = answer[0] == 'y' || answer[0] == 'Y';
    fclose(tty);
    return yes;
}

/* A new, empty directory beside `dir` for a snapshot of a mounted vault:
 * malloc'd, or NULL with errno. */
static char *snapshot_dir(const char *dir)
{
    static const char name[] = "/.vrmfs-snapshot-XXXXXX";
    size_t n = strlen(dir);
    const char *slash;
    char *path;

    while (n > 1 && dir[n - 1] == '/')
        n--;                          /* DIR/ as DIR */
    for (slash = dir + n; slash > dir && slash[-1] != '/'; slash--)
        ;
    /* the parent: "." for a bare name, "" for one under / */
    n = slash == dir ? 1 : (size_t)(slash - dir - 1);
    if ((path = malloc(n + sizeof name)) == NULL)
        return NULL;
    memcpy(path, slash == dir ? "." : dir, n);
    memcpy(path + n, name, sizeof name);
    if (mkdtemp(path) == NULL) {
        int err = errno;

        free(path);
        errno = err;
        return NULL;
    }
    return path;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"passfile", required_argument, NULL, 'p'},
        {"yes", no_argument, NULL, 'y'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *passfile = NULL;
    int c, rc, yes = 0, quiet = 0;
    cli_progress out = {isatty(STDERR_FILENO), 0, "exporting", "items", 1000, 0};
    vrm_vault *v = NULL;
    char *snap = NULL;
    secret pass;

    while ((c = getopt_long(argc, argv, "+p:yqh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            passfile = optarg;
            break;
        case 'y':
            yes = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(export_help, stdout);
            return 0;
        default:
            return cli_usage_error("export", "%s", "bad option");
        }
    }
    if (optind != argc - 2)
        return cli_usage_error("export", "%s", "expects a VAULT and a DIR directory");
    fprintf(stderr, "vrmfs: warning: the export writes the whole vault to %s in clear,\n"
            "  with the key of your pairwise identities: anyone who can read it can read\n"
            "  everything and speak to your vendors as you.  Keep it on an encrypted disk\n"
            "  and delete it when done.\n", argv[optind + 1]);
    if (!yes && !(isatty(STDIN_FILENO) && confirm("Export in clear? [y/N] "))) {
        fprintf(stderr, "vrmfs: not exported%s\n",
                isatty(STDIN_FILENO) ? "" : " (give --yes to export without a terminal)");
        return EXIT_USAGE;
    }
    rc = secret_read(&pass, passfile, "Passphrase: ", 0);
    if (rc != 0)
        return rc;
    rc = vrm_vault_open(&v, argv[optind], pass.buf, pass.len, VRM_OPEN_READONLY);
    if (rc == -EBUSY) {
        /* Mounted: export a snapshot, a backup (encrypted like the vault)
         * made beside DIR and removed afterwards. */
        snap = snapshot_dir(argv[optind + 1]);
        rc = snap == NULL ? vrm_error(errno, "cannot make a snapshot directory beside %s: %s",
                                      argv[optind + 1], strerror(errno))
                          : vrm_vault_backup(argv[optind], pass.buf, pass.len, snap, NULL, NULL);
        if (rc == 0)
            rc = vrm_vault_open(&v, snap, pass.buf, pass.len, VRM_OPEN_READONLY);
    }
    secret_free(&pass);
    if (rc == 0) {
        rc = vrm_export(v, argv[optind + 1], cli_progress_show, &out);
        cli_progress_end(&out);
        if (vrm_vault_close(v) != 0 && rc == 0)
            rc = -EIO;
    }
    rc = rc == 0 ? 0 : cli_fail(rc);
    if (snap != NULL) {
        vrm_vault_discard(snap, 1);
        free(snap);
    }
    if (rc == 0 && !quiet)
        printf("exported to %s\n", argv[optind + 1]);
    return rc;
}

/* ---- compact --------------------------------------------------------- */

static const char compact_help[] =
    "Usage: vrmfs compact [OPTIONS] VAULT\n"
    "Give the space of deleted records and documents back to the file system.\n"
    "Deleting frees pages inside vault.db, which later writes reuse, but the\n"
    "file keeps its size; compact moves the pages at the end of the file into\n"
    "the free ones and shortens it, 10 MiB at a time, each step committed, so\n"
    "an interrupted compact leaves a sound vault.  Prints vault.db's size before\n"
    "and after.  The vault must not be mounted.  A vault made before vrmfs kept\n"
    "the pointer map this needs is refused, unchanged (exit 9): 'vrmfs export'\n"
    "and 'vrmfs import-all' copy it into a new vault that can be compacted.\n"
    "\n"
    "  -p, --passfile F   read the passphrase from the first line of F\n"
    "  -q, --quiet        print nothing when all is well\n"
    "  -h, --help         show this help\n";

int cmd_compact(int argc, char **argv)
{
    /* under 2,560 pages (one step) it is over at once */
    cli_progress out = {isatty(STDERR_FILENO), 0, "compacting", "free pages", 2560, 0};
    uint64_t before = 0, after = 0;
    vrm_vault *v = NULL;
    int rc, quiet = 0;
    secret pass;

    if ((rc = vault_and_passphrase(argc, argv, "compact", compact_help, &quiet, &pass)) >= 0)
        return rc;
    rc = vrm_vault_open(&v, argv[optind], pass.buf, pass.len, 0);
    secret_free(&pass);
    if (rc == 0) {
        rc = vrm_vault_compact(v, cli_progress_show, &out, &before, &after);
        cli_progress_end(&out);
        if (vrm_vault_close(v) != 0 && rc == 0)
            rc = -EIO;
    }
    if (rc != 0)
        return cli_fail(rc);
    if (!quiet)
        printf("vault.db: %.1f MiB, was %.1f MiB (%.1f MiB given back)\n",
               (double)after / 1048576, (double)before / 1048576,
               (double)(before > after ? before - after : 0) / 1048576);
    return 0;
}

int cmd_import_all(int argc, char **argv)
{
    static const struct option opts[] = {
        NEW_VAULT_OPTIONS,
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    new_vault nv = {NULL, {NULL, -1}, {0, 0}};
    cli_progress out = {isatty(STDERR_FILENO), 0, "importing", "items", 1000, 0};
    const char *from, *to;
    vrm_vault *v = NULL;
    struct stat sb;
    int c, rc, quiet = 0, existed;
    secret pass;

    while ((c = getopt_long(argc, argv, "+p:r:qh", opts, NULL)) != -1) {
        if ((rc = new_vault_option(&nv, c, "import-all")) != 0) {
            if (rc < 0)
                return -rc;
            continue;
        }
        switch (c) {
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(import_all_help, stdout);
            return 0;
        default:
            return cli_usage_error("import-all", "%s", "bad option");
        }
    }
    if (optind != argc - 2)
        return cli_usage_error("import-all", "%s", "expects an export DIR and a NEWVAULT directory");
    from = argv[optind];
    to = argv[optind + 1];
    if (stat(from, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "vrmfs: %s: not a directory\n", from);
        return EXIT_NOVAULT;
    }
    existed = stat(to, &sb) == 0;
    rc = new_vault_begin(&nv);
    if (rc == 0 && (rc = new_vault_create(&nv, to, &pass)) == 0) {
        /* the vault exists from here on: any failure discards it */
        rc = vrm_vault_open(&v, to, pass.buf, pass.len, 0);
        secret_free(&pass);
        if (rc == 0) {
            rc = vrm_import_all(v, from, cli_progress_show, &out);
            cli_progress_end(&out);
            if (rc != 0)
                rc = cli_fail(rc);
            if (vrm_vault_close(v) != 0 && rc == 0)
                rc = cli_fail(-EIO);
        } else {
            rc = cli_fail(rc);
        }
        if (rc != 0)
            vrm_vault_discard(to, !existed);
    }
    new_vault_end(&nv, rc);
    if (rc == 0 && !quiet)
        fprintf(stderr, "vrmfs: made the vault %s from the export %s%s%s\n", to, from,
                nv.keep.file ? "; recovery key written to " : "",
                nv.keep.file ? nv.keep.file : "");
    return rc;
}
