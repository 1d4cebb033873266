/* api_openai_completions.h - OpenAI legacy text completions (/v1/completions): decoding.
 *
 * The encoder is osr_api_encoder_new(OSR_API_OPENAI_COMPLETIONS, ...) (api.h).  Code-completion
 * clients use this route for fill-in-the-middle: the prompt becomes one user message with
 * x.raw set (no chat template) and "suffix" goes to x.suffix.
 *
 * Thread rules: reentrant.
 */
#ifndef OSR_API_OPENAI_COMPLETIONS_H
#define OSR_API_OPENAI_COMPLETIONS_H

#include <stddef.h>

#include "osr/api.h"
#include "osr/chat.h"

/* OpenAI's default completion budget when max_tokens is absent. */
#define OSR_COMPLETIONS_DEFAULT_MAX_TOKENS 16

/* Decodes a Completions body into req (initialized by the caller; the caller releases it in
 * every case).  Returns OSR_OK, or an error with err filled. */
int osr_openai_completions_decode(struct osr_chat_request *req, const char *body, size_t n,
                                  struct osr_api_error *err);

#endif
