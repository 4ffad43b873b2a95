/*
 * json.h: the JSON that crosses libvrm's edge, through cJSON.
 *
 * What comes in must be one JSON object, valid UTF-8, without duplicate keys
 * at any depth, without numbers too large for a double (cJSON would hold
 * them as infinity and print them as null) and with nothing after it but
 * whitespace.  What goes out is
 * pretty-printed the way `jq .` prints it (two-space indent, "key": value,
 * every member and array element on a line of its own) with a final newline,
 * so that diff, grep and jq agree with what a person sees.
 */
#ifndef VRM_JSON_H
#define VRM_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Parse `len` bytes as a JSON object.  Returns 0 and sets *out (free with
 * cJSON_Delete), or -EINVAL with a message saying what is wrong and where. */
int vrm_json_parse_object(const char *buf, size_t len, cJSON **out)
    __attribute__((warn_unused_result));

/* Render `item` pretty with a final newline.  Returns 0 and sets *out
 * (malloc'd, NUL-terminated; free with free()) and *len, or -ENOMEM. */
int vrm_json_pretty(const cJSON *item, char **out, size_t *len)
    __attribute__((warn_unused_result));

/* Render `item` compact, without newline.  Same contract. */
int vrm_json_compact(const cJSON *item, char **out, size_t *len)
    __attribute__((warn_unused_result));

/* Is buf[0..len) valid UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF)? */
int vrm_utf8_valid(const char *buf, size_t len) __attribute__((warn_unused_result));

#endif
