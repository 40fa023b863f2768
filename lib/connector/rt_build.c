/*
 * rt_build.c - the objects of connector.h built from an asset document.
 *
 * Each dataset, event group, stream and action of an asset becomes its own object holding a
 * reference to its element of the document, its parsed configurations and config struct
 * (rt_config.c), its destinations and CloudEvents attributes (rt_out), and its diff inputs
 * (rt_canon: the element and the asset defaults it inherits), so that a change of the asset
 * replaces only the children whose inputs changed. Also the registry schema names and the
 * destination lists the children use. What happens to the objects afterwards (add, update,
 * remove, retry) is rt_model.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fp_alloc.h"
#include "fp_json.h"
#include "fp_log.h"
#include "fp_model.h"
#include "rt_internal.h"

/* ---- names, destinations ----------------------------------------------------------------------
 */

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

void rt_schema_name(const char *a, const char *b, const char *c, char out[65])
{
    char raw[1024];
    snprintf(raw, sizeof raw, "%s-%s%s%s", a ? a : "", b ? b : "", c ? "-" : "", c ? c : "");
    char buf[1024];
    size_t n = 0;
    for (const char *p = raw; *p && n < sizeof buf - 1; p++) {
        char ch = (char)tolower((unsigned char)*p);
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!ok)
            ch = '-';
        if (ch == '-' && (n == 0 || buf[n - 1] == '-'))
            continue; /* no leading or doubled dashes */
        buf[n++] = ch;
    }
    while (n > 0 && buf[n - 1] == '-')
        n--;
    buf[n] = '\0';
    if (fp_model_name_check(FP_KIND_SCHEMA, buf, NULL, 0) == FP_OK) {
        memcpy(out, buf, n + 1);
        return;
    }
    /* Too long or too short: keep what fits and tell names apart by a hash of the input. */
    char hash[9];
    snprintf(hash, sizeof hash, "%08x", (unsigned)fnv1a(raw));
    if (n > fp_model_name_rule(FP_KIND_SCHEMA)->max_len - 9) /* room for "-" and the hash */
        n = fp_model_name_rule(FP_KIND_SCHEMA)->max_len - 9;
    while (n > 0 && buf[n - 1] == '-')
        n--;
    buf[n] = '\0';
    if (n)
        buf[n++] = '-';
    memcpy(buf + n, hash, sizeof hash);
    memcpy(out, buf, n + sizeof hash);
}

static const json_t *nonempty_array(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_array(v) && json_array_size(v) > 0 ? v : NULL;
}

const json_t *rt_dests_dataset(const json_t *asset_props, const json_t *ds)
{
    const json_t *d = nonempty_array(ds, "destinations");
    return d ? d : nonempty_array(asset_props, "defaultDatasetsDestinations");
}

const json_t *rt_dests_group(const json_t *asset_props, const json_t *group)
{
    const json_t *d = nonempty_array(group, "defaultDestinations");
    return d ? d : nonempty_array(asset_props, "defaultEventsDestinations");
}

const json_t *rt_dests_event(const json_t *asset_props, const json_t *group, const json_t *ev)
{
    const json_t *d = nonempty_array(ev, "destinations");
    return d ? d : rt_dests_group(asset_props, group);
}

const json_t *rt_dests_stream(const json_t *asset_props, const json_t *st)
{
    const json_t *d = nonempty_array(st, "destinations");
    return d ? d : nonempty_array(asset_props, "defaultStreamsDestinations");
}

/* ---- building children --------------------------------------------------------------------------
 */

void rt_dataset_free(fp_rt *rt, rt_dataset *d)
{
    if (!d)
        return;
    fp_timer_cancel(d->sample_timer);
    fp_payload_free(d->payload);
    rt_out_clear(&d->out);
    for (size_t i = 0; i < d->pub.n_points; i++)
        rt_config_clear(rt->conn, FP_CFG_DATAPOINT, d->pub.points[i].config);
    fp_free(d->point_cfgs);
    fp_free(d->pub.points);
    for (size_t i = 0; d->point_errors && i < d->pub.n_points; i++)
        fp_free(d->point_errors[i]);
    fp_free(d->point_errors);
    rt_config_free(rt->conn, FP_CFG_DATASET, d->pub.config);
    json_decref(d->json);
    json_decref(d->keep);
    rt_canon_free(d->canon);
    fp_free(d);
}

