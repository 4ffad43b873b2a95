/*
 * accesslog.h: the append-only, hash-chained log of reads of vendor views.
 *
 * Every open of a file under views/VENDOR/ appends one line to VENDOR's log,
 * stored in the vault (encrypted) and shown as vendors/VENDOR/access.log:
 *
 *   TIME pid=PID uid=UID comm="COMM" path="PATH" chain=HEX
 *
 * TIME is RFC 3339 UTC with milliseconds (2026-11-23T13:44:27.123Z); COMM
 * (the reading process's command name) and PATH (below the view, e.g.
 * "/records/profile/me.json") are JSON strings; HEX is the lowercase hex
 * SHA-256 of the previous line's HEX (64 '0's for the first line), a
 * newline, and this line up to and excluding " chain=".  Removing,
 * reordering or altering any line breaks the chain from there on, which
 * vrm_accesslog_verify_text() finds.  PID and UID are decimal without sign
 * or leading zeros; the JSON strings are as cJSON writes them (", \ and
 * control characters escaped, other bytes as they are).
 *
 * What the chain cannot show: lines cut off the end of a copy (the rest
 * still chains), or a log replaced as a whole by an older copy.  Compare the
 * last HEX with one noted earlier for that.
 */
#ifndef VRM_ACCESSLOG_H
#define VRM_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/vault.h"

/* The same in a transaction of its own. */
int vrm_accesslog_append(vrm_vault *v, const char *vendor, const char *path, pid_t pid,
                         uid_t uid, const char *comm) __attribute__((warn_unused_result));

/* The whole log of `vendor` as text, each line ending in a newline ("" when
 * empty).  0 and *out (free()) with *len, or a negative errno. */
int vrm_accesslog_read(vrm_vault *v, const char *vendor, char **out, size_t *len)
    __attribute__((warn_unused_result));

/* Its size in bytes, as vrm_accesslog_read would give. */
int vrm_accesslog_size(vrm_vault *v, const char *vendor, uint64_t *size)
    __attribute__((warn_unused_result));

/* Check a log's text (as read, or a copy of it).  0 if every line is well
 * formed and chained ("" is); else -EBADMSG with *bad_line (1-based) set to
 * the first line that is not, and the message "line K: why".  A last line
 * without its newline is an error (a truncated copy).  bad_line may be
 * NULL; it is set to 0 on success. */
int vrm_accesslog_verify_text(const char *text, size_t len, size_t *bad_line)
    __attribute__((warn_unused_result));

/* Check every vendor's stored log (vendors removed since included), each
 * line as vrm_accesslog_verify_text would, holding the vault's lock for the
 * whole walk.  0, or -EBADMSG with the message
 * "access log of VENDOR: line K: why", or another negative errno. */
int vrm_accesslog_verify_all(vrm_vault *v) __attribute__((warn_unused_result));

#endif
