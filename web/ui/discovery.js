// discovery.js - what connectors discovered (devices and assets, what was
// found and when) and "onboard": open the device or asset editor filled from
// the discovered resource, editable before saving, linked back to it through
// discoveredDeviceRef / discoveredAssetRefs.

import { nsPath, listPage, listAll, can } from './api.js';
import { h, clear, banner, explain, timeEl } from './dom.js';
import { nsHref, go } from './app.js';
import { typeLabel } from './devices.js';

// The draft handed from "onboard" to the editor (one at a time).
let draft = null;

export function takeDraft(kind) {
    if (!draft || draft.kind !== kind) return null;
    const d = draft.doc;
    draft = null;
    return d;
}

const DISCOVERY_ONLY = ['discoveryId', 'version', 'lastUpdatedOn', 'status', 'uuid', 'provisioningState', 'lastTransitionTime', 'supportedAuthenticationMethods'];

function strip(o) {
    if (Array.isArray(o)) return o.map(strip);
    if (!o || typeof o !== 'object') return o;
    const out = {};
    for (const [k, v] of Object.entries(o)) if (!DISCOVERY_ONLY.includes(k)) out[k] = strip(v);
    return out;
}

export function deviceFromDiscovered(dd) {
    const props = strip(dd.properties || {});
    for (const ep of Object.values((props.endpoints && props.endpoints.inbound) || {})) {
        if (!ep.authentication) ep.authentication = { method: 'Anonymous' };
    }
    return { name: dd.name, tags: dd.tags, properties: { enabled: true, ...props, discoveredDeviceRef: dd.name } };
}

export function assetFromDiscovered(da) {
    const props = strip(da.properties || {});
    return { name: da.name, tags: da.tags, properties: { enabled: true, ...props, discoveredAssetRefs: [da.name] } };
}

function lastSeen(d) {
    let t = (d.systemData && d.systemData.lastModifiedAt) || '';
    const walk = (o) => {
        if (!o || typeof o !== 'object') return;
        if (typeof o.lastUpdatedOn === 'string' && o.lastUpdatedOn > t) t = o.lastUpdatedOn;
        Object.values(o).forEach(walk);
    };
    walk(d.properties);
    return t;
}

