/* config.h - the Osaurus home folder and the server configuration.
 *
 * The home is $OSAURUS_HOME, else ~/.osaurus, laid out as the original's (config/server.json,
 * providers/, agents/, runtime/, ...).  server.json keeps the original's field names; fields we
 * do not know are kept as they are and written back unchanged.  A field of the wrong type or
 * out of range is an OSR_ECONFIG error naming the file, the field and what was expected.
 *
 * Thread rules: a struct osr_server_config belongs to one thread; read-only after start-up.
 */
#ifndef OSR_CONFIG_H
#define OSR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "osr/err.h"

#define OSR_DEFAULT_PORT 1337

struct osr_server_config {
    int port;               /* "port" */
    bool expose;            /* "exposeToNetwork": bind 0.0.0.0 and stop trusting loopback */
    char **allowed_origins; /* "allowedOrigins" */
    size_t n_allowed_origins;
    int threads;                /* "numberOfThreads": compute threads, 0 = one per core */
    int backlog;                /* "backlog" */
    size_t max_body;            /* "maxRequestBodyBytes" */
    size_t max_pairing_body;    /* "maxPairingBodyBytes" */
    int max_connections;        /* "maxConnections" */
    int max_connections_per_ip; /* "maxConnectionsPerIP" */
    int idle_timeout_s;         /* "idleTimeoutSeconds": close a silent connection */
    int request_timeout_s;      /* "requestTimeoutSeconds": a request body must arrive by then */
    int max_header_count;       /* "maxHeaderCount" */
    size_t max_header_bytes;    /* "maxHeaderBytes": request line + headers */
    bool single_model;          /* "modelEvictionPolicy": "Strict (One Model)" (the default:
                                 * loading a local model unloads the others) or "Flexible
                                 * (Multi Model)" (several stay loaded while memory allows) */
    struct json_object *raw;    /* the file as read, unknown fields included (owned) */
};

/* "modelEvictionPolicy" values: 1 for strict (one model), 0 for flexible (several), -1 for
 * anything else.  Case-insensitive; takes the original's shown names and short forms. */
int osr_model_policy_parse(const char *s);

/* Fills cfg with the defaults (port 1337, not exposed, 32 MiB bodies, ...). */
void osr_server_config_defaults(struct osr_server_config *cfg);

/* Reads <home>/config/server.json over the defaults.  A missing file is not an error.
 * Returns OSR_OK, OSR_ECONFIG (diag names file, field and expected type) or OSR_EIO. */
int osr_server_config_load(struct osr_server_config *cfg, const char *home, struct osr_diag *diag);

/* Writes cfg to <home>/config/server.json atomically (temp file + rename), keeping unknown
 * fields of cfg->raw. */
int osr_server_config_save(const struct osr_server_config *cfg, const char *home,
                           struct osr_diag *diag);

void osr_server_config_release(struct osr_server_config *cfg);

/* Returns the home folder: explicit if non-empty, else $OSAURUS_HOME, else $HOME/.osaurus
 * (without $HOME: the user database's home directory, then ./.osaurus).
 * The caller frees the result with free(). */
char *osr_home_resolve(const char *explicit_home);

/* Returns "<a>/<b>" (caller frees with free()). */
char *osr_path_join(const char *a, const char *b);

/* Creates path and its missing parents with mode.  Returns OSR_OK or OSR_EIO (diag says why). */
int osr_mkdir_p(const char *path, unsigned mode, struct osr_diag *diag);

/* Writes n bytes to path atomically: a temp file beside it, fsync, rename, fsync of the
 * folder.  mode is the new file's permission bits. */
int osr_write_file_atomic(const char *path, const void *data, size_t n, unsigned mode,
                          struct osr_diag *diag);

/* Reads a whole file of at most max bytes.  Returns OSR_OK and a NUL-terminated heap copy
 * (caller frees), OSR_ENOTFOUND, OSR_ETOOBIG or OSR_EIO. */
int osr_read_file(const char *path, size_t max, char **out, size_t *len, struct osr_diag *diag);

#endif
