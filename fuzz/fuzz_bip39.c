/* fuzz_bip39.c - BIP39 phrase decoding on arbitrary text (the `identity recover` input).
 *
 * Whatever decodes must encode back to a phrase that decodes to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/bip39.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 4096)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    /* the first byte picks the word count: 12, 15, 18, 21 or 24 (and sometimes a bad one) */
    static const size_t counts[] = {12, 15, 18, 21, 24, 24, 24, 13};
    size_t words = counts[data[0] % 8];
    uint8_t ent[32], back[32];
    char phrase[OSR_BIP39_PHRASE_MAX];
    struct osr_diag d = {0};
    if (osr_bip39_decode(text, words, ent, &d) == OSR_OK) {
        size_t n = words * 4 / 3;
        if (osr_bip39_encode(ent, n, phrase) != OSR_OK)
            abort();
        if (osr_bip39_decode(phrase, words, back, NULL) != OSR_OK || memcmp(ent, back, n) != 0)
            abort();
    } else if (d.msg[0] == 0) {
        abort(); /* every refusal says why */
    }
    free(text);
    return 0;
}
