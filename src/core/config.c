/* config.c - the home folder, file helpers and server.json.
 *
 * server.json is read over the defaults; fields we know are type- and range-checked, fields we
 * do not know stay in cfg->raw and are written back unchanged, so a file carried over from the
 * original (startAtLogin, hideDockIcon, appearanceMode, ...) survives a round trip.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osr/alloc.h"
#include "osr/buf.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/uuid.h"

#define CONFIG_FILE_MAX (4u * 1024 * 1024)

void osr_server_config_defaults(struct osr_server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = OSR_DEFAULT_PORT;
    cfg->expose = false;
    cfg->threads = 0;
    cfg->single_model = true;
    cfg->backlog = 256;
    cfg->max_body = 32u * 1024 * 1024;
    cfg->max_pairing_body = 64u * 1024;
    cfg->max_connections = 1024;
    cfg->max_connections_per_ip = 512;
    cfg->idle_timeout_s = 60;
    cfg->request_timeout_s = 300;
    cfg->max_header_count = 100;
    cfg->max_header_bytes = 64u * 1024;
}

void osr_server_config_release(struct osr_server_config *cfg)
{
    for (size_t i = 0; i < cfg->n_allowed_origins; i++)
        free(cfg->allowed_origins[i]);
    free(cfg->allowed_origins);
    cfg->allowed_origins = NULL;
    cfg->n_allowed_origins = 0;
    json_object_put(cfg->raw);
    cfg->raw = NULL;
}

char *osr_path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    if (la == 0)
        return osr_xstrdup(b);  /* "" + "x" is "x", not the absolute "/x" */
    int sep = a[la - 1] != '/'; /* a is "/" */
    size_t lb = strlen(b);
    char *p = osr_xmalloc(la + 1 + lb + 1);
    memcpy(p, a, la);
    if (sep)
        p[la] = '/';
    memcpy(p + la + (size_t)sep, b, lb + 1);
    return p;
}

char *osr_home_resolve(const char *explicit_home)
{
    if (explicit_home && *explicit_home)
        return osr_xstrdup(explicit_home);
    const char *env = getenv("OSAURUS_HOME");
    if (env && *env)
        return osr_xstrdup(env);
    const char *home = getenv("HOME");
    if (home && *home)
        return osr_path_join(home, ".osaurus");
    /* A daemon started without HOME: ask the user database before falling back to ".". */
    struct passwd pw, *found = NULL;
    char pwbuf[4096];
    if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found && found->pw_dir &&
        *found->pw_dir)
        return osr_path_join(found->pw_dir, ".osaurus");
    return osr_path_join(".", ".osaurus");
}

/* mkdir that treats an existing directory as success and anything else in the way as an
 * error. */
static int mkdir_one(const char *path, unsigned mode, struct osr_diag *diag)
{
    if (mkdir(path, mode) == 0)
        return OSR_OK;
    int err = errno;
    struct stat st;
    if (err == EEXIST) {
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return OSR_OK;
        err = ENOTDIR;
    }
    return osr_diag_set(diag, OSR_EIO, "cannot create '%s': %s", path, strerror(err));
}

int osr_mkdir_p(const char *path, unsigned mode, struct osr_diag *diag)
{
    if (!*path)
        return osr_diag_set(diag, OSR_EIO, "cannot create '': empty path");
    char *p = osr_xstrdup(path);
    int rc = OSR_OK;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        if (s[-1] == '/') { /* "a//b" or a trailing slash: nothing new to create */
            if (*s == '\0')
                break;
            continue;
        }
        char saved = *s;
        *s = '\0';
        rc = mkdir_one(p, mode, diag);
        *s = saved;
        if (rc || saved == '\0')
            break;
    }
    free(p);
    return rc;
}

