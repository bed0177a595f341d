// A VM: its points on a timeline with size and verify state, its jobs,
// and starting a backup (or a verify) now.

import {api, apiAllowing, session} from './api.js';
import {badge, bytes, clear, duration, empty, encryptedMark, h, pointTime, seconds,
  table, time, url} from './dom.js';
import {changesSection} from './changes.js';
import {active, jobCard, jobTable} from './jobs.js';
import {retentionText} from './overview.js';

function timeline(backups) {
  const complete = backups.filter((b) => b.state === 'complete');
  if (complete.length === 0) return null;
  const times = complete.map((b) => seconds(b.started_at));
  const first = Math.min(...times);
  const last = Math.max(...times);
  const span = Math.max(1, last - first);
  const track = h('div', {class: 'timeline-track'});
  complete.forEach((b, i) => {
    const dot = h('a', {class: `dot dot-${b.kind} verify-${b.verify_state}`,
      href: url('vms', b.vm, b.name),
      title: `${pointTime(b.name)} · ${b.kind} · ${bytes(stored(b))} · verify ${b.verify_state}`,
      'aria-label': 'point ' + b.name});
    dot.style.left = (complete.length === 1 ? 50 : ((times[i] - first) / span) * 100) + '%';
    track.append(dot);
  });
  return h('div', {class: 'timeline'}, track,
      h('div', {class: 'timeline-scale'}, h('span', null, time(complete[0].started_at)),
          h('span', null, time(complete[complete.length - 1].started_at))),
      h('div', {class: 'legend'}, h('span', {class: 'dot-sample full'}), 'full',
          h('span', {class: 'dot-sample incremental'}, ''), 'incremental',
          h('span', {class: 'dot-sample damaged'}, ''), 'damaged'));
}

function stored(b) {
  return b.points.reduce((sum, p) => sum + (p.bytes_stored || 0), 0);
}

// How long its disks took to copy (the points' own timings, finer than
// the backup's times, which are to the second).
function took(b) {
  if (b.state !== 'complete') return null;
  return b.points.reduce((sum, p) => sum + (p.seconds || 0), 0);
}

// "suspicious" beside a point whose guest files changed like a mass
// encryption (its reasons as the title), "reviewed" once seen to.
function suspicionMark(s) {
  if (!s || (s.state !== 'suspicious' && s.state !== 'reviewed')) return null;
  return h('span', {class: 'badge badge-' + s.state, title: s.reasons.join('; ')}, s.state);
}

function pointRows(backups) {
  return backups.slice().reverse().map((b) => h('tr', {'data-point': b.name},
      h('td', {class: 'name'}, b.state === 'complete' ?
          h('a', {href: url('vms', b.vm, b.name)}, pointTime(b.name)) : pointTime(b.name)),
      h('td', null, badge(b.state), encryptedMark(b.points), suspicionMark(b.suspicion),
          b.error ? h('div', {class: 'error-text'}, b.error) : null),
      h('td', {class: 'opt'}, b.kind || '—'),
      h('td', {class: 'num'}, bytes(stored(b))),
      h('td', {class: 'num opt'}, duration(took(b))),
      h('td', null, b.state === 'complete' ? badge(b.verify_state) : '—'),
      h('td', {class: 'opt'}, b.consistency || '')));
}

async function start(vm, kind, message) {
  const path = kind === 'backup' ? `/vms/${encodeURIComponent(vm)}/backup` : '/verify';
  const body = kind === 'backup' ? undefined : {vm};
  const {status, data} = await apiAllowing(path, {method: 'POST', body}, 409);
  message.textContent = status === 409 ? data.error :
      `${kind === 'backup' ? 'Backup' : 'Verify'} started (job ${data.id}).`;
}

