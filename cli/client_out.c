/*
 * client_out.c - what the client commands print: documents as JSON or YAML,
 * lists as aligned tables whose columns come from fp_col rows, a progress bar
 * for long imports and applies, the delete confirmation, and reading and
 * writing the files commands take.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "fp_alloc.h"

char *fp_col_text(const json_t *row, const fp_col *col)
{
    const json_t *v = col->path[0] ? fp_json_get(row, col->path) : row;
    fp_buf b;
    char *s;

    fp_buf_init(&b, 1 << 16);
    switch (col->kind) {
    case FP_COL_COUNT:
        fp_buf_printf(&b, "%zu",
                      json_is_array(v)    ? json_array_size(v)
                      : json_is_object(v) ? json_object_size(v)
                                          : (size_t)0);
        break;
    case FP_COL_KEYS: {
        const char *key;
        const json_t *x;
        const char *sep = "";
        json_object_foreach((json_t *)v, key, x)
        {
            fp_buf_printf(&b, "%s%s", sep, key);
            sep = ",";
        }
        break;
    }
    case FP_COL_NAMES: {
        size_t i;
        const json_t *x;
        const char *sep = "";
        json_array_foreach(v, i, x)
        {
            const char *n = json_string_value(json_object_get(x, "name"));
            fp_buf_printf(&b, "%s%s", sep, n ? n : "?");
            sep = ",";
        }
        break;
    }
    default:
        if (json_is_string(v))
            fp_buf_append_str(&b, json_string_value(v));
        else if (json_is_integer(v))
            fp_buf_printf(&b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
            fp_buf_printf(&b, "%g", json_real_value(v));
        else if (json_is_boolean(v))
            fp_buf_append_str(&b, json_is_true(v) ? "true" : "false");
        else if (json_is_array(v) && json_array_size(v) && json_is_string(json_array_get(v, 0))) {
            /* A list of names reads best as "a,b". */
            size_t i;
            const json_t *x;
            json_array_foreach(v, i, x)
            {
                s = json_is_string(x) ? NULL : json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
                fp_buf_printf(&b, "%s%s", i ? "," : "", s ? s : json_string_value(x));
                free(s);
            }
        } else if (v && !json_is_null(v)) {
            s = json_dumps(v, JSON_COMPACT);
            fp_buf_append_str(&b, s ? s : "");
            free(s);
        }
        break;
    }
    if (!b.len)
        fp_buf_append_str(&b, "-");
    /* Keep a cell on one line, and keep control characters a server sends
     * (carriage returns, terminal escapes) off the user's terminal. */
    for (size_t i = 0; b.data && i < b.len; i++)
        if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
            b.data[i] = ' ';
    return fp_buf_take(&b, NULL);
}

void fp_print_table(FILE *f, const json_t *rows, const fp_col *cols)
{
    size_t n_col = 0, n_row = json_array_size(rows);
    size_t *width;
    char **cells;

    while (cols[n_col].header)
        n_col++;
    width = fp_calloc(n_col, sizeof *width);
    cells = fp_calloc(n_col * (n_row ? n_row : 1), sizeof *cells);
    if (!width || !cells) {
        fp_free(width);
        fp_free(cells);
        return;
    }
    for (size_t c = 0; c < n_col; c++)
        width[c] = strlen(cols[c].header);
    for (size_t r = 0; r < n_row; r++)
        for (size_t c = 0; c < n_col; c++) {
            char *t = fp_col_text(json_array_get(rows, r), &cols[c]);
            cells[r * n_col + c] = t;
            if (t && strlen(t) > width[c])
                width[c] = strlen(t);
        }
    for (size_t c = 0; c < n_col; c++) {
        if (c + 1 < n_col)
            fprintf(f, "%-*s  ", (int)width[c], cols[c].header);
        else
            fprintf(f, "%s\n", cols[c].header);
    }
    for (size_t r = 0; r < n_row; r++)
        for (size_t c = 0; c < n_col; c++) {
            const char *t = cells[r * n_col + c] ? cells[r * n_col + c] : "";
            if (c + 1 < n_col)
                fprintf(f, "%-*s  ", (int)width[c], t);
            else
                fprintf(f, "%s\n", t);
        }
    for (size_t i = 0; i < n_col * n_row; i++)
        fp_free(cells[i]);
    fp_free(cells);
    fp_free(width);
}

void fp_print(fp_ctx *ctx, const json_t *v, const fp_col *cols)
{
    if (ctx->output == FP_OUT_TABLE && cols) {
        if (json_is_array(v)) {
            fp_print_table(ctx->out, v, cols);
        } else {
            json_t *rows = json_pack("[O]", v);
            fp_print_table(ctx->out, rows, cols);
            json_decref(rows);
        }
    } else if (ctx->output == FP_OUT_YAML || ctx->output == FP_OUT_TABLE) {
        fp_buf b;
        fp_buf_init(&b, 1u << 30);
        if (fp_yaml_emit(&b, v) == FP_OK && b.data)
            fputs(b.data, ctx->out);
        fp_buf_clear(&b);
    } else {
        char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
        if (s) {
            fputs(s, ctx->out);
            fputc('\n', ctx->out);
        }
        free(s);
    }
    fflush(ctx->out);
}

char *fp_read_file(const char *path, size_t *len_out)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    fp_buf b;
    char chunk[65536];
    size_t n;
    int saved;

    if (!f)
        return NULL;
    fp_buf_init(&b, 1u << 30);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (fp_buf_append(&b, chunk, n))
            break;
    saved = ferror(f) ? errno : 0;
    if (f != stdin)
        fclose(f);
    if (saved || b.err) {
        fp_buf_clear(&b);
        errno = saved ? saved : ENOMEM;
        return NULL;
    }
    if (!b.data)
        fp_buf_append(&b, "", 0);
    return fp_buf_take(&b, len_out);
}

int fp_write_output(fp_ctx *ctx, const char *path, const char *text, size_t len)
{
    FILE *f;

    if (!path || !strcmp(path, "-")) {
        fwrite(text, 1, len, ctx->out);
        fflush(ctx->out);
        return FP_EXIT_OK;
    }
    f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len) {
        fp_errorf(ctx, "cannot write %s: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return FP_EXIT_ERROR;
    }
    if (fclose(f)) {
        fp_errorf(ctx, "cannot write %s: %s", path, strerror(errno));
        return FP_EXIT_ERROR;
    }
    return FP_EXIT_OK;
}

bool fp_ctx_interactive(const fp_ctx *ctx)
{
    return ctx->out_tty && isatty(STDERR_FILENO);
}

void fp_progress(fp_ctx *ctx, const char *label, long done, long total)
{
    int width = 30, fill;

    if (!fp_ctx_interactive(ctx) || total <= 0)
        return;
    fill = (int)(done * width / total);
    fprintf(ctx->err, "\r%s [%.*s%*s] %ld/%ld", label, fill, "##############################",
            width - fill, "", done, total);
    if (done >= total)
        fputc('\n', ctx->err);
    fflush(ctx->err);
}

bool fp_confirm(fp_ctx *ctx, const char *what)
{
    char line[64];

    if (fp_arg_given(ctx, "yes"))
        return true;
    /* Scripts are not asked: only a person at a terminal is. */
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
        return true;
    fprintf(ctx->err, "Delete %s? [y/N] ", what);
    fflush(ctx->err);
    if (!fgets(line, sizeof line, stdin))
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}