int osr_write_file_atomic(const char *path, const void *data, size_t n, unsigned mode,
                          struct osr_diag *diag)
{
    struct osr_buf tmp;
    osr_buf_init(&tmp, PATH_MAX);
    int rc = OSR_OK;
    int fd = -1;
    /* A random suffix and O_EXCL: two writers of the same file (threads or processes) never
     * share a temp file, and a stale one from a crash is never reused. */
    for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
        char suffix[16];
        osr_random_id(suffix, sizeof(suffix), "", 12, 0);
        osr_buf_reset(&tmp);
        if (osr_buf_appendf(&tmp, "%s.tmp-%s", path, suffix)) {
            rc = osr_diag_set(diag, OSR_ETOOBIG, "path too long: '%s'", path);
            goto out;
        }
        fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0 && errno != EEXIST) {
            rc = osr_diag_set(diag, OSR_EIO, "cannot create '%s': %s", tmp.data, strerror(errno));
            goto out;
        }
    }
    if (fd < 0) {
        rc = osr_diag_set(diag, OSR_EIO, "cannot create a temporary file beside '%s'", path);
        goto out;
    }
    const char *p = data;
    size_t left = n;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = osr_diag_set(diag, OSR_EIO, "cannot write '%s': %s", tmp.data, strerror(errno));
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (!rc && fsync(fd) != 0)
        rc = osr_diag_set(diag, OSR_EIO, "cannot sync '%s': %s", tmp.data, strerror(errno));
    if (close(fd) != 0 && !rc)
        rc = osr_diag_set(diag, OSR_EIO, "cannot close '%s': %s", tmp.data, strerror(errno));
    if (!rc && rename(tmp.data, path) != 0)
        rc = osr_diag_set(diag, OSR_EIO, "cannot rename '%s' to '%s': %s", tmp.data, path,
                          strerror(errno));
    if (rc) {
        unlink(tmp.data);
        goto out;
    }
    /* Make the rename itself durable. */
    char *dir = osr_xstrdup(path);
    char *slash = strrchr(dir, '/');
    const char *dpath = ".";
    if (slash) {
        *slash = '\0';
        dpath = *dir ? dir : "/";
    }
    int dfd = open(dpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
out:
    osr_buf_release(&tmp);
    return rc;
}

int osr_read_file(const char *path, size_t max, char **out, size_t *len, struct osr_diag *diag)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return osr_diag_set(diag, OSR_ENOTFOUND, "cannot open '%s': %s", path, strerror(errno));
        return osr_diag_set(diag, OSR_EIO, "cannot open '%s': %s", path, strerror(errno));
    }
    struct osr_buf b;
    osr_buf_init(&b, max);
    char chunk[8192];
    int rc = OSR_OK;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = osr_diag_set(diag, OSR_EIO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if (osr_buf_append(&b, chunk, (size_t)r)) {
            rc = osr_diag_set(diag, OSR_ETOOBIG, "'%s' is larger than %zu bytes", path, max);
            break;
        }
    }
    close(fd);
    if (rc) {
        osr_buf_release(&b);
        return rc;
    }
    *out = osr_buf_detach(&b, len);
    return OSR_OK;
}

static int field_error(struct osr_diag *diag, const char *file, const char *field,
                       const char *expected)
{
    osr_diag_set_param(diag, field);
    return osr_diag_set(diag, OSR_ECONFIG, "invalid configuration '%s': field '%s' must be %s",
                        file, field, expected);
}

/* Reads an integer field into *out when present and non-null. */
static int int_field(struct json_object *root, const char *file, const char *key, int64_t min,
                     int64_t max, int64_t *out, struct osr_diag *diag)
{
    struct osr_diag jd;
    osr_diag_clear(&jd);
    if (osr_json_get_int(root, key, false, min, max, out, &jd) == OSR_OK)
        return OSR_OK;
    char what[96];
    snprintf(what, sizeof(what), "an integer between %lld and %lld", (long long)min,
             (long long)max);
    return field_error(diag, file, key, what);
}

