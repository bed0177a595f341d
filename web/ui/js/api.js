// The HTTP API, through the session of whoever signed in: the server sets
// its id in an HttpOnly cookie (no script here ever sees it, and every tab
// of the browser shares it); changes carry the session's CSRF token in a
// header, which a page of another site cannot read or send. Who is signed
// in, and what they may do, comes from the server (whoami).

import {h} from './dom.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The signed-in principal (name, tenant, role, rights, csrf_token), or
// null.
let who = null;

export const session = {
  who: () => who,
  // Whether the signed-in principal holds `right` (read, restore,
  // operate, admin, appliance).
  can: (right) => !!who && who.rights.includes(right),
};

function ended() {
  who = null;
  window.dispatchEvent(new Event('sendense:signed-out'));
}

async function call(path, {method = 'GET', body, signal, headers = {}} = {}) {
  const init = {method, signal, cache: 'no-store', credentials: 'same-origin',
    headers: {...headers}};
  if (method !== 'GET' && who) init.headers['X-CSRF-Token'] = who.csrf_token;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    window.dispatchEvent(new Event('sendense:offline'));
    throw new ApiError(0, 'The appliance does not answer (is sendense serve running?).');
  }
  window.dispatchEvent(new Event('sendense:online'));
  if (res.status === 401 && who) {
    ended();
    throw new ApiError(401, 'The session ended. Sign in again.');
  }
  return res;
}

async function failure(res) {
  let message = res.status + ' ' + res.statusText;
  try {
    const data = await res.json();
    if (data && data.error) message = data.error;
  } catch (e) { /* not JSON */ }
  return new ApiError(res.status, message);
}

// The session this browser already has (a reload, another tab): true when
// the server knows it.
export async function resume() {
  const res = await call('/whoami');
  if (!res.ok) return false;
  who = await res.json();
  return true;
}

// Signs in with {user, password} or {token}: true, false when refused
// (wrong credentials), ApiError with the server's sentence otherwise
// (too many tries, the appliance away).
export async function signIn(credentials) {
  const res = await call('/sessions', {method: 'POST', body: credentials});
  if (res.status === 401) return false;
  if (!res.ok) throw await failure(res);
  who = await res.json();
  return true;
}

export async function signOut() {
  try {
    if (who) await call('/sessions/current', {method: 'DELETE'});
  } finally {
    ended();
  }
}

// JSON of a route; ApiError with the server's sentence otherwise.
export async function api(path, options) {
  const res = await call(path, options);
  if (!res.ok) throw await failure(res);
  return res.json();
}

// Like api(), but answers the error body too (409 carries the job).
export async function apiAllowing(path, options, ...statuses) {
  const res = await call(path, options);
  if (res.ok || statuses.includes(res.status)) {
    return {status: res.status, data: await res.json()};
  }
  throw await failure(res);
}

// Downloads a file or archive (`path` under /api/v1). The session buys a
// link that works once, within a minute, for this download only; the
// browser then saves it as any download: streamed to disk, with its own
// progress, whatever the size.
export async function download(path) {
  const link = await api('/download-links', {method: 'POST', body: {path: '/api/v1' + path}});
  const a = h('a', {href: link.url, download: '', hidden: true});
  document.body.append(a);
  a.click();
  a.remove();
}
