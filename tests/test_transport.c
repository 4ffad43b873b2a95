/*
 * test_transport.c: delivering wire bytes by dir:, exec: and http:// (to a
 * small HTTP server run in a thread of this test on 127.0.0.1).
 *
 * SIGPIPE is left at its default here, so a transport that let one through
 * would kill the test.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "base/error.h"
#include "msg/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* transport.c's test hook: the exec time limit in ms when > 0. */
extern int vrm_transport_test_exec_timeout_ms;

#define ID "Xy_9-abcdefghijklmnopq"   /* 22 characters, like outbox ids */
#define MIB (1024 * 1024)

typedef struct fixture {
    char *tmp;                        /* a fresh directory per test */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    f->tmp = tu_tempdir();
    vrm_transport_test_exec_timeout_ms = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char *box = tu_path(f->tmp, "box");

    chmod(box, 0700);                 /* so that tu_cleanup can remove it */
    free(box);
    tu_cleanup(f->tmp);
    free(f);
    return 0;
}

/* n bytes of every value (NULs and newlines included), varying with seed. */
static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);
    size_t i;

    assert_non_null(p);
    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131 + seed + (i >> 9));
    return p;
}

/* A file's bytes (malloc'd) and size, or NULL. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (fp == NULL)
        return NULL;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        got = fread(buf + n, 1, cap - n, fp);
        n += got;
    } while (got > 0);
    fclose(fp);
    *len = n;
    return buf;
}

/* Assert that path holds exactly want[0..n). */
static void assert_file_bytes(const char *path, const uint8_t *want, size_t n)
{
    size_t len = 0;
    uint8_t *got = slurp(path, &len);

    if (got == NULL)
        fail_msg("%s: %s", path, strerror(errno));
    assert_int_equal(len, n);
    assert_memory_equal(got, want, n);
    free(got);
}

/* Entries of a directory other than . and .., or -1 if it is missing. */
static int count_entries(const char *dir)
{
    char *cmd = NULL;
    struct stat st;
    FILE *p;
    int n = 0, c;

    if (stat(dir, &st) != 0)
        return -1;
    if (asprintf(&cmd, "ls -A '%s'", dir) < 0)
        fail_msg("out of memory");
    p = popen(cmd, "r");
    assert_non_null(p);
    while ((c = fgetc(p)) != EOF)
        n += c == '\n';
    pclose(p);
    free(cmd);
    return n;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An endpoint "PREFIX" + path (+ suffix), malloc'd. */
static char *endpoint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *endpoint(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        fail_msg("out of memory");
    return s;
}

/* ---- kinds and validation -------------------------------------------- */

static void test_kinds(void **state)
{
    static const char *const bad[] = {
        "", "dir:", "dir:relative/box", "dir", "http://", "https://", "exec:", "ftp://x",
        "HTTP://x", "Dir:/x", "mailto:a@b", "http://a b", "http://a\nb", "https://a\tb",
        "/srv/box", "file:///srv/box",
    };
    size_t i;

    (void)state;
    assert_string_equal(vrm_transport_kind("dir:/srv/acme"), "dir");
    assert_string_equal(vrm_transport_kind("http://acme.example/vrm"), "http");
    assert_string_equal(vrm_transport_kind("https://acme.example:8443/vrm?x=1"), "https");
    assert_string_equal(vrm_transport_kind("exec:cat > /dev/null"), "exec");
    assert_string_equal(vrm_transport_kind("exec:printf 'a\nb'"), "exec");
    assert_null(vrm_transport_kind(NULL));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vrm_transport_kind(bad[i]) != NULL)
            fail_msg("kind(\"%s\") is %s, not NULL", bad[i], vrm_transport_kind(bad[i]));
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    static const char *const bad_ids[] = {
        "", "a.b", "../x", "a/b", "a b", "x\n", "\xc3\xa9t\xc3\xa9", "id.vrm",
        "01234567890123456789012345678901234567890123456789012345678901234",  /* 65 */
    };
    static const char *const bad_endpoints[] = {"", "dir:", "dir:box", "gopher://x",
                                                "exec:", "http://a b"};
    char *ep = endpoint("dir:%s/box", f->tmp);
    char *box = tu_path(f->tmp, "box");
    char err[256];
    size_t i;

    assert_int_equal(mkdir(box, 0700), 0);
    for (i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        strcpy(err, "junk");
        assert_int_equal(vrm_transport_send(ep, bad_ids[i], (const uint8_t *)"x", 1, err,
                                            sizeof err), -EINVAL);
        assert_non_null(strstr(err, "message id"));
        assert_string_equal(vrm_error_message(), err);
    }
    assert_int_equal(vrm_transport_send(ep, NULL, (const uint8_t *)"x", 1, err, sizeof err),
                     -EINVAL);
    for (i = 0; i < sizeof bad_endpoints / sizeof bad_endpoints[0]; i++) {
        assert_int_equal(vrm_transport_send(bad_endpoints[i], ID, (const uint8_t *)"x", 1, err,
                                            sizeof err), -EINVAL);
        assert_non_null(strstr(err, "not an endpoint"));
    }
    assert_int_equal(vrm_transport_send(NULL, ID, (const uint8_t *)"x", 1, err, sizeof err),
                     -EINVAL);
    assert_int_equal(vrm_transport_send(ep, ID, NULL, 1, err, sizeof err), -EINVAL);
    /* nothing was attempted */
    assert_int_equal(count_entries(box), 0);

    /* 64 characters is the longest id; no error buffer is fine */
    assert_int_equal(vrm_transport_send(ep, "0123456789012345678901234567890123456789012345678"
                                            "901234567890123", (const uint8_t *)"x", 1,
                                        NULL, 0), 0);
    /* a tiny buffer gets a cut reason, still NUL-terminated */
    assert_int_equal(vrm_transport_send("nope", ID, (const uint8_t *)"x", 1, err, 4), -EINVAL);
    assert_int_equal(strlen(err), 3);
    free(box);
    free(ep);
}