void rt_group_free(fp_rt *rt, rt_event_group *g)
{
    if (!g)
        return;
    rt_out_clear(&g->out);
    for (size_t i = 0; i < g->pub.n_events; i++) {
        if (g->ev_out)
            rt_out_clear(&g->ev_out[i]);
        rt_config_free(rt->conn, FP_CFG_EVENT, g->pub.events[i].config);
    }
    fp_free(g->ev_out);
    fp_free(g->pub.events);
    rt_config_free(rt->conn, FP_CFG_EVENT_GROUP, g->pub.config);
    json_decref(g->json);
    json_decref(g->keep);
    rt_canon_free(g->canon);
    fp_free(g);
}

void rt_stream_free(fp_rt *rt, rt_stream *s)
{
    if (!s)
        return;
    rt_out_clear(&s->out);
    rt_config_free(rt->conn, FP_CFG_STREAM, s->pub.config);
    json_decref(s->json);
    json_decref(s->keep);
    rt_canon_free(s->canon);
    fp_free(s);
}

void rt_action_free(fp_rt *rt, rt_action *a)
{
    if (!a)
        return;
    rt_config_free(rt->conn, FP_CFG_ACTION, a->pub.config);
    pthread_mutex_destroy(&a->lock);
    json_decref(a->json);
    json_decref(a->keep);
    fp_free(a->key);
    rt_canon_free(a->canon);
    fp_free(a);
}

static char *out_type(const char *base, const char *type_ref)
{
    return type_ref && *type_ref ? rt_str_printf("%s/%s", base, type_ref) : fp_strdup(base);
}

static char *out_source(const char *ep_source, const char *data_source)
{
    return data_source && *data_source ? rt_str_printf("ms-aio:%s/%s", ep_source, data_source)
                                       : rt_str_printf("ms-aio:%s", ep_source);
}

/* Canon of a child: its own JSON plus the asset-level inputs it depends on. The parts are
 * kept as references and compared with json_equal rather than serialized: a dataset's
 * text would be a few kB for each dataset, and the parts live in the document anyway.
 * NULL when out of memory. */
static rt_canon *child_canon(const build_ctx *b, const json_t *self, const char *def_cfg_key,
                             const char *def_dest_key, const json_t *extra)
{
    size_t n_subject = strlen(b->subject) + 1, n_source = strlen(b->ep_source) + 1;
    rt_canon *c = fp_malloc(sizeof *c + n_subject + n_source);
    if (!c)
        return NULL;
    c->self = rt_jref(self);
    c->def_cfg = rt_jref(json_object_get(b->props, def_cfg_key));
    c->def_dests = def_dest_key ? rt_jref(json_object_get(b->props, def_dest_key)) : NULL;
    c->extra = extra ? rt_jref(extra) : NULL;
    memcpy(c->names, b->subject, n_subject);
    memcpy(c->names + n_subject, b->ep_source, n_source);
    return c;
}

void rt_canon_free(rt_canon *c)
{
    if (!c)
        return;
    json_decref(c->self);
    json_decref(c->def_cfg);
    json_decref(c->def_dests);
    json_decref(c->extra);
    fp_free(c);
}

/* Both absent, or equal values (json_equal answers false for two NULLs). */
static bool jeq(const json_t *a, const json_t *b)
{
    return a == b || (a && b && json_equal(a, b));
}

bool rt_canon_equal(const rt_canon *a, const rt_canon *b)
{
    const char *src_a = a->names + strlen(a->names) + 1, *src_b = b->names + strlen(b->names) + 1;
    return !strcmp(a->names, b->names) && !strcmp(src_a, src_b) && jeq(a->self, b->self) &&
           jeq(a->def_cfg, b->def_cfg) && jeq(a->def_dests, b->def_dests) &&
           jeq(a->extra, b->extra);
}

