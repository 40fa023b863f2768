// live.js - the latest message of each dataset and event of an asset, as it
// arrives. The registry subscribes to the asset's topics and streams the
// messages as server-sent events from
//   GET /api/v1/namespaces/{ns}/assets/{name}/live
// first an "event: topics" naming the topics it watches and whether the broker
// is connected, then each message as a "data:" line holding a JSON object
// {topic, source, payload, receivedAt}. The stream is
// read with fetch (so the token goes in the Authorization header, and a 403 or
// 404 can be told apart from a dropped connection) and reopened with back-off.

import { session, nsPath } from './api.js';
import { h, clear, timeEl } from './dom.js';

// Topics of the asset's datasets and events, to name each message.
function topicMap(doc) {
    const p = doc.properties || {};
    const map = new Map();
    const topicsOf = (dests) => (dests || []).filter((d) => d && (d.target || 'Mqtt') === 'Mqtt' && d.configuration && d.configuration.topic).map((d) => d.configuration.topic);
    for (const ds of p.datasets || []) {
        for (const t of topicsOf(ds.destinations && ds.destinations.length ? ds.destinations : p.defaultDatasetsDestinations)) map.set(t, ['Dataset', ds.name]);
    }
    for (const g of p.eventGroups || []) {
        for (const ev of g.events || []) {
            const d = ev.destinations && ev.destinations.length ? ev.destinations : g.defaultDestinations && g.defaultDestinations.length ? g.defaultDestinations : p.defaultEventsDestinations;
            for (const t of topicsOf(d)) map.set(t, ['Event', `${g.name} / ${ev.name}`]);
        }
    }
    for (const s of p.streams || []) {
        for (const t of topicsOf(s.destinations && s.destinations.length ? s.destinations : p.defaultStreamsDestinations)) map.set(t, ['Stream', s.name]);
    }
    return map;
}

function valueView(payload) {
    if (payload && typeof payload === 'object' && !Array.isArray(payload)) {
        const entries = Object.entries(payload);
        const isDataset = entries.length && entries.every(([, v]) => v && typeof v === 'object' && 'Value' in v);
        if (isDataset) {
            return h('table.data.compact', h('thead', h('tr', h('th', { scope: 'col' }, 'Data point'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, 'Source time'))),
                h('tbody', entries.map(([k, v]) => h('tr', { dataset: { point: k } }, h('th', { scope: 'row' }, k),
                    h('td.value', typeof v.Value === 'object' ? JSON.stringify(v.Value) : String(v.Value)),
                    h('td', timeEl(v.SourceTimestamp))))));
        }
    }
    return h('pre.payload', typeof payload === 'string' ? payload : JSON.stringify(payload, null, 2));
}

