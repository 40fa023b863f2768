/*
 * client_args.c - the parser of the client command tables, and everything else
 * generated from the same tables: --help, docs/cli.md and the bash completion.
 *
 * A command line is walked word by word down the tree of fp_cli_cmd rows until a
 * leaf; what follows are its flags (from the leaf's own table, its shared table
 * and fp_global_flags) and, for a flag marked positional, bare words. Values are
 * checked against the flag's type here, so entry points read them without
 * re-validating.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "fp_alloc.h"

const fp_flag fp_global_flags[] = {
    {"output", 'o', FP_FLAG_STR, 0, NULL, "FORMAT",
     "table, json or yaml (default: table on a terminal, JSON otherwise)"},
    {"server", 0, FP_FLAG_STR, 0, NULL, "URL",
     "registry URL (overrides FIELDPLANE_URL and the config file)"},
    {0},
};

const fp_cli_cmd *const fp_client_groups[] = {
    &fp_cli_login,  &fp_cli_namespace,  &fp_cli_device, &fp_cli_asset, &fp_cli_discovered,
    &fp_cli_schema, &fp_cli_secret,     &fp_cli_audit,  &fp_cli_watch, &fp_cli_apply,
    &fp_cli_export, &fp_cli_completion, NULL,
};

void fp_errorf(fp_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    FILE *f = ctx && ctx->err ? ctx->err : stderr;

    fputs("fieldplane: ", f);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
}

bool fp_parse_long(const char *z, long long *out)
{
    char *end;
    long long v;

    if (!z || !*z)
        return false;
    errno = 0;
    v = strtoll(z, &end, 10);
    if (errno || *end || end == z)
        return false;
    *out = v;
    return true;
}

/* True when flag f is offered by cmd (update commands hide create-only flags). */
static bool flag_offered(const fp_cli_cmd *cmd, const fp_flag *f)
{
    return !(cmd->op == FP_OP_UPDATE && (f->opts & FP_F_CREATE_ONLY));
}

/* Look up a flag of cmd by long name (or by short name when short_name != 0). */
static const fp_flag *find_flag(const fp_cli_cmd *cmd, const char *name, size_t name_len,
                                char short_name)
{
    const fp_flag *tables[3] = {cmd->flags, cmd->more_flags, fp_global_flags};

    for (int t = 0; t < 3; t++) {
        for (const fp_flag *f = tables[t]; f && f->name; f++) {
            if (!flag_offered(cmd, f))
                continue;
            if (short_name ? f->short_name == short_name
                           : strlen(f->name) == name_len && !strncmp(f->name, name, name_len))
                return f;
        }
    }
    return NULL;
}

/* The value slot of flag f in ctx, made on first use; NULL on allocation failure. */
static fp_argval *slot(fp_ctx *ctx, const fp_flag *f)
{
    fp_argval *a;

    for (int i = 0; i < ctx->n_args; i++)
        if (ctx->args[i].flag == f)
            return &ctx->args[i];
    a = fp_realloc(ctx->args, (size_t)(ctx->n_args + 1) * sizeof *a);
    if (!a)
        return NULL;
    ctx->args = a;
    a = &ctx->args[ctx->n_args++];
    a->flag = f;
    a->n_val = 0;
    a->vals = NULL;
    return a;
}

/* Store a copy of value for f. Returns 0 or -1 (no memory). */
static int add_value(fp_ctx *ctx, const fp_flag *f, const char *value)
{
    fp_argval *a = slot(ctx, f);
    char **v;

    if (!a)
        return -1;
    v = fp_realloc(a->vals, (size_t)(a->n_val + 1) * sizeof *v);
    if (!v)
        return -1;
    a->vals = v;
    v[a->n_val] = fp_strdup(value);
    if (!v[a->n_val])
        return -1;
    a->n_val++;
    return 0;
}

static const fp_argval *find_val(const fp_ctx *ctx, const char *name)
{
    for (int i = 0; i < ctx->n_args; i++)
        if (!strcmp(ctx->args[i].flag->name, name))
            return &ctx->args[i];
    return NULL;
}

