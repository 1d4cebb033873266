/* netloop.c - the providers' network thread: one libcurl multi handle, driven by one thread,
 * carries every upstream transfer of the process; each transfer's body reaches the thread
 * that asked for it through a bounded byte queue.
 *
 * The network thread runs curl_multi_perform and curl_multi_poll.  Other threads talk to it
 * through a list of pending operations (start, cancel, resume) guarded by one mutex, and
 * wake it with curl_multi_wakeup.  The write callback, which runs on the network thread,
 * only copies bytes into the transfer's queue under that mutex and signals the reader; when
 * the queue holds its cap it pauses the transfer instead, and the reader asks for a resume
 * once it has drained half of it.  That is the back-pressure: a slow reader holds at most
 * cap bytes (plus one libcurl chunk) per transfer, and the upstream's TCP window does the
 * rest.
 *
 * Not here: configuring the easy handles (provider.c does: URL, headers, proxy, timeouts),
 * parsing what they receive (the reader does, on its own thread), and retries.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "osr/alloc.h"
#include "osr/err.h"
#include "osr/log.h"
#include "osr/netloop.h"
#include "osr/provider.h"

#define POLL_MS 1000 /* the longest the thread sleeps without a wake-up or socket activity */
#define MAX_CACHED_CONNS 128L /* idle upstream connections kept for reuse (libcurl closes \
                                 those idle longer than its CURLOPT_MAXAGE_CONN, 118 s) */

enum xstate { X_IDLE, X_QUEUED, X_RUNNING, X_DONE };

struct osr_netloop_xfer {
    CURL *easy;
    size_t cap;
    pthread_cond_t cond; /* the reader waits on it, with loop.mu */
    /* guarded by loop.mu */
    enum xstate state;
    bool cancel_req;
    bool resume_req;
    bool paused;
    bool in_ops;
    struct osr_netloop_xfer *op_next;
    char *q; /* the byte queue: q_len bytes from q + q_head */
    size_t q_head, q_len, q_alloc, q_max;
    unsigned pauses;
    long status;
    char *ctype;
    CURLcode result;
    long retry_after;
    /* network thread only: what to do with it in this round */
    struct osr_netloop_xfer *work_next;
    bool op_add, op_cancel, op_resume;
};

static struct {
    pthread_mutex_t life_mu; /* serialises start and stop */
    int refs;                /* guarded by life_mu */
    pthread_t thread;        /* guarded by life_mu */
    CURLM *multi;            /* set before the thread starts, freed after it is joined */
    pthread_mutex_t mu;
    bool stop;                    /* guarded by mu */
    struct osr_netloop_xfer *ops; /* guarded by mu: transfers with a pending operation */
} loop = {.life_mu = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER};

/* ---------------------------------------------------------------- the network thread */

/* Called with loop.mu held.  After this the reader may free x at once. */
static void mark_done(struct osr_netloop_xfer *x, CURLcode result)
{
    if (x->in_ops) {
        for (struct osr_netloop_xfer **pp = &loop.ops; *pp; pp = &(*pp)->op_next) {
            if (*pp == x) {
                *pp = x->op_next;
                break;
            }
        }
        x->in_ops = false;
    }
    x->state = X_DONE;
    x->result = result;
    x->paused = false;
    pthread_cond_broadcast(&x->cond);
}

/* Called with loop.mu held, on the network thread (inside a libcurl callback or after the
 * transfer ended, when the handle's info is stable). */
