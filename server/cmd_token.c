/*
 * cmd_token.c - `fieldplane token create|list|revoke`: manage API tokens
 * directly in a data directory, without a running registry (the registry
 * checks tokens in the database on every request, so changes apply at once).
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "fp_model.h"
#include "fp_time.h"
#include "registry.h"
#include "store.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage:\n"
               "  fieldplane token create --data DIR --role ROLE [--namespace NS] "
               "[--description TEXT] [--expires 90s|30m|12h|7d]\n"
               "  fieldplane token list   --data DIR\n"
               "  fieldplane token revoke --data DIR ID\n\n"
               "Roles: admin (everything), operator (devices, assets, discovered resources,\n"
               "schemas, secrets' values write-only), viewer (read), connector (read specs and\n"
               "secret values, write status, discovered resources and schemas).\n"
               "--namespace limits the token to one namespace. --expires makes it stop working\n"
               "after that long (open streams end within a second of it).\n\n"
               "`create` prints the new token alone on its last line:\n"
               "  TOKEN=$(fieldplane token create --data ./data --role viewer | tail -n 1)\n");
}

static bool print_token(void *ctx, const fp_token *tok)
{
    char now[FP_RFC3339_LEN];

    fp_time_now_rfc3339(now);
    printf("%-18s %-10s %-20s %-26s %s%s%s%s%s\n", tok->id, tok->role, tok->ns[0] ? tok->ns : "*",
           tok->created, tok->revoked ? "revoked " : "",
           !tok->expires[0]                 ? ""
           : strcmp(tok->expires, now) <= 0 ? "expired "
                                            : "expires ",
           tok->expires, tok->expires[0] ? " " : "", tok->description);
    return true;
}

/* "90s", "30m", "12h", "7d" as milliseconds; false for anything else. */
static bool parse_duration(const char *z, int64_t *out_ms)
{
    char *end;
    long long n = strtoll(z, &end, 10);
    int64_t unit;

    if (end == z || n <= 0 || end[0] == '\0' || end[1] != '\0')
        return false;
    switch (end[0]) {
    case 's':
        unit = 1000;
        break;
    case 'm':
        unit = 60 * 1000;
        break;
    case 'h':
        unit = 3600 * 1000;
        break;
    case 'd':
        unit = 86400 * 1000;
        break;
    default:
        return false;
    }
    if (n > INT64_MAX / unit / 2)
        return false;
    *out_ms = n * unit;
    return true;
}

int fp_cmd_token(int argc, char **argv)
{
    static const struct option k_opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"role", required_argument, NULL, 'r'},
        {"namespace", required_argument, NULL, 'n'},
        {"description", required_argument, NULL, 'D'},
        {"expires", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *role = NULL, *ns = NULL, *desc = NULL, *sub, *zexpires = NULL;
    char expires[FP_RFC3339_LEN] = "";
    char db[1200], err[512], text[128];
    fp_store *st;
    fp_token tok;
    char why[256];
    int c, rc = FP_EXIT_OK;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FP_EXIT_USAGE : FP_EXIT_OK;
    }
    sub = argv[1];
    if (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "revoke") != 0) {
        fprintf(stderr, "fieldplane token: unknown subcommand '%s' (create, list, revoke)\n", sub);
        return FP_EXIT_USAGE;
    }
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc - 1, argv + 1, "h", k_opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'r':
            role = optarg;
            break;
        case 'n':
            ns = optarg;
            break;
        case 'D':
            desc = optarg;
            break;
        case 'e':
            zexpires = optarg;
            break;
        case 'h':
            usage(stdout);
            return FP_EXIT_OK;
        default:
            fprintf(stderr, "fieldplane token %s: unknown or incomplete option '%s'\n", sub,
                    argv[optind]);
            return FP_EXIT_USAGE;
        }
    }
    if (!data) {
        fprintf(stderr, "fieldplane token %s: --data DIR is required\n", sub);
        return FP_EXIT_USAGE;
    }
    if (strcmp(sub, "create") == 0) {
        if (!role || (strcmp(role, "admin") != 0 && strcmp(role, "operator") != 0 &&
                      strcmp(role, "viewer") != 0 && strcmp(role, "connector") != 0)) {
            fprintf(stderr, "fieldplane token create: --role must be admin, operator, viewer or "
                            "connector\n");
            return FP_EXIT_USAGE;
        }
        if (ns && fp_model_name_check(FP_KIND_NAMESPACE, ns, why, sizeof why) != FP_OK) {
            fprintf(stderr, "fieldplane token create: --namespace: %s\n", why);
            return FP_EXIT_USAGE;
        }
        if (zexpires) {
            int64_t ms;
            if (!parse_duration(zexpires, &ms)) {
                fprintf(stderr,
                        "fieldplane token create: --expires '%s' is not a duration: give a "
                        "positive number with s, m, h or d (90s, 30m, 12h, 7d)\n",
                        zexpires);
                return FP_EXIT_USAGE;
            }
            fp_time_rfc3339(expires, fp_time_now_ms() + ms);
        }
    }
    if (strcmp(sub, "revoke") == 0 && optind + 1 >= argc) {
        fprintf(stderr, "fieldplane token revoke: which token? give its ID (see token list)\n");
        return FP_EXIT_USAGE;
    }
    {
        bool created;
        if (fp_registry_ensure_admin_token(data, &created) != FP_OK)
            return FP_EXIT_ERROR;
        if (created)
            fprintf(stderr,
                    "fieldplane token: new data directory; the first admin token is in "
                    "%s/admin.token\n",
                    data);
    }
    fp_registry_db_path(data, db, sizeof db);
    if (fp_store_open(db, NULL, &st, err, sizeof err) != FP_OK) {
        fprintf(stderr, "fieldplane token: %s\n", err);
        return FP_EXIT_ERROR;
    }
    if (strcmp(sub, "create") == 0) {
        /* The expiry is set before the token is printed: it is never usable without it. */
        if (fp_store_token_create(st, role, ns, desc, text, sizeof text, &tok) != FP_OK ||
            (expires[0] && fp_store_token_expire_at(st, tok.id, expires) != FP_OK)) {
            fprintf(stderr, "fieldplane token create: cannot store the token\n");
            rc = FP_EXIT_ERROR;
        } else {
            printf("created %s token %s%s%s%s%s; keep it secret, it is shown only once:\n", role,
                   tok.id, ns ? " for namespace " : "", ns ? ns : "",
                   expires[0] ? ", expires " : "", expires);
            printf("%s\n", text);
        }
    } else if (strcmp(sub, "list") == 0) {
        printf("%-18s %-10s %-20s %-26s %s\n", "ID", "ROLE", "NAMESPACE", "CREATED", "NOTE");
        fp_store_token_list(st, print_token, NULL);
    } else {
        fp_status s = fp_store_token_revoke(st, argv[optind + 1]);
        if (s == FP_ERR_NOT_FOUND) {
            fprintf(stderr, "fieldplane token revoke: no token with ID '%s'\n", argv[optind + 1]);
            rc = FP_EXIT_NOT_FOUND;
        } else if (s) {
            fprintf(stderr, "fieldplane token revoke: cannot revoke '%s'\n", argv[optind + 1]);
            rc = FP_EXIT_ERROR;
        } else {
            printf("revoked token %s\n", argv[optind + 1]);
        }
    }
    fp_store_close(st);
    return rc;
}
