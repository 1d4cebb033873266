/* test_buf.c - the capped buffer: cap enforcement, contents left intact on failure, formatted
 * appends past the small stack buffer, detach. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "osr/buf.h"
#include "osr/err.h"

static void test_empty(void)
{
    struct osr_buf b;
    osr_buf_init(&b, 16);
    CHECK_STR_EQ(osr_buf_str(&b), "");
    CHECK_INT_EQ(b.len, 0);
    CHECK(b.data == NULL);
    CHECK_INT_EQ(osr_buf_append(&b, "", 0), OSR_OK);
    CHECK(b.data != NULL);
    CHECK_STR_EQ(osr_buf_str(&b), "");
    osr_buf_release(&b);
    CHECK(b.data == NULL);
}

static void test_append_and_cap(void)
{
    struct osr_buf b;
    osr_buf_init(&b, 10);
    CHECK_INT_EQ(osr_buf_puts(&b, "hello"), OSR_OK);
    CHECK_INT_EQ(osr_buf_putc(&b, ' '), OSR_OK);
    CHECK_INT_EQ(osr_buf_append(&b, "world", 5), OSR_ETOOBIG); /* 11 > 10 */
    CHECK_STR_EQ(osr_buf_str(&b), "hello ");
    CHECK_INT_EQ(b.len, 6);
    CHECK_INT_EQ(osr_buf_append(&b, "worl", 4), OSR_OK); /* exactly 10 */
    CHECK_STR_EQ(osr_buf_str(&b), "hello worl");
    CHECK_INT_EQ(osr_buf_putc(&b, 'd'), OSR_ETOOBIG);
    CHECK_INT_EQ(osr_buf_appendf(&b, "%d", 1), OSR_ETOOBIG);
    CHECK_STR_EQ(osr_buf_str(&b), "hello worl");
    CHECK(b.cap <= b.max + 1); /* never allocates past the cap */
    osr_buf_reset(&b);
    CHECK_INT_EQ(b.len, 0);
    CHECK_STR_EQ(osr_buf_str(&b), "");
    CHECK_INT_EQ(osr_buf_puts(&b, "0123456789"), OSR_OK);
    osr_buf_release(&b);
}

static void test_zero_cap(void)
{
    struct osr_buf b;
    osr_buf_init(&b, 0);
    CHECK_INT_EQ(osr_buf_putc(&b, 'x'), OSR_ETOOBIG);
    CHECK_INT_EQ(osr_buf_append(&b, "", 0), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), "");
    osr_buf_release(&b);
}

static void test_binary(void)
{
    struct osr_buf b;
    osr_buf_init(&b, 100);
    CHECK_INT_EQ(osr_buf_append(&b, "a\0b", 3), OSR_OK);
    CHECK_INT_EQ(b.len, 3);
    CHECK(memcmp(b.data, "a\0b", 4) == 0); /* NUL-terminated after the 3 bytes */
    osr_buf_release(&b);
}

static void test_growth(void)
{
    struct osr_buf b;
    osr_buf_init(&b, 1u << 20);
    int ok = 1;
    for (int i = 0; i < 10000; i++)
        ok &= osr_buf_appendf(&b, "%04d,", i % 10000) == OSR_OK;
    CHECK(ok);
    CHECK_INT_EQ(b.len, 50000);
    CHECK(strncmp(b.data, "0000,0001,0002,", 15) == 0);
    CHECK(strcmp(b.data + b.len - 5, "9999,") == 0);
    CHECK(b.cap >= b.len + 1);
    osr_buf_release(&b);
}

static void test_appendf_large(void)
{
    /* Larger than the 256-byte stack buffer vappendf tries first. */
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct osr_buf b;
    osr_buf_init(&b, 5000);
    CHECK_INT_EQ(osr_buf_puts(&b, "<"), OSR_OK);
    CHECK_INT_EQ(osr_buf_appendf(&b, "%s|%d", big, 42), OSR_OK);
    CHECK_INT_EQ(b.len, 1 + 2999 + 3);
    CHECK_INT_EQ(strlen(b.data), b.len);
    CHECK(b.data[0] == '<' && b.data[1] == 'x' && b.data[2999] == 'x');
    CHECK_STR_EQ(b.data + 3000, "|42");
    /* Too big for what is left: nothing appended. */
    CHECK_INT_EQ(osr_buf_appendf(&b, "%s", big), OSR_ETOOBIG);
    CHECK_INT_EQ(b.len, 3003);
    CHECK_STR_EQ(b.data + 3000, "|42");
    osr_buf_release(&b);
}

static void test_appendf_exact_cap(void)
{
    char s[300];
    memset(s, 'y', 299);
    s[299] = '\0';
    struct osr_buf b;
    osr_buf_init(&b, 299);
    CHECK_INT_EQ(osr_buf_appendf(&b, "%s", s), OSR_OK);
    CHECK_INT_EQ(b.len, 299);
    CHECK_INT_EQ(strlen(osr_buf_str(&b)), 299);
    osr_buf_release(&b);
    osr_buf_init(&b, 298);
    CHECK_INT_EQ(osr_buf_appendf(&b, "%s", s), OSR_ETOOBIG);
    CHECK_INT_EQ(b.len, 0);
    CHECK_STR_EQ(osr_buf_str(&b), "");
    osr_buf_release(&b);
}

static void test_detach(void)
{
    struct osr_buf b;
    osr_buf_init(&b, 64);
    size_t len = 99;
    char *s = osr_buf_detach(&b, &len); /* never appended: still a real string */
    REQUIRE(s != NULL);
    CHECK_STR_EQ(s, "");
    CHECK_INT_EQ(len, 0);
    free(s);

    CHECK_INT_EQ(osr_buf_puts(&b, "abc"), OSR_OK);
    s = osr_buf_detach(&b, &len);
    CHECK_STR_EQ(s, "abc");
    CHECK_INT_EQ(len, 3);
    CHECK(b.data == NULL);
    CHECK_INT_EQ(b.len, 0);
    CHECK_INT_EQ(b.max, 64); /* the cap survives: the buffer is reusable */
    CHECK_INT_EQ(osr_buf_puts(&b, "def"), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), "def");
    free(s);
    s = osr_buf_detach(&b, NULL);
    CHECK_STR_EQ(s, "def");
    free(s);
    osr_buf_release(&b);
}

static void test_huge_request(void)
{
    struct osr_buf b;
    osr_buf_init(&b, SIZE_MAX);
    CHECK_INT_EQ(osr_buf_puts(&b, "ab"), OSR_OK);
    /* A length that cannot be allocated must fail cleanly, not wrap around. */
    int rc = osr_buf_append(&b, "", SIZE_MAX - 1);
    CHECK(rc == OSR_ETOOBIG || rc == OSR_ENOMEM);
    CHECK_STR_EQ(osr_buf_str(&b), "ab");
    osr_buf_release(&b);
}

TEST_MAIN(test_empty, test_append_and_cap, test_zero_cap, test_binary, test_growth,
          test_appendf_large, test_appendf_exact_cap, test_detach, test_huge_request)
