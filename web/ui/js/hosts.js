// The hypervisors the appliance backs up (the appliance admin's page):
// whether each answers now, its libvirt and QEMU, its VMs, and its backup
// jobs queued and running against its limit.

import {api} from './api.js';
import {badge, clear, empty, h, table, url} from './dom.js';

function jobsOf(jobs, host) {
  let queued = 0;
  let running = 0;
  for (const j of jobs) {
    if (j.host !== host) continue;
    if (j.state === 'queued') queued++;
    if (j.state === 'running') running++;
  }
  return {queued, running};
}

function hostRow(host, jobs) {
  const n = jobsOf(jobs, host.name);
  const limit = host.max_jobs ? ` of ${host.max_jobs}` : '';
  return h('tr', {'data-host': host.name},
      h('td', {class: 'name'}, host.name, h('div', {class: 'muted small'}, host.libvirt)),
      h('td', null, host.reachable ? badge('ok', 'reachable') : badge('failed', 'unreachable'),
          host.error ? h('div', {class: 'muted small'}, host.error) : null),
      h('td', {class: 'secondary'}, host.libvirt_version || '—', ' / ', host.qemu_version || '—'),
      h('td', {class: 'secondary'}, !host.remote ? 'local socket' :
        host.insecure_nbd ? 'TCP without TLS' : 'TCP with TLS'),
      h('td', {class: 'jobs'}, `${n.running} running${limit}, ${n.queued} queued`),
      h('td', {class: 'vms'}, host.vms.length === 0 ? '—' :
        host.vms.map((vm, i) => [i ? ', ' : '', h('a', {href: url('vms', vm)}, vm)])));
}

export async function renderHosts(ctx) {
  ctx.title('Hosts');
  const body = h('div');
  clear(ctx.main, h('div', {class: 'page-head'}, h('h1', null, 'Hosts')), body,
      h('p', {class: 'muted small'}, 'Hosts are added on the appliance ',
          '(sendense host add NAME --libvirt URI) or through the API; see docs/libvirt.md.'));
  await ctx.every(5000, async () => {
    const [{hosts}, {jobs}] = await Promise.all([api('/hosts'), api('/jobs')]);
    if (!ctx.current()) return;
    clear(body, hosts.length === 0 ? empty('No host yet: VMs are read from this machine or by NBD URI.') :
      table([{label: 'Host'}, {label: 'Now'}, {label: 'libvirt / QEMU', cls: 'secondary'},
        {label: 'NBD', cls: 'secondary'}, {label: 'Backups'}, {label: 'VMs'}],
      hosts.map((host) => hostRow(host, jobs)), {cls: 'hosts'}));
  });
}
