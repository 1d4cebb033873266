/* str.h - pointer+length string views.
 *
 * A view borrows its bytes; it is valid for as long as the memory it points into.
 *
 * Thread rules: pure functions, thread-safe.
 */
#ifndef OSR_STR_H
#define OSR_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct osr_str {
    const char *p;
    size_t n;
};

#define OSR_STR_LIT(s) ((struct osr_str){(s), sizeof(s) - 1})

static inline struct osr_str osr_str_make(const char *p, size_t n)
{
    return (struct osr_str){p, n};
}

static inline struct osr_str osr_str_cstr(const char *s)
{
    return (struct osr_str){s, s ? strlen(s) : 0};
}

bool osr_str_eq(struct osr_str a, struct osr_str b);
bool osr_str_eq_cstr(struct osr_str a, const char *s);
bool osr_str_case_eq(struct osr_str a, struct osr_str b);
bool osr_str_has_prefix(struct osr_str s, struct osr_str prefix);
bool osr_str_has_suffix(struct osr_str s, struct osr_str suffix);
/* Returns the view with leading and trailing ASCII whitespace removed. */
struct osr_str osr_str_trim(struct osr_str s);
/* Splits s at the first occurrence of sep: *head gets what is before it, the return value what
 * is after.  When sep is absent *head is s and the return value is empty with p == NULL. */
struct osr_str osr_str_split(struct osr_str s, char sep, struct osr_str *head);
/* Parses a whole view as a decimal integer in [min, max]; returns false otherwise. */
bool osr_str_to_ll(struct osr_str s, long long min, long long max, long long *out);

#endif