const char *fp_arg_str(const fp_ctx *ctx, const char *name)
{
    const fp_argval *a = find_val(ctx, name);
    return a && a->n_val ? a->vals[a->n_val - 1] : NULL;
}

int fp_arg_count(const fp_ctx *ctx, const char *name)
{
    const fp_argval *a = find_val(ctx, name);
    return a ? a->n_val : 0;
}

const char *fp_arg_at(const fp_ctx *ctx, const char *name, int i)
{
    const fp_argval *a = find_val(ctx, name);
    return a && i >= 0 && i < a->n_val ? a->vals[i] : NULL;
}

bool fp_arg_given(const fp_ctx *ctx, const char *name)
{
    return fp_arg_count(ctx, name) > 0;
}

void fp_ctx_clear(fp_ctx *ctx)
{
    for (int i = 0; i < ctx->n_args; i++) {
        for (int j = 0; j < ctx->args[i].n_val; j++)
            fp_free(ctx->args[i].vals[j]);
        fp_free(ctx->args[i].vals);
    }
    fp_free(ctx->args);
    ctx->args = NULL;
    ctx->n_args = 0;
    fp_client_free(ctx->client);
    ctx->client = NULL;
}

/* Check value against the type of f; prints and returns false when it is wrong. */
static bool check_value(fp_ctx *ctx, const fp_flag *f, const char *value)
{
    long long n;
    char err[256];
    json_t *j;
    json_error_t jerr;

    switch (f->type) {
    case FP_FLAG_INT:
        if (!fp_parse_long(value, &n)) {
            fp_errorf(ctx, "--%s wants an integer, not '%s'", f->name, value);
            return false;
        }
        return true;
    case FP_FLAG_TF:
        if (strcmp(value, "true") && strcmp(value, "false")) {
            fp_errorf(ctx, "--%s wants true or false, not '%s'", f->name, value);
            return false;
        }
        return true;
    case FP_FLAG_KV:
        if (!strchr(value, '=') || value[0] == '=') {
            fp_errorf(ctx, "--%s wants KEY=VALUE, not '%s'", f->name, value);
            return false;
        }
        return true;
    case FP_FLAG_JSON:
        j = json_loads(value, JSON_DECODE_ANY, &jerr);
        if (!j) {
            fp_errorf(ctx, "--%s is not valid JSON: %s (column %d)", f->name, jerr.text,
                      jerr.column);
            return false;
        }
        json_decref(j);
        return true;
    case FP_FLAG_DEST:
        j = fp_dest_parse(value, err, sizeof err);
        if (!j) {
            fp_errorf(ctx, "--%s: %s", f->name, err);
            return false;
        }
        json_decref(j);
        return true;
    case FP_FLAG_MSG_EP: {
        char *name = NULL;
        j = fp_msg_endpoint_parse(value, &name, err, sizeof err);
        fp_free(name);
        if (!j) {
            fp_errorf(ctx, "--%s: %s", f->name, err);
            return false;
        }
        json_decref(j);
        return true;
    }
    default:
        return true;
    }
}

static void usage_hint(fp_ctx *ctx)
{
    fprintf(ctx->err, "Run 'fieldplane %s --help' for usage.\n", ctx->path);
}

