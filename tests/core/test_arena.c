/* test_arena.c - the request arena: alignment, cap, string copies, big and small mixes. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "osr/arena.h"

static void test_alignment(void)
{
    struct osr_arena a;
    osr_arena_init(&a, 1u << 20);
    int ok = 1;
    for (size_t n = 0; n < 100; n++) {
        void *p = osr_arena_alloc(&a, n);
        ok &= p != NULL && ((uintptr_t)p % 16) == 0;
        if (p)
            memset(p, 0xab, n);
    }
    CHECK(ok);
    void *big = osr_arena_alloc(&a, 100000);
    REQUIRE(big != NULL);
    CHECK(((uintptr_t)big % 16) == 0);
    osr_arena_release(&a);
}

static void test_cap(void)
{
    struct osr_arena a;
    osr_arena_init(&a, 10000);
    CHECK(osr_arena_alloc(&a, 10001) == NULL);
    CHECK(osr_arena_alloc(&a, 6000) != NULL);
    CHECK(osr_arena_alloc(&a, 6000) == NULL); /* 12000 > 10000 */
    CHECK(osr_arena_alloc(&a, 3000) != NULL);
    CHECK(a.total <= a.max);
    CHECK(osr_arena_alloc(&a, SIZE_MAX) == NULL);
    CHECK(osr_arena_alloc(&a, SIZE_MAX - 8) == NULL);
    CHECK(osr_arena_calloc(&a, SIZE_MAX / 2, 4) == NULL); /* overflowing product */
    osr_arena_release(&a);
    CHECK(a.head == NULL);
    CHECK_INT_EQ(a.total, 0);
    /* Usable again after release. */
    CHECK(osr_arena_alloc(&a, 6000) != NULL);
    osr_arena_release(&a);

    struct osr_arena z;
    osr_arena_init(&z, 0);
    CHECK(osr_arena_alloc(&z, 1) == NULL);
    CHECK(osr_arena_strdup(&z, "x") == NULL);
    osr_arena_release(&z);
}

static void test_fill_to_cap(void)
{
    /* Small allocations can use the whole cap, not just whole default-sized blocks. */
    struct osr_arena a;
    osr_arena_init(&a, 5000);
    size_t got = 0;
    while (osr_arena_alloc(&a, 16) != NULL)
        got += 16;
    CHECK(got >= 4096);
    CHECK(got <= 5000);
    CHECK(a.total <= 5000);
    osr_arena_release(&a);
}

static void test_strings(void)
{
    struct osr_arena a;
    osr_arena_init(&a, 1u << 16);
    char *s = osr_arena_strndup(&a, "hello world", 5);
    CHECK_STR_EQ(s, "hello");
    char *e = osr_arena_strndup(&a, "", 0);
    CHECK_STR_EQ(e, "");
    char *bin = osr_arena_strndup(&a, "a\0b", 3);
    REQUIRE(bin != NULL);
    CHECK(memcmp(bin, "a\0b\0", 4) == 0);
    CHECK_STR_EQ(osr_arena_strdup(&a, "copy"), "copy");
    CHECK_STR_EQ(osr_arena_printf(&a, "%s-%d-%05.1f", "x", 42, 3.14159), "x-42-003.1");
    char *z = osr_arena_calloc(&a, 10, 8);
    REQUIRE(z != NULL);
    int allzero = 1;
    for (int i = 0; i < 80; i++)
        allzero &= z[i] == 0;
    CHECK(allzero);
    CHECK_STR_EQ(s, "hello"); /* earlier allocations are untouched */
    osr_arena_release(&a);
}

static void test_printf_large(void)
{
    struct osr_arena a;
    osr_arena_init(&a, 1u << 20);
    char big[9000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char *p = osr_arena_printf(&a, "[%s]", big);
    REQUIRE(p != NULL);
    CHECK_INT_EQ(strlen(p), 9000 + 1);
    CHECK(p[0] == '[' && p[9000] == ']');
    osr_arena_release(&a);
    osr_arena_init(&a, 100);
    CHECK(osr_arena_printf(&a, "%s", big) == NULL);
    osr_arena_release(&a);
}

static void test_mixed(void)
{
    /* Many small allocations with some large ones in between; each keeps its own bytes. */
    struct osr_arena a;
    osr_arena_init(&a, 64u << 20);
    enum { N = 4000 };
    static unsigned char *ptrs[N];
    static size_t sizes[N];
    for (int i = 0; i < N; i++) {
        sizes[i] = (i % 97 == 0) ? 20000 + (size_t)i : (size_t)(i % 41) + 1;
        ptrs[i] = osr_arena_alloc(&a, sizes[i]);
        if (!ptrs[i]) {
            CHECK(!"allocation failed under the cap");
            osr_arena_release(&a);
            return;
        }
        memset(ptrs[i], i & 0xff, sizes[i]);
    }
    int ok = 1;
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < sizes[i]; k++)
            ok &= ptrs[i][k] == (unsigned char)(i & 0xff);
    CHECK(ok);
    size_t want = 0;
    for (int i = 0; i < N; i++)
        want += (sizes[i] + 15) & ~(size_t)15;
    CHECK_INT_EQ(a.used, want);
    CHECK(a.total >= a.used);
    /* A large allocation must not strand the current small block: the waste stays small. */
    CHECK(a.total - a.used < 256 * 1024);
    osr_arena_release(&a);
}

TEST_MAIN(test_alignment, test_cap, test_fill_to_cap, test_strings, test_printf_large, test_mixed)
