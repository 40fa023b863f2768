// assets.js - the asset list (search, filters, health) and the asset editor:
// descriptive fields, attributes, datasets with their data points, event
// groups and events with filters, streams, management groups and actions,
// destinations; the asset's status per dataset and event; its live data.

import { api, nsPath, listPage, listAll, can, watch } from './api.js';
import { h, clear, banner, toast, explain, confirmDialog, newId, timeEl, getPath, setPath } from './dom.js';
import { field, configEditor, listEditor, destinationsEditor, mapEditor } from './form.js';
import { pointsTable } from './points.js';
import { saveResource, editorHead } from './editor.js';
import { nsHref, go, guard, trackDirty } from './app.js';
import { typeLabel } from './devices.js';
import { livePanel } from './live.js';
import { takeDraft } from './discovery.js';
import { nameHelp } from './names.js';
import { loadConnectors, configSpec } from './connectors.js';

// ---------------------------------------------------------------------------
// Health: errors in the status, runtime health entries, or nothing yet.

export function assetHealth(a) {
    const st = (a.properties && a.properties.status) || {};
    let errors = 0;
    let unavailable = 0;
    let available = 0;
    const walk = (o) => {
        if (!o || typeof o !== 'object') return;
        if (o.error && (o.error.code || o.error.message)) errors++;
        const hl = o.health || o.runtimeHealth;
        if (hl && hl.status === 'Unavailable') unavailable++;
        if (hl && hl.status === 'Available') available++;
        for (const [k, v] of Object.entries(o)) if (k !== 'error' && k !== 'health') walk(v);
    };
    walk(st);
    if (a.properties && a.properties.enabled === false) return ['muted', 'Disabled'];
    if (errors) return ['error', `${errors} error${errors === 1 ? '' : 's'}`];
    if (unavailable) return ['warn', 'Unavailable'];
    if (available || (st.config && st.config.version)) return ['ok', 'Healthy'];
    return ['muted', 'No status yet'];
}

function countOf(a) {
    const p = a.properties || {};
    const pts = (p.datasets || []).reduce((n, d) => n + ((d.dataPoints || []).length), 0);
    const evs = (p.eventGroups || []).reduce((n, g) => n + ((g.events || []).length), 0);
    return `${(p.datasets || []).length} datasets · ${pts} points · ${evs} events`;
}

// ---------------------------------------------------------------------------
// The list

export async function assetsPage(root, { ns, device }) {
    const base = nsPath(ns, 'assets');
    const sid = newId('s');
    const did = newId('d');
    const hid = newId('h');
    const search = h('input', { id: sid, type: 'search', placeholder: 'Name starts with…', autocomplete: 'off' });
    const devSel = h('select', { id: did }, h('option', { value: '' }, 'All devices'));
    const healthSel = h('select', { id: hid }, h('option', { value: '' }, 'Any health'),
        h('option', { value: 'error' }, 'With errors'), h('option', { value: 'warn' }, 'Unavailable'),
        h('option', { value: 'ok' }, 'Healthy'), h('option', { value: 'muted' }, 'Disabled or no status'));
    const tbody = h('tbody');
    const more = h('div.more');
    const status = h('div.form-status', { 'aria-live': 'polite' });
    const summary = h('p.muted.count', { 'aria-live': 'polite' });
    let next = null;
    let shown = 0;
    let devices = [];
    try {
        devices = await listAll(nsPath(ns, 'devices'));
    } catch { /* the filter is then free text */ }
    for (const d of devices) devSel.append(h('option', { value: d.name }, d.name));
    if (device) devSel.value = device;

    clear(root,
        h('div.page-head', h('h1', 'Assets'),
            h('div.actions', can('write') && devices.length ? h('a.button.primary', { href: nsHref(ns, 'assets', 'new') + (device ? `?device=${encodeURIComponent(device)}` : '') }, 'Add an asset') : null)),
        h('form.filters', { role: 'search', onsubmit: (e) => { e.preventDefault(); load(true); } },
            h('div.field', h('label', { for: sid }, 'Search'), search),
            h('div.field', h('label', { for: did }, 'Device'), devSel),
            h('div.field', h('label', { for: hid }, 'Health'), healthSel)),
        status, summary,
        h('div.table-wrap', h('table.data',
            h('caption.sr-only', 'Assets'),
            h('thead', h('tr', ['Name', 'Health', 'Device endpoint', 'Contents', 'Changed', ''].map((c) => h('th', { scope: 'col' }, c)))),
            tbody)),
        more);

    let timer = null;
    search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => load(true), 250); });
    devSel.addEventListener('change', () => load(true));
    healthSel.addEventListener('change', () => load(true));

    const row = (a) => {
        const p = a.properties || {};
        const ref = p.deviceRef || {};
        const [cls, label] = assetHealth(a);
        return h('tr', { dataset: { name: a.name } },
            h('th', { scope: 'row' }, h('a', { href: nsHref(ns, 'assets', a.name) }, a.name),
                p.displayName ? h('div.muted', p.displayName) : null),
            h('td', h(`span.badge.${cls}`, label)), // next to the name, as in the device list
            h('td', ref.deviceName ? [h('a', { href: nsHref(ns, 'devices', ref.deviceName) }, ref.deviceName), ` / ${ref.endpointName || ''}`] : '—'),
            h('td', countOf(a)),
            h('td', timeEl(a.systemData && a.systemData.lastModifiedAt)),
            h('td.row-actions', can('write') ? h('button.danger.small', {
                type: 'button',
                onclick: async () => {
                    if (!(await confirmDialog(`Delete asset ${a.name}?`, 'Its definition is removed; connectors stop collecting its data.', 'Delete', 'danger'))) return;
                    try {
                        await api('DELETE', nsPath(ns, 'assets', a.name), { ifMatch: a.etag || undefined });
                        toast(`Asset ${a.name} deleted`);
                        load(true);
                    } catch (err) {
                        status.replaceChildren(banner('error', explain(err, `asset ${a.name}`)));
                    }
                },
                'aria-label': `Delete ${a.name}`,
            }, 'Delete') : null));
    };

    async function load(reset) {
        if (reset) {
            next = null;
            shown = 0;
            tbody.replaceChildren();
        }
        status.replaceChildren();
        try {
            const page = reset || !next
                ? await listPage(base, { top: 100, namePrefix: search.value.trim(), deviceRef: devSel.value })
                : await listPage(next);
            next = page.nextLink;
            const want = healthSel.value;
            const items = page.items.filter((a) => !want || assetHealth(a)[0] === want);
            shown += items.length;
            for (const a of items) tbody.append(row(a));
            if (reset && shown === 0 && !search.value && !devSel.value && !want && !next) {
                tbody.append(h('tr', h('td', { colspan: 6 }, h('div.empty',
                    h('h2', 'No assets yet'),
                    devices.length
                        ? h('p', 'An asset is the machine behind a device endpoint: describe the data to collect from it.')
                        : h('p', 'Assets are collected through a device. ', h('a', { href: nsHref(ns, 'devices', 'new') }, 'Add a device'), ' first.'),
                    can('write') && devices.length ? h('a.button.primary', { href: nsHref(ns, 'assets', 'new') }, 'Add an asset') : null))));
            } else if (reset && shown === 0) {
                tbody.append(h('tr', h('td', { colspan: 6, class: 'muted' }, 'No asset matches.')));
            }
            summary.textContent = `${shown} asset${shown === 1 ? '' : 's'} shown${next ? ', more available' : ''}`;
            more.replaceChildren(next ? h('button.secondary', { type: 'button', onclick: () => load(false) }, 'Load more') : '');
        } catch (err) {
            status.replaceChildren(banner('error', explain(err)));
        }
    }
    await load(true);
}