static rt_dataset *dataset_build(const build_ctx *b, size_t idx, json_t *ds_json)
{
    fp_rt *rt = b->rt;
    rt_dataset *d = fp_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->json = json_incref(ds_json);
    d->keep = json_array();
    d->pub.asset = &b->as->pub;
    d->pub.name = rt_jstr_or(ds_json, "name", "");
    d->pub.data_source = rt_jstr_or(ds_json, "dataSource", "");
    d->pub.type_ref = rt_jstr_or(ds_json, "typeRef", NULL);
    d->canon = child_canon(b, ds_json, "defaultDatasetsConfiguration",
                           "defaultDatasetsDestinations", NULL);

    const json_t *points = json_object_get(ds_json, "dataPoints");
    size_t n_points = json_is_array(points) ? json_array_size(points) : 0;
    d->pub.points = fp_calloc(n_points ? n_points : 1, sizeof *d->pub.points);
    d->point_errors = fp_calloc(n_points ? n_points : 1, sizeof *d->point_errors);
    const char **names = fp_calloc(n_points ? n_points : 1, sizeof *names);
    char *type = out_type("DataSet", d->pub.type_ref);
    char *source = out_source(b->ep_source, d->pub.data_source);
    char *subject = rt_str_printf("%s/%s", b->subject, d->pub.name);
    char *topic = rt_str_printf("fieldplane/data/%s/%s/%s", b->as->ns, b->asset_name, d->pub.name);
    char schema[65];
    rt_schema_name(b->asset_name, d->pub.name, NULL, schema);
    if (!d->pub.points || !d->point_errors || !names || !type || !source || !subject || !topic ||
        !d->keep || !d->canon) {
        fp_free(names);
        fp_free(type);
        fp_free(source);
        fp_free(subject);
        fp_free(topic);
        json_decref(d->json);
        json_decref(d->keep);
        fp_free(d->pub.points);
        fp_free(d->point_errors);
        rt_canon_free(d->canon);
        fp_free(d);
        return NULL;
    }
    d->pub.n_points = n_points;
    for (size_t j = 0; j < n_points; j++) {
        const json_t *p = json_array_get(points, j);
        fp_datapoint *dp = &d->pub.points[j];
        dp->dataset = &d->pub;
        dp->name = rt_jstr_or(p, "name", "");
        dp->data_source = rt_jstr_or(p, "dataSource", "");
        dp->type_ref = rt_jstr_or(p, "typeRef", NULL);
        names[j] = dp->name;
    }
    if (rt_out_init(&d->out, rt, rt_dests_dataset(b->props, ds_json), type, source, subject, schema,
                    names, n_points, topic) != 0)
        d->cfg_bad = true;
    fp_free(names);
    fp_free(type);
    fp_free(source);
    fp_free(subject);
    fp_free(topic);

    char label[160], err[700];
    snprintf(label, sizeof label, "datasets[%zu].datasetConfiguration", idx);
    json_t *cfg = rt_config_parse(ds_json, "datasetConfiguration", label, err, sizeof err);
    if (!cfg) {
        rt_out_error(&d->out, "InvalidConfiguration", err);
        d->cfg_bad = true;
        return d;
    }
    rt_keep_add(d->keep, cfg);
    rt_keep_add(d->keep, rt_jref(b->def_cfg[0]));
    d->pub.config_json = cfg;
    rt_cfg_level chain[3] = {
        {cfg, label},
        {b->def_cfg[0], "defaultDatasetsConfiguration"},
    };
    if (rt_config_fill(rt->conn, FP_CFG_DATASET, chain, 2, &d->pub.config, err, sizeof err) != 0) {
        rt_out_error(&d->out, "InvalidConfiguration", err);
        d->cfg_bad = true;
        return d;
    }
    /* The points' config structs in one block: one allocation instead of one per point. */
    size_t pt_size = rt->conn->config_size[FP_CFG_DATAPOINT];
    if (pt_size && n_points) {
        d->point_cfgs = fp_calloc(n_points, pt_size);
        if (!d->point_cfgs) {
            rt_out_error(&d->out, "InvalidConfiguration", "out of memory");
            d->cfg_bad = true;
            return d;
        }
    }
    for (size_t j = 0; j < n_points; j++) {
        const json_t *p = json_array_get(points, j);
        fp_datapoint *dp = &d->pub.points[j];
        char plabel[200];
        snprintf(plabel, sizeof plabel, "datasets[%zu].dataPoints[%zu].dataPointConfiguration", idx,
                 j);
        const json_t *pv = json_object_get(p, "dataPointConfiguration");
        bool none = !pv || json_is_null(pv) || (json_is_string(pv) && !*json_string_value(pv));
        json_t *pcfg = none ? rt_config_empty() : NULL;
        if (!pcfg)
            pcfg = rt_config_parse(p, "dataPointConfiguration", plabel, err, sizeof err);
        if (pcfg) {
            rt_keep_add(d->keep, pcfg);
            dp->config_json = pcfg;
            chain[0] = (rt_cfg_level){pcfg, plabel};
            chain[1] = (rt_cfg_level){cfg, label};
            chain[2] = (rt_cfg_level){b->def_cfg[0], "defaultDatasetsConfiguration"};
            char *slot = d->point_cfgs ? d->point_cfgs + j * pt_size : NULL;
            if (!slot || rt_config_fill_into(rt->conn, FP_CFG_DATAPOINT, chain, 3, slot, err,
                                             sizeof err) == 0) {
                dp->config = slot;
                continue;
            }
        }
        /* A point's bad configuration stops its dataset: the connector never sees a point
         * without its config struct. */
        rt_error_set_alloc(&d->point_errors[j], "InvalidConfiguration", err);
        rt_out_error(&d->out, "InvalidConfiguration", err);
        d->cfg_bad = true;
    }
    return d;
}

