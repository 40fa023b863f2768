// points.js - the data points of a dataset as an editable table: add, remove,
// select and remove many, paste rows from a spreadsheet, import a CSV file,
// and each point's configuration: a column per numeric data point key of the
// connector that serves the endpoint (its rows, from connectors.js; for OPC UA
// samplingInterval and queueSize), else the configuration JSON.

import { h, newId, getPath, setPath, dialog, toast } from './dom.js';

// Parse CSV (RFC 4180 quoting) or tab-separated text into rows of cells.
export function parseDelimited(text) {
    const firstLine = text.split(/\r?\n/, 1)[0] || '';
    const sep = firstLine.includes('\t') ? '\t' : firstLine.includes(';') && !firstLine.includes(',') ? ';' : ',';
    const rows = [];
    let row = [];
    let cell = '';
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (quoted) {
            if (c === '"' && text[i + 1] === '"') {
                cell += '"';
                i++;
            } else if (c === '"') quoted = false;
            else cell += c;
        } else if (c === '"' && cell === '') quoted = true;
        else if (c === sep) {
            row.push(cell);
            cell = '';
        } else if (c === '\n' || c === '\r') {
            if (c === '\r' && text[i + 1] === '\n') i++;
            row.push(cell);
            rows.push(row);
            row = [];
            cell = '';
        } else cell += c;
    }
    if (cell !== '' || row.length) {
        row.push(cell);
        rows.push(row);
    }
    return rows.filter((r) => r.some((c) => c.trim() !== ''));
}

const COLUMN_ALIASES = {
    name: 'name', datapoint: 'name', tag: 'name', tagname: 'name',
    datasource: 'dataSource', nodeid: 'dataSource', source: 'dataSource', address: 'dataSource',
    samplinginterval: 'samplingInterval', samplingintervalms: 'samplingInterval', sampling: 'samplingInterval',
    queuesize: 'queueSize', queue: 'queueSize',
    typeref: 'typeRef', type: 'typeRef',
    configuration: 'dataPointConfiguration', datapointconfiguration: 'dataPointConfiguration',
};

// Rows of cells to data points. A first row naming the columns (name,
// dataSource, samplingInterval, queueSize, typeRef, dataPointConfiguration) is
// used as the header; otherwise the columns are in that order.
export function rowsToPoints(rows) {
    if (!rows.length) return { points: [], problems: [] };
    let cols = ['name', 'dataSource', 'samplingInterval', 'queueSize', 'typeRef'];
    const head = rows[0].map((c) => COLUMN_ALIASES[c.trim().toLowerCase().replace(/[^a-z]/g, '')]);
    if (head.includes('name') || head.includes('dataSource')) {
        cols = head;
        rows = rows.slice(1);
    }
    const points = [];
    const problems = [];
    rows.forEach((r, i) => {
        const p = {};
        const cfg = {};
        cols.forEach((col, j) => {
            const v = (r[j] || '').trim();
            if (!col || v === '') return;
            if (col === 'samplingInterval' || col === 'queueSize') {
                if (Number.isNaN(Number(v))) problems.push(`row ${i + 1}: ${col} "${v}" is not a number`);
                else cfg[col] = Number(v);
            } else p[col] = v;
        });
        if (Object.keys(cfg).length) {
            let base = {};
            try { base = p.dataPointConfiguration ? JSON.parse(p.dataPointConfiguration) : {}; } catch { base = {}; }
            p.dataPointConfiguration = JSON.stringify({ ...base, ...cfg });
        }
        if (!p.name && !p.dataSource) return;
        if (!p.name) p.name = p.dataSource;
        points.push(p);
    });
    return { points, problems };
}

function cfgOf(pt) {
    try {
        const v = pt.dataPointConfiguration ? JSON.parse(pt.dataPointConfiguration) : {};
        return v && typeof v === 'object' ? v : {};
    } catch {
        return null;
    }
}

