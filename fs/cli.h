/*
 * cli.h: what the vrmfs command's parts share: exit codes, passphrase input
 * and the subcommands.
 */
#ifndef VRMFS_CLI_H
#define VRMFS_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes; documented in vrmfs(1), EXIT STATUS. */
enum {
    EXIT_DAMAGED = 1,     /* check or verify-log found damage (pages, structure,
                             a broken access log chain); vendor open: the
                             message fails to open or verify */
    EXIT_PASSPHRASE = 2,  /* wrong passphrase or recovery key */
    EXIT_NOVAULT = 3,     /* no vault there */
    EXIT_NEWER = 4,       /* made by a newer vrmfs */
    EXIT_TAMPERED = 5,    /* vault.json or a page fails authentication */
    EXIT_NOSPACE = 6,     /* disk full */
    EXIT_BUSY = 7,        /* vault in use (mounted) */
    EXIT_EXISTS = 8,      /* init: something is already there; vendor keygen:
                             a key is; vendor reply: a message with that id */
    EXIT_ERROR = 9,       /* anything else (I/O error, out of memory...) */
    EXIT_NOINPUT = 10,    /* vendor: a file named on the command line is
                             missing or unreadable (key, identity, message);
                             import: FILE is */
    EXIT_BADINPUT = 11,   /* vendor: an input is malformed (secret.json,
                             identity.json, the payload: JSON, key sizes);
                             import: FILE is neither CSV nor JSON lines */
    EXIT_USAGE = 64,      /* bad command line */
};

/* Set by main when the command started with standard output closed. */
extern int cli_stdout_closed;

/* Print "vrmfs: " + libvrm's message for `err` and return its exit code. */
int cli_fail(int err);

/* The exit code for a negative errno from libvrm. */
int cli_exit_code(int err);

/* Print "vrmfs CMD: " + the message and where to find help, and return
 * EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The progress of a long command, as one line on standard error that each
 * step rewrites: "WHAT: NN% (DONE of TOTAL UNIT)", DONE and TOTAL counted
 * in units of 2^shift.  Shown only on a terminal and once the total reaches
 * `min` (anything smaller is over at once); cleared when done, or by
 * cli_progress_end before anything else is printed.
 *
 *   cli_progress p = {isatty(STDERR_FILENO), 0, "checking", "pages", 2048, 0};
 *   vrm_vault_check(..., cli_progress_show, &p, ...); cli_progress_end(&p);
 */
typedef struct cli_progress {
    int tty;              /* standard error is a terminal */
    int shown;            /* a line is on the screen */
    const char *what;
    const char *unit;
    uint64_t min;         /* a smaller total shows nothing */
    unsigned shift;       /* DONE and TOTAL are shown >> shift */
} cli_progress;

/* A libvrm progress callback: ctx is a cli_progress. */
void cli_progress_show(void *ctx, uint64_t done, uint64_t total);

/* Clear the line, if one is shown. */
void cli_progress_end(cli_progress *p);

/* A passphrase (or recovery key) in sodium_malloc'd memory. */
typedef struct secret {
    char *buf;            /* NUL-terminated */
    size_t len;
} secret;

/* Read one secret: the first line of `file` ("-" is standard input) if it
 * is given; otherwise a prompt on the terminal without echo when standard
 * input is one; otherwise the next line of standard input.  With `confirm`
 * and a terminal, asks twice and insists both agree.  Returns 0 or an exit
 * code after printing why. */
int secret_read(secret *s, const char *file, const char *prompt, int confirm);
void secret_free(secret *s);

/* Read a secret as the first line of what `cmd` (run with /bin/sh -c)
 * prints.  Returns 0 or an exit code after printing why. */
int secret_from_command(secret *s, const char *cmd);

/* Subcommands: argc/argv start at the subcommand's name. */
int cmd_init(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_verify_log(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_backup(int argc, char **argv);       /* and backup --check */
int cmd_restore(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import_all(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_mount(int argc, char **argv);        /* argv[0] is the program */
int cmd_vendor(int argc, char **argv);       /* vendorcmd.c: keygen, open, reply */
int cmd_import(int argc, char **argv);       /* importcmd.c */

#endif