// What the VM's stored policy would keep and drop now, and why (a dry
// run: nothing changes).
function policyPreview(name) {
  const out = h('div');
  const button = h('button', {type: 'button', id: 'preview-policy', onclick: async () => {
    button.disabled = true;
    try {
      const {prunes} = await api(`/vms/${encodeURIComponent(name)}/prune`,
          {method: 'POST', body: {dry_run: true}});
      const report = prunes[0];
      clear(out, table([{label: 'Point'}, {label: 'Would'}, {label: 'Because'}],
          report.points.map((p) => h('tr', {'data-plan': p.action},
              h('td', {class: 'name'}, pointTime(p.name)),
              h('td', null, badge(p.action === 'keep' ? 'ok' : 'failed', p.action)),
              h('td', null, p.reasons.join(', ') || '—'))), {cls: 'plan'}));
    } catch (e) {
      clear(out, h('p', {class: 'error-text'}, e.message));
    } finally {
      button.disabled = false;
    }
  }}, 'Preview what the policy keeps');
  return h('details', null, h('summary', null, 'Retention plan'),
      h('p', {class: 'muted'}, 'Which points the VM\'s policy keeps and drops if it ran now; ',
          'serve applies it after each backup.'), button, out);
}

export async function renderVm(ctx) {
  const name = ctx.segments[1];
  ctx.title(name);
  const message = h('span', {class: 'muted', role: 'status'});
  const action = (kind, label, cls) => {
    const b = h('button', {type: 'button', class: cls, id: kind + '-now',
      onclick: async () => {
        b.disabled = true;
        try {
          await start(name, kind, message);
        } catch (e) {
          message.textContent = e.message;
        } finally {
          b.disabled = false;
        }
      }}, label);
    return b;
  };
  const config = h('div');
  const vmPlan = policyPreview(name);
  const jobs = h('div');
  const points = h('div');
  const changes = changesSection(name);
  clear(ctx.main,
      h('nav', {class: 'crumbs'}, h('a', {href: '/'}, 'Overview'), ' › ', name),
      h('div', {class: 'page-head'}, h('h1', null, name),
          session.can('operate') ? h('div', {class: 'actions'},
              action('backup', 'Back up now', 'primary'), action('verify', 'Verify', ''), message) : null),
      config, jobs, points, changes, session.can('admin') ? vmPlan : null);
  let vm = null;
  try {
    vm = await api('/vms/' + encodeURIComponent(name));
  } catch (e) {
    if (e.status !== 404) throw e;
    // Backups of a removed VM still show; a name with none is an error.
    const left = await api('/backups?vm=' + encodeURIComponent(name));
    if (left.backups.length === 0) throw e;
  }
  clear(config, vm ? h('dl', {class: 'facts'},
      h('dt', null, 'Source'), h('dd', null, vm.libvirt ?
          `libvirt domain ${vm.libvirt.domain} (${vm.libvirt.uri})` :
          Object.entries(vm.disks).map(([d, u]) => `${d}: ${u}`).join(', ')),
      h('dt', null, 'Schedule'), h('dd', null, vm.schedule_text),
      h('dt', null, 'Retention'), h('dd', null, retentionText(vm.retention))) :
      h('p', {class: 'muted'}, 'This VM is no longer configured; its backups remain.'));
  await ctx.every(2000, async () => {
    const [backups, all] = await Promise.all([
      api('/backups?vm=' + encodeURIComponent(name)), api('/jobs')]);
    if (!ctx.current()) return;
    const mine = all.jobs.filter((j) => j.vm === name).sort((a, b) => b.id - a.id);
    const running = mine.filter(active);
    const open = jobs.querySelector('details')?.open;
    clear(jobs, running.length ? [h('h2', null, 'Running now'),
      h('div', {class: 'job-cards'}, running.map(jobCard))] : null,
    mine.length > running.length ? h('details', {open: open || null},
        h('summary', null, `Recent jobs (${mine.length - running.length})`),
        jobTable(mine.filter((j) => !active(j)).slice(0, 10))) : null);
    const list = backups.backups;
    changes.update(list);
    clear(points, h('h2', null, 'Points in time'),
        list.length === 0 ? empty('No backup yet. Start one with “Back up now”.') : [
          timeline(list),
          table([{label: 'Point'}, {label: 'State'}, {label: 'Kind', cls: 'opt'},
            {label: 'Stored', cls: 'num'}, {label: 'Took', cls: 'num opt'},
            {label: 'Verify'}, {label: 'Consistency', cls: 'opt'}],
          pointRows(list), {cls: 'points'})]);
  });
}
