/* fuzz_json.c - osr_json_parse on arbitrary bytes.  Whatever it accepts must serialize with
 * osr_json_append to text it accepts again, with an equal tree; every string in the tree,
 * run through osr_json_append_string, must parse back to the same bytes.  A second pass
 * takes the raw input itself, which need not be UTF-8, through osr_json_append_string and, as
 * a string object, through osr_json_append: both must give valid JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/err.h"
#include "osr/json.h"

/* The modules under test are compiled into this file, so a libFuzzer build instruments them
 * for coverage (the static library is built without -fsanitize=fuzzer).  Their symbols then
 * come from here and the library's copies are never linked in. */
#include "core/buf.c"
#include "core/json.c"

#define FUZZ_CAP (16u << 20)

static void check_string(const char *s, size_t n)
{
    struct osr_buf b;
    osr_buf_init(&b, FUZZ_CAP);
    OSR_ASSERT(osr_json_append_string(&b, s, n) == OSR_OK);
    struct json_object *o = NULL;
    OSR_ASSERT(osr_json_parse(b.data, b.len, &o, NULL) == OSR_OK);
    OSR_ASSERT(json_object_is_type(o, json_type_string));
    OSR_ASSERT((size_t)json_object_get_string_len(o) == n);
    OSR_ASSERT(memcmp(json_object_get_string(o), s, n) == 0);
    json_object_put(o);
    osr_buf_release(&b);
}

static void walk(struct json_object *o, int depth)
{
    OSR_ASSERT(depth <= OSR_JSON_MAX_DEPTH + 1);
    switch (json_object_get_type(o)) {
    case json_type_string:
        check_string(json_object_get_string(o), (size_t)json_object_get_string_len(o));
        break;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            walk(json_object_array_get_idx(o, i), depth + 1);
        break;
    case json_type_object: {
        json_object_object_foreach(o, key, val)
        {
            check_string(key, strlen(key));
            walk(val, depth + 1);
        }
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *o = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_json_parse((const char *)data, size, &o, &d);
    if (rc == OSR_OK) {
        struct osr_buf b;
        osr_buf_init(&b, FUZZ_CAP);
        OSR_ASSERT(osr_json_append(&b, o) == OSR_OK);
        struct json_object *back = NULL;
        OSR_ASSERT(osr_json_parse(b.data, b.len, &back, NULL) == OSR_OK);
        OSR_ASSERT(json_object_equal(o, back));
        json_object_put(back);
        osr_buf_release(&b);
        walk(o, 0);
        json_object_put(o);
    } else {
        OSR_ASSERT(o == NULL);
        OSR_ASSERT(d.msg[0] != '\0');
    }

    /* The raw bytes as a string: always valid JSON out, even for invalid UTF-8 in. */
    struct osr_buf e;
    osr_buf_init(&e, FUZZ_CAP);
    OSR_ASSERT(osr_json_append_string(&e, (const char *)data, size) == OSR_OK);
    struct json_object *s = NULL;
    OSR_ASSERT(osr_json_parse(e.data, e.len, &s, NULL) == OSR_OK);
    OSR_ASSERT(json_object_is_type(s, json_type_string));
    json_object_put(s);

    /* The raw bytes as a string object in a tree: osr_json_append must still write valid
     * JSON (invalid UTF-8 replaced). */
    osr_buf_reset(&e);
    struct json_object *arr = json_object_new_array();
    json_object_array_add(arr, osr_json_new_string((const char *)data, size));
    OSR_ASSERT(osr_json_append(&e, arr) == OSR_OK);
    OSR_ASSERT(osr_json_parse(e.data, e.len, &s, NULL) == OSR_OK);
    OSR_ASSERT(json_object_is_type(s, json_type_array));
    json_object_put(s);
    json_object_put(arr);
    osr_buf_release(&e);
    return 0;
}