int fp_cli_parse(fp_ctx *ctx, const fp_cli_cmd *cmd, int argc, char **argv)
{
    bool flags_done = false;
    const char *out;

    ctx->cmd = cmd;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const fp_flag *f = NULL;
        const char *value = NULL;
        fp_buf joined;

        if (!flags_done && !strcmp(arg, "--")) {
            flags_done = true;
            continue;
        }
        if (!flags_done && arg[0] == '-' && arg[1] == '-') {
            const char *eq = strchr(arg + 2, '=');
            size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            f = find_flag(cmd, arg + 2, len, 0);
            if (!f) {
                fp_errorf(ctx, "unknown flag --%.*s for '%s'", (int)len, arg + 2, ctx->path);
                usage_hint(ctx);
                return FP_EXIT_USAGE;
            }
            if (eq)
                value = eq + 1;
        } else if (!flags_done && arg[0] == '-' && arg[1] && !arg[2]) {
            f = find_flag(cmd, NULL, 0, arg[1]);
            if (!f) {
                fp_errorf(ctx, "unknown flag %s for '%s'", arg, ctx->path);
                usage_hint(ctx);
                return FP_EXIT_USAGE;
            }
        } else {
            const fp_flag *tables[2] = {cmd->flags, cmd->more_flags};
            for (int t = 0; t < 2 && !f; t++)
                for (const fp_flag *p = tables[t]; p && p->name && !f; p++)
                    if ((p->opts & FP_F_POSITIONAL) && !fp_arg_given(ctx, p->name))
                        f = p;
            if (!f) {
                fp_errorf(ctx, "unexpected argument '%s' for '%s'", arg, ctx->path);
                usage_hint(ctx);
                return FP_EXIT_USAGE;
            }
            value = arg;
        }

        if (f->type == FP_FLAG_BOOL) {
            if (value && strcmp(value, "true") && strcmp(value, "false")) {
                fp_errorf(ctx, "--%s takes no value, or true|false", f->name);
                return FP_EXIT_USAGE;
            }
            if (value && !strcmp(value, "false"))
                continue;
            if (add_value(ctx, f, "true"))
                return FP_EXIT_ERROR;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc) {
                fp_errorf(ctx, "--%s needs a value", f->name);
                usage_hint(ctx);
                return FP_EXIT_USAGE;
            }
            value = argv[++i];
        }
        fp_buf_init(&joined, 1 << 20);
        if (f->type == FP_FLAG_DEST) {
            /* A destination is several KEY=VALUE words: take the ones that follow. */
            fp_buf_append_str(&joined, value);
            while (i + 1 < argc && argv[i + 1][0] != '-' && strchr(argv[i + 1], '=')) {
                fp_buf_append_str(&joined, " ");
                fp_buf_append_str(&joined, argv[++i]);
            }
            if (joined.err)
                return FP_EXIT_ERROR;
            value = joined.data;
        }
        if (!check_value(ctx, f, value)) {
            fp_buf_clear(&joined);
            usage_hint(ctx);
            return FP_EXIT_USAGE;
        }
        if (add_value(ctx, f, value)) {
            fp_buf_clear(&joined);
            return FP_EXIT_ERROR;
        }
        fp_buf_clear(&joined);
    }

    /* Required flags. */
    {
        const fp_flag *tables[2] = {cmd->flags, cmd->more_flags};
        for (int t = 0; t < 2; t++) {
            for (const fp_flag *p = tables[t]; p && p->name; p++) {
                bool req =
                    (p->opts & FP_F_REQUIRED) || ((p->opts & FP_F_REQ_ADD) && cmd->op == FP_OP_ADD);
                if (req && flag_offered(cmd, p) && !fp_arg_given(ctx, p->name)) {
                    fp_errorf(ctx, "--%s is required for '%s'", p->name, ctx->path);
                    usage_hint(ctx);
                    return FP_EXIT_USAGE;
                }
            }
        }
    }

    out = fp_arg_str(ctx, "output");
    if (!out)
        ctx->output = ctx->out_tty ? FP_OUT_TABLE : FP_OUT_JSON;
    else if (!strcmp(out, "table"))
        ctx->output = FP_OUT_TABLE;
    else if (!strcmp(out, "json"))
        ctx->output = FP_OUT_JSON;
    else if (!strcmp(out, "yaml"))
        ctx->output = FP_OUT_YAML;
    else {
        fp_errorf(ctx, "--output must be table, json or yaml, not '%s'", out);
        return FP_EXIT_USAGE;
    }
    return FP_EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * Help
 * ------------------------------------------------------------------------- */

