// app.js - the operations web UI: sign-in, the page frame, routing, and the
// namespace pages. Each other area lives in its own module (devices.js,
// assets.js, discovery.js, live.js, admin.js); a page is a function that
// fills the main element and may answer a cleanup function.
//
// Routes are fragments: #/ns/<ns>/devices, #/ns/<ns>/assets/<name>, #/audit ...
// so every page has an address that can be bookmarked and reloaded.

import { api, session, loadToken, saveToken, clearToken, can, listPage, listAll } from './api.js';
import { h, clear, banner, toast, explain, newId, timeEl } from './dom.js';
import { devicesPage, deviceEditPage } from './devices.js';
import { assetsPage, assetEditPage } from './assets.js';
import { discoveryPage } from './discovery.js';
import { schemasPage, schemaPage, secretsPage, auditPage } from './admin.js';
import { nameHelp, nameInputAttrs } from './names.js';

const NS_KEY = 'fieldplane.namespace';
const main = () => document.getElementById('main');
let cleanup = null;

export function currentNs() {
    return localStorage.getItem(NS_KEY) || '';
}

export function setNs(ns) {
    if (ns) localStorage.setItem(NS_KEY, ns);
    else localStorage.removeItem(NS_KEY);
}

// Unsaved edits: an editor sets guard.dirty when the user changes something;
// leaving the page then asks first.
export const guard = { dirty: false };
let lastHash = null;
let restoring = false;

// Navigate to hash; force: leave without asking (after a save, a delete, or
// when the user chose to discard).
export function go(hash, force = false) {
    if (force) guard.dirty = false;
    if (location.hash === hash) route();
    else location.hash = hash;
}

// An editor form: any change marks the page dirty.
export function trackDirty(form) {
    const mark = () => { guard.dirty = true; };
    form.addEventListener('input', mark);
    form.addEventListener('change', mark);
    form.addEventListener('click', (e) => {
        if (e.target.closest('button[type="button"]')) mark();
    });
}

window.addEventListener('beforeunload', (e) => {
    if (guard.dirty) {
        e.preventDefault();
        e.returnValue = '';
    }
});

export function nsHref(ns, ...rest) {
    return '#/ns/' + [ns, ...rest].map(encodeURIComponent).join('/');
}

// ---------------------------------------------------------------------------
// The page frame

function renderFrame() {
    const who = session.whoami;
    const ns = currentNs();
    const header = document.getElementById('topbar');
    if (!who) {
        clear(header, h('a.brand', { href: '#/' }, h('span.logo', { 'aria-hidden': 'true' }, '◆'), ' Fieldplane'));
        clear(document.getElementById('nav'));
        document.body.classList.add('signed-out');
        return;
    }
    document.body.classList.remove('signed-out');
    const nsSelect = h('select#ns-select', { 'aria-label': 'Namespace' });
    nsSelect.addEventListener('change', () => {
        if (nsSelect.value === '__manage') {
            go('#/namespaces');
            return;
        }
        setNs(nsSelect.value);
        go(nsHref(nsSelect.value));
    });
    fillNamespaces(nsSelect, ns);
    clear(header,
        h('button.menu-toggle', {
            type: 'button', 'aria-label': 'Menu', 'aria-controls': 'nav', 'aria-expanded': 'false',
            onclick: (e) => {
                const open = document.body.classList.toggle('nav-open');
                e.currentTarget.setAttribute('aria-expanded', String(open));
            },
        }, '☰'),
        h('a.brand', { href: '#/' }, h('span.logo', { 'aria-hidden': 'true' }, '◆'), ' Fieldplane'),
        h('div.ns-picker', nsSelect),
        h('div.spacer'),
        h('span.who', { title: `token ${who.id}` },
            h('span.role-badge', { class: `role-badge role-${who.role}` }, who.role),
            ' ', h('span.token-id', who.id || ''), who.namespace ? ` · ${who.namespace} only` : ''),
        h('button.secondary.small#signout', { type: 'button', onclick: signOut }, 'Sign out'));

    const links = ns ? [
        ['Overview', nsHref(ns)],
        ['Devices', nsHref(ns, 'devices')],
        ['Assets', nsHref(ns, 'assets')],
        ['Discovery', nsHref(ns, 'discovery')],
        ['Schemas', nsHref(ns, 'schemas')],
        ['Secrets', nsHref(ns, 'secrets')],
    ] : [];
    links.push(['Namespaces', '#/namespaces']);
    if (can('audit')) links.push(['Audit log', '#/audit']);
    clear(document.getElementById('nav'), h('ul', links.map(([label, href]) =>
        h('li', h('a', { href, dataset: { nav: href } }, label)))));
    markNav();
}

