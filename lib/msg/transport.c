/*
 * transport.c: the three ways a message leaves the vault (see transport.h).
 *
 * Threading: nothing here is shared between calls except libcurl's global
 * state, set up once under pthread_once.  Each send owns its file
 * descriptors, its curl handle and its child process.  The exec transport
 * never forks the (multi-threaded) daemon by hand: posix_spawn builds the
 * child from argv and envp prepared beforehand, so nothing but glibc's own
 * async-signal-safe code runs between the fork and the exec.
 *
 * SIGPIPE: a vendor's command may close its stdin early and libcurl may
 * write to a closed socket.  Around both, the calling thread blocks SIGPIPE
 * and afterwards takes back a SIGPIPE it caused itself (sigpipe_block /
 * sigpipe_unblock), so the daemon's signal dispositions are left alone.
 *
 * Every failure is a negative errno plus a one-line reason, written to the
 * caller's buffer and to the thread's vrm_error_message().  Reasons never
 * repeat the endpoint, which may carry a password (a URL's user:password@
 * or a token in a command line); a dir endpoint's path is named.
 */
#define _GNU_SOURCE
#include "msg/transport.h"
#include "base/error.h"
#include "base/fileio.h"
#include "vrm_config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define ID_MAX 64                     /* longest message id, in bytes */
#define HTTP_TIMEOUT_S 30             /* whole POST, connection included */
#define HTTP_CONNECT_TIMEOUT_S 10     /* TCP and TLS handshake */
#define EXEC_TIMEOUT_MS 60000         /* a command's run, input included */
#define STDERR_LINE_MAX 200           /* bytes of the command's stderr kept */
#define STDERR_DRAIN_MAX (1 << 20)    /* bytes read after exit, at most */
#define REASON_MAX 512                /* one-line reasons, as error.c keeps */

/* Tests only (declared there, not in transport.h): when > 0, replaces the
 * 60 s limit of an exec command so that a test need not wait a minute.
 * Read once per send. */
int vrm_transport_test_exec_timeout_ms;

/* ---- errors ---------------------------------------------------------- */

/* Where a send's reason goes: the caller's buffer (may be NULL/0). */
typedef struct reason {
    char *buf;                        /* caller's error buffer, or NULL */
    size_t size;                      /* its size; 0: no reason wanted */
} reason;

/* Record a failure: the one-line reason into r and the thread's message.
 * Returns -err. */
