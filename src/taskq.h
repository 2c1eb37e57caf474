/* taskq: the lock-free bounded MPMC task queue and the thread pool (spk_taskq, spk_pool). */
