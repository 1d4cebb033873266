/* discovery.h - the runtime discovery file, <home>/runtime/<instanceId>/configuration.json.
 *
 * A running server describes itself there ({instanceId, updatedAt, health, port, address,
 * url, exposeToNetwork} as the original, plus pid and version) so the CLI and other clients
 * can find it; the file is removed on a clean stop.  Files left by a killed server are
 * recognized as stale by their pid and ignored (and cleaned by the next serve).
 *
 * Thread rules: thread-safe (no shared state).
 */
#ifndef OSR_DISCOVERY_H
#define OSR_DISCOVERY_H

#include <stdbool.h>

#include "osr/err.h"

struct osr_instance {
    char instance_id[64];
    char health[16];
    char address[64];
    int port;
    int pid;
    bool expose;
    long long updated_ms;
};

/* Writes (or rewrites) the file for this instance atomically. */
int osr_discovery_write(const char *home, const struct osr_instance *inst, struct osr_diag *diag);

/* Removes the file and its folder. */
void osr_discovery_remove(const char *home, const char *instance_id);

/* Finds the newest instance whose process is alive.  Returns OSR_OK or OSR_ENOTFOUND. */
int osr_discovery_find(const char *home, struct osr_instance *out);

/* Removes the files of instances whose process is gone; returns how many. */
int osr_discovery_clean_stale(const char *home);

#endif