static int fail(const reason *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(const reason *r, int err, const char *fmt, ...)
{
    char msg[REASON_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);  /* a cut reason is still a reason */
    va_end(ap);
    if (r->buf != NULL && r->size > 0)
        snprintf(r->buf, r->size, "%s", msg);
    return vrm_error(err, "%s", msg);
}

/* ---- validation ------------------------------------------------------ */

typedef enum kind { KIND_NONE, KIND_DIR, KIND_HTTP, KIND_HTTPS, KIND_EXEC } kind;

static const struct {
    const char *prefix;               /* what the endpoint starts with */
    const char *name;                 /* vrm_transport_kind()'s answer */
} kinds[] = {
    [KIND_DIR] = {"dir:", "dir"},
    [KIND_HTTP] = {"http://", "http"},
    [KIND_HTTPS] = {"https://", "https"},
    [KIND_EXEC] = {"exec:", "exec"},
};

/* The kind of a well-formed endpoint, and in *rest what follows "dir:" or
 * "exec:" (the whole URL for http and https); KIND_NONE otherwise.  Well
 * formed: something after the prefix; dir: an absolute path; a URL without
 * spaces or control characters (which libcurl would refuse or mangle). */
static kind endpoint_kind(const char *endpoint, const char **rest)
{
    kind k;
    const char *s;

    if (endpoint == NULL)
        return KIND_NONE;
    for (k = KIND_DIR; k <= KIND_EXEC; k++) {
        size_t n = strlen(kinds[k].prefix);

        if (strncmp(endpoint, kinds[k].prefix, n) != 0)
            continue;
        if (endpoint[n] == '\0')
            return KIND_NONE;
        switch (k) {
        case KIND_DIR:
            if (endpoint[n] != '/')
                return KIND_NONE;
            *rest = endpoint + n;
            return k;
        case KIND_HTTP:
        case KIND_HTTPS:
            for (s = endpoint; *s != '\0'; s++)
                if ((unsigned char)*s <= ' ' || *s == 0x7f)
                    return KIND_NONE;
            *rest = endpoint;
            return k;
        default:
            *rest = endpoint + n;
            return k;
        }
    }
    return KIND_NONE;
}

/* 1 if id is 1 to ID_MAX of [A-Za-z0-9_-] (so a file name and a header
 * value as is), else 0. */
static int id_valid(const char *id)
{
    size_t i;

    if (id == NULL)
        return 0;
    for (i = 0; id[i] != '\0'; i++) {
        char c = id[i];

        if (i == ID_MAX)
            return 0;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return i > 0;
}

/* ---- SIGPIPE --------------------------------------------------------- */

typedef struct sigpipe_state {
    sigset_t old;                     /* the thread's mask before */
    int was_pending;                  /* SIGPIPE pending before: not ours */
} sigpipe_state;

/* Block SIGPIPE in the calling thread. */
static void sigpipe_block(sigpipe_state *st)
{
    sigset_t pipe_set, pending;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    st->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &st->old);
}

/* Take back a SIGPIPE raised while blocked (unless one was pending before,
 * which belongs to someone else), then restore the mask. */
static void sigpipe_unblock(const sigpipe_state *st)
{
    sigset_t pipe_set, pending;
    struct timespec zero = {0, 0};

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    if (!st->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &st->old, NULL);
}

/* ---- dir: a maildir -------------------------------------------------- */

/* Deliver into the maildir at path (absolute, must exist): write
 * tmp/ID.PID.TID.tmp (a name no other live thread or process uses),
 * fsync it, rename it to new/ID.vrm (replacing an earlier delivery of the
 * same id) and fsync new/. */
static int send_dir(const char *path, const char *id, const uint8_t *wire, size_t len,
                    const reason *r)
{
    static const char *const subdirs[] = {"tmp", "new", "cur"};
    char tmp_name[ID_MAX + 48], new_name[ID_MAX + 8];
    int dfd = -1, tmp_dfd = -1, new_dfd = -1, fd = -1, made = 0, tmp_made = 0, rc = 0;
    size_t i;

    snprintf(new_name, sizeof new_name, "%s.vrm", id);
    snprintf(tmp_name, sizeof tmp_name, "%s.%ld.%ld.tmp", id, (long)getpid(),
             (long)syscall(SYS_gettid));

    dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = fail(r, errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    for (i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        if (mkdirat(dfd, subdirs[i], 0700) == 0)
            made = 1;
        else if (errno != EEXIST) {
            rc = fail(r, errno, "making %s/%s: %s", path, subdirs[i], strerror(errno));
            goto out;
        }
    }
    if (made && fsync(dfd) != 0) {    /* the new directories' names */
        rc = fail(r, errno, "fsync %s: %s", path, strerror(errno));
        goto out;
    }
    tmp_dfd = openat(dfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tmp_dfd < 0) {
        rc = fail(r, errno, "%s/tmp: %s", path, strerror(errno));
        goto out;
    }
    new_dfd = openat(dfd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (new_dfd < 0) {
        rc = fail(r, errno, "%s/new: %s", path, strerror(errno));
        goto out;
    }

    fd = openat(tmp_dfd, tmp_name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST) {
        /* left by a crashed process that had our pid and thread id: no
         * live writer can own this name, so it is garbage */
        if (unlinkat(tmp_dfd, tmp_name, 0) == 0 || errno == ENOENT)
            fd = openat(tmp_dfd, tmp_name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
                        0600);
        else
            errno = EEXIST;
    }
    if (fd < 0) {
        rc = fail(r, errno, "creating %s/tmp/%s: %s", path, tmp_name, strerror(errno));
        goto out;
    }
    tmp_made = 1;
    rc = vrm_write_all(fd, wire, len);
    if (rc != 0) {
        rc = fail(r, -rc, "writing %s/tmp/%s: %s", path, tmp_name, strerror(-rc));
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = fail(r, errno, "fsync %s/tmp/%s: %s", path, tmp_name, strerror(errno));
        goto out;
    }
    rc = close(fd);
    fd = -1;
    if (rc != 0) {                    /* NFS reports a full disk here */
        rc = fail(r, errno, "closing %s/tmp/%s: %s", path, tmp_name, strerror(errno));
        goto out;
    }
    if (renameat(tmp_dfd, tmp_name, new_dfd, new_name) != 0) {
        rc = fail(r, errno, "renaming into %s/new/%s: %s", path, new_name, strerror(errno));
        goto out;
    }
    tmp_made = 0;
    if (fsync(new_dfd) != 0) {        /* the rename is the delivery */
        rc = fail(r, errno, "fsync %s/new: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (tmp_made)
        unlinkat(tmp_dfd, tmp_name, 0);
    if (new_dfd >= 0)
        close(new_dfd);
    if (tmp_dfd >= 0)
        close(tmp_dfd);
    if (dfd >= 0)
        close(dfd);
    return rc;
}

/* ---- http and https: a POST with libcurl ----------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;              /* set once under curl_once */

static void curl_init(void)
{
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);

    curl_init_rc = cc == CURLE_OK ? 0 : cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

int vrm_transport_init(void)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != 0)
        return vrm_error(curl_init_rc, "curl_global_init failed");
    return 0;
}

/* The answer's body is not read: a 2xx is the whole acknowledgment. */
static size_t discard_body(char *data, size_t size, size_t n, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * n;
}

/* A failed transfer as a negative errno: connection errors by what the
 * socket said, the rest -EIO. */
static int curl_errno(CURLcode cc, long os_errno)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -EHOSTUNREACH;
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED || os_errno == EHOSTUNREACH || os_errno == ENETUNREACH ||
            os_errno == ETIMEDOUT)
            return (int)-os_errno;
        return -ECONNREFUSED;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_URL_MALFORMAT:
        return -EINVAL;
    default:
        return -EIO;
    }
}