/* The value placeholder of f in help ("NAME", "N", "KEY=VALUE"), into buf. */
static const char *metavar(const fp_flag *f, char *buf, size_t len)
{
    size_t i;

    if (f->metavar)
        return f->metavar;
    switch (f->type) {
    case FP_FLAG_BOOL:
        return "";
    case FP_FLAG_TF:
        return "true|false";
    case FP_FLAG_INT:
        return "N";
    case FP_FLAG_JSON:
        return "JSON";
    case FP_FLAG_KV:
        return "KEY=VALUE";
    case FP_FLAG_UNSET:
        return "KEY";
    case FP_FLAG_DEST:
        return "DEST";
    case FP_FLAG_MSG_EP:
        return "NAME=TYPE,ADDRESS";
    default:
        break;
    }
    for (i = 0; f->name[i] && i + 1 < len; i++)
        buf[i] = f->name[i] == '-' ? '_' : (char)toupper((unsigned char)f->name[i]);
    buf[i] = '\0';
    return buf;
}

/* The help text of f with its notes ("(required)", "(repeatable)"), into buf. */
static const char *flag_help(const fp_cli_cmd *cmd, const fp_flag *f, char *buf, size_t len)
{
    bool req = (f->opts & FP_F_REQUIRED) || ((f->opts & FP_F_REQ_ADD) && cmd->op == FP_OP_ADD);
    bool rep = f->type == FP_FLAG_LIST || f->type == FP_FLAG_KV || f->type == FP_FLAG_UNSET ||
               f->type == FP_FLAG_DEST || f->type == FP_FLAG_MSG_EP;

    snprintf(buf, len, "%s%s%s", f->help, req ? " (required)" : "", rep ? " (repeatable)" : "");
    return buf;
}

static void help_flags(FILE *f, const fp_cli_cmd *cmd, const fp_flag *table)
{
    char mv[64], left[128], text[512];

    for (const fp_flag *p = table; p && p->name; p++) {
        if (!flag_offered(cmd, p) || (p->opts & FP_F_HIDDEN))
            continue;
        const char *m = metavar(p, mv, sizeof mv);
        if (p->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", p->short_name, p->name, *m ? " " : "", m);
        else
            snprintf(left, sizeof left, "    --%s%s%s", p->name, *m ? " " : "", m);
        fprintf(f, "  %-34s %s\n", left, flag_help(cmd, p, text, sizeof text));
    }
}

/* The usage line's tail: "[NAME] [flags]". */
static void usage_tail(FILE *f, const fp_cli_cmd *cmd)
{
    char mv[64];
    const fp_flag *tables[2] = {cmd->flags, cmd->more_flags};

    for (int t = 0; t < 2; t++)
        for (const fp_flag *p = tables[t]; p && p->name; p++)
            if (p->opts & FP_F_POSITIONAL)
                fprintf(f, " [%s]", metavar(p, mv, sizeof mv));
    fputs(" [flags]", f);
}

void fp_cli_help(FILE *f, const fp_cli_cmd *cmd, const char *path)
{
    if (cmd->children) {
        fprintf(f, "Usage: fieldplane %s COMMAND [flags]\n\n%s.\n", path, cmd->summary);
        if (cmd->description)
            fprintf(f, "\n%s\n", cmd->description);
        fputs("\nCommands:\n", f);
        for (const fp_cli_cmd *c = cmd->children; c->name; c++)
            fprintf(f, "  %-14s %s\n", c->name, c->summary);
        if (cmd->example)
            fprintf(f, "\nExample:\n  %s\n", cmd->example);
        fprintf(f, "\nRun 'fieldplane %s COMMAND --help' for the flags of a command.\n", path);
        return;
    }
    fprintf(f, "Usage: fieldplane %s", path);
    usage_tail(f, cmd);
    fprintf(f, "\n\n%s.\n", cmd->summary);
    if (cmd->description)
        fprintf(f, "\n%s\n", cmd->description);
    if ((cmd->flags && cmd->flags->name) || (cmd->more_flags && cmd->more_flags->name)) {
        fputs("\nFlags:\n", f);
        help_flags(f, cmd, cmd->flags);
        help_flags(f, cmd, cmd->more_flags);
    }
    fputs("\nGlobal flags:\n", f);
    help_flags(f, cmd, fp_global_flags);
    fprintf(f, "  %-34s %s\n", "-h, --help", "show this help");
    if (cmd->example) {
        fputs("\nExample:\n", f);
        for (const char *z = cmd->example; *z;) {
            const char *nl = strchr(z, '\n');
            size_t n = nl ? (size_t)(nl - z) : strlen(z);
            fprintf(f, "  %.*s\n", (int)n, z);
            z += n + (nl ? 1 : 0);
        }
    }
}

/* True when argv holds -h or --help before a "--". */
static bool wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return false;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return true;
    }
    return false;
}

