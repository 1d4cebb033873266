/* uuid.c - identifiers from the kernel's random source. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "osr/err.h"
#include "osr/uuid.h"

int osr_random_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return OSR_EIO;
        }
        p += got;
        n -= (size_t)got;
    }
    return OSR_OK;
}

void osr_uuid_v4(char out[OSR_UUID_STRLEN + 1])
{
    unsigned char b[16];
    OSR_ASSERT(osr_random_bytes(b, sizeof(b)) == OSR_OK);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, OSR_UUID_STRLEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

int osr_uuid_is_valid(const char *s)
{
    if (!s || strlen(s) != OSR_UUID_STRLEN)
        return 0;
    for (int i = 0; i < OSR_UUID_STRLEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

void osr_random_id(char *out, size_t cap, const char *prefix, size_t n, int upper)
{
    static const char lower_digits[] = "0123456789abcdef";
    static const char upper_digits[] = "0123456789ABCDEF";
    const char *digits = upper ? upper_digits : lower_digits;
    if (cap == 0)
        return;
    size_t plen = strlen(prefix);
    if (plen >= cap)
        plen = cap - 1;
    memcpy(out, prefix, plen);
    size_t room = cap - 1 - plen;
    if (n > room)
        n = room;
    unsigned char rnd[64];
    size_t pos = plen;
    while (n) {
        size_t chunk = n > 2 * sizeof(rnd) ? 2 * sizeof(rnd) : n;
        OSR_ASSERT(osr_random_bytes(rnd, (chunk + 1) / 2) == OSR_OK);
        for (size_t i = 0; i < chunk; i++)
            out[pos++] = digits[(rnd[i / 2] >> ((i & 1) ? 0 : 4)) & 0x0f];
        n -= chunk;
    }
    out[pos] = '\0';
}
