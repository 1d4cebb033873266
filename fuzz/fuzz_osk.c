/* fuzz_osk.c - the osk-v1 parser and validator on untrusted bytes.
 *
 * Two modes chosen by the first byte: the rest taken as a whole token (format, base64url and
 * hex handling), or the rest taken as payload JSON that is signed with a fixed key and wrapped
 * into a well-formed token (JSON decoding, field types, the scope, whitelist, revocation and
 * expiry checks).  A valid verdict must name the signer as issuer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osr/buf.h"
#include "osr/codec.h"
#include "osr/identity.h"
#include "osr/osk.h"

#define MASTER_ADDR "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"

static void check_result(const struct osr_osk_result *r, int rc)
{
    if ((rc == 0) != (r->status == OSR_OSK_VALID))
        abort();
    if (r->status == OSR_OSK_INVALID && !r->reason)
        abort();
    if (r->status == OSR_OSK_VALID &&
        (!r->decoded || !osr_identity_address_equal(r->issuer, r->payload.iss)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const agents[] = {"0x116dEBfc9F970f677B71e7E2566Cc1BDE34e7d89"};
    static const struct osr_osk_revoked revoked[] = {{MASTER_ADDR, "n"}};
    static const struct osr_osk_threshold thresholds[] = {
        {"0x116dEBfc9F970f677B71e7E2566Cc1BDE34e7d89", 3},
    };
    const struct osr_osk_ctx ctx = {
        .master_address = MASTER_ADDR,
        .agent_addresses = agents,
        .n_agent_addresses = 1,
        .revoked = revoked,
        .n_revoked = 1,
        .thresholds = thresholds,
        .n_thresholds = 1,
        .now = 1764633600,
    };
    if (size == 0)
        return 0;
    struct osr_osk_result r;
    if (data[0] & 1) {
        int rc = osr_osk_verify((const char *)data + 1, size - 1, &ctx, &r);
        check_result(&r, rc);
        osr_osk_result_release(&r);
        return 0;
    }

    uint8_t master[32], sig[65];
    memset(master, 0x01, sizeof(master));
    struct osr_buf tok;
    osr_buf_init(&tok, OSR_OSK_MAX_LEN + 1024);
    if (osr_identity_sign(master, OSR_SIG_ACCESS, data + 1, size - 1, sig) != 0)
        abort();
    int ok = osr_buf_puts(&tok, "osk-v1.") == 0 &&
             osr_base64_encode(&tok, data + 1, size - 1, OSR_B64_URL) == 0 &&
             osr_buf_putc(&tok, '.') == 0 && osr_hex_encode(&tok, sig, sizeof(sig)) == 0;
    if (ok) {
        int rc = osr_osk_verify(tok.data, tok.len, &ctx, &r);
        check_result(&r, rc);
        /* a well-formed token never fails on encoding (an empty payload piece is skipped
         * by the split, as in the original, so it is not well-formed) */
        if (r.status == OSR_OSK_INVALID && size > 1 && tok.len <= OSR_OSK_MAX_LEN &&
            (strcmp(r.reason, "Unrecognized token format") == 0 ||
             strcmp(r.reason, "Invalid payload encoding") == 0 ||
             strcmp(r.reason, "Invalid signature encoding") == 0))
            abort();
        osr_osk_result_release(&r);
    }
    osr_buf_release(&tok);
    return 0;
}
