/*
 * fieldplane/fp_time.h - the clocks, RFC 3339 timestamps and random UUIDs of Fieldplane
 * (part of the connector SDK).
 *
 * One place for what every module needs to stamp and time its work: the monotonic clock
 * for timeouts, intervals and durations (it never jumps when the wall clock is set), the
 * wall clock in Unix milliseconds, the one text form of an instant that the resource model
 * and the CloudEvents `time` use ("2026-12-08T01:35:00.123Z": UTC, always milliseconds,
 * always "Z"), and version 4 UUIDs for resource and message ids. The registry, the CLI,
 * the connector runtime and connectors call these rather than keeping their own copies, so
 * that a timestamp written by one is byte for byte what another would write.
 */
#ifndef FP_TIME_H
#define FP_TIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- clocks ---------------------------------------------------------------------------------- */

/* The monotonic clock (CLOCK_MONOTONIC) in milliseconds: only differences mean something.
 * Use it for every deadline, interval and timeout. */
uint64_t fp_mono_ms(void);
/* The same clock in seconds with its full resolution, for measured durations (request
 * latencies, benchmarks) and deadlines kept as seconds. */
double fp_mono_s(void);

/* The wall clock (CLOCK_REALTIME) in milliseconds since 1970-01-01T00:00:00Z. */
int64_t fp_time_now_ms(void);

/* ---- RFC 3339 -------------------------------------------------------------------------------- */

/* Bytes of "YYYY-MM-DDTHH:MM:SS.mmmZ" with its NUL. */
#define FP_RFC3339_LEN 25
/* The instants that text can hold (four-digit years): 0000-01-01T00:00:00.000Z and
 * 9999-12-31T23:59:59.999Z, in Unix milliseconds. */
#define FP_RFC3339_MIN_MS (-62167219200000LL)
#define FP_RFC3339_MAX_MS 253402300799999LL

/* Write the instant unix_ms (milliseconds since the Unix epoch, negative before it) to out
 * as RFC 3339 in UTC with milliseconds: "2026-12-08T01:35:00.123Z", always 24 characters.
 * An instant outside [FP_RFC3339_MIN_MS, FP_RFC3339_MAX_MS] is written as the nearest end
 * of that range. Thread-safe; takes no lock (gmtime_r does). */
void fp_time_rfc3339(char out[FP_RFC3339_LEN], int64_t unix_ms);
/* The same for now (fp_time_now_ms). */
void fp_time_now_rfc3339(char out[FP_RFC3339_LEN]);

/* ---- UUIDs ----------------------------------------------------------------------------------- */

/* Bytes of "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" with its NUL. */
#define FP_UUID_LEN 37

/* A random (version 4, RFC 9562) UUID in lowercase hex into out. The bytes come from the
 * kernel's CSPRNG (getrandom(2)), drawn 1 KiB at a time per thread; should it ever fail, the
 * id is made from the wall clock and a process-wide counter, unique within this process
 * rather than none. */
void fp_uuid4(char out[FP_UUID_LEN]);

#ifdef __cplusplus
}
#endif

#endif
