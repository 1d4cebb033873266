/* threadpool.c - N compute threads, a run/join handshake and a barrier, spin-then-futex.
 *
 * A run publishes (fn, arg) and bumps a generation counter; workers waiting on the counter see
 * it change (spinning first, then sleeping in futex_wait) and call fn.  Each worker then bumps
 * a done counter the caller waits on.  The barrier is a counter plus a phase word: the last to
 * arrive resets the counter and bumps the phase, which the others wait on.
 *
 * Every wait spins a bounded number of times with the pause instruction (so a matmul every few
 * microseconds never enters the kernel) and then sleeps on the futex; every wake is skipped
 * when nobody sleeps.  The lost-wakeup race is closed by ordering: a waiter announces itself
 * (seq_cst) before re-checking the word inside futex_wait, and a waker changes the word
 * (seq_cst) before reading the announcement.
 *
 * It does not pin threads to cores, schedule work items, or grow: that is the caller's job.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "osr/err.h"
#include "osr/threadpool.h"

#define SPIN_ITERS 2000

struct worker {
    struct osr_threadpool *tp;
    pthread_t thread;
    int ith;
};

struct osr_threadpool {
    int n;
    _Atomic uint32_t gen;      /* bumped per run; futex word for idle workers */
    _Atomic uint32_t done;     /* workers finished with the current run; futex word for run */
    _Atomic uint32_t sleepers; /* threads inside futex_wait on any of the words */
    _Atomic uint32_t barrier_count;
    _Atomic uint32_t barrier_phase; /* futex word for the barrier */
    _Atomic int stop;
    osr_threadpool_fn fn; /* published by the release store to gen */
    void *arg;
    struct worker *workers; /* n - 1 of them */
};

static void cpu_relax(void)
{
    __builtin_ia32_pause();
}

static void futex_wait(_Atomic uint32_t *word, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Waits until *word != val; returns the new value. */
static uint32_t wait_change(struct osr_threadpool *tp, _Atomic uint32_t *word, uint32_t val)
{
    uint32_t v;
    for (int i = 0; i < SPIN_ITERS; i++) {
        v = atomic_load_explicit(word, memory_order_acquire);
        if (v != val)
            return v;
        cpu_relax();
    }
    for (;;) {
        atomic_fetch_add(&tp->sleepers, 1);
        if (atomic_load(word) == val)
            futex_wait(word, val);
        atomic_fetch_sub(&tp->sleepers, 1);
        v = atomic_load_explicit(word, memory_order_acquire);
        if (v != val)
            return v;
    }
}

static void wake(struct osr_threadpool *tp, _Atomic uint32_t *word)
{
    if (atomic_load(&tp->sleepers) > 0)
        futex_wake_all(word);
}

static void *worker_main(void *p)
{
    struct worker *w = p;
    struct osr_threadpool *tp = w->tp;
    uint32_t seen = 0;
    for (;;) {
        seen = wait_change(tp, &tp->gen, seen);
        if (atomic_load_explicit(&tp->stop, memory_order_acquire))
            break;
        tp->fn(tp->arg, w->ith, tp->n);
        atomic_fetch_add(&tp->done, 1);
        wake(tp, &tp->done);
    }
    return NULL;
}

int osr_threadpool_new(int nthreads, struct osr_threadpool **out)
{
    *out = NULL;
    if (nthreads < 1 || nthreads > OSR_THREADPOOL_MAX)
        return OSR_EINVAL;
    struct osr_threadpool *tp = calloc(1, sizeof(*tp));
    if (!tp)
        return OSR_ENOMEM;
    tp->n = nthreads;
    if (nthreads > 1) {
        tp->workers = calloc((size_t)nthreads - 1, sizeof(*tp->workers));
        if (!tp->workers) {
            free(tp);
            return OSR_ENOMEM;
        }
    }
    for (int i = 0; i < nthreads - 1; i++) {
        tp->workers[i].tp = tp;
        tp->workers[i].ith = i + 1;
        if (pthread_create(&tp->workers[i].thread, NULL, worker_main, &tp->workers[i]) != 0) {
            tp->n = i + 1; /* join exactly the ones started */
            osr_threadpool_free(tp);
            return OSR_EIO;
        }
    }
    *out = tp;
    return OSR_OK;
}

void osr_threadpool_free(struct osr_threadpool *tp)
{
    if (!tp)
        return;
    atomic_store(&tp->stop, 1);
    atomic_fetch_add(&tp->gen, 1);
    futex_wake_all(&tp->gen);
    for (int i = 0; i < tp->n - 1; i++)
        pthread_join(tp->workers[i].thread, NULL);
    free(tp->workers);
    free(tp);
}

int osr_threadpool_size(const struct osr_threadpool *tp)
{
    return tp ? tp->n : 1;
}

void osr_threadpool_run(struct osr_threadpool *tp, osr_threadpool_fn fn, void *arg)
{
    if (!tp || tp->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    tp->fn = fn;
    tp->arg = arg;
    atomic_store(&tp->done, 0);
    atomic_fetch_add(&tp->gen, 1); /* seq_cst: publishes fn/arg and orders before the wake check */
    wake(tp, &tp->gen);
    fn(arg, 0, tp->n);
    uint32_t want = (uint32_t)tp->n - 1;
    uint32_t d = atomic_load_explicit(&tp->done, memory_order_acquire);
    while (d != want)
        d = wait_change(tp, &tp->done, d);
}

void osr_threadpool_barrier(struct osr_threadpool *tp)
{
    if (!tp || tp->n == 1)
        return;
    uint32_t phase = atomic_load_explicit(&tp->barrier_phase, memory_order_acquire);
    if (atomic_fetch_add(&tp->barrier_count, 1) + 1 == (uint32_t)tp->n) {
        atomic_store(&tp->barrier_count, 0);
        atomic_fetch_add(&tp->barrier_phase, 1);
        wake(tp, &tp->barrier_phase);
        return;
    }
    wait_change(tp, &tp->barrier_phase, phase);
}
