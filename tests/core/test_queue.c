/* test_queue.c - the bounded queue: order, timeouts, close semantics across threads, and a
 * producer/consumer run that must lose nothing. */
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "osr/clock.h"
#include "osr/err.h"
#include "osr/queue.h"

#define ITEM(i) ((void *)(uintptr_t)(i))

static void test_fifo(void)
{
    struct osr_queue *q = osr_queue_new(4);
    for (uintptr_t i = 1; i <= 4; i++)
        CHECK_INT_EQ(osr_queue_push(q, ITEM(i), 0), OSR_OK);
    CHECK_INT_EQ(osr_queue_len(q), 4);
    void *it = NULL;
    CHECK_INT_EQ(osr_queue_pop(q, &it, 0), OSR_OK);
    CHECK(it == ITEM(1));
    CHECK_INT_EQ(osr_queue_push(q, ITEM(5), 0), OSR_OK); /* wraps around the ring */
    for (uintptr_t want = 2; want <= 5; want++) {
        CHECK_INT_EQ(osr_queue_pop(q, &it, 0), OSR_OK);
        CHECK(it == ITEM(want));
    }
    CHECK_INT_EQ(osr_queue_len(q), 0);
    osr_queue_free(q, NULL);
}

static void test_timeouts(void)
{
    struct osr_queue *q = osr_queue_new(1);
    void *it = ITEM(77);
    CHECK_INT_EQ(osr_queue_pop(q, &it, 0), OSR_ETIMEOUT);
    int64_t t0 = osr_mono_ns();
    CHECK_INT_EQ(osr_queue_pop(q, &it, 50), OSR_ETIMEOUT);
    int64_t waited = osr_mono_ns() - t0;
    CHECK(waited >= 45 * 1000000LL); /* it did wait */
    CHECK(waited < 5000 * 1000000LL);
    CHECK(it == ITEM(77)); /* untouched on timeout */

    CHECK_INT_EQ(osr_queue_push(q, ITEM(1), 0), OSR_OK);
    CHECK_INT_EQ(osr_queue_push(q, ITEM(2), 0), OSR_ETIMEOUT); /* full */
    t0 = osr_mono_ns();
    CHECK_INT_EQ(osr_queue_push(q, ITEM(2), 30), OSR_ETIMEOUT);
    CHECK(osr_mono_ns() - t0 >= 25 * 1000000LL);
    CHECK_INT_EQ(osr_queue_len(q), 1);
    /* A huge timeout must not overflow into an instant timeout. */
    CHECK_INT_EQ(osr_queue_pop(q, &it, INT64_MAX), OSR_OK);
    CHECK(it == ITEM(1));
    osr_queue_free(q, NULL);
}

struct waiter {
    struct osr_queue *q;
    int rc;
    void *item;
    int64_t waited_ns;
};

static void *pop_forever(void *arg)
{
    struct waiter *w = arg;
    int64_t t0 = osr_mono_ns();
    w->rc = osr_queue_pop(w->q, &w->item, -1);
    w->waited_ns = osr_mono_ns() - t0;
    return NULL;
}

static void *push_forever(void *arg)
{
    struct waiter *w = arg;
    int64_t t0 = osr_mono_ns();
    w->rc = osr_queue_push(w->q, ITEM(99), -1);
    w->waited_ns = osr_mono_ns() - t0;
    return NULL;
}

static void test_close_wakes_popper(void)
{
    struct osr_queue *q = osr_queue_new(2);
    struct waiter w = {q, 12345, ITEM(5), 0};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, pop_forever, &w) == 0);
    osr_sleep_ms(50); /* let it block */
    osr_queue_close(q);
    pthread_join(th, NULL);
    CHECK_INT_EQ(w.rc, OSR_ECLOSED);
    CHECK(w.item == ITEM(5));
    CHECK(w.waited_ns >= 30 * 1000000LL); /* it really was blocked */
    CHECK(osr_queue_is_closed(q));
    osr_queue_free(q, NULL);
}

