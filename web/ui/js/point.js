// A point: its disks and guest filesystems; browsing a filesystem folder
// by folder (pages of up to 10,000 entries), a file's details, download
// and history across points, a folder as a zip or tar.

import {api, download, session} from './api.js';
import {recoverSection} from './recover.js';
import {badge, bytes, clear, count, empty, encryptedMark, errorBox, h, mode, pointTime,
  table, time, timeOfNs, url, withQuery} from './dom.js';

const PAGE_SIZES = [100, 1000, 10000];

function apiPath(vm, point, kind, fs, path) {
  return ['/backups', vm, point, kind, fs, ...path].map((s, i) =>
    i === 0 ? s : encodeURIComponent(s)).join('/');
}

function crumbs(vm, point, fs, path, last) {
  const parts = [h('a', {href: '/'}, 'Overview'), ' › ',
    h('a', {href: url('vms', vm)}, vm), ' › ',
    h('a', {href: url('vms', vm, point)}, pointTime(point))];
  if (fs !== undefined) {
    parts.push(' › ', path.length || !last ? h('a', {href: url('vms', vm, point, 'files', fs)}, fs) : fs);
    path.forEach((seg, i) => {
      const here = i === path.length - 1 && last;
      parts.push(' / ', here ? seg : h('a', {href: url('vms', vm, point, 'files', fs, ...path.slice(0, i + 1))}, seg));
    });
  }
  return h('nav', {class: 'crumbs'}, parts);
}

function deleteButton(ctx, vm, point) {
  const status = h('span', {class: 'muted small', role: 'status'});
  const button = h('button', {type: 'button', class: 'danger', id: 'delete-point', onclick: async () => {
    if (!confirm(`Delete point ${pointTime(point)} of ${vm}? Its changes are merged into ` +
        'the next point, so later points stay whole; this point cannot be restored afterwards.')) {
      return;
    }
    button.disabled = true;
    try {
      const job = await api(`/backups/${encodeURIComponent(vm)}/${encodeURIComponent(point)}`,
          {method: 'DELETE'});
      clear(status, `Deleting (job ${job.id}); see `, h('a', {href: '/jobs'}, 'Jobs'), '.');
    } catch (e) {
      status.textContent = e.message;
      button.disabled = false;
    }
  }}, 'Delete point');
  return [button, status];
}

// The suspicious-change report of a point, and (to operators) a button
// that marks it reviewed.
function suspicionBox(ctx, vm, point, s) {
  if (!s || (s.state !== 'suspicious' && s.state !== 'reviewed')) return null;
  const reviewed = s.state === 'reviewed';
  const button = !reviewed && session.can('operate') ? h('button', {type: 'button', id: 'mark-reviewed',
    onclick: async () => {
      button.disabled = true;
      try {
        await api(`/backups/${encodeURIComponent(vm)}/${encodeURIComponent(point)}/review`,
            {method: 'POST'});
        ctx.navigate(location.pathname);
      } catch (e) {
        button.replaceWith(h('span', {class: 'error-text'}, e.message));
      }
    }}, 'Mark reviewed') : null;
  return h('div', {class: reviewed ? 'notice' : 'error', id: 'suspicion', role: reviewed ? null : 'alert'},
      h('strong', null, reviewed ? 'Reviewed: ' : 'Suspicious change: '),
      `since ${pointTime(s.compared_with)}, `, s.reasons.join('; '), '. ', button);
}