int fp_cli_main(const fp_cli_cmd *root, int argc, char **argv)
{
    const fp_cli_cmd *node = root;
    fp_ctx ctx;
    int i = 1, rc;

    memset(&ctx, 0, sizeof ctx);
    ctx.out = stdout;
    ctx.err = stderr;
    ctx.out_tty = isatty(STDOUT_FILENO);
    snprintf(ctx.path, sizeof ctx.path, "%s", root->name);

    while (node->children && i < argc && argv[i][0] != '-') {
        const fp_cli_cmd *c = node->children;
        while (c->name && strcmp(c->name, argv[i]))
            c++;
        if (!c->name) {
            fp_errorf(&ctx, "unknown command '%s' for 'fieldplane %s'", argv[i], ctx.path);
            usage_hint(&ctx);
            return FP_EXIT_USAGE;
        }
        node = c;
        size_t len = strlen(ctx.path);
        snprintf(ctx.path + len, sizeof ctx.path - len, " %s", c->name);
        i++;
    }
    if (wants_help(argc - i, argv + i)) {
        fp_cli_help(stdout, node, ctx.path);
        return FP_EXIT_OK;
    }
    if (!node->run) {
        fp_cli_help(stderr, node, ctx.path);
        if (i < argc)
            fp_errorf(&ctx, "unexpected '%s': '%s' needs a command", argv[i], ctx.path);
        return FP_EXIT_USAGE;
    }
    rc = fp_cli_parse(&ctx, node, argc - i, argv + i);
    if (rc == FP_EXIT_OK)
        rc = node->run(&ctx);
    fp_ctx_clear(&ctx);
    return rc;
}

/* ---------------------------------------------------------------------------
 * docs/cli.md
 * ------------------------------------------------------------------------- */

/* Append z to b with '|' escaped, so that it stays in one Markdown table cell. */
static void append_cell(fp_buf *b, const char *z)
{
    for (; *z; z++)
        fp_buf_append_str(b, *z == '|' ? "\\|" : (char[2]){*z, 0});
}

static void doc_flags(fp_buf *b, const fp_cli_cmd *cmd, const fp_flag *table)
{
    char mv[64], text[512];

    for (const fp_flag *p = table; p && p->name; p++) {
        if (!flag_offered(cmd, p) || (p->opts & FP_F_HIDDEN))
            continue;
        const char *m = metavar(p, mv, sizeof mv);
        fp_buf_printf(b, "| `--%s%s", p->name, *m ? " " : "");
        append_cell(b, m);
        fp_buf_append_str(b, "`");
        if (p->short_name)
            fp_buf_printf(b, ", `-%c`", p->short_name);
        fp_buf_append_str(b, " | ");
        append_cell(b, flag_help(cmd, p, text, sizeof text));
        /* A flag that sets a connector's configuration key names it, so that the docs say
         * which row of `--help-config` it is (config_docs.test.mjs checks the two agree). */
        const char *key = p->target ? strstr(p->target, "Configuration#") : NULL;
        if (key)
            fp_buf_printf(b, "; sets `%s`", key + strlen("Configuration#"));
        fp_buf_append_str(b, " |\n");
    }
}

