// Jobs: live progress of running ones, and the recent ones with their
// state, duration, rate and error.

import {api, apiAllowing, session} from './api.js';
import {badge, bytes, clear, count, duration, empty, errorBox, h, progress,
  rate, seconds, table, time, url} from './dom.js';

export function active(job) {
  return job.state === 'queued' || job.state === 'running';
}

function elapsed(job) {
  const start = seconds(job.started_at);
  if (start === null) return null;
  const end = job.finished_at ? seconds(job.finished_at) : Date.now() / 1000;
  return Math.max(0, end - start);
}

function what(job) {
  const target = job.vm ? h('a', {href: url('vms', job.vm)}, job.vm) : 'all VMs';
  return [h('strong', null, job.kind), ' ', target];
}

async function cancel(job, button) {
  button.disabled = true;
  try {
    await apiAllowing(`/jobs/${job.id}/cancel`, {method: 'POST'}, 409);
  } catch (e) {
    button.disabled = false;
    alert(e.message);
  }
}

function cancelButton(job) {
  const b = h('button', {type: 'button', class: 'small danger',
    'data-job': job.id, onclick: () => cancel(job, b)}, 'Cancel');
  return b;
}

// A running or queued job as a card with its progress.
export function jobCard(job) {
  const left = job.rate > 0 && job.bytes_total > job.bytes_done ?
      (job.bytes_total - job.bytes_done) / job.rate : null;
  const phase = job.phase === 'indexing' ?
      `indexing guest files (${count(job.entries_indexed)} so far)` : job.phase;
  return h('div', {class: 'job-card', 'data-job': job.id, 'data-state': job.state},
      h('div', {class: 'job-head'},
          h('span', null, what(job), job.backup ? h('span', {class: 'muted'}, ' · ' + job.backup) : null),
          badge(job.state)),
      progress(job.bytes_done, job.phase === 'indexing' ? 0 : job.bytes_total),
      h('div', {class: 'job-meta'},
          h('span', null, phase),
          job.bytes_total > 0 ?
              h('span', null, bytes(job.bytes_done) + ' of ' + bytes(job.bytes_total)) : null,
          h('span', null, rate(job.rate)),
          h('span', null, left === null ? '' : duration(left) + ' left'),
          session.can('operate') ? cancelButton(job) : null));
}

export function jobRows(jobs) {
  return jobs.map((job) => h('tr', {'data-job': job.id, 'data-state': job.state},
      h('td', {class: 'num'}, job.id),
      h('td', null, what(job)),
      h('td', null, badge(job.state), job.phase !== 'done' && job.phase !== job.state ?
          h('span', {class: 'muted'}, ' ' + job.phase) : null),
      h('td', {class: 'opt'}, time(job.started_at || job.created_at)),
      h('td', {class: 'num opt'}, duration(elapsed(job))),
      h('td', {class: 'num opt'}, bytes(job.bytes_done)),
      h('td', {class: 'num opt'}, rate(job.rate), job.copy_seconds == null ? null :
          h('div', {class: 'muted'}, 'over the copy\'s ' + duration(job.copy_seconds))),
      h('td', {class: 'wrap'}, job.backup ?
          h('a', {href: url('vms', job.vm, job.backup)}, job.backup) : null,
      job.error ? h('div', {class: 'error-text'}, job.error) : null),
      h('td', null, active(job) && session.can('operate') ? cancelButton(job) : null)));
}

export function jobTable(jobs) {
  return table([{label: 'Job', cls: 'num'}, {label: 'What'}, {label: 'State'},
    {label: 'Started', cls: 'opt'}, {label: 'Duration', cls: 'num opt'},
    {label: 'Bytes', cls: 'num opt'}, {label: 'Rate', cls: 'num opt'},
    {label: 'Backup / error'}, {label: ''}], jobRows(jobs), {cls: 'jobs'});
}

export async function renderJobs(ctx) {
  ctx.title('Jobs');
  const body = h('div');
  clear(ctx.main, h('div', {class: 'page-head'}, h('h1', null, 'Jobs'),
      h('p', {class: 'muted'}, 'Jobs since the service started, newest first. Updated every 2 seconds.')),
  body);
  await ctx.every(2000, async () => {
    let jobs;
    try {
      jobs = (await api('/jobs')).jobs;
    } catch (e) {
      clear(body, errorBox(e));
      throw e;
    }
    if (!ctx.current()) return;
    jobs.sort((a, b) => b.id - a.id);
    const running = jobs.filter(active);
    clear(body,
        running.length ? h('section', null, h('h2', null, 'Running'),
            h('div', {class: 'job-cards'}, running.map(jobCard))) : null,
        h('section', null, h('h2', null, 'All jobs'),
            jobs.length ? jobTable(jobs) : empty('No job has run since the service started.')));
  });
}
