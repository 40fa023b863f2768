/*
 * client.h - the client side of the fieldplane command.
 *
 * The client commands (namespace, device, asset, discovered, schema, secret,
 * audit, watch, apply, export, login, completion) talk to the registry only
 * through its public REST API (docs/api.md). They are described by one tree of
 * static tables: a command row names the command, says what it does, gives an
 * example, lists its flags and points at its entry point. The same rows drive
 * the parser, `--help`, docs/cli.md and the bash completion script.
 *
 * A flag row may name a target: the JSON path that the flag's value sets in the
 * document the command writes ("properties.manufacturer",
 * "datasetConfiguration#publishingInterval" for a key inside a field that holds
 * JSON as a string). Create, update and the sub-group commands build or change
 * documents from those rows alone, so adding a field is adding a row.
 *
 * Sections: command tables and parsing · the HTTP client · output · YAML and CSV
 * · documents · resource operations.
 */
#ifndef FP_CLI_CLIENT_H
#define FP_CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "commands.h"
#include "fp_buf.h"
#include "fp_model.h"

/* ---------------------------------------------------------------------------
 * Command tables and parsing
 * ------------------------------------------------------------------------- */

typedef enum fp_flag_type {
    FP_FLAG_STR,    /* --x VALUE: a string */
    FP_FLAG_BOOL,   /* --x: true when present (false with FP_F_NEGATE at the target) */
    FP_FLAG_TF,     /* --x true|false */
    FP_FLAG_INT,    /* --x N: an integer */
    FP_FLAG_JSON,   /* --x JSON: stored as a string holding JSON (the ...Configuration fields) */
    FP_FLAG_LIST,   /* --x VALUE, repeatable: an array of strings */
    FP_FLAG_KV,     /* --x KEY=VALUE, repeatable: a string map */
    FP_FLAG_UNSET,  /* --x KEY, repeatable: removes KEY from the map at the target */
    FP_FLAG_DEST,   /* --x topic=T qos=Q retain=R ttl=S | key=K | path=P, repeatable */
    FP_FLAG_MSG_EP, /* --x NAME=[TYPE,]ADDRESS, repeatable: {endpointType, address} under
                       NAME in the map at the target (a namespace's messaging endpoints) */
} fp_flag_type;

/* Bits of fp_flag.opts. */
enum {
    FP_F_REQUIRED = 1 << 0,    /* must be given */
    FP_F_REQ_ADD = 1 << 1,     /* must be given when creating or adding */
    FP_F_CREATE_ONLY = 1 << 2, /* not offered by update commands */
    FP_F_POSITIONAL = 1 << 3,  /* a bare word fills it too */
    FP_F_NEGATE = 1 << 4,      /* a BOOL flag that writes false at its target */
    FP_F_HIDDEN = 1 << 5,      /* parsed but not shown in help */
};

typedef struct fp_flag {
    const char *name;    /* long name without the dashes; NULL ends a table */
    char short_name;     /* one-letter alias or 0 */
    fp_flag_type type;   /* how the value is read */
    unsigned opts;       /* FP_F_* */
    const char *target;  /* JSON path the value sets in the written document, or NULL */
    const char *metavar; /* what the value is called in help, NULL for the default */
    const char *help;    /* one line */
} fp_flag;

/* What a command does with documents; update commands hide create-only flags. */
typedef enum fp_op {
    FP_OP_NONE = 0,
    FP_OP_ADD,
    FP_OP_UPDATE,
} fp_op;

typedef struct fp_ctx fp_ctx;
typedef int (*fp_cli_fn)(fp_ctx *ctx);

typedef struct fp_cli_cmd fp_cli_cmd;
struct fp_cli_cmd {
    const char *name;           /* word on the command line; NULL ends a table */
    const char *summary;        /* one line */
    const char *example;        /* one or more example lines (no leading "$ ") */
    const fp_flag *flags;       /* the command's own flags, or NULL */
    const fp_flag *more_flags;  /* shared flags (e.g. the fields of an item), or NULL */
    fp_cli_fn run;              /* entry point of a leaf command, NULL for a group */
    const fp_cli_cmd *children; /* sub-commands of a group, or NULL */
    const void *data;           /* descriptor the entry point uses */
    fp_op op;                   /* ADD / UPDATE for required and create-only flags */
    const char *description;    /* optional longer text for help and docs */
};

