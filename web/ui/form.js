// form.js - form fields bound to a path in a resource document.
//
// Every input carries data-path (the JSON path of the value it edits, the same
// path the API names in error.target), so an error from the server lands next
// to the field. Editors keep the whole document in memory and send it with
// PUT + If-Match.

import { h, newId, getPath, setPath, clearFieldErrors, showFieldError } from './dom.js';

// A labelled field. opts: label, type (text | number | password | checkbox |
// select | textarea | json), options ([value, label] pairs for select),
// placeholder, help, required, readonly, onChange(value), list (datalist id),
// def (the default the server or connector applies, shown as placeholder).
export function field(doc, path, opts = {}) {
    const id = newId('in');
    const type = opts.type || 'text';
    const cur = getPath(doc, path);
    let input;
    const set = (v) => {
        setPath(doc, path, v);
        if (opts.onChange) opts.onChange(v);
    };
    if (type === 'checkbox') {
        input = h('input', { id, type: 'checkbox', checked: cur === undefined ? !!opts.def : !!cur, disabled: opts.readonly });
        input.addEventListener('change', () => set(input.checked));
    } else if (type === 'select') {
        input = h('select', { id, disabled: opts.readonly, required: opts.required },
            (opts.options || []).map(([v, l]) => h('option', { value: v }, l)));
        input.value = cur === undefined || cur === null ? '' : String(cur);
        input.addEventListener('change', () => set(input.value === '' ? undefined : input.value));
    } else if (type === 'textarea' || type === 'json') {
        input = h('textarea', {
            id, rows: opts.rows || 3, readonly: opts.readonly, required: opts.required,
            placeholder: opts.placeholder, spellcheck: 'false',
        });
        input.value = cur === undefined || cur === null ? '' : (typeof cur === 'string' ? cur : JSON.stringify(cur, null, 2));
        if (type === 'json') input.dataset.json = '1';
        input.addEventListener('input', () => set(input.value.trim() === '' ? undefined : input.value));
    } else {
        const placeholder = opts.placeholder || (opts.def !== undefined ? `default: ${opts.def}` : undefined);
        input = h('input', {
            id, type: type === 'number' ? 'number' : type, readonly: opts.readonly, required: opts.required,
            placeholder, list: opts.list, autocomplete: type === 'password' ? 'new-password' : 'off',
            step: type === 'number' ? 'any' : undefined, min: opts.min,
        });
        input.value = cur === undefined || cur === null ? '' : String(cur);
        input.addEventListener('input', () => {
            const s = input.value.trim();
            if (type === 'number') set(s === '' || Number.isNaN(Number(s)) ? undefined : Number(s));
            else set(s === '' ? undefined : input.value);
        });
    }
    input.dataset.path = path;
    if (opts.name) input.name = opts.name;
    const helpId = opts.help ? newId('help') : null;
    if (helpId) input.setAttribute('aria-describedby', helpId);
    const label = h('label', { for: id }, opts.label, opts.required ? h('span.req', { 'aria-hidden': 'true' }, ' *') : null);
    const wrap = h(`div.field${type === 'checkbox' ? '.check' : ''}`,
        type === 'checkbox' ? [input, label] : [label, input],
        helpId ? h('p.help', { id: helpId }, opts.help) : null);
    return wrap;
}

// ---------------------------------------------------------------------------
// "...Configuration" strings: JSON objects stored as a string. The known keys
// get fields with their defaults shown; "Edit as JSON" shows the whole string.
//
// spec rows (connectors.js makes them from the connectors' own rows): {key:
// 'defaults.publishingIntervalMilliseconds', label, type: 'number' | 'text' |
// 'bool' | 'select' | 'json', def, options, min, max, integer, help}. A 'json'
// row gets no field of its own (it is edited under "Edit as JSON", or by an
// editor of its own: opts.handled lists those keys) and is named in a note.

function readJson(s) {
    if (s === undefined || s === null || s === '') return {};
    if (typeof s === 'object') return s;
    try {
        const v = JSON.parse(s);
        return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
    } catch {
        return null;
    }
}

