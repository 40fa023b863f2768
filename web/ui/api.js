// api.js - the registry REST API as the UI uses it (docs/api.md).
//
// One function, api(), sends a request with the signed-in token, sends
// If-Match / If-None-Match when asked, and turns an error answer into an
// ApiError that carries the ARM error (code, message, target, details) so that
// forms can show it next to the field it names.

const TOKEN_KEY = 'fieldplane.token';

export const session = {
    token: null,
    whoami: null, // {id, role, namespace}
    onUnauthorized: null, // set by the app: called on a 401
};

// The token lives in sessionStorage (gone when the tab closes) unless the user
// asked to be remembered on this computer (localStorage).
export function loadToken() {
    session.token = sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY);
    return session.token;
}

export function saveToken(token, remember) {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
    (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, token);
    session.token = token;
}

export function clearToken() {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
    session.token = null;
    session.whoami = null;
}

export class ApiError extends Error {
    constructor(status, body, fallback) {
        const e = (body && body.error) || {};
        super(e.message || fallback || `HTTP ${status}`);
        this.status = status;
        this.code = e.code || '';
        this.target = e.target || '';
        this.details = Array.isArray(e.details) ? e.details : [];
        this.body = body;
    }
}

// A path segment of a URL: names may hold characters that need escaping.
export function seg(s) {
    return encodeURIComponent(s);
}

export function nsPath(ns, ...rest) {
    return ['/api/v1/namespaces', seg(ns), ...rest.map(seg)].join('/');
}

// Send a request. opts: body (object, sent as JSON), ifMatch (an ETag or "*"),
// ifNoneMatch, query (object of parameters; arrays repeat), signal.
// Answers {status, data, etag}; throws ApiError on a status >= 400 and on a
// network failure (status 0).
export async function api(method, path, opts = {}) {
    let url = path;
    if (opts.query) {
        const q = new URLSearchParams();
        for (const [k, v] of Object.entries(opts.query)) {
            if (v === undefined || v === null || v === '') continue;
            for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
        }
        const s = q.toString();
        if (s) url += (url.includes('?') ? '&' : '?') + s;
    }
    const headers = { Accept: 'application/json' };
    const sentToken = session.token;
    if (sentToken) headers.Authorization = `Bearer ${sentToken}`;
    if (opts.ifMatch) headers['If-Match'] = opts.ifMatch;
    if (opts.ifNoneMatch) headers['If-None-Match'] = opts.ifNoneMatch;
    let body;
    if (opts.body !== undefined) {
        headers['Content-Type'] = 'application/json';
        body = JSON.stringify(opts.body);
    }
    let res;
    try {
        res = await fetch(url, { method, headers, body, signal: opts.signal, cache: 'no-store' });
    } catch (err) {
        if (err.name === 'AbortError') throw err;
        throw new ApiError(0, null, 'The registry cannot be reached. Check that it is running.');
    }
    let data = null;
    const text = await res.text();
    if (text) {
        try {
            data = JSON.parse(text);
        } catch {
            data = text;
        }
    }
    if (res.status >= 400) {
        const err = new ApiError(res.status, data, typeof data === 'string' ? data : null);
        // Only a refusal of the token still in use sends the user to sign in: a
        // page left behind at sign-out (or before a new sign-in) must not carry
        // the new session off to where the old one was.
        if (res.status === 401 && session.onUnauthorized && !opts.noAuthRedirect
            && sentToken && sentToken === session.token)
            session.onUnauthorized(err);
        throw err;
    }
    const etag = res.headers.get('ETag') || (data && data.etag) || null;
    return { status: res.status, data, etag };
}

// One page of a list. `path` is a collection path or a nextLink.
export async function listPage(path, query) {
    const { data } = await api('GET', path, { query });
    return {
        items: (data && data.value) || [],
        nextLink: (data && data.nextLink) || null,
        revision: data && data.revision,
    };
}

// All pages of a list, up to max items (for pickers and cross-references).
export async function listAll(path, query, max = 5000) {
    let page = await listPage(path, { top: 1000, ...query });
    const items = page.items;
    while (page.nextLink && items.length < max) {
        page = await listPage(page.nextLink);
        items.push(...page.items);
    }
    return items;
}

// What the signed-in role may do. The server decides; this only hides
// controls that would answer 403.
export function can(action) {
    const role = session.whoami && session.whoami.role;
    switch (action) {
    case 'write':
        return role === 'admin' || role === 'operator';
    case 'secrets':
        return role === 'admin' || role === 'operator';
    case 'namespaces':
        return (role === 'admin' || role === 'operator') && !session.whoami.namespace;
    case 'audit':
        return role === 'admin' || role === 'operator' || role === 'viewer';
    default:
        return false;
    }
}

// Follow the watch stream (docs/api.md "Watch"): query {namespace, kinds};
// onEvent(event) for each ADDED / MODIFIED / DELETED line. Reconnects with
// back-off from the last revision seen; after a 410 it starts again from now.
// Answers stop().
export function watch(query, onEvent) {
    const ctrl = new AbortController();
    let stopped = false;
    let since = null;
    let retry = 1000;
    const run = async () => {
        while (!stopped) {
            try {
                const q = new URLSearchParams();
                for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);
                if (since !== null) q.set('since', String(since));
                const res = await fetch(`/api/v1/watch?${q}`, {
                    headers: { Authorization: `Bearer ${session.token}`, Accept: 'application/x-ndjson' },
                    signal: ctrl.signal, cache: 'no-store',
                });
                if (res.status === 410) {
                    since = null;
                    continue;
                }
                if (res.status === 401 || res.status === 403) return;
                if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
                retry = 1000;
                const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
                let buf = '';
                for (;;) {
                    const { value, done } = await reader.read();
                    if (done) break;
                    buf += value;
                    let nl;
                    while ((nl = buf.indexOf('\n')) >= 0) {
                        const line = buf.slice(0, nl).trim();
                        buf = buf.slice(nl + 1);
                        if (!line) continue;
                        let ev;
                        try {
                            ev = JSON.parse(line);
                        } catch {
                            continue;
                        }
                        if (typeof ev.revision === 'number') since = ev.revision;
                        if (ev.type !== 'BOOKMARK') onEvent(ev);
                    }
                }
                if (stopped) return;
                throw new Error('closed');
            } catch (err) {
                if (stopped || err.name === 'AbortError') return;
                await new Promise((r) => setTimeout(r, retry));
                retry = Math.min(retry * 2, 30000);
            }
        }
    };
    run();
    return () => {
        stopped = true;
        ctrl.abort();
    };
}
