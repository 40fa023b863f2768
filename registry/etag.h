/*
 * etag.h - entity tags of registry resources and the If-Match / If-None-Match
 * header checks (RFC 9110 section 13.1).
 *
 * A resource's ETag is the quoted decimal revision of its last spec change,
 * e.g. "1234". Status writes do not change it.
 */
#ifndef FP_REGISTRY_ETAG_H
#define FP_REGISTRY_ETAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Write the ETag of spec_rev (with its quotes) into out. */
void fp_etag_format(int64_t spec_rev, char *out, size_t out_len);

/*
 * Does an If-Match header value match the current ETag? The header is "*" or a
 * comma-separated list of entity tags; If-Match uses the strong comparison, so a
 * weak tag (W/"...") never matches. exists says whether the resource exists
 * ("*" matches any existing resource).
 */
bool fp_etag_if_match(const char *header, const char *etag, bool exists);

/*
 * Does an If-None-Match header value forbid the write? True when the header is
 * "*" and the resource exists, or lists the current ETag (weak comparison).
 */
bool fp_etag_if_none_match_fails(const char *header, const char *etag, bool exists);

#endif
