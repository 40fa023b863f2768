/*
 * fieldplane/fp_alloc.h - the one allocation wrapper of Fieldplane (part of the connector SDK).
 *
 * Every heap allocation of the project goes through these functions so that tests
 * can inject failures (fp_alloc_fail_after) and check that each error path frees
 * what it took; jansson's allocations do too (the library sets json_set_alloc_funcs to
 * these at process start). They behave like their libc counterparts: they return NULL when
 * allocation fails (or is made to fail), and fp_free(NULL) does nothing. Memory the SDK
 * hands to a connector to free (fp_buf_take) comes from here, so free it with fp_free.
 */
#ifndef FP_ALLOC_H
#define FP_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* malloc, calloc and realloc; NULL when allocation fails. */
void *fp_malloc(size_t n_byte);
void *fp_calloc(size_t n_elem, size_t n_byte);
void *fp_realloc(void *p, size_t n_byte);
/* A copy of the string z (of at most its first n bytes), NUL-terminated; NULL on failure. */
char *fp_strdup(const char *z);
char *fp_strndup(const char *z, size_t n);
/* Free what the functions above returned; NULL is a no-op. */
void fp_free(void *p);

/* Make the n-th allocation from now (0 = the next one) and all later ones fail;
 * a negative n switches failure injection off. For tests only. */
void fp_alloc_fail_after(long n);

#ifdef __cplusplus
}
#endif

#endif
