// dom.js - small helpers every page uses: building elements, dialogs, notices,
// JSON paths into a document, and showing an API error next to its field.

import { session } from './api.js';

// h('tag.class#id', {attrs, on*: handler}, ...children). Children may be
// strings, nodes, arrays, null or false (skipped).
export function h(spec, attrs, ...children) {
    const m = /^([a-z0-9-]+)?((?:[.#][^.#]+)*)$/i.exec(spec);
    const el = document.createElement((m && m[1]) || 'div');
    if (m && m[2]) {
        for (const part of m[2].match(/[.#][^.#]+/g)) {
            if (part[0] === '.') el.classList.add(part.slice(1));
            else el.id = part.slice(1);
        }
    }
    if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
        children.unshift(attrs);
        attrs = null;
    }
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'value') el.value = v;
        else if (k === 'checked') el.checked = !!v;
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else el.setAttribute(k, v === true ? '' : v);
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children) {
        if (c === null || c === undefined || c === false) continue;
        if (Array.isArray(c)) append(el, c);
        else el.append(c instanceof Node ? c : String(c));
    }
}

export function clear(el, ...children) {
    el.replaceChildren();
    append(el, children);
    return el;
}

let uid = 0;
export function newId(prefix = 'f') {
    uid += 1;
    return `${prefix}-${uid}`;
}

export function fmtTime(s) {
    if (!s) return '';
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) return String(s);
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function timeEl(s) {
    return s ? h('time', { datetime: s, title: s }, fmtTime(s)) : h('span.muted', '—');
}

// ---------------------------------------------------------------------------
// Notices

export function toast(message, kind = 'ok') {
    const box = document.getElementById('toasts');
    const t = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, message);
    box.append(t);
    setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

// A banner at the top of a page section; kind: info | warn | error.
export function banner(kind, ...content) {
    return h(`div.banner.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, ...content);
}

// A modal dialog. buttons: [{label, value, kind}]; answers the chosen value
// (or null on Escape). body may be a node or text.
export function dialog(title, body, buttons) {
    return new Promise((resolve) => {
        const titleId = newId('dlg');
        const d = h('dialog.modal', { 'aria-labelledby': titleId });
        const form = h('form', { method: 'dialog' },
            h('h2', { id: titleId }, title),
            h('div.dialog-body', body),
            h('div.actions', buttons.map((b) =>
                h(`button.${b.kind || 'secondary'}`, { value: b.value, type: 'submit' }, b.label))));
        d.append(form);
        d.addEventListener('close', () => {
            d.remove();
            resolve(d.returnValue && d.returnValue !== 'cancel' ? d.returnValue : null);
        });
        document.body.append(d);
        d.showModal();
    });
}

export async function confirmDialog(title, text, okLabel = 'OK', kind = 'primary') {
    const v = await dialog(title, h('p', text), [
        { label: 'Cancel', value: 'cancel' },
        { label: okLabel, value: 'ok', kind },
    ]);
    return v === 'ok';
}

// ---------------------------------------------------------------------------
// JSON paths like "properties.datasets[2].dataPoints[0].dataSource"

export function parsePath(path) {
    const out = [];
    for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
    return out;
}

export function getPath(obj, path) {
    let cur = obj;
    for (const k of parsePath(path)) {
        if (cur === null || cur === undefined) return undefined;
        cur = cur[k];
    }
    return cur;
}

// Set a value; undefined or '' deletes the key. Creates objects on the way.
export function setPath(obj, path, value) {
    const keys = parsePath(path);
    let cur = obj;
    for (let i = 0; i < keys.length - 1; i++) {
        const k = keys[i];
        if (cur[k] === null || typeof cur[k] !== 'object') cur[k] = typeof keys[i + 1] === 'number' ? [] : {};
        cur = cur[k];
    }
    const last = keys[keys.length - 1];
    if (value === undefined || value === '') {
        if (Array.isArray(cur)) cur[last] = undefined;
        else delete cur[last];
    } else cur[last] = value;
}

// ---------------------------------------------------------------------------
// Showing an API error next to the field its target names.

export function clearFieldErrors(root) {
    for (const e of root.querySelectorAll('.field-error')) e.remove();
    for (const e of root.querySelectorAll('[aria-invalid="true"]')) {
        e.removeAttribute('aria-invalid');
        e.removeAttribute('aria-errormessage');
    }
}

// Find the element bound (data-path) to target, or to the nearest enclosing
// path (a field inside a list), or failing that to the first field inside the
// target (a whole list or object).
export function findFieldFor(root, target) {
    if (!target) return null;
    const els = [...root.querySelectorAll('[data-path]')];
    let best = null;
    let bestLen = -1;
    for (const el of els) {
        const p = el.dataset.path;
        if (p === target) return el;
        if ((target.startsWith(p + '.') || target.startsWith(p + '[')) && p.length > bestLen) {
            best = el;
            bestLen = p.length;
        }
    }
    if (best) return best;
    return els.find((el) => el.dataset.path.startsWith(target + '.') || el.dataset.path.startsWith(target + '[')) || null;
}

// Put message next to the field for target; open collapsed sections around
// it, focus it. Answers the element or null when no field matches.
export function showFieldError(root, target, message) {
    const el = findFieldFor(root, target);
    if (!el) return null;
    for (let p = el.parentElement; p && p !== root; p = p.parentElement) {
        if (p.tagName === 'DETAILS') p.open = true;
        if (p.hidden && p.dataset.tabpanel) p.dispatchEvent(new CustomEvent('reveal', { bubbles: true }));
    }
    const id = newId('err');
    const msg = h('p.field-error', { id, role: 'alert' }, message);
    msg.dataset.target = target;
    const anchor = el.closest('td, .field') || el;
    if (anchor.tagName === 'TD') anchor.append(msg);
    else anchor.after(msg);
    if (el.matches('input, select, textarea, button')) {
        el.setAttribute('aria-invalid', 'true');
        el.setAttribute('aria-errormessage', id);
        el.focus({ preventScroll: true });
    }
    el.scrollIntoView({ block: 'center' });
    return el;
}

// Describe an API error for a person (the sentence under a form or in a banner).
export function explain(err, what = 'this') {
    if (!err) return '';
    switch (err.status) {
    case 0:
        return err.message;
    case 403: {
        const who = session.whoami || {};
        const scope = who.namespace ? `, limited to namespace ${who.namespace}` : '';
        const hint = who.namespace
            ? `Work in namespace ${who.namespace}, or ask an administrator for a token without that limit.`
            : who.role === 'operator'
                ? 'This needs an admin token.'
                : 'An administrator can give you one that may: fieldplane token create --role operator.';
        return `Your token (role ${who.role || 'unknown'}${scope}) is not allowed to do this${what === 'this' ? '' : ` with ${what}`}. ${hint}`;
    }
    case 404:
        return `${what[0].toUpperCase() + what.slice(1)} no longer exists (someone may have deleted it).`;
    case 412:
        return `Someone else changed ${what} since you opened it. Your changes were not saved, so nothing of theirs was overwritten.`;
    case 413:
        return 'The document is too large for the registry (see --max-body).';
    default:
        return err.message;
    }
}
