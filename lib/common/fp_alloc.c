/*
 * fp_alloc.c - allocation wrapper with failure injection for tests.
 */
#include "fp_alloc.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long g_fail_after = -1;

/* jansson allocates through this wrapper too, so that failure injection reaches every JSON
 * value the project parses or builds, and the paths that handle a NULL from json_loads,
 * json_pack or json_object are tested like any other. It is set in a constructor, before
 * main and so before any jansson call of the process: no binary, test or fuzz harness can
 * forget it, and no value is allocated by one allocator and freed by the other. Every
 * program that links fpcommon and allocates with it gets this object, hence the hook. */
__attribute__((constructor)) static void jansson_through_fp_alloc(void)
{
    json_set_alloc_funcs(fp_malloc, fp_free);
}

void fp_alloc_fail_after(long n)
{
    atomic_store(&g_fail_after, n);
}

/* True when failure injection says this allocation must fail. */
static int should_fail(void)
{
    long n = atomic_load(&g_fail_after);
    if (n < 0)
        return 0;
    if (n == 0)
        return 1;
    atomic_fetch_sub(&g_fail_after, 1);
    return 0;
}

void *fp_malloc(size_t n_byte)
{
    return should_fail() ? NULL : malloc(n_byte ? n_byte : 1);
}

void *fp_calloc(size_t n_elem, size_t n_byte)
{
    return should_fail() ? NULL : calloc(n_elem ? n_elem : 1, n_byte ? n_byte : 1);
}

void *fp_realloc(void *p, size_t n_byte)
{
    return should_fail() ? NULL : realloc(p, n_byte ? n_byte : 1);
}

char *fp_strdup(const char *z)
{
    return z ? fp_strndup(z, strlen(z)) : NULL;
}

char *fp_strndup(const char *z, size_t n)
{
    char *p;

    if (!z)
        return NULL;
    p = fp_malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, z, n);
    p[n] = '\0';
    return p;
}

void fp_free(void *p)
{
    free(p);
}