static void record_head(struct osr_netloop_xfer *x)
{
    if (x->status == 0)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    if (!x->ctype) {
        char *ct = NULL;
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
        if (ct)
            x->ctype = osr_xstrdup(ct);
    }
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct osr_netloop_xfer *x = ud;
    size_t n = size * nmemb;
    pthread_mutex_lock(&loop.mu);
    record_head(x);
    /* An empty queue takes any chunk, so a chunk larger than the cap cannot stall. */
    if (x->q_len && x->q_len + n > x->cap) {
        if (!x->paused)
            x->pauses++;
        x->paused = true;
        pthread_mutex_unlock(&loop.mu);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (x->q_head + x->q_len + n > x->q_alloc) {
        if (x->q_len)
            memmove(x->q, x->q + x->q_head, x->q_len);
        x->q_head = 0;
        if (x->q_len + n > x->q_alloc) {
            size_t want = x->q_alloc ? x->q_alloc : 16 * 1024;
            while (want < x->q_len + n)
                want *= 2;
            /* Doubling must not overshoot the cap: the queue never holds more than the cap
             * plus one chunk. */
            size_t most = x->cap + CURL_MAX_WRITE_SIZE;
            if (want > most)
                want = most > x->q_len + n ? most : x->q_len + n;
            x->q = osr_xrealloc(x->q, want);
            x->q_alloc = want;
        }
    }
    memcpy(x->q + x->q_head + x->q_len, ptr, n);
    x->q_len += n;
    if (x->q_len > x->q_max)
        x->q_max = x->q_len;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&loop.mu);
    return n;
}

/* Takes the pending operations, decides under the lock what each transfer needs, then does
 * it without the lock (curl_easy_pause may call on_write, which takes it). */
static void run_ops(void)
{
    struct osr_netloop_xfer *work = NULL, **tail = &work;
    pthread_mutex_lock(&loop.mu);
    while (loop.ops) {
        struct osr_netloop_xfer *x = loop.ops;
        loop.ops = x->op_next;
        x->in_ops = false;
        x->op_add = x->op_cancel = x->op_resume = false;
        if (x->state == X_QUEUED && x->cancel_req) {
            mark_done(x, CURLE_ABORTED_BY_CALLBACK); /* never reached the multi handle */
            continue;
        }
        if (x->state == X_QUEUED) {
            x->state = X_RUNNING;
            x->op_add = true;
        } else if (x->state == X_RUNNING && x->cancel_req) {
            x->op_cancel = true;
        } else if (x->state == X_RUNNING && x->resume_req && x->paused) {
            x->paused = false;
            x->op_resume = true;
        }
        x->resume_req = false;
        x->work_next = NULL;
        *tail = x;
        tail = &x->work_next;
    }
    pthread_mutex_unlock(&loop.mu);
    while (work) {
        struct osr_netloop_xfer *x = work;
        work = x->work_next; /* read first: once done, x may be freed */
        if (x->op_add) {
            CURLMcode mc = curl_multi_add_handle(loop.multi, x->easy);
            if (mc != CURLM_OK) {
                OSR_WARN("netloop: cannot add a transfer: %s", curl_multi_strerror(mc));
                pthread_mutex_lock(&loop.mu);
                mark_done(x, CURLE_FAILED_INIT);
                pthread_mutex_unlock(&loop.mu);
            }
        } else if (x->op_cancel) {
            curl_multi_remove_handle(loop.multi, x->easy);
            pthread_mutex_lock(&loop.mu);
            mark_done(x, CURLE_ABORTED_BY_CALLBACK);
            pthread_mutex_unlock(&loop.mu);
        } else if (x->op_resume) {
            curl_easy_pause(x->easy, CURLPAUSE_CONT);
        }
    }
}

static void reap_done(void)
{
    CURLMsg *m;
    int left = 0;
    while ((m = curl_multi_info_read(loop.multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode result = m->data.result;
        struct osr_netloop_xfer *x = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        curl_off_t after = 0;
        curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &after);
        pthread_mutex_lock(&loop.mu);
        record_head(x);
        x->retry_after = (long)after;
        pthread_mutex_unlock(&loop.mu);
        curl_multi_remove_handle(loop.multi, e);
        pthread_mutex_lock(&loop.mu);
        mark_done(x, result);
        pthread_mutex_unlock(&loop.mu);
    }
}

static void *loop_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&loop.mu);
        bool stop = loop.stop;
        pthread_mutex_unlock(&loop.mu);
        if (stop)
            break;
        run_ops();
        int running = 0;
        curl_multi_perform(loop.multi, &running);
        reap_done();
        curl_multi_poll(loop.multi, NULL, 0, POLL_MS, NULL);
    }
    return NULL;
}

