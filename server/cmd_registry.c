/*
 * cmd_registry.c - `fieldplane registry`: run the registry daemon in the
 * foreground until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "fp_log.h"
#include "registry.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: fieldplane registry --data DIR [--listen ADDR:PORT] [options]\n\n"
               "Run the registry: the REST API, the watch stream and the web UI.\n\n"
               "Options:\n"
               "  --data DIR          data directory (created 0700; holds registry.db and\n"
               "                      admin.token, the first admin token)\n"
               "  --listen ADDR:PORT  where to listen (default 127.0.0.1:8080; port 0 picks one)\n"
               "  --broker URL        MQTT broker for live data in the UI (mqtt://HOST:PORT)\n"
               "  --max-body BYTES    request body limit (default 4194304)\n"
               "  --history N         changes kept for watch resume (default 100000)\n"
               "  --sync MODE         normal (survives a crash, default) or full (fsync each\n"
               "                      commit: survives power loss)\n"
               "  --keepalive SEC     watch keep-alive interval (default 15)\n"
               "  --log-level LEVEL   error, warn, info (default) or debug\n"
               "  --migrate           create or migrate the database in DIR (and the first\n"
               "                      admin token), then exit without serving\n"
               "  -h, --help          this help\n\n"
               "The URL is printed on stdout and written to DIR/registry.url.\n\n"
               "Example:\n"
               "  fieldplane registry --data /var/lib/fieldplane --listen 127.0.0.1:8080\n");
}

int fp_cmd_registry(int argc, char **argv)
{
    static const struct option k_opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"broker", required_argument, NULL, 'b'},
        {"max-body", required_argument, NULL, 'm'},
        {"history", required_argument, NULL, 'H'},
        {"sync", required_argument, NULL, 's'},
        {"keepalive", required_argument, NULL, 'k'},
        {"log-level", required_argument, NULL, 'v'},
        {"migrate", no_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    fp_registry_opts opts = {.listen = "127.0.0.1:8080"};
    fp_registry *reg;
    sigset_t set;
    int c, sig;
    bool migrate_only = false;
    char path[1200];
    FILE *f;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", k_opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            opts.data_dir = optarg;
            break;
        case 'l':
            opts.listen = optarg;
            break;
        case 'b':
            opts.broker_url = optarg;
            break;
        case 'm':
            opts.max_body = (size_t)strtoull(optarg, NULL, 10);
            if (opts.max_body < 1024) {
                fprintf(stderr, "fieldplane registry: --max-body must be at least 1024\n");
                return FP_EXIT_USAGE;
            }
            break;
        case 'H':
            opts.history = strtoll(optarg, NULL, 10);
            if (opts.history < 1) {
                fprintf(stderr, "fieldplane registry: --history must be a positive number\n");
                return FP_EXIT_USAGE;
            }
            break;
        case 's':
            if (strcmp(optarg, "full") != 0 && strcmp(optarg, "normal") != 0) {
                fprintf(stderr, "fieldplane registry: --sync is 'normal' or 'full'\n");
                return FP_EXIT_USAGE;
            }
            opts.sync_full = strcmp(optarg, "full") == 0;
            break;
        case 'k':
            opts.keepalive_s = atoi(optarg);
            break;
        case 'v':
            if (fp_log_parse_level(optarg) < 0) {
                fprintf(stderr, "fieldplane registry: --log-level is error, warn, info or debug\n");
                return FP_EXIT_USAGE;
            }
            fp_log_set_level((fp_log_level)fp_log_parse_level(optarg));
            break;
        case 'M':
            migrate_only = true;
            break;
        case 'h':
            usage(stdout);
            return FP_EXIT_OK;
        default:
            fprintf(stderr, "fieldplane registry: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return FP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fieldplane registry: unexpected argument '%s'\n", argv[optind]);
        return FP_EXIT_USAGE;
    }
    if (!opts.data_dir) {
        fprintf(stderr, "fieldplane registry: --data DIR is required\n");
        usage(stderr);
        return FP_EXIT_USAGE;
    }

    /* Opening the store applies the pending schema migrations in one transaction. The Debian
     * package runs this on upgrade with the service stopped, so that a failed migration fails
     * the upgrade where the administrator sees it rather than in a restart loop. */
    if (migrate_only) {
        bool created;
        if (fp_registry_ensure_admin_token(opts.data_dir, &created) != FP_OK)
            return FP_EXIT_ERROR;
        printf("fieldplane registry: the database in %s is up to date%s\n", opts.data_dir,
               created ? "; the first admin token is in admin.token" : "");
        return FP_EXIT_OK;
    }

    /* Block the stop signals before any thread starts, then wait for them here. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (fp_registry_start(&opts, &reg) != FP_OK)
        return FP_EXIT_ERROR;
    snprintf(path, sizeof path, "%s/registry.url", opts.data_dir);
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "%s\n", fp_registry_url(reg));
        fclose(f);
    }
    printf("fieldplane registry: serving %s\n", fp_registry_url(reg));
    fflush(stdout);
    sigwait(&set, &sig);
    fp_log_info("registry", "received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    fp_registry_stop(reg);
    return FP_EXIT_OK;
}