static rt_event_group *group_build(const build_ctx *b, size_t idx, json_t *g_json)
{
    fp_rt *rt = b->rt;
    rt_event_group *g = fp_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->json = json_incref(g_json);
    g->keep = json_array();
    g->pub.asset = &b->as->pub;
    g->pub.name = rt_jstr_or(g_json, "name", "");
    g->pub.data_source = rt_jstr_or(g_json, "dataSource", "");
    g->pub.type_ref = rt_jstr_or(g_json, "typeRef", NULL);
    g->canon =
        child_canon(b, g_json, "defaultEventsConfiguration", "defaultEventsDestinations", NULL);
    const json_t *events = json_object_get(g_json, "events");
    size_t n_ev = json_is_array(events) ? json_array_size(events) : 0;
    g->pub.events = fp_calloc(n_ev ? n_ev : 1, sizeof *g->pub.events);
    g->ev_out = fp_calloc(n_ev ? n_ev : 1, sizeof *g->ev_out);
    if (!g->pub.events || !g->ev_out || !g->keep || !g->canon) {
        json_decref(g->json);
        json_decref(g->keep);
        fp_free(g->pub.events);
        fp_free(g->ev_out);
        rt_canon_free(g->canon);
        fp_free(g);
        return NULL;
    }
    g->pub.n_events = n_ev;

    char err[700], label[160];
    char schema[65];
    bool oom = false;
    {
        char *type = out_type("Event", g->pub.type_ref);
        char *source = out_source(b->ep_source, g->pub.data_source);
        char *subject = rt_str_printf("%s/%s", b->subject, g->pub.name);
        char *topic =
            rt_str_printf("fieldplane/data/%s/%s/%s", b->as->ns, b->asset_name, g->pub.name);
        rt_schema_name(b->asset_name, g->pub.name, NULL, schema);
        oom = !type || !source || !subject || !topic;
        if (rt_out_init(&g->out, rt, rt_dests_group(b->props, g_json), type ? type : "",
                        source ? source : "", subject ? subject : "", schema, NULL, 0,
                        topic ? topic : "") != 0)
            g->cfg_bad = true;
        fp_free(type);
        fp_free(source);
        fp_free(subject);
        fp_free(topic);
    }
    for (size_t j = 0; j < n_ev; j++) {
        const json_t *e = json_array_get(events, j);
        fp_event *ev = &g->pub.events[j];
        ev->group = &g->pub;
        ev->name = rt_jstr_or(e, "name", "");
        ev->data_source = rt_jstr_or(e, "dataSource", "");
        ev->type_ref = rt_jstr_or(e, "typeRef", NULL);
        char *type = out_type("Event", ev->type_ref);
        /* An event without a data source of its own comes from the group's. */
        char *source =
            out_source(b->ep_source, *ev->data_source ? ev->data_source : g->pub.data_source);
        char *subject = rt_str_printf("%s/%s/%s", b->subject, g->pub.name, ev->name);
        char *topic = rt_str_printf("fieldplane/data/%s/%s/%s/%s", b->as->ns, b->asset_name,
                                    g->pub.name, ev->name);
        rt_schema_name(b->asset_name, g->pub.name, ev->name, schema);
        oom = oom || !type || !source || !subject || !topic;
        if (rt_out_init(&g->ev_out[j], rt, rt_dests_event(b->props, g_json, e), type ? type : "",
                        source ? source : "", subject ? subject : "", schema, NULL, 0,
                        topic ? topic : "") != 0) {
            rt_out_error(&g->out, "InvalidConfiguration", g->ev_out[j].error.message);
            g->cfg_bad = true;
        }
        fp_free(type);
        fp_free(source);
        fp_free(subject);
        fp_free(topic);
    }
    if (oom) {
        rt_out_error(&g->out, "OutOfMemory", "out of memory building the event group");
        g->cfg_bad = true;
        return g;
    }

    snprintf(label, sizeof label, "eventGroups[%zu].eventGroupConfiguration", idx);
    json_t *cfg = rt_config_parse(g_json, "eventGroupConfiguration", label, err, sizeof err);
    if (!cfg) {
        rt_out_error(&g->out, "InvalidConfiguration", err);
        g->cfg_bad = true;
        return g;
    }
    rt_keep_add(g->keep, cfg);
    rt_keep_add(g->keep, rt_jref(b->def_cfg[1]));
    g->pub.config_json = cfg;
    rt_cfg_level chain[3] = {
        {cfg, label},
        {b->def_cfg[1], "defaultEventsConfiguration"},
    };
    if (rt_config_fill(rt->conn, FP_CFG_EVENT_GROUP, chain, 2, &g->pub.config, err, sizeof err) !=
        0) {
        rt_out_error(&g->out, "InvalidConfiguration", err);
        g->cfg_bad = true;
        return g;
    }
    for (size_t j = 0; j < n_ev; j++) {
        const json_t *e = json_array_get(events, j);
        fp_event *ev = &g->pub.events[j];
        char elabel[200];
        snprintf(elabel, sizeof elabel, "eventGroups[%zu].events[%zu].eventConfiguration", idx, j);
        json_t *ecfg = rt_config_parse(e, "eventConfiguration", elabel, err, sizeof err);
        if (ecfg) {
            rt_keep_add(g->keep, ecfg);
            ev->config_json = ecfg;
            chain[0] = (rt_cfg_level){ecfg, elabel};
            chain[1] = (rt_cfg_level){cfg, label};
            chain[2] = (rt_cfg_level){b->def_cfg[1], "defaultEventsConfiguration"};
            if (rt_config_fill(rt->conn, FP_CFG_EVENT, chain, 3, &ev->config, err, sizeof err) == 0)
                continue;
        }
        rt_out_error(&g->ev_out[j], "InvalidConfiguration", err);
        rt_out_error(&g->out, "InvalidConfiguration", err);
        g->cfg_bad = true;
    }
    return g;
}

