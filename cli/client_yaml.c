/*
 * client_yaml.c - YAML to JSON and back, over libyaml, and a CSV reader and
 * writer. The client reads Kubernetes custom resources and import files in YAML
 * and writes `--output yaml`; both sides go through jansson values so that the
 * rest of the client sees one document model.
 *
 * Scalars follow the YAML 1.2 core schema: a plain `true`, `12` or `null` is a
 * boolean, an integer or null; anything quoted is a string. The emitter quotes
 * exactly the strings that would otherwise read back as another type.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "client.h"
#include "fp_json.h"
#include "fp_alloc.h"

/* ---------------------------------------------------------------------------
 * Scalar typing
 * ------------------------------------------------------------------------- */

/* The JSON value of a plain scalar by the core schema (new reference). */
static json_t *plain_scalar(const char *z, size_t len)
{
    long long n;
    char *end;
    double d;

    if (len == 0 || !strcmp(z, "~") || !strcmp(z, "null") || !strcmp(z, "Null") ||
        !strcmp(z, "NULL"))
        return json_null();
    if (!strcmp(z, "true") || !strcmp(z, "True") || !strcmp(z, "TRUE"))
        return json_true();
    if (!strcmp(z, "false") || !strcmp(z, "False") || !strcmp(z, "FALSE"))
        return json_false();
    if (fp_parse_long(z, &n) && (isdigit((unsigned char)z[0]) || z[0] == '-' || z[0] == '+'))
        return json_integer(n);
    if (isdigit((unsigned char)z[0]) || ((z[0] == '-' || z[0] == '+' || z[0] == '.') && len > 1 &&
                                         (isdigit((unsigned char)z[1]) || z[1] == '.'))) {
        errno = 0;
        d = strtod(z, &end);
        if (!errno && !*end && !strpbrk(z, "xXnN"))
            return json_real(d);
    }
    return json_stringn(z, len);
}

/* True when the string z would not read back as a string from a plain scalar. */
static bool needs_quotes(const char *z, size_t len)
{
    json_t *v;
    bool str;

    if (len == 0)
        return true;
    v = plain_scalar(z, len);
    str = json_is_string(v);
    json_decref(v);
    if (!str)
        return true;
    /* A plain "<<" key is a merge key. */
    if (len == 2 && z[0] == '<' && z[1] == '<')
        return true;
    /* Words YAML 1.1 readers (and people) take as booleans. */
    static const char *const words[] = {"yes", "no",  "on",  "off", "y",  "n",   "Yes", "No",
                                        "On",  "Off", "YES", "NO",  "ON", "OFF", NULL};
    for (int i = 0; words[i]; i++)
        if (!strcmp(z, words[i]))
            return true;
    return false;
}

/* ---------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------- */

/* Limits that keep a hostile file from exhausting the stack or the memory:
 * nesting depth, and the number of values a document may hold once its
 * aliases are expanded (a few lines of anchors and aliases can otherwise
 * stand for billions of values). */
#define YAML_MAX_DEPTH 200
#define YAML_MAX_VALUES (4L << 20)

typedef struct anchor {
    char *name;
    json_t *value;
    long n_values; /* values in value, charged again at each alias */
    int depth;     /* levels of nesting in value */
} anchor;

typedef struct parse_state {
    yaml_parser_t parser;
    anchor *anchors;
    int n_anchor;
    int depth;     /* collections open around the current node */
    int deepest;   /* the deepest level reached inside the current node */
    long n_values; /* values made so far, aliases expanded */
    char *err;
    size_t err_len;
} parse_state;

/* Record that the node started at `start` values ago is anchored as name. */
static void remember(parse_state *s, const yaml_char_t *name, json_t *v, long start)
{
    anchor *a;
    char *copy;

    if (!name || !v)
        return;
    copy = fp_strdup((const char *)name);
    if (!copy)
        return;
    a = fp_realloc(s->anchors, (size_t)(s->n_anchor + 1) * sizeof *a);
    if (!a) {
        fp_free(copy);
        return;
    }
    s->anchors = a;
    a[s->n_anchor].name = copy;
    a[s->n_anchor].value = json_incref(v);
    a[s->n_anchor].n_values = s->n_values - start;
    a[s->n_anchor].depth = s->deepest - s->depth;
    s->n_anchor++;
}

