/* fuzz_agent_text.c - what the agent loop reads from a model's output: todo checklists, complete
 * summaries and tool arguments shown in /agents/{id}/run chunks (scrubbed and cut).  The first
 * byte picks the target: 't' parses the rest as a checklist, 's' checks it as a summary,
 * anything else scrubs it as arguments.  Checks: at most 200 items, each with non-empty text
 * and a boolean; scrubbed arguments never exceed their cap, and an object's "password" comes
 * back as "[redacted]". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/agent_loop.h"
#include "osr/api_agent_run.h"
#include "osr/err.h"
#include "osr/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    size_t n = size - 1;
    if (data[0] == 't') {
        struct json_object *items = osr_agent_parse_todo(s);
        size_t k = json_object_array_length(items);
        OSR_ASSERT(k <= 200);
        for (size_t i = 0; i < k; i++) {
            struct json_object *it = json_object_array_get_idx(items, i);
            OSR_ASSERT(json_object_get_string_len(json_object_object_get(it, "text")) > 0);
            OSR_ASSERT(json_object_is_type(json_object_object_get(it, "done"), json_type_boolean));
        }
        json_object_put(items);
    } else if (data[0] == 's') {
        const char *why = osr_agent_check_summary(s);
        OSR_ASSERT(why || strlen(s) >= OSR_AGENT_SUMMARY_MIN);
    } else {
        char *cut = osr_api_agent_scrub_args(s, n, 64);
        OSR_ASSERT(strlen(cut) <= 64);
        free(cut);
        /* uncut: a JSON object comes back as JSON whose secret-looking values are redacted */
        char *out = osr_api_agent_scrub_args(s, n, (size_t)1 << 22);
        struct json_object *o = NULL, *back = NULL, *v = NULL;
        if (osr_json_parse(s, n, &o, NULL) == OSR_OK && o &&
            json_object_is_type(o, json_type_object) &&
            json_object_object_get_ex(o, "password", &v) && json_object_is_type(v, json_type_string)) {
            OSR_ASSERT(osr_json_parse(out, strlen(out), &back, NULL) == OSR_OK);
            OSR_ASSERT(strcmp(json_object_get_string(json_object_object_get(back, "password")),
                              "[redacted]") == 0);
        }
        json_object_put(back);
        json_object_put(o);
        free(out);
    }
    free(s);
    return 0;
}
