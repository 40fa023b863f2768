// devices.js - the device list (search, filters, status at a glance,
// enable/disable, delete with the conflict explained) and the device editor
// (a form per endpoint type: the keys, defaults and ranges of the connector that
// serves the type, from connectors.js).

import { api, nsPath, listPage, listAll, can } from './api.js';
import { h, clear, banner, toast, explain, dialog, confirmDialog, newId, timeEl, fmtTime } from './dom.js';
import { field, configEditor, mapEditor } from './form.js';
import { saveResource, editorHead, detailText, reportError } from './editor.js';
import { nsHref, go, hasError, problems, problemText, trackDirty } from './app.js';
import { takeDraft } from './discovery.js';
import { nameHelp } from './names.js';
import { endpointTypes } from './model.js';
import { loadConnectors, configSpec, connectorFor } from './connectors.js';

// The endpoint types known by name, from lib/model through /ui/model.js: the
// same labels and address examples as the CLI's commands.
const TYPES = endpointTypes.map((e) => [e.type, e.label]);
const typeRow = (t) => endpointTypes.find((e) => e.type.toLowerCase() === String(t || '').toLowerCase());

export function typeLabel(t) {
    const f = typeRow(t);
    return f ? f.label : t || 'unknown';
}

// The types a form offers: those a connector of this build serves first, then the
// others (devices of those types are kept, moved and exported, but nothing reads
// them until a connector for the type runs), and a type the document already has.
function typeOptions(current) {
    const served = TYPES.filter(([v]) => connectorFor(v));
    const other = TYPES.filter(([v]) => !connectorFor(v)).map(([v, l]) => [v, `${l} (no connector in this build)`]);
    const all = [...served, ...other];
    if (current && !typeRow(current)) all.push([current, connectorFor(current) ? current : `${current} (no connector in this build)`]);
    return all;
}

// The health of a device for the list: errors first, then disabled.
function deviceState(d) {
    const p = d.properties || {};
    if (hasError(d)) return ['error', 'Error'];
    if (p.enabled === false) return ['muted', 'Disabled'];
    const inb = (p.status && p.status.endpoints && p.status.endpoints.inbound) || {};
    if (Object.values(inb).some((e) => e && e.health && e.health.status === 'Unavailable')) return ['warn', 'Unavailable'];
    return ['ok', 'Enabled'];
}

// The newest problem of a device, as one line for the list ("" when none).
function firstError(d) {
    const p = problems(d);
    return p.length ? problemText(p[0]) : '';
}

// ---------------------------------------------------------------------------
// The list

