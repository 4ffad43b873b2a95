/*
 * mount.c: `vrmfs [options] VAULT MOUNTPOINT`: unlock the vault and serve
 * it with libfuse3 until unmounted.
 *
 * Like sshfs and gocryptfs, the command returns only once the mount is ready
 * (exit 0) or has failed (a message and a non-zero exit).  Without -f it
 * forks before the vault is opened, so that no SQLite connection crosses a
 * fork: the child opens the vault, mounts, tells the parent how it went
 * through a pipe, and serves in the background, logging to syslog.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "mountfs.h"
#include "node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

static const char mount_help[] =
    "Usage: vrmfs [OPTIONS] VAULT MOUNTPOINT\n"
    "Unlock the vault and mount it at MOUNTPOINT (an empty directory).  Returns\n"
    "once the mount is ready; unmount with 'fusermount3 -u MOUNTPOINT'.\n"
    "\n"
    "  -p, --passfile F     read the passphrase from the first line of F\n"
    "      --extpass CMD    run CMD with /bin/sh; its first line of output is\n"
    "                       the passphrase (for password managers)\n"
    "  -f, --foreground     stay in the foreground, log to standard error\n"
    "  -d, --debug          log every FUSE request (implies -f)\n"
    "      --view VENDOR    mount only what VENDOR may see (its views/VENDOR/),\n"
    "                       read-only, to hand to another program; every read\n"
    "                       is logged in the vendor's access.log\n"
    "  -o OPT[,OPT...]      mount options: ro, allow_other, nonempty, and the FUSE\n"
    "                       options; passfile=F, extpass=CMD and view=VENDOR as\n"
    "                       above (for /etc/fstab, where every option comes in -o)\n"
    "  -h, --help           show this help\n";

/* What the serving process tells the waiting one. */
typedef struct status_msg {
    int code;                         /* exit code; 0 = mounted */
    char text[512];                   /* message when code != 0 */
} status_msg;

static void report(int fd, int code, const char *text)
{
    status_msg m;

    if (fd < 0) {
        if (code != 0)
            fprintf(stderr, "vrmfs: %s\n", text);
        return;
    }
    memset(&m, 0, sizeof m);
    m.code = code;
    snprintf(m.text, sizeof m.text, "%s", text ? text : "");
    if (write(fd, &m, sizeof m) != (ssize_t)sizeof m)
        syslog(LOG_ERR, "cannot report to the mounting process: %m");
    close(fd);
}

static int wait_child(int fd, pid_t pid)
{
    status_msg m;
    ssize_t got;

    do
        got = read(fd, &m, sizeof m);
    while (got < 0 && errno == EINTR);
    close(fd);
    if (got != (ssize_t)sizeof m) {
        int st = 0;

        waitpid(pid, &st, 0);
        fprintf(stderr, "vrmfs: the mounting process ended without a word (status %d)\n", st);
        return EXIT_ERROR;
    }
    if (m.code != 0) {
        fprintf(stderr, "vrmfs: %s\n", m.text);
        waitpid(pid, NULL, 0);
    }
    return m.code;
}

static int check_mountpoint(const char *mnt, int nonempty)
{
    struct stat st;
    struct dirent *e;
    DIR *d;

    if (stat(mnt, &st) != 0) {
        fprintf(stderr, "vrmfs: mount point %s: %s\n", mnt, strerror(errno));
        return EXIT_USAGE;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "vrmfs: mount point %s is not a directory\n", mnt);
        return EXIT_USAGE;
    }
    if (nonempty)
        return 0;
    d = opendir(mnt);
    if (d == NULL) {
        fprintf(stderr, "vrmfs: mount point %s: %s\n", mnt, strerror(errno));
        return EXIT_USAGE;
    }
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            closedir(d);
            fprintf(stderr, "vrmfs: mount point %s is not empty (use -o nonempty to "
                    "mount over it anyway)\n", mnt);
            return EXIT_USAGE;
        }
    closedir(d);
    return 0;
}

