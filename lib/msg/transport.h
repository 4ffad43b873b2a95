/*
 * transport.h: handing a message's wire bytes to a vendor's endpoint.
 *
 *   dir:PATH      a maildir at an absolute PATH, which must exist (tmp/,
 *                 new/ and cur/ are made if missing): written to a name of
 *                 its own in PATH/tmp/ (mode 0600), fsync'ed, renamed into
 *                 PATH/new/ID.vrm and new/ fsync'ed; delivered once the
 *                 rename is done.  A redelivery replaces new/ID.vrm.
 *   http://URL,   POST of the bytes with libcurl, Content-Type
 *   https://URL   application/octet-stream and a header X-VRM-Message-Id:
 *                 ID; delivered on a 2xx answer (30 s timeout, 10 s to
 *                 connect, redirects not followed, TLS verified as libcurl
 *                 does by default, proxies from the environment as libcurl
 *                 does); the answer's body is ignored
 *   exec:COMMAND  /bin/sh -c COMMAND in its own process group, with the
 *                 bytes on its standard input, stdout to /dev/null, stderr
 *                 kept for the reason, and VRM_MESSAGE_ID=ID in its
 *                 environment; delivered when it exits 0, whether or not
 *                 it read all of its input (its exit status is its answer;
 *                 a command that closes stdin early and exits 0 has taken
 *                 the message).  After 60 s its process group is killed.
 *                 The daemon must not set SIGCHLD to SIG_IGN (the exit
 *                 status would be lost).
 *
 * Sending is at-least-once: a vendor may get a message twice (a crash
 * between delivery and marking it sent) and drops duplicates by ID.
 * Thread-safe; blocks for the duration of the transfer.  SIGPIPE is
 * blocked in the calling thread while it writes to a pipe or socket, and
 * one it raised is taken back; signal dispositions are not changed.
 */
#ifndef VRM_TRANSPORT_H
#define VRM_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* Call once per process before any thread sends (curl_global_init).  Safe
 * to call again (and from several threads: only the first call works);
 * 0, or -ENOMEM/-EIO if libcurl could not be set up. */
int vrm_transport_init(void) __attribute__((warn_unused_result));

/* Deliver wire[0..len) as message `id` (a file name: 1 to 64 of
 * [A-Za-z0-9_-]) to `endpoint`.  0 when delivered (error set to "");
 * else a negative errno and a one-line reason in error[0..error_size),
 * also left in vrm_error_message() ("HTTP 503", "connection refused: ...",
 * "exit status 2: <first line of stderr>", "writing PATH/tmp/NAME: No
 * space left on device").  error may be NULL.  Reasons name a dir's path
 * but never repeat a URL or command (they may hold a password).
 *   -EINVAL         a bad id or an endpoint vrm_transport_kind() refuses
 *                   (nothing is attempted)
 *   dir:            the errno of the failing call (-ENOENT: PATH missing,
 *                   -EACCES, -ENOSPC, -EDQUOT, -EROFS, ...)
 *   http, https:    -EPROTO for an answer other than 2xx (3xx included);
 *                   -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH (also for a
 *                   name that does not resolve), -ENETUNREACH; else -EIO
 *                   (TLS failures among them) with libcurl's text
 *   exec:           -EIO for a non-zero exit ("exit status N: LINE") or a
 *                   death by a signal; -ETIMEDOUT ("timed out after 60 s");
 *                   the errno of a failure to start it */
int vrm_transport_send(const char *endpoint, const char *id, const uint8_t *wire, size_t len,
                       char *error, size_t error_size) __attribute__((warn_unused_result));

/* The transport's name for an endpoint: "dir", "http", "https", "exec", or
 * NULL for one vrm_transport_send() would refuse: no known prefix, nothing
 * after it, a dir: path that is not absolute, or a URL with a space or a
 * control character.  Prefixes are lower case. */
const char *vrm_transport_kind(const char *endpoint);

#endif
