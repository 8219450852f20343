// Shared by the GEMM microkernels (not part of the module's interface).
#ifndef ES_MICROKERNEL_H
#define ES_MICROKERNEL_H

// The A row pointers of a tile of up to 6 or 8 rows: rows past `mr` repeat row 0 (computed, never
// stored), so the unrolled loop needs no branch.
#define ES_A_ROWS6(T) const T *a0 = a[0], *a1 = a[1 < mr ? 1 : 0], *a2 = a[2 < mr ? 2 : 0], *a3 = a[3 < mr ? 3 : 0], \
                              *a4 = a[4 < mr ? 4 : 0], *a5 = a[5 < mr ? 5 : 0]
#define ES_A_ROWS8(T) ES_A_ROWS6(T), *a6 = a[6 < mr ? 6 : 0], *a7 = a[7 < mr ? 7 : 0]

#endif
