/* fuzz_models.c - libFuzzer target for the registry's parsers of names it finds on disk and of
 * Ollama's params layer: the input (as one string) goes through the split-name parser, the id
 * rule and the params-to-text conversion of /api/show. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/api_models.h"
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

    char *text = osr_api_models_params_text(s);
    sink += strlen(text);
    free(text);
    free(s);
    return 0;
}
