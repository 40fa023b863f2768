/*
 * fuzz_cli_apply.c - libFuzzer harness for the documents `apply` reads: the
 * ARM shape (single documents, arrays, {"value": [...]} lists, templates'
 * "resources") and Kubernetes custom resources, from YAML or JSON.
 *
 * The bytes are parsed (as YAML, which also reads JSON, or as JSON when the
 * first byte is '{' or '['), expanded into documents, and each is normalised
 * with and without --namespace. A document that normalises is written as a
 * Kubernetes resource and read back: it must keep its kind, namespace and
 * name. The conversion of a discovered resource runs on the same documents.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_doc(const json_t *in, const char *ns)
{
    fp_apply_doc d, back;
    char err[512];
    json_t *k8s, *spec;

    err[0] = '\0';
    if (fp_doc_normalize(in, ns, &d, err, sizeof err)) {
        if (d.doc)
            abort(); /* nothing is handed out on failure */
        return;
    }
    if (!d.doc || d.kind == FP_RK_UNKNOWN || !json_is_object(d.doc))
        abort();
    if (ns && d.kind != FP_RK_NAMESPACE && strcmp(d.ns, ns))
        abort(); /* --namespace wins */
    spec = fp_doc_spec(d.doc);
    json_decref(spec);
    k8s = fp_doc_to_k8s(d.doc, d.kind, d.ns);
    if (!k8s)
        abort();
    if (d.kind != FP_RK_NAMESPACE) {
        if (fp_doc_normalize(k8s, NULL, &back, err, sizeof err) == 0) {
            if (back.kind != d.kind || strcmp(back.ns, d.ns) || strcmp(back.name, d.name))
                abort();
            json_decref(back.doc);
        }
    }
    json_decref(k8s);
    {
        json_t *real = fp_doc_from_discovered(d.doc, d.kind, "disc", "real");
        json_decref(real);
    }
    json_decref(d.doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    json_t *vals;
    size_t i, j;
    json_t *v, *d;

    if (size && (data[0] == '{' || data[0] == '[')) {
        json_t *one = json_loadb((const char *)data, size, 0, NULL);
        if (!one)
            return 0;
        vals = json_pack("[o]", one);
    } else {
        vals = fp_yaml_parse((const char *)data, size, err, sizeof err);
        if (!vals)
            return 0;
    }
    json_array_foreach(vals, i, v)
    {
        json_t *list = fp_doc_expand(v);
        if (!json_is_array(list))
            abort();
        json_array_foreach(list, j, d)
        {
            check_doc(d, NULL);
            check_doc(d, "ns-1");
        }
        json_decref(list);
    }
    json_decref(vals);
    return 0;
}