/* Count n more values; false (with the error set) past the limit. */
static bool charge(parse_state *s, long n, size_t line)
{
    if (n > YAML_MAX_VALUES - s->n_values) {
        snprintf(s->err, s->err_len,
                 "YAML error at line %zu: the document expands to more than %ld values", line,
                 YAML_MAX_VALUES);
        return false;
    }
    s->n_values += n;
    return true;
}

/* Parse the node that starts with event ev (consumed by the caller). New
 * reference, NULL on error with s->err set. */
static json_t *parse_node(parse_state *s, yaml_event_t *ev);

static json_t *parse_next(parse_state *s)
{
    yaml_event_t ev;
    json_t *v;

    if (!yaml_parser_parse(&s->parser, &ev)) {
        snprintf(s->err, s->err_len, "YAML error at line %zu: %s", s->parser.problem_mark.line + 1,
                 s->parser.problem ? s->parser.problem : "syntax error");
        return NULL;
    }
    v = parse_node(s, &ev);
    yaml_event_delete(&ev);
    return v;
}

static json_t *parse_inner(parse_state *s, yaml_event_t *ev);

static json_t *parse_node(parse_state *s, yaml_event_t *ev)
{
    int outer = s->deepest;
    json_t *v;

    s->deepest = s->depth;
    v = parse_inner(s, ev);
    if (outer > s->deepest)
        s->deepest = outer;
    return v;
}

