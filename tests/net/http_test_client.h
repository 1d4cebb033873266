/* http_test_client.h - small HTTP helpers for the tests: libcurl for ordinary requests, raw
 * sockets where a test needs to misbehave (stall, hang up, open many connections). */
#ifndef OSR_TEST_HTTP_CLIENT_H
#define OSR_TEST_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "osr/buf.h"

struct test_resp {
    long status;
    struct osr_buf body;
    struct osr_buf headers; /* raw header block, lower-cased names are NOT normalized */
    long connects;          /* new connections curl made for this request */
};

static inline size_t test_collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct osr_buf *b = userdata;
    size_t n = size * nmemb;
    return osr_buf_append(b, ptr, n) == 0 ? n : 0;
}

static inline void test_resp_release(struct test_resp *r)
{
    osr_buf_release(&r->body);
    osr_buf_release(&r->headers);
}

/* Performs one request.  method NULL means GET; body may be NULL; extra_headers is a
 * NULL-terminated list of "Name: value" strings.  curl may be a reused handle or NULL. */
static inline struct test_resp test_request(CURL *reuse, const char *method, const char *url,
                                            const char *body, size_t body_len,
                                            const char *const *extra_headers)
{
    struct test_resp r;
    memset(&r, 0, sizeof(r));
    osr_buf_init(&r.body, 64u * 1024 * 1024);
    osr_buf_init(&r.headers, 1024 * 1024);
    CURL *curl = reuse ? reuse : curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, test_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, test_collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    if (method && strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        if (method && strcmp(method, "POST") != 0)
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    } else if (method && strcmp(method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    struct curl_slist *hl = NULL;
    for (size_t i = 0; extra_headers && extra_headers[i]; i++)
        hl = curl_slist_append(hl, extra_headers[i]);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
    if (curl_easy_perform(curl) == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &r.connects);
    } else {
        r.status = -1;
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hl);
    if (!reuse)
        curl_easy_cleanup(curl);
    return r;
}

/* Returns the value of header name in the raw block (case-insensitive), copied into out. */
static inline const char *test_header(const struct test_resp *r, const char *name, char *out,
                                      size_t cap)
{
    const char *p = osr_buf_str(&r->headers);
    size_t nl = strlen(name);
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(eol - v);
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        p = eol + 2;
    }
    return NULL;
}

static inline int test_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int test_send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until the peer closes, timeout_ms passes with nothing to read, or cap bytes. */
static inline size_t test_read_some(int fd, char *out, size_t cap, int timeout_ms, int *closed)
{
    size_t n = 0;
    *closed = 0;
    while (n + 1 < cap) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) <= 0)
            break;
        ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
        if (r <= 0) {
            *closed = 1;
            break;
        }
        n += (size_t)r;
    }
    out[n] = '\0';
    return n;
}

#endif
