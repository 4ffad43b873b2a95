/*
 * clock.h: the time as libvrm writes and reads it.
 *
 * Times are kept as nanoseconds since the epoch (CLOCK_REALTIME) and shown
 * as RFC 3339 in UTC, to the second: 2026-11-23T14:02:57Z.
 */
#ifndef VRM_CLOCK_H
#define VRM_CLOCK_H

#include <stdint.h>

#define VRM_RFC3339_LEN 32            /* room for a formatted time, NUL included */

/* Now, in ns since the epoch. */
int64_t vrm_now_ns(void) __attribute__((warn_unused_result));

/* `ns` as RFC 3339 UTC to the second ("2026-11-23T14:02:57Z"). */
void vrm_rfc3339_format(int64_t ns, char out[VRM_RFC3339_LEN]);

/* RFC 3339 text (a Z or +hh:mm offset, optional fraction) to ns since the
 * epoch: 0, or -EINVAL with a message (also for a time after 2262, which
 * no int64 of ns holds). */
int vrm_rfc3339_parse(const char *text, int64_t *ns) __attribute__((warn_unused_result));

#endif
