// The HTTP API, with the token the admin pasted: kept for this browser
// session (sessionStorage, gone when the tab closes; a new tab of the same
// browser asks the open ones for it over a same-origin BroadcastChannel),
// sent only as the bearer header, never in a URL, a cookie or
// localStorage.

import {h} from './dom.js';

const KEY = 'sendense.token';

const channel = 'BroadcastChannel' in window ? new BroadcastChannel('sendense-token') : null;

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => {
    sessionStorage.setItem(KEY, t);
  },
  clear: () => {
    sessionStorage.removeItem(KEY);
    if (channel) channel.postMessage({signedOut: true});
  },
  // The token of another open tab of this dashboard, if one answers
  // within `ms`; null otherwise.
  fromOtherTabs(ms = 300) {
    if (!channel) return Promise.resolve(null);
    return new Promise((resolve) => {
      const done = (value) => {
        channel.removeEventListener('message', onMessage);
        clearTimeout(timer);
        resolve(value);
      };
      const onMessage = (ev) => {
        if (ev.data && typeof ev.data.token === 'string') done(ev.data.token);
      };
      const timer = setTimeout(() => done(null), ms);
      channel.addEventListener('message', onMessage);
      channel.postMessage({ask: true});
    });
  },
};

if (channel) {
  channel.addEventListener('message', (ev) => {
    const mine = token.get();
    if (ev.data && ev.data.ask && mine) channel.postMessage({token: mine});
    // Signing out in one tab signs out all of them.
    if (ev.data && ev.data.signedOut && mine) {
      sessionStorage.removeItem(KEY);
      window.dispatchEvent(new Event('sendense:signed-out'));
    }
  });
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function call(path, {method = 'GET', body, signal, headers = {}} = {}) {
  const init = {
    method,
    signal,
    cache: 'no-store',
    credentials: 'omit',
    headers: {Authorization: 'Bearer ' + (token.get() || ''), ...headers},
  };
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
  if (res.status === 401) {
    token.clear();
    window.dispatchEvent(new Event('sendense:signed-out'));
    throw new ApiError(401, 'The token was refused. Paste it again.');
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

// Whether the server takes `candidate` as the token: true, false (401),
// or ApiError for anything else. Changes nothing.
export async function accepts(candidate) {
  const res = await fetch('/api/v1/overview', {cache: 'no-store', credentials: 'omit',
    headers: {Authorization: 'Bearer ' + candidate}});
  if (res.status === 401) return false;
  if (!res.ok) throw await failure(res);
  return true;
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

// Downloads a file or archive (`path` under /api/v1). A navigation cannot
// carry the bearer header and the token never goes in a URL, so the token
// buys a link that works once, within a minute, for this download only;
// the browser then saves it as any download: streamed to disk, with its
// own progress, whatever the size.
export async function download(path) {
  const link = await api('/download-links', {method: 'POST', body: {path: '/api/v1' + path}});
  const a = h('a', {href: link.url, download: '', hidden: true});
  document.body.append(a);
  a.click();
  a.remove();
}
