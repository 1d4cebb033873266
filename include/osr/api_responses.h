/* api_responses.h - OpenAI Responses (/v1/responses): decoding.
 *
 * The encoder is osr_api_encoder_new(OSR_API_RESPONSES, ...) (api.h).  previous_response_id is
 * only decoded here (into req->x.previous_response_id); storing and chaining responses is the
 * route handler's business.
 *
 * Thread rules: reentrant.
 */
#ifndef OSR_API_RESPONSES_H
#define OSR_API_RESPONSES_H

#include <stddef.h>

#include "osr/api.h"
#include "osr/chat.h"

/* Decodes a Responses body into req (initialized by the caller; the caller releases it in
 * every case).  "instructions" becomes a leading system message.  Returns OSR_OK, or an
 * error with err filled. */
int osr_responses_decode(struct osr_chat_request *req, const char *body, size_t n,
                         struct osr_api_error *err);

#endif