static json_t *parse_inner(parse_state *s, yaml_event_t *ev)
{
    json_t *v = NULL, *merges = NULL;
    yaml_event_t kev;
    long start = s->n_values;
    size_t line = ev->start_mark.line + 1;

    if (ev->type != YAML_ALIAS_EVENT && !charge(s, 1, line))
        return NULL;
    if ((ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) &&
        s->depth >= YAML_MAX_DEPTH) {
        snprintf(s->err, s->err_len, "YAML error at line %zu: nested deeper than %d levels", line,
                 YAML_MAX_DEPTH);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *z = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        const char *tag = (const char *)ev->data.scalar.tag;
        if (tag && !strcmp(tag, YAML_STR_TAG))
            v = json_stringn(z, len);
        else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            v = plain_scalar(z, len);
        else
            v = json_stringn(z, len);
        if (!v)
            snprintf(s->err, s->err_len, "YAML error at line %zu: invalid text",
                     ev->start_mark.line + 1);
        remember(s, ev->data.scalar.anchor, v, start);
        return v;
    }
    case YAML_ALIAS_EVENT:
        /* The latest anchor of that name wins (an anchor may be redefined). */
        for (int i = s->n_anchor - 1; i >= 0; i--) {
            if (strcmp(s->anchors[i].name, (const char *)ev->data.alias.anchor))
                continue;
            if (!charge(s, s->anchors[i].n_values, line))
                return NULL;
            if (s->depth + s->anchors[i].depth > YAML_MAX_DEPTH) {
                snprintf(s->err, s->err_len, "YAML error at line %zu: nested deeper than %d levels",
                         line, YAML_MAX_DEPTH);
                return NULL;
            }
            if (s->depth + s->anchors[i].depth > s->deepest)
                s->deepest = s->depth + s->anchors[i].depth;
            v = json_deep_copy(s->anchors[i].value);
            if (!v)
                snprintf(s->err, s->err_len, "YAML error at line %zu: out of memory", line);
            return v;
        }
        snprintf(s->err, s->err_len, "YAML error at line %zu: unknown alias *%s",
                 ev->start_mark.line + 1, ev->data.alias.anchor);
        return NULL;
    case YAML_SEQUENCE_START_EVENT:
        v = json_array();
        if (++s->depth > s->deepest)
            s->deepest = s->depth;
        for (;;) {
            yaml_event_t item;
            json_t *e;
            if (!yaml_parser_parse(&s->parser, &item)) {
                snprintf(s->err, s->err_len, "YAML error at line %zu: %s",
                         s->parser.problem_mark.line + 1,
                         s->parser.problem ? s->parser.problem : "syntax error");
                goto fail;
            }
            if (item.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&item);
                break;
            }
            e = parse_node(s, &item);
            yaml_event_delete(&item);
            if (!e)
                goto fail;
            json_array_append_new(v, e);
        }
        s->depth--;
        remember(s, ev->data.sequence_start.anchor, v, start);
        return v;
    case YAML_MAPPING_START_EVENT:
        v = json_object();
        if (++s->depth > s->deepest)
            s->deepest = s->depth;
        for (;;) {
            json_t *val;
            if (!yaml_parser_parse(&s->parser, &kev)) {
                snprintf(s->err, s->err_len, "YAML error at line %zu: %s",
                         s->parser.problem_mark.line + 1,
                         s->parser.problem ? s->parser.problem : "syntax error");
                goto fail;
            }
            if (kev.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&kev);
                break;
            }
            if (kev.type != YAML_SCALAR_EVENT) {
                snprintf(s->err, s->err_len, "YAML error at line %zu: keys must be scalars",
                         kev.start_mark.line + 1);
                yaml_event_delete(&kev);
                goto fail;
            }
            char *key = fp_strndup((const char *)kev.data.scalar.value, kev.data.scalar.length);
            size_t kline = kev.start_mark.line + 1;
            /* Only a plain "<<" is a merge key; a quoted one is a key like any other. */
            bool merge =
                kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && key && !strcmp(key, "<<");
            yaml_event_delete(&kev);
            if (!key) {
                snprintf(s->err, s->err_len, "YAML error at line %zu: out of memory", kline);
                goto fail;
            }
            val = parse_next(s);
            if (!val) {
                fp_free(key);
                goto fail;
            }
            if (merge && (json_is_object(val) || json_is_array(val))) {
                /* Merge key: applied when the mapping is complete, so that its
                 * own keys win over the merged ones. */
                if (!merges)
                    merges = json_array();
                json_array_append_new(merges, val);
            } else if (json_object_get(v, key)) {
                snprintf(s->err, s->err_len, "YAML error at line %zu: duplicate key '%s'", kline,
                         key);
                fp_free(key);
                json_decref(val);
                goto fail;
            } else {
                json_object_set_new(v, key, val);
            }
            fp_free(key);
        }
        s->depth--;
        {
            /* "<<: *a" or "<<: [*a, *b]": earlier mappings win over later ones. */
            size_t i;
            json_t *m;
            json_array_foreach(merges, i, m)
            {
                if (json_is_object(m)) {
                    json_object_update_missing(v, m);
                } else {
                    size_t j;
                    json_t *e;
                    json_array_foreach(m, j, e) if (json_is_object(e))
                        json_object_update_missing(v, e);
                }
            }
            json_decref(merges);
        }
        remember(s, ev->data.mapping_start.anchor, v, start);
        return v;
    default:
        snprintf(s->err, s->err_len, "YAML error at line %zu: unexpected event",
                 ev->start_mark.line + 1);
        return NULL;
    }
fail:
    s->depth--;
    json_decref(merges);
    json_decref(v);
    return NULL;
}