/* One flag's parsed values (owned by the context). */
typedef struct fp_argval {
    const fp_flag *flag;
    int n_val;
    char **vals;
} fp_argval;

typedef enum fp_output {
    FP_OUT_TABLE = 0,
    FP_OUT_JSON,
    FP_OUT_YAML,
} fp_output;

typedef struct fp_client fp_client;

/* Everything a running command needs: the parsed flags, the chosen output, the
 * client (made on first use) and the command's path for messages. */
struct fp_ctx {
    const fp_cli_cmd *cmd;
    char path[256]; /* "device endpoint inbound add opcua" */
    fp_argval *args;
    int n_args;
    fp_output output;
    fp_client *client;
    FILE *out; /* stdout, or a capture stream in tests */
    FILE *err; /* stderr */
    bool out_tty;
};

/* The flags every client command takes. */
extern const fp_flag fp_global_flags[];

/* The client command groups, in the order help and docs show them; NULL-ended. */
extern const fp_cli_cmd *const fp_client_groups[];

/* Run the command tree `root` with argv starting at its name (argv[0] is the
 * group word). Parses flags, handles --help, runs the leaf and returns its exit
 * code (FP_EXIT_*); usage errors are printed and give FP_EXIT_USAGE. */
int fp_cli_main(const fp_cli_cmd *root, int argc, char **argv);

/* Parse argv (after the leaf's words) for cmd into ctx; prints usage errors to
 * ctx->err and returns FP_EXIT_USAGE, or FP_EXIT_OK. ctx must be zeroed with
 * out/err set. Frees nothing on failure: call fp_ctx_clear. */
int fp_cli_parse(fp_ctx *ctx, const fp_cli_cmd *cmd, int argc, char **argv);
void fp_ctx_clear(fp_ctx *ctx);

/* Accessors by long name. str: the last value or NULL. count: how many times
 * given. at: the i-th value. given: at least once. */
const char *fp_arg_str(const fp_ctx *ctx, const char *name);
int fp_arg_count(const fp_ctx *ctx, const char *name);
const char *fp_arg_at(const fp_ctx *ctx, const char *name, int i);
bool fp_arg_given(const fp_ctx *ctx, const char *name);
/* Parse a whole decimal integer (with optional sign); false when it is not one. */
bool fp_parse_long(const char *z, long long *out);

/* Help of a command or group to f; path is the words before it ("device create"). */
void fp_cli_help(FILE *f, const fp_cli_cmd *cmd, const char *path);
/* docs/cli.md, generated from the tables, to buf. */
fp_status fp_cli_docs(fp_buf *buf);
/* The bash completion script, generated from the tables, to buf. */
fp_status fp_cli_bash_completion(fp_buf *buf);

