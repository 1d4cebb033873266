/* maintenance.h - the server's storage-maintenance thread.
 *
 * Wakes every interval and runs osr_store_maintain (PRAGMA optimize every 6 h, WAL checkpoint
 * every 7 days, VACUUM every 30 days, as the original), so a long-running server keeps its
 * databases tidy.  Does nothing when nothing is due; a failure is logged, never fatal.
 *
 * Thread rules: start and stop from the same thread (the serve command's main thread).
 */
#ifndef OSR_MAINTENANCE_H
#define OSR_MAINTENANCE_H

#include <stdint.h>

struct osr_maintenance;

/* Starts the thread for the home (borrowed: must outlive it); the first run happens after
 * first_delay_ms, then every interval_ms.  Returns NULL when the thread cannot start. */
struct osr_maintenance *osr_maintenance_start(const char *home, int64_t first_delay_ms,
                                              int64_t interval_ms);

/* Stops and joins the thread (waits for a run in progress); NULL is a no-op. */
void osr_maintenance_stop(struct osr_maintenance *m);

/* Runs the checks once now, on the calling thread.  Returns the number of databases touched
 * (optimized + checkpointed + vacuumed), or a negative error. */
int osr_maintenance_run_once(const char *home);

#endif