static rt_stream *stream_build(const build_ctx *b, size_t idx, json_t *s_json)
{
    fp_rt *rt = b->rt;
    rt_stream *s = fp_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->json = json_incref(s_json);
    s->keep = json_array();
    s->pub.asset = &b->as->pub;
    s->pub.name = rt_jstr_or(s_json, "name", "");
    s->pub.type_ref = rt_jstr_or(s_json, "typeRef", NULL);
    s->canon =
        child_canon(b, s_json, "defaultStreamsConfiguration", "defaultStreamsDestinations", NULL);
    char *source = out_source(b->ep_source, NULL);
    char *subject = rt_str_printf("%s/%s", b->subject, s->pub.name);
    char *topic = rt_str_printf("fieldplane/data/%s/%s/%s", b->as->ns, b->asset_name, s->pub.name);
    if (!s->keep || !s->canon || !source || !subject || !topic) {
        fp_free(source);
        fp_free(subject);
        fp_free(topic);
        json_decref(s->json);
        json_decref(s->keep);
        rt_canon_free(s->canon);
        fp_free(s);
        return NULL;
    }
    if (rt_out_init(&s->out, rt, rt_dests_stream(b->props, s_json), "Stream", source, subject, NULL,
                    NULL, 0, topic) != 0)
        s->cfg_bad = true;
    fp_free(source);
    fp_free(subject);
    fp_free(topic);

    char label[160], err[700];
    snprintf(label, sizeof label, "streams[%zu].streamConfiguration", idx);
    json_t *cfg = rt_config_parse(s_json, "streamConfiguration", label, err, sizeof err);
    if (!cfg) {
        rt_out_error(&s->out, "InvalidConfiguration", err);
        s->cfg_bad = true;
        return s;
    }
    rt_keep_add(s->keep, cfg);
    rt_keep_add(s->keep, rt_jref(b->def_cfg[2]));
    s->pub.config_json = cfg;
    rt_cfg_level chain[2] = {{cfg, label}, {b->def_cfg[2], "defaultStreamsConfiguration"}};
    if (rt_config_fill(rt->conn, FP_CFG_STREAM, chain, 2, &s->pub.config, err, sizeof err) != 0) {
        rt_out_error(&s->out, "InvalidConfiguration", err);
        s->cfg_bad = true;
    }
    return s;
}