json_t *fp_yaml_parse(const char *text, size_t len, char *err, size_t err_len)
{
    parse_state s;
    json_t *docs = json_array();
    yaml_event_t ev;
    bool ok = true;

    memset(&s, 0, sizeof s);
    s.err = err;
    s.err_len = err_len;
    err[0] = '\0';
    if (!docs || !yaml_parser_initialize(&s.parser)) {
        json_decref(docs);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&s.parser, (const unsigned char *)text, len);
    for (;;) {
        if (!yaml_parser_parse(&s.parser, &ev)) {
            snprintf(err, err_len, "YAML error at line %zu: %s", s.parser.problem_mark.line + 1,
                     s.parser.problem ? s.parser.problem : "syntax error");
            ok = false;
            break;
        }
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT) {
            json_t *doc = parse_next(&s);
            yaml_event_delete(&ev);
            if (!doc) {
                ok = false;
                break;
            }
            /* An empty document between "---" lines is skipped. */
            if (!json_is_null(doc))
                json_array_append(docs, doc);
            json_decref(doc);
            continue;
        }
        yaml_event_delete(&ev); /* stream start, document end */
    }
    for (int i = 0; i < s.n_anchor; i++) {
        fp_free(s.anchors[i].name);
        json_decref(s.anchors[i].value);
    }
    fp_free(s.anchors);
    yaml_parser_delete(&s.parser);
    if (!ok) {
        json_decref(docs);
        return NULL;
    }
    return docs;
}

/* Where the items of the list start (see fp_yaml_item_lines). With subkey,
 * each element is an array: the item's line, then the lines of the items of
 * the list under subkey in that item. */
static json_t *item_lines(const char *text, size_t len, const char *key, const char *subkey)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    json_t *lines = json_array(), *cur = NULL;
    int depth = 0, seq_depth = -1, sub_depth = -1;
    bool root_map = false, is_key = true, want = false, done = false, ok = true;
    bool item_map = false, sub_is_key = true, sub_want = false;

    if (!lines || !yaml_parser_initialize(&parser)) {
        json_decref(lines);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            ok = false;
            break;
        }
        switch (ev.type) {
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            /* A node starts at depth. */
            json_int_t line = (json_int_t)ev.start_mark.line + 1;
            if (depth == seq_depth) {
                if (subkey) {
                    cur = json_pack("[I]", line);
                    json_array_append_new(lines, cur);
                    item_map = ev.type == YAML_MAPPING_START_EVENT;
                    sub_is_key = true;
                    sub_want = false;
                    sub_depth = -1;
                } else {
                    json_array_append_new(lines, json_integer(line));
                }
            } else if (subkey && depth == sub_depth) {
                json_array_append_new(cur, json_integer(line));
            } else if (subkey && seq_depth >= 0 && depth == seq_depth + 1 && item_map) {
                if (sub_is_key)
                    sub_want = ev.type == YAML_SCALAR_EVENT &&
                               !strcmp((const char *)ev.data.scalar.value, subkey);
                else if (sub_want && ev.type == YAML_SEQUENCE_START_EVENT)
                    sub_depth = depth + 1;
                sub_is_key = !sub_is_key;
            }
            if (depth == 0) {
                if (ev.type == YAML_SEQUENCE_START_EVENT)
                    seq_depth = 1;
                root_map = ev.type == YAML_MAPPING_START_EVENT;
            } else if (depth == 1 && root_map && seq_depth < 0) {
                if (is_key)
                    want = ev.type == YAML_SCALAR_EVENT &&
                           !strcmp((const char *)ev.data.scalar.value, key);
                else if (want && ev.type == YAML_SEQUENCE_START_EVENT)
                    seq_depth = 2;
                is_key = !is_key;
            }
            if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
                depth++;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            if (depth == seq_depth - 1)
                done = true;
            if (depth == sub_depth - 1)
                sub_depth = -1;
            break;
        case YAML_DOCUMENT_END_EVENT:
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (!ok) {
        json_decref(lines);
        return NULL;
    }
    return lines;
}

json_t *fp_yaml_item_lines(const char *text, size_t len, const char *key)
{
    return item_lines(text, len, key, NULL);
}

json_t *fp_yaml_sub_item_lines(const char *text, size_t len, const char *key, const char *subkey)
{
    return item_lines(text, len, key, subkey);
}

/* ---------------------------------------------------------------------------
 * Emitter
 * ------------------------------------------------------------------------- */

