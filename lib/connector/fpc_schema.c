/*
 * fpc_schema.c - JSON Schema (draft-07) inference for the messages a connector publishes.
 *
 * The builder keeps a small tree that mirrors the payloads seen: per member the set of
 * JSON types met (a bit mask), the members of objects and the merged item shape of
 * arrays. The schema text is rendered from that tree and kept; an observation that adds
 * something to the tree renders again and compares, so "changed" means "the text
 * changed", which is what decides a new registry version. Integer and number widen to
 * number when rendered, so a member that goes 20 -> 20.5 -> 21 settles on one text.
 *
 * Payloads come from devices, so the tree is bounded: depth 8 (deeper values are typed
 * but not described), and a total number of nodes, past which new members are not
 * learned. Both bounds keep the text finite for any input.
 */
#include "fpc_schema.h"

#include <string.h>

#include "fp_alloc.h"

#define FPC_SCHEMA_MAX_DEPTH 8
#define FPC_SCHEMA_MAX_NODES 4096

enum {
    T_ARRAY = 1u << 0,
    T_BOOLEAN = 1u << 1,
    T_INTEGER = 1u << 2,
    T_NULL = 1u << 3,
    T_NUMBER = 1u << 4,
    T_OBJECT = 1u << 5,
    T_STRING = 1u << 6,
};

/* In alphabetical order, so a "type" array is the same for the same set. */
static const struct {
    unsigned bit;
    const char *name;
} k_types[] = {
    {T_ARRAY, "array"},   {T_BOOLEAN, "boolean"}, {T_INTEGER, "integer"}, {T_NULL, "null"},
    {T_NUMBER, "number"}, {T_OBJECT, "object"},   {T_STRING, "string"},
};

typedef struct node node;
typedef struct member {
    char *name;
    node *value;
} member;

struct node {
    unsigned types;
    member *members; /* objects */
    size_t n_members, cap_members;
    node *items; /* arrays: the merged shape of the elements */
};

struct fpc_schema {
    char *title;
    char **names;
    size_t n_names;
    node root; /* the payload object */
    size_t n_nodes;
    char *text;
    bool stale;    /* the tree grew but rendering failed: render on the next observe */
    bool complete; /* every name has a type: members and types only ever grow, so it stays */
};

static void node_clear(node *n)
{
    for (size_t i = 0; i < n->n_members; i++) {
        fp_free(n->members[i].name);
        node_clear(n->members[i].value);
        fp_free(n->members[i].value);
    }
    fp_free(n->members);
    if (n->items) {
        node_clear(n->items);
        fp_free(n->items);
    }
    memset(n, 0, sizeof *n);
}

static node *node_new(fpc_schema *s)
{
    node *n;

    if (s->n_nodes >= FPC_SCHEMA_MAX_NODES)
        return NULL;
    n = fp_calloc(1, sizeof *n);
    if (n)
        s->n_nodes++;
    return n;
}

/* The member named name of n, made (untyped) when missing; NULL when full or OOM. */
static node *member_get(fpc_schema *s, node *n, const char *name, bool *added)
{
    member *m;
    node *v;

    for (size_t i = 0; i < n->n_members; i++)
        if (strcmp(n->members[i].name, name) == 0)
            return n->members[i].value;
    if (n->n_members == n->cap_members) {
        size_t cap = n->cap_members ? n->cap_members * 2 : 8;
        m = fp_realloc(n->members, cap * sizeof *m);
        if (!m)
            return NULL;
        n->members = m;
        n->cap_members = cap;
    }
    v = node_new(s);
    if (!v)
        return NULL;
    m = &n->members[n->n_members];
    m->name = fp_strdup(name);
    if (!m->name) {
        fp_free(v);
        s->n_nodes--;
        return NULL;
    }
    m->value = v;
    n->n_members++;
    *added = true;
    return v;
}

static unsigned type_bit(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return T_OBJECT;
    case JSON_ARRAY:
        return T_ARRAY;
    case JSON_STRING:
        return T_STRING;
    case JSON_INTEGER:
        return T_INTEGER;
    case JSON_REAL:
        return T_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE:
        return T_BOOLEAN;
    case JSON_NULL:
    default:
        return T_NULL;
    }
}

/* Merge v into n at depth; true when the tree grew. */
static bool merge(fpc_schema *s, node *n, const json_t *v, int depth)
{
    unsigned bit = type_bit(v);
    bool grew = false;

    if (!(n->types & bit)) {
        n->types |= bit;
        grew = true;
    }
    if (depth >= FPC_SCHEMA_MAX_DEPTH)
        return grew;
    if (bit == T_OBJECT) {
        const char *key;
        json_t *mv;
        json_object_foreach((json_t *)v, key, mv)
        {
            node *m = member_get(s, n, key, &grew);
            if (m)
                grew |= merge(s, m, mv, depth + 1);
        }
    } else if (bit == T_ARRAY) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (!n->items) {
                n->items = node_new(s);
                if (!n->items)
                    break;
                grew = true;
            }
            grew |= merge(s, n->items, item, depth + 1);
        }
    }
    return grew;
}

