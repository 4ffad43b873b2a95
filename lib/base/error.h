/*
 * error.h: libvrm's one error convention.
 *
 * Every libvrm function that can fail returns 0 (or a count) on success and a
 * negative errno on failure, so that a FUSE handler can return it as is.  Where
 * the errno alone would not tell a person what broke ("which page?", "which
 * key?"), the failing function also leaves a one-line message in a per-thread
 * buffer, read with vrm_error_message().
 *
 * The errno values that carry a libvrm-specific meaning:
 *   -EKEYREJECTED     wrong passphrase or recovery key
 *   -EBADMSG          data failed authentication (tampered or damaged)
 *   -EUCLEAN          the database structure is corrupt (SQLite said so)
 *   -EPROTONOSUPPORT  the vault (or its schema) is from a newer vrmfs
 *   -ENOSPC           the disk is full
 *   -EBUSY            the vault is in use by another process
 */
#ifndef VRM_ERROR_H
#define VRM_ERROR_H

#include <stddef.h>

/* Set the calling thread's message (printf-style; the arguments may include
 * vrm_error_message(), to wrap it).  Always returns -err so
 * that a caller can write `return vrm_error(EINVAL, "bad name %s", n);`. */
int vrm_error(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The calling thread's last message, or strerror() of the last errno passed
 * to vrm_error() when no message was given.  Never NULL. */
const char *vrm_error_message(void);

/* Forget the calling thread's message. */
void vrm_error_clear(void);

/* Map a SQLite result code (primary or extended) to a negative errno. */
int vrm_errno_from_sqlite(int rc) __attribute__((warn_unused_result));

struct sqlite3;

/* The last error of a connection as a negative errno: its extended result
 * code, made precise by the system's errno for I/O errors (a full disk is
 * -ENOSPC).  Unless the error is -EBADMSG (whose message the encrypting
 * shim has already set, naming the page), sets the message
 * "what: SQLite's message". */
int vrm_error_from_db(struct sqlite3 *db, const char *what) __attribute__((warn_unused_result));

#endif
