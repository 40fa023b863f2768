/*
 * fpc_schema.c - JSON Schema (draft-07) inference for the messages a connector publishes.
 *
 * The builder keeps a small tree that mirrors the payloads seen: per member the set of
 * JSON types met (a bit mask), the members of objects and the merged item shape of
 * arrays. Integer and number widen to number when rendered, so a member that goes
 * 20 -> 20.5 -> 21 settles on one text.
 *
 * The runtime keeps one builder per dataset and event for its whole life, so the tree is
 * compact: the nodes of a builder are one array of 12-byte entries linked by 16-bit
 * indices (the node bound fits), and member names live once each in one string pool
 * ("SourceTimestamp" and "Value" of fifty OPC UA points are stored once). The text is not
 * kept either: it is rendered when asked for (at registration) and dropped at the next
 * observe. "Changed" is decided on the tree itself: the text is a function of the
 * rendered type of each node (integer folded into number), the set of members and the
 * item shapes, and the tree only ever grows, so the text changed exactly when a rendered
 * type changed or a member or item shape was added.
 *
 * Payloads come from devices, so the tree is bounded: depth 8 (deeper values are typed
 * but not described), and a total number of nodes, past which new members are not
 * learned. Both bounds keep the text finite for any input.
 */
#include "fpc_schema.h"

#include <stdint.h>
#include <string.h>

#include "fp_alloc.h"

#define FPC_SCHEMA_MAX_DEPTH 8
#define FPC_SCHEMA_MAX_NODES 4096 /* besides the root; indices fit in uint16_t */
#define NO_NAME UINT32_MAX

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

/* One node; index 0 is the root (the payload object), so 0 also means "none" in links. */
typedef struct node {
    uint32_t name;  /* offset of the member name in the pool (NO_NAME: root, array items) */
    uint16_t child; /* first member (objects) */
    uint16_t next;  /* next member of the same object */
    uint16_t items; /* arrays: the merged shape of the elements */
    uint8_t types;
} node;

struct fpc_schema {
    char *title;
    node *nodes; /* n_nodes used (the root included), cap_nodes allocated */
    uint16_t n_nodes, cap_nodes;
    uint16_t n_defined; /* the first n_defined members of the root are the defined names */
    bool complete;      /* every name has a type: members and types only ever grow, so it stays */
    char *pool;         /* member names, each NUL-terminated */
    uint32_t pool_len, pool_cap;
    char *text; /* rendered on demand, dropped at the next observe */
};

/* A new untyped node; 0 when the bound is reached or out of memory. */
static uint16_t node_new(fpc_schema *s)
{
    if (s->n_nodes > FPC_SCHEMA_MAX_NODES)
        return 0;
    if (s->n_nodes == s->cap_nodes) {
        /* Grow by half: a dataset's tree settles early and then stays as allocated. */
        uint32_t cap = (uint32_t)s->cap_nodes + s->cap_nodes / 2 + 4;
        if (cap > FPC_SCHEMA_MAX_NODES + 1)
            cap = FPC_SCHEMA_MAX_NODES + 1;
        node *nn = fp_realloc(s->nodes, cap * sizeof *nn);
        if (!nn)
            return 0;
        s->nodes = nn;
        s->cap_nodes = (uint16_t)cap;
    }
    memset(&s->nodes[s->n_nodes], 0, sizeof s->nodes[0]);
    s->nodes[s->n_nodes].name = NO_NAME;
    return s->n_nodes++;
}

/* The pool offset of name, added when no member has it yet; NO_NAME when out of memory. */
static uint32_t intern(fpc_schema *s, const char *name)
{
    size_t len = strlen(name);

    for (uint16_t i = 1; i < s->n_nodes; i++)
        if (s->nodes[i].name != NO_NAME && strcmp(s->pool + s->nodes[i].name, name) == 0)
            return s->nodes[i].name;
    if (len >= UINT32_MAX - 1 - s->pool_len)
        return NO_NAME;
    if (s->pool_len + len + 1 > s->pool_cap) {
        size_t cap = (size_t)s->pool_cap + s->pool_cap / 2 + len + 1;
        if (cap >= UINT32_MAX)
            cap = UINT32_MAX - 1;
        char *p = fp_realloc(s->pool, cap);
        if (!p)
            return NO_NAME;
        s->pool = p;
        s->pool_cap = (uint32_t)cap;
    }
    uint32_t off = s->pool_len;
    memcpy(s->pool + off, name, len + 1);
    s->pool_len += (uint32_t)len + 1;
    return off;
}

/* Give back the spare room of the arrays: once every defined name has been seen, the
 * tree seldom grows again (a grown one just reallocates). */
static void trim(fpc_schema *s)
{
    node *nn = s->n_nodes < s->cap_nodes ? fp_realloc(s->nodes, s->n_nodes * sizeof *nn) : NULL;
    char *p = s->pool_len && s->pool_len < s->pool_cap ? fp_realloc(s->pool, s->pool_len) : NULL;

    if (nn) {
        s->nodes = nn;
        s->cap_nodes = s->n_nodes;
    }
    if (p) {
        s->pool = p;
        s->pool_cap = s->pool_len;
    }
}

