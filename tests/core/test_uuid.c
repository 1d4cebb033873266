/* test_uuid.c - random bytes, version-4 UUIDs, random ids. */
#include <ctype.h>
#include <string.h>

#include "check.h"
#include "osr/err.h"
#include "osr/uuid.h"

static void test_random_bytes(void)
{
    unsigned char a[32], b[32];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    CHECK_INT_EQ(osr_random_bytes(a, sizeof(a)), OSR_OK);
    CHECK_INT_EQ(osr_random_bytes(b, sizeof(b)), OSR_OK);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK_INT_EQ(osr_random_bytes(a, 0), OSR_OK);
    static unsigned char big[1 << 20]; /* more than one getrandom call may return */
    CHECK_INT_EQ(osr_random_bytes(big, sizeof(big)), OSR_OK);
    size_t zeros = 0;
    for (size_t i = 0; i < sizeof(big); i++)
        zeros += big[i] == 0;
    CHECK(zeros < sizeof(big) / 64); /* ~1/256 expected */
}

static void test_v4(void)
{
    char seen[50][OSR_UUID_STRLEN + 1];
    int ok_format = 1, ok_unique = 1;
    for (int k = 0; k < 50; k++) {
        char *u = seen[k];
        memset(u, 'Z', OSR_UUID_STRLEN + 1);
        osr_uuid_v4(u);
        ok_format &= strlen(u) == OSR_UUID_STRLEN;
        ok_format &= osr_uuid_is_valid(u);
        ok_format &= u[14] == '4';                  /* version */
        ok_format &= strchr("89ab", u[19]) != NULL; /* RFC 4122 variant */
        for (int i = 0; i < OSR_UUID_STRLEN; i++)
            ok_format &= !isupper((unsigned char)u[i]);
        for (int j = 0; j < k; j++)
            ok_unique &= strcmp(seen[j], u) != 0;
    }
    CHECK(ok_format);
    CHECK(ok_unique);
}

static void test_is_valid(void)
{
    CHECK(osr_uuid_is_valid("123e4567-e89b-12d3-a456-426614174000"));
    CHECK(osr_uuid_is_valid("123E4567-E89B-12D3-A456-426614174000"));
    CHECK(!osr_uuid_is_valid(NULL));
    CHECK(!osr_uuid_is_valid(""));
    CHECK(!osr_uuid_is_valid("123e4567e89b12d3a456426614174000"));
    CHECK(!osr_uuid_is_valid("123e4567-e89b-12d3-a456-42661417400"));
    CHECK(!osr_uuid_is_valid("123e4567-e89b-12d3-a456-4266141740000"));
    CHECK(!osr_uuid_is_valid("123e4567-e89b-12d3-a456_426614174000"));
    CHECK(!osr_uuid_is_valid("123e4567-e89b-12d3-a456-42661417400g"));
    CHECK(!osr_uuid_is_valid("{23e4567-e89b-12d3-a456-42661417400}"));
    CHECK(!osr_uuid_is_valid("123e4567-e89b-12d3-a456-426614174000\n"));
}

static void test_random_id(void)
{
    char out[64];
    osr_random_id(out, sizeof(out), "chatcmpl-", 12, 1);
    CHECK_INT_EQ(strlen(out), 9 + 12);
    CHECK(strncmp(out, "chatcmpl-", 9) == 0);
    int upper_ok = 1;
    for (size_t i = 9; i < strlen(out); i++)
        upper_ok &= isdigit((unsigned char)out[i]) || (out[i] >= 'A' && out[i] <= 'F');
    CHECK(upper_ok);

    osr_random_id(out, sizeof(out), "call_", 24, 0);
    CHECK_INT_EQ(strlen(out), 5 + 24);
    int lower_ok = 1;
    for (size_t i = 5; i < strlen(out); i++)
        lower_ok &= isdigit((unsigned char)out[i]) || (out[i] >= 'a' && out[i] <= 'f');
    CHECK(lower_ok);

    /* Odd digit counts, no prefix, and more digits than one random chunk covers. */
    static char big[400];
    osr_random_id(big, sizeof(big), "", 301, 0);
    CHECK_INT_EQ(strlen(big), 301);

    /* Truncation: never past cap, always terminated. */
    char small[8];
    memset(small, 'Z', sizeof(small));
    osr_random_id(small, sizeof(small), "abc", 10, 0);
    CHECK_INT_EQ(strlen(small), 7);
    CHECK(strncmp(small, "abc", 3) == 0);
    osr_random_id(small, sizeof(small), "longprefix", 4, 0);
    CHECK_STR_EQ(small, "longpre");
    osr_random_id(small, 1, "x", 4, 0);
    CHECK_STR_EQ(small, "");

    char a[32], b[32];
    osr_random_id(a, sizeof(a), "", 16, 0);
    osr_random_id(b, sizeof(b), "", 16, 0);
    CHECK(strcmp(a, b) != 0);
}

TEST_MAIN(test_random_bytes, test_v4, test_is_valid, test_random_id)
