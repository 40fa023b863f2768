/*
 * cmd_completion.c - `fieldplane completion bash`: print the bash completion
 * script, generated from the same command tables the parser uses
 * (contrib/completion/fieldplane.bash is a copy kept up to date by a test).
 */
#include "client.h"

static int completion_bash(fp_ctx *ctx)
{
    fp_buf b;
    int rc;

    fp_buf_init(&b, 4u << 20);
    rc = fp_cli_bash_completion(&b) ? FP_EXIT_ERROR : fp_write_output(ctx, NULL, b.data, b.len);
    fp_buf_clear(&b);
    return rc;
}

static const fp_cli_cmd completion_cmds[] = {
    {"bash", "Print the bash completion script",
     "source <(fieldplane completion bash)\n"
     "fieldplane completion bash > /etc/bash_completion.d/fieldplane",
     NULL, NULL, completion_bash, NULL, NULL, FP_OP_NONE, NULL},
    {0},
};

const fp_cli_cmd fp_cli_completion = {"completion",
                                      "Print shell completion scripts",
                                      "source <(fieldplane completion bash)",
                                      NULL,
                                      NULL,
                                      NULL,
                                      completion_cmds,
                                      NULL,
                                      FP_OP_NONE,
                                      NULL};