static void test_close_wakes_pusher(void)
{
    struct osr_queue *q = osr_queue_new(1);
    CHECK_INT_EQ(osr_queue_push(q, ITEM(1), 0), OSR_OK);
    struct waiter w = {q, 12345, NULL, 0};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, push_forever, &w) == 0);
    osr_sleep_ms(50);
    osr_queue_close(q);
    pthread_join(th, NULL);
    CHECK_INT_EQ(w.rc, OSR_ECLOSED);
    CHECK(w.waited_ns >= 30 * 1000000LL);
    /* The item pushed before the close is still there; the blocked one was not taken. */
    CHECK_INT_EQ(osr_queue_len(q), 1);
    osr_queue_free(q, NULL);
}

static void test_push_wakes_popper(void)
{
    struct osr_queue *q = osr_queue_new(2);
    struct waiter w = {q, 12345, NULL, 0};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, pop_forever, &w) == 0);
    osr_sleep_ms(20);
    CHECK_INT_EQ(osr_queue_push(q, ITEM(42), -1), OSR_OK);
    pthread_join(th, NULL);
    CHECK_INT_EQ(w.rc, OSR_OK);
    CHECK(w.item == ITEM(42));
    osr_queue_free(q, NULL);
}

static void test_drain_after_close(void)
{
    struct osr_queue *q = osr_queue_new(3);
    CHECK_INT_EQ(osr_queue_push(q, ITEM(1), 0), OSR_OK);
    CHECK_INT_EQ(osr_queue_push(q, ITEM(2), 0), OSR_OK);
    CHECK(!osr_queue_is_closed(q));
    osr_queue_close(q);
    osr_queue_close(q); /* twice is fine */
    CHECK_INT_EQ(osr_queue_push(q, ITEM(3), 0), OSR_ECLOSED);
    CHECK_INT_EQ(osr_queue_push(q, ITEM(3), -1), OSR_ECLOSED);
    void *it = NULL;
    CHECK_INT_EQ(osr_queue_pop(q, &it, -1), OSR_OK);
    CHECK(it == ITEM(1));
    CHECK_INT_EQ(osr_queue_pop(q, &it, 0), OSR_OK);
    CHECK(it == ITEM(2));
    CHECK_INT_EQ(osr_queue_pop(q, &it, -1), OSR_ECLOSED); /* drained: no waiting */
    CHECK_INT_EQ(osr_queue_pop(q, &it, 100), OSR_ECLOSED);
    osr_queue_free(q, NULL);
}

static int freed;
static void count_free(void *p)
{
    freed++;
    free(p);
}

static void test_free_items(void)
{
    struct osr_queue *q = osr_queue_new(3);
    for (int i = 0; i < 3; i++)
        CHECK_INT_EQ(osr_queue_push(q, malloc(8), 0), OSR_OK);
    void *it;
    CHECK_INT_EQ(osr_queue_pop(q, &it, 0), OSR_OK);
    free(it);
    CHECK_INT_EQ(osr_queue_push(q, malloc(8), 0), OSR_OK); /* wrapped */
    freed = 0;
    osr_queue_free(q, count_free);
    CHECK_INT_EQ(freed, 3);
    osr_queue_free(NULL, NULL);
}

#define N_ITEMS 100000

static void *producer(void *arg)
{
    struct osr_queue *q = arg;
    for (uintptr_t i = 1; i <= N_ITEMS; i++)
        if (osr_queue_push(q, ITEM(i), -1) != OSR_OK)
            return ITEM(1);
    osr_queue_close(q);
    return NULL;
}

static void test_producer_consumer(void)
{
    struct osr_queue *q = osr_queue_new(16);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, producer, q) == 0);
    uintptr_t expect = 1, count = 0;
    int in_order = 1;
    void *it;
    int rc;
    while ((rc = osr_queue_pop(q, &it, 10000)) == OSR_OK) {
        in_order &= (uintptr_t)it == expect;
        expect++;
        count++;
    }
    void *prc = ITEM(7);
    pthread_join(th, &prc);
    CHECK(prc == NULL);
    CHECK_INT_EQ(rc, OSR_ECLOSED);
    CHECK_INT_EQ(count, N_ITEMS);
    CHECK(in_order);
    osr_queue_free(q, NULL);
}

TEST_MAIN(test_fifo, test_timeouts, test_close_wakes_popper, test_close_wakes_pusher,
          test_push_wakes_popper, test_drain_after_close, test_free_items, test_producer_consumer)
