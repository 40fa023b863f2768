/*
 * main.c - the fieldplane binary: one executable for the server side
 * (`registry`, `up`, `token`, `simulate`) and the client commands.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

const fp_cmd fp_commands[] = {
    {"up", "start the registry and an MQTT broker on this box, supervised", fp_cmd_up},
    {"registry", "run the registry daemon (REST API, watch, web UI)", fp_cmd_registry},
    {"token", "create, list and revoke API tokens in a data directory (offline)", fp_cmd_token},
    {"simulate", "serve a demo device over HTTP and SSE (what up --demo uses)", fp_cmd_simulate},
    {"opcua", "the OPC UA connector's trust list of server certificates (opcua trust)",
     fp_cmd_opcua},
    {"login", "store the registry URL and a token for the client commands", fp_cmd_login},
    {"namespace", "manage namespaces", fp_cmd_namespace},
    {"device", "manage devices and their endpoints", fp_cmd_device},
    {"asset", "manage assets, datasets, data points, events, streams, actions", fp_cmd_asset},
    {"discovered", "review and onboard discovered devices and assets", fp_cmd_discovered},
    {"schema", "manage message schemas and their versions", fp_cmd_schema},
    {"secret", "manage write-only secrets", fp_cmd_secret},
    {"audit", "read the audit log", fp_cmd_audit},
    {"watch", "print changes as they happen", fp_cmd_watch},
    {"apply", "create or update resources from ARM JSON or Kubernetes YAML", fp_cmd_apply},
    {"export", "write a namespace as ARM JSON or Kubernetes YAML", fp_cmd_export},
    {"completion", "print the bash completion script", fp_cmd_completion},
    {"version", "print the version", cmd_version},
    {"help", "show this help", cmd_help},
    {NULL, NULL, NULL},
};

static char g_self[4096];

const char *fp_self_exe(void)
{
    return g_self;
}

static int cmd_version(int argc, char **argv)
{
    printf("fieldplane %s\n", FP_VERSION);
    return FP_EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
    printf("Usage: fieldplane COMMAND [OPTIONS]\n\n"
           "Fieldplane manages the devices and assets of a plant and moves their data to MQTT.\n\n"
           "Commands:\n");
    for (const fp_cmd *c = fp_commands; c->name; c++)
        printf("  %-12s %s\n", c->name, c->summary);
    printf("\nRun 'fieldplane COMMAND --help' for the options of a command.\n"
           "Start here:  fieldplane up --data ./data\n");
    return FP_EXIT_OK;
}

int main(int argc, char **argv)
{
    ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
    if (n > 0)
        g_self[n] = '\0';
    else
        snprintf(g_self, sizeof g_self, "%s", argv[0]);

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(argc, argv);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(argc, argv);
    for (const fp_cmd *c = fp_commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "fieldplane: unknown command '%s'; run 'fieldplane help' for the list\n",
            argv[1]);
    return FP_EXIT_USAGE;
}
