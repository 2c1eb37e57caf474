/* taskq: the lock-free bounded MPMC task queue and the thread pool (spk_taskq, spk_pool). */

/* ---------------------------------------------------------------- spk_taskq
 * A bounded multi-producer multi-consumer queue of `void *` items (any value,
 * NULL included; the queue never looks at them), in one ring of cells, each
 * with its own sequence number. No locks: a push or a pop claims a position
 * with one compare-and-swap and then hands the cell over with one store.
 *
 * The capacity is rounded up to a power of two (1 stays 1). Pushing into a
 * full queue fails (try_push) or waits (push); popping from an empty one
 * fails (try_pop) or waits (pop) until an item arrives or the queue is closed
 * and drained. Waiting retries a few times at once and then yields the
 * processor (thrd_yield) before every further try: no call busy-spins. */
typedef struct spk_taskq spk_taskq;

/* The largest capacity spk_taskq_new accepts: 2^60 on 64-bit systems,
 * 2^28 on 32-bit ones (the cells must fit in memory long before that). */
#define SPK_TASKQ_MAX_CAPACITY (SIZE_MAX / 16 + 1)

/* Creates an empty queue holding up to `capacity` items, rounded up to a
 * power of two. SPK_ERR_ARG for capacity 0, SPK_ERR_LIMIT above
 * SPK_TASKQ_MAX_CAPACITY, SPK_ERR_NOMEM; *out is set only on success. */
SPKDEF spk_status spk_taskq_new(const spk_allocator *alloc, size_t capacity, spk_taskq **out);

/* TEST HOOK: spk_taskq_new with the internal positions starting at
 * `start_pos` instead of 0. Positions count every push and pop and wrap
 * around at SIZE_MAX; start near SIZE_MAX (or near SIZE_MAX / 2, where the
 * cells' sequence numbers, which run at twice the speed, wrap) to test what
 * years of traffic would reach. Behaves exactly like a fresh queue. */
SPKDEF spk_status spk_taskq_new_at(const spk_allocator *alloc, size_t capacity, size_t start_pos,
                                   spk_taskq **out);

/* Frees the queue (NULL is fine); items still in it are dropped: they are
 * only pointers, the caller owns what they point to. No call on the queue
 * may run or start in another thread. */
SPKDEF void spk_taskq_free(spk_taskq *q);

/* The capacity after rounding. */
SPKDEF size_t spk_taskq_capacity(const spk_taskq *q);

/* The number of items (pushes claimed minus pops claimed), 0..capacity. A
 * snapshot: exact when no push or pop runs at the same time. */
SPKDEF size_t spk_taskq_size(spk_taskq *q);

/* Appends `item`. false, with nothing changed, when the queue is full or
 * closed. Never waits for space; see THREAD SAFETY for the one case where it
 * waits, briefly, for another thread. */
SPKDEF bool spk_taskq_try_push(spk_taskq *q, void *item);

/* Removes the oldest item into *item. false, with *item unchanged, when the
 * queue is empty (closed or not). */
SPKDEF bool spk_taskq_try_pop(spk_taskq *q, void **item);

/* Blocking forms: retry until they succeed, yielding the processor between
 * tries. push returns false only if the queue is (or becomes) closed, with
 * the item not added; pop returns false only once the queue is closed and
 * empty. */
SPKDEF bool spk_taskq_push(spk_taskq *q, void *item);
SPKDEF bool spk_taskq_pop(spk_taskq *q, void **item);

/* Closes the queue for pushing: every push that starts after this returns
 * false; pops go on until the items already in it are gone, then pop (the
 * blocking one) returns false instead of waiting. A push running at the same
 * time as close may still succeed, so close after the producers are done
 * when no item may be left behind. Closing twice is harmless; there is no
 * reopening. */
SPKDEF void spk_taskq_close(spk_taskq *q);
SPKDEF bool spk_taskq_is_closed(spk_taskq *q);

/* ---------------------------------------------------------------- spk_pool
 * A fixed set of worker threads running tasks (a function and its argument)
 * taken from a spk_taskq. Idle workers sleep on a condition variable and are
 * woken by the next submit. Tasks are counted in wait-groups: each pool has
 * one for spk_pool_submit / spk_pool_wait, and spk_waitgroup_new makes more,
 * so that several batches (several queries) can share one pool and be
 * joined separately.
 *
 * A thread waiting for a group, or submitting into a full queue, runs queued
 * tasks itself (of any group) until it can go on: a task may therefore
 * submit tasks and wait for them, even on a one-worker pool, without
 * deadlock — but it must wait on a group it is not itself counted in. */
