/* Allocation for kernel scratch space. Kernels have no error path (they are called in the
 * middle of a graph pass), and their scratch is small next to the graph's own arena, which
 * is allocated and checked up front; running out here means the machine is already lost,
 * so the process stops with a message instead of computing garbage. */
#ifndef LM_MEM_H
#define LM_MEM_H

#include <stdio.h>
#include <stdlib.h>

static inline void *lm_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "loom: out of memory allocating %zu bytes of scratch (use a smaller --batch or model)\n",
                n * size);
        abort();
    }
    return p;
}

#endif