static void doc_cmd(fp_buf *b, const fp_cli_cmd *cmd, const char *path, int depth)
{
    char sub[256];

    fp_buf_printf(b, "%s `fieldplane %s`\n\n%s.\n\n", depth <= 1 ? "##" : "###", path,
                  cmd->summary);
    if (cmd->description)
        fp_buf_printf(b, "%s\n\n", cmd->description);
    if (cmd->run) {
        FILE *mf;
        char *usage = NULL;
        size_t usage_len = 0;
        mf = open_memstream(&usage, &usage_len);
        if (mf) {
            fprintf(mf, "fieldplane %s", path);
            usage_tail(mf, cmd);
            fclose(mf);
            fp_buf_printf(b, "```\n%s\n```\n\n", usage);
            free(usage);
        }
        if ((cmd->flags && cmd->flags->name) || (cmd->more_flags && cmd->more_flags->name)) {
            fp_buf_append_str(b, "| flag | meaning |\n|---|---|\n");
            doc_flags(b, cmd, cmd->flags);
            doc_flags(b, cmd, cmd->more_flags);
            fp_buf_append_str(b, "\n");
        }
    }
    if (cmd->example)
        fp_buf_printf(b, "Example:\n\n```sh\n%s\n```\n\n", cmd->example);
    for (const fp_cli_cmd *c = cmd->children; c && c->name; c++) {
        snprintf(sub, sizeof sub, "%s %s", path, c->name);
        doc_cmd(b, c, sub, depth + 1);
    }
}

fp_status fp_cli_docs(fp_buf *b)
{
    fp_buf_append_str(
        b, "# The fieldplane command: client reference\n\n"
           "<!-- Generated from the command tables in cli/ by tests/unit/test_cli_docs.c;\n"
           "     do not edit: run FP_UPDATE_DOCS=1 build/dev/tests/test_cli_docs. -->\n\n"
           "The client commands talk to a registry through its REST API (docs/api.md). "
           "They find it through, in order: `--server`, `FIELDPLANE_URL`, the config file "
           "written by `fieldplane login` (`$XDG_CONFIG_HOME/fieldplane/config`, else "
           "`~/.config/fieldplane/config`, mode 0600), and `http://127.0.0.1:8080`. The token "
           "comes from `FIELDPLANE_TOKEN`, else the config file.\n\n"
           "Output is a table on a terminal and JSON otherwise; `--output table|json|yaml` "
           "chooses. Errors go to stderr, with the field path the server names.\n\n"
           "## Exit codes\n\n"
           "| code | meaning |\n|---|---|\n"
           "| 0 | success |\n"
           "| 1 | any other error |\n"
           "| 2 | usage error: unknown command or flag, missing or bad value, unreadable file |\n"
           "| 3 | not found: the named resource (or namespace) does not exist, or (watch --since) "
           "the revision is no longer kept or is newer than the registry's |\n"
           "| 4 | conflict: it exists already, is still referenced, or changed meanwhile |\n"
           "| 5 | unauthorized: no or unknown token (401), or not allowed (403) |\n"
           "| 6 | the server could not be reached |\n"
           "| 7 | the input was rejected: by the server (400, 413), or a bad row or document in "
           "a file to import or apply (nothing is written) |\n\n"
           "## Global flags\n\n| flag | meaning |\n|---|---|\n");
    {
        static const fp_cli_cmd dummy = {"", "", NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL};
        doc_flags(b, &dummy, fp_global_flags);
    }
    fp_buf_append_str(b, "| `--help`, `-h` | show the help of a command, with an example |\n\n");
    for (int i = 0; fp_client_groups[i]; i++)
        doc_cmd(b, fp_client_groups[i], fp_client_groups[i]->name, 1);
    return b->err;
}

/* ---------------------------------------------------------------------------
 * Bash completion
 * ------------------------------------------------------------------------- */