export async function devicesPage(root, { ns }) {
    const base = nsPath(ns, 'devices');
    const sid = newId('s');
    const tid = newId('t');
    const fid = newId('f');
    const search = h('input', { id: sid, type: 'search', placeholder: 'Name starts with…', autocomplete: 'off' });
    const typeSel = h('select', { id: tid }, h('option', { value: '' }, 'All types'),
        TYPES.map(([v, l]) => h('option', { value: v }, l)));
    const stateSel = h('select', { id: fid }, h('option', { value: '' }, 'Any state'),
        h('option', { value: 'error' }, 'With errors'), h('option', { value: 'warn' }, 'Unavailable'),
        h('option', { value: 'ok' }, 'Enabled'), h('option', { value: 'muted' }, 'Disabled'));
    const tbody = h('tbody');
    const more = h('div.more');
    const status = h('div.form-status', { 'aria-live': 'polite' });
    const summary = h('p.muted.count', { 'aria-live': 'polite' });
    let next = null;
    let shown = 0;

    clear(root,
        h('div.page-head', h('h1', 'Devices'),
            h('div.actions', can('write') ? h('a.button.primary', { href: nsHref(ns, 'devices', 'new') }, 'Add a device') : null)),
        h('form.filters', { role: 'search', onsubmit: (e) => { e.preventDefault(); load(true); } },
            h('div.field', h('label', { for: sid }, 'Search'), search),
            h('div.field', h('label', { for: tid }, 'Endpoint type'), typeSel),
            h('div.field', h('label', { for: fid }, 'State'), stateSel)),
        status, summary,
        h('div.table-wrap', h('table.data',
            h('caption.sr-only', 'Devices'),
            h('thead', h('tr', ['Name', 'State', 'Endpoints', 'Manufacturer / model', 'Changed', ''].map((c) => h('th', { scope: 'col' }, c)))),
            tbody)),
        more);

    let timer = null;
    search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => load(true), 250); });
    typeSel.addEventListener('change', () => load(true));
    stateSel.addEventListener('change', () => load(true));

    const row = (d) => {
        const p = d.properties || {};
        const eps = Object.entries((p.endpoints && p.endpoints.inbound) || {});
        const [cls, label] = deviceState(d);
        const err = firstError(d);
        return h('tr', { dataset: { name: d.name } },
            h('th', { scope: 'row' }, h('a', { href: nsHref(ns, 'devices', d.name) }, d.name)),
            // Health next to the name: on a narrow window it is never the column cut off.
            h('td', h(`span.badge.${cls}`, label), err ? h('p.error-text', err) : null),
            h('td', eps.length ? h('ul.plain', eps.map(([n, e]) => h('li', h('span.badge', typeLabel(e.endpointType)), ' ', n, ' ',
                h('span.muted.addr', e.address || '')))) : h('span.muted', 'no endpoint')),
            h('td', [p.manufacturer, p.model].filter(Boolean).join(' · ') || h('span.muted', '—')),
            h('td', timeEl(d.systemData && d.systemData.lastModifiedAt)),
            h('td.row-actions', can('write') ? [
                h('button.secondary.small', {
                    type: 'button', 'aria-label': `${p.enabled === false ? 'Enable' : 'Disable'} ${d.name}`,
                    onclick: () => toggleDevice(ns, d, status, () => load(true)),
                }, p.enabled === false ? 'Enable' : 'Disable'),
                h('button.danger.small', { type: 'button', 'aria-label': `Delete ${d.name}`, onclick: () => deleteDevice(ns, d, status, () => load(true)) }, 'Delete'),
            ] : null));
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
                ? await listPage(base, { top: 100, namePrefix: search.value.trim(), endpointType: typeSel.value })
                : await listPage(next);
            next = page.nextLink;
            const want = stateSel.value;
            const items = page.items.filter((d) => !want || deviceState(d)[0] === want);
            shown += items.length;
            for (const d of items) tbody.append(row(d));
            if (reset && shown === 0 && !search.value && !typeSel.value && !want && !next) {
                tbody.append(h('tr', h('td', { colspan: 6 }, h('div.empty',
                    h('h2', 'No devices yet'),
                    h('p', 'Add the first device: the server or controller Fieldplane should talk to.'),
                    can('write') ? h('a.button.primary', { href: nsHref(ns, 'devices', 'new') }, 'Add a device') : null))));
            } else if (reset && shown === 0) {
                tbody.append(h('tr', h('td', { colspan: 6, class: 'muted' }, 'No device matches.')));
            }
            summary.textContent = `${shown} device${shown === 1 ? '' : 's'} shown${next ? ', more available' : ''}`;
            more.replaceChildren(next ? h('button.secondary', { type: 'button', onclick: () => load(false) }, 'Load more') : '');
        } catch (err) {
            status.replaceChildren(banner('error', explain(err)));
        }
    }
    await load(true);
}

async function toggleDevice(ns, d, status, done) {
    const enabled = !(d.properties && d.properties.enabled === false);
    try {
        await api('PATCH', nsPath(ns, 'devices', d.name), { body: { properties: { enabled: !enabled } }, ifMatch: d.etag || '*' });
        toast(`${d.name} ${enabled ? 'disabled' : 'enabled'}`);
        done();
    } catch (err) {
        status.replaceChildren(banner('error', explain(err, `device ${d.name}`)));
    }
}

