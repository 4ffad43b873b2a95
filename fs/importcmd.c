/*
 * importcmd.c: vrmfs import: a CSV or JSON-lines file into a collection of
 * a vault that is not mounted (see lib/import.h for what becomes what).
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

static const char import_help[] =
    "Usage: vrmfs import [OPTIONS] VAULT COLLECTION FILE\n"
    "Import FILE, CSV with a header row or JSON lines, into COLLECTION of the\n"
    "vault (made if missing), in one transaction, and print the report as JSON.\n"
    "Each row becomes a record, named by its \"id\" column when it has one, else\n"
    "by a hash of its content, so importing the same file again adds nothing.\n"
    "Refused rows are listed in the report with their line; the rest is imported\n"
    "(exit 0).  A FILE that is neither CSV nor JSON lines exits 11 and changes\n"
    "nothing; a FILE that cannot be read exits 10.  The vault must not be\n"
    "mounted (exit 7).  The report is kept as import/COLLECTION/NAME.report.json,\n"
    "NAME being FILE's base name.\n"
    "\n"
    "  -p, --passfile F   read the passphrase from the first line of F\n"
    "  -h, --help         show this help\n";

/* Read all of the regular file `path` into *out (malloc'd) and *len.  0, or
 * an exit code after printing why. */
static int read_file(const char *path, char **out, size_t *len)
{
    struct stat st;
    int fd, rc;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "vrmfs: %s: %s\n", path, strerror(errno));
        rc = EXIT_NOINPUT;
    } else if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "vrmfs: %s: not a regular file\n", path);
        rc = EXIT_NOINPUT;
    } else if ((rc = vrm_fd_read_all(fd, SIZE_MAX / 2, out, len)) != 0) {
        fprintf(stderr, "vrmfs: %s: %s\n", path, rc == -ENOMEM ? "out of memory" : strerror(-rc));
        rc = rc == -ENOMEM ? EXIT_ERROR : EXIT_NOINPUT;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"passfile", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *passfile = NULL, *dir, *coll, *file, *name;
    /* bytes, shown in MiB; under 1 MiB it is over at once */
    cli_progress progress = {isatty(STDERR_FILENO), 0, "importing", "MiB", 1 << 20, 20};
    char *data = NULL, *report = NULL;
    size_t len, rlen;
    vrm_vault *v = NULL;
    secret pass;
    int c, rc;

    while ((c = getopt_long(argc, argv, "+p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            passfile = optarg;
            break;
        case 'h':
            fputs(import_help, stdout);
            return 0;
        default:
            return cli_usage_error("import", "%s", "bad option");
        }
    }
    if (optind != argc - 3)
        return cli_usage_error("import", "%s", "expects VAULT COLLECTION FILE");
    dir = argv[optind];
    coll = argv[optind + 1];
    file = argv[optind + 2];
    name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    if (vrm_collection_name_valid(coll) != 0)
        return cli_usage_error("import", "%s", vrm_error_message());
    if (vrm_record_name_valid(name) != 0)
        return cli_usage_error("import", "FILE's base name cannot name a report: %s", vrm_error_message());
    rc = read_file(file, &data, &len);
    if (rc != 0)
        return rc;
    rc = secret_read(&pass, passfile, "Passphrase: ", 0);
    if (rc != 0)
        goto out;
    rc = vrm_vault_open(&v, dir, pass.buf, pass.len, 0);
    secret_free(&pass);
    if (rc != 0) {
        rc = cli_fail(rc);
        goto out;
    }
    rc = vrm_import(v, coll, name, data, len, cli_progress_show, &progress, &report, &rlen);
    cli_progress_end(&progress);
    if (rc == -EINVAL) {
        fprintf(stderr, "vrmfs: %s: %s\n", file, vrm_error_message());
        rc = EXIT_BADINPUT;
    } else if (rc != 0) {
        rc = cli_fail(rc);
    }
    c = vrm_vault_close(v);
    if (rc == 0 && c != 0)
        rc = cli_fail(c);
    if (rc == 0 && (fwrite(report, 1, rlen, stdout) != rlen || fflush(stdout) != 0)) {
        fprintf(stderr, "vrmfs: cannot print the report: %s\n", strerror(errno));
        rc = EXIT_ERROR;
    }
out:
    free(report);
    free(data);
    return rc;
}
