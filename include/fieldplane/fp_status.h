/*
 * fieldplane/fp_status.h - the one status enum of Fieldplane, its names and HTTP mapping
 * (part of the connector SDK: the fp_buf functions return it).
 *
 * Functions named as actions return an fp_status; FP_OK is zero so that
 * `if (rc)` reads as "if it failed".
 */
#ifndef FP_STATUS_H
#define FP_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fp_status {
    FP_OK = 0,
    FP_ERR_INVALID,      /* bad input: a field, a flag, a document */
    FP_ERR_NOT_FOUND,    /* the named resource does not exist */
    FP_ERR_CONFLICT,     /* exists already, or still referenced */
    FP_ERR_PRECONDITION, /* If-Match / If-None-Match failed */
    FP_ERR_UNAUTHORIZED, /* no or unknown credentials */
    FP_ERR_FORBIDDEN,    /* credentials lack the role or namespace */
    FP_ERR_TOO_LARGE,    /* body or value over its limit */
    FP_ERR_GONE,         /* a watch revision was compacted away */
    FP_ERR_NOMEM,        /* allocation failed */
    FP_ERR_IO,           /* file, socket or database failure */
    FP_ERR_UNAVAILABLE,  /* peer not reachable, shutting down */
    FP_ERR_INTERNAL,     /* a bug: should not happen */
    FP_STATUS_COUNT
} fp_status;

/* A short stable name such as "NotFound" (used as the ARM error code). */
const char *fp_status_name(fp_status st);

/* The HTTP status code that answers a request failing with st. */
int fp_status_http(fp_status st);

/* Write a message (printf format) into err[err_len], if err is not NULL and has room:
 * the common way functions here explain a failure to their caller. */
void fp_set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The strings of a NULL-terminated list (a configuration row's choices) as they are named in
 * a message: `"auto", "basic" or "bearer"`, cut to fit out[out_len]. An empty or NULL list
 * gives "". So a message that lists the accepted values is made from the list it checks. */
void fp_choices_text(const char *const *choices, char *out, size_t out_len);

#ifdef __cplusplus
}
#endif

#endif
