/* test_providers_cmd.c - `osaurus providers` run in-process (in a forked child with stdin,
 * stdout and stderr redirected) over a temporary home and the fake upstream of
 * providers/fake_upstream.h: add (presets, flags, refusals, a key from stdin into the
 * encrypted store), list (never the key), test (model count with the key sent, upstream
 * errors), remove (secret deleted too), unknown fields kept, and the proxy setting, checked
 * with a one-request HTTP proxy written here. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "check.h"
#include "osr/cli.h"
#include "osr/cli_providers.h"
#include "osr/json.h"
#include "osr/secrets.h"
#include "providers/fake_upstream.h"

struct run {
    int code;
    char out[1 << 16];
    char err[8192];
};

static struct run r;
static char home[256];
static char port_s[16];

static void slurp_fd(int fd, char *buf, size_t cap)
{
    lseek(fd, 0, SEEK_SET);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
}

/* Runs `providers <args> --home <home>` with stdin_text (or nothing) on standard input. */
static int run_providers(const char *stdin_text, const char *a0, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"providers";
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && argc < 29; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc++] = (char *)"--home";
    argv[argc++] = home;
    argv[argc] = NULL;
    char in_t[] = "/tmp/osr_prov_inXXXXXX", out_t[] = "/tmp/osr_prov_outXXXXXX",
         err_t[] = "/tmp/osr_prov_errXXXXXX";
    int in = mkstemp(in_t), out = mkstemp(out_t), err = mkstemp(err_t);
    if (in < 0 || out < 0 || err < 0) {
        CHECK(!"mkstemp failed");
        return -1;
    }
    unlink(in_t);
    unlink(out_t);
    unlink(err_t);
    if (stdin_text)
        CHECK(write(in, stdin_text, strlen(stdin_text)) == (ssize_t)strlen(stdin_text));
    lseek(in, 0, SEEK_SET);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        int code = osr_cmd_providers(argc, argv);
        fflush(stdout);
        fflush(stderr);
        _exit(code);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp_fd(out, r.out, sizeof(r.out));
    slurp_fd(err, r.err, sizeof(r.err));
    close(in);
    close(out);
    close(err);
    return r.code;
}

static char *read_remote(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/providers/remote.json", home);
    char *text = NULL;
    size_t len = 0;
    if (osr_read_file(path, 1 << 20, &text, &len, NULL) != OSR_OK)
        return NULL;
    return text;
}

static void test_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr_prov_cmd_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(home) != NULL);
    /* The tests decide where requests go, not the environment. */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    (void)fake_last_body;
    fake_start();
    snprintf(port_s, sizeof(port_s), "%d", fake.port);
}

static void test_usage(void)
{
    CHECK_INT_EQ(run_providers(NULL, NULL), OSR_EXIT_USAGE);
    CHECK_INT_EQ(run_providers(NULL, "frob", NULL), OSR_EXIT_USAGE);
    CHECK(strstr(r.err, "unknown subcommand 'frob'") != NULL);
    CHECK_INT_EQ(run_providers(NULL, "--help", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "--api-key-stdin") != NULL);
    CHECK_INT_EQ(run_providers(NULL, "list", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "no providers") != NULL);
    /* Refusals: nothing to go on, an unknown preset or type, a bad port. */
    CHECK_INT_EQ(run_providers(NULL, "add", NULL), OSR_EXIT_USAGE);
    CHECK_INT_EQ(run_providers(NULL, "add", "--preset", "nope", NULL), OSR_EXIT_USAGE);
    CHECK(strstr(r.err, "unknown preset 'nope'") != NULL);
    CHECK_INT_EQ(run_providers(NULL, "add", "--id", "x", "--type", "bogus", "--host", "h", NULL),
                 OSR_EXIT_USAGE);
    CHECK(strstr(r.err, "providerType") != NULL);
    CHECK_INT_EQ(run_providers(NULL, "add", "--preset", "openai", "--port", "70000", NULL),
                 OSR_EXIT_USAGE);
    CHECK_INT_EQ(run_providers(NULL, "add", "--id", "a/b", "--type", "openai", "--host", "h", NULL),
                 OSR_EXIT_USAGE);
    CHECK_INT_EQ(run_providers(NULL, "remove", "ghost", NULL), OSR_EXIT_FAILURE);
    CHECK_INT_EQ(run_providers(NULL, "test", "ghost", NULL), OSR_EXIT_FAILURE);
    /* Nothing was written by the refusals. */
    char *text = read_remote();
    CHECK(text == NULL);
    free(text);
}

