/* uuid.h - random identifiers.
 *
 * Thread rules: thread-safe.
 */
#ifndef OSR_UUID_H
#define OSR_UUID_H

#include <stddef.h>

#define OSR_UUID_STRLEN 36

/* Fills n bytes from the kernel's CSPRNG (getrandom).  Returns OSR_OK or OSR_EIO. */
int osr_random_bytes(void *out, size_t n);

/* Writes a random RFC 4122 version-4 UUID, lower case, NUL-terminated, into out. */
void osr_uuid_v4(char out[OSR_UUID_STRLEN + 1]);

/* Returns true when s is a UUID in the 8-4-4-4-12 hex layout (either case). */
int osr_uuid_is_valid(const char *s);

/* Writes prefix followed by n random hex digits (upper or lower case) into out (of size cap);
 * e.g. ("chatcmpl-", 12, upper) -> "chatcmpl-3F0A9C11B2D4".  Truncates to fit. */
void osr_random_id(char *out, size_t cap, const char *prefix, size_t n, int upper);

#endif
