/*
 * replay.c: run inputs through a fuzz target without libFuzzer (see fuzz.h).
 *
 *   replay_NAME DIR...        every file of each DIR (sorted by name, dot
 *                             files skipped; a DIR that does not exist has
 *                             none: regress/NAME/ is made by its first
 *                             file), once, as TAP: "ok N - DIR/FILE"; no
 *                             file at all is an error
 *   replay_NAME --seeds DIR   write the target's generated seeds into DIR
 *
 * An input that crashes or breaks an invariant aborts the program (the
 * sanitizers say where); a seed named accept-* that the target did not
 * accept is "not ok".  Exit status 0 when every input passed.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct input {
    char *path;
    const char *name;                 /* the file name, in path */
} input;

static int skip_dots(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Append the files of dir to *in (sorted by name).  0, or -1 with a
 * message. */
static int list_dir(const char *dir, input **in, size_t *n)
{
    struct dirent **names;
    int k, i;

    k = scandir(dir, &names, skip_dots, alphasort);
    if (k < 0 && errno == ENOENT)
        return 0;
    if (k < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (i = 0; i < k; i++) {
        input *grown = realloc(*in, (*n + 1) * sizeof **in);
        char *path;

        if (grown == NULL || asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0)
            abort();
        *in = grown;
        (*in)[*n].path = path;
        (*in)[*n].name = path + strlen(dir) + 1;
        (*n)++;
        free(names[i]);
    }
    free(names);
    return 0;
}

/* Read a whole file: malloc'd (at least 1 byte, for an empty file), *len. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (fp == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            if (buf == NULL)
                abort();
        }
        got = fread(buf + n, 1, cap - n, fp);
        n += got;
    } while (got > 0);
    if (ferror(fp)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    input *in = NULL;
    size_t n = 0, i;
    int failed = 0, a;

    if (argc == 3 && strcmp(argv[1], "--seeds") == 0) {
        LLVMFuzzerInitialize(&argc, &argv);
        return fuzz_seeds(argv[2]) == 0 ? 0 : 1;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s DIR... | --seeds DIR\n", argv[0]);
        return 64;
    }
    for (a = 1; a < argc; a++)
        if (list_dir(argv[a], &in, &n) != 0)
            return 1;
    if (n == 0) {
        fprintf(stderr, "replay: no inputs in %s...\n", argv[1]);
        return 1;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    printf("1..%zu\n", n);
    fflush(stdout);
    for (i = 0; i < n; i++) {
        size_t len = 0;
        uint8_t *data = slurp(in[i].path, &len);
        int ok = data != NULL;

        if (ok) {
            fuzz_accepted();
            LLVMFuzzerTestOneInput(data, len);
            if (strncmp(in[i].name, "accept-", 7) == 0 && !fuzz_accepted()) {
                printf("# %s was not accepted: %s\n", in[i].path, vrm_error_message());
                ok = 0;
            }
        }
        printf("%sok %zu - %s\n", ok ? "" : "not ", i + 1, in[i].path);
        fflush(stdout);
        failed += !ok;
        free(data);
        free(in[i].path);
    }
    free(in);
    return failed ? 1 : 0;
}