static int write_handler(void *arg, unsigned char *p, size_t len)
{
    return fp_buf_append(arg, p, len) == FP_OK;
}

static int emit_scalar(yaml_emitter_t *em, const char *z, size_t len, yaml_scalar_style_t style)
{
    yaml_event_t ev;

    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)z, (int)len, 1, 1, style))
        return -1;
    return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int emit_value(yaml_emitter_t *em, const json_t *v)
{
    yaml_event_t ev;
    char num[64];

    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        const json_t *val;
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                 json_object_size(v) ? YAML_BLOCK_MAPPING_STYLE
                                                                     : YAML_FLOW_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return -1;
        json_object_foreach((json_t *)v, key, val)
        {
            size_t klen = strlen(key);
            if (emit_scalar(em, key, klen,
                            needs_quotes(key, klen) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                                    : YAML_ANY_SCALAR_STYLE) ||
                emit_value(em, val))
                return -1;
        }
        if (!yaml_mapping_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
            return -1;
        return 0;
    }
    case JSON_ARRAY: {
        size_t i;
        const json_t *e;
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                  json_array_size(v) ? YAML_BLOCK_SEQUENCE_STYLE
                                                                     : YAML_FLOW_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return -1;
        json_array_foreach(v, i, e) if (emit_value(em, e)) return -1;
        if (!yaml_sequence_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
            return -1;
        return 0;
    }
    case JSON_STRING: {
        const char *z = json_string_value(v);
        size_t len = json_string_length(v);
        yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
        if (needs_quotes(z, len))
            style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        else if (memchr(z, '\n', len))
            style = YAML_LITERAL_SCALAR_STYLE;
        return emit_scalar(em, z, len, style);
    }
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(em, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL:
        fp_real_text(num, json_real_value(v), false);
        if (!strpbrk(num, ".eE"))
            strcat(num, ".0");
        return emit_scalar(em, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
    case JSON_TRUE:
        return emit_scalar(em, "true", 4, YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return emit_scalar(em, "false", 5, YAML_PLAIN_SCALAR_STYLE);
    default:
        return emit_scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE);
    }
}

/* Emit the elements of docs (or v itself when docs is NULL) as a stream. */
static fp_status emit_stream(fp_buf *buf, const json_t *v, const json_t *docs)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    int rc = 0;
    size_t n = docs ? json_array_size(docs) : 1;

    if (!yaml_emitter_initialize(&em))
        return FP_ERR_NOMEM;
    yaml_emitter_set_output(&em, write_handler, buf);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
        !yaml_emitter_emit(&em, &ev))
        rc = -1;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, docs ? 0 : 1) ||
            !yaml_emitter_emit(&em, &ev) || emit_value(&em, docs ? json_array_get(docs, i) : v) ||
            !yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(&em, &ev))
            rc = -1;
    }
    if (!rc && (!yaml_stream_end_event_initialize(&ev) || !yaml_emitter_emit(&em, &ev)))
        rc = -1;
    yaml_emitter_delete(&em);
    if (buf->err)
        return buf->err;
    return rc ? FP_ERR_INTERNAL : FP_OK;
}

fp_status fp_yaml_emit(fp_buf *buf, const json_t *v)
{
    return emit_stream(buf, v, NULL);
}

fp_status fp_yaml_emit_all(fp_buf *buf, const json_t *docs)
{
    return emit_stream(buf, NULL, docs);
}

/* ---------------------------------------------------------------------------
 * CSV
 * ------------------------------------------------------------------------- */

static int add_field(fp_csv_row *row, fp_buf *field)
{
    char **f = fp_realloc(row->fields, (size_t)(row->n_field + 1) * sizeof *f);
    if (!f)
        return -1;
    row->fields = f;
    f[row->n_field] = fp_strdup(field->data ? field->data : "");
    if (!f[row->n_field])
        return -1;
    row->n_field++;
    fp_buf_reset(field);
    return 0;
}

