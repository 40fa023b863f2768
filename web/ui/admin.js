// admin.js - schemas (list, versions, content), secrets (names and keys only;
// set and replace values, never shown) and the audit log (filterable, paged).

import { nameRules } from './model.js';
import { api, nsPath, listPage, can } from './api.js';
import { h, clear, banner, toast, explain, confirmDialog, dialog, newId, timeEl } from './dom.js';
import { detailText } from './editor.js';
import { nsHref } from './app.js';
import { nameInputAttrs } from './names.js';

// A paged table: head labels, row(item) -> <tr>, first(): the first page.
function pagedTable(caption, head, row, emptyText) {
    const tbody = h('tbody');
    const more = h('div.more');
    const status = h('div.form-status', { 'aria-live': 'polite' });
    const el = h('div', status, h('div.table-wrap', h('table.data', h('caption.sr-only', caption),
        h('thead', h('tr', head.map((c) => h('th', { scope: 'col' }, c)))), tbody)), more);
    let next = null;
    const load = async (first) => {
        status.replaceChildren();
        try {
            const page = first ? await first() : await listPage(next);
            if (first) tbody.replaceChildren();
            next = page.nextLink;
            for (const x of page.items) tbody.append(row(x));
            if (!tbody.children.length) tbody.append(h('tr', h('td', { colspan: head.length, class: 'muted' }, emptyText)));
            more.replaceChildren(next ? h('button.secondary', { type: 'button', onclick: () => load(null) }, 'Load more') : '');
        } catch (err) {
            status.replaceChildren(banner('error', explain(err)));
        }
    };
    return { el, load };
}

// ---------------------------------------------------------------------------
// Schemas

export async function schemasPage(root, { ns }) {
    const t = pagedTable('Schemas', ['Name', 'Format', 'Description', 'Changed'], (s) => {
        const p = s.properties || {};
        return h('tr', h('th', { scope: 'row' }, h('a', { href: nsHref(ns, 'schemas', s.name) }, s.name),
            p.displayName ? h('div.muted', p.displayName) : null),
        h('td', p.format || '—'), h('td', p.description || ''), h('td', timeEl(s.systemData && s.systemData.lastModifiedAt)));
    }, 'No schema yet. Connectors register the schema of each dataset and event they publish.');
    clear(root, h('div.page-head', h('h1', 'Schemas')),
        h('p.lead', 'Message schemas describe what each dataset and event publishes; an asset\'s status names the schema of each.'),
        t.el);
    await t.load(() => listPage(nsPath(ns, 'schemas'), { top: 100 }));
}

export async function schemaPage(root, { ns, name, version }) {
    const { data: s } = await api('GET', nsPath(ns, 'schemas', name));
    const p = s.properties || {};
    const content = h('div');
    const vlist = h('ul.versions');
    clear(root, h('div.page-head', h('div', h('h1', `Schema ${name}`), h('p.muted', `${p.format || ''} · ${p.schemaType || ''}`))),
        p.description ? h('p', p.description) : null,
        h('div.split', h('section.card', h('h2', 'Versions'), vlist), h('section.card.grow', content)));
    const { items } = await listPage(nsPath(ns, 'schemas', name, 'versions'), { top: 1000 });
    items.sort((a, b) => Number(b.name) - Number(a.name));
    const showVersion = (v) => {
        for (const a of vlist.querySelectorAll('a')) a.removeAttribute('aria-current');
        const link = vlist.querySelector(`[data-v="${v.name}"]`);
        if (link) link.setAttribute('aria-current', 'true');
        let text = (v.properties && v.properties.schemaContent) || '';
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as stored */ }
        clear(content, h('h2', `Version ${v.name}`),
            v.properties && v.properties.description ? h('p', v.properties.description) : null,
            h('p.muted', 'SHA-256 ', h('code', (v.properties && v.properties.hash) || '—'), ' · ', timeEl(v.systemData && v.systemData.createdAt)),
            h('pre.schema', { tabindex: 0, 'aria-label': `Content of version ${v.name}` }, text));
    };
    if (!items.length) content.append(h('p.muted', 'No version yet.'));
    for (const v of items) {
        vlist.append(h('li', h('a', {
            href: `${nsHref(ns, 'schemas', name)}?version=${v.name}`, dataset: { v: v.name },
            onclick: (e) => { e.preventDefault(); showVersion(v); },
        }, `Version ${v.name}`)));
    }
    const want = items.find((v) => v.name === String(version)) || items[0];
    if (want) showVersion(want);
}

