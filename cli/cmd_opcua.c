/*
 * cmd_opcua.c - `fieldplane opcua trust ...`: the OPC UA connector's trust list from the
 * fieldplane command.
 *
 * The trust list belongs to the connector process (fieldplane-connector-opcua keeps its
 * PKI in <its data directory>/pki), so this command runs the connector's own `trust`
 * subcommand rather than knowing the PKI layout twice. What it adds is the layout of
 * `fieldplane up`: --data names the fieldplane data directory (as for `up` and `token`),
 * and the connector's directory under it is DATA/connectors/opcua.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

#define CONNECTOR_EXE "fieldplane-connector-opcua"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: fieldplane opcua trust list|add FILE|accept THUMBPRINT|remove THUMBPRINT|own\n"
            "                             [--data DIR | --pki DIR] [--output table|json]\n\n"
            "Manage the trust list of server certificates of the OPC UA connector that\n"
            "`fieldplane up` runs: a server certificate the connector refused shows as\n"
            "rejected in `list`; `accept` trusts it. Changes apply at the connector's next\n"
            "connection attempt. `own` shows the connector's own certificate (file,\n"
            "thumbprint, URI) that the servers have to trust.\n\n"
            "Options:\n"
            "  --data DIR   the fieldplane data directory (default ./fieldplane-data); the\n"
            "               connector's PKI is DIR/connectors/opcua/pki\n"
            "  --pki DIR    a PKI folder itself (a connector run by hand)\n\n"
            "Example:\n"
            "  fieldplane opcua trust list --data ./data\n"
            "  fieldplane opcua trust accept 3f2a9c01 --data ./data\n");
}

/* The connector executable: next to this binary, else in the build tree. */
static int find_exe(char *out, size_t len)
{
    char self[PATH_MAX];
    const char *dir;

    snprintf(self, sizeof self, "%s", fp_self_exe());
    dir = dirname(self);
    if ((size_t)snprintf(out, len, "%s/%s", dir, CONNECTOR_EXE) < len && access(out, X_OK) == 0)
        return 0;
    if ((size_t)snprintf(out, len, "%s/../connectors/opcua/%s", dir, CONNECTOR_EXE) < len &&
        access(out, X_OK) == 0)
        return 0;
    return -1;
}

int fp_cmd_opcua(int argc, char **argv)
{
    char exe[PATH_MAX + 64], conn_data[PATH_MAX + 64];
    const char *data = "./fieldplane-data";
    char *args[64];
    int n = 0;
    bool pki = false;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "trust") != 0) {
        fprintf(stderr, "fieldplane opcua: unknown command '%s' (try: fieldplane opcua trust)\n",
                argv[1]);
        return 2;
    }
    if (find_exe(exe, sizeof exe) != 0) {
        fprintf(stderr,
                "fieldplane opcua: %s is not built (not next to %s nor in the build tree)\n",
                CONNECTOR_EXE, fp_self_exe());
        return 1;
    }
    args[n++] = exe;
    for (int i = 1; i < argc; i++) {
        if (n >= 60) {
            fprintf(stderr, "fieldplane opcua: too many arguments\n");
            return 2;
        }
        if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            data = argv[++i];
            continue;
        }
        if (!strncmp(argv[i], "--data=", 7)) {
            data = argv[i] + 7;
            continue;
        }
        if (!strcmp(argv[i], "--pki") || !strncmp(argv[i], "--pki=", 6))
            pki = true;
        args[n++] = argv[i];
    }
    if (!pki) {
        if ((size_t)snprintf(conn_data, sizeof conn_data, "%s/connectors/opcua", data) >=
            sizeof conn_data) {
            fprintf(stderr, "fieldplane opcua: --data is too long\n");
            return 2;
        }
        args[n++] = "--data";
        args[n++] = conn_data;
    }
    args[n] = NULL;
    execv(exe, args);
    fprintf(stderr, "fieldplane opcua: cannot run %s: %s\n", exe, strerror(errno));
    return 1;
}
