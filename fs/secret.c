/*
 * secret.c: reading passphrases and recovery keys without echo, into
 * guarded memory that is wiped when freed.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#define SECRET_MAX 4096

/* Read one line (without its end) from fd, a byte at a time so that what
 * follows stays for the next reader.  Returns 0, or -1 at EOF before any
 * byte, -2 on error, -3 if longer than SECRET_MAX. */
static int read_line(int fd, secret *s)
{
    size_t n = 0;
    int any = 0;

    for (;;) {
        char c;
        ssize_t got = read(fd, &c, 1);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -2;
        if (got == 0)
            break;
        any = 1;
        if (c == '\n')
            break;
        if (n == SECRET_MAX - 1)
            return -3;
        s->buf[n++] = c;
    }
    if (!any)
        return -1;
    if (n > 0 && s->buf[n - 1] == '\r')
        n--;
    s->buf[n] = '\0';
    s->len = n;
    return 0;
}

static int prompt_tty(secret *s, const char *prompt)
{
    struct termios old, quiet;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), rc;

    if (fd < 0)
        fd = STDIN_FILENO;
    if (tcgetattr(fd, &old) != 0) {
        if (fd != STDIN_FILENO)
            close(fd);
        return -2;
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    dprintf(fd, "%s", prompt);
    tcsetattr(fd, TCSAFLUSH, &quiet);
    rc = read_line(fd, s);
    tcsetattr(fd, TCSAFLUSH, &old);
    dprintf(fd, "\n");
    if (fd != STDIN_FILENO)
        close(fd);
    return rc;
}

static int explain(int rc, const char *what)
{
    switch (rc) {
    case -1:
        fprintf(stderr, "vrmfs: %s: empty, no passphrase in it\n", what);
        break;
    case -3:
        fprintf(stderr, "vrmfs: %s longer than %d bytes\n", what, SECRET_MAX - 1);
        break;
    default:
        fprintf(stderr, "vrmfs: cannot read %s: %s\n", what, strerror(errno));
        break;
    }
    return EXIT_USAGE;
}

int secret_read(secret *s, const char *file, const char *prompt, int confirm)
{
    int rc;

    s->len = 0;
    s->buf = sodium_malloc(SECRET_MAX);
    if (s->buf == NULL) {
        fprintf(stderr, "vrmfs: out of memory\n");
        return EXIT_ERROR;
    }
    s->buf[0] = '\0';
    if (file != NULL) {
        int fd = strcmp(file, "-") == 0 ? STDIN_FILENO
                                        : open(file, O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
            fprintf(stderr, "vrmfs: %s: %s\n", file, strerror(errno));
            secret_free(s);
            return EXIT_USAGE;
        }
        rc = read_line(fd, s);
        if (fd != STDIN_FILENO)
            close(fd);
        if (rc != 0) {
            secret_free(s);
            return explain(rc, file);
        }
        return 0;
    }
    if (!isatty(STDIN_FILENO)) {
        rc = read_line(STDIN_FILENO, s);
        if (rc != 0) {
            secret_free(s);
            return explain(rc, "standard input");
        }
        return 0;
    }
    rc = prompt_tty(s, prompt);
    if (rc != 0) {
        secret_free(s);
        return explain(rc, "the terminal");
    }
    if (confirm) {
        secret again;

        again.buf = sodium_malloc(SECRET_MAX);
        if (again.buf == NULL) {
            secret_free(s);
            return EXIT_ERROR;
        }
        rc = prompt_tty(&again, "Repeat it: ");
        if (rc != 0 || again.len != s->len || sodium_memcmp(again.buf, s->buf, s->len) != 0) {
            secret_free(&again);
            secret_free(s);
            if (rc != 0)
                return explain(rc, "the terminal");
            fprintf(stderr, "vrmfs: the two passphrases differ\n");
            return EXIT_USAGE;
        }
        secret_free(&again);
    }
    return 0;
}

void secret_free(secret *s)
{
    sodium_free(s->buf);  /* wipes before freeing */
    s->buf = NULL;
    s->len = 0;
}

int secret_from_command(secret *s, const char *cmd)
{
    int fds[2], status, rc;
    pid_t pid;

    s->len = 0;
    s->buf = sodium_malloc(SECRET_MAX);
    if (s->buf == NULL || pipe(fds) != 0) {
        fprintf(stderr, "vrmfs: --extpass: %s\n", strerror(errno ? errno : ENOMEM));
        secret_free(s);
        return EXIT_ERROR;
    }
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "vrmfs: --extpass: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        secret_free(s);
        return EXIT_ERROR;
    }
    if (pid == 0) {
        close(fds[0]);
        if (dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(127);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    rc = read_line(fds[0], s);
    /* Drain the rest so that the command is not killed by SIGPIPE. */
    {
        char sink[256];

        while (read(fds[0], sink, sizeof sink) > 0)
            ;
        sodium_memzero(sink, sizeof sink);
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "vrmfs: --extpass command failed (status %d)\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        secret_free(s);
        return EXIT_USAGE;
    }
    if (rc != 0) {
        secret_free(s);
        return explain(rc, "--extpass output");
    }
    return 0;
}