static void comp_words(fp_buf *b, const fp_cli_cmd *cmd)
{
    const fp_flag *tables[3] = {cmd->flags, cmd->more_flags, fp_global_flags};
    const char *sep = "";

    for (const fp_cli_cmd *c = cmd->children; c && c->name; c++) {
        fp_buf_printf(b, "%s%s", sep, c->name);
        sep = " ";
    }
    if (cmd->run) {
        for (int t = 0; t < 3; t++)
            for (const fp_flag *p = tables[t]; p && p->name; p++)
                if (flag_offered(cmd, p) && !(p->opts & FP_F_HIDDEN)) {
                    fp_buf_printf(b, "%s--%s", sep, p->name);
                    sep = " ";
                }
        fp_buf_printf(b, "%s--help", sep);
    }
}

static void comp_cmd(fp_buf *b, const fp_cli_cmd *cmd, const char *path)
{
    char sub[256];

    fp_buf_printf(b, "    \"%s\") echo \"", path);
    comp_words(b, cmd);
    fp_buf_append_str(b, "\" ;;\n");
    for (const fp_cli_cmd *c = cmd->children; c && c->name; c++) {
        snprintf(sub, sizeof sub, "%s %s", path, c->name);
        comp_cmd(b, c, sub);
    }
}

fp_status fp_cli_bash_completion(fp_buf *b)
{
    fp_buf_append_str(b, "# bash completion for fieldplane (generated by "
                         "'fieldplane completion bash'; do not edit)\n"
                         "_fieldplane_words() {\n    case \"$1\" in\n    \"\") echo \"");
    for (int i = 0; fp_client_groups[i]; i++)
        fp_buf_printf(b, "%s ", fp_client_groups[i]->name);
    fp_buf_append_str(b, "up registry token simulate opcua version help\" ;;\n");
    for (int i = 0; fp_client_groups[i]; i++)
        comp_cmd(b, fp_client_groups[i], fp_client_groups[i]->name);
    fp_buf_append_str(b,
                      "    *) return 1 ;;\n    esac\n}\n\n"
                      "_fieldplane() {\n"
                      "    local cur=${COMP_WORDS[COMP_CWORD]} path=\"\" next i words\n"
                      "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
                      "        [[ ${COMP_WORDS[i]} == -* ]] && break\n"
                      "        next=\"${path:+$path }${COMP_WORDS[i]}\"\n"
                      "        _fieldplane_words \"$next\" >/dev/null || break\n"
                      "        path=$next\n"
                      "    done\n"
                      "    case \"${COMP_WORDS[COMP_CWORD-1]}\" in\n"
                      "    --output|-o) COMPREPLY=($(compgen -W \"table json yaml\" -- \"$cur\")); "
                      "return ;;\n"
                      "    --input-file|--output-file|--from-file|--file|-f|--content-file)\n"
                      "        COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
                      "    esac\n"
                      "    words=$(_fieldplane_words \"$path\") || return\n"
                      "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
                      "}\n"
                      "complete -o default -F _fieldplane fieldplane\n");
    return b->err;
}

/* ---------------------------------------------------------------------------
 * Entry points called from the fp_commands table in main.c
 * ------------------------------------------------------------------------- */

int fp_cmd_namespace(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_namespace, argc, argv);
}

int fp_cmd_device(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_device, argc, argv);
}

int fp_cmd_asset(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_asset, argc, argv);
}

int fp_cmd_discovered(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_discovered, argc, argv);
}

int fp_cmd_schema(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_schema, argc, argv);
}

int fp_cmd_secret(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_secret, argc, argv);
}

int fp_cmd_audit(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_audit, argc, argv);
}

int fp_cmd_watch(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_watch, argc, argv);
}

int fp_cmd_apply(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_apply, argc, argv);
}

int fp_cmd_export(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_export, argc, argv);
}

int fp_cmd_login(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_login, argc, argv);
}

int fp_cmd_completion(int argc, char **argv)
{
    return fp_cli_main(&fp_cli_completion, argc, argv);
}