// Delete; a 409 lists the assets that still use the device and offers to
// delete them with it.
export async function deleteDevice(ns, d, status, done) {
    if (!(await confirmDialog(`Delete device ${d.name}?`, 'The device and its endpoints are removed from the registry. Connectors stop talking to it.', 'Delete', 'danger'))) return;
    try {
        await api('DELETE', nsPath(ns, 'devices', d.name), { ifMatch: d.etag || undefined });
        toast(`Device ${d.name} deleted`);
        done();
    } catch (err) {
        if (err.status === 409) {
            const names = err.details.map(detailText);
            const v = await dialog(`${d.name} is still in use`,
                h('div', h('p', `The registry keeps the device because ${names.length || 'some'} asset${names.length === 1 ? '' : 's'} refer${names.length === 1 ? 's' : ''} to it:`),
                    h('ul', names.map((n) => h('li', h('a', { href: nsHref(ns, 'assets', n) }, n)))),
                    h('p', 'Delete or move those assets first, or delete the device together with them.')),
                [{ label: 'Keep the device', value: 'cancel' }, { label: `Delete the device and ${names.length || 'its'} asset${names.length === 1 ? '' : 's'}`, value: 'cascade', kind: 'danger' }]);
            if (v === 'cascade') {
                try {
                    await api('DELETE', nsPath(ns, 'devices', d.name), { query: { cascade: 'true' } });
                    toast(`Device ${d.name} and its assets deleted`);
                    done();
                } catch (err2) {
                    status.replaceChildren(banner('error', explain(err2, `device ${d.name}`)));
                }
            }
            return;
        }
        status.replaceChildren(banner('error', explain(err, `device ${d.name}`)));
    }
}

// ---------------------------------------------------------------------------
// The editor

function newDevice() {
    return {
        name: '',
        properties: {
            enabled: true,
            endpoints: { inbound: { opcua: { endpointType: 'Microsoft.OpcUa', address: '', authentication: { method: 'Anonymous' } } } },
        },
    };
}

export async function deviceEditPage(root, { ns, name, create }) {
    let doc;
    let etag = null;
    let fromDiscovery = null;
    if (create) {
        fromDiscovery = takeDraft('device');
        doc = fromDiscovery || newDevice();
    } else {
        const res = await api('GET', nsPath(ns, 'devices', name));
        doc = res.data;
        etag = res.etag;
    }
    let secrets = [];
    try {
        secrets = await listAll(nsPath(ns, 'secrets'));
    } catch { /* secret names are only suggestions */ }
    await loadConnectors();
    const secretList = newId('secrets');
    const readonly = !can('write');
    const statusBox = h('div.form-status', { 'aria-live': 'polite' });
    const form = h('form.editor', { novalidate: true });
    const state = {
        root: form, statusBox, doc, etag, create, what: create ? 'the device' : `device ${name}`, kindNoun: 'device',
        url: null, onReload: () => go(location.hash + '', true),
    };

    const render = () => {
        const p = doc.properties || (doc.properties = {});
        const inbound = (p.endpoints && p.endpoints.inbound) || {};
        clear(form,
            h('datalist', { id: secretList }, secrets.flatMap((s) => [h('option', { value: s.name }),
                ...((s.properties && s.properties.keys) || []).map((k) => h('option', { value: `${s.name}/${k}` }))])),
            statusBox,
            fromDiscovery ? banner('info', `Onboarding discovered device ${p.discoveredDeviceRef}. Check the fields, then save to create the device.`) : null,
            !create ? statusPanel(doc) : null,
            h('section.card', h('h2', 'Device'),
                h('div.grid',
                    field(doc, 'name', { label: 'Name', required: true, readonly: !create || readonly, help: create ? `${nameHelp('Device')} Cannot be changed later.` : null }),
                    field(doc, 'properties.enabled', { label: 'Enabled', type: 'checkbox', def: true, readonly }),
                    field(doc, 'properties.manufacturer', { label: 'Manufacturer', readonly }),
                    field(doc, 'properties.model', { label: 'Model', readonly }),
                    field(doc, 'properties.operatingSystem', { label: 'Operating system', readonly: readonly || !create }),
                    field(doc, 'properties.operatingSystemVersion', { label: 'Operating system version', readonly }),
                    field(doc, 'properties.externalDeviceId', { label: 'External device ID', readonly: readonly || !create, help: 'Used as the CloudEvents source instead of the name.' })),
                mapEditor(doc, 'properties.attributes', { readonly })),
            h('section.card', h('h2', 'Inbound endpoints'),
                Object.keys(inbound).length ? null : h('p.muted', 'No endpoint: the device cannot be reached by a connector.'),
                Object.entries(inbound).map(([epName, ep]) => endpointForm(doc, epName, ep, { readonly, secretList, rerender: render })),
                readonly ? null : h('button.secondary', {
                    type: 'button',
                    onclick: () => {
                        const ib = ((doc.properties.endpoints ||= {}).inbound ||= {});
                        let n = 1;
                        while (ib[`endpoint${n}`]) n++;
                        ib[`endpoint${n}`] = { endpointType: 'Microsoft.OpcUa', address: '', authentication: { method: 'Anonymous' } };
                        render();
                    },
                }, 'Add an endpoint')),
            readonly ? null : h('div.actions.sticky',
                h('button.primary', { type: 'submit' }, create ? 'Create device' : 'Save changes'),
                h('a.button.secondary', { href: nsHref(ns, 'devices') }, 'Cancel')));
    };

    trackDirty(form);
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        state.url = nsPath(ns, 'devices', doc.name || '');
        if (!doc.name) {
            validateName(form, statusBox);
            return;
        }
        const res = await saveResource(state);
        if (res) {
            if (create) go(nsHref(ns, 'devices', doc.name));
            else {
                doc = res.data || doc;
                state.doc = doc;
                state.etag = res.etag;
                render();
            }
        }
    });

    clear(root,
        editorHead(create ? 'Add a device' : `Device ${name}`, create ? null : `version ${(doc.properties || {}).version || '—'} · changed ${fmtTime((doc.systemData || {}).lastModifiedAt)}`,
            !create ? h('a.button.secondary', { href: `${nsHref(ns, 'assets')}?device=${encodeURIComponent(name)}` }, 'Assets of this device') : null,
            !create && !readonly ? h('a.button.secondary', { href: `${nsHref(ns, 'assets', 'new')}?device=${encodeURIComponent(name)}` }, 'Add an asset') : null,
            !create && !readonly ? h('button.danger', {
                type: 'button',
                onclick: () => deleteDevice(ns, { ...doc, etag: state.etag }, statusBox, () => go(nsHref(ns, 'devices'), true)),
            }, 'Delete') : null),
        readonly ? banner('info', 'Your token can view but not change devices.') : null,
        form);
    render();
}

