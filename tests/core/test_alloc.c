/* test_alloc.c - the aborting allocation helpers and the overflow-checked size helpers. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "osr/alloc.h"

static void test_alloc(void)
{
    char *p = osr_xstrdup("hello");
    CHECK_STR_EQ(p, "hello");
    free(p);
    p = osr_xstrndup("hello", 3);
    CHECK_STR_EQ(p, "hel");
    free(p);
    p = osr_xmalloc(0); /* a real pointer, freeable */
    CHECK(p != NULL);
    p = osr_xrealloc(p, 100);
    memset(p, 1, 100);
    free(p);
    int *z = osr_xcalloc(10, sizeof(int));
    int allzero = 1;
    for (int i = 0; i < 10; i++)
        allzero &= z[i] == 0;
    CHECK(allzero);
    free(z);

    size_t out = 0;
    CHECK(osr_size_mul(1000, 1000, &out) && out == 1000000);
    CHECK(!osr_size_mul(SIZE_MAX / 2 + 1, 2, &out));
    CHECK(osr_size_add(SIZE_MAX - 1, 1, &out) && out == SIZE_MAX);
    CHECK(!osr_size_add(SIZE_MAX, 1, &out));
}

TEST_MAIN(test_alloc)
