/*
 * fp_model_doc.h - transforms of resource documents that more than one part of the tree
 * applies, written once (jansson documents; the rest of lib/model is pure).
 *
 * The registry applies them when it stores a document; the CLI applies the same ones to what
 * a user wrote before it compares it with what the registry holds, so that `apply` of an
 * older document says "unchanged" when the registry would store the same thing.
 */
#ifndef FP_MODEL_DOC_H
#define FP_MODEL_DOC_H

#include <jansson.h>

#include "fp_status.h"

/* What was wrong with a document, in the registry's words: an ARM error code, the JSON path
 * of the field and one sentence that names it. */
typedef struct fp_model_err {
    char code[32];     /* "InvalidField", "MissingField" */
    char target[96];   /* "properties.events[2].name" */
    char message[256]; /* "properties.events[2].name is required." */
} fp_model_err;

/*
 * An asset's (or discovered asset's) properties in the older shape (API 2025-07-01-preview),
 * a flat events[] whose items carry eventNotifier, moved into eventGroups[]: one event group
 * per event, of the event's name, whose dataSource is the event's notifier, holding the event
 * without eventNotifier. A group per event keeps every name and setting and invents no
 * names. Groups already in eventGroups stay first. props without events is left alone; a
 * null events is removed. Returns FP_OK, FP_ERR_INVALID (err filled: events not an array, an
 * event not an object or without a string name, a notifier not a string, eventGroups not an
 * array) or FP_ERR_NOMEM; on failure props may hold part of the move.
 */
fp_status fp_model_legacy_events(json_t *props, fp_model_err *err);

#endif