/* ---------------------------------------------------------------- lifetime */

int osr_netloop_acquire(void)
{
    int rc = OSR_OK;
    pthread_mutex_lock(&loop.life_mu);
    if (loop.refs == 0) {
        osr_providers_global_init();
        loop.multi = curl_multi_init();
        if (!loop.multi) {
            rc = OSR_EIO;
            goto out;
        }
        /* One stream per connection, as when each request had its own handle: a paused or
         * stalled HTTP/2 stream then holds up no other, and libcurl 7.88's pause handling on
         * multiplexed connections has known stalls.  The cache is sized for bursts: by
         * default it shrinks with the number of running transfers. */
        curl_multi_setopt(loop.multi, CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
        curl_multi_setopt(loop.multi, CURLMOPT_MAXCONNECTS, MAX_CACHED_CONNS);
        loop.stop = false;
        if (pthread_create(&loop.thread, NULL, loop_main, NULL) != 0) {
            curl_multi_cleanup(loop.multi);
            loop.multi = NULL;
            rc = OSR_EIO;
            goto out;
        }
        pthread_setname_np(loop.thread, "osr-net"); /* named here, so it is named at once */
    }
    loop.refs++;
out:
    pthread_mutex_unlock(&loop.life_mu);
    if (rc)
        OSR_ERROR("netloop: cannot start the network thread");
    return rc;
}

void osr_netloop_release(void)
{
    pthread_mutex_lock(&loop.life_mu);
    OSR_ASSERT(loop.refs > 0);
    if (--loop.refs == 0) {
        pthread_mutex_lock(&loop.mu);
        loop.stop = true;
        pthread_mutex_unlock(&loop.mu);
        curl_multi_wakeup(loop.multi);
        pthread_join(loop.thread, NULL);
        curl_multi_cleanup(loop.multi); /* closes the cached connections */
        loop.multi = NULL;
    }
    pthread_mutex_unlock(&loop.life_mu);
}

bool osr_netloop_running(void)
{
    pthread_mutex_lock(&loop.life_mu);
    bool r = loop.refs > 0;
    pthread_mutex_unlock(&loop.life_mu);
    return r;
}

/* ---------------------------------------------------------------- transfers */

/* Called with loop.mu held.  Returns true when the caller must wake the thread. */
static bool push_op(struct osr_netloop_xfer *x)
{
    if (x->in_ops)
        return false;
    x->in_ops = true;
    x->op_next = loop.ops;
    loop.ops = x;
    return true;
}

struct osr_netloop_xfer *osr_netloop_xfer_new(CURL *easy, size_t queue_cap)
{
    if (osr_netloop_acquire())
        return NULL;
    struct osr_netloop_xfer *x = osr_xcalloc(1, sizeof(*x));
    x->easy = easy;
    x->cap = queue_cap ? queue_cap : OSR_NETLOOP_QUEUE_CAP;
    x->state = X_IDLE;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&x->cond, &ca);
    pthread_condattr_destroy(&ca);
    return x;
}

int osr_netloop_xfer_start(struct osr_netloop_xfer *x)
{
    pthread_mutex_lock(&loop.mu);
    if (x->state == X_QUEUED || x->state == X_RUNNING) {
        pthread_mutex_unlock(&loop.mu);
        return OSR_EBUSY;
    }
    /* Set here, not by the caller: the callback and its data are this module's. */
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (char *)x);
    x->q_head = x->q_len = 0;
    x->status = 0;
    free(x->ctype);
    x->ctype = NULL;
    x->result = CURLE_OK;
    x->retry_after = 0;
    x->cancel_req = x->resume_req = x->paused = false;
    x->state = X_QUEUED;
    push_op(x);
    pthread_mutex_unlock(&loop.mu);
    curl_multi_wakeup(loop.multi);
    return OSR_OK;
}