// ---------------------------------------------------------------------------
// Secrets

export async function secretsPage(root, { ns }) {
    const editable = can('secrets');
    const formBox = h('div');
    const t = pagedTable('Secrets', ['Name', 'Keys', 'Changed', ''], (s) => {
        const p = s.properties || {};
        return h('tr', { dataset: { name: s.name } }, h('th', { scope: 'row' }, s.name),
            h('td', (p.keys || []).map((k) => h('code.key', k))),
            h('td', timeEl(p.lastModifiedAt || p.createdAt)),
            h('td.row-actions', editable ? [
                h('button.secondary.small', { type: 'button', 'aria-label': `Replace ${s.name}`, onclick: () => showForm(s.name, p.keys || []) }, 'Replace values'),
                h('button.danger.small', {
                    type: 'button',
                    onclick: async () => {
                        if (!(await confirmDialog(`Delete secret ${s.name}?`, 'Devices that refer to it can no longer authenticate.', 'Delete', 'danger'))) return;
                        try {
                            await api('DELETE', nsPath(ns, 'secrets', s.name));
                            toast(`Secret ${s.name} deleted`);
                            reload();
                        } catch (err) {
                            if (err.status === 409) {
                                await dialog(`${s.name} is still in use`, h('div', h('p', err.message),
                                    err.details.length ? h('ul', err.details.map((d) => h('li', detailText(d)))) : null,
                                    h('p', 'Change the devices that refer to it first.')), [{ label: 'OK', value: 'ok' }]);
                            } else toast(explain(err, `secret ${s.name}`), 'error');
                        }
                    },
                    'aria-label': `Delete ${s.name}`,
                }, 'Delete'),
            ] : null));
    }, 'No secret yet. Secrets hold the passwords and certificates devices use; their values are never shown.');
    const reload = () => t.load(() => listPage(nsPath(ns, 'secrets'), { top: 100 }));

    function showForm(name, keys) {
        const nid = newId('sn');
        const status = h('div.form-status', { 'aria-live': 'polite' });
        const rows = h('div');
        const addRow = (k = '') => {
            const kid = newId('sk');
            const vid = newId('sv');
            const kin = h('input.secret-key', { id: kid, value: k, required: true, autocomplete: 'off' });
            const vin = h('input.secret-value', { id: vid, type: 'password', autocomplete: 'new-password' });
            const r = h('div.kv', h('div.field', h('label', { for: kid }, 'Key'), kin),
                h('div.field', h('label', { for: vid }, 'Value'), vin),
                h('button.danger.small', { type: 'button', onclick: () => r.remove() }, 'Remove key'));
            rows.append(r);
        };
        (keys.length ? keys : ['value']).forEach((k) => addRow(k));
        const nameIn = h('input', { id: nid, value: name || '', readonly: !!name, required: true, autocomplete: 'off', ...nameInputAttrs('Secret') });
        const form = h('form.card', {
            onsubmit: async (e) => {
                e.preventDefault();
                const data = {};
                for (const r of rows.querySelectorAll('.kv')) {
                    const k = r.querySelector('.secret-key').value.trim();
                    if (k) data[k] = r.querySelector('.secret-value').value;
                }
                const n = nameIn.value.trim();
                if (!n || !Object.keys(data).length) {
                    status.replaceChildren(banner('error', 'A name and at least one key are needed.'));
                    return;
                }
                try {
                    await api('PUT', nsPath(ns, 'secrets', n), { body: { data } });
                    toast(`Secret ${n} saved`);
                    formBox.replaceChildren();
                    reload();
                } catch (err) {
                    status.replaceChildren(banner('error', explain(err, `secret ${n}`)));
                }
            },
        }, h('h2', name ? `Replace the values of ${name}` : 'New secret'),
        name ? h('p.muted', 'All keys are replaced by what you enter here; the current values are not shown.') : null,
        h('div.field', h('label', { for: nid }, 'Name'), nameIn), rows, status,
        h('div.actions', h('button.secondary.small', { type: 'button', onclick: () => addRow() }, 'Add key'),
            h('button.primary', { type: 'submit' }, 'Save secret'),
            h('button.secondary', { type: 'button', onclick: () => formBox.replaceChildren() }, 'Cancel')));
        formBox.replaceChildren(form);
        (name ? form.querySelector('.secret-value') : nameIn).focus();
    }

    clear(root, h('div.page-head', h('h1', 'Secrets'),
        h('div.actions', editable ? h('button.primary', { type: 'button', onclick: () => showForm('', []) }, 'New secret') : null)),
    h('p.lead', 'Passwords, keys and certificates for device endpoints. Only names and keys are shown; values can be set and replaced, never read here.'),
    editable ? null : banner('info', 'Only an operator or admin token can set secret values.'),
    formBox, t.el);
    await reload();
}

