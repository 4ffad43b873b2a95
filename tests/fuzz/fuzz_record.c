/*
 * fuzz_record.c: a record written through the mount (records/COLL/NAME.json
 * is closed: fs/ hands the bytes to vrm_record_put, which parses them with
 * vrm_json_parse_object).
 *
 * Checks: libvrm's UTF-8 check agrees with one written independently; the
 * answer is 0 or -EINVAL with a message, and agrees with
 * vrm_json_parse_object on the same bytes; an accepted record reads back
 * (vrm_record_get) as pretty JSON of the size vrm_record_stat promised,
 * ending in a newline, that parses to the same value, and prints again to
 * the very same text.
 */
#include "fuzz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static vrm_vault *v;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_fixed_random();
    fuzz_vault_renew(&v, "vault");
    if (vrm_collection_create(v, "profile") != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    cJSON *in = NULL, *back = NULL;
    char *json = NULL, *again = NULL;
    size_t len = 0, alen = 0;
    vrm_record_info info;
    int rc, parsed;

    FUZZ_CHECK(vrm_utf8_valid(text, size) == fuzz_utf8_valid(data, size));
    parsed = vrm_json_parse_object(text, size, &in);
    FUZZ_CHECK(parsed == 0 || parsed == -EINVAL);
    FUZZ_CHECK((parsed == 0) == (in != NULL));
    rc = vrm_record_put(v, "profile", "me", text, size, 0, &info);
    FUZZ_CHECK(rc == parsed);
    if (rc != 0) {
        FUZZ_CHECK(vrm_error_message()[0] != '\0');
        goto out;
    }
    fuzz_accept();
    FUZZ_CHECK(vrm_record_get(v, "profile", "me", &json, &len, NULL) == 0);
    FUZZ_CHECK(len == info.size && len == strlen(json));
    FUZZ_CHECK(len >= 3 && json[len - 1] == '\n');
    FUZZ_CHECK(vrm_json_parse_object(json, len, &back) == 0);
    FUZZ_CHECK(cJSON_Compare(in, back, 1));
    FUZZ_CHECK(vrm_json_pretty(back, &again, &alen) == 0);
    FUZZ_CHECK(alen == len && memcmp(again, json, len) == 0);
out:
    free(again);
    free(json);
    cJSON_Delete(back);
    cJSON_Delete(in);
    return 0;
}
