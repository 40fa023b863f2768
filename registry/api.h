/*
 * api.h - internals shared by the registry's HTTP handlers (api_*.c).
 *
 * api_server.c owns the HTTP server: it reads the request, authenticates it,
 * routes it to a handler and counts it in the metrics. A handler fills an
 * fp_resp (status, body, headers) or hands over a streaming response.
 */
#ifndef FP_REGISTRY_API_H
#define FP_REGISTRY_API_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "fp_buf.h"
#include "model.h"
#include "registry.h"
#include "store.h"

#define FP_MAX_SEGMENTS 10

typedef enum fp_route {
    FP_ROUTE_OTHER = 0,
    FP_ROUTE_HEALTHZ,
    FP_ROUTE_METRICS,
    FP_ROUTE_WEB,
    FP_ROUTE_WHOAMI,
    FP_ROUTE_OPENAPI,
    FP_ROUTE_AUDIT,
    FP_ROUTE_WATCH,
    FP_ROUTE_NAMESPACES,
    FP_ROUTE_DEVICES,
    FP_ROUTE_ASSETS,
    FP_ROUTE_DISCOVERED_DEVICES,
    FP_ROUTE_DISCOVERED_ASSETS,
    FP_ROUTE_SCHEMAS,
    FP_ROUTE_SCHEMA_VERSIONS,
    FP_ROUTE_SECRETS,
    FP_ROUTE_STATUS,
    FP_ROUTE_LIVE,
    FP_ROUTE_COUNT
} fp_route;

struct fp_registry {
    fp_registry_opts opts;
    char data_dir[1024];
    char url[128];
    char broker_url[256];
    fp_store *store;
    struct MHD_Daemon *mhd;
    volatile int stopping;
    void *live; /* api_live.c state */
};

/* One request, from the first call of the access handler to the response. */
typedef struct fp_req {
    fp_registry *reg;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    char *path_copy;
    const char *seg[FP_MAX_SEGMENTS];
    int n_seg;
    fp_buf body;
    bool body_too_large;
    fp_token tok;
    bool authed;
    bool answered; /* a response is queued: later calls only drain the body */
    fp_route route;
    double t_start;
} fp_req;

/* What a handler answers. */
typedef struct fp_resp {
    int status;
    char *body; /* owned; NULL for no body */
    size_t body_len;
    const char *content_type;
    char etag[40];
    char location[1024];
    bool close;                  /* close the connection after this answer (sent before the body) */
    struct MHD_Response *stream; /* a prepared streaming response instead of body */
} fp_resp;

/* ---- responses (api_server.c) ---- */

/* An ARM error body {"error":{code,message,target,details}}; details may be NULL
 * (a reference is taken). Returns FP_OK so handlers can `return fp_resp_error(...)`. */
void fp_resp_error(fp_resp *r, int http, const char *code, const char *target, json_t *details,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void fp_resp_verr(fp_resp *r, const fp_verr *err);
void fp_resp_status(fp_resp *r, fp_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Serialize json (reference stolen) as the body. */
void fp_resp_json(fp_resp *r, int http, json_t *json);
/* Take a buffer's content as the body. */
void fp_resp_buf(fp_resp *r, int http, fp_buf *b, const char *content_type);

/* Append z to b percent-encoded (unreserved characters kept), for links. */
void fp_buf_url_encode(fp_buf *b, const char *z);

/* ---- request helpers ---- */
const char *fp_req_arg(const fp_req *q, const char *key);
const char *fp_req_header(const fp_req *q, const char *key);
/* Parse the body as JSON; on failure fills r with 400 InvalidJson (line, column). */
json_t *fp_req_json(const fp_req *q, fp_resp *r);
bool fp_req_can(const fp_req *q, const char *action, const char *ns, fp_resp *r);

/* ---- streams ---- */

/* How often an open stream checks that its token still holds: tokens are revoked
 * offline on the data directory (by another process, so no signal reaches the
 * registry), and a revoked token's streams end within a second. */
#define FP_TOKEN_RECHECK_MS 250

/* A stream's hold on the token it was opened with (a copy: the request is gone). */
typedef struct fp_token_hold {
    fp_store *store;
    char id[32];
    uint64_t checked_ms; /* fp_mono_ms() of the last check */
} fp_token_hold;

void fp_token_hold_init(fp_token_hold *h, const fp_req *q);
/* True once the token was revoked (or deleted); checks the store at most every
 * FP_TOKEN_RECHECK_MS, so a stream may call it on every wake-up. */
bool fp_token_hold_revoked(fp_token_hold *h);

/* ---- handlers ---- */
void fp_api_resource(fp_req *q, fp_resp *r); /* api_resources.c */
void fp_api_status(fp_req *q, fp_resp *r);   /* api_resources.c */
void fp_api_secret(fp_req *q, fp_resp *r);   /* api_secrets.c */
void fp_api_audit(fp_req *q, fp_resp *r);    /* api_secrets.c */
void fp_api_watch(fp_req *q, fp_resp *r);    /* api_watch.c */
void fp_api_metrics(fp_req *q, fp_resp *r);  /* api_server.c */
void fp_api_live(fp_req *q, fp_resp *r);     /* api_live.c */
fp_status fp_live_start(fp_registry *reg);   /* api_live.c */
void fp_live_signal_stop(fp_registry *reg);  /* api_live.c: end the streams */
void fp_live_stop(fp_registry *reg);         /* api_live.c: after the server stopped */

/* Metrics hooks. */
void fp_metrics_watch_clients(int delta);

#endif
