// LD_PRELOAD malloc counter for measuring heap allocations per image or frame (bench/, issues 19 and 20):
// counts malloc/calloc/realloc/posix_memalign/aligned_alloc calls and, at exit, prints the total to stderr.
// SIGUSR1 prints the running count (so a driver can take differences between points of a run).
//   cc -O2 -shared -fPIC -o OUT.so tools/malloc-count/malloc_count.c -ldl
//   LD_PRELOAD=OUT.so edge-seg run ...
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_long calls;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

// dlsym's own calloc before real_calloc is known: a small static pool.
static char pool[4096];
static size_t pool_used;

static void report(const char *what) {
  char buf[96];
  int n = snprintf(buf, sizeof buf, "malloc-count: %s %ld\n", what, atomic_load(&calls));
  if (n > 0) write(2, buf, (size_t)n);
}
static void on_signal(int s) { (void)s; report("now"); }
static void at_end(void) { report("total"); }

__attribute__((constructor)) static void init(void) {
  real_malloc = dlsym(RTLD_NEXT, "malloc");
  real_calloc = dlsym(RTLD_NEXT, "calloc");
  real_realloc = dlsym(RTLD_NEXT, "realloc");
  real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  signal(SIGUSR1, on_signal);
  atexit(at_end);
}

void *malloc(size_t n) {
  if (!real_malloc) init();
  atomic_fetch_add(&calls, 1);
  return real_malloc(n);
}
void *calloc(size_t a, size_t b) {
  if (!real_calloc) {
    void *p = pool + pool_used;
    pool_used += (a * b + 15) & ~(size_t)15;
    memset(p, 0, a * b);
    return p;
  }
  atomic_fetch_add(&calls, 1);
  return real_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  if (!real_realloc) init();
  atomic_fetch_add(&calls, 1);
  return real_realloc(p, n);
}
int posix_memalign(void **p, size_t a, size_t n) {
  if (!real_posix_memalign) init();
  atomic_fetch_add(&calls, 1);
  return real_posix_memalign(p, a, n);
}
void *aligned_alloc(size_t a, size_t n) {
  if (!real_aligned_alloc) init();
  atomic_fetch_add(&calls, 1);
  return real_aligned_alloc(a, n);
}
void free(void *p) {
  static void (*real_free)(void *);
  if (p >= (void *)pool && p < (void *)(pool + sizeof pool)) return;
  if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
  real_free(p);
}
