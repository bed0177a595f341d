// Where copies go (the appliance admin's page): each target's kind and
// place, its Object Lock and retention, whether it can take copies now, what it holds,
// and the newest copy of each VM.

import {api} from './api.js';
import {badge, bytes, clear, empty, h, table, time, url} from './dom.js';

function lockOf(target) {
  if (!target.lock_days) return '—';
  return `${target.lock_mode} ${target.lock_days} days`;
}

const KEEP_WORDS = {keep_last: 'last', keep_hourly: 'hourly', keep_daily: 'daily',
  keep_weekly: 'weekly', keep_monthly: 'monthly', keep_yearly: 'yearly'};

function retentionOf(target) {
  const rules = Object.entries(target.retention || {})
      .map(([rule, n]) => `${KEEP_WORDS[rule] || rule} ${n}`);
  const keeps = rules.length === 0 ? 'keeps everything' : `keeps ${rules.join(', ')}`;
  return target.full_every ? `${keeps}; a full every ${target.full_every}` : keeps;
}

function spaceOf(target) {
  if (target.used_bytes === null) return '—';
  const free = target.free_bytes === null ? '' : `, ${bytes(target.free_bytes)} free`;
  return `${bytes(target.used_bytes)} used${free}`;
}

function targetRow(target) {
  return h('tr', {'data-target': target.name},
      h('td', {class: 'name'}, target.name,
          h('div', {class: 'muted small'}, target.kind === 's3' ? 'S3' : 'repository',
              ' · ', target.location)),
      h('td', null, target.ready ? badge('ok', 'ready') : badge('failed', 'not ready'),
          target.problem ? h('div', {class: 'muted small problem'}, target.problem) : null),
      h('td', {class: 'secondary lock'}, lockOf(target),
          h('div', {class: 'muted small retention'}, retentionOf(target))),
      h('td', {class: 'secondary space'}, spaceOf(target)),
      h('td', {class: 'copies'}, target.last_copies.length === 0 ? '—' :
        target.last_copies.map((c, i) => [i ? h('br') : '',
          h('a', {href: url('vms', c.vm)}, c.vm), ` ${c.backup}`,
          h('span', {class: 'muted small'}, ` copied ${time(c.copied_at)}`)])));
}

export async function renderTargets(ctx) {
  ctx.title('Targets');
  const body = h('div');
  clear(ctx.main, h('div', {class: 'page-head'}, h('h1', null, 'Targets')), body,
      h('p', {class: 'muted small'}, 'Targets are added on the appliance ',
          '(sendense target add NAME --s3 URL | --dir DIR); see docs/offsite.md.'));
  // Each refresh asks every S3 gateway: every 30 s, not every 5.
  await ctx.every(30000, async () => {
    const {targets} = await api('/targets');
    if (!ctx.current()) return;
    clear(body, targets.length === 0 ? empty('No target yet: copies go nowhere off this repository.') :
      table([{label: 'Target'}, {label: 'Now'}, {label: 'Lock and retention', cls: 'secondary'},
        {label: 'Space', cls: 'secondary'}, {label: 'Newest copy of each VM'}],
      targets.map(targetRow), {cls: 'targets'}));
  });
}
