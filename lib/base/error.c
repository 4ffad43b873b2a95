/*
 * error.c: per-thread error messages and the one SQLite-to-errno mapping.
 */
#include "base/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

static _Thread_local char msg[512];  /* last message of this thread */

int vrm_error(int err, const char *fmt, ...)
{
    va_list ap;

    if (err < 0)
        err = -err;
    if (fmt == NULL) {
        snprintf(msg, sizeof msg, "%s", strerror(err));
        return -err;
    }
    {
        /* formatted aside first: the arguments may include this thread's
         * current message, to wrap it ("grants.json: %s") */
        char out[sizeof msg];

        va_start(ap, fmt);
        vsnprintf(out, sizeof out, fmt, ap);  /* truncation is acceptable here */
        va_end(ap);
        memcpy(msg, out, sizeof msg);
    }
    return -err;
}

const char *vrm_error_message(void)
{
    return msg[0] ? msg : "unknown error";
}

void vrm_error_clear(void)
{
    msg[0] = '\0';
}

int vrm_errno_from_sqlite(int rc)
{
    switch (rc) {
    case SQLITE_IOERR_DATA:
        return -EBADMSG;
    case SQLITE_IOERR_NOMEM:
        return -ENOMEM;
    case SQLITE_IOERR_ACCESS:
        return -EACCES;
    default:
        break;
    }
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    case SQLITE_NOTFOUND:
        return -ENOENT;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
        return -EUCLEAN;
    case SQLITE_TOOBIG:
        return -EFBIG;
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        return -EINVAL;
    case SQLITE_INTERRUPT:
    case SQLITE_ABORT:
        return -EINTR;
    default:
        return -EIO;
    }
}

int vrm_error_from_db(sqlite3 *db, const char *what)
{
    int err = vrm_errno_from_sqlite(sqlite3_extended_errcode(db));
    int sys = sqlite3_system_errno(db);

    if ((err == -EIO || err == 0) && sys != 0)
        err = -sys;
    if (err == 0)
        err = -EIO;
    if (err == -EBADMSG)
        return err;
    if (sys != 0 && sys != ENOSPC)
        vrm_error(-err, "%s: %s (%s)", what, sqlite3_errmsg(db), strerror(sys));
    else
        vrm_error(-err, "%s: %s", what, err == -ENOSPC ? "the disk is full" : sqlite3_errmsg(db));
    return err;
}
