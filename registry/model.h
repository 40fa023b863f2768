/*
 * model.h - the resource model of the registry: names as errors, normalisation,
 * validation, create-only rules, references and JSON merge patch.
 *
 * The kinds (fp_kind, fp_kind_name, ...), the name rules and the limits shared with the
 * connector runtime and the CLI are in lib/model/fp_model.h, which this header includes;
 * what is here applies them to the registry's documents and errors.
 *
 * Everything here is pure: it looks at one JSON document (jansson) at a time and
 * never at the store. The API layer (api_*.c) calls, for a write:
 *
 *   fp_model_name_valid -> fp_model_normalize -> fp_model_validate
 *   -> fp_model_check_create_only (on replace) -> fp_model_each_ref (checked
 *   against the store) -> fp_model_spec_changed (decides the version bump).
 *
 * Documents are ARM-shaped: {name, type, id, location, extendedLocation, tags,
 * systemData, properties{...}} (see shared/reference/aio-resource-model.md and
 * docs/resource-model.md). Envelope fields the model does not know are kept.
 *
 * Errors fill an fp_verr whose target is the JSON path of the offending field,
 * such as "properties.datasets[2].dataPoints[0].dataSource".
 */
#ifndef FP_REGISTRY_MODEL_H
#define FP_REGISTRY_MODEL_H

#include <jansson.h>
#include <stdbool.h>

#include "fp_model.h"
#include "fp_status.h"

/* ---------------------------------------------------------------------------
 * Validation errors
 * ------------------------------------------------------------------------- */

typedef struct fp_verr {
    fp_status status;  /* FP_ERR_INVALID for validation failures */
    char code[64];     /* ARM error code: "InvalidName", "MissingField", "InvalidField", ... */
    char message[512]; /* one sentence naming the field and what is wrong */
    char target[256];  /* JSON path of the field, "" when the whole document */
} fp_verr;

/* Fill err and return st (convenience for one-line error returns). */
fp_status fp_verr_set(fp_verr *err, fp_status st, const char *code, const char *target,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------- */

/* Check a resource name for kind by its rule in lib/model (fp_model_name_check); on
 * failure err holds InvalidName, target "name" and lib/model's message, so the answer
 * says what the connector runtime logs for the same name. */
bool fp_model_name_valid(fp_kind kind, const char *name, fp_verr *err);

/* The same for secret names (FP_KIND_SECRET's rule). */
bool fp_model_secret_name_valid(const char *name, fp_verr *err);

/* ---------------------------------------------------------------------------
 * Normalisation and validation
 * ------------------------------------------------------------------------- */

/*
 * Bring an incoming document (a PUT body, or the result of a merge patch) into
 * the stored shape, in place:
 *  - a document in the older 2025-07-01-preview shape (flat properties.events[]
 *    with eventNotifier) is mapped onto properties.eventGroups;
 *  - defaults are applied (enabled true; actionType Call;
 *    defaultTimeoutInSeconds 100; ...);
 *  - the server-set properties (uuid, version, lastTransitionTime,
 *    provisioningState, status) are removed: the API layer sets them.
 * A body that is not an object, or has a non-object "properties", fails.
 */
fp_status fp_model_normalize(fp_kind kind, json_t *doc, fp_verr *err);

/*
 * Validate a normalised document of kind: required fields, types, enums
 * (authentication method, destination target, qos, retain, actionType, schema
 * format and type), name uniqueness inside each list, that every
 * ...Configuration string holds a JSON object, tags a string map, attributes a
 * map. References to other resources are not checked here (fp_model_each_ref).
 */
fp_status fp_model_validate(fp_kind kind, const json_t *doc, fp_verr *err);

/* Refuse a replace that changes a create-only field (externalDeviceId,
 * discoveredDeviceRef, operatingSystem, externalAssetId, deviceRef,
 * discoveredAssetRefs, ...). old_doc is the stored document. */
fp_status fp_model_check_create_only(fp_kind kind, const json_t *old_doc, const json_t *new_doc,
                                     fp_verr *err);

/* True when the spec differs: properties other than the server-set ones and
 * status, plus tags. Decides whether properties.version rises. */
bool fp_model_spec_changed(fp_kind kind, const json_t *old_doc, const json_t *new_doc);

/* ---------------------------------------------------------------------------
 * References to other resources
 * ------------------------------------------------------------------------- */

typedef enum fp_ref_type {
    FP_REF_DEVICE_ENDPOINT, /* asset deviceRef: name = device, endpoint = endpoint name */
    FP_REF_SECRET,          /* a secret name (the part before any "/key") */
} fp_ref_type;

typedef struct fp_ref {
    fp_ref_type type;
    const char *name;
    const char *endpoint; /* FP_REF_DEVICE_ENDPOINT only */
    const char *target;   /* JSON path of the referring field */
} fp_ref;

/* Called for each reference; returns FP_OK to go on, or an error (with err set)
 * to stop the walk with that error. The strings of ref are valid during the
 * call only: copy what must outlive it. Assets report their deviceRef;
 * devices report every secret of their inbound endpoints' authentication and
 * trustSettings.trustList, in document order. */
typedef fp_status (*fp_ref_cb)(void *ctx, const fp_ref *ref, fp_verr *err);

fp_status fp_model_each_ref(fp_kind kind, const json_t *doc, fp_ref_cb cb, void *ctx, fp_verr *err);

/* ---------------------------------------------------------------------------
 * Index values for list filters
 * ------------------------------------------------------------------------- */

/* Devices and discovered devices: the inbound endpoint types, lowercased, separated and surrounded
 * by single spaces (" microsoft.opcua microsoft.http "), written into out. Other kinds: "". Returns
 * false if out is too small. */
bool fp_model_endpoint_types(fp_kind kind, const json_t *doc, char *out, size_t out_len);

/* Assets and discovered assets: properties.deviceRef.deviceName, or NULL. */
const char *fp_model_device_ref(fp_kind kind, const json_t *doc);

/* ---------------------------------------------------------------------------
 * JSON merge patch (RFC 7396)
 * ------------------------------------------------------------------------- */

/* Apply patch to target and return the result. Takes the reference to target
 * (which may be modified in place or released); the patch is borrowed. Returns
 * NULL only when allocation fails. */
json_t *fp_json_merge_patch(json_t *target, const json_t *patch);

#endif
