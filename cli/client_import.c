/*
 * client_import.c - import and export of data points and datasets in CSV, JSON
 * and YAML, so that thousands of tags can be authored in a spreadsheet.
 *
 * An import reads the whole file, checks every row and reports each bad one by
 * its line (CSV) or item number (JSON, YAML). Nothing is written when a row is
 * bad unless --skip-invalid; then the good rows go to the asset in one
 * read-modify-write with If-Match, merged by name into what is there (or
 * replacing it with --replace).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "fp_alloc.h"

#define MAX_REPORTED 50

#define FMT_CSV FP_IMPORT_CSV
#define FMT_JSON FP_IMPORT_JSON
#define FMT_YAML FP_IMPORT_YAML

/* The format from --format, else from the file name's extension; -1 if unknown. */
static int pick_format(fp_ctx *ctx, const char *file, int fallback)
{
    const char *f = fp_arg_str(ctx, "format");
    const char *dot = file ? strrchr(file, '.') : NULL;

    if (!f && dot)
        f = dot + 1;
    if (!f)
        return fallback;
    if (!strcasecmp(f, "csv"))
        return FMT_CSV;
    if (!strcasecmp(f, "json"))
        return FMT_JSON;
    if (!strcasecmp(f, "yaml") || !strcasecmp(f, "yml"))
        return FMT_YAML;
    if (fp_arg_given(ctx, "format")) {
        fp_errorf(ctx, "--format must be csv, json or yaml, not '%s'", f);
        return -1;
    }
    return fallback;
}

/* Problems found in the input, printed at the end. */
typedef struct problems {
    int n;
    fp_ctx *ctx;
} problems;