/* What a person calls the errno of a failed connection, or NULL (for a
 * name that does not resolve libcurl's text says so already). */
static const char *curl_errno_phrase(CURLcode cc, int err)
{
    if (cc != CURLE_COULDNT_CONNECT && cc != CURLE_OPERATION_TIMEDOUT)
        return NULL;
    switch (err) {
    case -ECONNREFUSED:
        return "connection refused";
    case -ETIMEDOUT:
        return "timed out";
    case -EHOSTUNREACH:
        return "host unreachable";
    case -ENETUNREACH:
        return "network unreachable";
    default:
        return NULL;
    }
}

static int send_http(const char *url, const char *id, const uint8_t *wire, size_t len,
                     const reason *r)
{
    char id_header[ID_MAX + 32], errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = NULL, *h;
    CURL *curl = NULL;
    CURLcode cc = CURLE_OK;
    sigpipe_state sp;
    long status = 0, os_errno = 0;
    int rc;

    rc = vrm_transport_init();
    if (rc != 0)
        return fail(r, -rc, "curl_global_init failed");

    snprintf(id_header, sizeof id_header, "X-VRM-Message-Id: %s", id);
    h = curl_slist_append(headers, "Content-Type: application/octet-stream");
    if (h != NULL)
        headers = h;
    if (h != NULL && (h = curl_slist_append(headers, id_header)) != NULL)
        headers = h;
    /* no "Expect: 100-continue" wait before a large body */
    if (h != NULL && (h = curl_slist_append(headers, "Expect:")) != NULL)
        headers = h;
    curl = h != NULL ? curl_easy_init() : NULL;
    if (curl == NULL) {
        rc = fail(r, ENOMEM, "out of memory setting up the HTTP request");
        goto out;
    }
    errbuf[0] = '\0';

#define SET(opt, val)                                                    \
    do {                                                                 \
        if (cc == CURLE_OK)                                              \
            cc = curl_easy_setopt(curl, opt, val);                       \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    SET(CURLOPT_POSTFIELDS, len > 0 ? (const char *)wire : "");
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_USERAGENT, "vrmfs/" VRM_VERSION);
    SET(CURLOPT_TIMEOUT, (long)HTTP_TIMEOUT_S);
    SET(CURLOPT_CONNECTTIMEOUT, (long)HTTP_CONNECT_TIMEOUT_S);
    SET(CURLOPT_NOSIGNAL, 1L);        /* no SIGALRM for DNS timeouts: threads */
    SET(CURLOPT_FOLLOWLOCATION, 0L);  /* a 3xx is an answer, not a delivery */
#if LIBCURL_VERSION_NUM >= 0x075500   /* 7.85.0 */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_WRITEFUNCTION, discard_body);
    SET(CURLOPT_ERRORBUFFER, errbuf);
#undef SET
    if (cc != CURLE_OK) {
        rc = fail(r, cc == CURLE_OUT_OF_MEMORY ? ENOMEM : EINVAL, "setting up the HTTP request: %s",
                  curl_easy_strerror(cc));
        goto out;
    }

    sigpipe_block(&sp);
    cc = curl_easy_perform(curl);
    sigpipe_unblock(&sp);
    if (cc != CURLE_OK) {
        const char *detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
        const char *phrase;
        int err;

        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
        err = curl_errno(cc, os_errno);
        phrase = curl_errno_phrase(cc, err);
        if (phrase != NULL)
            rc = fail(r, -err, "%s: %s", phrase, detail);
        else
            rc = fail(r, -err, "%s", detail);
        goto out;
    }
    if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    if (status < 200 || status > 299) {
        rc = fail(r, EPROTO, "HTTP %ld", status);
        goto out;
    }
    rc = 0;
out:
    if (curl != NULL)
        curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    return rc;
}

