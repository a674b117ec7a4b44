/*
 * Memory advice for large host buffers (see memory.c).
 */
#ifndef HRM_MEMORY_H
#define HRM_MEMORY_H

#include <stddef.h>

#define HRM_HUGE_PAGE ((size_t)2 << 20)

/* Backs the whole 2 MB pages of [p + off, p + off + need) with transparent huge pages, where off (returned)
 * brings p up to a 2 MB boundary; -1 when nothing was advised (not Linux, off + need past len, no whole 2 MB
 * page in need, or the kernel refused). */
long hrm_advise_huge_pages(void *p, size_t len, size_t need);

#endif
