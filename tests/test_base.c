/*
 * test_base.c: lib/base, the layer every other stands on: the growable
 * buffer and arrays, writing files whole, the name rules and base64url.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/b64url.h"
#include "base/fileio.h"
#include "base/naming.h"
#include "base/strbuf.h"

/* ---- strbuf ----------------------------------------------------------- */

static void test_strbuf_empty(void **state)
{
    vrm_strbuf sb = VRM_STRBUF_INIT;
    size_t len = 99;
    char *s;

    (void)state;
    /* never NULL, always terminated, even before the first byte */
    assert_non_null(sb.buf);
    assert_string_equal(sb.buf, "");
    s = vrm_strbuf_detach(&sb, &len);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    vrm_strbuf_release(&sb);       /* released twice: still fine */
    vrm_strbuf_release(&sb);
    assert_string_equal(sb.buf, "");
}

static void test_strbuf_add(void **state)
{
    vrm_strbuf sb = VRM_STRBUF_INIT;
    char big[5000], *s;
    size_t len, i;

    (void)state;
    assert_int_equal(vrm_strbuf_adds(&sb, "total: "), 0);
    assert_int_equal(vrm_strbuf_addf(&sb, "%d items, %.2f EUR", 3, 12.5), 0);
    assert_int_equal(vrm_strbuf_addch(&sb, '\n'), 0);
    assert_string_equal(sb.buf, "total: 3 items, 12.50 EUR\n");
    assert_int_equal(sb.len, strlen(sb.buf));
    /* bytes with NULs in them are kept, and the text stays terminated */
    assert_int_equal(vrm_strbuf_add(&sb, "a\0b", 3), 0);
    assert_int_equal(sb.len, 29);
    assert_memory_equal(sb.buf + 26, "a\0b", 4);
    /* growth far past the first allocation, through add and addf */
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (i = 0; i < 20; i++)
        assert_int_equal(vrm_strbuf_addf(&sb, "%s|%zu", big, i), 0);
    assert_int_equal(sb.len, 29 + 20 * (sizeof big - 1 + 2) + 10);
    assert_int_equal(sb.buf[sb.len], '\0');
    assert_true(sb.alloc > sb.len);
    vrm_strbuf_setlen(&sb, 7);
    assert_string_equal(sb.buf, "total: ");
    s = vrm_strbuf_detach(&sb, &len);
    assert_string_equal(s, "total: ");
    assert_int_equal(len, 7);
    free(s);
    /* detached: empty and usable again */
    assert_int_equal(sb.len, 0);
    assert_int_equal(vrm_strbuf_adds(&sb, "again"), 0);
    assert_string_equal(sb.buf, "again");
    vrm_strbuf_release(&sb);
}

static void test_strbuf_failed(void **state)
{
    vrm_strbuf sb = VRM_STRBUF_INIT;
    size_t len = 5;

    (void)state;
    assert_int_equal(vrm_strbuf_adds(&sb, "kept"), 0);
    /* a size that cannot be had fails, and the buffer remembers it */
    assert_int_equal(vrm_strbuf_grow(&sb, SIZE_MAX - 2), -ENOMEM);
    assert_int_equal(vrm_strbuf_adds(&sb, "more"), -ENOMEM);
    assert_int_equal(vrm_strbuf_addf(&sb, "%d", 1), -ENOMEM);
    assert_string_equal(sb.buf, "kept");
    assert_null(vrm_strbuf_detach(&sb, &len));
    assert_int_equal(len, 5);       /* untouched on failure */
    /* and is usable again after */
    assert_int_equal(vrm_strbuf_adds(&sb, "new"), 0);
    assert_string_equal(sb.buf, "new");
    vrm_strbuf_release(&sb);
}

static void test_array_grow(void **state)
{
    struct pair { int a; double b; } *v = NULL;
    size_t n, cap = 0;

    (void)state;
    for (n = 0; n < 1000; n++) {
        assert_int_equal(vrm_array_grow(&v, &cap, n, sizeof *v), 0);
        assert_true(cap > n);
        v[n].a = (int)n;
        v[n].b = (double)n / 2;
    }
    for (n = 0; n < 1000; n++)
        assert_int_equal(v[n].a, (int)n);
    /* room left: nothing moves */
    n = cap;
    assert_int_equal(vrm_array_grow(&v, &cap, 10, sizeof *v), 0);
    assert_int_equal(cap, n);
    /* a size that would overflow is refused, the array kept */
    cap = SIZE_MAX / 2;
    assert_int_equal(vrm_array_grow(&v, &cap, cap, sizeof *v), -ENOMEM);
    assert_int_equal(v[999].a, 999);
    free(v);
}

/* ---- files ------------------------------------------------------------ */

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char *path = vrm_path_join(dir, name), *out = NULL;
    int rc;

    assert_non_null(path);
    rc = vrm_file_read(AT_FDCWD, path, 1 << 20, &out, len);
    free(path);
    return rc == 0 ? out : NULL;
}

