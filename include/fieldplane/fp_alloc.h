/*
 * fp_alloc.h - the one allocation wrapper of Fieldplane.
 *
 * Every heap allocation of the project goes through these functions so that tests
 * can inject failures (fp_alloc_fail_after) and check that each error path frees
 * what it took. They behave like their libc counterparts.
 */
#ifndef FP_ALLOC_H
#define FP_ALLOC_H

#include <stddef.h>

void *fp_malloc(size_t n_byte);
void *fp_calloc(size_t n_elem, size_t n_byte);
void *fp_realloc(void *p, size_t n_byte);
char *fp_strdup(const char *z);
char *fp_strndup(const char *z, size_t n);
void fp_free(void *p);

/* Make the n-th allocation from now (0 = the next one) and all later ones fail;
 * a negative n switches failure injection off. For tests only. */
void fp_alloc_fail_after(long n);

#endif
