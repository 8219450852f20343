// What the Swift side needs for its parallel loops, without a package: the shared item counter's atomic,
// and a persistent worker pool (Kernels/Parallel.swift). The pool's threads stay alive between loops
// and wait for the next one spinning briefly, then asleep (a futex on Linux; elsewhere short sleeps), so a
// loop costs no thread wake-up when loops follow each other closely (a forward pass runs hundreds, many
// of them small: DETR's decoder) and no allocation (DispatchQueue.concurrentPerform allocated per call).
// (A pthread condition variable deadlocked here under many waiters: glibc 2.36's broadcast waited in
// __condvar_quiesce_and_switch_g1 for waiters blocked on the mutex it held.)
#include "es_kernels.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
static void es_futex_wait(int *word, int expected) { syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0); }
static void es_futex_wake(int *word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0); }
#else
static void es_futex_wait(int *word, int expected) {
  (void)word; (void)expected;
  const struct timespec t = {0, 50000};
  nanosleep(&t, 0);
}
static void es_futex_wake(int *word) { (void)word; }
#endif

long es_atomic_fetch_increment(long *counter) { return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }

#define ES_POOL_MAX 63
#define ES_SPINS 4000   // ~0.1 ms of pause loops before sleeping

static inline void es_relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

static pthread_mutex_t es_pool_owner = PTHREAD_MUTEX_INITIALIZER;  // one loop at a time; others fall back
static int es_pool_word;                     // changes with every job: what sleeping threads wait on
static int es_pool_sleepers;                 // threads past their spin, about to sleep or asleep
static int es_pool_resting;                  // set by es_pool_rest, cleared by the next job: sleep without spinning
static long es_pool_threads;                 // threads started (only the owner touches it)
static unsigned long es_pool_seq;            // even: the job below is published and stable; odd: being written
static unsigned long es_pool_start_seq[ES_POOL_MAX + 1];
// The job, written by the owner between an odd and the next even es_pool_seq, read by the threads (relaxed
// atomics: a thread rereads es_pool_seq after reading them, seqlock style).
static es_pool_fn es_job_fn;
static void *es_job_ctx;
static long es_job_count, es_job_workers, es_job_next, es_job_remaining;

static void *es_pool_main(void *arg) {
  const long k = (long)arg;
  unsigned long seen = es_pool_start_seq[k];
  for (;;) {
    unsigned long s;
    int spins = 0;
    for (;;) {
      s = __atomic_load_n(&es_pool_seq, __ATOMIC_ACQUIRE);
      if (s != seen && !(s & 1)) break;
      if (++spins < ES_SPINS && !__atomic_load_n(&es_pool_resting, __ATOMIC_RELAXED)) { es_relax(); continue; }
      // Announce the sleep, then recheck: a job published before the announcement is seen here, one after
      // it changes the word (or wakes the futex).
      __atomic_fetch_add(&es_pool_sleepers, 1, __ATOMIC_SEQ_CST);
      const int w = __atomic_load_n(&es_pool_word, __ATOMIC_SEQ_CST);
      s = __atomic_load_n(&es_pool_seq, __ATOMIC_SEQ_CST);
      if (s == seen || (s & 1)) es_futex_wait(&es_pool_word, w);
      __atomic_fetch_sub(&es_pool_sleepers, 1, __ATOMIC_SEQ_CST);
      spins = ES_SPINS - 64;   // after a wake-up (or a spurious one): recheck, then sleep again soon
    }
    const es_pool_fn fn = __atomic_load_n(&es_job_fn, __ATOMIC_RELAXED);
    void *const ctx = __atomic_load_n(&es_job_ctx, __ATOMIC_RELAXED);
    const long count = __atomic_load_n(&es_job_count, __ATOMIC_RELAXED), workers = __atomic_load_n(&es_job_workers, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&es_pool_seq, __ATOMIC_RELAXED) != s) continue;   // a newer job is being written: not ours
    seen = s;
    // A thread taking part in a job holds it open (es_job_remaining) until it is done, so the job cannot
    // change under it; threads past `workers` only note that they saw it.
    if (k >= workers) continue;
    for (;;) {
      const long i = __atomic_fetch_add(&es_job_next, 1, __ATOMIC_RELAXED);
      if (i >= count) break;
      fn(ctx, i, k);
    }
    __atomic_fetch_sub(&es_job_remaining, 1, __ATOMIC_RELEASE);
  }
  return 0;
}