static void test_file_write_new(void **state)
{
    char *tmp = tu_tempdir(), *got, *path, *link;
    struct stat st;
    size_t len;
    int dfd;

    (void)state;
    dfd = open(tmp, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_int_equal(vrm_file_write_new(dfd, "key", 0600, "secret\n", 7), 0);
    got = slurp(tmp, "key", &len);
    assert_non_null(got);
    assert_int_equal(len, 7);
    assert_string_equal(got, "secret\n");
    free(got);
    path = vrm_path_join(tmp, "key");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* never over an existing file, which is left as it was */
    assert_int_equal(vrm_file_write_new(dfd, "key", 0600, "other", 5), -EEXIST);
    got = slurp(tmp, "key", &len);
    assert_string_equal(got, "secret\n");
    free(got);
    /* nor through a symbolic link */
    link = vrm_path_join(tmp, "link");
    assert_int_equal(symlink(path, link), 0);
    free(link);
    assert_int_equal(vrm_file_write_new(dfd, "link", 0600, "x", 1), -EEXIST);
    got = slurp(tmp, "key", &len);
    assert_string_equal(got, "secret\n");
    free(got);
    assert_int_equal(vrm_fsync_dir(tmp), 0);
    assert_int_equal(vrm_fsync_dir(path), -ENOTDIR);
    free(path);
    close(dfd);
    tu_cleanup(tmp);
}

static void test_file_replace(void **state)
{
    char *tmp = tu_tempdir(), *got, *path;
    size_t len;

    (void)state;
    assert_int_equal(vrm_dir_empty(tmp), 1);
    assert_int_equal(vrm_file_replace(tmp, "vault.json", 0600, "{\"a\": 1}\n", 9), 0);
    assert_int_equal(vrm_dir_empty(tmp), 0);
    assert_int_equal(vrm_file_replace(tmp, "vault.json", 0600, "{}\n", 3), 0);
    got = slurp(tmp, "vault.json", &len);
    assert_string_equal(got, "{}\n");
    free(got);
    /* no temporary file left behind */
    path = vrm_path_join(tmp, "vault.json.new");
    assert_int_equal(access(path, F_OK), -1);
    /* a .new file left by a crash is replaced, not in the way */
    assert_int_equal(close(open(path, O_WRONLY | O_CREAT, 0600)), 0);
    assert_int_equal(vrm_file_replace(tmp, "vault.json", 0600, "[1]\n", 4), 0);
    got = slurp(tmp, "vault.json", &len);
    assert_string_equal(got, "[1]\n");
    free(got);
    assert_int_equal(access(path, F_OK), -1);
    free(path);
    /* a missing directory fails and makes nothing */
    path = vrm_path_join(tmp, "nosuch");
    assert_int_equal(vrm_file_replace(path, "x", 0600, "x", 1), -ENOENT);
    assert_int_equal(vrm_dir_empty(path), -ENOENT);
    free(path);
    tu_cleanup(tmp);
}

static void test_write_all(void **state)
{
    static char big[3 << 20];
    int fds[2];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    /* a pipe takes 64 KiB at a time: many short writes */
    assert_int_equal(pipe(fds), 0);
    if (fork() == 0) {
        static char in[sizeof big];
        size_t got = 0;
        ssize_t n;

        close(fds[1]);
        while ((n = read(fds[0], in + got, sizeof in - got)) > 0)
            got += (size_t)n;
        _exit(got == sizeof big && memcmp(in, big, sizeof big) == 0 ? 0 : 1);
    }
    close(fds[0]);
    assert_int_equal(vrm_write_all(fds[1], big, sizeof big), 0);
    close(fds[1]);
    {
        int status;

        assert_true(wait(&status) > 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(vrm_write_all(-1, "x", 1), -EBADF);
}

static void test_fd_read_all(void **state)
{
    char *tmp = tu_tempdir(), *path = vrm_path_join(tmp, "f"), *out = NULL;
    int fds[2], fd;
    size_t len = 0;

    (void)state;
    /* a pipe: read to its end, whatever fstat says of its size */
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "hello, world", 12), 12);
    close(fds[1]);
    assert_int_equal(vrm_fd_read_all(fds[0], 12, &out, &len), 0);
    assert_int_equal(len, 12);
    assert_string_equal(out, "hello, world");
    free(out);
    close(fds[0]);
    /* one byte more than allowed: refused, nothing handed back */
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "hello, world", 12), 12);
    close(fds[1]);
    assert_int_equal(vrm_fd_read_all(fds[0], 11, &out, &len), -EFBIG);
    assert_null(out);
    assert_int_equal(len, 0);
    close(fds[0]);
    /* an empty file: an empty, terminated text */
    fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(vrm_fd_read_all(fd, 100, &out, &len), 0);
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    free(out);
    /* a file read whole; vrm_file_read refuses one larger than its max */
    assert_int_equal(vrm_write_all(fd, "0123456789", 10), 0);
    close(fd);
    assert_int_equal(vrm_file_read(AT_FDCWD, path, 10, &out, &len), 0);
    assert_string_equal(out, "0123456789");
    free(out);
    assert_int_equal(vrm_file_read(AT_FDCWD, path, 9, &out, &len), -EFBIG);
    assert_int_equal(vrm_file_read(AT_FDCWD, tmp, 9, &out, &len), -EINVAL);
    assert_int_equal(vrm_fd_read_all(-1, 9, &out, &len), -EBADF);
    free(path);
    tu_cleanup(tmp);
}