static void action_error(rt_action *a, const char *code, const char *msg)
{
    pthread_mutex_lock(&a->lock);
    if (!a->error.set)
        rt_error_set(&a->error, code, msg);
    pthread_mutex_unlock(&a->lock);
    a->cfg_bad = true;
}

static rt_action *action_build(const build_ctx *b, size_t gi, json_t *g_json, size_t ai,
                               json_t *a_json)
{
    fp_rt *rt = b->rt;
    rt_action *a = fp_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    pthread_mutex_init(&a->lock, NULL);
    a->json = json_incref(a_json);
    a->keep = json_array();
    json_array_append(a->keep, g_json); /* group name and defaultTopic are borrowed */
    a->pub.asset = &b->as->pub;
    a->pub.group = rt_jstr_or(g_json, "name", "");
    a->pub.name = rt_jstr_or(a_json, "name", "");
    a->pub.target_uri = rt_jstr_or(a_json, "targetUri", "");
    a->pub.action_type = rt_jstr_or(a_json, "actionType", "Call");
    a->key = rt_str_printf("%s/%s", a->pub.group, a->pub.name);
    /* The group without its actions: a sibling's change does not touch this action. */
    json_t *group = json_deep_copy(g_json);
    json_object_del(group, "actions");
    a->canon = child_canon(b, a_json, "defaultManagementGroupsConfiguration", NULL, group);
    json_decref(group);
    if (!a->keep || !a->key || !a->canon) {
        rt_action_free(rt, a);
        return NULL;
    }
    char prefix[160], err[700];
    snprintf(prefix, sizeof prefix, "managementGroups[%zu].actions[%zu]", gi, ai);
    a->pub.topic = rt_jstr_or(a_json, "topic", rt_jstr_or(g_json, "defaultTopic", NULL));
    const json_t *to = json_object_get(a_json, "timeoutInSeconds");
    if (!json_is_integer(to) || json_integer_value(to) <= 0)
        to = json_object_get(g_json, "defaultTimeoutInSeconds");
    a->pub.timeout_s =
        json_is_integer(to) && json_integer_value(to) > 0 && json_integer_value(to) <= 86400
            ? (int)json_integer_value(to)
            : RT_DEFAULT_ACTION_TIMEOUT_S;
    if (!a->pub.topic) {
        a->pub.topic = "";
        snprintf(err, sizeof err,
                 "%s: no request topic (set topic, or defaultTopic on managementGroups[%zu])",
                 prefix, gi);
        action_error(a, "MissingTopic", err);
        return a;
    }
    char label[200], glabel[200];
    snprintf(label, sizeof label, "%s.actionConfiguration", prefix);
    snprintf(glabel, sizeof glabel, "managementGroups[%zu].managementGroupConfiguration", gi);
    json_t *cfg = rt_config_parse(a_json, "actionConfiguration", label, err, sizeof err);
    json_t *gcfg =
        cfg ? rt_config_parse(g_json, "managementGroupConfiguration", glabel, err, sizeof err)
            : NULL;
    if (!cfg || !gcfg) {
        json_decref(cfg);
        action_error(a, "InvalidConfiguration", err);
        return a;
    }
    rt_keep_add(a->keep, cfg);
    rt_keep_add(a->keep, gcfg);
    rt_keep_add(a->keep, rt_jref(b->def_cfg[3]));
    a->pub.config_json = cfg;
    rt_cfg_level chain[3] = {
        {cfg, label},
        {gcfg, glabel},
        {b->def_cfg[3], "defaultManagementGroupsConfiguration"},
    };
    if (rt_config_fill(rt->conn, FP_CFG_ACTION, chain, 3, &a->pub.config, err, sizeof err) != 0)
        action_error(a, "InvalidConfiguration", err);
    return a;
}