// ---------------------------------------------------------------------------
// Configuration keys: the rows of the connector that serves the asset's
// endpoint (connectors.js). Each string feeds the scopes the runtime reads it
// for (docs/connector-sdk.md): a datasetConfiguration is also where a data
// point's keys fall back to, an eventGroupConfiguration an event's.

const SCOPES = {
    dataset: ['dataset', 'datapoint'],
    eventGroup: ['eventGroup', 'event'],
    event: ['event'],
    stream: ['stream'],
    action: ['action'],
};

// ---------------------------------------------------------------------------
// The editor

export async function assetEditPage(root, { ns, name, create, device }) {
    let doc;
    let etag = null;
    let fromDiscovery = null;
    if (create) {
        fromDiscovery = takeDraft('asset');
        doc = fromDiscovery || { name: '', properties: { enabled: true, deviceRef: device ? { deviceName: device, endpointName: '' } : undefined, datasets: [] } };
    } else {
        const res = await api('GET', nsPath(ns, 'assets', name));
        doc = res.data;
        etag = res.etag;
    }
    let devices = [];
    try {
        devices = await listAll(nsPath(ns, 'devices'));
    } catch { /* free text then */ }
    await loadConnectors();
    const endpointOf = () => {
        const ref = (doc.properties && doc.properties.deviceRef) || {};
        const d = devices.find((x) => x.name === ref.deviceName);
        const ep = d && d.properties && d.properties.endpoints && d.properties.endpoints.inbound && d.properties.endpoints.inbound[ref.endpointName];
        return ep || null;
    };
    if (create && devices.length && doc.properties.deviceRef && !doc.properties.deviceRef.endpointName) {
        const d = devices.find((x) => x.name === doc.properties.deviceRef.deviceName);
        const eps = Object.keys((d && d.properties.endpoints && d.properties.endpoints.inbound) || {});
        if (eps.length) doc.properties.deviceRef.endpointName = eps[0];
    }
    const readonly = !can('write');
    const statusBox = h('div.form-status', { 'aria-live': 'polite' });
    const form = h('form.editor', { novalidate: true });
    const state = {
        root: form, statusBox, doc, etag, create, what: create ? 'the asset' : `asset ${name}`, kindNoun: 'asset',
        url: null, onReload: () => go(location.hash.split('?')[0], true),
    };

    const tabs = [['definition', 'Definition'], ['status', 'Status'], ['live', 'Live data']];
    const panels = {};
    let liveStop = null;
    const tabList = h('div.tabs', { role: 'tablist', 'aria-label': 'Asset views' });
    const selectTab = (key) => {
        for (const [k] of tabs) {
            const b = tabList.querySelector(`[data-tab="${k}"]`);
            if (!b) continue;
            b.setAttribute('aria-selected', String(k === key));
            b.tabIndex = k === key ? 0 : -1;
            panels[k].hidden = k !== key;
        }
        if (key === 'live' && !liveStop && !create) liveStop = livePanel(panels.live, ns, doc);
        if (key === 'status') renderStatus();
        const u = new URL(location.href);
        const base = u.hash.split('?')[0];
        history.replaceState(null, '', `${base}${key === 'definition' ? '' : `?tab=${key}`}`);
    };
    if (!create) {
        tabs.forEach(([k, label], i) => {
            const b = h('button.tab', {
                type: 'button', role: 'tab', id: `tab-${k}`, 'aria-controls': `panel-${k}`, dataset: { tab: k },
                onclick: () => selectTab(k),
                onkeydown: (e) => {
                    const dir = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
                    if (!dir) return;
                    const nk = tabs[(i + dir + tabs.length) % tabs.length][0];
                    selectTab(nk);
                    tabList.querySelector(`[data-tab="${nk}"]`).focus();
                },
            }, label);
            tabList.append(b);
        });
    }
    for (const [k] of tabs) {
        panels[k] = h('div.tabpanel', { role: create ? null : 'tabpanel', id: `panel-${k}`, 'aria-labelledby': create ? null : `tab-${k}` });
        panels[k].dataset.tabpanel = k;
        panels[k].addEventListener('reveal', () => selectTab(k));
    }
    panels.definition.append(form);
    trackDirty(form);

    // A destination topic made from the asset's and the dataset's names
    // follows a rename of either, as long as the user did not change it.
    const retopic = (oldT, newT) => {
        if (oldT === newT) return;
        const walk = (o) => {
            if (!o || typeof o !== 'object') return;
            if (o.configuration && o.configuration.topic === oldT) o.configuration.topic = newT;
            Object.values(o).forEach(walk);
        };
        walk(doc.properties);
        for (const el of form.querySelectorAll('[data-path$=".configuration.topic"]')) if (el.value === oldT) el.value = newT;
    };
    // fn(prev, next) -> [[oldTopic, newTopic], ...], called on each change.
    const renameFollower = (initial, fn) => {
        let prev = initial || '';
        return (v) => {
            for (const [o, n] of fn(prev, v || '')) retopic(o, n);
            prev = v || '';
        };
    };

    const renderStatus = () => clear(panels.status, statusView(ns, doc));

    const render = () => {
        const p = doc.properties || (doc.properties = {});
        const ep = endpointOf();
        const t = String((ep && ep.endpointType) || '').toLowerCase();
        const opcua = t === 'microsoft.opcua';
        const spec = (scope) => configSpec(ep && ep.endpointType, SCOPES[scope]);
        // The event filter (a JSON key) has an editor of its own where the connector reads one.
        const eventFilter = spec('event').some((r) => r.key === 'eventFilter');
        const topicFor = (...parts) => () => [ns, doc.name || 'asset', ...parts].join('/');
        // The data point keys the points table gives a column, and what a point
        // that sets none gets: its dataset's value, the asset's, else the row's
        // default (-1, "not set", says nothing and is left out).
        const pointKeys = configSpec(ep && ep.endpointType, ['datapoint']).filter((r) => r.type === 'number');
        const parsed = (s) => {
            try { return JSON.parse(s || '{}') || {}; } catch { return {}; }
        };
        const dsDefaults = (ds) => {
            const c = parsed(ds.datasetConfiguration);
            const a = parsed(p.defaultDatasetsConfiguration);
            const out = {};
            for (const k of pointKeys) {
                const v = [getPath(c, k.key), getPath(a, k.key), k.def].find((x) => x !== undefined && x !== null && x !== -1);
                if (v !== undefined) out[k.key] = v;
            }
            return out;
        };

        // Device endpoint picker (create only: deviceRef cannot change).
        const refId = newId('ref');
        const options = [];
        for (const d of devices) {
            for (const [en, e] of Object.entries((d.properties.endpoints && d.properties.endpoints.inbound) || {})) {
                options.push([`${d.name}\n${en}`, `${d.name} / ${en} (${typeLabel(e.endpointType)})`]);
            }
        }
        const ref = p.deviceRef || {};
        const refSel = h('select', { id: refId, required: true, disabled: readonly || !create },
            h('option', { value: '' }, 'Choose a device endpoint…'),
            options.map(([v, l]) => h('option', { value: v }, l)));
        refSel.dataset.path = 'properties.deviceRef';
        refSel.value = ref.deviceName ? `${ref.deviceName}\n${ref.endpointName || ''}` : '';
        if (ref.deviceName && refSel.value === '') {
            refSel.append(h('option', { value: `${ref.deviceName}\n${ref.endpointName || ''}` }, `${ref.deviceName} / ${ref.endpointName || ''} (not found)`));
            refSel.value = `${ref.deviceName}\n${ref.endpointName || ''}`;
        }
        refSel.addEventListener('change', () => {
            const [dn, en] = refSel.value.split('\n');
            p.deviceRef = refSel.value ? { deviceName: dn, endpointName: en } : undefined;
            render();
        });

        const jump = (label, key) => h('button.link', {
            type: 'button', onclick: () => {
                const sec = form.querySelector(`[data-section="${key}"]`);
                sec.scrollIntoView({ block: 'start' });
                const first = sec.querySelector('summary, input, select, textarea, button');
                if (first) first.focus({ preventScroll: true });
            },
        }, label);
        const n = (k) => (p[k] || []).filter(Boolean).length;
        clear(form,
            h('nav.section-links', { 'aria-label': 'Sections of the asset' },
                jump('Asset', 'asset'), jump(`Datasets (${n('datasets')})`, 'datasets'), jump(`Events (${n('eventGroups')})`, 'events'),
                jump(`Streams (${n('streams')})`, 'streams'), jump(`Management (${n('managementGroups')})`, 'management'), jump('Defaults', 'defaults')),
            statusBox,
            fromDiscovery ? banner('info', `Onboarding discovered asset ${(p.discoveredAssetRefs || []).join(', ')}. Check the definition, then save to create the asset.`) : null,
            h('section.card', { dataset: { section: 'asset' } }, h('h2', 'Asset'),
                h('div.grid',
                    field(doc, 'name', {
                        label: 'Name', required: true, readonly: !create || readonly, help: create ? `${nameHelp('Asset')} Cannot be changed later.` : null,
                        onChange: renameFollower(doc.name, (prev, next) => {
                            const names = [...(p.datasets || []), ...(p.eventGroups || []), ...(p.streams || [])].filter(Boolean).map((x) => x.name);
                            return [...names, 'datasets', 'events', 'streams'].map((n) => [[ns, prev || 'asset', n].join('/'), [ns, next || 'asset', n].join('/')]);
                        }),
                    }),
                    h('div.field', h('label', { for: refId }, 'Device endpoint', h('span.req', { 'aria-hidden': 'true' }, ' *')), refSel,
                        create ? h('p.help', 'The device and endpoint the connector reads this asset through. Cannot be changed later.') : null),
                    field(doc, 'properties.enabled', { label: 'Enabled', type: 'checkbox', def: true, readonly }),
                    field(doc, 'properties.displayName', { label: 'Display name', readonly }),
                    field(doc, 'properties.description', { label: 'Description', type: 'textarea', readonly }),
                    field(doc, 'properties.externalAssetId', { label: 'External asset ID', readonly: readonly || !create, help: 'Used as the CloudEvents subject instead of the name.' })),
                h('details.more', h('summary', 'Manufacturer and documentation'),
                    h('div.grid',
                        field(doc, 'properties.manufacturer', { label: 'Manufacturer', readonly }),
                        field(doc, 'properties.manufacturerUri', { label: 'Manufacturer URI', type: 'url', readonly }),
                        field(doc, 'properties.model', { label: 'Model', readonly }),
                        field(doc, 'properties.productCode', { label: 'Product code', readonly }),
                        field(doc, 'properties.serialNumber', { label: 'Serial number', readonly }),
                        field(doc, 'properties.hardwareRevision', { label: 'Hardware revision', readonly }),
                        field(doc, 'properties.softwareRevision', { label: 'Software revision', readonly }),
                        field(doc, 'properties.documentationUri', { label: 'Documentation URI', type: 'url', readonly }),
                        assetTypeRefsField(doc, readonly))),
                mapEditor(doc, 'properties.attributes', { readonly })),

            h('section.card', { dataset: { section: 'datasets' } }, h('h2', 'Datasets'),
                h('p.muted', 'A dataset is a group of data points sampled together and published as one message.'),
                listEditor(doc, 'properties.datasets', {
                    readonly, itemNoun: 'dataset', addLabel: 'Add a dataset',
                    emptyText: 'No dataset yet.',
                    open: (item, i) => i === 0 || (p.datasets || []).length <= 3,
                    summary: (ds) => `Dataset ${ds.name || '(unnamed)'} · ${(ds.dataPoints || []).length} points`,
                    newItem: (list) => {
                        let n = list.length + 1;
                        while (list.some((d) => d && d.name === `dataset${n}`)) n++;
                        return { name: `dataset${n}`, dataPoints: [], destinations: [{ target: 'Mqtt', configuration: { topic: [ns, doc.name || 'asset', `dataset${n}`].join('/'), qos: 'Qos1', retain: 'Never' } }] };
                    },
                    renderItem: (dp, ds) => [
                        h('div.grid',
                            field(doc, `${dp}.name`, {
                                label: 'Dataset name', required: true, readonly,
                                onChange: renameFollower(ds.name, (prev, next) => [[[ns, doc.name || 'asset', prev || 'dataset'].join('/'), [ns, doc.name || 'asset', next || 'dataset'].join('/')]]),
                            }),
                            field(doc, `${dp}.dataSource`, { label: 'Data source', readonly, help: opcua ? 'Optional OPC UA node the points are relative to.' : null }),
                            field(doc, `${dp}.typeRef`, { label: 'Type reference', readonly })),
                        configEditor(doc, `${dp}.datasetConfiguration`, spec('dataset'), { legend: 'Dataset settings', readonly }),
                        destinationsEditor(doc, `${dp}.destinations`, { readonly, defaultTopic: topicFor(ds.name || 'dataset') }),
                        pointsTable(doc, dp, { readonly, opcua, keys: pointKeys, defaults: dsDefaults(ds) }),
                    ],
                })),

            h('section.card', { dataset: { section: 'events' } }, h('h2', 'Events'),
                h('p.muted', 'Event groups collect events (OPC UA event notifiers, camera events) published one message per event.'),
                listEditor(doc, 'properties.eventGroups', {
                    readonly, itemNoun: 'event group', addLabel: 'Add an event group', emptyText: 'No event group.',
                    summary: (g) => `Event group ${g.name || '(unnamed)'} · ${(g.events || []).length} events`,
                    newItem: (list) => ({ name: `events${list.length + 1}`, events: [] }),
                    renderItem: (gp, g) => [
                        h('div.grid',
                            field(doc, `${gp}.name`, { label: 'Event group name', required: true, readonly }),
                            field(doc, `${gp}.dataSource`, { label: 'Data source (event notifier)', readonly, placeholder: opcua ? 'i=2253' : '' }),
                            field(doc, `${gp}.typeRef`, { label: 'Type reference', readonly })),
                        configEditor(doc, `${gp}.eventGroupConfiguration`, spec('eventGroup'), { legend: 'Event group settings', readonly }),
                        destinationsEditor(doc, `${gp}.defaultDestinations`, { legend: 'Default destinations', readonly, targets: ['Mqtt', 'Storage'], defaultTopic: topicFor(g.name || 'events') }),
                        h('h4', 'Events'),
                        listEditor(doc, `${gp}.events`, {
                            readonly, itemNoun: 'event', addLabel: 'Add an event', emptyText: 'No event.',
                            summary: (ev) => `Event ${ev.name || '(unnamed)'}`,
                            newItem: (list) => ({ name: `event${list.length + 1}`, dataSource: '' }),
                            renderItem: (ep2, ev) => [
                                h('div.grid',
                                    field(doc, `${ep2}.name`, { label: 'Event name', required: true, readonly }),
                                    field(doc, `${ep2}.dataSource`, { label: 'Data source', readonly }),
                                    field(doc, `${ep2}.typeRef`, { label: 'Type reference', readonly })),
                                configEditor(doc, `${ep2}.eventConfiguration`, spec('event'), { legend: 'Event settings', readonly, handled: ['eventFilter'] }),
                                eventFilter ? eventFilterEditor(doc, `${ep2}.eventConfiguration`, readonly) : null,
                                destinationsEditor(doc, `${ep2}.destinations`, { readonly, targets: ['Mqtt', 'Storage'], defaultTopic: topicFor(g.name || 'events', ev.name || 'event'), emptyText: 'No destination: the group\'s default is used.' }),
                            ],
                        }),
                    ],
                })),

            h('section.card', { dataset: { section: 'streams' } }, h('h2', 'Streams'),
                listEditor(doc, 'properties.streams', {
                    readonly, itemNoun: 'stream', addLabel: 'Add a stream', emptyText: 'No stream.',
                    summary: (s) => `Stream ${s.name || '(unnamed)'}`,
                    newItem: (list) => ({ name: `stream${list.length + 1}` }),
                    renderItem: (sp, s) => [
                        h('div.grid',
                            field(doc, `${sp}.name`, { label: 'Stream name', required: true, readonly }),
                            field(doc, `${sp}.typeRef`, { label: 'Type reference', readonly })),
                        configEditor(doc, `${sp}.streamConfiguration`, spec('stream'), { legend: 'Stream settings', readonly }),
                        destinationsEditor(doc, `${sp}.destinations`, { readonly, targets: ['Mqtt', 'Storage'], defaultTopic: topicFor(s.name || 'stream') }),
                    ],
                })),

            h('section.card', { dataset: { section: 'management' } }, h('h2', 'Management'),
                h('p.muted', 'Management actions are requests the connector carries out on the device (OPC UA Call, Read, Write; camera moves), as MQTT request/response.'),
                listEditor(doc, 'properties.managementGroups', {
                    readonly, itemNoun: 'management group', addLabel: 'Add a management group', emptyText: 'No management group.',
                    summary: (g) => `Management group ${g.name || '(unnamed)'} · ${(g.actions || []).length} actions`,
                    newItem: (list) => ({ name: `management${list.length + 1}`, actions: [] }),
                    renderItem: (mp, g) => [
                        h('div.grid',
                            field(doc, `${mp}.name`, { label: 'Group name', required: true, readonly }),
                            field(doc, `${mp}.dataSource`, { label: 'Data source', readonly }),
                            field(doc, `${mp}.defaultTopic`, { label: 'Default topic', readonly, placeholder: [ns, doc.name || 'asset', g.name || 'management'].join('/') }),
                            field(doc, `${mp}.defaultTimeoutInSeconds`, { label: 'Default timeout (s)', type: 'number', def: 100, readonly }),
                            field(doc, `${mp}.typeRef`, { label: 'Type reference', readonly })),
                        configEditor(doc, `${mp}.managementGroupConfiguration`, spec('action'), { legend: 'Group settings', readonly }),
                        h('h4', 'Actions'),
                        listEditor(doc, `${mp}.actions`, {
                            readonly, itemNoun: 'action', addLabel: 'Add an action', emptyText: 'No action.',
                            summary: (a) => `Action ${a.name || '(unnamed)'} (${a.actionType || 'Call'})`,
                            newItem: (list) => ({ name: `action${list.length + 1}`, targetUri: '', actionType: 'Call' }),
                            renderItem: (ap) => [
                                h('div.grid',
                                    field(doc, `${ap}.name`, { label: 'Action name', required: true, readonly }),
                                    field(doc, `${ap}.targetUri`, { label: 'Target', required: true, readonly, placeholder: opcua ? 'ns=3;s=StartPump' : '' }),
                                    field(doc, `${ap}.actionType`, { label: 'Action type', type: 'select', readonly, options: [['Call', 'Call'], ['Read', 'Read'], ['Write', 'Write']] }),
                                    field(doc, `${ap}.topic`, { label: 'Topic', readonly, placeholder: 'group default' }),
                                    field(doc, `${ap}.timeoutInSeconds`, { label: 'Timeout (s)', type: 'number', readonly, placeholder: 'group default' }),
                                    field(doc, `${ap}.typeRef`, { label: 'Type reference', readonly })),
                                configEditor(doc, `${ap}.actionConfiguration`, spec('action'), { legend: 'Action settings', readonly }),
                            ],
                        }),
                    ],
                })),

            h('section.card', { dataset: { section: 'defaults' } }, h('h2', 'Defaults for the whole asset'),
                h('p.muted', 'Used by every dataset, event and stream that does not set its own.'),
                configEditor(doc, 'properties.defaultDatasetsConfiguration', spec('dataset'), { legend: 'Default dataset settings', readonly }),
                destinationsEditor(doc, 'properties.defaultDatasetsDestinations', { legend: 'Default dataset destinations', readonly, defaultTopic: topicFor('datasets'), emptyText: 'None.' }),
                configEditor(doc, 'properties.defaultEventsConfiguration', spec('eventGroup'), { legend: 'Default event settings', readonly }),
                destinationsEditor(doc, 'properties.defaultEventsDestinations', { legend: 'Default event destinations', readonly, targets: ['Mqtt', 'Storage'], defaultTopic: topicFor('events'), emptyText: 'None.' }),
                configEditor(doc, 'properties.defaultStreamsConfiguration', spec('stream'), { legend: 'Default stream settings', readonly }),
                destinationsEditor(doc, 'properties.defaultStreamsDestinations', { legend: 'Default stream destinations', readonly, targets: ['Mqtt', 'Storage'], defaultTopic: topicFor('streams'), emptyText: 'None.' }),
                configEditor(doc, 'properties.defaultManagementGroupsConfiguration', spec('action'), { legend: 'Default management settings', readonly })),

            readonly ? null : h('div.actions.sticky',
                h('button.primary', { type: 'submit' }, create ? 'Create asset' : 'Save changes'),
                h('a.button.secondary', { href: nsHref(ns, 'assets') }, 'Cancel')));
    };

    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        state.url = nsPath(ns, 'assets', doc.name || '-');
        state.saving = true;
        const res = await saveResource(state);
        state.saving = false;
        if (res) {
            changedBox.replaceChildren();
            if (create) go(nsHref(ns, 'assets', doc.name));
            else {
                doc = res.data || doc;
                state.doc = doc;
                state.etag = res.etag;
                render();
                head.querySelector('.subtitle').textContent = subtitle();
            }
        }
    });

    const subtitle = () => `version ${(doc.properties || {}).version ?? '—'} · ${countOf(doc)}`;
    const head = editorHead(create ? 'Add an asset' : `Asset ${name}`, create ? null : subtitle(),
        !create && !readonly ? h('button.secondary', {
            type: 'button',
            onclick: async () => {
                const enabled = doc.properties.enabled !== false;
                if (guard.dirty && !window.confirm('This reloads the asset and drops your unsaved changes. Go on?')) return;
                try {
                    const res = await api('PATCH', nsPath(ns, 'assets', name), { body: { properties: { enabled: !enabled } }, ifMatch: state.etag || '*' });
                    doc = res.data;
                    state.doc = doc;
                    state.etag = res.etag;
                    toast(`Asset ${name} ${enabled ? 'disabled' : 'enabled'}`);
                    go(location.hash.split('?')[0], true);
                } catch (err) {
                    statusBox.replaceChildren(banner('error', explain(err, `asset ${name}`)));
                }
            },
        }, doc.properties && doc.properties.enabled === false ? 'Enable' : 'Disable') : null,
        !create && !readonly ? h('button.danger', {
            type: 'button',
            onclick: async () => {
                if (!(await confirmDialog(`Delete asset ${name}?`, 'Its definition is removed; connectors stop collecting its data.', 'Delete', 'danger'))) return;
                try {
                    await api('DELETE', nsPath(ns, 'assets', name), { ifMatch: state.etag || undefined });
                    toast(`Asset ${name} deleted`);
                    go(nsHref(ns, 'assets'), true);
                } catch (err) {
                    statusBox.replaceChildren(banner('error', explain(err, `asset ${name}`)));
                }
            },
        }, 'Delete') : null);

    // Status written by connectors, and changes by others, as they happen.
    const changedBox = h('div', { 'aria-live': 'polite' });
    let watchStop = null;
    if (!create) {
        watchStop = watch({ namespace: ns, kinds: 'Asset' }, (ev) => {
            if (ev.kind !== 'Asset' || ev.name !== name) return;
            if (ev.type === 'DELETED') {
                changedBox.replaceChildren(banner('warn', 'Someone deleted this asset. Saving would create it again.'));
                return;
            }
            const obj = ev.object || {};
            doc.properties.status = (obj.properties || {}).status;
            if (!panels.status.hidden) renderStatus();
            if (!state.saving && obj.etag && state.etag && obj.etag !== state.etag) {
                changedBox.replaceChildren(banner('warn', `Someone else changed this asset (now version ${(obj.properties || {}).version ?? '?'}). Saving your edits would be refused. `,
                    h('button.secondary.small', { type: 'button', onclick: () => state.onReload() }, 'Load the current version')));
            }
        });
    }

    clear(root, head,
        changedBox,
        readonly ? banner('info', 'Your token can view but not change assets.') : null,
        create && !devices.length ? banner('warn', 'There is no device yet. ', h('a', { href: nsHref(ns, 'devices', 'new') }, 'Add a device'), ' first: an asset is read through a device endpoint.') : null,
        create ? null : tabList,
        Object.values(panels));
    render();
    const params = new URLSearchParams(location.hash.split('?')[1] || '');
    if (!create) selectTab(params.get('tab') || 'definition');
    else for (const [k] of tabs) panels[k].hidden = k !== 'definition';
    return () => {
        if (liveStop) liveStop();
        if (watchStop) watchStop();
    };
}

