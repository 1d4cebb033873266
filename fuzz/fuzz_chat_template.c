/* fuzz_chat_template.c - feeds arbitrary bytes as template source through compile and render
 * with a fixed small conversation.  Small caps keep each run fast; any crash, sanitizer report
 * or hang is a bug (errors are fine: most inputs are not valid templates). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/chat_template.h"
#include "osr/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CONTEXT[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", "
    "\"content\": \"hi \\u00fc\"}, {\"role\": \"assistant\", \"content\": null, \"tool_calls\": "
    "[{\"id\": \"call123456\", \"type\": \"function\", \"function\": {\"name\": \"f\", "
    "\"arguments\": {\"a\": [1, 2.5, null, true]}}}]}, {\"role\": \"tool\", \"content\": "
    "\"{}\"}], \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", "
    "\"parameters\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"array\"}}}}}], "
    "\"add_generation_prompt\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct json_object *vars;
    if (!vars && osr_json_parse(CONTEXT, strlen(CONTEXT), &vars, NULL) != OSR_OK)
        abort();
    struct osr_chat_template *t = NULL;
    if (osr_chat_template_compile((const char *)data, size, &t, NULL, NULL) != OSR_OK)
        return 0;
    struct osr_chat_template_opts opts = {
        .limits = {.max_output = 1u << 16,
                   .max_memory = 8u << 20,
                   .max_steps = 200000,
                   .max_depth = 32},
        .has_fixed_time = true,
        .fixed_time = 1740130200,
    };
    struct osr_buf out;
    osr_buf_init(&out, 1u << 17);
    osr_chat_template_render(t, vars, &opts, &out, NULL, NULL);
    osr_buf_release(&out);
    osr_chat_template_free(t);
    return 0;
}