/* ---- names and base64url ---------------------------------------------- */

static void test_names(void **state)
{
    char long_coll[VRM_COLLECTION_MAX + 2], long_rec[VRM_RECORD_NAME_MAX + 2];

    (void)state;
    memset(long_coll, 'a', sizeof long_coll - 1);
    long_coll[sizeof long_coll - 1] = '\0';
    memset(long_rec, 'r', sizeof long_rec - 1);
    long_rec[sizeof long_rec - 1] = '\0';
    assert_int_equal(vrm_collection_name_valid("finance"), 0);
    assert_int_equal(vrm_collection_name_valid("a-b_9"), 0);
    assert_int_equal(vrm_collection_name_valid("Finance"), -EINVAL);
    assert_int_equal(vrm_collection_name_valid("a.b"), -EINVAL);
    assert_int_equal(vrm_collection_name_valid("-a"), -EINVAL);
    assert_int_equal(vrm_collection_name_valid(""), -EINVAL);
    assert_int_equal(vrm_collection_name_valid(long_coll), -EINVAL);
    long_coll[VRM_COLLECTION_MAX] = '\0';
    assert_int_equal(vrm_collection_name_valid(long_coll), 0);
    assert_int_equal(vrm_record_name_valid("Ann's café"), 0);
    assert_int_equal(vrm_record_name_valid(".hidden"), -EINVAL);
    assert_int_equal(vrm_record_name_valid("a/b"), -EINVAL);
    assert_int_equal(vrm_record_name_valid("tab\there"), -EINVAL);
    assert_int_equal(vrm_record_name_valid("\xff\xfe"), -EINVAL);
    assert_int_equal(vrm_record_name_valid(long_rec), -EINVAL);
    assert_int_equal(vrm_vendor_name_valid("acme"), 0);
    assert_int_equal(vrm_vendor_name_valid("all"), -EINVAL);
    assert_non_null(strstr(vrm_error_message(), "reserved"));
    assert_int_equal(vrm_vendor_name_valid("Acme"), -EINVAL);
    assert_int_equal(vrm_scratch_name_valid(".me.json.swp"), 0);
    assert_int_equal(vrm_scratch_name_valid("4913"), 0);
    assert_int_equal(vrm_scratch_name_valid("me.json"), -EINVAL);
    assert_int_equal(vrm_scratch_name_valid(".."), -EINVAL);
    assert_int_equal(vrm_scratch_name_valid("a/b"), -EINVAL);
}

static void test_b64url(void **state)
{
    uint8_t in[32], out[32];
    char text[64], small[8];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(0xf0 + i);
    assert_int_equal(vrm_b64url_encode(text, sizeof text, in, sizeof in), 0);
    assert_int_equal(strlen(text), 43);           /* no padding */
    assert_null(strpbrk(text, "+/="));            /* the URL-safe alphabet */
    assert_int_equal(vrm_b64url_decode(out, sizeof out, text), 0);
    assert_memory_equal(in, out, sizeof in);
    assert_int_equal(vrm_b64url_encode(small, sizeof small, in, sizeof in), -ENOSPC);
    /* one text per value: wrong lengths, padding, other alphabets refused */
    assert_int_equal(vrm_b64url_decode(out, 31, text), -EINVAL);
    assert_int_equal(vrm_b64url_decode(out, 16, "AAAAAAAAAAAAAAAAAAAAAA=="), -EINVAL);
    assert_int_equal(vrm_b64url_decode(out, 3, "+/+/"), -EINVAL);
    assert_int_equal(vrm_b64url_decode(out, 1, "AB"), -EINVAL);   /* trailing bits */
    assert_int_equal(vrm_b64url_decode(out, 1, "AA"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strbuf_empty),
        cmocka_unit_test(test_strbuf_add),
        cmocka_unit_test(test_strbuf_failed),
        cmocka_unit_test(test_array_grow),
        cmocka_unit_test(test_file_write_new),
        cmocka_unit_test(test_file_replace),
        cmocka_unit_test(test_write_all),
        cmocka_unit_test(test_fd_read_all),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_b64url),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