/* Print "fieldplane: <msg>" to ctx->err. */
void fp_errorf(fp_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------------
 * The HTTP client and its configuration
 * ------------------------------------------------------------------------- */

/* Server URL and token as the client uses them. */
typedef struct fp_client_config {
    char url[1024];
    char token[1024];
} fp_client_config;

/* Path of the config file: $XDG_CONFIG_HOME/fieldplane/config, else
 * $HOME/.config/fieldplane/config. False when neither variable is set. */
bool fp_config_path(char *out, size_t out_len);
/* Load the config file (missing is fine), then apply FIELDPLANE_URL and
 * FIELDPLANE_TOKEN; url defaults to http://127.0.0.1:8080. */
void fp_config_load(fp_client_config *cfg);
/* Write cfg to the config file with mode 0600, creating its directory. */
fp_status fp_config_save(const fp_client_config *cfg, char *err, size_t err_len);

/* A response. body is the parsed JSON (NULL when empty or not JSON); raw the
 * bytes. Free with fp_resp_clear. */
typedef struct fp_resp {
    long status; /* HTTP status, 0 when the server was not reached */
    char etag[256];
    json_t *body;
    fp_buf raw;
    char transport_error[256];
} fp_resp;

void fp_resp_clear(fp_resp *r);

fp_client *fp_client_new(const fp_client_config *cfg);
void fp_client_free(fp_client *c);
const char *fp_client_url(const fp_client *c);
/* Show an upload progress bar on stderr for the next requests. */
void fp_client_set_progress(fp_client *c, bool on);

/* Send one request. path starts with "/api/v1/..."; body is sent as JSON when
 * not NULL; if_match / if_none_match become the precondition headers when not
 * NULL. Fills r (cleared first). Returns FP_EXIT_OK for a 2xx answer, otherwise
 * the exit code that the answer maps to (fp_exit_for_http), FP_EXIT_UNREACHABLE
 * when the server could not be reached. Does not print anything. */
int fp_client_send(fp_client *c, const char *method, const char *path, const json_t *body,
                   const char *if_match, const char *if_none_match, fp_resp *r);

/* Stream a GET: each complete line of the answer goes to on_line as it arrives
 * (return non-zero to stop). Returns like fp_client_send; r gets status and,
 * for an error answer, its body. */
typedef int (*fp_line_fn)(const char *line, size_t len, void *arg);
int fp_client_stream(fp_client *c, const char *path, fp_line_fn on_line, void *arg, fp_resp *r);

/* GET a collection, following nextLink, and collect every document into a new
 * array (*items_out, owned by the caller). revision_out may be NULL. */
int fp_client_list(fp_client *c, const char *path, json_t **items_out, long long *revision_out,
                   fp_resp *r);

/* The exit code an HTTP status maps to. */
int fp_exit_for_http(long status);

/* Build "/api/v1/namespaces/NS[/COLL[/NAME]][SUFFIX]" with the names escaped.
 * Returns a string to free with fp_free, or NULL on allocation failure. */
char *fp_api_path(const char *ns, const char *coll, const char *name, const char *suffix);

/* The context's client, made from the config on first use. */
fp_client *fp_ctx_client(fp_ctx *ctx);

/* Print the error of a failed request to ctx->err ("error: ...", the field path
 * the server names, details) and return rc. what names the request target. */
int fp_report(fp_ctx *ctx, int rc, const fp_resp *r, const char *what);

/* ---------------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------------- */

typedef enum fp_col_kind {
    FP_COL_VALUE = 0, /* the scalar at path */
    FP_COL_COUNT,     /* number of elements of the array or object at path */
    FP_COL_KEYS,      /* the keys of the object at path, comma-separated */
    FP_COL_NAMES,     /* the "name" of each element of the array at path */
} fp_col_kind;

typedef struct fp_col {
    const char *header; /* NULL ends a table */
    const char *path;   /* dot path into the document */
    fp_col_kind kind;
} fp_col;

/* Print a value (document or array) in the context's output format; in table
 * mode an array prints one row per element, an object one row. */
void fp_print(fp_ctx *ctx, const json_t *v, const fp_col *cols);
/* The table itself: rows is an array of objects. */
void fp_print_table(FILE *f, const json_t *rows, const fp_col *cols);
/* Cell text of one column for one row (caller frees with fp_free). */
char *fp_col_text(const json_t *row, const fp_col *col);

/* ---------------------------------------------------------------------------
 * YAML and CSV
 * ------------------------------------------------------------------------- */

/* Parse YAML text (one or more documents) into a new JSON array of documents.
 * Plain scalars become null, booleans, integers and reals by the YAML 1.2 core
 * schema; quoted ones stay strings. On error returns NULL and writes a message
 * with the line to err. */
json_t *fp_yaml_parse(const char *text, size_t len, char *err, size_t err_len);
/* Emit v as one YAML document into buf (strings that would read back as
 * another type are quoted). */
fp_status fp_yaml_emit(fp_buf *buf, const json_t *v);
/* Emit each element of docs as its own document, separated by "---". */
fp_status fp_yaml_emit_all(fp_buf *buf, const json_t *docs);

/* The lines (1-based) where the items of a list start in YAML or JSON text:
 * of the top-level sequence of the first document, or, when that is a
 * mapping, of the sequence under key. A new array of integers, or NULL when
 * libyaml cannot read the text. */
json_t *fp_yaml_item_lines(const char *text, size_t len, const char *key);
/* The same for a list whose items hold lists: one array per item of the list
 * under key, [item line, line of each item of the item's subkey list]. So
 * that a bad data point of a dataset file is named by its own line. NULL when
 * libyaml cannot read the text. */
json_t *fp_yaml_sub_item_lines(const char *text, size_t len, const char *key, const char *subkey);

/* A parsed CSV file: rows of fields, with the line each row starts on. */
typedef struct fp_csv_row {
    int line;
    int n_field;
    char **fields;
} fp_csv_row;

typedef struct fp_csv {
    int n_row;
    fp_csv_row *rows;
} fp_csv;

/* Parse RFC 4180 CSV (quoted fields, "" escapes, CRLF or LF, a BOM is skipped).
 * Blank lines are skipped. On error returns non-zero and writes the line to err. */
fp_status fp_csv_parse(fp_csv *csv, const char *text, size_t len, char *err, size_t err_len);
void fp_csv_clear(fp_csv *csv);
/* Append one field, quoted when it must be, and a separator or newline. */
fp_status fp_csv_field(fp_buf *buf, const char *z, bool last);

/* ---------------------------------------------------------------------------
 * Documents
 * ------------------------------------------------------------------------- */

/* Value at a dot path ("properties.deviceRef.deviceName"), borrowed, or NULL. */
json_t *fp_json_get(const json_t *doc, const char *path);
/* Set value (taken) at a dot path, creating objects on the way. A path with
 * '#' ("datasetConfiguration#publishingInterval") sets a key inside the JSON
 * held as a string by the field before '#'. Returns 0, or -1 with err filled. */
int fp_json_set(json_t *doc, const char *path, json_t *value, char *err, size_t err_len);
/* The string at path or NULL. */
const char *fp_json_str(const json_t *doc, const char *path);

/* Apply every given flag of ctx that has a target to doc (paths relative to
 * doc). Returns 0, or FP_EXIT_USAGE after printing what is wrong. */
int fp_apply_flags(fp_ctx *ctx, json_t *doc);

/* Parse a destination spec ("topic=t qos=1 retain=Keep ttl=60", "key=k",
 * "path=p") into a new destination object; NULL with err filled on error. */
json_t *fp_dest_parse(const char *spec, char *err, size_t err_len);

/* Parse a messaging endpoint spec "NAME=TYPE,ADDRESS" or "NAME=ADDRESS" into
 * its name (a new string for fp_free, in *name_out) and a new endpoint object
 * {"endpointType", "address"}; NULL with err filled when it is malformed. */
json_t *fp_msg_endpoint_parse(const char *spec, char **name_out, char *err, size_t err_len);

/* Find the element named name in an array of objects; index or -1. */
int fp_json_find_named(const json_t *arr, const char *name);

/* Remove the fields the server sets (uuid, version, provisioningState,
 * lastTransitionTime, status, etag, systemData, id, type) from a copy of doc:
 * what is left is what a user wrote. Returns a new reference. */
json_t *fp_doc_spec(const json_t *doc);

/* Resource kinds the client writes declaratively: the first three kinds of the model
 * (lib/model), with their numbers, so that its names and types serve here too. */
typedef enum fp_rkind {
    FP_RK_NAMESPACE = FP_KIND_NAMESPACE,
    FP_RK_DEVICE = FP_KIND_DEVICE,
    FP_RK_ASSET = FP_KIND_ASSET,
    FP_RK_UNKNOWN = -1, /* outside the model's kinds: fp_kind_* answer "Unknown" and "" */
} fp_rkind;

/* fp_kind_name, fp_kind_collection and fp_kind_arm_type of lib/model: "Namespace",
 * "namespaces", "Microsoft.DeviceRegistry/namespaces/assets" ... */
const char *fp_rkind_name(fp_rkind k);
const char *fp_rkind_collection(fp_rkind k);
const char *fp_rkind_arm_type(fp_rkind k);

/* One document normalised for apply: the kind, the namespace and name, and the
 * ARM document to PUT. */
typedef struct fp_apply_doc {
    fp_rkind kind;
    char ns[128];
    char name[256];
    json_t *doc; /* owned */
} fp_apply_doc;

/* Turn one input document, ARM or Kubernetes, into an apply document. ns is
 * the --namespace flag (may be NULL): it wins over what the document says.
 * Returns 0, or -1 with err filled. */
int fp_doc_normalize(const json_t *in, const char *ns, fp_apply_doc *out, char *err,
                     size_t err_len);
/* The Kubernetes custom resource of an ARM document (new reference). */
json_t *fp_doc_to_k8s(const json_t *arm, fp_rkind kind, const char *ns);
/* Expand one parsed file's value into input documents: an ARM list
 * {"value": [...]}, an ARM template {"resources": [...]}, a JSON array, or one
 * document. Returns a new array. */
json_t *fp_doc_expand(const json_t *v);

/* Convert a discovered asset/device to a document for a real one named name. */
json_t *fp_doc_from_discovered(const json_t *disc, fp_rkind kind, const char *disc_name,
                               const char *name);

/* ---------------------------------------------------------------------------
 * Resource operations (shared by the command groups)
 * ------------------------------------------------------------------------- */

/* Descriptor of a top-level resource kind (cmd->data of its commands). */
typedef struct fp_res_desc {
    fp_rkind kind;      /* how documents of it are written (FP_RK_UNKNOWN: not declaratively) */
    fp_kind model;      /* its kind in lib/model: the noun for messages and the collection */
    const fp_col *cols; /* table columns */
} fp_res_desc;

/* Flag targets that start with '?' are query parameters of a list
 * ("?namePrefix"); with '=' a filter the client applies to each listed
 * document ("=properties.manufacturer" keeps those whose value equals the
 * flag's). fp_apply_flags skips both. */

/* Append the query string made of the command's '?' flags to b. */
void fp_list_query(fp_ctx *ctx, fp_buf *b);

/* Path of the resource named by --name (and --namespace) for desc. */
char *fp_res_path(fp_ctx *ctx, const fp_res_desc *desc, const char *name);

/* Change a document with read-modify-write: GET path, call fn on the document,
 * PUT it with If-Match, and on 412 start again (up to 5 times). fn returns
 * FP_EXIT_OK to write, another exit code to stop (it printed why), or -1 to
 * stop without writing and succeed. On success *out (if not NULL) is the
 * written document. */
typedef int (*fp_modify_fn)(fp_ctx *ctx, json_t *doc, void *arg);
int fp_res_modify(fp_ctx *ctx, const char *path, const char *what, fp_modify_fn fn, void *arg,
                  json_t **out);

/* Ask "Delete X? [y/N]" when stdin and stderr are a terminal, unless --yes;
 * true to go on. Scripts (no terminal) are not asked. */
bool fp_confirm(fp_ctx *ctx, const char *what);

/* Generic entry points for top-level kinds (cmd->data is an fp_res_desc). */
int fp_res_create(fp_ctx *ctx);
int fp_res_show(fp_ctx *ctx);
int fp_res_list(fp_ctx *ctx);
int fp_res_update(fp_ctx *ctx);
int fp_res_delete(fp_ctx *ctx);

/* Descriptor of an item list inside an asset (cmd->data of sub-group commands):
 * properties.<list>[] or properties.<parent_list>[name=--<parent_flag>].<list>[]. */
typedef struct fp_sub_desc {
    const char *what;        /* "dataset" */
    const char *parent_list; /* "datasets" or NULL */
    const char *parent_flag; /* "dataset" or NULL */
    const char *list;        /* "dataPoints" */
    const fp_col *cols;
} fp_sub_desc;

int fp_sub_add(fp_ctx *ctx);
int fp_sub_list(fp_ctx *ctx);
int fp_sub_show(fp_ctx *ctx);
int fp_sub_update(fp_ctx *ctx);
int fp_sub_remove(fp_ctx *ctx);

/* Import and export of data points (--dataset) and datasets (client_import.c). */
int fp_import_points(fp_ctx *ctx);
int fp_export_points(fp_ctx *ctx);
int fp_import_datasets(fp_ctx *ctx);
int fp_export_datasets(fp_ctx *ctx);

/* Formats of import files. */
typedef enum fp_import_format {
    FP_IMPORT_CSV = 0,
    FP_IMPORT_JSON,
    FP_IMPORT_YAML,
} fp_import_format;

/* Check import text and collect its good rows into a new array of datasets,
 * each {"name", other dataset fields, "dataPoints": [...]}. With dataset (a
 * data point import) every row goes to that dataset; without, rows name their
 * dataset (CSV column, or the datasets list of JSON and YAML). Each bad row is
 * reported to ctx->err by line (label names the file); *n_bad counts them and
 * *n_good the good ones. NULL (with *n_bad > 0) when the text cannot be read
 * at all. */
json_t *fp_import_read(fp_ctx *ctx, const char *text, size_t len, fp_import_format fmt,
                       const char *label, const char *dataset, int *n_bad, long *n_good);

/* Read a whole file ("-" for stdin) into a new buffer; NULL with errno. */
char *fp_read_file(const char *path, size_t *len_out);
/* Write text to a file ("-" or NULL for ctx->out). Returns an exit code. */
int fp_write_output(fp_ctx *ctx, const char *path, const char *text, size_t len);

/* Progress bar on stderr: "label [#####     ] n/total". */
void fp_progress(fp_ctx *ctx, const char *label, long done, long total);
/* True when stderr and stdout are terminals (progress and prompts). */
bool fp_ctx_interactive(const fp_ctx *ctx);

/* State of a running watch (cmd_watch.c). */
typedef struct fp_watch_state {
    fp_ctx *ctx;
    long long left; /* changes still to print, -1 for no limit */
    long long last; /* the last revision seen, -1 before the first */
    bool header_done;
    bool got_data;  /* this connection delivered at least one line */
    long long gaps; /* times the history was compacted past this watch */
} fp_watch_state;

/* Handle one line of the registry's watch stream (an event, a BOOKMARK, or
 * the ERROR that ends a stream which fell behind): print it in the context's
 * format and note its revision in w. Returns 1 to end this stream (the
 * --count is reached, or the watch must resume elsewhere), else 0. Lines that
 * are not JSON are ignored. */
int fp_watch_line(fp_watch_state *w, const char *line, size_t len);

/* ---------------------------------------------------------------------------
 * Command groups (cmd_<group>.c) and their main.c entry points
 * ------------------------------------------------------------------------- */

extern const fp_cli_cmd fp_cli_namespace;
extern const fp_cli_cmd fp_cli_device;
extern const fp_cli_cmd fp_cli_asset;
extern const fp_cli_cmd fp_cli_discovered;
extern const fp_cli_cmd fp_cli_schema;
extern const fp_cli_cmd fp_cli_secret;
extern const fp_cli_cmd fp_cli_audit;
extern const fp_cli_cmd fp_cli_watch;
extern const fp_cli_cmd fp_cli_apply;
extern const fp_cli_cmd fp_cli_export;
extern const fp_cli_cmd fp_cli_login;
extern const fp_cli_cmd fp_cli_completion;

int fp_cmd_namespace(int argc, char **argv);
int fp_cmd_device(int argc, char **argv);
int fp_cmd_asset(int argc, char **argv);
int fp_cmd_discovered(int argc, char **argv);
int fp_cmd_schema(int argc, char **argv);
int fp_cmd_secret(int argc, char **argv);
int fp_cmd_audit(int argc, char **argv);
int fp_cmd_watch(int argc, char **argv);
int fp_cmd_apply(int argc, char **argv);
int fp_cmd_export(int argc, char **argv);
int fp_cmd_login(int argc, char **argv);
int fp_cmd_completion(int argc, char **argv);

#endif
