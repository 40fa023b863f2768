// editor.js - saving a resource document from a form: If-None-Match on create,
// If-Match with the ETag it was read with on edit, and every kind of refusal
// explained where the user looks (field errors next to the field, a 412 as a
// choice between reloading and keeping the edits, a 403 kindly).

import { api } from './api.js';
import { h, banner, clearFieldErrors, showFieldError, explain, dialog, toast } from './dom.js';
import { validateForm } from './form.js';
import { guard } from './app.js';

// Remove what the server sets, and list entries removed in the form.
export function cleanDoc(doc) {
    const out = JSON.parse(JSON.stringify(doc, (k, v) => (v === undefined ? undefined : v)));
    const compact = (o) => {
        if (Array.isArray(o)) {
            for (let i = o.length - 1; i >= 0; i--) if (o[i] === null || o[i] === undefined) o.splice(i, 1);
            o.forEach(compact);
        } else if (o && typeof o === 'object') Object.values(o).forEach(compact);
    };
    compact(out.properties);
    if (out.properties) delete out.properties.status;
    return out;
}

// state: {root (form element), statusBox, url, doc, etag, create, what,
// onReload()}. Answers the saved {data, etag} or null when it did not save.
export async function saveResource(state) {
    const { root, statusBox } = state;
    statusBox.replaceChildren();
    clearFieldErrors(root);
    if (!validateForm(root)) {
        statusBox.replaceChildren(banner('error', 'Some fields need attention; they are marked below.'));
        const bad = root.querySelector('[aria-invalid="true"]');
        if (bad) bad.focus();
        return null;
    }
    const body = cleanDoc(state.doc);
    try {
        const res = await api('PUT', state.url, {
            body,
            ifMatch: state.create ? undefined : state.etag || '*',
            ifNoneMatch: state.create ? '*' : undefined,
        });
        guard.dirty = false;
        const noun = state.kindNoun || 'resource';
        toast(`${noun[0].toUpperCase() + noun.slice(1)} ${state.doc.name || ''} saved`);
        return res;
    } catch (err) {
        reportError(state, err);
        return null;
    }
}

export function reportError(state, err) {
    const { root, statusBox } = state;
    if (err.status === 412 && state.create) {
        statusBox.replaceChildren(banner('error', `A ${state.kindNoun || 'resource'} with this name exists already. Choose another name, or open the existing one.`));
        showFieldError(root, 'name', 'This name is taken.');
        return;
    }
    if (err.status === 412) {
        statusBox.replaceChildren(banner('error', explain(err, state.what),
            ' ', h('button.secondary.small', { type: 'button', onclick: () => state.onReload && state.onReload() },
                'Load their version (discards my changes)')));
        dialog('Changed by someone else',
            h('div', h('p', explain(err, state.what)),
                h('p', 'You can load the current version and redo your edits, or stay here to copy what you changed first.')),
            [{ label: 'Stay here', value: 'stay' }, { label: 'Load the current version', value: 'reload', kind: 'primary' }])
            .then((v) => { if (v === 'reload' && state.onReload) state.onReload(); });
        return;
    }
    const parts = [explain(err, state.what)];
    let el = null;
    if (err.status === 400 && err.target) {
        el = showFieldError(root, err.target, err.message);
        parts.length = 0;
        parts.push(`The registry did not accept the ${state.kindNoun || 'document'}: ${err.message}`);
        if (!el) parts.push(h('span.muted', ` (field ${err.target})`));
    }
    if (err.status === 409 && err.details.length) {
        parts.push(h('ul', err.details.map((d) => h('li', detailText(d)))));
    }
    statusBox.replaceChildren(banner('error', ...parts));
    if (!el) statusBox.scrollIntoView({ block: 'nearest' });
}

export function detailText(d) {
    if (typeof d === 'string') return d;
    if (!d || typeof d !== 'object') return String(d);
    return d.name || d.message || d.target || JSON.stringify(d);
}

// A page head with the actions of an editor.
export function editorHead(title, subtitle, ...actions) {
    return h('div.page-head', h('div', h('h1', title), subtitle ? h('p.muted.subtitle', subtitle) : null),
        h('div.actions', ...actions));
}