/* Set "type" in out from a mask (integer folded into number when both are there). */
static int render_type(json_t *out, unsigned types)
{
    const char *one = NULL;
    json_t *arr;
    size_t n = 0;

    if (types & T_NUMBER)
        types &= ~(unsigned)T_INTEGER;
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
        if (types & k_types[i].bit) {
            one = k_types[i].name;
            n++;
        }
    if (n == 0)
        return 0;
    if (n == 1)
        return json_object_set_new(out, "type", json_string(one));
    arr = json_array();
    if (!arr)
        return -1;
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
        if ((types & k_types[i].bit) && json_array_append_new(arr, json_string(k_types[i].name)))
            break;
    return json_object_set_new(out, "type", arr);
}

static json_t *render_node(const node *n);

static json_t *render_members(const node *n)
{
    json_t *props = json_object();

    for (size_t i = 0; props && i < n->n_members; i++) {
        if (json_object_set_new(props, n->members[i].name, render_node(n->members[i].value))) {
            json_decref(props);
            return NULL;
        }
    }
    return props;
}

static json_t *render_node(const node *n)
{
    json_t *out = json_object();

    if (!out)
        return NULL;
    if (render_type(out, n->types))
        goto fail;
    if ((n->types & T_OBJECT) && n->n_members > 0 &&
        json_object_set_new(out, "properties", render_members(n)))
        goto fail;
    if ((n->types & T_ARRAY) && n->items &&
        json_object_set_new(out, "items", render_node(n->items)))
        goto fail;
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* The canonical text of the whole schema (NULL on allocation failure). */
static char *render(const fpc_schema *s)
{
    json_t *doc = json_object(), *props = render_members(&s->root);
    char *json_text = NULL, *text = NULL;

    if (!doc || !props)
        goto out;
    if (json_object_set_new(doc, "$schema",
                            json_string("http://json-schema.org/draft-07/schema#")) ||
        json_object_set_new(doc, "title", json_string(s->title)) ||
        json_object_set_new(doc, "type", json_string("object")) ||
        json_object_set(doc, "properties", props))
        goto out;
    json_text = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT);
    if (json_text)
        text = fp_strdup(json_text); /* so that the text is freed through fp_free */
out:
    free(json_text);
    json_decref(props);
    json_decref(doc);
    return text;
}

/* Every name has a member with a type (the walk fpc_schema_complete would do on each
 * message, kept as a flag once true). */
static bool complete_now(const fpc_schema *s)
{
    for (size_t i = 0; i < s->n_names; i++) {
        bool found = false;
        for (size_t j = 0; j < s->root.n_members; j++) {
            if (strcmp(s->root.members[j].name, s->names[i]) == 0) {
                found = s->root.members[j].value->types != 0;
                break;
            }
        }
        if (!found)
            return false;
    }
    return true;
}

fpc_schema *fpc_schema_new(const char *title, const char *const *names, size_t n_names)
{
    fpc_schema *s = fp_calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->title = fp_strdup(title ? title : "");
    if (!s->title)
        goto fail;
    s->root.types = T_OBJECT;
    if (n_names > 0) {
        s->names = fp_calloc(n_names, sizeof *s->names);
        if (!s->names)
            goto fail;
        for (size_t i = 0; i < n_names; i++) {
            bool added = false;
            if (!names[i])
                continue;
            s->names[s->n_names] = fp_strdup(names[i]);
            if (!s->names[s->n_names])
                goto fail;
            s->n_names++;
            if (!member_get(s, &s->root, names[i], &added))
                goto fail;
        }
    }
    s->text = render(s);
    if (!s->text)
        goto fail;
    s->complete = complete_now(s);
    return s;
fail:
    fpc_schema_free(s);
    return NULL;
}

void fpc_schema_free(fpc_schema *s)
{
    if (!s)
        return;
    node_clear(&s->root);
    for (size_t i = 0; i < s->n_names; i++)
        fp_free(s->names[i]);
    fp_free(s->names);
    fp_free(s->title);
    fp_free(s->text);
    fp_free(s);
}

bool fpc_schema_observe(fpc_schema *s, const json_t *payload)
{
    char *text;

    if (!s || !json_is_object(payload))
        return false;
    bool grew = merge(s, &s->root, payload, 0);
    if (grew && !s->complete)
        s->complete = complete_now(s);
    if (!grew && !s->stale)
        return false;
    text = render(s);
    s->stale = text == NULL; /* out of memory: keep the old text, try again next time */
    if (!text)
        return false;
    if (s->text && strcmp(text, s->text) == 0) {
        fp_free(text);
        return false;
    }
    fp_free(s->text);
    s->text = text;
    return true;
}

bool fpc_schema_complete(const fpc_schema *s)
{
    return s && s->complete;
}

const char *fpc_schema_text(fpc_schema *s)
{
    return s ? s->text : NULL;
}
