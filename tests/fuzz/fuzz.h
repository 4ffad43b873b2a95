/*
 * fuzz.h: what the fuzz targets share.
 *
 * Each target fuzz_NAME.c feeds its input to one parser of outside input the
 * way the product calls it, and checks what can be checked cheaply about the
 * answer.  It is linked twice:
 *
 *   - with libFuzzer (clang -fsanitize=fuzzer, meson -Dfuzz=true), as the
 *     program fuzz_NAME that the "fuzz" suite runs for a bounded time;
 *   - with replay.c, as replay_NAME in every build, which runs each file of
 *     tests/fuzz/corpus/NAME/ and tests/fuzz/regress/NAME/ through it once
 *     (suite "unit"), so that the seeds and every input that once found a
 *     bug run under gcc, clang and the sanitizers alike.
 *
 * A target defines LLVMFuzzerInitialize (once per process: its vault and
 * keys) and LLVMFuzzerTestOneInput.  It must return 0 for every input;
 * a refused input is an error code from libvrm, never a crash.  A broken
 * invariant is reported with FUZZ_CHECK, which aborts: libFuzzer and
 * replay both treat that as a failure of the input.
 *
 * Seed files named accept-* must be accepted (the target calls
 * fuzz_accept()): replay fails when one is not, so that a corpus whose
 * valid inputs went stale, or a parser that starts refusing valid input,
 * does not pass unnoticed.
 */
#ifndef VRM_FUZZ_H
#define VRM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "base/json.h"
#include "vrm.h"

#define FUZZ_PASS "fuzz passphrase"

/* libFuzzer's entry points, defined by each target. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Write the target's generated seeds (those that need keys to make) into
 * `dir`, for `replay_NAME --seeds DIR`; 0, or 1 with a message on stderr.
 * Targets whose seeds are written by hand do not define it. */
int fuzz_seeds(const char *dir);

/* Abort, naming the broken invariant, unless `cond`. */
#define FUZZ_CHECK(cond)                                                            \
    do {                                                                            \
        if (!(cond))                                                                \
            fuzz_fail(__FILE__, __LINE__, #cond);                                   \
    } while (0)

void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* The input was accepted (see accept-* above); fuzz_accepted() reads and
 * clears the flag. */
void fuzz_accept(void);
int fuzz_accepted(void);

/* Make libsodium's randomness a fixed stream (ChaCha20 under a constant
 * key), so that a vault made by fuzz_vault_create() has the same master
 * key, recovery key and identities in every run and sealed seeds stay
 * valid.  Call before anything else touches libsodium.  Test use only. */
void fuzz_fixed_random(void);

/* A directory of this process (under $TMPDIR or /tmp), removed at exit. */
const char *fuzz_tmpdir(void);

/* A malloc'd path fuzz_tmpdir()/name. */
char *fuzz_path(const char *name);

/* Create a vault in fuzz_tmpdir()/name with the minimal Argon2id limits and
 * FUZZ_PASS; its recovery key goes to rec (if not NULL).  Aborts on error. */
char *fuzz_vault_create(const char *name, char rec[VRM_RECOVERY_KEY_LEN + 1]);

/* The vault at `path`, opened; closed at exit unless closed before with
 * fuzz_vault_close.  Aborts on error. */
vrm_vault *fuzz_vault_open(const char *path);
void fuzz_vault_close(vrm_vault *v);

/* A new vault in fuzz_tmpdir()/name, opened, into *v; a vault already in
 * *v (made by this under the same name) is closed and removed first.
 * Aborts on error. */
void fuzz_vault_renew(vrm_vault **v, const char *name);

/* Write buf[0..len) to path (created or truncated).  Aborts on error. */
void fuzz_write(const char *path, const void *buf, size_t len);

/* Write `text` with `from` replaced by `to` (its first occurrence; from
 * NULL: as it is) into dir/name, for a seed.  Aborts, naming `what`, if
 * `from` is not in it. */
void fuzz_write_variant(const char *dir, const char *name, const char *text, const char *what,
                        const char *from, const char *to);

/* Remove a directory tree (or a file).  Missing is fine. */
void fuzz_rmtree(const char *path);

/* A NUL-terminated, malloc'd copy of data[0..size). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Is s[0..n) valid UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF)?  Written here independently of libvrm's, to compare. */
int fuzz_utf8_valid(const uint8_t *s, size_t n);

/* Is `a` contained in `b`: equal scalars, objects whose every member is
 * contained in b's member of that key, arrays whose elements are
 * contained, in order, in elements of b's?  (What a projection of b may
 * hold.) */
int fuzz_json_contained(const cJSON *a, const cJSON *b);

#endif
