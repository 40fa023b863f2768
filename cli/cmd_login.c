/*
 * cmd_login.c - `fieldplane login`: check a registry URL and token against
 * /api/v1/whoami and store them in the config file (mode 0600) that the other
 * client commands read. The token is read from a file or stdin, never from a
 * flag.
 */
#include <errno.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "fp_alloc.h"

static const fp_flag login_flags[] = {
    {"url", 'u', FP_FLAG_STR, FP_F_POSITIONAL, NULL, "URL",
     "the registry's URL (default: the current one)"},
    {"token-file", 0, FP_FLAG_STR, 0, NULL, "FILE",
     "file holding the token (- for stdin; default: asked for on a terminal, else stdin)"},
    {"no-verify", 0, FP_FLAG_BOOL, 0, NULL, NULL, "store without asking the registry first"},
    {0},
};

/* Read the token: from a file, or stdin (without echo on a terminal). */
static int read_token(fp_ctx *ctx, char *out, size_t out_len)
{
    const char *file = fp_arg_str(ctx, "token-file");
    char *text = NULL;
    size_t len = 0;

    if ((!file || !strcmp(file, "-")) && isatty(STDIN_FILENO)) {
        struct termios old, quiet;
        char line[1024];
        fprintf(ctx->err, "Token: ");
        fflush(ctx->err);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
        text = fgets(line, sizeof line, stdin) ? fp_strdup(line) : NULL;
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fputc('\n', ctx->err);
    } else {
        text = fp_read_file(file ? file : "-", &len);
        if (!text) {
            fp_errorf(ctx, "cannot read %s: %s", file ? file : "stdin", strerror(errno));
            return FP_EXIT_USAGE;
        }
    }
    if (!text)
        return FP_EXIT_USAGE;
    /* The token is the first line, without spaces around it. */
    char *p = text + strspn(text, " \t\r\n");
    size_t n = strcspn(p, " \t\r\n");
    if (!n || n >= out_len) {
        fp_free(text);
        fp_errorf(ctx, "no token given");
        return FP_EXIT_USAGE;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    fp_free(text);
    return FP_EXIT_OK;
}

static int login_run(fp_ctx *ctx)
{
    fp_client_config cfg;
    char err[512], path[4096];
    int rc;

    fp_config_load(&cfg);
    if (fp_arg_str(ctx, "url"))
        snprintf(cfg.url, sizeof cfg.url, "%s", fp_arg_str(ctx, "url"));
    else if (fp_arg_str(ctx, "server"))
        snprintf(cfg.url, sizeof cfg.url, "%s", fp_arg_str(ctx, "server"));
    rc = read_token(ctx, cfg.token, sizeof cfg.token);
    if (rc)
        return rc;
    if (!fp_arg_given(ctx, "no-verify")) {
        fp_client *c = fp_client_new(&cfg);
        fp_resp r;
        if (!c)
            return FP_EXIT_ERROR;
        ctx->client = c;
        rc = fp_client_send(c, "GET", "/api/v1/whoami", NULL, NULL, NULL, &r);
        if (rc) {
            fp_report(ctx, rc, &r, "login");
            fp_resp_clear(&r);
            return rc;
        }
        if (ctx->output == FP_OUT_TABLE) {
            const char *ns = json_string_value(json_object_get(r.body, "namespace"));
            fprintf(ctx->out, "logged in to %s as %s (role %s%s%s)\n", cfg.url,
                    json_string_value(json_object_get(r.body, "id"))
                        ? json_string_value(json_object_get(r.body, "id"))
                        : "?",
                    json_string_value(json_object_get(r.body, "role"))
                        ? json_string_value(json_object_get(r.body, "role"))
                        : "?",
                    ns ? ", namespace " : "", ns ? ns : "");
        } else {
            fp_print(ctx, r.body, NULL);
        }
        fp_resp_clear(&r);
    }
    if (fp_config_save(&cfg, err, sizeof err)) {
        fp_errorf(ctx, "%s", err);
        return FP_EXIT_ERROR;
    }
    if (fp_config_path(path, sizeof path) && ctx->output == FP_OUT_TABLE)
        fprintf(ctx->out, "saved to %s\n", path);
    return FP_EXIT_OK;
}

const fp_cli_cmd fp_cli_login = {
    "login",
    "Store the registry URL and a token for the other commands",
    "fieldplane token create --data ./data --role operator | tail -n 1 > op.token\n"
    "fieldplane login http://127.0.0.1:8080 --token-file op.token",
    login_flags,
    NULL,
    login_run,
    NULL,
    NULL,
    FP_OP_NONE,
    "Writes $XDG_CONFIG_HOME/fieldplane/config (else ~/.config/fieldplane/config) with mode "
    "0600. FIELDPLANE_URL and FIELDPLANE_TOKEN override what it holds."};