/* ---- dir: ------------------------------------------------------------ */

static void test_dir_delivers(void **state)
{
    fixture *f = *state;
    char *box = tu_path(f->tmp, "box");
    char *ep = endpoint("dir:%s", box);
    char *file = endpoint("%s/new/%s.vrm", box, ID);
    char *tmpdir = tu_path(box, "tmp");
    char *cur = tu_path(box, "cur");
    uint8_t *msg = pattern(100000, 1);
    char err[256] = "junk";
    struct stat st;

    assert_int_equal(mkdir(box, 0700), 0);
    assert_int_equal(vrm_transport_send(ep, ID, msg, 100000, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_file_bytes(file, msg, 100000);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(count_entries(tmpdir), 0);
    assert_int_equal(count_entries(cur), 0);

    /* an empty message is an empty file */
    assert_int_equal(vrm_transport_send(ep, "empty", (const uint8_t *)"", 0, err, sizeof err),
                     0);
    free(file);
    file = endpoint("%s/new/empty.vrm", box);
    assert_int_equal(tu_file_size(file), 0);

    free(msg);
    free(cur);
    free(tmpdir);
    free(file);
    free(ep);
    free(box);
}

static void test_dir_redelivery(void **state)
{
    fixture *f = *state;
    char *box = tu_path(f->tmp, "box");
    char *ep = endpoint("dir:%s/", box);  /* a trailing slash is fine */
    char *file = endpoint("%s/new/%s.vrm", box, ID);
    char *newdir = tu_path(box, "new");
    char *tmpdir = tu_path(box, "tmp");
    char err[256];

    assert_int_equal(mkdir(box, 0700), 0);
    assert_int_equal(vrm_transport_send(ep, ID, (const uint8_t *)"first, longer", 13, err,
                                        sizeof err), 0);
    assert_int_equal(vrm_transport_send(ep, ID, (const uint8_t *)"second", 6, err, sizeof err),
                     0);
    assert_file_bytes(file, (const uint8_t *)"second", 6);
    assert_int_equal(count_entries(newdir), 1);
    assert_int_equal(count_entries(tmpdir), 0);
    assert_int_equal(vrm_transport_send(ep, "other", (const uint8_t *)"3", 1, err, sizeof err),
                     0);
    assert_int_equal(count_entries(newdir), 2);
    free(tmpdir);
    free(newdir);
    free(file);
    free(ep);
    free(box);
}

static void test_dir_missing(void **state)
{
    fixture *f = *state;
    char *ep = endpoint("dir:%s/no/box", f->tmp);
    char *plain = tu_path(f->tmp, "plain");
    char err[256];
    FILE *fp;

    /* PATH is not made: a typo must not create a spool no one reads */
    assert_int_equal(vrm_transport_send(ep, ID, (const uint8_t *)"x", 1, err, sizeof err),
                     -ENOENT);
    assert_non_null(strstr(err, "/no/box"));
    assert_non_null(strstr(err, strerror(ENOENT)));
    assert_string_equal(vrm_error_message(), err);
    free(ep);

    ep = endpoint("dir:%s/box", f->tmp);
    assert_int_equal(vrm_transport_send(ep, ID, (const uint8_t *)"x", 1, err, sizeof err),
                     -ENOENT);
    free(ep);

    fp = fopen(plain, "w");
    assert_non_null(fp);
    fclose(fp);
    ep = endpoint("dir:%s", plain);
    assert_int_equal(vrm_transport_send(ep, ID, (const uint8_t *)"x", 1, err, sizeof err),
                     -ENOTDIR);
    assert_non_null(strstr(err, strerror(ENOTDIR)));
    free(ep);
    free(plain);
}

/* As a user who may not write to box (root cannot be refused: a child
 * process of this test drops to nobody for the send). */
static void test_dir_unwritable(void **state)
{
    fixture *f = *state;
    char *box = tu_path(f->tmp, "box");
    char *ep = endpoint("dir:%s", box);
    char err[256] = "";
    int rc;

    assert_int_equal(mkdir(box, 0700), 0);
    assert_int_equal(chmod(box, 0555), 0);
    if (geteuid() != 0) {
        rc = vrm_transport_send(ep, ID, (const uint8_t *)"x", 1, err, sizeof err);
    } else {
        int fds[2], st;
        pid_t pid;
        ssize_t n;

        assert_int_equal(chmod(f->tmp, 0755), 0);
        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
                _exit(2);
            rc = vrm_transport_send(ep, ID, (const uint8_t *)"x", 1, err, sizeof err);
            if (write(fds[1], &rc, sizeof rc) != sizeof rc ||
                write(fds[1], err, sizeof err) != sizeof err)
                _exit(3);
            _exit(0);
        }
        close(fds[1]);
        n = read(fds[0], &rc, sizeof rc);
        assert_int_equal(n, sizeof rc);
        n = read(fds[0], err, sizeof err);
        assert_int_equal(n, sizeof err);
        close(fds[0]);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(rc, -EACCES);
    assert_non_null(strstr(err, box));
    assert_non_null(strstr(err, strerror(EACCES)));
    assert_int_equal(count_entries(box), 0);
    free(ep);
    free(box);
}

/* ---- exec: ----------------------------------------------------------- */

static void test_exec_delivers(void **state)
{
    fixture *f = *state;
    char *out = tu_path(f->tmp, "out");
    char *idfile = tu_path(f->tmp, "id");
    char *ep = endpoint("exec:cat > '%s' && printf '%%s|%%s' \"$VRM_MESSAGE_ID\" "
                        "\"$(env | grep -c ^VRM_MESSAGE_ID=)\" > '%s'", out, idfile);
    uint8_t *msg = pattern(5000, 2);
    char err[256] = "junk";
    char *want_id = endpoint("%s|1", ID);

    /* one from the daemon's own environment is replaced, not repeated */
    setenv("VRM_MESSAGE_ID", "stale", 1);
    assert_int_equal(vrm_transport_send(ep, ID, msg, 5000, err, sizeof err), 0);
    unsetenv("VRM_MESSAGE_ID");
    assert_string_equal(err, "");
    assert_file_bytes(out, msg, 5000);
    assert_file_bytes(idfile, (const uint8_t *)want_id, strlen(want_id));
    free(ep);

    /* an empty message: stdin at EOF at once */
    ep = endpoint("exec:wc -c > '%s'", out);
    assert_int_equal(vrm_transport_send(ep, ID, NULL, 0, err, sizeof err), 0);
    assert_true(tu_file_contains(out, "0\n", 2));

    free(want_id);
    free(msg);
    free(ep);
    free(idfile);
    free(out);
}

static void test_exec_large(void **state)
{
    fixture *f = *state;
    char *out = tu_path(f->tmp, "out");
    char *ep = endpoint("exec:cat > '%s'", out);
    uint8_t *msg = pattern(2 * MIB, 3);
    char err[256];

    assert_int_equal(vrm_transport_send(ep, ID, msg, 2 * MIB, err, sizeof err), 0);
    assert_file_bytes(out, msg, 2 * MIB);
    free(ep);

    /* a slow reader */
    ep = endpoint("exec:sleep 0.2; cat > '%s'", out);
    assert_int_equal(vrm_transport_send(ep, ID, msg, 2 * MIB, err, sizeof err), 0);
    assert_file_bytes(out, msg, 2 * MIB);
    free(ep);
    free(msg);
    free(out);
}

static void test_exec_fails(void **state)
{
    char err[256];
    uint8_t *msg = pattern(2 * MIB, 4);

    (void)state;
    assert_int_equal(vrm_transport_send("exec:cat > /dev/null; echo 'first line' >&2; "
                                        "echo second >&2; exit 3", ID, msg, 100, err,
                                        sizeof err), -EIO);
    assert_string_equal(err, "exit status 3: first line");
    assert_string_equal(vrm_error_message(), err);

    /* no stderr: just the status */
    assert_int_equal(vrm_transport_send("exec:exit 7", ID, msg, 10, err, sizeof err), -EIO);
    assert_string_equal(err, "exit status 7");

    /* the shell's own complaint */
    assert_int_equal(vrm_transport_send("exec:no-such-command-vrm", ID, msg, 10, err,
                                        sizeof err), -EIO);
    assert_non_null(strstr(err, "exit status 127: "));
    assert_non_null(strstr(err, "no-such-command-vrm"));

    /* the first line only, cut to 200 bytes, control characters shown as ? */
    assert_int_equal(vrm_transport_send("exec:printf '\\n\\n  \\033[1mbold\\r\\n2nd\\n' >&2; "
                                        "exit 1", ID, msg, 10, err, sizeof err), -EIO);
    assert_string_equal(err, "exit status 1:   ?[1mbold");
    assert_int_equal(vrm_transport_send("exec:head -c 5000 /dev/zero | tr '\\0' x >&2; exit 2",
                                        ID, msg, 10, err, sizeof err), -EIO);
    assert_int_equal(strlen(err), strlen("exit status 2: ") + 200);

    /* much on stderr while it reads a big stdin: no deadlock */
    assert_int_equal(vrm_transport_send("exec:yes complaint | head -c 3000000 >&2; "
                                        "cat > /dev/null; exit 5", ID, msg, 2 * MIB, err,
                                        sizeof err), -EIO);
    assert_string_equal(err, "exit status 5: complaint");

    /* stops reading after 10 bytes and fails: its status, and no SIGPIPE
     * (the default disposition would have ended this test) */
    assert_int_equal(vrm_transport_send("exec:head -c 10 > /dev/null; exit 4", ID, msg,
                                        2 * MIB, err, sizeof err), -EIO);
    assert_string_equal(err, "exit status 4");

    /* killed by a signal */
    assert_int_equal(vrm_transport_send("exec:kill -TERM $$", ID, msg, 10, err, sizeof err),
                     -EIO);
    assert_non_null(strstr(err, "killed by signal 15"));
    free(msg);
}

/* Decided: the exit status is the command's answer.  One that exits 0
 * without reading its input (or all of it) has taken the message; what it
 * does with it is the vendor's business. */
static void test_exec_unread_input(void **state)
{
    char err[256] = "junk";
    uint8_t *msg = pattern(2 * MIB, 5);
    sigset_t pending;

    (void)state;
    assert_int_equal(vrm_transport_send("exec:exit 0", ID, msg, 2 * MIB, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(vrm_transport_send("exec:true", ID, msg, 10, err, sizeof err), 0);
    assert_int_equal(vrm_transport_send("exec:exec 0<&-; sleep 0.2; exit 0", ID, msg, 2 * MIB,
                                        err, sizeof err), 0);
    assert_int_equal(vrm_transport_send("exec:head -c 1 > /dev/null", ID, msg, 2 * MIB, err,
                                        sizeof err), 0);
    /* no SIGPIPE left behind for this thread either */
    sigemptyset(&pending);
    assert_int_equal(sigpending(&pending), 0);
    assert_int_equal(sigismember(&pending, SIGPIPE), 0);
    free(msg);
}

/* A shell that exits while something it started still holds stderr open:
 * done when the shell exits, not when stderr closes. */
static void test_exec_background_child(void **state)
{
    char err[256];
    double t0 = now_s();

    (void)state;
    assert_int_equal(vrm_transport_send("exec:sleep 3 & exit 0", ID, (const uint8_t *)"x", 1,
                                        err, sizeof err), 0);
    assert_true(now_s() - t0 < 2.0);
}

/* 1 if pid is gone or a zombie (killed, not yet reaped by its new
 * parent). */
static int process_dead(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *fp;
    size_t n;

    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    fp = fopen(path, "r");
    if (fp == NULL)
        return 1;
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p != NULL && (p[2] == 'Z' || p[2] == 'X');
}

static void test_exec_timeout(void **state)
{
    fixture *f = *state;
    char *pidfile = tu_path(f->tmp, "pid");
    char *ep = endpoint("exec:sleep 30 & echo $! > '%s'; echo waiting >&2; wait", pidfile);
    char err[256];
    double t0 = now_s(), dt;
    size_t len = 0;
    uint8_t *text;
    long pid;
    int i;

    vrm_transport_test_exec_timeout_ms = 1000;
    assert_int_equal(vrm_transport_send(ep, ID, (const uint8_t *)"x", 1, err, sizeof err),
                     -ETIMEDOUT);
    dt = now_s() - t0;
    assert_string_equal(err, "timed out after 1 s");
    assert_true(dt >= 0.9 && dt < 3.0);

    /* the whole process group was killed, the background sleep too */
    text = slurp(pidfile, &len);
    assert_non_null(text);
    text = realloc(text, len + 1);
    text[len] = '\0';
    pid = strtol((char *)text, NULL, 10);
    assert_true(pid > 1);
    for (i = 0; i < 100 && !process_dead((pid_t)pid); i++)
        usleep(20000);
    assert_true(process_dead((pid_t)pid));
    free(text);

    /* a command that never reads and never exits */
    t0 = now_s();
    {
        uint8_t *msg = pattern(2 * MIB, 6);

        assert_int_equal(vrm_transport_send("exec:sleep 30", ID, msg, 2 * MIB, err, sizeof err),
                         -ETIMEDOUT);
        free(msg);
    }
    assert_true(now_s() - t0 < 3.0);
    free(ep);
    free(pidfile);
}

/* The command gets fds 0-2 only, even one this process opened without
 * O_CLOEXEC; and no send leaves a descriptor behind. */
static int open_fds(void)
{
    return count_entries("/proc/self/fd");
}

static void test_no_fd_leaks(void **state)
{
    fixture *f = *state;
    char *out = tu_path(f->tmp, "out");
    /* ls lists its own: 0-2 and 3, the directory it reads (not the shell's:
     * dash keeps a copy of stdout while redirecting) */
    char *ep = endpoint("exec:ls /proc/self/fd > '%s'", out);
    char *box = tu_path(f->tmp, "box");
    char *dir_ep = endpoint("dir:%s", box);
    char err[256];
    int before, stray = open("/dev/null", O_RDONLY);  /* no O_CLOEXEC */

    assert_true(stray >= 0);
    before = open_fds();
    assert_int_equal(vrm_transport_send(ep, ID, (const uint8_t *)"x", 1, err, sizeof err), 0);
    assert_file_bytes(out, (const uint8_t *)"0\n1\n2\n3\n", 8);
    assert_int_equal(vrm_transport_send("exec:exit 1", ID, (const uint8_t *)"x", 1, err,
                                        sizeof err), -EIO);
    assert_int_equal(mkdir(box, 0700), 0);
    assert_int_equal(vrm_transport_send(dir_ep, ID, (const uint8_t *)"x", 1, err, sizeof err), 0);
    assert_int_equal(vrm_transport_send("dir:/nonexistent/x", ID, (const uint8_t *)"x", 1, err,
                                        sizeof err), -ENOENT);
    assert_int_equal(vrm_transport_send("http://127.0.0.1:1/", ID, (const uint8_t *)"x", 1, err,
                                        sizeof err), -ECONNREFUSED);
    assert_int_equal(open_fds(), before);
    close(stray);
    free(dir_ep);
    free(box);
    free(ep);
    free(out);
}

/* Several threads at once, each with its own commands and messages, into
 * one maildir: with a pipe leaked from one thread's child into another's,
 * a cat would wait for an EOF that does not come. */
typedef struct worker {
    const char *tmp;                  /* the fixture's directory */
    int n;                            /* worker number */
    int failures;                     /* sends that did not deliver */
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    char *out = NULL, *ep = NULL, *dir_ep = NULL, id[32], err[256];
    uint8_t *msg = pattern(200000, (unsigned)w->n);
    int i;

    if (asprintf(&out, "%s/out-%d", w->tmp, w->n) < 0 ||
        asprintf(&ep, "exec:cat > '%s'", out) < 0 || asprintf(&dir_ep, "dir:%s/box", w->tmp) < 0)
        abort();
    for (i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "w%d-%d", w->n, i);
        if (vrm_transport_send(ep, id, msg, 200000, err, sizeof err) != 0)
            w->failures++;
        if (vrm_transport_send(dir_ep, id, msg, 200000, err, sizeof err) != 0)
            w->failures++;
    }
    free(msg);
    free(dir_ep);
    free(ep);
    free(out);
    return NULL;
}

static void test_threads(void **state)
{
    fixture *f = *state;
    enum { N = 8 };
    pthread_t th[N];
    worker w[N];
    char *box = tu_path(f->tmp, "box"), *newdir = tu_path(box, "new");
    double t0 = now_s();
    int i;

    assert_int_equal(mkdir(box, 0700), 0);
    for (i = 0; i < N; i++) {
        w[i] = (worker){f->tmp, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (i = 0; i < N; i++) {
        char *out = endpoint("%s/out-%d", f->tmp, i);
        uint8_t *msg = pattern(200000, (unsigned)i);

        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
        assert_file_bytes(out, msg, 200000);
        free(msg);
        free(out);
    }
    assert_int_equal(count_entries(newdir), N * 10);
    assert_true(now_s() - t0 < 20.0);
    free(newdir);
    free(box);
}

/* ---- http:// with a server in a thread ------------------------------- */

typedef struct request {
    char method[16];
    char target[256];
    char content_type[128];           /* "" if none */
    char message_id[128];             /* X-VRM-Message-Id, "" if none */
    int has_expect;                   /* an Expect: header came */
    uint8_t *body;                    /* Content-Length bytes, malloc'd */
    size_t body_len;
} request;

typedef struct server {
    int fd;                           /* listening on 127.0.0.1:port */
    int port;
    int status;                       /* the answer to give */
    pthread_t thread;
    int stop_pipe[2];                 /* written to stop the thread */
    int n;                            /* requests served (read after join) */
    request req[4];
} server;

/* Read until the end of the headers, then Content-Length bytes. */
static void serve_one(server *s, int c)
{
    size_t cap = 65536, n = 0, clen = 0, hlen;
    char *buf = malloc(cap), *end, *line, *next, reply[256];
    request *rq = s->n < 4 ? &s->req[s->n] : NULL;
    ssize_t got;

    assert_non_null(buf);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        got = read(c, buf + n, cap - n - 1);
        if (got <= 0)
            goto out;
        n += (size_t)got;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL)
            break;
    }
    hlen = (size_t)(end - buf) + 4;
    *end = '\0';
    if (rq == NULL)
        goto out;
    memset(rq, 0, sizeof *rq);
    next = strstr(buf, "\r\n");
    if (next != NULL)
        *next = '\0';
    if (sscanf(buf, "%15s %255s", rq->method, rq->target) != 2)
        goto out;
    for (line = next ? next + 2 : end; line < end; line = next + 2) {
        char *colon, *val;

        next = strstr(line, "\r\n");
        if (next == NULL)
            next = end;
        *next = '\0';
        colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        for (val = colon + 1; *val == ' '; val++)
            ;
        if (strcasecmp(line, "Content-Length") == 0)
            clen = strtoul(val, NULL, 10);
        else if (strcasecmp(line, "Content-Type") == 0)
            snprintf(rq->content_type, sizeof rq->content_type, "%s", val);
        else if (strcasecmp(line, "X-VRM-Message-Id") == 0)
            snprintf(rq->message_id, sizeof rq->message_id, "%s", val);
        else if (strcasecmp(line, "Expect") == 0)
            rq->has_expect = 1;
    }
    rq->body = malloc(clen ? clen : 1);
    assert_non_null(rq->body);
    rq->body_len = n - hlen < clen ? n - hlen : clen;
    memcpy(rq->body, buf + hlen, rq->body_len);
    while (rq->body_len < clen) {
        got = read(c, rq->body + rq->body_len, clen - rq->body_len);
        if (got <= 0)
            break;
        rq->body_len += (size_t)got;
    }
    s->n++;
    snprintf(reply, sizeof reply,
             "HTTP/1.1 %d Test\r\nContent-Length: 3\r\nConnection: close\r\n%s\r\nok\n",
             s->status,
             s->status / 100 == 3 ? "Location: /elsewhere\r\n" : "");
    if (write(c, reply, strlen(reply)) < 0)
        fprintf(stderr, "server: write: %s\n", strerror(errno));
out:
    free(buf);
}

static void *server_main(void *arg)
{
    server *s = arg;

    for (;;) {
        struct pollfd p[2] = {{s->fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
        int c;

        if (poll(p, 2, -1) < 0)
            continue;
        if (p[1].revents != 0)
            break;
        c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        serve_one(s, c);
        close(c);
    }
    return NULL;
}

/* A socket bound to 127.0.0.1 on an ephemeral port; *port set. */
static int bind_local(int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void server_start(server *s, int status)
{
    memset(s, 0, sizeof *s);
    s->status = status;
    s->fd = bind_local(&s->port);
    assert_int_equal(listen(s->fd, 8), 0);
    assert_int_equal(pipe2(s->stop_pipe, O_CLOEXEC), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

/* Stop the thread; the requests stay readable until server_free. */
static void server_stop(server *s)
{
    assert_int_equal(write(s->stop_pipe[1], "x", 1), 1);
    assert_int_equal(pthread_join(s->thread, NULL), 0);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    close(s->fd);
}

static void server_free(server *s)
{
    int i;

    for (i = 0; i < s->n && i < 4; i++)
        free(s->req[i].body);
}

static void test_http_delivers(void **state)
{
    server s;
    char *url, err[256] = "junk";
    uint8_t *msg = pattern(300000, 7);

    (void)state;
    server_start(&s, 200);
    url = endpoint("http://127.0.0.1:%d/vrm/in?v=1", s.port);
    assert_int_equal(vrm_transport_send(url, ID, msg, 300000, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(vrm_transport_send(url, "second", (const uint8_t *)"", 0, err, sizeof err),
                     0);
    server_stop(&s);

    assert_int_equal(s.n, 2);
    assert_string_equal(s.req[0].method, "POST");
    assert_string_equal(s.req[0].target, "/vrm/in?v=1");
    assert_string_equal(s.req[0].content_type, "application/octet-stream");
    assert_string_equal(s.req[0].message_id, ID);
    assert_int_equal(s.req[0].has_expect, 0);
    assert_int_equal(s.req[0].body_len, 300000);
    assert_memory_equal(s.req[0].body, msg, 300000);
    assert_string_equal(s.req[1].method, "POST");
    assert_string_equal(s.req[1].message_id, "second");
    assert_int_equal(s.req[1].body_len, 0);
    server_free(&s);
    free(url);
    free(msg);
}

static void test_http_refused_by_server(void **state)
{
    static const int statuses[] = {503, 404, 500, 300};  /* 300: just past 2xx */
    server s;
    char *url, err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        char want[16];

        server_start(&s, statuses[i]);
        url = endpoint("http://127.0.0.1:%d/", s.port);
        snprintf(want, sizeof want, "HTTP %d", statuses[i]);
        assert_int_equal(vrm_transport_send(url, ID, (const uint8_t *)"hi", 2, err, sizeof err),
                         -EPROTO);
        assert_string_equal(err, want);
        assert_string_equal(vrm_error_message(), want);
        server_stop(&s);
        assert_int_equal(s.n, 1);
        server_free(&s);
        free(url);
    }
}

/* A redirect is an answer, not a delivery, and is not followed. */
static void test_http_redirect_not_followed(void **state)
{
    static const int statuses[] = {301, 302, 307, 308};
    server s;
    char *url, err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        char want[16];

        server_start(&s, statuses[i]);
        url = endpoint("http://127.0.0.1:%d/in", s.port);
        snprintf(want, sizeof want, "HTTP %d", statuses[i]);
        assert_int_equal(vrm_transport_send(url, ID, (const uint8_t *)"hi", 2, err, sizeof err),
                         -EPROTO);
        assert_string_equal(err, want);
        usleep(100000);               /* time for a follow-up, were there one */
        server_stop(&s);
        assert_int_equal(s.n, 1);
        assert_string_equal(s.req[0].target, "/in");
        server_free(&s);
        free(url);
    }
}

static void test_http_connection_refused(void **state)
{
    char *url, err[256];
    int port, fd = bind_local(&port);  /* bound, never listening: refused */

    (void)state;
    url = endpoint("http://127.0.0.1:%d/", port);
    assert_int_equal(vrm_transport_send(url, ID, (const uint8_t *)"x", 1, err, sizeof err),
                     -ECONNREFUSED);
    assert_memory_equal(err, "connection refused: ", 20);
    assert_null(strstr(err, "http://"));  /* the URL is not repeated */
    free(url);

    url = endpoint("https://user:secret@127.0.0.1:%d/", port);
    assert_int_equal(vrm_transport_send(url, ID, (const uint8_t *)"x", 1, err, sizeof err),
                     -ECONNREFUSED);
    assert_null(strstr(err, "secret"));
    free(url);
    close(fd);
}

/* A server that answers with something that is not HTTP. */
static void test_http_garbage(void **state)
{
    char *url, err[256];
    int port, fd = bind_local(&port), c;
    pid_t pid;

    (void)state;
    assert_int_equal(listen(fd, 1), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char buf[4096];

        c = accept(fd, NULL, NULL);
        if (c >= 0) {
            if (read(c, buf, sizeof buf) < 0 || write(c, "SSH-2.0-x\r\n", 11) < 0)
                _exit(1);
            close(c);
        }
        _exit(0);
    }
    url = endpoint("http://127.0.0.1:%d/", port);
    assert_int_equal(vrm_transport_send(url, ID, (const uint8_t *)"x", 1, err, sizeof err),
                     -EIO);
    assert_true(strlen(err) > 0);
    waitpid(pid, NULL, 0);
    free(url);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_delivers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_redelivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_unwritable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_delivers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_unread_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_background_child, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_fd_leaks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test(test_http_delivers),
        cmocka_unit_test(test_http_refused_by_server),
        cmocka_unit_test(test_http_redirect_not_followed),
        cmocka_unit_test(test_http_connection_refused),
        cmocka_unit_test(test_http_garbage),
    };
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy",
                                          "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    size_t i;

    /* the test server is local; a proxy from the environment would not
     * reach it */
    for (i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    signal(SIGPIPE, SIG_DFL);
    if (vrm_transport_init() != 0 || vrm_transport_init() != 0) {
        fprintf(stderr, "vrm_transport_init failed\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
