/* api_anthropic.h - Anthropic Messages (/v1/messages, /v1/messages/count_tokens): decoding.
 *
 * The encoder is osr_api_encoder_new(OSR_API_ANTHROPIC, ...) (api.h).
 *
 * Thread rules: reentrant.
 */
#ifndef OSR_API_ANTHROPIC_H
#define OSR_API_ANTHROPIC_H

#include <stddef.h>

#include "osr/api.h"
#include "osr/chat.h"

/* Decodes a Messages body into req (initialized by the caller; the caller releases it in
 * every case).  max_tokens is required.  Returns OSR_OK, or an error with err filled. */
int osr_anthropic_decode(struct osr_chat_request *req, const char *body, size_t n,
                         struct osr_api_error *err);

/* The same for /v1/messages/count_tokens, whose body has no max_tokens. */
int osr_anthropic_decode_count_tokens(struct osr_chat_request *req, const char *body, size_t n,
                                      struct osr_api_error *err);

/* Appends the count_tokens answer {"input_tokens":N} to out. */
int osr_anthropic_count_tokens_body(int64_t input_tokens, struct osr_buf *out);

#endif