export async function discoveryPage(root, { ns }) {
    const status = h('div.form-status', { 'aria-live': 'polite' });
    const devBox = h('div');
    const assetBox = h('div');
    clear(root, h('div.page-head', h('h1', 'Discovery')),
        h('p.lead', 'Connectors report the devices and assets they find (OPC UA servers, cameras, nodes). Onboard one to create a device or asset from it; you can edit it before saving.'),
        status,
        h('section.card', h('h2', 'Discovered devices'), devBox),
        h('section.card', h('h2', 'Discovered assets'), assetBox));
    let devices = [];
    let assets = [];
    try {
        [devices, assets] = await Promise.all([listAll(nsPath(ns, 'devices')), listAll(nsPath(ns, 'assets'))]);
    } catch (err) {
        status.append(banner('error', explain(err)));
    }
    const devOf = new Map();
    for (const d of devices) if (d.properties && d.properties.discoveredDeviceRef) devOf.set(d.properties.discoveredDeviceRef, d.name);
    const assetOf = new Map();
    for (const a of assets) for (const r of (a.properties && a.properties.discoveredAssetRefs) || []) assetOf.set(r, a.name);

    const pagedTable = async (box, coll, head, row, emptyText) => {
        const tbody = h('tbody');
        const more = h('div.more');
        box.replaceChildren(h('div.table-wrap', h('table.data', h('thead', h('tr', head.map((c) => h('th', { scope: 'col' }, c)))), tbody)), more);
        let next = null;
        const load = async () => {
            try {
                const page = next ? await listPage(next) : await listPage(nsPath(ns, coll), { top: 100 });
                next = page.nextLink;
                for (const x of page.items) tbody.append(row(x));
                if (!tbody.children.length) tbody.append(h('tr', h('td', { colspan: head.length, class: 'muted' }, emptyText)));
                more.replaceChildren(next ? h('button.secondary', { type: 'button', onclick: load }, 'Load more') : '');
            } catch (err) {
                box.replaceChildren(banner('error', explain(err)));
            }
        };
        await load();
    };

    await Promise.all([
        pagedTable(devBox, 'discoveredDevices', ['Name', 'Found', 'Endpoints', 'Last seen', ''], (dd) => {
            const p = dd.properties || {};
            const eps = Object.entries((p.endpoints && p.endpoints.inbound) || {});
            const linked = devOf.get(dd.name);
            return h('tr', { dataset: { name: dd.name } },
                h('th', { scope: 'row' }, dd.name, h('div.muted', `discovery ${p.discoveryId || '—'} · v${p.version ?? '—'}`)),
                h('td', [p.manufacturer, p.model, p.operatingSystem].filter(Boolean).join(' · ') || '—'),
                h('td', h('ul.plain', eps.map(([n, e]) => h('li', h('span.badge', typeLabel(e.endpointType)), ` ${n} `, h('span.muted.addr', e.address || ''),
                    e.supportedAuthenticationMethods ? h('div.muted', `auth: ${e.supportedAuthenticationMethods.join(', ')}`) : null)))),
                h('td', timeEl(lastSeen(dd))),
                h('td.row-actions', linked ? h('span', 'Onboarded as ', h('a', { href: nsHref(ns, 'devices', linked) }, linked))
                    : can('write') ? h('button.primary.small', {
                        type: 'button',
                        onclick: () => {
                            draft = { kind: 'device', doc: deviceFromDiscovered(dd) };
                            go(nsHref(ns, 'devices', 'new'));
                        },
                        'aria-label': `Onboard ${dd.name}`,
                    }, 'Onboard') : h('span.muted', 'Not onboarded')));
        }, 'Nothing discovered yet. Connectors that discover (for example OPC UA with "Discover assets" on) report here.'),
        pagedTable(assetBox, 'discoveredAssets', ['Name', 'Device', 'Found', 'Last seen', ''], (da) => {
            const p = da.properties || {};
            const ref = p.deviceRef || {};
            const pts = (p.datasets || []).reduce((n, d) => n + (d.dataPoints || []).length, 0);
            const evs = (p.eventGroups || []).reduce((n, g) => n + (g.events || []).length, 0);
            const linked = assetOf.get(da.name);
            return h('tr', { dataset: { name: da.name } },
                h('th', { scope: 'row' }, da.name, h('div.muted', `discovery ${p.discoveryId || '—'} · v${p.version ?? '—'}`)),
                h('td', ref.deviceName ? `${ref.deviceName} / ${ref.endpointName || ''}` : '—'),
                h('td', h('details', h('summary', `${(p.datasets || []).length} datasets, ${pts} points, ${evs} events`),
                    h('ul.plain', (p.datasets || []).map((d) => h('li', h('strong', d.name), ': ',
                        (d.dataPoints || []).slice(0, 20).map((x) => `${x.name} (${x.dataSource})`).join(', '),
                        (d.dataPoints || []).length > 20 ? ' …' : ''))))),
                h('td', timeEl(lastSeen(da))),
                h('td.row-actions', linked ? h('span', 'Onboarded as ', h('a', { href: nsHref(ns, 'assets', linked) }, linked))
                    : can('write') ? h('button.primary.small', {
                        type: 'button',
                        onclick: () => {
                            draft = { kind: 'asset', doc: assetFromDiscovered(da) };
                            go(nsHref(ns, 'assets', 'new'));
                        },
                        'aria-label': `Onboard ${da.name}`,
                    }, 'Onboard') : h('span.muted', 'Not onboarded')));
        }, 'No discovered asset yet.'),
    ]);
}
