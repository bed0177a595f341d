// Search guest files by name across every indexed point.

import {api} from './api.js';
import {bytes, clear, count, empty, errorBox, h, pointTime, table, time, url,
  withQuery} from './dom.js';

export async function renderSearch(ctx) {
  ctx.title('Search');
  const pattern = ctx.query.get('q') || '';
  const vm = ctx.query.get('vm') || '';
  const input = h('input', {type: 'search', name: 'q', value: pattern, id: 'search-pattern',
    placeholder: 'nginx.conf, *.log or /etc/*', 'aria-label': 'Name or path pattern'});
  const select = h('select', {name: 'vm', 'aria-label': 'VM'}, h('option', {value: ''}, 'All VMs'));
  const results = h('div');
  clear(ctx.main, h('div', {class: 'page-head'}, h('h1', null, 'Search guest files')),
      h('form', {class: 'search-form', onsubmit: (ev) => {
        ev.preventDefault();
        ctx.navigate(withQuery('/search', {q: input.value.trim(), vm: select.value}));
      }}, input, select, h('button', {type: 'submit', class: 'primary'}, 'Search')),
      h('p', {class: 'muted'}, 'A glob on the name (', h('code', null, '*.conf'),
          ') or, with a “/”, on the whole path (', h('code', null, '/home/*/notes.txt'),
          '), in every indexed point.'),
      results);
  api('/vms').then((data) => {
    for (const v of data.vms) {
      select.append(h('option', {value: v.name, selected: v.name === vm || null}, v.name));
    }
  }).catch(() => {});
  if (!pattern) return;
  let found;
  try {
    found = await api(withQuery('/find', {pattern, vm, limit: 1000}));
  } catch (e) {
    clear(results, errorBox(e));
    return;
  }
  if (!ctx.current()) return;
  const rows = found.matches.map((m) => {
    const segments = m.path.split('/').filter((s) => s);
    return h('tr', null,
        h('td', {class: 'name'}, h('a', {href: url('vms', m.vm, m.backup, 'files', m.filesystem, ...segments)}, m.path)),
        h('td', null, h('a', {href: url('vms', m.vm)}, m.vm)),
        h('td', {class: 'opt'}, h('a', {href: url('vms', m.vm, m.backup)}, pointTime(m.backup))),
        h('td', {class: 'opt'}, m.filesystem),
        h('td', {class: 'num'}, m.type === 'dir' ? 'folder' : bytes(m.size)),
        h('td', {class: 'opt'}, time(m.mtime)));
  });
  clear(results,
      h('p', {class: 'muted', id: 'result-count'}, found.truncated ?
          `The first ${count(found.matches.length)} matches; narrow the pattern to see the rest.` :
          `${count(found.matches.length)} ${found.matches.length === 1 ? 'match' : 'matches'}.`),
      rows.length ? table([{label: 'Path'}, {label: 'VM'}, {label: 'Point', cls: 'opt'},
        {label: 'Filesystem', cls: 'opt'}, {label: 'Size', cls: 'num'}, {label: 'Modified', cls: 'opt'}],
      rows, {cls: 'results'}) : empty('No file matches.'));
}