/* ---- exec: a command with the message on stdin ----------------------- */

/* The first non-empty line of the command's stderr, cut to
 * STDERR_LINE_MAX bytes, control characters as '?'. */
typedef struct errline {
    char text[STDERR_LINE_MAX + 1];   /* NUL-terminated */
    size_t n;                         /* bytes in text */
    int done;                         /* the line is complete (or full) */
} errline;

static void errline_add(errline *e, const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n && !e->done; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == '\n') {
            e->done = e->n > 0;       /* skip blank lines before the first */
            continue;
        }
        if (c == '\r')
            continue;
        if (e->n == STDERR_LINE_MAX) {
            /* full: do not end inside a UTF-8 sequence */
            size_t j = e->n;

            while (j > 0 && ((unsigned char)e->text[j - 1] & 0xc0) == 0x80)
                j--;
            if (j > 0 && ((unsigned char)e->text[j - 1] & 0xc0) == 0xc0)
                e->n = j - 1;
            e->done = 1;
            break;
        }
        e->text[e->n++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    while (e->n > 0 && (e->text[e->n - 1] == ' ' || e->text[e->n - 1] == '\t'))
        e->n--;
    e->text[e->n] = '\0';
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fd moved (if need be) to a number above 2, close-on-exec, so that the
 * child's dup2 onto 0 and 2 cannot clobber it (a daemon may run with
 * 0-2 closed).  Returns the fd, or -1 with errno. */