// doc: the asset; path: "properties.datasets[i]". opts.keys: the data point
// keys that get a column ([{key, def}], numbers); opts.defaults: {key: value}
// shown as placeholders; opts.opcua: name the data source column "Node ID".
// Without keys the column is the point's configuration JSON.
export function pointsTable(doc, path, opts = {}) {
    const listPath = `${path}.dataPoints`;
    const readonly = !!opts.readonly;
    const wrap = h('div.points');
    wrap.dataset.points = listPath;
    const tbody = h('tbody');
    const count = h('span.count', { 'aria-live': 'polite' });
    const selectAllId = newId('sel');
    const selectAll = h('input', { id: selectAllId, type: 'checkbox', 'aria-label': 'Select all data points' });
    const fileId = newId('csv');
    const file = h('input.visually-hidden', { id: fileId, type: 'file', accept: '.csv,.tsv,.txt,text/csv,text/plain' });
    const points = () => getPath(doc, listPath) || [];

    const cell = (i, key, label, type = 'text') => {
        const p = `${listPath}[${i}].${key}`;
        const pt = points()[i];
        const input = h('input', {
            type, value: pt[key] ?? '', 'aria-label': `${label} of data point ${i + 1}`, readonly,
            required: key === 'name' || key === 'dataSource', autocomplete: 'off', spellcheck: 'false',
        });
        input.dataset.path = p;
        input.addEventListener('input', () => {
            pt[key] = input.value;
            if (input.value === '' && key !== 'name' && key !== 'dataSource') delete pt[key];
        });
        return h('td', input);
    };
    const keys = opts.keys || [];
    const cfgCell = (i, key, label) => {
        const pt = points()[i];
        const cfg = cfgOf(pt) || {};
        const def = opts.defaults && opts.defaults[key];
        const input = h('input', {
            type: 'number', step: 'any', value: cfg[key] ?? '', readonly,
            'aria-label': `${label} of data point ${i + 1}`, placeholder: def !== undefined ? String(def) : '',
        });
        input.dataset.path = `${listPath}[${i}].dataPointConfiguration`;
        input.addEventListener('input', () => {
            const c = cfgOf(pt) || {};
            const s = input.value.trim();
            if (s === '' || Number.isNaN(Number(s))) delete c[key];
            else c[key] = Number(s);
            if (Object.keys(c).length) pt.dataPointConfiguration = JSON.stringify(c);
            else delete pt.dataPointConfiguration;
        });
        return h('td', input);
    };

    const render = () => {
        const list = points();
        const frag = document.createDocumentFragment();
        list.forEach((pt, i) => {
            const sel = h('input', { type: 'checkbox', 'aria-label': `Select data point ${pt.name || i + 1}` });
            sel.dataset.index = String(i);
            frag.append(h('tr',
                readonly ? null : h('td.sel', sel),
                h('td.num', String(i + 1)),
                cell(i, 'name', 'Name'),
                cell(i, 'dataSource', 'Data source'),
                keys.length ? keys.map((k) => cfgCell(i, k.key, k.key))
                    : (() => {
                        const c = cell(i, 'dataPointConfiguration', 'Configuration');
                        c.firstChild.placeholder = '{"key": value}';
                        return c;
                    })(),
                cell(i, 'typeRef', 'Type reference'),
                readonly ? null : h('td', h('button.icon.danger', {
                    type: 'button', 'aria-label': `Remove data point ${pt.name || i + 1}`, title: 'Remove',
                    onclick: () => {
                        list.splice(i, 1);
                        render();
                    },
                }, '✕'))));
        });
        tbody.replaceChildren(frag);
        count.textContent = `${list.length} data point${list.length === 1 ? '' : 's'}`;
        selectAll.checked = false;
    };

    const addPoints = async (newPoints, how) => {
        let list = points();
        if (!how && list.length) {
            how = await dialog('Add or replace?',
                h('p', `Add ${newPoints.length} data points to the ${list.length} this dataset has, or replace them?`),
                [{ label: 'Cancel', value: 'cancel' }, { label: 'Replace', value: 'replace', kind: 'danger' }, { label: 'Add', value: 'append', kind: 'primary' }]);
            if (!how) return;
        }
        if (how === 'replace') list = [];
        list.push(...newPoints);
        setPath(doc, listPath, list);
        render();
        toast(`${newPoints.length} data points ${how === 'replace' ? 'loaded' : 'added'}; save to keep them`);
    };

    const importText = async (text, source) => {
        const { points: pts, problems } = rowsToPoints(parseDelimited(text));
        if (problems.length) {
            await dialog('Some rows were not read', h('div', h('p', `${source}:`), h('ul', problems.slice(0, 20).map((p) => h('li', p)))),
                [{ label: 'OK', value: 'ok' }]);
        }
        if (!pts.length) {
            toast('No data points found in the text', 'error');
            return;
        }
        await addPoints(pts);
    };

    file.addEventListener('change', async () => {
        const f = file.files && file.files[0];
        if (!f) return;
        await importText(await f.text(), f.name);
        file.value = '';
    });

    const toolbar = readonly ? null : h('div.toolbar',
        h('button.secondary.small', {
            type: 'button',
            onclick: () => {
                const list = points();
                list.push({ name: '', dataSource: '' });
                setPath(doc, listPath, list);
                render();
                const ins = tbody.querySelectorAll('tr:last-child input[type="text"]');
                if (ins.length) ins[0].focus();
            },
        }, 'Add data point'),
        h('button.secondary.small', {
            type: 'button',
            onclick: async () => {
                const tid = newId('paste');
                const ta = h('textarea', { id: tid, rows: 10, spellcheck: 'false', placeholder: 'name,dataSource,samplingInterval,queueSize\ntemperature,ns=3;s=Temperature,500,1' });
                const v = await dialog('Paste data points',
                    h('div', h('label', { for: tid }, 'Rows copied from a spreadsheet or CSV: name, data source, then optionally sampling interval, queue size, type reference. A header row may name the columns.'), ta),
                    [{ label: 'Cancel', value: 'cancel' }, { label: 'Add rows', value: 'ok', kind: 'primary' }]);
                if (v === 'ok' && ta.value.trim()) await importText(ta.value, 'pasted text');
            },
        }, 'Paste rows'),
        h('label.button.secondary.small', { for: fileId }, 'Import CSV'), file,
        h('button.secondary.small', {
            type: 'button',
            onclick: () => {
                const idx = [...tbody.querySelectorAll('td.sel input:checked')].map((c) => Number(c.dataset.index));
                if (!idx.length) {
                    toast('Select the data points to remove first', 'error');
                    return;
                }
                const list = points();
                for (const i of idx.sort((a, b) => b - a)) list.splice(i, 1);
                render();
            },
        }, 'Remove selected'),
        h('button.secondary.small', {
            type: 'button',
            onclick: () => {
                const rows = [['name', 'dataSource', 'samplingInterval', 'queueSize', 'typeRef']];
                for (const p of points()) {
                    const c = cfgOf(p) || {};
                    rows.push([p.name, p.dataSource, c.samplingInterval ?? '', c.queueSize ?? '', p.typeRef ?? '']);
                }
                const csv = rows.map((r) => r.map((v) => /[",\n;]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : v).join(',')).join('\n') + '\n';
                const a = h('a', { href: URL.createObjectURL(new Blob([csv], { type: 'text/csv' })), download: `${getPath(doc, path + '.name') || 'dataset'}-points.csv` });
                document.body.append(a);
                a.click();
                a.remove();
            },
        }, 'Export CSV'));

    selectAll.addEventListener('change', () => {
        for (const c of tbody.querySelectorAll('td.sel input')) c.checked = selectAll.checked;
    });

    wrap.append(h('div.points-head', h('h4', 'Data points'), count), toolbar,
        h('div.table-wrap.points-wrap', h('table.data.edit',
            h('thead', h('tr',
                readonly ? null : h('th.sel', { scope: 'col' }, selectAll),
                h('th.num', { scope: 'col' }, '#'),
                h('th.c-name', { scope: 'col' }, 'Name *'),
                h('th.c-src', { scope: 'col' }, opts.opcua ? 'Node ID *' : 'Data source *'),
                keys.length ? keys.map((k) => h('th.c-n', { scope: 'col' }, h('code', k.key))) : h('th.c-cfg', { scope: 'col' }, 'Configuration (JSON)'),
                h('th.c-type', { scope: 'col' }, 'Type reference'),
                readonly ? null : h('th.c-rm', { scope: 'col' }, h('span.sr-only', 'Remove')))),
            tbody)));
    render();
    return wrap;
}