static void free_origins(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Applies the known fields of root to cfg.  All or nothing: on error cfg is unchanged. */
static int parse_config(struct osr_server_config *cfg, struct json_object *root, const char *file,
                        struct osr_diag *diag)
{
    if (!json_object_is_type(root, json_type_object))
        return osr_diag_set(diag, OSR_ECONFIG,
                            "invalid configuration '%s': the top level must be an object", file);
    struct osr_server_config next = *cfg;
    struct {
        const char *key;
        int64_t min, max;
        int *dst_int;
        size_t *dst_size;
    } ints[] = {
        {"port", 0, 65535, &next.port, NULL},
        {"numberOfThreads", 0, 1024, &next.threads, NULL},
        {"backlog", 1, 65535, &next.backlog, NULL},
        {"maxRequestBodyBytes", 1024, (int64_t)1 << 40, NULL, &next.max_body},
        {"maxPairingBodyBytes", 256, (int64_t)1 << 30, NULL, &next.max_pairing_body},
        {"maxConnections", 1, 100000, &next.max_connections, NULL},
        {"maxConnectionsPerIP", 0, 100000, &next.max_connections_per_ip, NULL},
        {"idleTimeoutSeconds", 1, 86400, &next.idle_timeout_s, NULL},
        {"requestTimeoutSeconds", 1, 86400, &next.request_timeout_s, NULL},
        {"maxHeaderCount", 8, 10000, &next.max_header_count, NULL},
        {"maxHeaderBytes", 1024, 16 * 1024 * 1024, NULL, &next.max_header_bytes},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        int64_t v = ints[i].dst_int ? *ints[i].dst_int : (int64_t)*ints[i].dst_size;
        int rc = int_field(root, file, ints[i].key, ints[i].min, ints[i].max, &v, diag);
        if (rc)
            return rc;
        /* Absent or null leaves v at the current value. */
        if (ints[i].dst_int)
            *ints[i].dst_int = (int)v;
        else
            *ints[i].dst_size = (size_t)v;
    }
    struct json_object *jv;
    if (json_object_object_get_ex(root, "exposeToNetwork", &jv) && jv) {
        if (!json_object_is_type(jv, json_type_boolean))
            return field_error(diag, file, "exposeToNetwork", "a boolean");
        next.expose = json_object_get_boolean(jv);
    }
    if (json_object_object_get_ex(root, "allowedOrigins", &jv) && jv) {
        if (!json_object_is_type(jv, json_type_array))
            return field_error(diag, file, "allowedOrigins", "an array of strings");
        size_t n = json_object_array_length(jv);
        char **list = osr_xcalloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            struct json_object *e = json_object_array_get_idx(jv, i);
            if (!json_object_is_type(e, json_type_string)) {
                free_origins(list, i);
                return field_error(diag, file, "allowedOrigins", "an array of strings");
            }
            list[i] = osr_xstrdup(json_object_get_string(e));
        }
        free_origins(cfg->allowed_origins, cfg->n_allowed_origins);
        next.allowed_origins = list;
        next.n_allowed_origins = n;
    }
    if (json_object_object_get_ex(root, "modelEvictionPolicy", &jv) && jv) {
        int single = json_object_is_type(jv, json_type_string)
                         ? osr_model_policy_parse(json_object_get_string(jv))
                         : -1;
        if (single < 0)
            return field_error(diag, file, "modelEvictionPolicy",
                               "\"Strict (One Model)\" or \"Flexible (Multi Model)\"");
        next.single_model = single == 1;
    }
    *cfg = next;
    return OSR_OK;
}