async function fillNamespaces(select, ns) {
    let names = [];
    if (session.whoami.namespace) names = [session.whoami.namespace];
    else {
        try {
            names = (await listAll('/api/v1/namespaces')).map((n) => n.name);
        } catch {
            names = ns ? [ns] : [];
        }
    }
    if (ns && !names.includes(ns)) names.unshift(ns);
    clear(select,
        names.length ? null : h('option', { value: '' }, 'No namespace'),
        names.map((n) => h('option', { value: n }, n)),
        h('option', { value: '__manage' }, 'Manage namespaces…'));
    select.value = ns || '';
}

function markNav() {
    const hash = location.hash || '#/';
    let best = null;
    for (const a of document.querySelectorAll('#nav a')) {
        a.removeAttribute('aria-current');
        const href = a.dataset.nav;
        if (hash === href || hash.startsWith(href + '/')) {
            if (!best || href.length > best.dataset.nav.length) best = a;
        }
    }
    if (best) best.setAttribute('aria-current', 'page');
}

async function signOut() {
    if (guard.dirty && !window.confirm('You have changes that are not saved. Sign out and lose them?')) return;
    guard.dirty = false;
    clearToken();
    renderFrame();
    go('#/signin');
}

// ---------------------------------------------------------------------------
// Sign-in

