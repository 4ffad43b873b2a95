/*
 * cli.c: what the commands share (see cli.h): exit codes, failures and
 * usage errors, and the one progress line.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "vrm.h"

int cli_stdout_closed;

int cli_exit_code(int err)
{
    switch (-err) {
    case 0:
        return 0;
    case EKEYREJECTED:
        return EXIT_PASSPHRASE;
    case ENOENT:
    case ENOTDIR:
        return EXIT_NOVAULT;
    case EPROTONOSUPPORT:
        return EXIT_NEWER;
    case EBADMSG:
    case EUCLEAN:
        return EXIT_TAMPERED;
    case ENOSPC:
    case EDQUOT:
        return EXIT_NOSPACE;
    case EBUSY:
        return EXIT_BUSY;
    case EEXIST:
        return EXIT_EXISTS;
    case EINVAL:
        return EXIT_USAGE;
    default:
        return EXIT_ERROR;
    }
}

int cli_fail(int err)
{
    fprintf(stderr, "vrmfs: %s\n", vrm_error_message());
    return cli_exit_code(err);
}

void cli_progress_show(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress *p = ctx;

    if (!p->tty || total < p->min)
        return;
    fprintf(stderr, "\r%s: %3u%% (%llu of %llu %s)", p->what,
            (unsigned)(done * 100 / total), (unsigned long long)(done >> p->shift),
            (unsigned long long)(total >> p->shift), p->unit);
    p->shown = 1;
    if (done == total)
        cli_progress_end(p);
}

void cli_progress_end(cli_progress *p)
{
    if (p->shown)
        fputs("\r\033[K", stderr);
    p->shown = 0;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vrmfs %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'vrmfs %s --help'.\n", cmd);
    return EXIT_USAGE;
}
