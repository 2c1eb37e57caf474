/* Threads for the multithreaded tests: C11 <threads.h>, except under
 * ThreadSanitizer, whose runtimes in gcc 12 and clang 14 do not intercept
 * glibc's thrd_create (glibc 2.34+ no longer routes it through
 * pthread_create), so a thread started with it has no TSan state and crashes
 * on its first instrumented call. There the same functions are started
 * through pthreads (the library's own pool does the same). */
#ifndef SPK_TEST_THREADS_H
#define SPK_TEST_THREADS_H

#include <stdbool.h>
#include <threads.h>

#if defined(__SANITIZE_THREAD__)
#define MT_PTHREADS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MT_PTHREADS 1
#endif
#endif

#ifdef MT_PTHREADS
#include <pthread.h>
typedef struct mt_thread {
    pthread_t handle;
    int (*fn)(void *);
    void *arg;
} mt_thread;
static inline void *mt_trampoline(void *p) {
    mt_thread *t = (mt_thread *)p;
    t->fn(t->arg);
    return NULL;
}
static inline bool mt_start(mt_thread *t, int (*fn)(void *), void *arg) {
    t->fn = fn;
    t->arg = arg;
    return pthread_create(&t->handle, NULL, mt_trampoline, t) == 0;
}
static inline void mt_join(mt_thread *t) { pthread_join(t->handle, NULL); }
static inline void mt_detach(mt_thread *t) { pthread_detach(t->handle); }
#else
typedef struct mt_thread {
    thrd_t handle;
} mt_thread;
static inline bool mt_start(mt_thread *t, int (*fn)(void *), void *arg) {
    return thrd_create(&t->handle, fn, arg) == thrd_success;
}
static inline void mt_join(mt_thread *t) { thrd_join(t->handle, NULL); }
static inline void mt_detach(mt_thread *t) { thrd_detach(t->handle); }
#endif

#endif