static int fd_above_stdio(int fd)
{
    int nfd;

    if (fd > 2)
        return fd;
    nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The environment for the child: ours without VRM_MESSAGE_ID, then
 * id_var.  The strings are ours or environ's; free only the array. */
static char **child_env(char *id_var)
{
    static const char var[] = "VRM_MESSAGE_ID=";
    size_t n = 0, i, j = 0;
    char **env;

    while (environ != NULL && environ[n] != NULL)
        n++;
    env = calloc(n + 2, sizeof *env);
    if (env == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        if (strncmp(environ[i], var, sizeof var - 1) != 0)
            env[j++] = environ[i];
    env[j] = id_var;
    return env;
}

/* Start /bin/sh -c command in its own process group with stdin from
 * in_fd, stdout to /dev/null, stderr to err_fd, no other descriptor, no
 * signal blocked and the common signals at their defaults (a daemon may
 * ignore SIGPIPE or SIGHUP; its command should not inherit that).
 * Returns 0 or a positive errno (posix_spawn's convention). */
static int spawn_sh(pid_t *pid, const char *command, char **env, int in_fd, int err_fd)
{
    static char sh[] = "sh", dash_c[] = "-c";
    char *argv[] = {sh, dash_c, (char *)command, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dfl;
    int sig, rc;

    rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    sigemptyset(&none);
    sigemptyset(&dfl);
    for (sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaddset(&dfl, sig);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* also descriptors other threads opened without O_CLOEXEC */
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&attr, &dfl);
    if (rc == 0)
        rc = posix_spawnattr_setpgroup(&attr, 0);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                 POSIX_SPAWN_SETPGROUP);
    if (rc == 0)
        rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* Kill the command's process group (the shell and whatever it started)
 * and reap the shell. */
static void kill_and_reap(pid_t pid)
{
    int st;

    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

/* Read what the command's stderr has now; 0 at EOF (fd closed, *fd -1),
 * else 1.  Reads at most `budget` bytes. */
static int drain_stderr(int *fd, errline *line, size_t budget)
{
    char buf[4096];

    while (budget > 0) {
        ssize_t n = read(*fd, buf, sizeof buf);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 1;                 /* EAGAIN: no more for now */
        if (n == 0) {
            close(*fd);
            *fd = -1;
            return 0;
        }
        errline_add(line, buf, (size_t)n);
        budget = (size_t)n < budget ? budget - (size_t)n : 0;
    }
    return 1;
}

/* Run the command with wire on its stdin.  Delivered iff it exits 0,
 * whether or not it read all of its input (see transport.h).  The time
 * limit covers the whole run, writing included.  Done as soon as the shell
 * exits: a background process it left holding stderr is not waited for. */
static int send_exec(const char *command, const char *id, const uint8_t *wire, size_t len,
                     const reason *r)
{
    int in[2] = {-1, -1}, er[2] = {-1, -1}, pidfd = -1, rc, st = 0, exited = 0;
    int timeout_ms = vrm_transport_test_exec_timeout_ms > 0 ? vrm_transport_test_exec_timeout_ms
                                                            : EXEC_TIMEOUT_MS;
    char id_var[ID_MAX + 32], **env = NULL;
    pid_t pid = -1;
    errline line = {{0}, 0, 0};
    sigpipe_state sp;
    int sp_blocked = 0;
    size_t off = 0;
    int64_t deadline;

    snprintf(id_var, sizeof id_var, "VRM_MESSAGE_ID=%s", id);
    env = child_env(id_var);
    if (env == NULL) {
        rc = fail(r, ENOMEM, "out of memory starting the command");
        goto out;
    }
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(er, O_CLOEXEC) != 0) {
        rc = fail(r, errno, "pipe: %s", strerror(errno));
        goto out;
    }
    in[0] = fd_above_stdio(in[0]);
    in[1] = fd_above_stdio(in[1]);
    er[0] = fd_above_stdio(er[0]);
    er[1] = fd_above_stdio(er[1]);
    if (in[0] < 0 || in[1] < 0 || er[0] < 0 || er[1] < 0 || set_nonblock(in[1]) != 0 ||
        set_nonblock(er[0]) != 0) {
        rc = fail(r, errno, "pipe: %s", strerror(errno));
        goto out;
    }

    rc = spawn_sh(&pid, command, env, in[0], er[1]);
    if (rc != 0) {
        pid = -1;
        rc = fail(r, rc, "starting /bin/sh: %s", strerror(rc));
        goto out;
    }
    deadline = now_ms() + timeout_ms;
    close(in[0]);
    close(er[1]);
    in[0] = er[1] = -1;
#ifdef SYS_pidfd_open
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);  /* -1 before Linux 5.3: poll */
#endif
    if (len == 0) {                   /* nothing to say: EOF at once */
        close(in[1]);
        in[1] = -1;
    }

    sigpipe_block(&sp);
    sp_blocked = 1;
    while (!exited) {
        struct pollfd p[3];
        int np = 0, i_in = -1, i_err = -1, i_pid = -1;
        int64_t left = deadline - now_ms();

        if (left <= 0) {
            kill_and_reap(pid);
            pid = -1;
            rc = fail(r, ETIMEDOUT, "timed out after %d s", (timeout_ms + 999) / 1000);
            goto out;
        }
        if (in[1] >= 0) {
            i_in = np;
            p[np++] = (struct pollfd){in[1], POLLOUT, 0};
        }
        if (er[0] >= 0) {
            i_err = np;
            p[np++] = (struct pollfd){er[0], POLLIN, 0};
        }
        if (pidfd >= 0) {
            i_pid = np;
            p[np++] = (struct pollfd){pidfd, POLLIN, 0};
        }
        if (poll(p, (nfds_t)np, (int)(pidfd >= 0 || left < 10 ? left : 10)) < 0) {
            if (errno == EINTR)
                continue;
            rc = fail(r, errno, "poll: %s", strerror(errno));
            kill_and_reap(pid);
            pid = -1;
            goto out;
        }
        if (i_in >= 0 && p[i_in].revents != 0) {
            size_t chunk = len - off < (1u << 20) ? len - off : (1u << 20);
            ssize_t n = write(in[1], wire + off, chunk);

            if (n > 0)
                off += (size_t)n;
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || off == len) {
                /* done, or the command closed its stdin (EPIPE): its exit
                 * status decides */
                close(in[1]);
                in[1] = -1;
            }
        }
        if (i_err >= 0 && p[i_err].revents != 0)
            drain_stderr(&er[0], &line, STDERR_DRAIN_MAX);
        if (i_pid < 0 || p[i_pid].revents != 0) {
            pid_t w = waitpid(pid, &st, WNOHANG);

            if (w == pid)
                exited = 1;
            else if (w < 0 && errno != EINTR) {
                /* ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN?) */
                rc = fail(r, errno, "waiting for the command: %s", strerror(errno));
                kill(-pid, SIGKILL);
                pid = -1;
                goto out;
            }
        }
    }
    pid = -1;
    /* what it wrote before exiting is in the pipe now */
    if (er[0] >= 0)
        drain_stderr(&er[0], &line, STDERR_DRAIN_MAX);

    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        rc = 0;
    else if (WIFEXITED(st))
        rc = fail(r, EIO, "exit status %d%s%s", WEXITSTATUS(st), line.n ? ": " : "", line.text);
    else if (WIFSIGNALED(st))
        rc = fail(r, EIO, "killed by signal %d (%s)%s%s", WTERMSIG(st), strsignal(WTERMSIG(st)),
                  line.n ? ": " : "", line.text);
    else
        rc = fail(r, EIO, "wait status %#x", (unsigned)st);
out:
    if (sp_blocked)
        sigpipe_unblock(&sp);
    if (pid > 0)
        kill_and_reap(pid);
    if (pidfd >= 0)
        close(pidfd);
    if (in[0] >= 0)
        close(in[0]);
    if (in[1] >= 0)
        close(in[1]);
    if (er[0] >= 0)
        close(er[0]);
    if (er[1] >= 0)
        close(er[1]);
    free(env);
    return rc;
}

/* ---- the interface --------------------------------------------------- */

int vrm_transport_send(const char *endpoint, const char *id, const uint8_t *wire, size_t len,
                       char *error, size_t error_size)
{
    reason r = {error, error != NULL ? error_size : 0};
    const char *rest = NULL;
    kind k;

    if (r.size > 0)
        r.buf[0] = '\0';
    k = endpoint_kind(endpoint, &rest);
    if (k == KIND_NONE)
        return fail(&r, EINVAL, "not an endpoint (dir:/PATH, http://URL, https://URL or "
                                "exec:COMMAND)");
    if (!id_valid(id))
        return fail(&r, EINVAL, "bad message id (1 to %d of A-Z, a-z, 0-9, '_' and '-')",
                    ID_MAX);
    if (wire == NULL && len > 0)
        return fail(&r, EINVAL, "no message bytes");
    switch (k) {
    case KIND_DIR:
        return send_dir(rest, id, wire, len, &r);
    case KIND_HTTP:
    case KIND_HTTPS:
        return send_http(rest, id, wire, len, &r);
    case KIND_EXEC:
        return send_exec(rest, id, wire, len, &r);
    default:
        return fail(&r, EINVAL, "not an endpoint");
    }
}

const char *vrm_transport_kind(const char *endpoint)
{
    const char *rest;
    kind k = endpoint_kind(endpoint, &rest);

    return k == KIND_NONE ? NULL : kinds[k].name;
}
