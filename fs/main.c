/*
 * main.c: the vrmfs command: dispatch to a subcommand.
 */
#include "cli.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>
#include <cjson/cJSON.h>

#include "vrm_config.h"

static const char usage[] =
    "Usage: vrmfs [OPTIONS] VAULT MOUNTPOINT\n"
    "       vrmfs COMMAND [OPTIONS] VAULT\n"
    "A person's encrypted vault of personal data, mounted as a directory tree.\n"
    "\n"
    "Mounting (see 'vrmfs VAULT MOUNTPOINT --help' for every option):\n"
    "  -p, --passfile F  read the passphrase from the first line of F\n"
    "      --extpass CMD read it from the output of CMD\n"
    "      --view VENDOR mount only what VENDOR may see, read-only\n"
    "  -f, -d, -o OPTS   foreground, debug, FUSE options (ro, allow_other, ...)\n"
    "\n"
    "Commands:\n"
    "  init        create a new vault (prints a recovery key once)\n"
    "  check       authenticate every page, check the database's integrity and\n"
    "              the access logs' hash chains\n"
    "  verify-log  verify the access logs' hash chains, of a vault or of a copy\n"
    "              of one log: vrmfs verify-log [-p F] VAULT, or ... FILE\n"
    "  passwd      change the passphrase\n"
    "  recover     set a new passphrase with the recovery key\n"
    "  backup      copy a vault, mounted or not, still encrypted, into a new\n"
    "              directory: vrmfs backup [-p F] VAULT DEST; verify a copy:\n"
    "              vrmfs backup --check [-p F] DEST\n"
    "  restore     verify a backup and copy it into a new vault:\n"
    "              vrmfs restore [-p F] BACKUP NEWVAULT\n"
    "  export      write the whole vault into a directory as plain files, in\n"
    "              clear (asks first): vrmfs export [-p F] VAULT DIR\n"
    "  import-all  make a new vault from such an export:\n"
    "              vrmfs import-all [-p F] DIR NEWVAULT\n"
    "  compact     give the space of deleted data back to the file system:\n"
    "              vrmfs compact [-p F] VAULT\n"
    "  import      import a CSV or JSON-lines file into a collection, printing a\n"
    "              report: vrmfs import [-p F] VAULT COLLECTION FILE\n"
    "  vendor      the vendor's side of messages, without a vault:\n"
    "              vrmfs vendor keygen|open|reply ... (see 'vrmfs vendor --help')\n"
    "\n"
    "Options:\n"
    "  -h, --help       show this help ('vrmfs COMMAND --help' for a command's)\n"
    "  -V, --version    show the version\n"
    "\n"
    "Exit codes: 0 ok, 1 damage found by check, backup --check or verify-log,\n"
    "2 wrong passphrase, 3 no vault, 4 vault from a newer vrmfs, 5 tampered or\n"
    "damaged, 6 disk full, 7 vault in use, 8 already exists, 9 other error,\n"
    "10 (vendor, import) a named file is missing, 11 (vendor, import) an input is\n"
    "malformed, 64 bad command line.\n"
    "See vrmfs(1).\n";

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"init", cmd_init},
        {"check", cmd_check},
        {"verify-log", cmd_verify_log},
        {"passwd", cmd_passwd},
        {"recover", cmd_recover},
        {"backup", cmd_backup},
        {"restore", cmd_restore},
        {"export", cmd_export},
        {"import-all", cmd_import_all},
        {"compact", cmd_compact},
        {"vendor", cmd_vendor},
        {"import", cmd_import},
    };
    struct rlimit no_core = {0, 0};
    size_t i;
    int fd;

    /* Keys are in memory: never write them into a core file. */
    setrlimit(RLIMIT_CORE, &no_core);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* A closed standard descriptor would be handed to the next file opened
     * (a vault's lock file) and receive what is printed: fill the gaps. */
    for (fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) == -1) {
            if (fd == STDOUT_FILENO)
                cli_stdout_closed = 1;
            if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
                return EXIT_ERROR;
        }
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "vrmfs: libsodium failed to initialise\n");
        return EXIT_ERROR;
    }
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("vrmfs %s (SQLite %s, libsodium %s, cJSON %s)\n", VRM_VERSION,
               sqlite3_libversion(), sodium_version_string(), cJSON_Version());
        return 0;
    }
    for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    return cmd_mount(argc, argv);
}
