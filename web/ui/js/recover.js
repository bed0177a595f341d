// Bringing a point's disks back from the dashboard: serve one over NBD at
// once (instant recovery: boot or copy from the printed URI; writes go to
// a throwaway overlay when writable), end such exports, or restore a disk
// to a file in serve's --restore-dir as a job.

import {api, apiAllowing, session} from './api.js';
import {badge, bytes, clear, empty, errorBox, h, table} from './dom.js';

function exportRows(list, refresh) {
  return list.map((e) => {
    const end = h('button', {type: 'button', class: 'small danger', onclick: async () => {
      end.disabled = true;
      try {
        await api('/exports/' + e.id, {method: 'DELETE'});
      } finally {
        refresh();
      }
    }}, 'End');
    return h('tr', {'data-export': e.id, 'data-state': e.state},
        h('td', null, e.disk),
        h('td', {class: 'wrap'}, h('code', {class: 'uri'}, e.uri || '—'),
            e.error ? h('div', {class: 'error-text'}, e.error) : null),
        h('td', null, badge(e.state === 'serving' ? 'ok' : 'failed', e.state)),
        h('td', {class: 'opt'}, e.writable ? 'writable (overlay ' + bytes(e.overlay_bytes) + ')' : 'read-only'),
        h('td', null, session.can('operate') ? end : null));
  });
}

export function recoverSection(vm, point, disks) {
  const exportsBox = h('div');
  const message = h('p', {class: 'muted', role: 'status'});
  const refresh = async () => {
    let list;
    try {
      list = (await api('/exports')).exports
          .filter((e) => e.vm === vm && e.backup === point && e.state !== 'ended');
    } catch (e) {
      clear(exportsBox, errorBox(e));
      return;
    }
    clear(exportsBox, list.length ? table([{label: 'Disk'}, {label: 'NBD URI'},
      {label: 'State'}, {label: 'Mode', cls: 'opt'}, {label: ''}], exportRows(list, refresh),
    {cls: 'exports'}) : empty('No export of this point.' +
        (session.can('operate') ? ' Export a disk to boot or copy it at once.' : '')));
  };
  const start = async (disk, writable) => {
    message.textContent = 'Starting the export…';
    try {
      const e = await api('/exports', {method: 'POST', body: {vm, point, disk, writable}});
      message.textContent = `Serving ${disk} at ${e.uri}`;
    } catch (e) {
      message.textContent = e.message;
    }
    refresh();
  };
  const target = h('input', {type: 'text', id: 'restore-target', spellcheck: 'false',
    placeholder: '/var/lib/images/restored.qcow2', 'aria-label': 'Restore to'});
  const diskChoice = h('select', {'aria-label': 'Disk'}, disks.map((d) => h('option', {value: d}, d)));
  const restore = h('form', {class: 'search-form', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const {data} = await apiAllowing('/restores', {method: 'POST',
        body: {vm, point, disk: diskChoice.value, target: target.value.trim()}});
      clear(message, `Restore started (job ${data.id}); follow it on `, h('a', {href: '/jobs'}, 'Jobs'), '.');
    } catch (e) {
      message.textContent = e.message;
    }
  }}, diskChoice, target, h('button', {type: 'submit'}, 'Restore to file'));
  refresh();
  return h('section', {class: 'recover'},
      h('h2', null, 'Recover'),
      session.can('operate') ? h('div', {class: 'actions'}, disks.map((d) => [
        h('button', {type: 'button', class: 'primary', 'data-export-disk': d,
          onclick: () => start(d, false)}, `Export ${d} (read-only)`),
        h('button', {type: 'button', onclick: () => start(d, true)}, `Export ${d} writable`)])) : null,
      message, exportsBox,
      h('p', {class: 'muted small'}, 'A restore writes the whole disk to a file (raw, or QCOW2 for a .qcow2 name) ' +
          'inside the directory given to serve --restore-dir; see docs/restore.md.'),
      restore);
}
