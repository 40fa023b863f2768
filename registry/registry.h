/*
 * registry.h - the registry daemon: opens the store, serves the REST API, the
 * watch stream and the web UI until asked to stop.
 */
#ifndef FP_REGISTRY_H
#define FP_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp_status.h"

typedef struct fp_registry_opts {
    const char *data_dir;   /* created if missing (0700) */
    const char *listen;     /* "ADDR:PORT"; port 0 picks a free one */
    size_t max_body;        /* request body limit in bytes (default 4 MiB) */
    int64_t history;        /* change documents kept for watch resume */
    bool sync_full;         /* fsync each commit */
    const char *broker_url; /* mqtt://host:port for live data, or NULL */
    int keepalive_s;        /* default watch keep-alive (15) */
    bool no_listen;         /* no listening socket: connections come from fp_registry_serve_fd
                               (the request-path fuzz harness); listen is ignored */
} fp_registry_opts;

typedef struct fp_registry fp_registry;

/* Open the data directory and start serving. On success *out is running and
 * its URL is in fp_registry_url(). Errors are logged and returned. */
fp_status fp_registry_start(const fp_registry_opts *opts, fp_registry **out);
/* "http://127.0.0.1:PORT" */
const char *fp_registry_url(const fp_registry *reg);
/* Serve one connected stream socket (a socketpair's end) as a client connection, as
 * if accepted on the listener; the registry owns fd from here, also on failure. For a
 * registry started with no_listen. Returns FP_ERR_IO if it was refused. */
fp_status fp_registry_serve_fd(fp_registry *reg, int fd);
/* Stop serving (ends watch streams), close the store, free. */
void fp_registry_stop(fp_registry *reg);

/* Make sure the data directory has an admin token: if the store holds no token
 * yet, create one and write it to DATA/admin.token (0600). Sets *created. */
fp_status fp_registry_ensure_admin_token(const char *data_dir, bool *created);

/* Path of the database in a data directory, into out. */
void fp_registry_db_path(const char *data_dir, char *out, size_t out_len);

#endif
