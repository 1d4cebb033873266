/* threadpool.h - a fixed set of compute threads for the inference kernels.
 *
 * A pool of N threads is the calling thread plus N - 1 workers.  osr_threadpool_run hands one
 * function to all N threads (the caller runs it as thread 0) and returns when every thread has
 * finished it.  Inside that function threads may meet at osr_threadpool_barrier.  Idle workers
 * and waiting threads spin briefly and then sleep on a futex, so a pool costs nothing while no
 * model is computing and a few microseconds per run while one is.  Nothing is allocated per
 * run.
 *
 * Thread rules: a pool is driven by one thread at a time (the one calling run); the function
 * it runs is called concurrently on all N threads with distinct ith.  A NULL pool is valid
 * everywhere and means "one thread, the caller".
 */
#ifndef OSR_THREADPOOL_H
#define OSR_THREADPOOL_H

struct osr_threadpool;

/* The work function: called once on each of nth threads, with ith in 0 .. nth-1. */
typedef void (*osr_threadpool_fn)(void *arg, int ith, int nth);

#define OSR_THREADPOOL_MAX 256

/* Creates a pool of nthreads threads in total (1 .. OSR_THREADPOOL_MAX; 1 starts no worker).
 * Returns OSR_OK and the pool in *out (the caller frees it with osr_threadpool_free),
 * OSR_EINVAL for a bad count, OSR_ENOMEM / OSR_EIO when memory or a thread cannot be had. */
int osr_threadpool_new(int nthreads, struct osr_threadpool **out);

/* Stops and joins the workers and frees the pool.  NULL is a no-op. */
void osr_threadpool_free(struct osr_threadpool *tp);

/* Returns the number of threads (1 for NULL). */
int osr_threadpool_size(const struct osr_threadpool *tp);

/* Runs fn(arg, ith, nth) on every thread of the pool and returns when all have returned.  Must
 * not be called from inside a run of the same pool. */
void osr_threadpool_run(struct osr_threadpool *tp, osr_threadpool_fn fn, void *arg);

/* Called by all nth threads inside a run: returns once every one of them has arrived.  Writes
 * made before the barrier are visible to every thread after it.  No-op for NULL. */
void osr_threadpool_barrier(struct osr_threadpool *tp);

#endif
