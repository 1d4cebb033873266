/* queue.h - a bounded, closable, thread-safe FIFO of pointers.
 *
 * The hand-off between a producer thread (a model streaming tokens) and a consumer (the HTTP
 * connection writing frames).  Closing the queue wakes every waiter: pushes then fail with
 * OSR_ECLOSED, pops drain what is left and then fail with OSR_ECLOSED.
 *
 * Thread rules: every function but osr_queue_free may be called from any thread.
 */
#ifndef OSR_QUEUE_H
#define OSR_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct osr_queue;

/* Returns a queue that holds at most max_items (>= 1). */
struct osr_queue *osr_queue_new(size_t max_items);

/* Frees the queue and, when free_item is non-NULL, every item still in it.  No thread may be
 * using the queue. */
void osr_queue_free(struct osr_queue *q, void (*free_item)(void *));

/* Appends item, waiting up to timeout_ms while the queue is full (-1: forever, 0: not at
 * all).  Returns OSR_OK, OSR_ETIMEOUT, or OSR_ECLOSED (the item was not taken). */
int osr_queue_push(struct osr_queue *q, void *item, int64_t timeout_ms);

/* Removes the oldest item into *item, waiting up to timeout_ms while the queue is empty.
 * Returns OSR_OK, OSR_ETIMEOUT, or OSR_ECLOSED when the queue is closed and empty. */
int osr_queue_pop(struct osr_queue *q, void **item, int64_t timeout_ms);

void osr_queue_close(struct osr_queue *q);
int osr_queue_is_closed(struct osr_queue *q);
size_t osr_queue_len(struct osr_queue *q);

#endif
