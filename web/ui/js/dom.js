// Building the page: every text goes in as a text node (guest names are
// hostile: a file named <img onerror=...> must show as those characters),
// and formatting of sizes, rates and times.

// An element: h('a', {href: '/x', class: 'y', onclick: fn}, 'text', child).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// A page URL from its segments, each percent-encoded (a guest name may
// hold '/', '?', '#' or '%').
export function url(...segments) {
  return '/' + segments.map(encodeURIComponent).join('/');
}

export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? path + '?' + s : path;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  let v = Number(n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return (u === 0 ? String(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) +
      ' ' + UNITS[u];
}

export function rate(n) {
  return n ? bytes(n) + '/s' : '—';
}

export function count(n) {
  return Number(n).toLocaleString('en-US');
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || seconds < 0) return '—';
  if (seconds < 0.05) return '< 0.1 s';  // never "0.0 s" for work done
  if (seconds < 10) return seconds.toFixed(1) + ' s';
  if (seconds < 90) return Math.round(seconds) + ' s';
  const m = Math.round(seconds / 60);
  if (m < 90) return m + ' min';
  const hours = Math.floor(m / 60);
  if (hours < 48) return hours + ' h ' + (m % 60) + ' min';
  return Math.floor(hours / 24) + ' d ' + (hours % 24) + ' h';
}

// "3 h ago" from seconds.
export function age(seconds) {
  if (seconds === null || seconds === undefined) return 'never';
  if (seconds < 60) return 'just now';
  return duration(seconds).replace(/ \d+ (min|h)$/, '') + ' ago';
}

// The API's times are ISO 8601 UTC ("2026-12-03T09:00:00Z"); shown in
// the browser's zone as "2026-12-03 10:00".
function minutes(d) {
  const p = (n) => (n < 10 ? '0' : '') + n;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
      `${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : minutes(d);
}

// A guest file's time (nanoseconds since the epoch), as time() shows it.
export function timeOfNs(ns) {
  return minutes(new Date(ns / 1e6));
}

export function seconds(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t / 1000;
}

// A point's name ("2026-12-03T09.00.00Z") as a time, to the second
// (points are named by the second they began).
export function pointTime(name) {
  const d = new Date(name.replace(/T(\d\d)\.(\d\d)\.(\d\d)/, 'T$1:$2:$3'));
  if (Number.isNaN(d.getTime())) return name;
  return minutes(d) + ':' + String(d.getSeconds()).padStart(2, '0');
}

export function mode(type, m) {
  const kind = {dir: 'd', link: 'l', file: '-'}[type] || '?';
  let out = kind;
  for (let shift = 6; shift >= 0; shift -= 3) {
    const bits = (m >> shift) & 7;
    out += (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (bits & 1 ? 'x' : '-');
  }
  return out;
}

// A coloured state label: 'ok', 'late', 'failed', 'running', ...
export function badge(state, text) {
  return h('span', {class: 'badge badge-' + String(state).replace(/[^a-z-]/g, '')},
      text || state);
}

// "encrypted" beside a point whose disks are stored encrypted (LUKS).
export function encryptedMark(points) {
  return (points || []).some((p) => p.encrypted) ?
    h('span', {class: 'badge badge-encrypted', title: 'stored encrypted (LUKS): read with its key'},
        'encrypted') : null;
}

// A progress bar; one that moves without end when `total` is unknown.
export function progress(done, total) {
  if (!(total > 0)) {
    return h('div', {class: 'bar busy', role: 'progressbar'}, h('div', {class: 'bar-fill'}));
  }
  const share = Math.min(1, done / total);
  const bar = h('div', {class: 'bar', role: 'progressbar',
    'aria-valuemin': 0, 'aria-valuemax': 100,
    'aria-valuenow': Math.round(share * 100)});
  bar.append(h('div', {class: 'bar-fill'}));
  bar.firstChild.style.width = (share * 100).toFixed(1) + '%';
  return bar;
}

export function table(headers, rows, options = {}) {
  const head = h('tr', null, headers.map((c) =>
    h('th', {class: c.cls || null, scope: 'col'}, c.label)));
  return h('div', {class: 'table-wrap'},
      h('table', {class: options.cls || null},
          h('thead', null, head), h('tbody', null, rows)));
}

export function empty(text) {
  return h('p', {class: 'empty'}, text);
}

export function errorBox(err) {
  return h('div', {class: 'error', role: 'alert'}, err.message || String(err));
}
