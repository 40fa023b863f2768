/*
 * up.h - the parts of `fieldplane up` (cmd_up.c): its children and their ports
 * (up_children.c), the connectors it finds and starts (up_connectors.c) and the demo
 * (up_demo.c).
 */
#ifndef FP_UP_H
#define FP_UP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The longest argv is a connector's: 11 words and the NULL. Children: mosquitto, the
 * registry, the simulator and up to MAX_CONNECTORS connectors. */
#define MAX_ARGS 16
#define MAX_CONNECTORS 12
#define MAX_CHILDREN (3 + MAX_CONNECTORS)
#define CONNECTOR_PREFIX "fieldplane-connector-"

typedef struct fp_store fp_store; /* store.h */

/* One supervised child: a row of up's table. */
typedef struct child {
    const char *name;
    char *argv[MAX_ARGS];
    char str[4][1200]; /* strings of argv this row owns (connectors, simulator) */
    pid_t pid;
    double started;    /* monotonic seconds of the last start */
    double restart_at; /* when to start again after an exit (0 = not waiting) */
    double backoff_s;
    int restarts;
} child;

/* A connector executable found on disk. */
typedef struct found_connector {
    char name[64];
    char exe[1100];
} found_connector;

/* ---- up_children.c ---- */
/* Start c (its output to log_dir/<name>.log is not used: children inherit up's stderr). */
int up_start_child(child *c, const char *log_dir);
/* Stop every running child: SIGTERM, then SIGKILL after 10 s. */
void up_stop_children(child *kids, int n);
/* "ADDR:PORT" into host and the port (-1 when malformed). */
int up_split_addr(const char *z, char *host, size_t host_len);
int up_free_port(const char *host);
int up_port_in_use(const char *host, int port);
int up_write_mosquitto_conf(const char *data, const char *host, int port, char *conf,
                            size_t conf_len);
/* Wait for the registry child to answer; its URL into url. */
int up_wait_registry(const char *data, child *reg, char *url, size_t url_len, int timeout_s);
bool up_read_line_file(const char *path, char *out, size_t out_len);
int up_write_secret_file(const char *path, const char *text);

/* ---- up_connectors.c ---- */
/* The connector executables next to fieldplane, in the build tree and in extra_dir. */
int up_find_connectors(const char *extra_dir, found_connector *list);
/* Fill k to run connector c against the registry and broker, with its own token. */
int up_connector_child(child *k, const found_connector *c, fp_store *st, const char *data,
                       const char *registry_url, const char *broker_url);

/* ---- up_demo.c ---- */
/* Register namespace demo, device demo-sim and the assets oven and line through the REST
 * API (the CLI's client); 0 when everything is in place. */
int up_demo_setup(const char *registry_url, const char *admin_token, int sim_port, bool moved);
/* The simulator's port: the last run's while it is free, else a new one (*moved). */
int up_demo_port(const char *data, bool *moved);

#endif
