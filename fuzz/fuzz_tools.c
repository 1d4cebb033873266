/* fuzz_tools.c - the calculator, the schema validator and the MCP dispatcher on untrusted
 * input.  The first byte picks the target: 'c' evaluates the rest as an expression; 's' splits
 * the rest at the first newline into a schema and an instance and validates; 'z' reads the
 * rest as a TZif file and 'p' as a POSIX TZ string; anything else
 * feeds the whole input to the MCP dispatcher over the built-in tools (JSON-RPC parsing,
 * tools/call argument validation, envelopes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/json.h"
#include "osr/mcp.h"
#include "osr/schema.h"
#include "osr/tools.h"
#include "osr/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct osr_tools *tools;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] == 'c') {
        double v;
        struct osr_diag d;
        osr_calc_eval(s, n, &v, &d);
        return 0;
    }
    if (data[0] == 'z') {
        int off;
        char abbr[16];
        osr_tz_offset_tzif((const uint8_t *)s, n, 1782864000, &off, abbr, sizeof(abbr), NULL);
        osr_tz_offset_tzif((const uint8_t *)s, n, -((int64_t)1 << 40), &off, abbr, sizeof(abbr),
                           NULL);
        return 0;
    }
    if (data[0] == 'p') {
        char str[256], abbr[16];
        size_t k = n < sizeof(str) - 1 ? n : sizeof(str) - 1;
        memcpy(str, s, k);
        str[k] = '\0';
        int off;
        osr_tz_posix_offset(str, 1782864000, &off, abbr, sizeof(abbr));
        osr_tz_posix_offset(str, 4103654400, &off, abbr, sizeof(abbr));
        return 0;
    }
    if (data[0] == 's') {
        const char *nl = memchr(s, '\n', n);
        if (!nl)
            return 0;
        struct json_object *schema = NULL, *inst = NULL;
        if (osr_json_parse(s, (size_t)(nl - s), &schema, NULL) == OSR_OK &&
            osr_json_parse(nl + 1, n - (size_t)(nl - s) - 1, &inst, NULL) == OSR_OK) {
            struct osr_schema_error e;
            osr_schema_validate(schema, inst, &e);
        }
        json_object_put(schema);
        json_object_put(inst);
        return 0;
    }
    if (!tools) {
        tools = osr_tools_new();
        osr_tools_add_builtins(tools, NULL);
    }
    struct osr_mcp_backend be;
    osr_mcp_backend_tools(&be, tools);
    const struct osr_mcp_info info = {"osaurus", "fuzz", NULL};
    struct osr_mcp_session sess;
    memset(&sess, 0, sizeof(sess));
    char *reply = osr_mcp_handle_text(&info, &be, &sess, (const char *)data, size);
    free(reply);
    return 0;
}
