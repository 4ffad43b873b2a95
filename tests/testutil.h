/*
 * testutil.h: helpers shared by libvrm's unit tests.  Each helper fails the
 * running cmocka test (fail_msg) rather than return an error.
 */
#ifndef VRM_TESTUTIL_H
#define VRM_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "base/json.h"
#include "vrm.h"
#include "store/vault_int.h"

#define TU_PASS "correct horse battery staple"

/* A new empty directory under $TMPDIR (or /tmp); free with tu_cleanup. */
char *tu_tempdir(void);

/* Remove a directory tree and free its name. */
void tu_cleanup(char *dir);

/* Create a vault in dir/name with the minimal Argon2id limits; returns its
 * path (malloc'd). */
char *tu_make_vault(const char *dir, const char *name);

/* Open a vault with TU_PASS, failing the test on error. */
vrm_vault *tu_open(const char *vault);

/* The fixture most tests share: a new directory holding a vault, open. */
typedef struct tu_fixture {
    char *tmp;                  /* the directory, removed by tu_teardown */
    char *vault;                /* tmp/vault */
    vrm_vault *v;
} tu_fixture;

/* cmocka setup and teardown of a tu_fixture in *state. */
int tu_setup(void **state);
int tu_teardown(void **state);

/* The number of consent receipts for `vendor` (checking that they are
 * numbered 1, 2, ...), and the payload of receipt n (cJSON_Delete). */
int64_t tu_receipt_count(vrm_vault *v, const char *vendor);
struct cJSON *tu_receipt_payload(vrm_vault *v, const char *vendor, int64_t n);

/* 1 if the file contains the bytes, 0 if not. */
int tu_file_contains(const char *path, const void *needle, size_t n);

/* The path of the first regular file under dir containing the bytes, or
 * NULL (malloc'd). */
char *tu_find_in_tree(const char *dir, const void *needle, size_t n);

/* XOR one byte of a file at off with mask (non-zero). */
void tu_flip(const char *path, off_t off, uint8_t mask);

/* Copy len bytes of a file from one offset to another. */
void tu_copy_range(const char *path, off_t from, off_t to, size_t len);

/* Copy a file. */
void tu_copy_file(const char *from, const char *to);

/* Size of a file, or -1. */
off_t tu_file_size(const char *path);

/* Path join, malloc'd. */
char *tu_path(const char *dir, const char *name);

/* A record body for (i): a JSON object whose content depends on i and
 * whose size varies; malloc'd. */
char *tu_body(unsigned i, const char *marker);

#endif