int osr_model_policy_parse(const char *s)
{
    /* The original's two choices, by their shown names or the short words people write. */
    static const char *const strict[] = {"Strict (One Model)", "strict", "strictSingleModel",
                                         "single", "one"};
    static const char *const flexible[] = {"Flexible (Multi Model)", "flexible",
                                           "flexibleMultiModel", "manualMultiModel", "multi"};
    for (size_t i = 0; i < sizeof(strict) / sizeof(strict[0]); i++)
        if (strcasecmp(s, strict[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof(flexible) / sizeof(flexible[0]); i++)
        if (strcasecmp(s, flexible[i]) == 0)
            return 0;
    return -1;
}

int osr_server_config_load(struct osr_server_config *cfg, const char *home, struct osr_diag *diag)
{
    char *dir = osr_path_join(home, "config");
    char *file = osr_path_join(dir, "server.json");
    free(dir);
    char *text = NULL;
    size_t len = 0;
    struct osr_diag rd;
    osr_diag_clear(&rd);
    int rc = osr_read_file(file, CONFIG_FILE_MAX, &text, &len, &rd);
    if (rc == OSR_ENOTFOUND) {
        rc = OSR_OK;
        goto out;
    }
    if (rc) {
        rc = osr_diag_set(diag, rc == OSR_ETOOBIG ? OSR_ECONFIG : rc, "%s", rd.msg);
        goto out;
    }
    struct json_object *root = NULL;
    struct osr_diag jd;
    osr_diag_clear(&jd);
    rc = osr_json_parse(text, len, &root, &jd);
    if (rc) {
        rc = osr_diag_set(diag, OSR_ECONFIG, "invalid configuration '%s': %s", file, jd.msg);
        goto out;
    }
    rc = parse_config(cfg, root, file, diag);
    if (rc) {
        json_object_put(root);
        goto out;
    }
    json_object_put(cfg->raw);
    cfg->raw = root;
out:
    free(text);
    free(file);
    return rc;
}

int osr_server_config_save(const struct osr_server_config *cfg, const char *home,
                           struct osr_diag *diag)
{
    struct json_object *root = json_object_new_object();
    if (cfg->raw && json_object_is_type(cfg->raw, json_type_object)) {
        json_object_object_foreach(cfg->raw, key, val)
        {
            json_object_object_add(root, key, json_object_get(val));
        }
    }
    /* Every known field is written from cfg, so a change made in memory is never lost to the
     * value still sitting in raw. */
    json_object_object_add(root, "port", json_object_new_int(cfg->port));
    json_object_object_add(root, "exposeToNetwork", json_object_new_boolean(cfg->expose));
    struct json_object *origins = json_object_new_array();
    for (size_t i = 0; i < cfg->n_allowed_origins; i++)
        json_object_array_add(origins, json_object_new_string(cfg->allowed_origins[i]));
    json_object_object_add(root, "allowedOrigins", origins);
    json_object_object_add(root, "numberOfThreads", json_object_new_int(cfg->threads));
    json_object_object_add(root, "modelEvictionPolicy",
                           json_object_new_string(cfg->single_model ? "Strict (One Model)"
                                                                    : "Flexible (Multi Model)"));
    json_object_object_add(root, "backlog", json_object_new_int(cfg->backlog));
    json_object_object_add(root, "maxRequestBodyBytes",
                           json_object_new_int64((int64_t)cfg->max_body));
    json_object_object_add(root, "maxPairingBodyBytes",
                           json_object_new_int64((int64_t)cfg->max_pairing_body));
    json_object_object_add(root, "maxConnections", json_object_new_int(cfg->max_connections));
    json_object_object_add(root, "maxConnectionsPerIP",
                           json_object_new_int(cfg->max_connections_per_ip));
    json_object_object_add(root, "idleTimeoutSeconds", json_object_new_int(cfg->idle_timeout_s));
    json_object_object_add(root, "requestTimeoutSeconds",
                           json_object_new_int(cfg->request_timeout_s));
    json_object_object_add(root, "maxHeaderCount", json_object_new_int(cfg->max_header_count));
    json_object_object_add(root, "maxHeaderBytes",
                           json_object_new_int64((int64_t)cfg->max_header_bytes));

    char *dir = osr_path_join(home, "config");
    char *file = osr_path_join(dir, "server.json");
    int rc = osr_mkdir_p(dir, 0700, diag);
    if (!rc) {
        size_t len = 0;
        const char *text = json_object_to_json_string_length(
            root,
            JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
            &len);
        rc = osr_write_file_atomic(file, text, len, 0600, diag);
    }
    json_object_put(root);
    free(dir);
    free(file);
    return rc;
}
