/* check.h - the tiny assertion harness every test executable uses.
 *
 * CHECK(cond) records a failure and goes on; REQUIRE(cond) records it and returns from the
 * calling test function.  TEST_MAIN runs the listed functions and ends with the plain line
 * "N passed, M failed" and a non-zero exit when anything failed.
 */
#ifndef OSR_TEST_CHECK_H
#define OSR_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed;
static int check_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: required check failed: %s\n", __FILE__, __LINE__, #cond);      \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) {                             \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: check failed: %s == %s\n  got:  \"%s\"\n  want: \"%s\"\n",     \
                    __FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",                    \
                    check_b_ ? check_b_ : "(null)");                                               \
        }                                                                                          \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ == check_b_) {                                                                \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__,  \
                    #a, #b, check_a_, check_b_);                                                   \
        }                                                                                          \
    } while (0)

typedef void (*check_fn)(void);

static inline int check_run(const char *const *names, const check_fn *fns, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int before = check_failed;
        fns[i]();
        fprintf(stderr, "%-4s %s\n", check_failed == before ? "ok" : "FAIL", names[i]);
    }
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#define TEST_ENTRY(fn) #fn
#define TEST_MAIN(...)                                                                             \
    int main(void)                                                                                 \
    {                                                                                              \
        static const check_fn fns[] = {__VA_ARGS__};                                               \
        static const char *const names_all = #__VA_ARGS__;                                         \
        const char *names[sizeof(fns) / sizeof(fns[0])];                                           \
        static char names_buf[4096];                                                               \
        snprintf(names_buf, sizeof(names_buf), "%s", names_all);                                   \
        size_t k = 0;                                                                              \
        for (char *tok = names_buf; k < sizeof(fns) / sizeof(fns[0]); k++) {                       \
            while (*tok == ' ' || *tok == ',')                                                     \
                tok++;                                                                             \
            names[k] = tok;                                                                        \
            char *comma = strchr(tok, ',');                                                        \
            if (!comma)                                                                            \
                break;                                                                             \
            *comma = '\0';                                                                         \
            tok = comma + 1;                                                                       \
        }                                                                                          \
        for (k++; k < sizeof(fns) / sizeof(fns[0]); k++)                                           \
            names[k] = "?";                                                                        \
        return check_run(names, fns, sizeof(fns) / sizeof(fns[0]));                                \
    }

#endif
