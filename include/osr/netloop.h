/* netloop.h - the providers' network thread: one thread per process drives every upstream
 * transfer on one libcurl multi handle, and hands each transfer's bytes to the thread that
 * asked for it through a bounded queue.
 *
 * A caller configures a libcurl easy handle (URL, headers, body, proxy, TLS, timeouts) and
 * wraps it in an osr_netloop_xfer; the network thread sets the write callback, adds the handle
 * to its multi handle and drives it.  The write callback never blocks and never calls into
 * the caller's code: it copies the bytes into the transfer's queue, and pauses the transfer
 * (CURL_WRITEFUNC_PAUSE) when the queue holds its cap; the caller's reads make room and
 * wake the network thread, which resumes it.  Finished transfers give their connection back
 * to the multi handle's connection cache, so the next transfer to the same host reuses it.
 *
 * Lifetime: the thread and the multi handle exist while someone holds a reference
 * (osr_netloop_acquire/osr_netloop_release; every live transfer holds one too).  The last
 * release stops and joins the thread and closes the cached connections.
 *
 * Thread rules: acquire/release and osr_netloop_xfer_new may be called from any thread.  One
 * transfer belongs to one caller thread (the one that reads it); osr_netloop_xfer_cancel may
 * also be called from others.  No function here may be called from a libcurl callback.
 */
#ifndef OSR_NETLOOP_H
#define OSR_NETLOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "osr/buf.h"

/* The default cap of a transfer's byte queue. */
#define OSR_NETLOOP_QUEUE_CAP ((size_t)1024 * 1024)

struct osr_netloop_xfer;

/* Takes a reference on the network thread, starting it (and running curl_global_init once)
 * when none is held.  Returns OSR_OK, or OSR_EIO when libcurl or the thread cannot start. */
int osr_netloop_acquire(void);

/* Drops a reference taken by osr_netloop_acquire.  The last one stops the thread, joins it
 * and frees the multi handle with its connection cache.  Must not be called while a transfer
 * made under that reference is still alive. */
void osr_netloop_release(void);

/* Whether the network thread runs now (for tests). */
bool osr_netloop_running(void);

/* A transfer of easy (borrowed: the caller keeps it configured and frees it after
 * osr_netloop_xfer_free) whose queue holds at most queue_cap bytes (0: the default).  The
 * caller must not set CURLOPT_WRITEFUNCTION, CURLOPT_WRITEDATA or CURLOPT_PRIVATE; this
 * module sets them.  Takes a reference on the network thread.  Returns NULL when the thread
 * cannot start.  Free with osr_netloop_xfer_free. */
struct osr_netloop_xfer *osr_netloop_xfer_new(CURL *easy, size_t queue_cap);

/* Hands the transfer to the network thread.  A finished transfer may be started again (a
 * retry): its queue, status and result are cleared first.  Returns OSR_OK, or OSR_EBUSY
 * when it is still running. */
int osr_netloop_xfer_start(struct osr_netloop_xfer *x);

/* Waits up to timeout_ms for bytes or the end of the transfer, then moves up to cap queued
 * bytes into buf.  *n is how many were moved (0 on a timeout tick); *ended turns true once
 * the transfer has finished and every byte has been read.  Resumes a paused transfer once
 * the queue has room again. */
void osr_netloop_xfer_read(struct osr_netloop_xfer *x, char *buf, size_t cap, size_t *n,
                           bool *ended, int timeout_ms);

/* Asks the network thread to stop the transfer (it removes the handle from the multi handle,
 * closing its connection) and waits until it has.  Bytes still queued are dropped.  Safe on
 * a transfer that already ended. */
void osr_netloop_xfer_cancel(struct osr_netloop_xfer *x);

/* What the network thread recorded.  status and content_type are known once the first byte
 * of the body has been queued (or at the end); result and retry_after at the end. */
struct osr_netloop_info {
    long status;              /* the HTTP status, 0 before the headers */
    const char *content_type; /* or NULL; valid until the next start or the free */
    CURLcode result;          /* CURLE_OK while running; CURLE_ABORTED_BY_CALLBACK if cancelled */
    long retry_after;         /* seconds from Retry-After, 0 when absent */
    bool ended;               /* the network thread is done with the handle */
    bool paused;              /* paused now because the queue is full (for tests) */
    size_t queued;            /* bytes waiting in the queue (for tests) */
    size_t queued_max;        /* the most bytes the queue ever held (for tests) */
    unsigned pauses;          /* how often the transfer was paused (for tests) */
};
void osr_netloop_xfer_info(struct osr_netloop_xfer *x, struct osr_netloop_info *info);

/* Cancels the transfer if it still runs, frees it and drops its reference.  The easy handle
 * is the caller's again.  NULL is a no-op. */
void osr_netloop_xfer_free(struct osr_netloop_xfer *x);

/* Runs easy to its end on the network thread (the caller's thread waits), collecting the
 * answer body into out (capped by out's own cap: a longer body ends the transfer with
 * OSR_ETOOBIG).  *status gets the HTTP status (0 when none came) and *result libcurl's
 * result.  Returns OSR_OK when the transfer completed, OSR_ETOOBIG, or OSR_EIO. */
int osr_netloop_perform(CURL *easy, struct osr_buf *out, long *status, CURLcode *result);

#endif