export async function renderPoint(ctx) {
  const [, vm, point] = ctx.segments;
  ctx.title(`${vm} · ${pointTime(point)}`);
  const b = await api(`/backups/${encodeURIComponent(vm)}/${encodeURIComponent(point)}`);
  if (!ctx.current()) return;
  const disks = b.points.map((p) => h('tr', null,
      h('td', {class: 'name'}, p.disk), h('td', null, p.kind),
      h('td', {class: 'num'}, bytes(p.virtual_size)),
      h('td', {class: 'num'}, bytes(p.bytes_stored)),
      h('td', {class: 'num opt'}, bytes(p.bytes_read)),
      h('td', null, badge(p.verify.state), encryptedMark([p]))));
  const fss = b.filesystems.map((f) => h('tr', {'data-fs': f.name},
      h('td', {class: 'name'}, f.state === 'indexed' && session.can('restore') ?
          h('a', {href: url('vms', vm, point, 'files', f.name)}, f.name) : f.name),
      h('td', null, f.fstype), h('td', {class: 'opt'}, f.device),
      h('td', {class: 'num'}, count(f.files)),
      h('td', {class: 'num opt'}, f.regular_files ?
          Math.round(100 * f.mapped_files / f.regular_files) + '%' : '—'),
      h('td', null, badge(f.state === 'indexed' ? 'ok' : 'failed', f.state),
          f.error ? h('div', {class: 'error-text'}, f.error) : null)));
  const index = b.guest_index;
  clear(ctx.main, crumbs(vm, point),
      h('div', {class: 'page-head'}, h('h1', null, pointTime(point)),
          h('div', {class: 'actions'}, badge(b.state), badge(b.verify_state, 'verify: ' + b.verify_state),
              encryptedMark(b.points),
              b.state === 'complete' && session.can('admin') ? deleteButton(ctx, vm, point) : null)),
      suspicionBox(ctx, vm, point, b.suspicion),
      h('dl', {class: 'facts'},
          h('dt', null, 'Kind'), h('dd', null, b.kind),
          h('dt', null, 'Started'), h('dd', null, time(b.started_at)),
          h('dt', null, 'Finished'), h('dd', null, time(b.finished_at)),
          b.consistency ? [h('dt', null, 'Consistency'), h('dd', null, b.consistency)] : null,
          b.copies && b.copies.length ? [h('dt', null, 'Copied to'), h('dd', null, b.copies.join(', '))] : null),
      h('h2', null, 'Disks'),
      table([{label: 'Disk'}, {label: 'Kind'}, {label: 'Size', cls: 'num'},
        {label: 'Stored', cls: 'num'}, {label: 'Read', cls: 'num opt'}, {label: 'Verify'}], disks),
      h('h2', null, 'Guest files'),
      fss.length ? table([{label: 'Filesystem'}, {label: 'Type'}, {label: 'Device', cls: 'opt'},
        {label: 'Entries', cls: 'num'}, {label: 'Mapped', cls: 'num opt'}, {label: 'State'}], fss, {cls: 'filesystems'}) :
        empty(index.state === 'not-indexed' ? 'The guest files of this point are not indexed yet.' :
            index.state === 'failed' ? 'Indexing failed: ' + index.error :
            'No filesystem the appliance can read was found on these disks.'),
      b.state === 'complete' && session.can('restore') ?
        recoverSection(vm, point, b.points.map((p) => p.disk)) : null);
}

// Previous pages of a folder: the "after" each page was reached from.
const PREVIOUS = 'sendense.previous-pages';

function previousOf(key) {
  return JSON.parse(sessionStorage.getItem(PREVIOUS) || '{}')[key];
}

function rememberPrevious(key, after) {
  const map = JSON.parse(sessionStorage.getItem(PREVIOUS) || '{}');
  map[key] = after;
  sessionStorage.setItem(PREVIOUS, JSON.stringify(map));
}

function downloadButton(label, path, cls) {
  const status = h('span', {class: 'muted small', role: 'status'});
  const button = h('button', {type: 'button', class: cls || '', onclick: async () => {
    button.disabled = true;
    status.textContent = 'Starting…';
    try {
      await download(path);
      status.textContent = 'Started: see the browser’s downloads';
    } catch (e) {
      status.textContent = e.message;
    } finally {
      button.disabled = false;
    }
  }}, label);
  return h('span', {class: 'download'}, button, status);
}

// A folder's entries as rows of a grid, cloned from one template row, in
// chunks of 200 that the browser neither styles nor lays out while they
// are off screen (content-visibility): a page of 10,000 entries draws as
// fast as one of 200. Names go in as text, links as percent-encoded URLs.
const CHUNK = 200;
const ROW_HEIGHT = 34;

