/*
 * up_connectors.c - the connectors `fieldplane up` runs: every fieldplane-connector-*
 * executable next to the fieldplane binary, in the build tree's connectors/<name>/ or in
 * --connectors-dir, each with its own token of role connector (made offline once, kept in
 * DATA/connectors/<name>.token) and data directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "fp_buf.h"
#include "fp_log.h"
#include "registry.h"
#include "store.h"
#include "up.h"

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Add exe as connector name unless that name is known already or the list is full. */
static void add_connector(found_connector *list, int *n, const char *name, const char *exe)
{
    char real[PATH_MAX];

    if (!*name || strlen(name) >= sizeof list[0].name || !is_executable_file(exe))
        return;
    for (int i = 0; i < *n; i++)
        if (strcmp(list[i].name, name) == 0)
            return;
    if (*n >= MAX_CONNECTORS) {
        fp_log_warn("up", "more than %d connectors found; not starting %s", MAX_CONNECTORS, exe);
        return;
    }
    if (!realpath(exe, real))
        snprintf(real, sizeof real, "%s", exe);
    snprintf(list[*n].name, sizeof list[*n].name, "%s", name);
    if (strlen(real) >= sizeof list[*n].exe) {
        fp_log_warn("up", "connector path too long, not starting it: %s", real);
        return;
    }
    memcpy(list[*n].exe, real, strlen(real) + 1);
    (*n)++;
}

/* Every fieldplane-connector-NAME in dir, and dir/NAME/fieldplane-connector-NAME. */
static void scan_connectors_dir(const char *dir, found_connector *list, int *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[2400];

    if (!d) {
        fp_log_warn("up", "cannot read --connectors-dir %s: %s", dir, strerror(errno));
        return;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (strncmp(e->d_name, CONNECTOR_PREFIX, strlen(CONNECTOR_PREFIX)) == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            add_connector(list, n, e->d_name + strlen(CONNECTOR_PREFIX), path);
        } else {
            snprintf(path, sizeof path, "%s/%s/" CONNECTOR_PREFIX "%s", dir, e->d_name, e->d_name);
            add_connector(list, n, e->d_name, path);
        }
    }
    closedir(d);
}

/* The connectors to start: --connectors-dir first, then ours next to this binary and in
 * the build tree (<bin dir>/../connectors/<name>/). */
int up_find_connectors(const char *extra_dir, found_connector *list)
{
    static const char *const k_ours[] = {"http", "sse", "opcua", "modbus"};
    char self[PATH_MAX], path[PATH_MAX + 200];
    const char *bin_dir;
    int n = 0;

    if (extra_dir)
        scan_connectors_dir(extra_dir, list, &n);
    snprintf(self, sizeof self, "%s", fp_self_exe());
    bin_dir = dirname(self);
    for (size_t i = 0; i < sizeof k_ours / sizeof k_ours[0]; i++) {
        snprintf(path, sizeof path, "%s/" CONNECTOR_PREFIX "%s", bin_dir, k_ours[i]);
        add_connector(list, &n, k_ours[i], path);
        snprintf(path, sizeof path, "%s/../connectors/%s/" CONNECTOR_PREFIX "%s", bin_dir,
                 k_ours[i], k_ours[i]);
        add_connector(list, &n, k_ours[i], path);
    }
    return n;
}

/* Make sure DATA/connectors/<name>.token holds a valid connector token: reuse the one
 * there while the store still accepts it (kept across restarts), else make a new one. */
static int connector_token(fp_store *st, const char *data, const char *name, char *path,
                           size_t path_len)
{
    char text[256], desc[128];
    fp_token tok;

    if ((size_t)snprintf(path, path_len, "%s/connectors/%s.token", data, name) >= path_len) {
        fp_log_error("up", "the path of connector %s's token is too long", name);
        return -1;
    }
    if (up_read_line_file(path, text, sizeof text) &&
        fp_store_token_check(st, text, &tok) == FP_OK && strcmp(tok.role, "connector") == 0)
        return 0;
    if ((size_t)snprintf(desc, sizeof desc, "fieldplane up: connector %s", name) >= sizeof desc)
        desc[sizeof desc - 1] = '\0'; /* a description: cut is fine */
    if (fp_store_token_create(st, "connector", NULL, desc, text, sizeof text, &tok) != FP_OK) {
        fp_log_error("up", "cannot create a token for connector %s", name);
        return -1;
    }
    if (up_write_secret_file(path, text) != 0) {
        fp_log_error("up", "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fp_log_info("up", "created connector token %s for %s in %s", tok.id, name, path);
    return 0;
}

/* Fill a child row for connector c. */
int up_connector_child(child *k, const found_connector *c, fp_store *st, const char *data,
                       const char *registry_url, const char *broker_url)
{
    char **a = k->argv;

    memset(k, 0, sizeof *k);
    if ((size_t)snprintf(k->str[0], sizeof k->str[0], "connector-%s", c->name) >=
            sizeof k->str[0] ||
        (size_t)snprintf(k->str[1], sizeof k->str[1], "%s", c->exe) >= sizeof k->str[1] ||
        (size_t)snprintf(k->str[3], sizeof k->str[3], "%s/connectors/%s", data, c->name) >=
            sizeof k->str[3]) {
        fp_log_error("up", "the paths of connector %s are too long", c->name);
        return -1;
    }
    if (mkdir(k->str[3], 0700) != 0 && errno != EEXIST) {
        fp_log_error("up", "cannot create %s: %s", k->str[3], strerror(errno));
        return -1;
    }
    if (connector_token(st, data, c->name, k->str[2], sizeof k->str[2]) != 0)
        return -1;
    k->name = k->str[0];
    a[0] = k->str[1];
    a[1] = "--registry";
    a[2] = (char *)registry_url;
    a[3] = "--token-file";
    a[4] = k->str[2];
    a[5] = "--broker";
    a[6] = (char *)broker_url;
    a[7] = "--data";
    a[8] = k->str[3];
    a[9] = "--listen";
    a[10] = "127.0.0.1:0";
    a[11] = NULL;
    return 0;
}