int rt_kids_push(kids *k, int kind, void *o)
{
    void **v = fp_realloc(k->v[kind], (k->n[kind] + 1) * sizeof *v);
    if (!v)
        return -1;
    v[k->n[kind]++] = o;
    k->v[kind] = v;
    return 0;
}

/* Build every child of the asset document. On allocation failure what could not be built
 * is left out (and logged); the next change tries again. */
void rt_kids_build(const build_ctx *b, kids *k)
{
    memset(k, 0, sizeof *k);
    const json_t *arr;
    size_t i;
    json_t *x;

    arr = json_object_get(b->props, "datasets");
    json_array_foreach(arr, i, x)
    {
        rt_dataset *d = dataset_build(b, i, x);
        if (!d || rt_kids_push(k, K_DS, d) != 0) {
            rt_dataset_free(b->rt, d);
            fp_log_error("runtime", "asset %s: out of memory building datasets[%zu]", b->asset_name,
                         i);
        }
    }
    arr = json_object_get(b->props, "eventGroups");
    json_array_foreach(arr, i, x)
    {
        rt_event_group *g = group_build(b, i, x);
        if (!g || rt_kids_push(k, K_EG, g) != 0) {
            rt_group_free(b->rt, g);
            fp_log_error("runtime", "asset %s: out of memory building eventGroups[%zu]",
                         b->asset_name, i);
        }
    }
    arr = json_object_get(b->props, "streams");
    json_array_foreach(arr, i, x)
    {
        rt_stream *s = stream_build(b, i, x);
        if (!s || rt_kids_push(k, K_ST, s) != 0) {
            rt_stream_free(b->rt, s);
            fp_log_error("runtime", "asset %s: out of memory building streams[%zu]", b->asset_name,
                         i);
        }
    }
    arr = json_object_get(b->props, "managementGroups");
    json_array_foreach(arr, i, x)
    {
        size_t j;
        json_t *a_json;
        json_array_foreach(json_object_get(x, "actions"), j, a_json)
        {
            rt_action *a = action_build(b, i, x, j, a_json);
            if (!a || rt_kids_push(k, K_AC, a) != 0) {
                rt_action_free(b->rt, a);
                fp_log_error("runtime",
                             "asset %s: out of memory building managementGroups[%zu].actions[%zu]",
                             b->asset_name, i, j);
            }
        }
    }
}