// Fill el with the live view of asset doc in namespace ns; answers stop().
export function livePanel(el, ns, doc) {
    const topics = topicMap(doc);
    const state = h('p.live-state', { role: 'status' }, 'Connecting…');
    const cards = h('div.live-cards');
    const cardFor = new Map();
    let count = 0;
    const counter = h('span.muted');
    clear(el, h('section.card', h('div.live-head', h('h2', 'Live data'), state, counter),
        h('p.muted', 'The latest message of each dataset and event, as the broker delivers it.'),
        cards));
    const placeholder = (label, name) => {
        const c = h('article.live-card.waiting', { 'aria-live': 'polite' }, h('h3', `${label} ${name}`), h('p.muted', 'Waiting for the first message…'));
        cards.append(c);
        return c;
    };
    for (const [topic, [label, name]] of topics) cardFor.set(topic, placeholder(label, name));
    if (!topics.size) cards.append(h('p.muted', 'This asset has no MQTT destination; messages on any of its topics are shown as they come.'));

    // "dataset/<name>", "event/<group>/<name>", "stream/<name>" as a card title.
    const fromSource = (source) => {
        const [kind, ...rest] = String(source || '').split('/');
        const label = { dataset: 'Dataset', event: 'Event', eventGroup: 'Event group', stream: 'Stream', action: 'Action' }[kind];
        return label && rest.length ? [label, rest.join(' / ')] : null;
    };
    const onTopics = (m) => {
        for (const t of m.topics || []) {
            const named = fromSource(t.source);
            if (named && !topics.has(t.topic)) topics.set(t.topic, named);
            if (!cardFor.has(t.topic)) {
                const [label, name] = topics.get(t.topic) || ['Topic', t.topic];
                cardFor.set(t.topic, placeholder(label, name));
            }
        }
        if (m.brokerConnected === false) {
            state.textContent = 'Connected to the registry; the registry is not connected to the broker yet.';
            state.className = 'live-state warn';
        }
    };
    const show = (msg) => {
        if (!msg || typeof msg.topic !== 'string') return;
        count++;
        counter.textContent = `${count} message${count === 1 ? '' : 's'} received`;
        if (state.classList.contains('warn')) {
            state.textContent = 'Live';
            state.className = 'live-state ok';
        }
        const [label, name] = topics.get(msg.topic) || fromSource(msg.source) || ['Topic', msg.topic];
        let c = cardFor.get(msg.topic);
        if (!c) {
            c = h('article.live-card', { 'aria-live': 'polite' });
            cardFor.set(msg.topic, c);
            cards.append(c);
        }
        c.classList.remove('waiting');
        c.classList.add('fresh');
        setTimeout(() => c.classList.remove('fresh'), 800);
        clear(c, h('h3', `${label} ${name}`),
            h('p.muted', h('code', msg.topic), ' · received ', timeEl(msg.receivedAt || new Date().toISOString())),
            valueView(msg.payload));
    };

    const ctrl = new AbortController();
    let retry = 1000;
    let stopped = false;
    const url = nsPath(ns, 'assets', doc.name) + '/live';
    const run = async () => {
        while (!stopped) {
            try {
                const res = await fetch(url, {
                    headers: { Authorization: `Bearer ${session.token}`, Accept: 'text/event-stream' },
                    signal: ctrl.signal, cache: 'no-store',
                });
                if (res.status === 404 || res.status === 501 || res.status === 503) {
                    let why = '';
                    try { why = (await res.json()).error.message; } catch { /* no JSON body */ }
                    state.textContent = `Live data is not available: ${why || 'the registry needs a broker (fieldplane registry --broker mqtt://HOST:PORT).'}`;
                    state.className = 'live-state warn';
                    return;
                }
                if (res.status === 401 || res.status === 403) {
                    state.textContent = 'Your token may not read live data.';
                    state.className = 'live-state warn';
                    return;
                }
                if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
                state.textContent = 'Live';
                state.className = 'live-state ok';
                retry = 1000;
                const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
                let buf = '';
                for (;;) {
                    const { value, done } = await reader.read();
                    if (done) break;
                    buf += value;
                    let idx;
                    while ((idx = buf.search(/\r?\n\r?\n/)) >= 0) {
                        const block = buf.slice(0, idx);
                        buf = buf.slice(idx + (buf[idx] === '\r' ? 4 : 2));
                        const lines = block.split(/\r?\n/);
                        const ev = (lines.find((l) => l.startsWith('event:')) || '').slice(6).trim();
                        const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
                        if (!data) continue;
                        let m;
                        try {
                            m = JSON.parse(data);
                        } catch {
                            continue; /* a line that is not JSON is not a message */
                        }
                        if (ev === 'topics' || (m && m.type === 'topics')) onTopics(m);
                        else show(m);
                    }
                }
                if (stopped) return;
                throw new Error('closed');
            } catch (err) {
                if (stopped || err.name === 'AbortError') return;
                state.textContent = `Disconnected; retrying in ${Math.round(retry / 1000)} s…`;
                state.className = 'live-state warn';
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
