/*
 * fieldplane/fp_log.h - structured logging to stderr (part of the connector SDK).
 *
 * One line per event: `2026-11-26T13:40:01.123Z level=info mod=registry msg="..." k=v`.
 * The level comes from fp_log_set_level() or the FIELDPLANE_LOG environment
 * variable (error, warn, info, debug). FIELDPLANE_LOG_FORMAT=json switches to one
 * JSON object per line. A connector logs with its own name as mod; the runtime sets the
 * level from --log-level. Logging is thread-safe.
 */
#ifndef FP_LOG_H
#define FP_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fp_log_level {
    FP_LOG_ERROR = 0,
    FP_LOG_WARN,
    FP_LOG_INFO,
    FP_LOG_DEBUG,
} fp_log_level;

/* Log events of level and more severe ones from now on. */
void fp_log_set_level(fp_log_level level);
/* Parse "error|warn|info|debug"; returns -1 for anything else. */
int fp_log_parse_level(const char *z);
/* Non-zero when events of level are logged (to skip building a costly message). */
int fp_log_enabled(fp_log_level level);

/* Log msg (printf format) from module mod at level. */
void fp_log(fp_log_level level, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define fp_log_error(mod, ...) fp_log(FP_LOG_ERROR, mod, __VA_ARGS__)
#define fp_log_warn(mod, ...) fp_log(FP_LOG_WARN, mod, __VA_ARGS__)
#define fp_log_info(mod, ...) fp_log(FP_LOG_INFO, mod, __VA_ARGS__)
#define fp_log_debug(mod, ...)                                                                     \
    do {                                                                                           \
        if (fp_log_enabled(FP_LOG_DEBUG))                                                          \
            fp_log(FP_LOG_DEBUG, mod, __VA_ARGS__);                                                \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