// ---------------------------------------------------------------------------
// Audit log

export async function auditPage(root, params) {
    const fields = [['namespace', 'Namespace'], ['kind', 'Kind'], ['name', 'Name'], ['tokenId', 'Token'], ['action', 'Action']];
    const inputs = {};
    const form = h('form.filters', { role: 'search' });
    for (const [k, label] of fields) {
        const id = newId('au');
        let input;
        if (k === 'kind') {
            input = h('select', { id }, h('option', { value: '' }, 'Any kind'),
                // The kinds of lib/model (and Secret), as the registry names them in its records.
                Object.keys(nameRules).map((x) => h('option', { value: x }, x)));
        } else if (k === 'action') {
            input = h('select', { id }, h('option', { value: '' }, 'Any action'),
                ['create', 'replace', 'update', 'delete', 'status', 'secret-set', 'secret-delete'].map((x) => h('option', { value: x }, x)));
        } else input = h('input', { id, type: 'search', autocomplete: 'off' });
        input.value = params[k] || '';
        inputs[k] = input;
        form.append(h('div.field', h('label', { for: id }, label), input));
    }
    // Connectors write status all the time; people's changes are what an audit is read for.
    const sid = newId('au');
    const showStatus = h('input', { id: sid, type: 'checkbox' });
    showStatus.checked = params.status === 'show';
    form.append(h('div.field.check', showStatus, h('label', { for: sid }, 'Show connector status writes')));
    form.append(h('div.field', h('button.primary', { type: 'submit' }, 'Filter')));
    const t = pagedTable('Audit log', ['Time', 'Action', 'Kind', 'Resource', 'Token', 'Revision'], (e) => h('tr',
        h('td', timeEl(e.time)), h('td', h(`span.badge.${e.action === 'delete' || e.action === 'secret-delete' ? 'error' : 'plain'}`, e.action)),
        h('td', e.kind), h('td', e.namespace && e.kind !== 'Namespace' && e.kind !== 'Secret' && e.kind !== 'SchemaVersion'
            ? h('a', { href: nsHref(e.namespace, e.kind === 'Device' ? 'devices' : e.kind === 'Asset' ? 'assets' : e.kind === 'Schema' ? 'schemas' : 'discovery', ...(e.kind === 'Device' || e.kind === 'Asset' || e.kind === 'Schema' ? [e.name] : [])) }, `${e.namespace} / ${e.name}`)
            : [e.namespace, e.name].filter(Boolean).join(' / ')),
        h('td', h('code', e.tokenId || '')), h('td', String(e.revision ?? ''))), 'No entry matches.');
    const load = () => {
        const q = { top: 100 };
        for (const [k] of fields) q[k] = inputs[k].value.trim();
        if (!showStatus.checked && !q.action) q.excludeAction = 'status';
        return t.load(() => listPage('/api/v1/audit', q));
    };
    form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
    clear(root, h('div.page-head', h('h1', 'Audit log')), h('p.lead', 'Who changed what, and when; newest first.'), form, t.el);
    await load();
}