function prune(o) {
    for (const k of Object.keys(o)) {
        if (o[k] && typeof o[k] === 'object' && !Array.isArray(o[k])) {
            prune(o[k]);
            if (Object.keys(o[k]).length === 0) delete o[k];
        } else if (o[k] === undefined || o[k] === '') delete o[k];
    }
    return o;
}

// A select's current value may be a spelling the connector accepts but does
// not offer (another case, a policy's short name): it is kept, and shown.
function selectValue(input, v) {
    const s = v === undefined || v === null ? '' : String(v);
    if (s !== '' && ![...input.options].some((o) => o.value === s)) input.append(h('option', { value: s }, s));
    input.value = s;
}

export function configEditor(doc, path, spec, opts = {}) {
    const root = h('fieldset.config', h('legend', opts.legend || 'Configuration'));
    const inputs = [];
    const raw = h('textarea', { rows: 4, spellcheck: 'false', readonly: opts.readonly, id: newId('cfg') });
    raw.dataset.path = path;
    raw.dataset.json = '1';
    const refresh = () => {
        const cur = getPath(doc, path);
        raw.value = cur === undefined ? '' : (typeof cur === 'string' ? cur : JSON.stringify(cur));
        const cfg = readJson(cur) || {};
        for (const { row, input } of inputs) {
            const v = getPath(cfg, row.key);
            if (input.tagName === 'SELECT') selectValue(input, v);
            else input.value = v === undefined || v === null ? '' : String(v);
        }
    };
    const grid = h('div.grid');
    const other = [];
    for (const row of spec) {
        if (row.type === 'json') {
            if (!(opts.handled || []).includes(row.key)) other.push(row);
            continue;
        }
        const id = newId('cfg');
        const helpId = row.help ? newId('help') : null;
        let input;
        if (row.type === 'bool') {
            input = h('select', { id, disabled: opts.readonly },
                h('option', { value: '' }, row.def === undefined ? 'not set' : `default (${row.def ? 'yes' : 'no'})`),
                h('option', { value: 'true' }, 'yes'), h('option', { value: 'false' }, 'no'));
        } else if (row.type === 'select') {
            input = h('select', { id, disabled: opts.readonly },
                h('option', { value: '' }, row.def === undefined ? 'not set' : `default (${row.def})`),
                row.options.map(([v, l]) => h('option', { value: v }, l)));
        } else {
            input = h('input', {
                id, type: row.type === 'number' ? 'number' : 'text', readonly: opts.readonly,
                step: row.integer ? '1' : 'any', min: row.min, max: row.max,
                placeholder: row.def !== undefined ? `default: ${row.def}` : '',
            });
        }
        if (helpId) input.setAttribute('aria-describedby', helpId);
        input.dataset.cfg = row.key;
        input.addEventListener(input.tagName === 'SELECT' ? 'change' : 'input', () => {
            const cfg = readJson(getPath(doc, path)) || {};
            let v = input.value.trim();
            if (v === '') v = undefined;
            else if (row.type === 'number') v = Number.isNaN(Number(v)) ? undefined : Number(v);
            else if (row.type === 'bool') v = v === 'true';
            setPath(cfg, row.key, v);
            prune(cfg);
            setPath(doc, path, Object.keys(cfg).length ? JSON.stringify(cfg) : undefined);
            raw.value = getPath(doc, path) || '';
        });
        inputs.push({ row, input });
        grid.append(h('div.field', h('label', { for: id }, h('code', row.label)), input,
            helpId ? h('p.help', { id: helpId }, row.help) : null));
    }
    raw.addEventListener('input', () => {
        setPath(doc, path, raw.value.trim() === '' ? undefined : raw.value);
        if (readJson(raw.value) !== null) refresh();
    });
    root.append(grid,
        other.length ? h('p.help', 'Also read, as JSON (set under "Edit as JSON"): ',
            other.map((row, i) => [i ? '; ' : '', h('code', row.key), row.help ? ` (${row.help})` : ''])) : null,
        h('details.raw', h('summary', 'Edit as JSON'),
            h('div.field', h('label', { for: raw.id }, `${opts.legend || 'Configuration'} (JSON object)`), raw)));
    refresh();
    return root;
}

// ---------------------------------------------------------------------------
// Lists of named objects (datasets, events, ...): each item in a <details>.

