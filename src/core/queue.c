/* queue.c - bounded FIFO: a ring of pointers guarded by one mutex and two condvars.
 *
 * Deadlines use CLOCK_MONOTONIC, so a wall-clock jump neither stretches nor cuts a wait.  The
 * queue moves pointers only: it never owns, copies or frees an item except in osr_queue_free
 * when asked to.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "osr/alloc.h"
#include "osr/err.h"
#include "osr/queue.h"

#define QUEUE_FOREVER_MS ((int64_t)1 << 40) /* ~35 years */

struct osr_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    void **items; /* guarded by mu */
    size_t cap;
    size_t head; /* guarded by mu */
    size_t len;  /* guarded by mu */
    int closed;  /* guarded by mu */
};

struct osr_queue *osr_queue_new(size_t max_items)
{
    struct osr_queue *q = osr_xcalloc(1, sizeof(*q));
    q->cap = max_items ? max_items : 1;
    q->items = osr_xcalloc(q->cap, sizeof(void *));
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &attr);
    pthread_cond_init(&q->not_full, &attr);
    pthread_condattr_destroy(&attr);
    return q;
}

void osr_queue_free(struct osr_queue *q, void (*free_item)(void *))
{
    if (!q)
        return;
    if (free_item)
        for (size_t i = 0; i < q->len; i++)
            free_item(q->items[(q->head + i) % q->cap]);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->mu);
    free(q->items);
    free(q);
}

static struct timespec deadline_after(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Waits on cv until pred holds, the queue closes, or the deadline passes. */
static int wait_for(struct osr_queue *q, pthread_cond_t *cv, int (*pred)(struct osr_queue *),
                    int64_t timeout_ms)
{
    /* A deadline centuries away would overflow the timespec: that is "forever". */
    if (timeout_ms > QUEUE_FOREVER_MS)
        timeout_ms = -1;
    struct timespec dl = timeout_ms > 0 ? deadline_after(timeout_ms) : (struct timespec){0};
    while (!pred(q) && !q->closed) {
        if (timeout_ms == 0)
            return OSR_ETIMEOUT;
        if (timeout_ms < 0) {
            pthread_cond_wait(cv, &q->mu);
        } else if (pthread_cond_timedwait(cv, &q->mu, &dl) == ETIMEDOUT) {
            if (!pred(q) && !q->closed)
                return OSR_ETIMEOUT;
        }
    }
    return OSR_OK;
}

static int has_room(struct osr_queue *q)
{
    return q->len < q->cap;
}

static int has_items(struct osr_queue *q)
{
    return q->len > 0;
}

int osr_queue_push(struct osr_queue *q, void *item, int64_t timeout_ms)
{
    pthread_mutex_lock(&q->mu);
    int rc = wait_for(q, &q->not_full, has_room, timeout_ms);
    if (rc == OSR_OK && q->closed)
        rc = OSR_ECLOSED;
    if (rc == OSR_OK) {
        q->items[(q->head + q->len) % q->cap] = item;
        q->len++;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int osr_queue_pop(struct osr_queue *q, void **item, int64_t timeout_ms)
{
    pthread_mutex_lock(&q->mu);
    int rc = wait_for(q, &q->not_empty, has_items, timeout_ms);
    if (rc == OSR_OK && q->len == 0)
        rc = OSR_ECLOSED; /* closed and drained */
    if (rc == OSR_OK) {
        *item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void osr_queue_close(struct osr_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

int osr_queue_is_closed(struct osr_queue *q)
{
    pthread_mutex_lock(&q->mu);
    int c = q->closed;
    pthread_mutex_unlock(&q->mu);
    return c;
}

size_t osr_queue_len(struct osr_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}
