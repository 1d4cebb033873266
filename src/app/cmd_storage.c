/* cmd_storage.c - `osaurus storage`: show the storage posture and convert between plaintext
 * and encrypted, or rotate the data key.
 *
 * Conversions run with the server stopped (a running instance is refused) and database by
 * database, each one atomic (store.c); blobs follow (osec.c); the posture marker is written
 * last.  Every command can be run again after an interruption and finishes the job.  This
 * file parses arguments and prints; the work is done by the store modules.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osr/cli.h"
#include "osr/cli_storage.h"
#include "osr/config.h"
#include "osr/discovery.h"
#include "osr/history.h"
#include "osr/osec.h"
#include "osr/store.h"
#include "osr/uuid.h"

static const char usage_text[] =
    "usage: osaurus storage <encrypt|decrypt|rekey|status> [--home DIR]\n"
    "\n"
    "  status   show whether each database and the blobs are encrypted, and the key source\n"
    "  encrypt  encrypt every database and blob (creates keys/storage.key if no key is set)\n"
    "  decrypt  write every database and blob back as plaintext (the key file is kept)\n"
    "  rekey    re-encrypt everything under a new random key in keys/storage.key\n"
    "\n"
    "The key comes from $OSAURUS_STORAGE_KEY (64 hex digits), $OSAURUS_STORAGE_PASSPHRASE, or\n"
    "<home>/keys/storage.key (mode 0600).  Stop the server first.  An interrupted command is\n"
    "safe to run again.\n";

enum mode { MODE_STATUS, MODE_ENCRYPT, MODE_DECRYPT, MODE_REKEY };

static void count_blobs(const char *dir, int *plain, int *sealed)
{
    *plain = *sealed = 0;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n == OSR_SHA256_HEX)
            (*plain)++;
        else if (n == OSR_SHA256_HEX + 5 && strcmp(e->d_name + OSR_SHA256_HEX, ".osec") == 0)
            (*sealed)++;
    }
    closedir(d);
}

static int count_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static int show_status(const char *home)
{
    struct osr_diag d = {0};
    bool enc = false, present = false;
    printf("home: %s\n", home);
    if (osr_store_posture_read(home, &enc, &present, &d) != OSR_OK)
        printf("posture: unreadable marker (%s)\n", d.msg);
    else if (present)
        printf("posture: %s\n", enc ? "encrypted" : "plaintext");
    else
        printf("posture: not set (new databases are created encrypted)\n");
    struct osr_store_keys keys;
    int rc = osr_store_keys_load(&keys, home, false, &d);
    if (rc)
        printf("key: error: %s\n", d.msg);
    else if (keys.has_key)
        printf("key: %s%s\n", keys.source,
               keys.has_next ? " (an interrupted rekey is pending: run 'osaurus storage rekey')"
                             : "");
    else
        printf("key: none\n");
    osr_store_keys_wipe(&keys);
    for (size_t i = 0; osr_store_databases[i]; i++) {
        char *path = osr_path_join(home, osr_store_databases[i]);
        enum osr_store_kind kind = OSR_STORE_MISSING;
        if (osr_store_detect(path, &kind, &d) == OSR_OK)
            printf("  %-30s %s\n", osr_store_databases[i], osr_store_kind_name(kind));
        else
            printf("  %-30s error: %s\n", osr_store_databases[i], d.msg);
        free(path);
    }
    char *blobs = osr_path_join(home, OSR_HISTORY_BLOBS);
    int plain, sealed;
    count_blobs(blobs, &plain, &sealed);
    printf("blobs: %d plaintext, %d encrypted\n", plain, sealed);
    free(blobs);
    char *q = osr_path_join(home, "quarantine");
    printf("quarantine: %d files\n", count_entries(q));
    free(q);
    return OSR_EXIT_OK;
}

/* Makes sure keys/storage.key.next exists (a fresh random key, or the one of an interrupted
 * rekey) and reloads keys so that keys->next holds it. */
static int prepare_rekey(const char *home, struct osr_store_keys *keys, struct osr_diag *d)
{
    if (strcmp(keys->source, "file") != 0)
        return osr_diag_set(d, OSR_EINVAL,
                            "rekey rotates keys/storage.key, but the key comes from the %s; "
                            "run 'osaurus storage decrypt', change it, then 'encrypt'",
                            strcmp(keys->source, "env") == 0 ? "environment" : "passphrase");
    if (keys->has_next)
        return OSR_OK;
    char *next = osr_path_join(home, "keys/storage.key.next");
    uint8_t fresh[OSR_STORE_KEY_BYTES];
    int rc = osr_random_bytes(fresh, sizeof(fresh));
    if (rc)
        rc = osr_diag_set(d, rc, "cannot draw random bytes");
    else
        rc = osr_store_key_write_file(fresh, next, d);
    memset(fresh, 0, sizeof(fresh));
    free(next);
    if (rc)
        return rc;
    return osr_store_keys_load(keys, home, false, d);
}