static void problem(problems *p, const char *where, int at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(problems *p, const char *where, int at, const char *fmt, ...)
{
    va_list ap;

    p->n++;
    if (p->n > MAX_REPORTED)
        return;
    fprintf(p->ctx->err, "fieldplane: %s %d: ", where, at);
    va_start(ap, fmt);
    vfprintf(p->ctx->err, fmt, ap);
    va_end(ap);
    fputc('\n', p->ctx->err);
}

/* ---------------------------------------------------------------------------
 * One data point
 * ------------------------------------------------------------------------- */

/* Check a data point object and normalise it in place (a configuration given
 * as an object becomes the JSON string the model wants). Returns NULL when it
 * is good, otherwise a message. */
static const char *check_point(json_t *pt, char *msg, size_t msg_len)
{
    const char *key;
    json_t *v, *cfg;

    if (!json_is_object(pt))
        return "a data point must be an object";
    if (!json_is_string(json_object_get(pt, "name")) ||
        !json_string_length(json_object_get(pt, "name")))
        return "name is required";
    if (!json_is_string(json_object_get(pt, "dataSource")) ||
        !json_string_length(json_object_get(pt, "dataSource")))
        return "dataSource is required";
    cfg = json_object_get(pt, "dataPointConfiguration");
    if (json_is_object(cfg)) {
        char *s = json_dumps(cfg, JSON_COMPACT);
        json_object_set_new(pt, "dataPointConfiguration", json_string(s ? s : "{}"));
        free(s);
    } else if (json_is_string(cfg) && json_string_length(cfg)) {
        json_t *j = json_loads(json_string_value(cfg), 0, NULL);
        bool ok = json_is_object(j);
        json_decref(j);
        if (!ok)
            return "dataPointConfiguration is not a JSON object";
    } else if (cfg && !json_is_null(cfg) && !json_is_string(cfg)) {
        return "dataPointConfiguration must be JSON text or an object";
    }
    json_object_foreach(pt, key, v)
    {
        if (strcmp(key, "name") && strcmp(key, "dataSource") && strcmp(key, "typeRef") &&
            strcmp(key, "dataPointConfiguration")) {
            snprintf(msg, msg_len, "unknown field '%s'", key);
            return msg;
        }
        if (!json_is_string(v) && !json_is_null(v)) {
            snprintf(msg, msg_len, "%s must be a string", key);
            return msg;
        }
    }
    return NULL;
}

/* Columns a CSV file may have. */
enum { COL_DATASET, COL_NAME, COL_SOURCE, COL_TYPEREF, COL_CONFIG, COL_SAMPLING, COL_QUEUE, N_COL };
static const char *const g_columns[N_COL] = {
    "dataset",          "name",     "dataSource", "typeRef", "dataPointConfiguration",
    "samplingInterval", "queueSize"};

/* Turn one CSV row into a data point (new reference) or NULL with msg set. */
static json_t *point_from_row(const fp_csv_row *row, const int *col_of, char *msg, size_t msg_len)
{
    json_t *pt = json_object();
    const char *z;
    long long n;
    char err[128];

#define FIELD(c) (col_of[c] >= 0 && col_of[c] < row->n_field ? row->fields[col_of[c]] : NULL)
    if ((z = FIELD(COL_NAME)) && *z)
        json_object_set_new(pt, "name", json_string(z));
    if ((z = FIELD(COL_SOURCE)) && *z)
        json_object_set_new(pt, "dataSource", json_string(z));
    if ((z = FIELD(COL_TYPEREF)) && *z)
        json_object_set_new(pt, "typeRef", json_string(z));
    if ((z = FIELD(COL_CONFIG)) && *z)
        json_object_set_new(pt, "dataPointConfiguration", json_string(z));
    const int ints[2] = {COL_SAMPLING, COL_QUEUE};
    for (int i = 0; i < 2; i++) {
        if (!(z = FIELD(ints[i])) || !*z)
            continue;
        if (!fp_parse_long(z, &n)) {
            snprintf(msg, msg_len, "%s must be an integer, not '%s'", g_columns[ints[i]], z);
            json_decref(pt);
            return NULL;
        }
        const char *cfg = json_string_value(json_object_get(pt, "dataPointConfiguration"));
        if (cfg) {
            json_t *j = json_loads(cfg, 0, NULL);
            bool ok = json_is_object(j);
            json_decref(j);
            if (!ok)
                break; /* check_point reports it */
        }
        char path[128];
        snprintf(path, sizeof path, "dataPointConfiguration#%s", g_columns[ints[i]]);
        fp_json_set(pt, path, json_integer(n), err, sizeof err);
    }
#undef FIELD
    return pt;
}

/* True when every field of row is UTF-8 text, as JSON strings must be. */
static bool row_is_utf8(const fp_csv_row *row)
{
    for (int i = 0; i < row->n_field; i++) {
        json_t *s = json_string(row->fields[i]);
        if (!s)
            return false;
        json_decref(s);
    }
    return true;
}

/* Map the header row to column numbers; returns 0 or -1 (printed). */
static int read_header(problems *p, const fp_csv_row *hdr, int *col_of, bool want_dataset)
{
    for (int c = 0; c < N_COL; c++)
        col_of[c] = -1;
    for (int i = 0; i < hdr->n_field; i++) {
        int c;
        for (c = 0; c < N_COL; c++)
            if (!strcasecmp(hdr->fields[i], g_columns[c]))
                break;
        if (c == N_COL || (c == COL_DATASET && !want_dataset)) {
            problem(p, "line", hdr->line, "unknown column '%s'%s", hdr->fields[i],
                    want_dataset ? "" : " (dataset import takes a dataset column)");
            return -1;
        }
        col_of[c] = i;
    }
    if (col_of[COL_NAME] < 0 || col_of[COL_SOURCE] < 0 ||
        (want_dataset && col_of[COL_DATASET] < 0)) {
        problem(p, "line", hdr->line, "the header must name the columns %s%s",
                want_dataset ? "dataset, " : "", "name and dataSource");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Reading an input file into datasets
 * ------------------------------------------------------------------------- */

/* Add pt to the dataset named ds in sets (an array of dataset objects),
 * creating it; reports a name seen before in the same dataset. */
static bool add_point(problems *p, json_t *sets, const char *ds, json_t *pt, const char *where,
                      int at)
{
    int di = fp_json_find_named(sets, ds);
    json_t *set, *points, *seen;
    const char *name = json_string_value(json_object_get(pt, "name"));

    if (di < 0) {
        set = json_pack("{s:s,s:[]}", "name", ds, "dataPoints");
        if (!set || json_array_append_new(sets, set)) {
            problem(p, where, at, "dataset name '%s' cannot be stored", ds);
            return false;
        }
    } else {
        set = json_array_get(sets, (size_t)di);
    }
    points = json_object_get(set, "dataPoints");
    if (!json_is_array(points)) {
        points = json_array();
        json_object_set_new(set, "dataPoints", points);
    }
    /* Names seen so far, kept beside the points so that a check is O(1). */
    seen = json_object_get(set, "\x01seen");
    if (!seen) {
        seen = json_object();
        json_object_set_new(set, "\x01seen", seen);
    }
    if (json_object_get(seen, name)) {
        problem(p, where, at, "data point '%s' appears twice in dataset '%s'", name, ds);
        return false;
    }
    json_object_set_new(seen, name, json_true());
    json_array_append(points, pt);
    return true;
}

/* Read text into an array of datasets (see fp_import_read). */
static json_t *read_text(fp_ctx *ctx, const char *text, size_t len, int fmt, const char *file,
                         const char *dataset, problems *p, long *n_good)
{
    char err[512], msg[256];
    json_t *sets = json_array();

    *n_good = 0;
    if (!sets) {
        fp_errorf(ctx, "out of memory");
        goto fail;
    }
    if (fmt == FMT_CSV) {
        fp_csv csv;
        int col_of[N_COL];
        if (fp_csv_parse(&csv, text, len, err, sizeof err)) {
            fp_errorf(ctx, "%s: %s", file, err);
            goto fail;
        }
        if (csv.n_row == 0 || read_header(p, &csv.rows[0], col_of, dataset == NULL)) {
            if (csv.n_row == 0)
                fp_errorf(ctx, "%s: empty file", file);
            fp_csv_clear(&csv);
            goto fail;
        }
        for (int i = 1; i < csv.n_row; i++) {
            const fp_csv_row *row = &csv.rows[i];
            const char *why, *ds = dataset;
            json_t *pt;
            if (row->n_field > csv.rows[0].n_field) {
                problem(p, "line", row->line, "more fields than the header has");
                continue;
            }
            if (!row_is_utf8(row)) {
                /* jansson would drop such a field and the row would be
                 * reported as missing it. */
                problem(p, "line", row->line, "not UTF-8 text (save the file as UTF-8)");
                continue;
            }
            if (!ds) {
                ds = col_of[COL_DATASET] < row->n_field ? row->fields[col_of[COL_DATASET]] : "";
                if (!*ds) {
                    problem(p, "line", row->line, "dataset is required");
                    continue;
                }
            }
            pt = point_from_row(row, col_of, msg, sizeof msg);
            why = pt ? check_point(pt, msg, sizeof msg) : msg;
            if (why)
                problem(p, "line", row->line, "%s", why);
            else if (add_point(p, sets, ds, pt, "line", row->line))
                (*n_good)++;
            json_decref(pt);
            if (i % 1000 == 0)
                fp_progress(ctx, "checking", i, csv.n_row - 1);
        }
        fp_progress(ctx, "checking", csv.n_row - 1, csv.n_row - 1);
        fp_csv_clear(&csv);
    } else {
        json_t *docs, *list;
        if (fmt == FMT_YAML) {
            docs = fp_yaml_parse(text, len, err, sizeof err);
            if (!docs) {
                fp_errorf(ctx, "%s: %s", file, err);
                goto fail;
            }
        } else {
            json_error_t jerr;
            json_t *one = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
            if (!one) {
                fp_errorf(ctx, "%s: line %d, column %d: %s", file, jerr.line, jerr.column,
                          jerr.text);
                goto fail;
            }
            docs = json_pack("[o]", one);
        }
        list = json_array_get(docs, 0);
        if (json_is_object(list))
            list = json_object_get(list, dataset ? "dataPoints" : "datasets");
        if (!json_is_array(list)) {
            fp_errorf(ctx, "%s: expected a list of %s", file, dataset ? "data points" : "datasets");
            json_decref(docs);
            goto fail;
        }
        size_t i;
        json_t *e;
        /* Where each item starts, for messages (NULL when libyaml cannot say). */
        json_t *lines = fp_yaml_item_lines(text, len, dataset ? "dataPoints" : "datasets");
        /* ... and where each data point of each dataset starts. */
        json_t *sub_lines =
            dataset ? NULL : fp_yaml_sub_item_lines(text, len, "datasets", "dataPoints");
        json_array_foreach(list, i, e)
        {
            int line = (int)json_integer_value(json_array_get(lines, i));
            const char *where = line ? "line" : "item";
            int at = line ? line : (int)i + 1;
            if (dataset) {
                json_t *pt = json_deep_copy(e);
                const char *why = check_point(pt, msg, sizeof msg);
                if (why)
                    problem(p, where, at, "item %zu: %s", i + 1, why);
                else if (add_point(p, sets, dataset, pt, where, at))
                    (*n_good)++;
                json_decref(pt);
                continue;
            }
            /* A dataset: its own fields plus a list of data points. */
            const char *dsname = json_string_value(json_object_get(e, "name"));
            json_t *pts = json_object_get(e, "dataPoints");
            size_t j;
            json_t *pe;
            if (!dsname || !*dsname) {
                problem(p, where, at, "item %zu: dataset name is required", i + 1);
                continue;
            }
            if (fp_json_find_named(sets, dsname) >= 0) {
                problem(p, where, at, "item %zu: dataset '%s' appears twice", i + 1, dsname);
                continue;
            }
            json_t *set = json_deep_copy(e);
            json_object_set_new(set, "dataPoints", json_array());
            json_array_append_new(sets, set);
            if (pts && !json_is_array(pts)) {
                problem(p, where, at, "item %zu: dataPoints must be a list", i + 1);
                continue;
            }
            json_array_foreach(pts, j, pe)
            {
                json_t *pt = json_deep_copy(pe);
                const char *why = check_point(pt, msg, sizeof msg);
                /* The point's own line when the format says it. */
                int pline =
                    (int)json_integer_value(json_array_get(json_array_get(sub_lines, i), j + 1));
                const char *pwhere = pline ? "line" : where;
                int pat = pline ? pline : at;
                if (why) {
                    problem(p, pwhere, pat, "dataset '%s', data point %zu: %s", dsname, j + 1, why);
                } else if (add_point(p, sets, dsname, pt, pwhere, pat)) {
                    (*n_good)++;
                }
                json_decref(pt);
            }
        }
        json_decref(lines);
        json_decref(sub_lines);
        json_decref(docs);
    }
    {
        size_t i;
        json_t *set;
        json_array_foreach(sets, i, set) json_object_del(set, "\x01seen");
    }
    return sets;
fail:
    p->n++; /* the file itself is bad: counts as a bad row */
    json_decref(sets);
    return NULL;
}

json_t *fp_import_read(fp_ctx *ctx, const char *text, size_t len, fp_import_format fmt,
                       const char *label, const char *dataset, int *n_bad, long *n_good)
{
    problems p = {0, ctx};
    json_t *sets = read_text(ctx, text, len, (int)fmt, label, dataset, &p, n_good);

    *n_bad = p.n;
    return sets;
}

/* Read the --input-file into an array of datasets. For a data point import
 * every row goes to the dataset `dataset`. Returns the datasets (new
 * reference) and the number of good and bad rows; NULL when the file cannot be
 * read at all. */
static json_t *read_input(fp_ctx *ctx, const char *dataset, problems *p, long *n_good)
{
    const char *file = fp_arg_str(ctx, "input-file");
    int fmt = pick_format(ctx, file, FMT_CSV);
    size_t len;
    char *text;
    json_t *sets;

    *n_good = 0;
    if (fmt < 0)
        return NULL;
    text = fp_read_file(file, &len);
    if (!text) {
        fp_errorf(ctx, "cannot read %s: %s", file, strerror(errno));
        return NULL;
    }
    sets = read_text(ctx, text, len, fmt, file, dataset, p, n_good);
    fp_free(text);
    return sets;
}

/* ---------------------------------------------------------------------------
 * Writing the import
 * ------------------------------------------------------------------------- */

typedef struct import_op {
    json_t *sets;        /* what was read */
    const char *dataset; /* data point import: the one target dataset */
    long added, updated;
} import_op;

/* Merge src's points into dst (a dataset), replacing those with the same name. */
static void merge_points(json_t *dst, const json_t *src, bool replace, import_op *op)
{
    json_t *points = json_object_get(dst, "dataPoints");
    json_t *index = json_object(); /* name -> position, so merging is linear */
    size_t i;
    json_t *pt;

    if (replace || !json_is_array(points)) {
        points = json_array();
        json_object_set_new(dst, "dataPoints", points);
    }
    json_array_foreach(points, i, pt)
    {
        const char *n = json_string_value(json_object_get(pt, "name"));
        if (n)
            json_object_set_new(index, n, json_integer((json_int_t)i));
    }
    json_array_foreach(json_object_get(src, "dataPoints"), i, pt)
    {
        const char *n = json_string_value(json_object_get(pt, "name"));
        json_t *at = json_object_get(index, n);
        if (at) {
            json_array_set(points, (size_t)json_integer_value(at), pt);
            op->updated++;
        } else {
            json_object_set_new(index, n, json_integer((json_int_t)json_array_size(points)));
            json_array_append(points, pt);
            op->added++;
        }
    }
    json_decref(index);
}

static int import_fn(fp_ctx *ctx, json_t *doc, void *arg)
{
    import_op *op = arg;
    bool replace = fp_arg_given(ctx, "replace");
    json_t *datasets = fp_json_get(doc, "properties.datasets");
    char err[128];
    size_t i;
    json_t *set;

    op->added = op->updated = 0;
    if (!json_is_array(datasets)) {
        if (fp_json_set(doc, "properties.datasets", json_array(), err, sizeof err))
            return FP_EXIT_ERROR;
        datasets = fp_json_get(doc, "properties.datasets");
    }
    if (op->dataset) {
        int di = fp_json_find_named(datasets, op->dataset);
        if (di < 0) {
            fp_errorf(ctx, "dataset '%s' not found in asset '%s' (add it first)", op->dataset,
                      fp_arg_str(ctx, "asset"));
            return FP_EXIT_NOT_FOUND;
        }
        set = json_array_get(op->sets, 0);
        if (set)
            merge_points(json_array_get(datasets, (size_t)di), set, replace, op);
        else if (replace)
            json_object_set_new(json_array_get(datasets, (size_t)di), "dataPoints", json_array());
        return FP_EXIT_OK;
    }
    if (replace)
        json_array_clear(datasets);
    json_array_foreach(op->sets, i, set)
    {
        int di = fp_json_find_named(datasets, json_string_value(json_object_get(set, "name")));
        if (di < 0) {
            json_t *copy = json_deep_copy(set);
            json_object_set_new(copy, "dataPoints", json_array());
            json_array_append_new(datasets, copy);
            di = (int)json_array_size(datasets) - 1;
        } else {
            /* Fields the file gives win; the points merge by name. */
            json_t *dst = json_array_get(datasets, (size_t)di);
            const char *key;
            json_t *v;
            json_object_foreach(set, key, v) if (strcmp(key, "dataPoints"))
                json_object_set(dst, key, v);
        }
        merge_points(json_array_get(datasets, (size_t)di), set, false, op);
    }
    return FP_EXIT_OK;
}

static int run_import(fp_ctx *ctx, const char *dataset)
{
    problems p = {0, ctx};
    import_op op = {NULL, dataset, 0, 0};
    long n_good;
    char *path, what[300];
    int rc;

    op.sets = read_input(ctx, dataset, &p, &n_good);
    if (!op.sets)
        return p.n ? FP_EXIT_INVALID : FP_EXIT_USAGE;
    if (p.n > MAX_REPORTED)
        fp_errorf(ctx, "... and %d more problems", p.n - MAX_REPORTED);
    if (p.n && !fp_arg_given(ctx, "skip-invalid")) {
        fp_errorf(ctx,
                  "%d invalid row%s in %s: nothing imported (--skip-invalid imports the "
                  "%ld valid ones)",
                  p.n, p.n == 1 ? "" : "s", fp_arg_str(ctx, "input-file"), n_good);
        json_decref(op.sets);
        return FP_EXIT_INVALID;
    }
    if (fp_arg_given(ctx, "dry-run")) {
        if (ctx->output == FP_OUT_TABLE)
            fprintf(ctx->out, "%ld valid, %d invalid: nothing written (--dry-run)\n", n_good, p.n);
        else {
            json_t *sum = json_pack("{s:I,s:i}", "valid", (json_int_t)n_good, "invalid", p.n);
            fp_print(ctx, sum, NULL);
            json_decref(sum);
        }
        json_decref(op.sets);
        return p.n ? FP_EXIT_INVALID : FP_EXIT_OK;
    }
    if (!fp_ctx_client(ctx)) {
        json_decref(op.sets);
        return FP_EXIT_ERROR;
    }
    fp_client_set_progress(ctx->client, fp_ctx_interactive(ctx));
    path = fp_api_path(fp_arg_str(ctx, "namespace"), fp_kind_collection(FP_KIND_ASSET),
                       fp_arg_str(ctx, "asset"), NULL);
    snprintf(what, sizeof what, "asset '%s'", fp_arg_str(ctx, "asset"));
    rc = fp_res_modify(ctx, path, what, import_fn, &op, NULL);
    fp_client_set_progress(ctx->client, false);
    if (!rc) {
        json_t *sum = json_pack("{s:I,s:I,s:i}", "added", (json_int_t)op.added, "updated",
                                (json_int_t)op.updated, "skipped", p.n);
        if (ctx->output == FP_OUT_TABLE)
            fprintf(ctx->out,
                    "imported %ld data points into asset '%s': %ld added, %ld updated, "
                    "%d skipped\n",
                    op.added + op.updated, fp_arg_str(ctx, "asset"), op.added, op.updated, p.n);
        else
            fp_print(ctx, sum, NULL);
        json_decref(sum);
    }
    fp_free(path);
    json_decref(op.sets);
    return rc;
}

int fp_import_points(fp_ctx *ctx)
{
    return run_import(ctx, fp_arg_str(ctx, "dataset"));
}

int fp_import_datasets(fp_ctx *ctx)
{
    return run_import(ctx, NULL);
}

/* ---------------------------------------------------------------------------
 * Export
 * ------------------------------------------------------------------------- */

static void csv_points(fp_buf *b, const char *ds, const json_t *points)
{
    size_t i;
    const json_t *pt;

    json_array_foreach(points, i, pt)
    {
        if (ds)
            fp_csv_field(b, ds, false);
        fp_csv_field(b, json_string_value(json_object_get(pt, "name")), false);
        fp_csv_field(b, json_string_value(json_object_get(pt, "dataSource")), false);
        fp_csv_field(b, json_string_value(json_object_get(pt, "typeRef")), false);
        fp_csv_field(b, json_string_value(json_object_get(pt, "dataPointConfiguration")), true);
    }
}

static int run_export(fp_ctx *ctx, const char *dataset)
{
    const char *file = fp_arg_str(ctx, "output-file");
    int fmt = pick_format(ctx, file, FMT_CSV);
    fp_client *c = fp_ctx_client(ctx);
    char *path, what[300];
    fp_resp r;
    fp_buf b;
    json_t *datasets, *value;
    int rc;

    if (fmt < 0)
        return FP_EXIT_USAGE;
    if (!c)
        return FP_EXIT_ERROR;
    path = fp_api_path(fp_arg_str(ctx, "namespace"), fp_kind_collection(FP_KIND_ASSET),
                       fp_arg_str(ctx, "asset"), NULL);
    rc = fp_client_send(c, "GET", path, NULL, NULL, NULL, &r);
    fp_free(path);
    snprintf(what, sizeof what, "asset '%s'", fp_arg_str(ctx, "asset"));
    if (rc) {
        fp_report(ctx, rc, &r, what);
        fp_resp_clear(&r);
        return rc;
    }
    datasets = fp_json_get(r.body, "properties.datasets");
    if (dataset) {
        int di = fp_json_find_named(datasets, dataset);
        if (di < 0) {
            fp_errorf(ctx, "dataset '%s' not found in %s", dataset, what);
            fp_resp_clear(&r);
            return FP_EXIT_NOT_FOUND;
        }
        value = json_object_get(json_array_get(datasets, (size_t)di), "dataPoints");
        value = json_is_array(value) ? json_incref(value) : json_array();
    } else {
        value = json_is_array(datasets) ? json_incref(datasets) : json_array();
    }
    fp_buf_init(&b, 1u << 30);
    if (fmt == FMT_CSV) {
        if (!dataset)
            fp_buf_append_str(&b, "dataset,");
        fp_buf_append_str(&b, "name,dataSource,typeRef,dataPointConfiguration\n");
        if (dataset) {
            csv_points(&b, NULL, value);
        } else {
            size_t i;
            json_t *ds;
            json_array_foreach(value, i, ds)
                csv_points(&b, json_string_value(json_object_get(ds, "name")),
                           json_object_get(ds, "dataPoints"));
        }
    } else if (fmt == FMT_YAML) {
        fp_yaml_emit(&b, value);
    } else {
        char *s = json_dumps(value, JSON_INDENT(2));
        fp_buf_append_str(&b, s ? s : "[]");
        fp_buf_append_str(&b, "\n");
        free(s);
    }
    rc = b.err ? FP_EXIT_ERROR : fp_write_output(ctx, file, b.data ? b.data : "", b.len);
    fp_buf_clear(&b);
    json_decref(value);
    fp_resp_clear(&r);
    return rc;
}

int fp_export_points(fp_ctx *ctx)
{
    return run_export(ctx, fp_arg_str(ctx, "dataset"));
}

int fp_export_datasets(fp_ctx *ctx)
{
    return run_export(ctx, NULL);
}
