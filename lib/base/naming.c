/*
 * naming.c: the rules for names (see naming.h).
 */
#include "base/naming.h"
#include "base/error.h"
#include "base/json.h"

#include <errno.h>
#include <string.h>

int vrm_collection_name_valid(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n > VRM_COLLECTION_MAX)
        return vrm_error(EINVAL, "a collection name has 1 to %d characters", VRM_COLLECTION_MAX);
    for (i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

        if (!alnum && (i == 0 || (c != '_' && c != '-')))
            return vrm_error(EINVAL, "collection name \"%.64s\": use a-z, 0-9, '_' and "
                             "'-', starting with a letter or digit", name);
    }
    return 0;
}

int vrm_record_name_valid(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n > VRM_RECORD_NAME_MAX)
        return vrm_error(EINVAL, "a record name has 1 to %d bytes", VRM_RECORD_NAME_MAX);
    if (name[0] == '.')
        return vrm_error(EINVAL, "a record name cannot start with '.'");
    if (!vrm_utf8_valid(name, n))
        return vrm_error(EINVAL, "a record name must be UTF-8");
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c == '/' || c < 0x20 || c == 0x7f)
            return vrm_error(EINVAL, "a record name cannot hold '/' or control characters");
    }
    return 0;
}

int vrm_vendor_name_valid(const char *name)
{
    if (vrm_collection_name_valid(name) != 0)
        return vrm_error(EINVAL, "vendor name \"%.64s\": use 1 to %d of a-z, 0-9, '_' and "
                         "'-', starting with a letter or digit", name, VRM_VENDOR_MAX);
    if (strcmp(name, "all") == 0)
        return vrm_error(EINVAL, "\"all\" is reserved (outbox/all broadcasts to every vendor)");
    return 0;
}

int vrm_scratch_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > VRM_SCRATCH_NAME_MAX || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0 || strchr(name, '/') != NULL)
        return vrm_error(EINVAL, "\"%.255s\" is not a file name", name);
    if (n >= 5 && strcmp(name + n - 5, ".json") == 0)
        return vrm_error(EINVAL, "\"%.255s\" names a record, not a scratch file", name);
    return 0;
}
