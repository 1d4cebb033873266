/* fuzz_models.c - libFuzzer target for what the model routes make of untrusted bytes: the input
 * (as one string) goes through the split-name parser, the id rule and the params-to-text
 * conversion of /api/show; when it opens as a GGUF buffer, it becomes /api/show's model_info,
 * serialized. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/api_models.h"
#include "osr/buf.h"
#include "osr/gguf.h"
#include "osr/json.h"
#include "osr/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    unsigned part = 0, count = 0;
    size_t stem = 0;
    if (osr_registry_split_name(s, &part, &count, &stem)) {
        /* The parser's promises: 1 <= part <= count and the stem ends before the suffix. */
        if (part < 1 || part > count || stem + 20 != strlen(s))
            abort();
    }
    char id[64];
    osr_registry_make_id(s, id, sizeof(id));
    sink += strlen(id);

    struct osr_gguf *g = NULL;
    if (osr_gguf_open_memory(data, size, &g, NULL) == OSR_OK) {
        struct json_object *info = osr_api_models_model_info_gguf(g, 12345);
        struct osr_buf b;
        osr_buf_init(&b, 1u << 24);
        if (osr_json_append(&b, info) != OSR_OK)
            abort(); /* model_info must always serialize (no NaN, valid UTF-8 out) */
        sink += b.len;
        osr_buf_release(&b);
        json_object_put(info);
        osr_gguf_close(g);
    }

    char *text = osr_api_models_params_text(s);
    sink += strlen(text);
    free(text);
    free(s);
    return 0;
}