// opts: title, addLabel, newItem(list) -> object, renderItem(itemPath, item, i)
// -> node, summary(item) -> text, readonly.
export function listEditor(doc, path, opts) {
    const box = h('div.list-editor');
    const render = () => {
        const list = getPath(doc, path) || [];
        box.replaceChildren();
        list.forEach((item, i) => {
            if (!item) return;
            const itemPath = `${path}[${i}]`;
            const d = h('details.item', { open: opts.open ? opts.open(item, i) : list.length <= 3 });
            d.dataset.item = itemPath;
            const sum = h('summary', h('span.item-title', opts.summary(item, i)));
            d.append(sum);
            const body = h('div.item-body', opts.renderItem(itemPath, item, i));
            if (!opts.readonly) {
                body.append(h('div.actions',
                    h('button.danger.small', {
                        type: 'button',
                        onclick: () => {
                            list.splice(i, 1);
                            if (list.length === 0) setPath(doc, path, undefined);
                            render();
                        },
                    }, `Remove ${opts.itemNoun || 'item'} ${item.name || ''}`.trim())));
            }
            d.append(body);
            box.append(d);
        });
        if (list.length === 0) box.append(h('p.muted.empty-list', opts.emptyText || 'None yet.'));
        if (!opts.readonly) {
            box.append(h('button.secondary', {
                type: 'button',
                onclick: () => {
                    const cur = getPath(doc, path) || [];
                    const item = opts.newItem(cur);
                    cur.push(item);
                    setPath(doc, path, cur);
                    render();
                    const items = box.querySelectorAll('details.item');
                    const last = items[items.length - 1];
                    if (last) {
                        last.open = true;
                        const first = last.querySelector('input, select, textarea');
                        if (first) first.focus();
                    }
                },
            }, opts.addLabel));
        }
    };
    render();
    box.rerender = render;
    return box;
}

// ---------------------------------------------------------------------------
// Destinations (datasets, events, streams): target Mqtt | BrokerStateStore | Storage.

export function destinationsEditor(doc, path, opts = {}) {
    const targets = opts.targets || ['Mqtt', 'BrokerStateStore', 'Storage'];
    const wrap = h('fieldset.destinations', h('legend', opts.legend || 'Destinations'));
    const box = h('div');
    const render = () => {
        const list = getPath(doc, path) || [];
        box.replaceChildren();
        list.forEach((d, i) => {
            const p = `${path}[${i}]`;
            const target = d.target || 'Mqtt';
            const row = h('div.dest', h('div.grid',
                field(doc, `${p}.target`, {
                    label: 'Target', type: 'select', readonly: opts.readonly,
                    options: targets.map((t) => [t, t === 'Mqtt' ? 'MQTT topic' : t === 'BrokerStateStore' ? 'Broker state store' : 'Storage (file path)']),
                    onChange: () => render(),
                }),
                target === 'Mqtt' ? [
                    field(doc, `${p}.configuration.topic`, { label: 'Topic', required: true, readonly: opts.readonly, placeholder: 'plant/line1/oven' }),
                    field(doc, `${p}.configuration.qos`, {
                        label: 'QoS', type: 'select', readonly: opts.readonly,
                        options: [['', 'default (QoS 1)'], ['Qos0', 'QoS 0 (at most once)'], ['Qos1', 'QoS 1 (at least once)']],
                    }),
                    field(doc, `${p}.configuration.retain`, {
                        label: 'Retain', type: 'select', readonly: opts.readonly,
                        options: [['', 'default (never)'], ['Never', 'Never'], ['Keep', 'Keep (retained message)']],
                    }),
                    field(doc, `${p}.configuration.ttl`, { label: 'TTL (seconds)', type: 'number', readonly: opts.readonly, placeholder: 'no expiry', min: 0 }),
                ] : target === 'BrokerStateStore'
                    ? field(doc, `${p}.configuration.key`, { label: 'Key', required: true, readonly: opts.readonly })
                    : field(doc, `${p}.configuration.path`, { label: 'Path', required: true, readonly: opts.readonly })),
            opts.readonly ? null : h('button.danger.small', {
                type: 'button',
                onclick: () => {
                    list.splice(i, 1);
                    setPath(doc, path, list.length ? list : undefined);
                    render();
                },
            }, 'Remove destination'));
            box.append(row);
        });
        if (!list.length) box.append(h('p.muted', opts.emptyText || 'No destination: the asset\'s default destination is used.'));
        if (!opts.readonly) {
            box.append(h('button.secondary.small', {
                type: 'button',
                onclick: () => {
                    const cur = getPath(doc, path) || [];
                    cur.push({ target: 'Mqtt', configuration: { topic: opts.defaultTopic ? opts.defaultTopic() : '', qos: 'Qos1', retain: 'Never' } });
                    setPath(doc, path, cur);
                    render();
                },
            }, 'Add destination'));
        }
    };
    render();
    wrap.append(box);
    return wrap;
}