function validateName(form, statusBox) {
    const r = { root: form, statusBox };
    reportError(r, { status: 400, target: 'name', message: 'A name is required.', details: [] });
}

// The device's status: every error and every unavailable endpoint with its reason, newest
// first; "OK" only when the connector applied the configuration and nothing is failing.
function statusPanel(doc) {
    const st = (doc.properties && doc.properties.status) || {};
    const cfg = st.config || {};
    const list = problems(doc);
    return h('section.card.status-panel', h('h2', 'Status'),
        !Object.keys(st).length ? h('p.muted', 'No connector has reported on this device yet.')
            : list.length ? h('ul.errors', list.map((p) => h('li', h('strong', `${p.where}: `),
                p.kind === 'unavailable' ? h('span.badge.warn', 'Unavailable') : null, p.kind === 'unavailable' ? ' ' : null,
                `${p.message || ''} `, p.code ? h('code', p.code) : null, p.time ? [' · ', timeEl(p.time)] : null)))
                : h('p', h('span.badge.ok', 'OK'), ` Connector applied version ${cfg.version ?? '—'}`, cfg.lastTransitionTime ? [' at ', timeEl(cfg.lastTransitionTime)] : null));
}

// An OPC UA endpoint without message security: what the connector does when the settings
// leave the policy unset or None, or set the mode to none (its rows' defaults).
function opcuaInsecure(ep) {
    if (String(ep.endpointType || '').toLowerCase() !== 'microsoft.opcua') return false;
    let cfg = {};
    try {
        cfg = JSON.parse(ep.additionalConfiguration || '{}') || {};
    } catch {
        return false; /* the JSON editor says what is wrong with it */
    }
    const sec = cfg.security || {};
    const policy = String(sec.securityPolicy ?? cfg['security.securityPolicy'] ?? '');
    const mode = String(sec.securityMode ?? cfg['security.securityMode'] ?? '');
    return !policy || /(^|#)None$/i.test(policy) || mode.toLowerCase() === 'none';
}

function endpointForm(doc, epName, ep, { readonly, secretList, rerender }) {
    const base = `properties.endpoints.inbound.${epName}`;
    const t = String(ep.endpointType || '').toLowerCase();
    const method = (ep.authentication && ep.authentication.method) || 'Anonymous';
    const nameId = newId('ep');
    const nameIn = h('input', { id: nameId, value: epName, readonly, required: true, autocomplete: 'off' });
    nameIn.dataset.path = base;
    nameIn.addEventListener('change', () => {
        const nn = nameIn.value.trim();
        const ib = doc.properties.endpoints.inbound;
        if (!nn || nn === epName || ib[nn]) {
            nameIn.value = epName;
            return;
        }
        const rebuilt = {};
        for (const [k, v] of Object.entries(ib)) rebuilt[k === epName ? nn : k] = v;
        doc.properties.endpoints.inbound = rebuilt;
        rerender();
    });
    // Shown while the settings leave the connection without security, and kept up to date as
    // they are edited.
    const insecure = banner('warn', 'This OPC UA endpoint uses no security: values, and the password of a UsernamePassword identity, cross the network in clear and can be changed on the way. Choose a security policy (Basic256Sha256 or newer) and the mode sign or signAndEncrypt below.');
    insecure.classList.add('insecure');
    insecure.hidden = !opcuaInsecure(ep);
    const fs = h('fieldset.endpoint', h('legend', `Endpoint ${epName}`),
        h('div.grid',
            h('div.field', h('label', { for: nameId }, 'Endpoint name'), nameIn),
            field(doc, `${base}.endpointType`, {
                label: 'Endpoint type', type: 'select', required: true, readonly, options: typeOptions(ep.endpointType),
                onChange: () => rerender(),
            }),
            field(doc, `${base}.address`, { label: 'Address', required: true, readonly, placeholder: typeRow(t)?.example || 'scheme://host:port' }),
            field(doc, `${base}.version`, { label: 'Protocol version', readonly })),
        h('fieldset.auth', h('legend', 'Authentication'),
            h('div.grid',
                field(doc, `${base}.authentication.method`, {
                    label: 'Method', type: 'select', readonly,
                    options: [['Anonymous', 'Anonymous'], ['UsernamePassword', 'User name and password'], ['Certificate', 'Certificate']],
                    onChange: () => rerender(),
                }),
                method === 'UsernamePassword' ? [
                    field(doc, `${base}.authentication.usernamePasswordCredentials.usernameSecretName`, { label: 'User name secret', required: true, readonly, list: secretList, placeholder: 'secret or secret/key' }),
                    field(doc, `${base}.authentication.usernamePasswordCredentials.passwordSecretName`, { label: 'Password secret', required: true, readonly, list: secretList, placeholder: 'secret or secret/key' }),
                ] : null,
                method === 'Certificate' ? [
                    field(doc, `${base}.authentication.x509Credentials.certificateSecretName`, { label: 'Certificate secret', required: true, readonly, list: secretList }),
                    field(doc, `${base}.authentication.x509Credentials.keySecretName`, { label: 'Private key secret', readonly, list: secretList }),
                    field(doc, `${base}.authentication.x509Credentials.intermediateCertificatesSecretName`, { label: 'Intermediate certificates secret', readonly, list: secretList }),
                ] : null,
                field(doc, `${base}.trustSettings.trustList`, { label: 'Trust list (secret)', readonly, list: secretList }))),
        insecure,
        configEditor(doc, `${base}.additionalConfiguration`, configSpec(ep.endpointType, ['endpoint']), {
            legend: `${typeLabel(ep.endpointType)} settings`, readonly,
        }),
        readonly ? null : h('button.danger.small', {
            type: 'button',
            onclick: () => {
                delete doc.properties.endpoints.inbound[epName];
                rerender();
            },
        }, `Remove endpoint ${epName}`));
    const recheck = () => { insecure.hidden = !opcuaInsecure(doc.properties.endpoints.inbound[epName] || {}); };
    fs.addEventListener('change', recheck);
    fs.addEventListener('input', recheck);
    return fs;
}
