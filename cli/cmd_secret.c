/*
 * cmd_secret.c - `fieldplane secret`: write-only secrets of a namespace that
 * device endpoints name for their credentials. A value is read from a file or
 * from stdin, never from a flag, so it does not end up in shell history or in
 * the process list; the registry never shows it back.
 */
#include <errno.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "fp_alloc.h"

static const fp_col secret_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"KEYS", "properties.keys", FP_COL_VALUE},
    {"MODIFIED", "properties.lastModifiedAt", FP_COL_VALUE},
    {0},
};

static const fp_res_desc secret_desc = {FP_RK_UNKNOWN, FP_KIND_SECRET, secret_cols};

#define SE_NS                                                                                      \
    {                                                                                              \
        "namespace", 0, FP_FLAG_STR, FP_F_REQUIRED, NULL, "NS", "the namespace"                    \
    }
#define SE_NAME                                                                                    \
    {                                                                                              \
        "name", 'n', FP_FLAG_STR, FP_F_REQUIRED | FP_F_POSITIONAL, NULL, "NAME",                   \
            "the secret's name"                                                                    \
    }

static const fp_flag se_set_flags[] = {
    SE_NAME,
    SE_NS,
    {"from-file", 'f', FP_FLAG_KV, 0, NULL, "KEY=FILE",
     "the value of KEY is the content of FILE (- for stdin)"},
    {"key", 'k', FP_FLAG_STR, 0, NULL, "KEY",
     "without --from-file: the key the value read from stdin goes under (default: value)"},
    {"keep-newline", 0, FP_FLAG_BOOL, 0, NULL, NULL,
     "keep a final newline of a value read from stdin"},
    {0},
};
static const fp_flag se_delete_flags[] = {
    SE_NAME, SE_NS, {"yes", 'y', FP_FLAG_BOOL, 0, NULL, NULL, "do not ask for confirmation"}, {0}};
static const fp_flag se_list_flags[] = {SE_NS, {0}};

/* Read a value from stdin: on a terminal without echo. New string or NULL. */
static char *read_stdin_value(fp_ctx *ctx, bool keep_newline, size_t *len)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO);
    char *v;

    if (tty) {
        fprintf(ctx->err, "Value: ");
        fflush(ctx->err);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
        char line[4096];
        v = fgets(line, sizeof line, stdin) ? fp_strdup(line) : NULL;
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fputc('\n', ctx->err);
        keep_newline = false;
        *len = v ? strlen(v) : 0;
    } else {
        v = fp_read_file("-", len);
    }
    if (v && !keep_newline) {
        if (*len && v[*len - 1] == '\n')
            v[--*len] = '\0';
        if (*len && v[*len - 1] == '\r')
            v[--*len] = '\0';
    }
    return v;
}

static int secret_set(fp_ctx *ctx)
{
    fp_client *c = fp_ctx_client(ctx);
    json_t *data = json_object(), *body;
    char *path, what[300];
    fp_resp r;
    int rc, n_file = fp_arg_count(ctx, "from-file");

    if (!c || !data) {
        json_decref(data);
        return FP_EXIT_ERROR;
    }
    if (n_file && fp_arg_given(ctx, "key")) {
        json_decref(data);
        fp_errorf(ctx, "--key goes with a value from stdin; --from-file names its own keys");
        return FP_EXIT_USAGE;
    }
    for (int i = 0; i < n_file; i++) {
        const char *kv = fp_arg_at(ctx, "from-file", i);
        const char *eq = strchr(kv, '=');
        size_t len;
        char *key = fp_strndup(kv, (size_t)(eq - kv));
        char *v = fp_read_file(eq + 1, &len);
        json_t *s = v ? json_stringn(v, len) : NULL;
        if (!v || !s) {
            fp_errorf(ctx, "cannot read %s: %s", eq + 1, v ? "not UTF-8 text" : strerror(errno));
            fp_free(key);
            fp_free(v);
            json_decref(data);
            return FP_EXIT_USAGE;
        }
        json_object_set_new(data, key, s);
        fp_free(key);
        fp_free(v);
    }
    if (!n_file) {
        size_t len;
        char *v = read_stdin_value(ctx, fp_arg_given(ctx, "keep-newline"), &len);
        json_t *s = v ? json_stringn(v, len) : NULL;
        fp_free(v);
        if (!s) {
            fp_errorf(ctx, "no value on stdin");
            json_decref(data);
            return FP_EXIT_USAGE;
        }
        json_object_set_new(data, fp_arg_str(ctx, "key") ? fp_arg_str(ctx, "key") : "value", s);
    }
    body = json_pack("{s:o}", "data", data);
    path = fp_api_path(fp_arg_str(ctx, "namespace"), fp_kind_collection(FP_KIND_SECRET),
                       fp_arg_str(ctx, "name"), NULL);
    rc = fp_client_send(c, "PUT", path, body, NULL, NULL, &r);
    snprintf(what, sizeof what, "secret '%s'", fp_arg_str(ctx, "name"));
    if (rc)
        fp_report(ctx, rc, &r, what);
    else if (r.body)
        fp_print(ctx, r.body, secret_cols);
    else if (ctx->output == FP_OUT_TABLE)
        fprintf(ctx->out, "set %s\n", what);
    fp_resp_clear(&r);
    fp_free(path);
    json_decref(body);
    return rc;
}

static const fp_cli_cmd secret_cmds[] = {
    {"set", "Create or replace a secret (values from files or stdin, never from flags)",
     "fieldplane secret set opc-user --namespace plant-a --from-file username=./user.txt "
     "--from-file password=./pass.txt\n"
     "printf %s \"$PASS\" | fieldplane secret set opc-pass --namespace plant-a",
     se_set_flags, NULL, secret_set, NULL, NULL, FP_OP_NONE,
     "A secret holds one or more keys. Devices name a secret (secretName) or one key of it "
     "(secretName/key)."},
    {"list", "List the secrets of a namespace (names and keys, never values)",
     "fieldplane secret list --namespace plant-a", se_list_flags, NULL, fp_res_list, NULL,
     &secret_desc, FP_OP_NONE, NULL},
    {"delete", "Delete a secret", "fieldplane secret delete opc-user --namespace plant-a --yes",
     se_delete_flags, NULL, fp_res_delete, NULL, &secret_desc, FP_OP_NONE, NULL},
    {0},
};

const fp_cli_cmd fp_cli_secret = {"secret",
                                  "Manage write-only secrets that endpoints use as credentials",
                                  "printf %s \"$PASS\" | fieldplane secret set opc-pass "
                                  "--namespace plant-a",
                                  NULL,
                                  NULL,
                                  NULL,
                                  secret_cmds,
                                  NULL,
                                  FP_OP_NONE,
                                  NULL};