/* The member named name of node obj, made (untyped) when missing; 0 when full or OOM. */
static uint16_t member_get(fpc_schema *s, uint16_t obj, const char *name, bool *added)
{
    uint16_t last = 0;

    for (uint16_t c = s->nodes[obj].child; c; last = c, c = s->nodes[c].next)
        if (strcmp(s->pool + s->nodes[c].name, name) == 0)
            return c;
    uint16_t v = node_new(s);
    if (!v)
        return 0;
    uint32_t off = intern(s, name);
    if (off == NO_NAME) {
        s->n_nodes--; /* the node just made is the last one */
        return 0;
    }
    s->nodes[v].name = off;
    if (last)
        s->nodes[last].next = v;
    else
        s->nodes[obj].child = v;
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

/* The types as rendered: integer folded into number when both are there. */
static unsigned shown(unsigned types)
{
    return (types & T_NUMBER) ? types & ~(unsigned)T_INTEGER : types;
}

/* Merge v into node n at depth; true when the rendered text changes. Works on indices:
 * adding a node may move the array. */
static bool merge(fpc_schema *s, uint16_t n, const json_t *v, int depth)
{
    unsigned bit = type_bit(v), old = s->nodes[n].types;
    bool changed = false;

    if (!(old & bit)) {
        s->nodes[n].types = (uint8_t)(old | bit);
        changed = shown(old) != shown(old | bit);
    }
    if (depth >= FPC_SCHEMA_MAX_DEPTH)
        return changed;
    if (bit == T_OBJECT) {
        const char *key;
        json_t *mv;
        json_object_foreach((json_t *)v, key, mv)
        {
            uint16_t m = member_get(s, n, key, &changed);
            if (m)
                changed |= merge(s, m, mv, depth + 1);
        }
    } else if (bit == T_ARRAY) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (!s->nodes[n].items) {
                uint16_t it = node_new(s);
                if (!it)
                    break;
                s->nodes[n].items = it;
                changed = true;
            }
            changed |= merge(s, s->nodes[n].items, item, depth + 1);
        }
    }
    return changed;
}

/* Set "type" in out from a mask (integer folded into number when both are there). */
static int render_type(json_t *out, unsigned types)
{
    const char *one = NULL;
    json_t *arr;
    size_t n = 0;

    types = shown(types);
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

static json_t *render_node(const fpc_schema *s, uint16_t n);

static json_t *render_members(const fpc_schema *s, uint16_t n)
{
    json_t *props = json_object();

    for (uint16_t c = s->nodes[n].child; props && c; c = s->nodes[c].next) {
        if (json_object_set_new(props, s->pool + s->nodes[c].name, render_node(s, c))) {
            json_decref(props);
            return NULL;
        }
    }
    return props;
}

static json_t *render_node(const fpc_schema *s, uint16_t n)
{
    const node *x = &s->nodes[n];
    json_t *out = json_object();

    if (!out)
        return NULL;
    if (render_type(out, x->types))
        goto fail;
    if ((x->types & T_OBJECT) && x->child &&
        json_object_set_new(out, "properties", render_members(s, n)))
        goto fail;
    if ((x->types & T_ARRAY) && x->items &&
        json_object_set_new(out, "items", render_node(s, x->items)))
        goto fail;
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* The canonical text of the whole schema (NULL on allocation failure). */
static char *render(const fpc_schema *s)
{
    json_t *doc = json_object(), *props = render_members(s, 0);
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

/* Every defined name has a type (the walk fpc_schema_complete would do on each message,
 * kept as a flag once true). */
static bool complete_now(const fpc_schema *s)
{
    uint16_t c = s->nodes[0].child;

    for (uint16_t i = 0; i < s->n_defined; i++, c = s->nodes[c].next)
        if (s->nodes[c].types == 0)
            return false;
    return true;
}

fpc_schema *fpc_schema_new(const char *title, const char *const *names, size_t n_names)
{
    fpc_schema *s = fp_calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->title = fp_strdup(title ? title : "");
    if (!s->title || node_new(s) != 0)
        goto fail;
    s->nodes[0].types = T_OBJECT;
    for (size_t i = 0; i < n_names; i++) {
        bool added = false;
        if (!names[i])
            continue;
        if (!member_get(s, 0, names[i], &added))
            goto fail;
        if (added)
            s->n_defined++;
    }
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
    fp_free(s->nodes);
    fp_free(s->pool);
    fp_free(s->title);
    fp_free(s->text);
    fp_free(s);
}

bool fpc_schema_observe(fpc_schema *s, const json_t *payload)
{
    if (!s)
        return false;
    fp_free(s->text);
    s->text = NULL;
    if (!json_is_object(payload))
        return false;
    bool changed = merge(s, 0, payload, 0);
    if (changed && !s->complete)
        s->complete = complete_now(s);
    if (changed && s->complete)
        trim(s);
    return changed;
}

bool fpc_schema_complete(const fpc_schema *s)
{
    return s && s->complete;
}

const char *fpc_schema_text(fpc_schema *s)
{
    if (s && !s->text)
        s->text = render(s);
    return s ? s->text : NULL;
}
