/* local_client.c - the command line's one way to talk to the local server (libcurl, easy
 * interface: one short request at a time is all the CLI needs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "osr/config.h"
#include "osr/discovery.h"
#include "osr/local_client.h"
#include "osr/str.h"

int osr_local_port(const char *home, bool *running)
{
    struct osr_instance inst;
    if (osr_discovery_find(home, &inst) == OSR_OK && inst.port > 0) {
        if (running)
            *running = true;
        return inst.port;
    }
    if (running)
        *running = false;
    struct osr_server_config cfg;
    osr_server_config_defaults(&cfg);
    osr_server_config_load(&cfg, home, NULL);
    int port = cfg.port;
    osr_server_config_release(&cfg);
    const char *env = getenv("OSU_PORT");
    long long v;
    if (env && *env && osr_str_to_ll(osr_str_cstr(env), 1, 65535, &v))
        port = (int)v;
    return port;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    return osr_buf_append(ud, p, size * n) == OSR_OK ? size * n : 0;
}

int osr_local_call(int port, const char *key, const char *path, const char *body, long timeout_s,
                   long *status, struct osr_buf *out, struct osr_diag *diag)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    if (!c)
        return osr_diag_set(diag, OSR_ENOMEM, "cannot create an HTTP handle");
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[9000];
    if (key && *key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
        hl = curl_slist_append(hl, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode cc = curl_easy_perform(c);
    int rc = OSR_OK;
    if (cc != CURLE_OK)
        rc = osr_diag_set(diag, OSR_EIO, "osaurus server not reachable at 127.0.0.1:%d: %s", port,
                          curl_easy_strerror(cc));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return rc;
}
