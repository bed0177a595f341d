// "What changed": the guest files added, removed, changed and renamed
// between two points of a VM, from the guest file index (GET /diff).

import {api} from './api.js';
import {badge, bytes, clear, empty, h, pointTime, table} from './dom.js';

const kinds = {added: 'ok', removed: 'failed', changed: 'changed', renamed: 'running'};

function changeRow(c) {
  const where = c.change === 'renamed' ?
    `${c.filesystem}:${c.from_path} → ${c.path}` : `${c.filesystem}:${c.path}`;
  return h('tr', {'data-change': c.change},
      h('td', null, badge(kinds[c.change] || 'changed', c.change)),
      h('td', {class: 'name'}, where),
      h('td', {class: 'opt'}, c.what.join(', ') || '—'),
      h('td', {class: 'num'}, c.size === null ? '—' : bytes(c.size)));
}

function summaryText(s) {
  return `${s.added} added, ${s.removed} removed, ${s.changed} changed, ${s.renamed} renamed`;
}

function fill(select, names, wanted) {
  const keep = select.value || wanted;
  clear(select, names.map((n) => h('option', {value: n}, pointTime(n))));
  if (names.includes(keep)) select.value = keep;
}

// The section; update(backups) refills the choice of points (complete
// ones, newest first), keeping what was chosen.
export function changesSection(vm) {
  const from = h('select', {id: 'diff-from', 'aria-label': 'From point'});
  const to = h('select', {id: 'diff-to', 'aria-label': 'To point'});
  const out = h('div', {id: 'diff-result'});
  const run = h('button', {type: 'button', id: 'diff-run', onclick: async () => {
    run.disabled = true;
    try {
      const q = new URLSearchParams({vm, from: from.value, to: to.value});
      const d = await api('/diff?' + q);
      clear(out, h('p', {id: 'diff-summary'}, summaryText(d.summary),
          d.truncated ? ` (the first ${d.changes.length} shown)` : ''),
      d.changes.length === 0 ? empty('No guest file changed.') :
        table([{label: 'Change'}, {label: 'Path'}, {label: 'What', cls: 'opt'},
          {label: 'Size', cls: 'num'}], d.changes.map(changeRow), {cls: 'changes'}));
    } catch (e) {
      clear(out, h('p', {class: 'error-text'}, e.message));
    } finally {
      run.disabled = false;
    }
  }}, 'What changed');
  const section = h('section', {class: 'what-changed'},
      h('h2', null, 'What changed'),
      h('p', {class: 'muted'}, 'Guest files between two points, from the index.'),
      h('div', {class: 'diff-form'}, from, ' → ', to, ' ', run), out);
  section.update = (backups) => {
    const names = backups.filter((b) => b.state === 'complete').map((b) => b.name).reverse();
    section.hidden = names.length < 2;
    fill(from, names, names[1]);
    fill(to, names, names[0]);
  };
  return section;
}