typedef struct spk_pool spk_pool;
typedef struct spk_waitgroup spk_waitgroup;

/* A task. It runs exactly once, on a worker or on a thread that helps in
 * spk_pool_submit / spk_waitgroup_wait; it must not call thrd_exit. */
typedef void (*spk_task_fn)(void *arg);

/* The most worker threads a pool may have; 0 (the default) asks for one per
 * online core, which is capped at this. */
#define SPK_POOL_MAX_THREADS 1024
/* The task queue capacity a pool gets when spk_pool_new is given 0. */
#define SPK_POOL_DEFAULT_QUEUE 4096

/* Online processor cores: on Linux the count in
 * /sys/devices/system/cpu/online (affinity masks and cgroup quotas are not
 * taken into account); elsewhere, or if that cannot be read, the
 * implementation's SPK_DEFAULT_THREADS (2 unless defined before the
 * implementation is included). Always >= 1. */
SPKDEF int spk_cpu_count(void);

/* The number of CPUs in a Linux CPU list such as "0-3,8,10-11\n" (the format
 * of /sys/devices/system/cpu/online): 7 here; -1 if the text is not such a
 * list. Used by spk_cpu_count, exposed for its tests. */
SPKDEF int spk_cpu_list_count(const char *list);

/* Starts a pool of `nthreads` workers (0 = spk_cpu_count()) taking tasks from
 * a queue of `queue_capacity` (0 = SPK_POOL_DEFAULT_QUEUE; rounded up to a
 * power of two). SPK_ERR_ARG for a negative count or one above
 * SPK_POOL_MAX_THREADS; SPK_ERR_NOMEM; SPK_ERR_LIMIT when the system refuses a
 * thread. On failure, workers already started are stopped and joined and
 * nothing is leaked. */
SPKDEF spk_status spk_pool_new(const spk_allocator *alloc, int nthreads, size_t queue_capacity,
                               spk_pool **out);

/* Stops the pool (NULL is fine): every task already queued, and every task
 * those submit, runs first; then the workers are joined and everything is
 * freed. Call it from outside the pool's tasks, after the last submit from
 * any thread other than the pool's own tasks. Wait-groups made for the pool
 * must be freed before it. */
SPKDEF void spk_pool_free(spk_pool *pool);

SPKDEF int spk_pool_nthreads(const spk_pool *pool);

/* Queues fn(arg) in the pool's own wait-group. If the queue is full, the
 * calling thread runs queued tasks until there is room, so this never waits
 * for a worker. SPK_ERR_ARG for a NULL function. Any thread may submit,
 * tasks included. */
SPKDEF spk_status spk_pool_submit(spk_pool *pool, spk_task_fn fn, void *arg);

/* Returns once every task submitted with spk_pool_submit before this call
 * (and every task submitted that way while it waits) has finished, running
 * queued tasks on the calling thread meanwhile. Everything those tasks did
 * happens before the return. Must not be called from a task submitted with
 * spk_pool_submit (that task would wait for itself). */
SPKDEF void spk_pool_wait(spk_pool *pool);

/* A wait-group: a count of unfinished tasks submitted through it, to join
 * one batch of the pool's tasks. Any number may be in use at once. */
SPKDEF spk_status spk_waitgroup_new(spk_pool *pool, spk_waitgroup **out);
/* Frees the group (NULL is fine); its tasks must have finished (wait first). */
SPKDEF void spk_waitgroup_free(spk_waitgroup *group);
/* As spk_pool_submit, counted in `group` instead of the pool's own group. */
SPKDEF spk_status spk_waitgroup_submit(spk_waitgroup *group, spk_task_fn fn, void *arg);
/* As spk_pool_wait, for the tasks of `group`; the group can be reused after. */
SPKDEF void spk_waitgroup_wait(spk_waitgroup *group);

/* TEST HOOK: the next spk_pool_new called on this thread fails to start its
 * worker number `worker` (1-based) as if the system had refused the thread;
 * 0 disarms. Fires once. */
SPKDEF void spk_pool_fail_thread_start(int worker);

/* Thread-safety guarantees of spk_taskq and spk_pool: see THREAD SAFETY in
 * the doc block at the top of sparkless.h. */
