// The overview: is every VM protected? Each VM's last backup, its age and
// state, schedule, policy and size; the repository's capacity; jobs with
// live progress. Refreshed every 2 seconds without reloading.

import {api} from './api.js';
import {age, badge, bytes, clear, count, empty, errorBox, h, progress, table,
  time, url} from './dom.js';
import {active, jobCard} from './jobs.js';

const ORDER = {failed: 0, damaged: 1, late: 2, never: 3, ok: 4};
const HEALTH_TEXT = {ok: 'protected', late: 'late', failed: 'failed',
  damaged: 'damaged', never: 'no backup yet'};

export function retentionText(policy) {
  const parts = [];
  for (const rule of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly']) {
    if (policy && policy['keep_' + rule]) parts.push(policy['keep_' + rule] + ' ' + rule);
  }
  return parts.length ? parts.join(', ') : 'keep all';
}

function tile(label, value, detail, cls) {
  return h('div', {class: 'tile ' + (cls || '')},
      h('div', {class: 'tile-label'}, label),
      h('div', {class: 'tile-value'}, value),
      detail ? h('div', {class: 'tile-detail'}, detail) : null);
}

function tiles(data) {
  const vms = data.vms;
  const attention = vms.filter((v) => v.health !== 'ok');
  const repo = data.repository;
  const total = repo.used_bytes + repo.free_bytes;
  const running = data.jobs.filter(active).length;
  return [
    tile('Protected', `${vms.length - attention.length} of ${vms.length}`,
        'VMs with a recent, sound backup', attention.length ? '' : 'good'),
    tile('Need attention', String(attention.length),
        attention.length ? attention.slice(0, 3).map((v) => v.name).join(', ') +
            (attention.length > 3 ? ', …' : '') : 'nothing late or failed',
        attention.length ? 'bad' : 'good'),
    h('div', {class: 'tile'}, h('div', {class: 'tile-label'}, 'Repository'),
        h('div', {class: 'tile-value'}, bytes(repo.used_bytes)),
        progress(repo.used_bytes, total),
        h('div', {class: 'tile-detail'}, bytes(repo.free_bytes) + ' free · ' +
            (repo.growth_bytes_per_day === null ? 'growth known after a day' :
              'grows ' + bytes(repo.growth_bytes_per_day) + ' a day'))),
    tile('Jobs running', String(running), h('a', {href: '/jobs'}, 'All jobs')),
  ];
}

function vmRow(v) {
  const last = v.last_backup;
  return h('tr', {'data-vm': v.name, 'data-health': v.health},
      h('td', null, badge(v.health, HEALTH_TEXT[v.health] || v.health)),
      h('td', {class: 'name'}, h('a', {href: url('vms', v.name)}, v.name),
          v.configured ? null : h('span', {class: 'muted'}, ' (not configured: backups only)')),
      h('td', null, last ? [h('div', null, time(last.started_at)),
        h('div', {class: 'muted small'}, last.state === 'complete' ?
            age(v.age_seconds) : last.state)] : 'never'),
      h('td', {class: 'opt'}, v.schedule_text),
      h('td', {class: 'opt'}, retentionText(v.retention)),
      h('td', {class: 'num opt'}, count(v.points)),
      h('td', {class: 'num opt'}, bytes(v.bytes_stored)),
      h('td', {class: 'opt'}, v.verify_state ? badge(v.verify_state) : '—'));
}

export async function renderOverview(ctx) {
  ctx.title('Overview');
  const filter = h('input', {type: 'search', class: 'filter', placeholder: 'Filter VMs',
    'aria-label': 'Filter VMs by name'});
  const summary = h('div', {class: 'tiles'});
  const jobs = h('div');
  const vms = h('div');
  let latest = null;
  let drawn = '';  // what the page shows, but for the clock
  let drawnAt = 0;
  const draw = () => {
    const needle = filter.value.trim().toLowerCase();
    const rows = latest.vms
        .filter((v) => !needle || v.name.toLowerCase().includes(needle))
        .sort((a, b) => (ORDER[a.health] ?? 5) - (ORDER[b.health] ?? 5) ||
            a.name.localeCompare(b.name));
    clear(summary, tiles(latest));
    const running = latest.jobs.filter(active);
    clear(jobs, running.length ? [h('h2', null, 'Running now'),
      h('div', {class: 'job-cards'}, running.map(jobCard))] : null);
    clear(vms, latest.vms.length === 0 ?
        empty('No VM yet: add one with `sendense vm add` or POST /api/v1/vms.') :
        table([{label: 'State'}, {label: 'VM'}, {label: 'Last backup'},
          {label: 'Schedule', cls: 'opt'}, {label: 'Retention', cls: 'opt'},
          {label: 'Points', cls: 'num opt'}, {label: 'On disk', cls: 'num opt'},
          {label: 'Verify', cls: 'opt'}], rows.map(vmRow), {cls: 'vms'}));
  };
  filter.addEventListener('input', () => latest && draw());
  clear(ctx.main, h('div', {class: 'page-head'}, h('h1', null, 'Overview'),
      h('span', {class: 'muted', id: 'updated'})), summary, jobs,
  h('section', null, h('div', {class: 'section-head'}, h('h2', null, 'Virtual machines'), filter), vms));
  await ctx.every(2000, async () => {
    const started = performance.now();
    try {
      latest = await api('/overview');
    } catch (e) {
      clear(vms, errorBox(e));
      throw e;
    }
    if (!ctx.current()) return;
    // Redrawn when something changed (and each minute, for the ages):
    // 300 rows cost a moment, and a redraw ends a hover or a selection.
    const state = JSON.stringify(latest, (k, v) => (k === 'now' || k === 'age_seconds' ? undefined : v));
    if (state !== drawn || Date.now() - drawnAt > 60000) {
      drawn = state;
      drawnAt = Date.now();
      draw();
    }
    const el = document.getElementById('updated');
    if (el) el.textContent = 'Updated ' + time(latest.now);
    ctx.main.dataset.rendered = String(performance.now() - started);
  });
}
