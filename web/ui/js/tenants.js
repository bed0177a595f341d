// Tenants and how much of their limits they use (the appliance's admin
// sees every tenant, a tenant's admin its own): a bar per quota, amber
// past 80% and red past 95%, as the notifications say.

import {api} from './api.js';
import {bytes, clear, count, empty, h, progress, table} from './dom.js';

function share(used, limit) {
  return limit > 0 ? used / limit : null;
}

function level(s) {
  if (s === null) return '';
  return s >= 0.95 ? 'full' : s >= 0.8 ? 'high' : '';
}

// A used / limit cell: the figure and a bar, or "no limit".
function usage(used, limit, format) {
  const s = share(used, limit);
  if (s === null) return h('td', {class: 'usage'}, format(used), h('span', {class: 'muted'}, ' · no limit'));
  const bar = progress(used, limit);
  bar.classList.add('quota');
  if (level(s)) bar.classList.add(level(s));
  return h('td', {class: 'usage', 'data-share': s.toFixed(3)},
      `${format(used)} of ${format(limit)} (${Math.round(s * 100)}%)`, bar);
}

export async function renderTenants(ctx) {
  ctx.title('Tenants');
  const body = h('div');
  clear(ctx.main, h('div', {class: 'page-head'}, h('h1', null, 'Tenants')), body,
      h('p', {class: 'muted small'}, 'Tenants are made and limited on the appliance ',
          '(sendense tenant add|set) or through the API; see docs/tenants.md.'));
  await ctx.every(5000, async () => {
    const {tenants} = await api('/tenants');
    if (!ctx.current()) return;
    clear(body, tenants.length === 0 ? empty('No tenant yet: every VM is the appliance\'s own.') :
      table([{label: 'Tenant'}, {label: 'Stored'}, {label: 'VMs'}],
          tenants.map((t) => h('tr', {'data-tenant': t.name},
              h('td', {class: 'name'}, t.name),
              usage(t.used_bytes, t.quota_bytes, bytes),
              usage(t.vms, t.max_vms, count))), {cls: 'tenants'}));
  });
}