/* Does a comma-separated option list contain `opt`? */
static int has_opt(const char *opts, const char *opt)
{
    size_t n = strlen(opt);
    const char *p = opts;

    while (p != NULL && *p) {
        if (strncmp(p, opt, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
        p = strchr(p, ',');
        if (p != NULL)
            p++;
    }
    return 0;
}

/* Open, mount and serve; `fd` reports to the waiting parent (or -1). */
static int serve(const char *vault, const char *mnt, secret *pass, const char *opts,
                 const char *view, int foreground, int debug, int fd)
{
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    struct fuse_loop_config *loop = NULL;
    struct fuse *f = NULL;
    char *fsopts = NULL;
    vrmfs fs;
    int rc;

    memset(&fs, 0, sizeof fs);
    pthread_mutex_init(&fs.mu, NULL);
    fs.uid = getuid();
    fs.gid = getgid();
    fs.foreground = foreground;
    fs.read_only = has_opt(opts, "ro") || view != NULL;
    clock_gettime(CLOCK_REALTIME, &fs.mounted);
    fs.mnt = mnt;
    fs.vault_dir = realpath(vault, NULL);
    if (fs.vault_dir == NULL) {
        char msg[600];

        snprintf(msg, sizeof msg, "no vault at %s: %s", vault, strerror(errno));
        secret_free(pass);
        report(fd, EXIT_NOVAULT, msg);
        return EXIT_NOVAULT;
    }
    /* A view mount writes its access log, so its vault stays writable. */
    rc = vrm_vault_open(&fs.v, fs.vault_dir, pass->buf, pass->len,
                        VRM_OPEN_WAIT | (fs.read_only && view == NULL ? VRM_OPEN_READONLY : 0));
    secret_free(pass);
    if (rc != 0) {
        report(fd, cli_exit_code(rc), vrm_error_message());
        free(fs.vault_dir);
        return cli_exit_code(rc);
    }
    if (view != NULL) {
        char msg[200];

        rc = vrm_vendor_name_valid(view);
        if (rc == 0)
            rc = vrm_vendor_exists(fs.v, view);
        if (rc <= 0) {
            if (rc == 0)
                snprintf(msg, sizeof msg, "no vendor %.64s in this vault (mkdir "
                         "vendors/%.64s registers one)", view, view);
            else
                snprintf(msg, sizeof msg, "%s", vrm_error_message());
            report(fd, EXIT_USAGE, msg);
            if (vrm_vault_close(fs.v) != 0)   /* read-only: nothing to lose */
                vrm_error_clear();
            free(fs.vault_dir);
            return EXIT_USAGE;
        }
        node_set_view(view);
    }

    if (asprintf(&fsopts, "default_permissions,fsname=vrmfs,subtype=vrmfs%s%s%s",
                 view != NULL ? ",ro" : "", opts && *opts ? "," : "", opts ? opts : "") < 0)
        fsopts = NULL;
    if (fsopts == NULL || fuse_opt_add_arg(&args, "vrmfs") != 0 ||
        fuse_opt_add_arg(&args, "-o") != 0 || fuse_opt_add_arg(&args, fsopts) != 0 ||
        (debug && fuse_opt_add_arg(&args, "-d") != 0)) {
        rc = EXIT_ERROR;
        report(fd, rc, "out of memory");
        goto out;
    }
    f = fuse_new(&args, &vrmfs_ops, sizeof vrmfs_ops, &fs);
    if (f == NULL) {
        rc = EXIT_USAGE;
        report(fd, rc, "bad FUSE options (see the messages above)");
        goto out;
    }
    if (fuse_mount(f, mnt) != 0) {
        rc = EXIT_ERROR;
        report(fd, rc, "cannot mount (is /dev/fuse there, and fusermount3 installed?)");
        fuse_destroy(f);
        f = NULL;
        goto out;
    }
    if (fuse_set_signal_handlers(fuse_get_session(f)) != 0) {
        rc = EXIT_ERROR;
        report(fd, rc, "cannot set signal handlers");
        goto unmount;
    }
    if (!foreground) {
        int null = open("/dev/null", O_RDWR);

        openlog("vrmfs", LOG_PID, LOG_DAEMON);
        if (chdir("/") != 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
            dup2(null, 2) < 0)
            syslog(LOG_WARNING, "cannot detach from the terminal: %m");
        if (null > 2)
            close(null);
        syslog(LOG_INFO, "mounted %s at %s", fs.vault_dir, mnt);
    }
    {
        char note[PATH_MAX + 64];

        snprintf(note, sizeof note, "mounted at %s by process %ld", mnt, (long)getpid());
        if (vrm_vault_note(fs.v, note) != 0)   /* others wait for the lock instead */
            vrmfs_log(&fs, LOG_WARNING, "cannot note the mount in vault.lock: %s",
                      vrm_error_message());
    }
    report(fd, 0, NULL);

    fs.fuse = f;
    if (vrmfs_inval_start(&fs) != 0)
        vrmfs_log(&fs, LOG_WARNING, "no invalidation thread; sizes may lag a second");
    if (vrmfs_deliver_start(&fs) != 0)
        vrmfs_log(&fs, LOG_WARNING, "no delivery threads; messages wait for the next mount");
    loop = fuse_loop_cfg_create();
    if (loop != NULL)
        fuse_loop_cfg_set_max_threads(loop, 16);
    rc = fuse_loop_mt(f, loop) == 0 ? 0 : EXIT_ERROR;
    fuse_loop_cfg_destroy(loop);
    vrmfs_deliver_stop(&fs);
    vrmfs_inval_stop(&fs);
    /* closing: a new mount may wait for us */
    if (vrm_vault_note(fs.v, NULL) != 0)
        vrmfs_log(&fs, LOG_WARNING, "cannot clear the note in vault.lock: %s",
                  vrm_error_message());
    fuse_remove_signal_handlers(fuse_get_session(f));
unmount:
    fuse_unmount(f);
    fuse_destroy(f);
out:
    fuse_opt_free_args(&args);
    free(fsopts);
    if (vrm_vault_close(fs.v) != 0) {
        vrmfs_log(&fs, LOG_ERR, "closing the vault: %s", vrm_error_message());
        rc = EXIT_ERROR;
    }
    if (!foreground)
        syslog(LOG_INFO, "unmounted %s", mnt);
    vrmfs_release_state(&fs);
    pthread_mutex_destroy(&fs.mu);
    free(fs.vault_dir);
    return rc;
}

int cmd_mount(int argc, char **argv)
{
    static const struct option opts[] = {
        {"passfile", required_argument, NULL, 'p'},
        {"extpass", required_argument, NULL, 'E'},
        {"view", required_argument, NULL, 'V'},
        {"foreground", no_argument, NULL, 'f'},
        {"debug", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *passfile = NULL, *extpass = NULL, *view = NULL;
    char *mopts = NULL, *mnt, *fuse_opts_keep = NULL;
    int c, rc, foreground = 0, debug = 0, fds[2];
    secret pass;
    pid_t pid;

    /* No '+': options may follow VAULT MOUNTPOINT, as mount.fuse3 puts them. */
    while ((c = getopt_long(argc, argv, "p:fdo:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            passfile = optarg;
            break;
        case 'E':
            extpass = optarg;
            break;
        case 'V':
            view = optarg;
            break;
        case 'f':
            foreground = 1;
            break;
        case 'd':
            debug = foreground = 1;
            break;
        case 'o': {
            char *joined = NULL;

            if (asprintf(&joined, "%s%s%s", mopts ? mopts : "", mopts ? "," : "", optarg) < 0) {
                free(mopts);
                return EXIT_ERROR;
            }
            free(mopts);
            mopts = joined;
            break;
        }
        case 'h':
            fputs(mount_help, stdout);
            free(mopts);
            return 0;
        default:
            free(mopts);
            fprintf(stderr, "Try 'vrmfs --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 2) {
        free(mopts);
        fprintf(stderr, "vrmfs: expects VAULT and MOUNTPOINT\nTry 'vrmfs --help'.\n");
        return EXIT_USAGE;
    }
    /* From /etc/fstab every option comes in -o: take ours out of the list. */
    if (mopts != NULL) {
        char *out = strdup(mopts), *tok, *save = NULL;

        if (out == NULL) {
            free(mopts);
            return EXIT_ERROR;
        }
        out[0] = '\0';
        for (tok = strtok_r(mopts, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
            if (strncmp(tok, "passfile=", 9) == 0) {
                passfile = tok + 9;
            } else if (strncmp(tok, "extpass=", 8) == 0) {
                extpass = tok + 8;
            } else if (strncmp(tok, "view=", 5) == 0) {
                view = tok + 5;
            } else if (*tok != '\0') {
                if (out[0] != '\0')
                    strcat(out, ",");
                strcat(out, tok);
            }
        }
        fuse_opts_keep = mopts;  /* passfile and extpass point into it */
        mopts = out;
    }
    if (view != NULL && vrm_vendor_name_valid(view) != 0) {
        free(mopts);
        free(fuse_opts_keep);
        fprintf(stderr, "vrmfs: --view: %s\n", vrm_error_message());
        return EXIT_USAGE;
    }
    if (passfile != NULL && extpass != NULL) {
        free(mopts);
        free(fuse_opts_keep);
        fprintf(stderr, "vrmfs: give --passfile or --extpass, not both\n");
        return EXIT_USAGE;
    }
    mnt = realpath(argv[optind + 1], NULL);
    if (mnt == NULL) {
        fprintf(stderr, "vrmfs: mount point %s: %s\n", argv[optind + 1], strerror(errno));
        free(mopts);
        free(fuse_opts_keep);
        return EXIT_USAGE;
    }
    rc = check_mountpoint(mnt, has_opt(mopts, "nonempty"));
    if (rc == 0)
        rc = extpass ? secret_from_command(&pass, extpass)
                     : secret_read(&pass, passfile, "Passphrase: ", 0);
    if (rc != 0) {
        free(mnt);
        free(mopts);
        free(fuse_opts_keep);
        return rc;
    }
    if (foreground) {
        rc = serve(argv[optind], mnt, &pass, mopts, view, 1, debug, -1);
    } else if (pipe(fds) != 0 || (pid = fork()) < 0) {
        fprintf(stderr, "vrmfs: cannot start the daemon: %s\n", strerror(errno));
        secret_free(&pass);
        rc = EXIT_ERROR;
    } else if (pid == 0) {
        close(fds[0]);
        setsid();
        rc = serve(argv[optind], mnt, &pass, mopts, view, 0, 0, fds[1]);
        free(mnt);
        free(mopts);
        free(fuse_opts_keep);   /* `view` points into it */
        _exit(rc);
    } else {
        close(fds[1]);
        secret_free(&pass);
        rc = wait_child(fds[0], pid);
    }
    free(mnt);
    free(mopts);
    free(fuse_opts_keep);
    return rc;
}
