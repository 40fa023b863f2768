/*
 * fp_status.c - names and HTTP statuses of fp_status, from one table, and the helpers that
 * write a failure's message (fp_set_err, fp_choices_text).
 */
#include <stdarg.h>
#include <stdio.h>

#include "fp_status.h"

static const struct {
    const char *name;
    int http;
} k_status[FP_STATUS_COUNT] = {
    [FP_OK] = {"OK", 200},
    [FP_ERR_INVALID] = {"InvalidRequest", 400},
    [FP_ERR_NOT_FOUND] = {"NotFound", 404},
    [FP_ERR_CONFLICT] = {"Conflict", 409},
    [FP_ERR_PRECONDITION] = {"PreconditionFailed", 412},
    [FP_ERR_UNAUTHORIZED] = {"Unauthorized", 401},
    [FP_ERR_FORBIDDEN] = {"Forbidden", 403},
    [FP_ERR_TOO_LARGE] = {"PayloadTooLarge", 413},
    [FP_ERR_GONE] = {"Gone", 410},
    [FP_ERR_NOMEM] = {"OutOfMemory", 503},
    [FP_ERR_IO] = {"StorageError", 500},
    [FP_ERR_UNAVAILABLE] = {"Unavailable", 503},
    [FP_ERR_INTERNAL] = {"InternalError", 500},
};

const char *fp_status_name(fp_status st)
{
    if ((unsigned)st >= FP_STATUS_COUNT)
        return "Unknown";
    return k_status[st].name;
}

int fp_status_http(fp_status st)
{
    if ((unsigned)st >= FP_STATUS_COUNT)
        return 500;
    return k_status[st].http;
}

void fp_set_err(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;

    if (!err || err_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

void fp_choices_text(const char *const *choices, char *out, size_t out_len)
{
    size_t n = 0, len = 0;

    if (!out || out_len == 0)
        return;
    out[0] = '\0';
    while (choices && choices[n])
        n++;
    for (size_t i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(out + len, out_len - len, "%s\"%s\"", sep, choices[i]);
        if (w < 0 || (size_t)w >= out_len - len)
            return; /* cut: snprintf left it NUL-terminated */
        len += (size_t)w;
    }
}