// ---------------------------------------------------------------------------
// Attributes and tags: a string map edited as rows.

export function mapEditor(doc, path, opts = {}) {
    const wrap = h('fieldset.map', h('legend', opts.legend || 'Attributes'));
    const box = h('div');
    const render = () => {
        const m = getPath(doc, path) || {};
        const rows = Object.entries(m);
        box.replaceChildren();
        const write = (entries) => {
            const o = {};
            for (const [k, v] of entries) if (k) o[k] = v;
            setPath(doc, path, Object.keys(o).length ? o : undefined);
        };
        rows.forEach(([k, v], i) => {
            const kid = newId('k');
            const vid = newId('v');
            const kin = h('input', { id: kid, value: k, readonly: opts.readonly });
            const vin = h('input', { id: vid, value: typeof v === 'string' ? v : JSON.stringify(v), readonly: opts.readonly });
            kin.dataset.path = `${path}.${k}`;
            const sync = () => {
                rows[i] = [kin.value.trim(), vin.value];
                write(rows);
            };
            kin.addEventListener('change', sync);
            vin.addEventListener('input', sync);
            box.append(h('div.kv',
                h('div.field', h('label', { for: kid }, 'Name'), kin),
                h('div.field', h('label', { for: vid }, 'Value'), vin),
                opts.readonly ? null : h('button.danger.small', {
                    type: 'button', 'aria-label': `Remove ${k}`,
                    onclick: () => {
                        rows.splice(i, 1);
                        write(rows);
                        render();
                    },
                }, 'Remove')));
        });
        if (!rows.length) box.append(h('p.muted', 'None.'));
        if (!opts.readonly) {
            box.append(h('button.secondary.small', {
                type: 'button',
                onclick: () => {
                    let n = 1;
                    const cur = getPath(doc, path) || {};
                    while (`key${n}` in cur) n++;
                    cur[`key${n}`] = '';
                    setPath(doc, path, cur);
                    render();
                    const ins = box.querySelectorAll('.kv input');
                    if (ins.length) ins[ins.length - 2].select();
                },
            }, opts.addLabel || 'Add attribute'));
        }
    };
    render();
    wrap.append(box);
    return wrap;
}

// ---------------------------------------------------------------------------
// Client-side checks before a save: required fields and JSON strings. The
// server checks everything again and its errors land the same way.

export function validateForm(root) {
    clearFieldErrors(root);
    const problems = [];
    for (const el of root.querySelectorAll('[data-path][required]')) {
        if (el.closest('[hidden]')) continue;
        if (!el.value.trim()) problems.push([el.dataset.path, `${labelOf(el)} is required.`]);
    }
    for (const el of root.querySelectorAll('textarea[data-json]')) {
        const s = el.value.trim();
        if (!s) continue;
        try {
            const v = JSON.parse(s);
            if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        } catch {
            problems.push([el.dataset.path, `${labelOf(el)} must be a JSON object, like {"key": 1}.`]);
        }
    }
    let first = null;
    for (const [path, msg] of problems) {
        const el = showFieldError(root, path, msg);
        if (!first) first = el;
    }
    if (first) first.focus();
    return problems.length === 0;
}

function labelOf(el) {
    const l = el.id && document.querySelector(`label[for="${el.id}"]`);
    if (l) return l.textContent.replace(/\s*\*$/, '').trim();
    return el.getAttribute('aria-label') || el.dataset.path;
}
