/* maintenance.c - a thread that runs storage maintenance on the original's schedule.
 *
 * The schedule itself (what is due when) lives in store/ and is tracked in
 * .storage-maintenance.json; this file only wakes up, loads the storage key without
 * creating one, and calls it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "osr/alloc.h"
#include "osr/clock.h"
#include "osr/log.h"
#include "osr/maintenance.h"
#include "osr/store.h"

struct osr_maintenance {
    const char *home;
    int64_t first_delay_ms;
    int64_t interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop; /* guarded by mu */
};

int osr_maintenance_run_once(const char *home)
{
    struct osr_store_keys keys;
    struct osr_diag diag;
    osr_diag_clear(&diag);
    int rc = osr_store_keys_load(&keys, home, false, &diag);
    if (rc) {
        OSR_WARN("storage maintenance: %s", diag.msg);
        osr_store_keys_wipe(&keys);
        return rc;
    }
    struct osr_store_maint_report report = {0, 0, 0};
    osr_diag_clear(&diag);
    rc = osr_store_maintain(home, &keys, osr_wall_ms(), &report, &diag);
    osr_store_keys_wipe(&keys);
    if (rc)
        OSR_WARN("storage maintenance: %s", diag.msg);
    int touched = report.optimized + report.checkpointed + report.vacuumed;
    if (touched)
        OSR_INFO("storage maintenance: optimized %d, checkpointed %d, vacuumed %d database(s)",
                 report.optimized, report.checkpointed, report.vacuumed);
    return rc ? rc : touched;
}

/* Sleeps up to ms on the condvar; returns true when asked to stop. */
static bool wait_or_stop(struct osr_maintenance *m, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        if (pthread_cond_timedwait(&m->cv, &m->mu, &ts) == ETIMEDOUT)
            break;
    }
    bool stop = m->stop;
    pthread_mutex_unlock(&m->mu);
    return stop;
}

static void *maintenance_main(void *arg)
{
    struct osr_maintenance *m = arg;
    int64_t delay = m->first_delay_ms;
    while (!wait_or_stop(m, delay)) {
        osr_maintenance_run_once(m->home);
        delay = m->interval_ms;
    }
    return NULL;
}

struct osr_maintenance *osr_maintenance_start(const char *home, int64_t first_delay_ms,
                                              int64_t interval_ms)
{
    struct osr_maintenance *m = osr_xcalloc(1, sizeof(*m));
    m->home = home;
    m->first_delay_ms = first_delay_ms;
    m->interval_ms = interval_ms > 0 ? interval_ms : 3600 * 1000;
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&m->thread, NULL, maintenance_main, m) != 0) {
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
        free(m);
        return NULL;
    }
    return m;
}

void osr_maintenance_stop(struct osr_maintenance *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
