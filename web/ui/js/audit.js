// The audit log: who did what, when, from where, and how it ended (a
// tenant's users see their tenant's records, the appliance's every one).

import {api} from './api.js';
import {badge, clear, empty, h, table, time, withQuery} from './dom.js';

const kPage = 200;

function recordRow(r) {
  return h('tr', {'data-audit': String(r.id)},
      h('td', null, time(r.at)),
      h('td', null, r.actor, r.tenant ? h('span', {class: 'muted'}, ' @' + r.tenant) : null),
      h('td', {class: 'secondary'}, r.address || '—'),
      h('td', {class: 'action'}, r.action),
      h('td', {class: 'target'}, r.target || '—'),
      h('td', null, badge(r.outcome === 'ok' ? 'ok' : 'failed', r.outcome)),
      h('td', {class: 'secondary small'}, r.detail || ''));
}

export async function renderAudit(ctx) {
  ctx.title('Audit log');
  const body = h('div');
  clear(ctx.main, h('div', {class: 'page-head'}, h('h1', null, 'Audit log')), body,
      h('p', {class: 'muted small'}, `The newest ${kPage} records; `,
          'sendense audit --since and GET /api/v1/audit?since= give older ones.'));
  await ctx.every(10000, async () => {
    const {records} = await api(withQuery('/audit', {limit: kPage}));
    if (!ctx.current()) return;
    clear(body, records.length === 0 ? empty('Nothing recorded yet.') :
      table([{label: 'When'}, {label: 'Who'}, {label: 'From', cls: 'secondary'},
        {label: 'Action'}, {label: 'Target'}, {label: 'Outcome'}, {label: 'Detail', cls: 'secondary'}],
      records.map(recordRow), {cls: 'audit'}));
  });
}