/* Called with loop.mu held.  Asks for a resume once a paused queue is half empty. */
static bool want_resume(struct osr_netloop_xfer *x)
{
    if (x->state != X_RUNNING || !x->paused || x->resume_req || x->q_len > x->cap / 2)
        return false;
    x->resume_req = true;
    return push_op(x);
}

void osr_netloop_xfer_read(struct osr_netloop_xfer *x, char *buf, size_t cap, size_t *n,
                           bool *ended, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    int64_t ns = until.tv_nsec + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;
    until.tv_sec += (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&loop.mu);
    bool wake = want_resume(x);
    while (x->q_len == 0 && (x->state == X_QUEUED || x->state == X_RUNNING)) {
        if (pthread_cond_timedwait(&x->cond, &loop.mu, &until) == ETIMEDOUT)
            break;
    }
    size_t k = x->q_len < cap ? x->q_len : cap;
    if (k)
        memcpy(buf, x->q + x->q_head, k);
    x->q_head += k;
    x->q_len -= k;
    if (x->q_len == 0)
        x->q_head = 0;
    wake = want_resume(x) || wake;
    *n = k;
    *ended = x->q_len == 0 && (x->state == X_DONE || x->state == X_IDLE);
    pthread_mutex_unlock(&loop.mu);
    if (wake)
        curl_multi_wakeup(loop.multi);
}

void osr_netloop_xfer_cancel(struct osr_netloop_xfer *x)
{
    pthread_mutex_lock(&loop.mu);
    bool wake = false;
    if (x->state == X_QUEUED || x->state == X_RUNNING) {
        x->cancel_req = true;
        wake = push_op(x);
    }
    pthread_mutex_unlock(&loop.mu);
    if (wake)
        curl_multi_wakeup(loop.multi);
    pthread_mutex_lock(&loop.mu);
    while (x->state == X_QUEUED || x->state == X_RUNNING)
        pthread_cond_wait(&x->cond, &loop.mu);
    x->q_head = x->q_len = 0;
    pthread_mutex_unlock(&loop.mu);
}

void osr_netloop_xfer_info(struct osr_netloop_xfer *x, struct osr_netloop_info *info)
{
    pthread_mutex_lock(&loop.mu);
    info->status = x->status;
    info->content_type = x->ctype;
    info->result = x->state == X_DONE ? x->result : CURLE_OK;
    info->retry_after = x->retry_after;
    info->ended = x->state == X_DONE;
    info->paused = x->paused;
    info->queued = x->q_len;
    info->queued_max = x->q_max;
    info->pauses = x->pauses;
    pthread_mutex_unlock(&loop.mu);
}

void osr_netloop_xfer_free(struct osr_netloop_xfer *x)
{
    if (!x)
        return;
    osr_netloop_xfer_cancel(x);
    pthread_cond_destroy(&x->cond);
    free(x->q);
    free(x->ctype);
    free(x);
    osr_netloop_release();
}

int osr_netloop_perform(CURL *easy, struct osr_buf *out, long *status, CURLcode *result)
{
    *status = 0;
    *result = CURLE_FAILED_INIT;
    struct osr_netloop_xfer *x = osr_netloop_xfer_new(easy, 0);
    if (!x)
        return OSR_EIO;
    int rc = osr_netloop_xfer_start(x);
    char chunk[16 * 1024];
    bool ended = false;
    while (rc == OSR_OK && !ended) {
        size_t n = 0;
        osr_netloop_xfer_read(x, chunk, sizeof(chunk), &n, &ended, 250);
        if (n && osr_buf_append(out, chunk, n) != OSR_OK)
            rc = OSR_ETOOBIG;
    }
    if (rc == OSR_OK || rc == OSR_ETOOBIG)
        osr_netloop_xfer_cancel(x); /* a no-op once it ended */
    struct osr_netloop_info info;
    osr_netloop_xfer_info(x, &info);
    *status = info.status;
    *result = info.ended ? info.result : CURLE_ABORTED_BY_CALLBACK;
    if (rc == OSR_OK && info.result != CURLE_OK)
        rc = OSR_EIO;
    osr_netloop_xfer_free(x);
    return rc;
}