function entryRows(children, folderUrl) {
  const template = h('div', {class: 'entry', role: 'row'},
      h('span', {class: 'name', role: 'cell'}), h('span', {class: 'num', role: 'cell'}),
      h('span', {class: 'opt', role: 'cell'}), h('span', {class: 'mono opt', role: 'cell'}),
      h('span', {class: 'num opt', role: 'cell'}));
  const out = document.createDocumentFragment();
  let chunk = null;
  children.forEach((c, i) => {
    if (i % CHUNK === 0) {
      chunk = h('div', {class: 'chunk', role: 'rowgroup'});
      chunk.style.containIntrinsicSize =
          `auto ${Math.min(CHUNK, children.length - i) * ROW_HEIGHT}px`;
      out.append(chunk);
    }
    const row = template.cloneNode(true);
    const [name, size, modified, perms, owner] = row.children;
    row.dataset.type = c.type;
    name.classList.add(c.type);
    if (c.type === 'dir' || c.type === 'file') {
      const a = document.createElement('a');
      a.href = folderUrl + '/' + encodeURIComponent(c.name);
      a.textContent = c.name;
      name.append(a);
    } else {
      name.textContent = c.name;
    }
    if (c.type === 'link') name.append(h('span', {class: 'muted'}, ' → ' + c.target));
    if (c.type !== 'dir') size.textContent = bytes(c.size);
    modified.textContent = timeOfNs(c.mtime_ns);
    perms.textContent = mode(c.type, c.mode);
    owner.textContent = c.uid + ':' + c.gid;
    chunk.append(row);
  });
  return out;
}