static void test_add_list_test_remove(void)
{
    /* A preset keeps its URL; an unknown field of the file survives every rewrite. */
    char path[512];
    snprintf(path, sizeof(path), "%s/providers", home);
    REQUIRE(osr_mkdir_p(path, 0700, NULL) == OSR_OK);
    snprintf(path, sizeof(path), "%s/providers/remote.json", home);
    const char *seed = "{\"providers\":[],\"futureSetting\":{\"keep\":true}}";
    REQUIRE(osr_write_file_atomic(path, seed, strlen(seed), 0644, NULL) == OSR_OK);

    CHECK_INT_EQ(run_providers(NULL, "add", "--preset", "deepseek", NULL), OSR_EXIT_OK);
    CHECK_INT_EQ(run_providers("sk-fake-123\n", "add", "--id", "fake", "--type", "openai", "--host",
                               "127.0.0.1", "--http", "--port", port_s, "--base-path", "",
                               "--api-key-stdin", NULL),
                 OSR_EXIT_OK);
    CHECK(strstr(r.out, "key stored") != NULL);
    CHECK_INT_EQ(run_providers(NULL, "add", "--preset", "deepseek", NULL), OSR_EXIT_FAILURE);
    CHECK(strstr(r.err, "exists already") != NULL);
    /* An empty key is refused and adds nothing. */
    CHECK_INT_EQ(run_providers("\n", "add", "--preset", "xai", "--api-key-stdin", NULL),
                 OSR_EXIT_USAGE);

    char *text = read_remote();
    REQUIRE(text);
    CHECK(strstr(text, "futureSetting") != NULL);
    CHECK(strstr(text, "api.deepseek.com") != NULL);
    CHECK(strstr(text, "sk-fake") == NULL); /* the key is not in remote.json */
    CHECK(strstr(text, "api.x.ai") == NULL);
    free(text);

    /* The key is in the encrypted store, as {"apiKey": ...}. */
    struct osr_secrets *s = NULL;
    char *val = NULL;
    REQUIRE(osr_secrets_open(&s, home, NULL) == OSR_OK);
    REQUIRE(osr_secrets_get(s, "provider", "fake", &val, NULL) == OSR_OK);
    CHECK_STR_EQ(val, "{\"apiKey\":\"sk-fake-123\"}");
    free(val);
    osr_secrets_close(s);

    CHECK_INT_EQ(run_providers(NULL, "list", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "https://api.deepseek.com/v1") != NULL);
    CHECK(strstr(r.out, "stored") != NULL);
    CHECK(strstr(r.out, "sk-fake") == NULL);
    CHECK_INT_EQ(run_providers(NULL, "list", "--json", NULL), OSR_EXIT_OK);
    struct json_object *o = NULL;
    REQUIRE(osr_json_parse(r.out, strlen(r.out), &o, NULL) == OSR_OK);
    struct json_object *arr = NULL, *e, *v;
    REQUIRE(json_object_object_get_ex(o, "providers", &arr) && json_object_array_length(arr) == 2);
    e = json_object_array_get_idx(arr, 1);
    CHECK(json_object_object_get_ex(e, "key_stored", &v) && json_object_get_boolean(v));
    e = json_object_array_get_idx(arr, 0);
    CHECK(json_object_object_get_ex(e, "key_stored", &v) && !json_object_get_boolean(v));
    CHECK(json_object_object_get_ex(e, "type", &v) &&
          strcmp(json_object_get_string(v), "openai") == 0);
    json_object_put(o);

    /* test: the fake lists two models, and saw our key. */
    CHECK_INT_EQ(run_providers(NULL, "test", "fake", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "2 model(s)") != NULL);
    CHECK(strstr(r.out, "fake/text-a") != NULL);
    pthread_mutex_lock(&fake.lock);
    CHECK_STR_EQ(fake.last_auth, "Bearer sk-fake-123");
    CHECK_STR_EQ(fake.last_path, "/models");
    pthread_mutex_unlock(&fake.lock);

    /* test: an upstream error is shown with its status. */
    CHECK_INT_EQ(run_providers(NULL, "add", "--id", "wrong", "--type", "openai", "--host",
                               "127.0.0.1", "--http", "--port", port_s, "--base-path", "/nothing",
                               NULL),
                 OSR_EXIT_OK);
    CHECK_INT_EQ(run_providers(NULL, "test", "wrong", NULL), OSR_EXIT_FAILURE);
    CHECK(strstr(r.err, "answered 404") != NULL);

    /* remove takes the secret with it. */
    CHECK_INT_EQ(run_providers(NULL, "remove", "fake", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "stored secrets") != NULL);
    REQUIRE(osr_secrets_open(&s, home, NULL) == OSR_OK);
    CHECK_INT_EQ(osr_secrets_get(s, "provider", "fake", &val, NULL), OSR_ENOTFOUND);
    osr_secrets_close(s);
    text = read_remote();
    REQUIRE(text);
    CHECK(strstr(text, "\"fake\"") == NULL);
    CHECK(strstr(text, "futureSetting") != NULL);
    free(text);
    CHECK_INT_EQ(run_providers(NULL, "remove", "wrong", NULL), OSR_EXIT_OK);
}