static int finish_rekey(const char *home, struct osr_diag *d)
{
    char *dir = osr_path_join(home, "keys");
    char *cur = osr_path_join(dir, "storage.key");
    char *next = osr_path_join(dir, "storage.key.next");
    int rc = OSR_OK;
    if (rename(next, cur) != 0) {
        rc = osr_diag_set(d, OSR_EIO, "cannot rename '%s' to '%s': %s", next, cur, strerror(errno));
    } else {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
    }
    free(next);
    free(cur);
    free(dir);
    return rc;
}

static int convert_all(const char *home, enum mode mode)
{
    struct osr_diag d = {0};
    struct osr_instance inst;
    if (osr_discovery_find(home, &inst) == OSR_OK) {
        fprintf(stderr, "error: a server is running (pid %d, port %d); stop it first\n", inst.pid,
                inst.port);
        return OSR_EXIT_FAILURE;
    }
    struct osr_store_keys keys;
    int rc = osr_store_keys_load(&keys, home, mode == MODE_ENCRYPT, &d);
    if (rc)
        goto out;
    if (!keys.has_key) {
        rc = osr_diag_set(&d, OSR_EAUTH, "no storage key: set %s or restore keys/storage.key",
                          OSR_STORE_KEY_ENV);
        goto out;
    }
    if (keys.has_next && mode != MODE_REKEY) {
        rc = osr_diag_set(&d, OSR_EBUSY,
                          "an interrupted rekey is pending; run 'osaurus storage rekey' first");
        goto out;
    }
    if (mode == MODE_REKEY) {
        rc = prepare_rekey(home, &keys, &d);
        if (rc)
            goto out;
    }
    const uint8_t *to = mode == MODE_DECRYPT ? NULL : mode == MODE_REKEY ? keys.next : keys.key;
    for (size_t i = 0; osr_store_databases[i]; i++) {
        char *path = osr_path_join(home, osr_store_databases[i]);
        enum osr_store_kind kind;
        rc = osr_store_detect(path, &kind, &d);
        if (!rc && kind != OSR_STORE_MISSING) {
            rc = osr_store_convert(path, home, &keys, to, &d);
            if (!rc)
                printf("  %-30s done\n", osr_store_databases[i]);
        }
        free(path);
        if (rc)
            goto out;
    }
    char *blobs = osr_path_join(home, OSR_HISTORY_BLOBS);
    size_t n_blobs = 0;
    rc = osr_osec_blob_dir_convert(blobs, keys.key, keys.has_next ? keys.next : NULL, to, &n_blobs,
                                   &d);
    free(blobs);
    if (rc)
        goto out;
    printf("  blobs: %zu rewritten\n", n_blobs);
    if (mode == MODE_REKEY) {
        rc = finish_rekey(home, &d);
        if (rc)
            goto out;
    }
    rc = osr_store_posture_write(home, mode != MODE_DECRYPT, &d);
out:
    osr_store_keys_wipe(&keys);
    if (rc) {
        fprintf(stderr, "error: %s\n", d.msg[0] ? d.msg : osr_strerror(rc));
        return OSR_EXIT_FAILURE;
    }
    printf("storage is now %s\n", mode == MODE_DECRYPT ? "plaintext" : "encrypted");
    return OSR_EXIT_OK;
}

int osr_cmd_storage(int argc, char **argv)
{
    const char *home_arg = NULL;
    const char *sub = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return OSR_EXIT_OK;
        }
        if (strcmp(argv[i], "--home") == 0) {
            if (i + 1 >= argc) {
                fputs("error: --home needs a folder\n", stderr);
                return OSR_EXIT_USAGE;
            }
            home_arg = argv[++i];
        } else if (strncmp(argv[i], "--home=", 7) == 0) {
            home_arg = argv[i] + 7;
        } else if (argv[i][0] == '-' || sub) {
            fprintf(stderr, "error: unexpected argument '%s'\n\n%s", argv[i], usage_text);
            return OSR_EXIT_USAGE;
        } else {
            sub = argv[i];
        }
    }
    enum mode mode;
    if (!sub) {
        fputs(usage_text, stderr);
        return OSR_EXIT_USAGE;
    } else if (strcmp(sub, "status") == 0) {
        mode = MODE_STATUS;
    } else if (strcmp(sub, "encrypt") == 0) {
        mode = MODE_ENCRYPT;
    } else if (strcmp(sub, "decrypt") == 0) {
        mode = MODE_DECRYPT;
    } else if (strcmp(sub, "rekey") == 0) {
        mode = MODE_REKEY;
    } else {
        fprintf(stderr, "error: unknown subcommand '%s'\n\n%s", sub, usage_text);
        return OSR_EXIT_USAGE;
    }
    char *home = osr_home_resolve(home_arg);
    if (!home) {
        fputs("error: cannot find the home folder (set $OSAURUS_HOME or $HOME)\n", stderr);
        return OSR_EXIT_CONFIG;
    }
    int rc = mode == MODE_STATUS ? show_status(home) : convert_all(home, mode);
    free(home);
    return rc;
}