function signInPage(root, params) {
    const id = newId('tok');
    const remember = newId('rem');
    const msg = h('div.form-status', { 'aria-live': 'polite' });
    const input = h('input', { id, type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', name: 'token' });
    const rem = h('input', { id: remember, type: 'checkbox' });
    const form = h('form.signin.card', {
        onsubmit: async (e) => {
            e.preventDefault();
            const token = input.value.trim();
            if (!token) {
                msg.replaceChildren(banner('error', 'Paste the token that `fieldplane up` printed, or one made with `fieldplane token create`.'));
                input.focus();
                return;
            }
            saveToken(token, rem.checked);
            try {
                const { data } = await api('GET', '/api/v1/whoami', { noAuthRedirect: true });
                session.whoami = data;
                if (data.namespace) setNs(data.namespace);
                toast(`Signed in as ${data.role}`);
                renderFrame();
                go(params.next || '#/');
            } catch (err) {
                clearToken();
                msg.replaceChildren(banner('error', err.status === 401
                    ? 'This token is not known to the registry. Check that you copied all of it.'
                    : explain(err)));
                input.focus();
            }
        },
    },
    h('h1', 'Sign in'),
    h('p', 'Fieldplane\'s registry knows you by an API token. `fieldplane up` prints an admin token when it starts; an administrator can make more with ',
        h('code', 'fieldplane token create --role operator'), '.'),
    h('div.field', h('label', { for: id }, 'API token'), input),
    h('div.field.check', rem, h('label', { for: remember }, 'Remember me on this computer')),
    msg,
    h('div.actions', h('button.primary', { type: 'submit' }, 'Sign in')));
    clear(root, form);
    input.focus();
}

// ---------------------------------------------------------------------------
// Namespaces

async function namespacesPage(root) {
    const list = h('div');
    const status = h('div.form-status', { 'aria-live': 'polite' });
    clear(root, h('div.page-head', h('h1', 'Namespaces')),
        h('p.lead', 'A namespace holds devices, assets, discovered resources and schemas, for example one per plant or line.'),
        status, list);
    if (can('namespaces')) {
        const nid = newId('ns');
        const nameIn = h('input', {
            id: nid, required: true, ...nameInputAttrs('Namespace'),
            placeholder: 'plant-a', autocomplete: 'off',
        });
        nameIn.dataset.path = 'name';
        const form = h('form.card.inline-form', {
            onsubmit: async (e) => {
                e.preventDefault();
                const name = nameIn.value.trim();
                status.replaceChildren();
                try {
                    await api('PUT', `/api/v1/namespaces/${encodeURIComponent(name)}`, {
                        body: { name, properties: {} }, ifNoneMatch: '*',
                    });
                    toast(`Namespace ${name} created`);
                    setNs(name);
                    renderFrame();
                    go(nsHref(name));
                } catch (err) {
                    status.replaceChildren(banner('error', err.status === 412
                        ? `A namespace named ${name} exists already.` : explain(err, 'namespaces')));
                }
            },
        }, h('h2', 'Create a namespace'),
        h('div.row', h('div.field', h('label', { for: nid }, 'Name'), nameIn,
            h('p.help', nameHelp('Namespace'))),
        h('button.primary', { type: 'submit' }, 'Create namespace')));
        root.append(form);
    }
    try {
        const items = session.whoami.namespace
            ? [(await api('GET', `/api/v1/namespaces/${encodeURIComponent(session.whoami.namespace)}`)).data]
            : await listAll('/api/v1/namespaces');
        if (!items.length) {
            list.replaceChildren(h('div.empty', h('h2', 'No namespace yet'),
                h('p', can('namespaces') ? 'Create the first namespace below; then add a device to it.' : 'Ask an administrator to create one.')));
            return;
        }
        list.replaceChildren(h('table.data', h('caption.sr-only', 'Namespaces'),
            h('thead', h('tr', h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Created'), h('th', { scope: 'col' }, ''))),
            h('tbody', items.map((n) => h('tr',
                h('th', { scope: 'row' }, h('a', { href: nsHref(n.name), onclick: () => setNs(n.name) }, n.name)),
                h('td', timeEl(n.systemData && n.systemData.createdAt)),
                h('td', n.name === currentNs() ? h('span.badge.ok', 'current') : h('button.secondary.small', {
                    type: 'button', onclick: () => { setNs(n.name); renderFrame(); go(nsHref(n.name)); },
                }, `Switch to ${n.name}`)))))));
    } catch (err) {
        list.replaceChildren(banner('error', explain(err)));
    }
}

// ---------------------------------------------------------------------------
// Overview of a namespace, with the empty state of a new install.

async function overviewPage(root, { ns }) {
    clear(root, h('div.page-head', h('h1', `Namespace ${ns}`)), h('p.muted', 'Loading…'));
    try {
        const [dev, ast, dd, da] = await Promise.all([
            listPage(`/api/v1/namespaces/${encodeURIComponent(ns)}/devices`, { top: 1000 }),
            listPage(`/api/v1/namespaces/${encodeURIComponent(ns)}/assets`, { top: 1000 }),
            listPage(`/api/v1/namespaces/${encodeURIComponent(ns)}/discoveredDevices`, { top: 1000 }).catch(() => ({ items: [] })),
            listPage(`/api/v1/namespaces/${encodeURIComponent(ns)}/discoveredAssets`, { top: 1000 }).catch(() => ({ items: [] })),
        ]);
        const count = (p) => `${p.items.length}${p.nextLink ? '+' : ''}`;
        const errs = (items) => items.filter((x) => problems(x).length).length;
        root.replaceChildren(h('div.page-head', h('h1', `Namespace ${ns}`)));
        if (!dev.items.length) {
            root.append(h('section.empty.hero',
                h('h2', 'Start by adding a device'),
                h('p', 'A device is a server or controller Fieldplane connects to: an OPC UA server, a camera, a REST or MQTT endpoint. Then describe the assets behind it and the data to collect.'),
                can('write') ? h('a.button.primary', { href: nsHref(ns, 'devices', 'new') }, 'Add a device')
                    : h('p.muted', 'Your token can only view. Ask an operator to add devices.'),
                (dd.items.length || da.items.length) ? h('p', 'Or onboard one of the ',
                    h('a', { href: nsHref(ns, 'discovery') }, `${dd.items.length + da.items.length} discovered resources`), '.') : null));
            return;
        }
        root.append(h('div.tiles',
            tile('Devices', count(dev), errs(dev.items), nsHref(ns, 'devices')),
            tile('Assets', count(ast), errs(ast.items), nsHref(ns, 'assets')),
            tile('Discovered', String(dd.items.length + da.items.length), 0, nsHref(ns, 'discovery'))));
        // What is failing now, newest first, with the reason: what an operator looks for.
        const failing = [];
        for (const [kind, list] of [['devices', dev.items], ['assets', ast.items]]) {
            for (const x of list) for (const p of problems(x)) failing.push({ kind, name: x.name, p });
        }
        failing.sort((a, b) => String(b.p.time).localeCompare(String(a.p.time)));
        if (failing.length) {
            root.append(h('section.card.failing', h('h2', 'Failing now'),
                h('ul.errors', failing.slice(0, 20).map(({ kind, name, p }) => h('li',
                    h('a', { href: nsHref(ns, kind, name) }, name), ' · ', problemText(p),
                    p.time ? [' · ', timeEl(p.time)] : null))),
                failing.length > 20 ? h('p.muted', `and ${failing.length - 20} more`) : null));
        }
        if (!ast.items.length && can('write')) {
            root.append(h('section.empty', h('h2', 'No assets yet'),
                h('p', 'An asset is the machine behind a device endpoint, with the datasets and events to collect.'),
                h('a.button.primary', { href: nsHref(ns, 'assets', 'new') }, 'Add an asset')));
        }
    } catch (err) {
        root.append(banner('error', err.status === 404 ? `There is no namespace ${ns}.` : explain(err)));
    }
}

function tile(label, n, errors, href) {
    return h('a.tile', { href }, h('span.tile-n', n), h('span.tile-label', label),
        errors ? h('span.badge.error', `${errors} failing`) : null);
}

// What is wrong with a resource now, from the status its connector wrote: every error
// (with the data points an error names in its details) and every health that is
// Unavailable, each with where it is ("Endpoint opcua", "Dataset telemetry / Data point
// temperature"), its message and code and when it was reported; newest first.
const STATUS_NOUN = {
    inbound: 'Endpoint', outbound: 'Endpoint', datasets: 'Dataset', eventGroups: 'Event group',
    events: 'Event', streams: 'Stream', managementGroups: 'Management group', actions: 'Action',
    config: 'Configuration',
};
export function problems(doc) {
    const st = doc && doc.properties && doc.properties.status;
    const out = [];
    const walk = (o, where) => {
        if (!o || typeof o !== 'object') return;
        const e = o.error;
        const hl = o.health || o.runtimeHealth;
        const when = (hl && hl.lastUpdateTime) || o.lastTransitionTime || '';
        if (e && (e.code || e.message)) {
            const details = Array.isArray(e.details) ? e.details.filter((d) => d && (d.code || d.message)) : [];
            if (details.length) {
                for (const d of details) {
                    out.push({ where: [...where, d.target ? `Data point ${d.target}` : null].filter(Boolean), kind: 'error', code: d.code, message: d.message || d.code, time: when });
                }
            } else {
                out.push({ where, kind: 'error', code: e.code, message: e.message || e.code, time: when });
            }
        }
        if (hl && hl.status === 'Unavailable') {
            out.push({ where, kind: 'unavailable', code: hl.reasonCode, message: hl.message || 'Unavailable', time: hl.lastUpdateTime || '' });
        }
        for (const [k, v] of Object.entries(o)) {
            if (k === 'error' || k === 'health' || k === 'runtimeHealth' || !v || typeof v !== 'object') continue;
            if (Array.isArray(v)) v.forEach((x) => walk(x, [...where, `${STATUS_NOUN[k] || k} ${(x && x.name) || ''}`.trim()]));
            else if (k === 'inbound' || k === 'outbound') for (const [n, x] of Object.entries(v)) walk(x, [...where, `${STATUS_NOUN[k]} ${n}`]);
            else walk(v, STATUS_NOUN[k] ? [...where, STATUS_NOUN[k]] : where);
        }
    };
    walk(st, []);
    out.sort((a, b) => String(b.time).localeCompare(String(a.time)));
    return out.map((p) => ({ ...p, where: p.where.join(' / ') || 'Resource' }));
}

// A problem as one line: "Endpoint opcua: Connection refused (BadCommunicationError)".
export function problemText(p) {
    return `${p.where}: ${p.message}${p.code && p.code !== p.message ? ` (${p.code})` : ''}`;
}

// Any error anywhere in a status object.
export function hasError(doc) {
    const st = doc && doc.properties && doc.properties.status;
    if (!st) return false;
    let found = false;
    const walk = (o) => {
        if (found || !o || typeof o !== 'object') return;
        if (o.error && (o.error.code || o.error.message)) found = true;
        for (const v of Object.values(o)) walk(v);
    };
    walk(st);
    return found;
}

// ---------------------------------------------------------------------------
// Routing

const routes = [
    [/^#\/signin$/, signInPage, true],
    [/^#\/namespaces$/, namespacesPage],
    [/^#\/audit$/, auditPage],
    [/^#\/ns\/([^/]+)$/, overviewPage, false, ['ns']],
    [/^#\/ns\/([^/]+)\/devices$/, devicesPage, false, ['ns']],
    [/^#\/ns\/([^/]+)\/devices\/new$/, deviceEditPage, false, ['ns'], { create: true }],
    [/^#\/ns\/([^/]+)\/devices\/([^/]+)$/, deviceEditPage, false, ['ns', 'name']],
    [/^#\/ns\/([^/]+)\/assets$/, assetsPage, false, ['ns']],
    [/^#\/ns\/([^/]+)\/assets\/new$/, assetEditPage, false, ['ns'], { create: true }],
    [/^#\/ns\/([^/]+)\/assets\/([^/]+)$/, assetEditPage, false, ['ns', 'name']],
    [/^#\/ns\/([^/]+)\/discovery$/, discoveryPage, false, ['ns']],
    [/^#\/ns\/([^/]+)\/schemas$/, schemasPage, false, ['ns']],
    [/^#\/ns\/([^/]+)\/schemas\/([^/]+)$/, schemaPage, false, ['ns', 'name']],
    [/^#\/ns\/([^/]+)\/secrets$/, secretsPage, false, ['ns']],
];

async function route() {
    if (restoring) {
        restoring = false;
        return;
    }
    if (guard.dirty && lastHash !== null && location.hash !== lastHash) {
        if (!window.confirm('You have changes that are not saved. Leave this page and lose them?')) {
            restoring = true;
            location.replace(lastHash);
            return;
        }
    }
    guard.dirty = false;
    lastHash = location.hash;
    if (cleanup) {
        try {
            cleanup();
        } catch { /* a page's cleanup must not stop navigation */ }
        cleanup = null;
    }
    document.body.classList.remove('nav-open');
    const full = location.hash || '#/';
    const [hash, qs] = full.split('?');
    const query = Object.fromEntries(new URLSearchParams(qs || ''));
    if (!session.token && hash !== '#/signin') {
        location.replace(`#/signin`);
        return;
    }
    if (session.token && !session.whoami) {
        try {
            session.whoami = (await api('GET', '/api/v1/whoami', { noAuthRedirect: true })).data;
        } catch (err) {
            if (err.status === 401) {
                clearToken();
                location.replace('#/signin');
                return;
            }
            renderFrame();
            clear(main(), banner('error', explain(err)));
            return;
        }
        renderFrame();
    }
    if (hash === '#/' || hash === '#') {
        const ns = (session.whoami && session.whoami.namespace) || currentNs();
        if (ns) location.replace(nsHref(ns));
        else {
            try {
                const first = await listPage('/api/v1/namespaces', { top: 1 });
                if (first.items.length) {
                    setNs(first.items[0].name);
                    renderFrame();
                    location.replace(nsHref(first.items[0].name));
                    return;
                }
            } catch { /* the namespaces page explains */ }
            location.replace('#/namespaces');
        }
        return;
    }
    for (const [re, page, open, names = [], extra = {}] of routes) {
        const m = re.exec(hash);
        if (!m) continue;
        if (!open && !session.token) break;
        const params = { ...query, ...extra };
        names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
        if (params.ns && params.ns !== currentNs()) {
            setNs(params.ns);
            renderFrame();
        }
        markNav();
        // Each visit renders into its own element, so a slow page that
        // finishes after the user moved on writes into a detached node.
        const root = h('div.page');
        clear(main(), root);
        root.setAttribute('aria-busy', 'true');
        try {
            const c = await page(root, params);
            if (typeof c === 'function') cleanup = c;
        } catch (err) {
            root.append(banner('error', explain(err)));
        } finally {
            root.removeAttribute('aria-busy');
        }
        if (!root.isConnected) return;
        const h1 = root.querySelector('h1');
        if (h1 && !root.contains(document.activeElement)) {
            h1.tabIndex = -1;
            h1.focus({ preventScroll: true });
        }
        document.title = `${h1 ? h1.textContent + ' · ' : ''}Fieldplane`;
        return;
    }
    clear(main(), h('h1', 'Not found'), h('p', 'There is no such page. ', h('a', { href: '#/' }, 'Go to the start.')));
}

session.onUnauthorized = () => {
    clearToken();
    renderFrame();
    const next = location.hash;
    location.replace(`#/signin${next && next !== '#/signin' ? '?next=' + encodeURIComponent(next) : ''}`);
};

window.addEventListener('hashchange', route);
loadToken();
renderFrame();
route();
