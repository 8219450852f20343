// The one atomic the Swift side needs (parallelForWorkers' shared item counter), without a package.
#include "es_kernels.h"

long es_atomic_fetch_increment(long *counter) { return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }
