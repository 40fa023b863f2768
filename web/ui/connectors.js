// connectors.js - the configuration keys the connectors read, for the forms of
// the "...Configuration" strings (a device endpoint's additionalConfiguration,
// an asset's dataset, event, stream and action settings and their defaults).
//
// The keys come from /ui/connectors.json, which the build makes by running
// every connector of the tree with `--help-config --json` (web/CMakeLists.txt):
// a connector's configuration rows are the one description of its keys, so the
// UI offers exactly what a connector reads, with its defaults, ranges and
// allowed values, and never a key of its own invention.

let loading = null;
let connectors = [];

// Load the export once. The forms are built synchronously, so each editor page
// awaits this before its first render. Without the file (a UI served from a
// folder with FIELDPLANE_WEB_DIR and no build) the forms show no known keys and
// "Edit as JSON" still edits the whole string.
export function loadConnectors() {
    if (!loading) {
        loading = fetch(new URL('./connectors.json', import.meta.url))
            .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
            .then((doc) => {
                connectors = Array.isArray(doc && doc.connectors) ? doc.connectors : [];
                return connectors;
            })
            .catch((err) => {
                console.warn(`connectors.json: ${err.message}: the configuration forms list no keys`);
                loading = null;
                return [];
            });
    }
    return loading;
}

// The connector that serves an endpoint type (compared case-insensitively, as
// the connectors do), or null.
export function connectorFor(endpointType) {
    const t = String(endpointType || '').toLowerCase();
    if (!t) return null;
    return connectors.find((c) => (c.endpointTypes || []).some((x) => String(x).toLowerCase() === t)) || null;
}

function rangeText(k) {
    if (k.min === null || k.min === undefined || k.max === null || k.max === undefined) return '';
    return `${k.min}..${k.max}`;
}

// One exported key as a row of configEditor (form.js).
function formRow(k) {
    const range = rangeText(k);
    const row = {
        key: k.key,
        label: k.key,
        help: [k.description, range ? `Range ${range}.` : ''].filter(Boolean).join(' '),
        def: k.default === null ? undefined : k.default,
    };
    if (Array.isArray(k.enum)) return { ...row, type: 'select', options: k.enum.map((v) => [v, v]) };
    if (k.type === 'integer' || k.type === 'number') {
        return { ...row, type: 'number', min: k.min ?? undefined, max: k.max ?? undefined, integer: k.type === 'integer' };
    }
    if (k.type === 'boolean') return { ...row, type: 'bool' };
    if (k.type === 'json') return { ...row, type: 'json' };
    return { ...row, type: 'text' };
}

// The configEditor rows for a configuration string of an object on an endpoint
// of this type. scopes: the row scopes the string feeds, in the order the
// runtime looks them up (docs/connector-sdk.md), e.g. a datasetConfiguration
// feeds ['dataset', 'datapoint']. A key read at several of them is offered once.
export function configSpec(endpointType, scopes) {
    const c = connectorFor(endpointType);
    if (!c) return [];
    const seen = new Set();
    const rows = [];
    for (const scope of scopes) {
        for (const k of c.keys || []) {
            if (k.scope !== scope || seen.has(k.key)) continue;
            seen.add(k.key);
            rows.push(formRow(k));
        }
    }
    return rows;
}
