/* fuzz_outparse.c - generated text (the model's, so untrusted) through the output parser in
 * chunks of varying size, with and without tools.  Invariants: the parser never crashes or
 * reads out of bounds, tool-call ids and indexes are well formed, and without tools or stop
 * strings every input byte comes out again as text or reasoning (nothing is lost). */
#include <stdint.h>
#include <string.h>

#include "osr/buf.h"
#include "osr/err.h"
#include "osr/outparse.h"

struct acc {
    struct osr_buf out;
    int next_index;
};

static int emit(struct osr_sink *sink, const struct osr_event *ev)
{
    struct acc *a = sink->ctx;
    if (ev->kind == OSR_EV_TEXT_DELTA || ev->kind == OSR_EV_REASONING_DELTA)
        osr_buf_append(&a->out, ev->text.p, ev->text.n);
    if (ev->kind == OSR_EV_TOOL_CALL_START) {
        OSR_ASSERT(ev->index == a->next_index);
        a->next_index++;
    }
    return 0;
}

static void one(const uint8_t *data, size_t size, bool tools, size_t chunk)
{
    struct acc a;
    osr_buf_init(&a.out, 8u << 20);
    a.next_index = 0;
    struct osr_sink sink = {emit, &a};
    struct osr_outparse_opts o = {0};
    o.tools = tools;
    struct osr_outparse *p = osr_outparse_new(&o, &sink);
    for (size_t i = 0; i < size; i += chunk) {
        size_t k = size - i < chunk ? size - i : chunk;
        if (osr_outparse_push(p, (const char *)data + i, k) != OSR_OUTPARSE_MORE)
            break;
    }
    enum osr_finish fin;
    const char *stop;
    osr_outparse_finish(p, OSR_FINISH_STOP, &fin, &stop);
    if (!tools) {
        /* <think> markers are consumed, everything else survives in order. */
        OSR_ASSERT(a.out.len <= size);
        if (!memmem(data, size, "<think>", 7) && !memmem(data, size, "</think>", 8))
            OSR_ASSERT(a.out.len == size && memcmp(a.out.data ? a.out.data : "", data, size) == 0);
    }
    osr_outparse_free(p);
    osr_buf_release(&a.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    size_t chunk = size ? (size_t)data[0] % 13 + 1 : 1;
    one(data, size, false, chunk);
    one(data, size, true, chunk);
    one(data, size, true, 1);
    return 0;
}
