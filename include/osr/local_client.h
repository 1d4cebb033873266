/* local_client.h - how the command line reaches the local server: finding its port and
 * making one HTTP request to 127.0.0.1 (with an access key when the server is exposed).
 *
 * Thread rules: reentrant; the caller has run curl_global_init.
 */
#ifndef OSR_LOCAL_CLIENT_H
#define OSR_LOCAL_CLIENT_H

#include <stdbool.h>

#include "osr/buf.h"
#include "osr/err.h"

/* The port of the server for home: the newest running instance's (discovery files), else the
 * configured one (OSU_PORT, config/server.json, 1337).  *running (may be NULL) says whether a
 * running instance was found. */
int osr_local_port(const char *home, bool *running);

/* One request to http://127.0.0.1:<port><path>: a POST of body (JSON) when body is non-NULL,
 * else a GET; key (may be NULL) goes in `Authorization: Bearer`.  Returns OSR_OK with the HTTP
 * status in *status and the answer appended to out, or OSR_EIO (nothing answered) with diag. */
int osr_local_call(int port, const char *key, const char *path, const char *body, long timeout_s,
                   long *status, struct osr_buf *out, struct osr_diag *diag);

#endif
