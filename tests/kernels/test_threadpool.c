/* Tests for the compute thread pool: every thread runs each job exactly once, barriers order
 * writes, NULL and one-thread pools run on the caller, and many quick runs do not lose a
 * wake-up. */
#include <stdatomic.h>

#include "check.h"
#include "osr/err.h"
#include "osr/threadpool.h"

struct count_job {
    _Atomic int calls;
    _Atomic int mask; /* bit ith set by thread ith */
    int nth_seen;
};

static void count_fn(void *arg, int ith, int nth)
{
    struct count_job *j = arg;
    atomic_fetch_add(&j->calls, 1);
    atomic_fetch_or(&j->mask, 1 << ith);
    if (ith == 0)
        j->nth_seen = nth;
}

static void test_bad_counts(void)
{
    struct osr_threadpool *tp = (struct osr_threadpool *)1;
    CHECK_INT_EQ(osr_threadpool_new(0, &tp), OSR_EINVAL);
    CHECK(tp == NULL);
    CHECK_INT_EQ(osr_threadpool_new(OSR_THREADPOOL_MAX + 1, &tp), OSR_EINVAL);
    osr_threadpool_free(NULL);
    CHECK_INT_EQ(osr_threadpool_size(NULL), 1);
}

static void test_runs_every_thread(void)
{
    for (int n = 1; n <= 4; n++) {
        struct osr_threadpool *tp;
        REQUIRE(osr_threadpool_new(n, &tp) == OSR_OK);
        CHECK_INT_EQ(osr_threadpool_size(tp), n);
        for (int r = 0; r < 200; r++) {
            struct count_job j = {0};
            osr_threadpool_run(tp, count_fn, &j);
            if (atomic_load(&j.calls) != n || atomic_load(&j.mask) != (1 << n) - 1 ||
                j.nth_seen != n) {
                CHECK(!"a run missed or repeated a thread");
                break;
            }
        }
        CHECK(1);
        osr_threadpool_free(tp);
    }
    struct count_job j = {0};
    osr_threadpool_run(NULL, count_fn, &j);
    CHECK_INT_EQ(atomic_load(&j.calls), 1);
    CHECK_INT_EQ(j.nth_seen, 1);
}

#define ROUNDS 50

struct barrier_job {
    struct osr_threadpool *tp;
    int slots[8][ROUNDS];
    _Atomic int errors;
};

/* Each round: every thread writes its slot, meets the others, and checks all slots of the
 * round are written (a barrier that let someone through early would show a zero). */
static void barrier_fn(void *arg, int ith, int nth)
{
    struct barrier_job *j = arg;
    for (int r = 0; r < ROUNDS; r++) {
        j->slots[ith][r] = r + 1;
        osr_threadpool_barrier(j->tp);
        for (int t = 0; t < nth; t++)
            if (j->slots[t][r] != r + 1)
                atomic_fetch_add(&j->errors, 1);
        osr_threadpool_barrier(j->tp);
    }
}

static void test_barrier(void)
{
    for (int n = 1; n <= 4; n++) {
        struct osr_threadpool *tp;
        REQUIRE(osr_threadpool_new(n, &tp) == OSR_OK);
        for (int rep = 0; rep < 5; rep++) {
            struct barrier_job j = {.tp = tp};
            osr_threadpool_run(tp, barrier_fn, &j);
            CHECK_INT_EQ(atomic_load(&j.errors), 0);
        }
        osr_threadpool_free(tp);
    }
}

struct sum_job {
    const int *v;
    int n;
    long long partial[8];
};

static void sum_fn(void *arg, int ith, int nth)
{
    struct sum_job *j = arg;
    long long s = 0;
    for (int i = j->n * ith / nth; i < j->n * (ith + 1) / nth; i++)
        s += j->v[i];
    j->partial[ith] = s;
}

static void test_results_visible_after_run(void)
{
    static int v[10000];
    long long want = 0;
    for (int i = 0; i < 10000; i++) {
        v[i] = i * 7 % 13;
        want += v[i];
    }
    struct osr_threadpool *tp;
    REQUIRE(osr_threadpool_new(3, &tp) == OSR_OK);
    int bad = 0;
    for (int r = 0; r < 300; r++) {
        struct sum_job j = {.v = v, .n = 10000};
        osr_threadpool_run(tp, sum_fn, &j);
        if (j.partial[0] + j.partial[1] + j.partial[2] != want)
            bad++;
    }
    CHECK_INT_EQ(bad, 0);
    osr_threadpool_free(tp);
}

TEST_MAIN(test_bad_counts, test_runs_every_thread, test_barrier, test_results_visible_after_run)
