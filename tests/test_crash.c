/*
 * test_crash.c: every record whose write returned is still there, intact,
 * after the writing process is killed with SIGKILL at a random moment; WAL
 * recovery goes through the encrypting shim.  Repeated many times (the
 * count can be raised with VRM_CRASH_ROUNDS).
 *
 * The child writes records of varying size (some span overflow pages) with
 * frequent background checkpoints, so kills land in commits, in checkpoints
 * and between them; after each record's commit returns it reports the
 * record's number through a pipe.  The parent kills it, reopens the vault,
 * and checks every reported record byte for byte.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

/* The body of record i of round r: sizes vary, and now and then a large
 * record is stored across overflow pages. */
static char *make_body(int round, unsigned i)
{
    char *body = tu_body(i * 7 + (unsigned)round, NULL), *big = NULL, *z;

    if (i % 9 != 4)
        return body;
    z = malloc(30001);
    memset(z, 'z', 30000);
    z[30000] = '\0';
    body[strlen(body) - 1] = '\0';  /* drop the closing brace */
    if (asprintf(&big, "%s, \"big\": \"%s\"}", body, z) < 0)
        big = NULL;
    free(z);
    free(body);
    return big;
}

static void child(const char *vault, int round, int fd)
{
    vrm_vault *v = NULL;
    unsigned i;

    if (vrm_vault_open(&v, vault, TU_PASS, strlen(TU_PASS), 0) != 0)
        _exit(3);
    v->ckpt_frames = 40;  /* background checkpoints, often */
    for (i = 0;; i++) {
        char name[32], *body = make_body(round, i);
        uint32_t n = i;

        if (body == NULL)
            _exit(6);
        snprintf(name, sizeof name, "c%02d-%05u", round, i);
        if (vrm_record_put(v, "crash", name, body, strlen(body), 0, NULL) != 0)
            _exit(4);
        free(body);
        if (write(fd, &n, sizeof n) != sizeof n)
            _exit(5);
    }
}

/* What vrm_record_get gives back for record i of round r. */
static char *expected(int round, unsigned i)
{
    char *body = make_body(round, i), *pretty = NULL;
    size_t len;
    cJSON *obj = NULL;

    if (body == NULL || vrm_json_parse_object(body, strlen(body), &obj) != 0 ||
        vrm_json_pretty(obj, &pretty, &len) != 0)
        fail_msg("bad expected body");
    cJSON_Delete(obj);
    free(body);
    return pretty;
}

static void test_sigkill_rounds(void **state)
{
    const char *env = getenv("VRM_CRASH_ROUNDS");
    int rounds = env ? atoi(env) : 60, round;
    char *tmp = tu_tempdir(), *vault = tu_make_vault(tmp, "vault");
    unsigned long total = 0, kills_mid = 0;
    vrm_vault *v;

    (void)state;
    v = tu_open(vault);
    assert_int_equal(vrm_collection_create(v, "crash"), 0);
    assert_int_equal(vrm_vault_close(v), 0);

    for (round = 0; round < rounds; round++) {
        int fds[2], status;
        uint32_t n, committed = 0;
        int any = 0;
        pid_t pid;
        struct timespec nap;

        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(vault, round, fds[1]);
        }
        close(fds[1]);
        /* 2 to 80 ms: from inside the first commits to deep in the run. */
        nap.tv_sec = 0;
        nap.tv_nsec = (long)(2 + randombytes_uniform(79)) * 1000000L;
        nanosleep(&nap, NULL);
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fail_msg("round %d: child ended on its own (status %d)", round, status);
        while (read(fds[0], &n, sizeof n) == sizeof n) {
            assert_int_equal(n, committed);
            committed++;
            any = 1;
        }
        close(fds[0]);
        kills_mid += any;

        v = tu_open(vault);
        for (n = 0; n < committed; n++) {
            char name[32], *out = NULL, *want = expected(round, n);
            size_t len;
            int rc;

            snprintf(name, sizeof name, "c%02d-%05u", round, n);
            rc = vrm_record_get(v, "crash", name, &out, &len, NULL);
            if (rc != 0)
                fail_msg("round %d: committed record %s: %s", round, name, vrm_error_message());
            assert_string_equal(out, want);
            free(out);
            free(want);
        }
        total += committed;
        assert_int_equal(vrm_vault_close(v), 0);
        if (round % 10 == 9 || round == rounds - 1)
            assert_int_equal(vrm_vault_check(vault, TU_PASS, strlen(TU_PASS), NULL), 0);
    }
    printf("# %d kills, %lu committed records verified, %lu kills after a commit\n",
           rounds, total, kills_mid);
    assert_true(kills_mid > (unsigned long)rounds / 2);
    free(vault);
    tu_cleanup(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_rounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