function assetTypeRefsField(doc, readonly) {
    const id = newId('atr');
    const input = h('input', { id, readonly, value: (getPath(doc, 'properties.assetTypeRefs') || []).join(', '), placeholder: 'comma separated' });
    input.dataset.path = 'properties.assetTypeRefs';
    input.addEventListener('input', () => {
        const v = input.value.split(',').map((s) => s.trim()).filter(Boolean);
        setPath(doc, 'properties.assetTypeRefs', v.length ? v : undefined);
    });
    return h('div.field', h('label', { for: id }, 'Asset type references'), input);
}

// The OPC UA event filter inside eventConfiguration: the event type and the
// select clauses (browse paths of the fields to report).
function eventFilterEditor(doc, path, readonly) {
    const wrap = h('fieldset.event-filter', h('legend', 'Event filter'));
    const read = () => {
        try { return JSON.parse(getPath(doc, path) || '{}') || {}; } catch { return null; }
    };
    const write = (cfg) => {
        const f = cfg.eventFilter || {};
        if (!f.typeDefinitionId) delete f.typeDefinitionId;
        if (f.selectClauses && !f.selectClauses.length) delete f.selectClauses;
        if (!Object.keys(f).length) delete cfg.eventFilter;
        setPath(doc, path, Object.keys(cfg).length ? JSON.stringify(cfg) : undefined);
        // Keep the settings' "Edit as JSON" box beside it in step.
        for (const el of document.querySelectorAll('textarea[data-path]')) if (el.dataset.path === path) el.value = getPath(doc, path) || '';
    };
    const render = () => {
        const cfg = read();
        wrap.replaceChildren(h('legend', 'Event filter'));
        if (cfg === null) {
            wrap.append(h('p.muted', 'The event settings are not valid JSON; fix them under "Edit as JSON".'));
            return;
        }
        const f = cfg.eventFilter || {};
        const tid = newId('evt');
        const typeIn = h('input', { id: tid, value: f.typeDefinitionId || '', readonly, placeholder: 'i=2041 (BaseEventType)' });
        typeIn.addEventListener('input', () => {
            const c = read() || {};
            c.eventFilter = c.eventFilter || {};
            c.eventFilter.typeDefinitionId = typeIn.value.trim();
            write(c);
        });
        const rows = (f.selectClauses || []).map((sc, i) => {
            const mk = (key, label, required) => {
                const input = h('input', { value: sc[key] || '', readonly, 'aria-label': `${label} of clause ${i + 1}`, required });
                input.addEventListener('input', () => {
                    const c = read() || {};
                    const s = c.eventFilter.selectClauses[i];
                    if (input.value.trim()) s[key] = input.value.trim();
                    else delete s[key];
                    write(c);
                });
                return h('td', input);
            };
            return h('tr', mk('browsePath', 'Browse path', true), mk('typeDefinitionId', 'Type', false), mk('fieldId', 'Field ID', false),
                readonly ? null : h('td', h('button.icon.danger', {
                    type: 'button', 'aria-label': `Remove clause ${i + 1}`,
                    onclick: () => {
                        const c = read() || {};
                        c.eventFilter.selectClauses.splice(i, 1);
                        write(c);
                        render();
                    },
                }, '✕')));
        });
        wrap.append(h('div.field', h('label', { for: tid }, 'Event type'), typeIn),
            h('table.data.edit', h('caption', 'Select clauses (fields reported with each event)'),
                h('thead', h('tr', h('th', { scope: 'col' }, 'Browse path *'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Field ID'), readonly ? null : h('th', h('span.sr-only', 'Remove')))),
                h('tbody', rows.length ? rows : h('tr', h('td', { colspan: 4, class: 'muted' }, 'All fields of the event type.')))),
            readonly ? null : h('button.secondary.small', {
                type: 'button',
                onclick: () => {
                    const c = read() || {};
                    c.eventFilter = c.eventFilter || {};
                    (c.eventFilter.selectClauses ||= []).push({ browsePath: '' });
                    setPath(doc, path, JSON.stringify(c));
                    render();
                },
            }, 'Add select clause'));
    };
    render();
    return wrap;
}

// ---------------------------------------------------------------------------
// Status view: per dataset, event, stream and action, with schema references.

function schemaLink(ns, ref) {
    if (!ref || !ref.schemaName) return h('span.muted', 'no schema yet');
    const sns = ref.schemaRegistryNamespace || ns;
    return h('a', { href: `${nsHref(sns, 'schemas', ref.schemaName)}?version=${encodeURIComponent(ref.schemaVersion || '')}` },
        `${ref.schemaName}:${ref.schemaVersion || '?'}`);
}

// An error, with each data point it names in its details and that point's own error.
function errCell(e) {
    if (!e || !(e.code || e.message)) return h('span.badge.ok', 'OK');
    const details = Array.isArray(e.details) ? e.details.filter((d) => d && (d.code || d.message)) : [];
    return h('span.error-text', `${e.message || ''} `, e.code ? h('code', e.code) : null,
        details.length ? h('ul.errors.points', details.map((d) => h('li', d.target ? h('strong', `${d.target}: `) : null,
            `${d.message || ''} `, d.code ? h('code', d.code) : null))) : null);
}

function healthCell(o) {
    const hl = o && (o.health || o.runtimeHealth);
    if (!hl) return h('span.muted', '—');
    return h('span', h(`span.badge.${hl.status === 'Available' ? 'ok' : 'warn'}`, hl.status || '?'),
        hl.message ? ` ${hl.message}` : '', hl.lastUpdateTime ? [' · ', timeEl(hl.lastUpdateTime)] : null);
}

export function statusView(ns, doc) {
    const p = doc.properties || {};
    const st = p.status || {};
    const byName = (list, n) => (list || []).find((x) => x && x.name === n) || {};
    const rows = [];
    for (const ds of p.datasets || []) {
        const s = byName(st.datasets, ds.name);
        rows.push(['Dataset', ds.name, schemaLink(ns, s.messageSchemaReference), errCell(s.error), healthCell(s)]);
    }
    for (const g of p.eventGroups || []) {
        const sg = byName(st.eventGroups, g.name);
        for (const ev of g.events || []) {
            const s = byName(sg.events, ev.name);
            rows.push(['Event', `${g.name} / ${ev.name}`, schemaLink(ns, s.messageSchemaReference), errCell(s.error), healthCell(s)]);
        }
    }
    for (const s0 of p.streams || []) {
        const s = byName(st.streams, s0.name);
        rows.push(['Stream', s0.name, h('span.muted', '—'), errCell(s.error), healthCell(s)]);
    }
    for (const g of p.managementGroups || []) {
        const sg = byName(st.managementGroups, g.name);
        for (const a of g.actions || []) {
            const s = byName(sg.actions, a.name);
            rows.push(['Action', `${g.name} / ${a.name}`,
                h('span', 'request ', schemaLink(ns, s.requestMessageSchemaReference), ' · response ', schemaLink(ns, s.responseMessageSchemaReference)),
                errCell(s.error), healthCell(s)]);
        }
    }
    const cfg = st.config || {};
    return h('section.card', h('h2', 'Status reported by the connector'),
        !Object.keys(st).length ? banner('info', 'No connector has reported on this asset yet. Status appears here once a connector for its endpoint type runs.') : null,
        h('dl.facts',
            h('dt', 'Applied version'), h('dd', cfg.version !== undefined ? `${cfg.version} of ${p.version ?? '?'}` : '—'),
            h('dt', 'Last change'), h('dd', timeEl(cfg.lastTransitionTime)),
            h('dt', 'Configuration'), h('dd', errCell(cfg.error))),
        rows.length ? h('div.table-wrap', h('table.data',
            h('caption.sr-only', 'Status per dataset, event, stream and action'),
            h('thead', h('tr', ['Kind', 'Name', 'Schema', 'Errors', 'Health'].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', rows.map((r) => h('tr', r.map((c, i) => (i === 1 ? h('th', { scope: 'row' }, c) : h('td', c))))))))
            : h('p.muted', 'The asset has no dataset, event, stream or action.'));
}
