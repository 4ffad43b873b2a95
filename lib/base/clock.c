/*
 * clock.c: the time as libvrm writes and reads it (see clock.h).
 */
#include "base/clock.h"
#include "base/error.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

int64_t vrm_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void vrm_rfc3339_format(int64_t ns, char out[VRM_RFC3339_LEN])
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, VRM_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int digits(const char *s, int n, int *out)
{
    int i, v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int vrm_rfc3339_parse(const char *text, int64_t *ns)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    struct tm tm;
    int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;
    int64_t frac = 0, scale = 100000000;
    const char *p = text;
    time_t t;

    if (strlen(text) < 20 || digits(p, 4, &y) || p[4] != '-' || digits(p + 5, 2, &mo) ||
        p[7] != '-' || digits(p + 8, 2, &d) || (p[10] != 'T' && p[10] != 't') ||
        digits(p + 11, 2, &h) || p[13] != ':' || digits(p + 14, 2, &mi) || p[16] != ':' ||
        digits(p + 17, 2, &s))
        goto bad;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60)
        goto bad;
    if (d > mdays[mo - 1] + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        goto bad;
    p += 19;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            goto bad;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 ||
            om > 59)
            goto bad;
        p += 6;
    } else {
        goto bad;
    }
    if (*p != '\0')
        goto bad;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s == 60 ? 59 : s;
    t = timegm(&tm);
    if (t == (time_t)-1)
        goto bad;
    t -= (time_t)sign * (oh * 3600 + om * 60);
    if (t > INT64_MAX / 1000000000 - 1)   /* past 2262: no int64 of ns holds it */
        return vrm_error(EINVAL, "\"%.64s\" is too far in the future (after 2262)", text);
    *ns = (int64_t)t * 1000000000 + frac;
    return 0;
bad:
    return vrm_error(EINVAL, "\"%.64s\" is not an RFC 3339 time (2027-06-30T00:00:00Z)", text);
}