int es_pool_run(long count, long workers, es_pool_fn fn, void *ctx) {
  if (workers < 2 || workers - 1 > ES_POOL_MAX) return -1;
  if (pthread_mutex_trylock(&es_pool_owner) != 0) return -1;
  const unsigned long s = __atomic_load_n(&es_pool_seq, __ATOMIC_RELAXED);
  while (es_pool_threads < workers - 1) {
    const long k = es_pool_threads + 1;
    es_pool_start_seq[k] = s;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 8u << 20);   // the loop bodies keep tiles and row buffers on the stack
    const int failed = pthread_create(&t, &attr, es_pool_main, (void *)k);
    pthread_attr_destroy(&attr);
    if (failed) { pthread_mutex_unlock(&es_pool_owner); return -1; }
    es_pool_threads = k;
  }
  __atomic_store_n(&es_pool_resting, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&es_pool_seq, s + 1, __ATOMIC_RELEASE);
  __atomic_store_n(&es_job_fn, fn, __ATOMIC_RELAXED);
  __atomic_store_n(&es_job_ctx, ctx, __ATOMIC_RELAXED);
  __atomic_store_n(&es_job_count, count, __ATOMIC_RELAXED);
  __atomic_store_n(&es_job_workers, workers, __ATOMIC_RELAXED);
  __atomic_store_n(&es_job_next, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&es_job_remaining, workers - 1, __ATOMIC_RELAXED);
  __atomic_store_n(&es_pool_seq, s + 2, __ATOMIC_SEQ_CST);
  __atomic_fetch_add(&es_pool_word, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&es_pool_sleepers, __ATOMIC_SEQ_CST) > 0) es_futex_wake(&es_pool_word);
  for (;;) {
    const long i = __atomic_fetch_add(&es_job_next, 1, __ATOMIC_RELAXED);
    if (i >= count) break;
    fn(ctx, i, 0);
  }
  for (long spins = 0; __atomic_load_n(&es_job_remaining, __ATOMIC_ACQUIRE) != 0; spins++) {
    if (spins < ES_SPINS) es_relax(); else sched_yield();
  }
  pthread_mutex_unlock(&es_pool_owner);
  return 0;
}

void es_pool_rest(void) { __atomic_store_n(&es_pool_resting, 1, __ATOMIC_RELAXED); }

// Per-thread scratch buffers (Kernels/Parallel.swift, `ThreadScratch`): grow-only, 64-byte aligned, one per
// slot and thread, freed when the thread ends; so a GEMM's tables and packing buffers are not a malloc per call.
#include <stdlib.h>

#define ES_SCRATCH_SLOTS 6
typedef struct { void *p[ES_SCRATCH_SLOTS]; size_t n[ES_SCRATCH_SLOTS]; } es_scratch_set;
static pthread_key_t es_scratch_key;
static pthread_once_t es_scratch_once = PTHREAD_ONCE_INIT;

static void es_scratch_free(void *v) {
  es_scratch_set *s = (es_scratch_set *)v;
  for (int i = 0; i < ES_SCRATCH_SLOTS; i++) free(s->p[i]);
  free(s);
}
static void es_scratch_init(void) { pthread_key_create(&es_scratch_key, es_scratch_free); }

void *es_thread_scratch(int slot, size_t bytes) {
  if (slot < 0 || slot >= ES_SCRATCH_SLOTS) return NULL;
  pthread_once(&es_scratch_once, es_scratch_init);
  es_scratch_set *s = (es_scratch_set *)pthread_getspecific(es_scratch_key);
  if (!s) {
    s = (es_scratch_set *)calloc(1, sizeof *s);
    if (!s) return NULL;
    if (pthread_setspecific(es_scratch_key, s) != 0) { free(s); return NULL; }
  }
  if (s->n[slot] < bytes || !s->p[slot]) {
    free(s->p[slot]);
    s->p[slot] = NULL;
    s->n[slot] = 0;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes < 64 ? 64 : bytes) != 0) return NULL;
    s->p[slot] = p;
    s->n[slot] = bytes;
  }
  return s->p[slot];
}