static int add_row(fp_csv *csv, fp_csv_row *row)
{
    fp_csv_row *r;

    /* A blank line (one empty field) is not a row. */
    if (row->n_field == 1 && !row->fields[0][0]) {
        fp_free(row->fields[0]);
        fp_free(row->fields);
        memset(row, 0, sizeof *row);
        return 0;
    }
    r = fp_realloc(csv->rows, (size_t)(csv->n_row + 1) * sizeof *r);
    if (!r)
        return -1;
    csv->rows = r;
    r[csv->n_row++] = *row;
    memset(row, 0, sizeof *row);
    return 0;
}

fp_status fp_csv_parse(fp_csv *csv, const char *text, size_t len, char *err, size_t err_len)
{
    fp_buf field;
    fp_csv_row row;
    size_t i = 0;
    int line = 1;
    bool quoted = false, was_quoted = false;
    fp_status st = FP_OK;

    memset(csv, 0, sizeof *csv);
    memset(&row, 0, sizeof row);
    fp_buf_init(&field, 1 << 20);
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        i = 3;
    row.line = line;
    for (; i < len; i++) {
        char ch = text[i];
        if (quoted) {
            if (ch == '"' && i + 1 < len && text[i + 1] == '"') {
                fp_buf_append(&field, "\"", 1);
                i++;
            } else if (ch == '"') {
                quoted = false;
            } else {
                if (ch == '\n')
                    line++;
                fp_buf_append(&field, &ch, 1);
            }
            continue;
        }
        if (ch == '"' && field.len == 0 && !was_quoted) {
            quoted = was_quoted = true;
        } else if (ch == ',') {
            if (add_field(&row, &field))
                goto nomem;
            was_quoted = false;
        } else if (ch == '\r' && i + 1 < len && text[i + 1] == '\n') {
            continue;
        } else if (ch == '\n') {
            if (add_field(&row, &field) || add_row(csv, &row))
                goto nomem;
            was_quoted = false;
            row.line = ++line;
        } else if (was_quoted) {
            snprintf(err, err_len, "line %d: text after a closing quote", line);
            st = FP_ERR_INVALID;
            goto fail;
        } else {
            fp_buf_append(&field, &ch, 1);
        }
        if (field.err)
            goto nomem;
    }
    if (quoted) {
        snprintf(err, err_len, "line %d: a quoted field is not closed", row.line);
        st = FP_ERR_INVALID;
        goto fail;
    }
    if (field.len || row.n_field || was_quoted) {
        if (add_field(&row, &field) || add_row(csv, &row))
            goto nomem;
    }
    fp_buf_clear(&field);
    return FP_OK;
nomem:
    snprintf(err, err_len, "out of memory");
    st = FP_ERR_NOMEM;
fail:
    for (int j = 0; j < row.n_field; j++)
        fp_free(row.fields[j]);
    fp_free(row.fields);
    fp_buf_clear(&field);
    fp_csv_clear(csv);
    return st;
}

void fp_csv_clear(fp_csv *csv)
{
    for (int i = 0; i < csv->n_row; i++) {
        for (int j = 0; j < csv->rows[i].n_field; j++)
            fp_free(csv->rows[i].fields[j]);
        fp_free(csv->rows[i].fields);
    }
    fp_free(csv->rows);
    memset(csv, 0, sizeof *csv);
}

fp_status fp_csv_field(fp_buf *buf, const char *z, bool last)
{
    if (!z)
        z = "";
    if (strpbrk(z, ",\"\r\n") || (z[0] == ' ') || (*z && z[strlen(z) - 1] == ' ')) {
        fp_buf_append_str(buf, "\"");
        for (const char *p = z; *p; p++) {
            if (*p == '"')
                fp_buf_append_str(buf, "\"");
            fp_buf_append(buf, p, 1);
        }
        fp_buf_append_str(buf, "\"");
    } else {
        fp_buf_append_str(buf, z);
    }
    return fp_buf_append_str(buf, last ? "\n" : ",");
}