/* ---- a one-connection HTTP proxy that answers itself and records the request line ---------- */

struct mini_proxy {
    int fd;
    int port;
    pthread_t th;
    char request_line[512];
};

static void *proxy_main(void *arg)
{
    struct mini_proxy *p = arg;
    int c = accept(p->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    char buf[8192];
    size_t n = 0;
    ssize_t k;
    while (n + 1 < sizeof(buf) && (k = read(c, buf + n, sizeof(buf) - 1 - n)) > 0) {
        n += (size_t)k;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    buf[n] = '\0';
    char *eol = strstr(buf, "\r\n");
    if (eol)
        *eol = '\0';
    snprintf(p->request_line, sizeof(p->request_line), "%.511s", buf);
    const char *body = "{\"object\":\"list\",\"data\":[{\"id\":\"via-proxy\"}]}";
    char resp[512];
    int len = snprintf(resp, sizeof(resp),
                       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                       strlen(body), body);
    if (write(c, resp, (size_t)len) != len)
        perror("proxy write");
    close(c);
    return NULL;
}

static void proxy_start(struct mini_proxy *p)
{
    memset(p, 0, sizeof(*p));
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(p->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    REQUIRE(bind(p->fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    REQUIRE(listen(p->fd, 4) == 0);
    socklen_t al = sizeof(a);
    REQUIRE(getsockname(p->fd, (struct sockaddr *)&a, &al) == 0);
    p->port = ntohs(a.sin_port);
    REQUIRE(pthread_create(&p->th, NULL, proxy_main, p) == 0);
}

static void test_proxy(void)
{
    CHECK_INT_EQ(run_providers(NULL, "proxy", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "no proxy set") != NULL);
    CHECK_INT_EQ(run_providers(NULL, "proxy", "ftp://x", NULL), OSR_EXIT_USAGE);
    CHECK_INT_EQ(run_providers(NULL, "proxy", "http://", NULL), OSR_EXIT_USAGE);

    CHECK_INT_EQ(run_providers(NULL, "add", "--id", "viaproxy", "--type", "openai", "--host",
                               "127.0.0.1", "--http", "--port", port_s, "--base-path", "/v9", NULL),
                 OSR_EXIT_OK);
    struct mini_proxy px;
    proxy_start(&px);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", px.port);
    CHECK_INT_EQ(run_providers(NULL, "proxy", url, NULL), OSR_EXIT_OK);
    CHECK_INT_EQ(run_providers(NULL, "proxy", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, url) != NULL);
    CHECK_INT_EQ(run_providers(NULL, "list", NULL), OSR_EXIT_OK);
    CHECK(strstr(r.out, "proxy: http://127.0.0.1:") != NULL);

    /* The setting wins over no_proxy in the environment. */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    int before = atomic_load(&fake.requests);
    CHECK_INT_EQ(run_providers(NULL, "test", "viaproxy", NULL), OSR_EXIT_OK);
    unsetenv("no_proxy");
    pthread_join(px.th, NULL);
    close(px.fd);
    CHECK(strstr(r.out, "viaproxy/via-proxy") != NULL);
    char want[128];
    snprintf(want, sizeof(want), "GET http://127.0.0.1:%d/v9/models HTTP/1.1", fake.port);
    CHECK_STR_EQ(px.request_line, want);
    CHECK_INT_EQ(atomic_load(&fake.requests), before); /* the upstream was not asked directly */

    /* A malformed proxy in the file makes it unusable, with the reason. */
    char *text = read_remote();
    REQUIRE(text);
    CHECK(strstr(text, "\"proxy\"") != NULL);
    free(text);
    CHECK_INT_EQ(run_providers(NULL, "proxy", "--clear", NULL), OSR_EXIT_OK);
    text = read_remote();
    REQUIRE(text);
    CHECK(strstr(text, "\"proxy\"") == NULL);
    free(text);
    char path[512];
    snprintf(path, sizeof(path), "%s/providers/remote.json", home);
    const char *bad = "{\"providers\":[],\"proxy\":\"gopher://x\"}";
    REQUIRE(osr_write_file_atomic(path, bad, strlen(bad), 0644, NULL) == OSR_OK);
    CHECK_INT_EQ(run_providers(NULL, "list", NULL), OSR_EXIT_CONFIG);
    CHECK(strstr(r.err, "proxy 'gopher://x' must start with") != NULL);
}

static void test_teardown(void)
{
    fake_stop();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK_INT_EQ(system(cmd), 0);
}

TEST_MAIN(test_setup, test_usage, test_add_list_test_remove, test_proxy, test_teardown)
