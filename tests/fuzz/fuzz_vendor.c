/*
 * fuzz_vendor.c: vendors/VENDOR/vendor.json written through the mount
 * (vrm_vendor_put), in a vault with the vendor acme.
 *
 * Checks: 0 or -EINVAL with a message, the same answer as
 * vrm_vendor_json_check (what `vrmfs vendor` and the mount's checks use);
 * an accepted vendor.json reads back (vrm_vendor_get) as the same value.
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
    if (vrm_vendor_create(v, "acme") != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    cJSON *in = NULL, *back = NULL;
    char *json = NULL;
    size_t len = 0;
    int rc, checked;

    checked = vrm_vendor_json_check(text, size);
    rc = vrm_vendor_put(v, "acme", text, size);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    FUZZ_CHECK(rc == checked);
    if (rc != 0) {
        FUZZ_CHECK(vrm_error_message()[0] != '\0');
        return 0;
    }
    fuzz_accept();
    FUZZ_CHECK(vrm_json_parse_object(text, size, &in) == 0);
    FUZZ_CHECK(vrm_vendor_get(v, "acme", &json, &len, NULL, NULL) == 0);
    FUZZ_CHECK(vrm_json_parse_object(json, len, &back) == 0);
    FUZZ_CHECK(cJSON_Compare(in, back, 1));
    free(json);
    cJSON_Delete(back);
    cJSON_Delete(in);
    return 0;
}