function folder(ctx, vm, point, fs, path, entry) {
  const limit = Number(ctx.query.get('limit')) || 1000;
  const after = ctx.query.get('after') || '';
  const from = Number(ctx.query.get('from')) || 1;
  const here = url('vms', vm, point, 'files', fs, ...path);
  // A folder on one page is shown folders first, then by name; a longer
  // one in name order (bytewise), which its pages follow.
  const children = entry.next_after === undefined && !after ?
      entry.children.slice().sort((a, b) => (b.type === 'dir') - (a.type === 'dir') ||
          (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) : entry.children;
  const rows = entryRows(children, url('vms', vm, point, 'files', fs, ...path));
  const key = here + '|' + limit;
  const previous = after ? previousOf(key + '|' + after) : undefined;
  const nextHref = entry.next_after !== undefined ? withQuery(here, {
    limit: limit === 1000 ? '' : limit, after: entry.next_after,
    from: from + entry.children.length}) : null;
  const pager = () => h('div', {class: 'pager'},
      h('span', {class: 'muted range'}, entry.children.length ?
          `Entries ${count(from)}–${count(from + entry.children.length - 1)}` : 'Empty folder'),
      after ? h('a', {href: withQuery(here, {limit: limit === 1000 ? '' : limit}), class: 'button'}, '« First') : null,
      previous !== undefined ? h('a', {href: withQuery(here, {limit: limit === 1000 ? '' : limit,
        after: previous, from: Math.max(1, from - limit)}), class: 'button'}, '‹ Previous') : null,
      nextHref ? h('a', {href: nextHref, class: 'button next-page', onclick: () =>
        rememberPrevious(key + '|' + entry.next_after, after)}, 'Next ›') : null);
  const sizes = h('select', {'aria-label': 'Entries per page', onchange: (ev) => {
    ctx.navigate(withQuery(here, {limit: ev.target.value}));
  }}, PAGE_SIZES.map((n) => h('option', {value: n, selected: n === limit || null}, count(n) + ' per page')));
  const name = path.length ? path[path.length - 1] : fs;
  const dl = apiPath(vm, point, 'download', fs, path);
  return [
    h('div', {class: 'page-head'}, h('h1', {class: 'path'}, name),
        h('div', {class: 'actions'},
            downloadButton('Download .zip', dl + '?format=zip', 'primary'),
            downloadButton('Download .tar', dl + '?format=tar'))),
    h('div', {class: 'toolbar'}, pager(), sizes),
    entry.children.length ? h('div', {class: 'listing', role: 'table', 'aria-label': name},
        h('div', {class: 'entry head', role: 'row'},
            h('span', {role: 'columnheader'}, 'Name'), h('span', {class: 'num', role: 'columnheader'}, 'Size'),
            h('span', {class: 'opt', role: 'columnheader'}, 'Modified'),
            h('span', {class: 'opt', role: 'columnheader'}, 'Mode'),
            h('span', {class: 'num opt', role: 'columnheader'}, 'Owner')),
        rows) : empty('This folder is empty.'),
    entry.children.length > 20 ? h('div', {class: 'toolbar'}, pager()) : null,
  ];
}

async function history(vm, fs, path, into) {
  let versions;
  try {
    versions = (await api(withQuery('/history', {vm, path: fs + ':/' + path.join('/')}))).versions;
  } catch (e) {
    clear(into, errorBox(e));
    return;
  }
  const rows = versions.slice().reverse().map((v) => h('tr', {'data-point': v.backup},
      h('td', {class: 'name'}, v.change === 'deleted' ? pointTime(v.backup) :
          h('a', {href: url('vms', vm, v.backup, 'files', fs, ...path)}, pointTime(v.backup))),
      h('td', null, badge(v.change === 'same' ? 'same' : v.change === 'deleted' ? 'failed' : 'changed', v.change)),
      h('td', {class: 'num'}, v.size === undefined ? '' : bytes(v.size)),
      h('td', {class: 'opt'}, time(v.mtime)),
      h('td', null, v.change === 'deleted' || v.type !== 'file' ? null :
          downloadButton('Download', apiPath(vm, v.backup, 'download', fs, path), 'small'))));
  clear(into, table([{label: 'Point'}, {label: 'Change'}, {label: 'Size', cls: 'num'},
    {label: 'Modified', cls: 'opt'}, {label: ''}], rows, {cls: 'history'}));
}

function file(vm, point, fs, path, entry) {
  const name = path[path.length - 1];
  const versions = h('div', null, h('p', {class: 'muted'}, 'Loading the versions…'));
  history(vm, fs, path, versions);
  return [
    h('div', {class: 'page-head'}, h('h1', {class: 'path'}, name),
        h('div', {class: 'actions'}, entry.type === 'file' ?
            downloadButton('Download', apiPath(vm, point, 'download', fs, path), 'primary') : null)),
    h('dl', {class: 'facts'},
        h('dt', null, 'Path'), h('dd', {class: 'mono'}, entry.path),
        h('dt', null, 'Size'), h('dd', null, `${bytes(entry.size)} (${count(entry.size)} bytes)`),
        h('dt', null, 'Modified'), h('dd', null, timeOfNs(entry.mtime_ns)),
        h('dt', null, 'Mode'), h('dd', {class: 'mono'}, mode(entry.type, entry.mode) + ' · uid ' + entry.uid + ' · gid ' + entry.gid),
        entry.target !== undefined ? [h('dt', null, 'Link to'), h('dd', {class: 'mono'}, entry.target)] : null,
        entry.read_path ? [h('dt', null, 'Read'), h('dd', null, entry.read_path === 'mapped' ?
            'straight from the backup chain (extent map)' : 'through a libguestfs appliance')] : null),
    h('h2', null, 'History across points'), versions,
  ];
}

export async function renderBrowse(ctx) {
  const [, vm, point, , fs, ...path] = ctx.segments;
  ctx.title(path.length ? path[path.length - 1] : fs);
  const limit = ctx.query.get('limit');
  const after = ctx.query.get('after');
  const entry = await api(withQuery(apiPath(vm, point, 'files', fs, path), {limit, after}));
  if (!ctx.current()) return;
  const started = performance.now();
  clear(ctx.main, crumbs(vm, point, fs, path, true),
      entry.type === 'dir' ? folder(ctx, vm, point, fs, path, entry) : file(vm, point, fs, path, entry));
  ctx.main.dataset.rendered = String(performance.now() - started);
}
