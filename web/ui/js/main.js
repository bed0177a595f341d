// The dashboard: a router over real URLs (reload and back work), the
// sign-in with the API token, and the views.

import {accepts, token} from './api.js';
import {clear, errorBox, h} from './dom.js';
import {renderJobs} from './jobs.js';
import {renderOverview} from './overview.js';
import {renderBrowse, renderPoint} from './point.js';
import {renderSearch} from './search.js';
import {renderVm} from './vm.js';

const main = document.getElementById('main');
let generation = 0;

// What a view gets: where it is, and polling that stops when the page
// changes.
function context(segments, query) {
  const mine = ++generation;
  return {
    segments,
    query,
    main,
    current: () => mine === generation,
    title: (text) => { document.title = text + ' · Sendense'; },
    navigate: (path) => navigate(path),
    // Calls fn now and then every `ms` while this page is shown.
    // The first call's error is the caller's; later ones are logged and
    // the next tick tries again.
    async every(ms, fn) {
      const tick = async () => {
        if (mine !== generation) return;
        try {
          await fn();
        } catch (e) {
          if (mine === generation && e.status !== 401) console.warn(e.message);
        }
        if (mine === generation) setTimeout(tick, ms);
      };
      await fn();
      if (mine === generation) setTimeout(tick, ms);
    },
  };
}

function route(segments) {
  const [first, vm, , files, fs] = segments;
  if (segments.length === 0 || (first === 'vms' && segments.length === 1)) {
    return ['overview', renderOverview];
  }
  if (first === 'jobs' && segments.length === 1) return ['jobs', renderJobs];
  if (first === 'search' && segments.length === 1) return ['search', renderSearch];
  if (first === 'vms' && vm !== undefined) {
    if (segments.length === 2) return ['overview', renderVm];
    if (segments.length === 3) return ['overview', renderPoint];
    if (files === 'files' && fs !== undefined) return ['overview', renderBrowse];
  }
  return ['', notFound];
}

function notFound(ctx) {
  ctx.title('Not found');
  clear(ctx.main, h('h1', null, 'No such page'),
      h('p', null, h('a', {href: '/'}, 'Back to the overview')));
}

async function show() {
  const segments = location.pathname.split('/').filter((s) => s !== '')
      .map((s) => { try { return decodeURIComponent(s); } catch (e) { return s; } });
  const query = new URLSearchParams(location.search);
  if (!token.get()) {
    const shared = await token.fromOtherTabs();
    if (shared && await accepts(shared).catch(() => false)) {
      token.set(shared);
    } else {
      generation++;
      signIn();
      return;
    }
  }
  document.body.classList.remove('signed-out');
  const [section, render] = route(segments);
  for (const a of document.querySelectorAll('.nav a')) {
    a.classList.toggle('active', a.dataset.section === section);
  }
  const ctx = context(segments, query);
  try {
    await render(ctx);
  } catch (e) {
    if (ctx.current() && e.status !== 401) {
      clear(main, h('h1', null, 'Something went wrong'), errorBox(e));
    }
  }
}

function signIn() {
  document.title = 'Sign in · Sendense';
  // The navigation and "Sign out" mean nothing until signed in.
  document.body.classList.add('signed-out');
  const input = h('input', {type: 'password', id: 'token', name: 'token',
    autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'Paste the API token'});
  const message = h('p', {class: 'form-error', role: 'alert'});
  const form = h('form', {class: 'card signin', onsubmit: async (ev) => {
    ev.preventDefault();
    const candidate = input.value.trim();
    try {
      if (await accepts(candidate)) {
        token.set(candidate);
        show();
      } else {
        message.textContent = 'That token is not the repository\'s. Copy it again from REPO/api-token.';
      }
    } catch (e) {
      message.textContent = e.message;
    }
  }},
  h('h1', null, 'Sign in'),
  h('p', null, 'Paste the repository\'s API token (the file ',
      h('code', null, 'REPO/api-token'), '). It is kept only until this tab closes.'),
  h('label', {for: 'token'}, 'API token'), input, message,
  h('button', {type: 'submit', class: 'primary'}, 'Sign in'));
  clear(main, form);
  input.focus();
}

export function navigate(path) {
  history.pushState(null, '', path);
  show();
  window.scrollTo(0, 0);
}

// Same-origin links move within the app; downloads and new tabs do not.
document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[href]');
  if (!a || a.hasAttribute('download') || a.target || ev.defaultPrevented ||
      ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) {
    return;
  }
  const target = new URL(a.href, location.href);
  if (target.origin !== location.origin || target.pathname.startsWith('/api/')) return;
  ev.preventDefault();
  navigate(target.pathname + target.search);
});
window.addEventListener('popstate', show);
const offline = document.getElementById('offline');
window.addEventListener('sendense:offline', () => { offline.hidden = false; });
window.addEventListener('sendense:online', () => { offline.hidden = true; });
window.addEventListener('sendense:signed-out', () => { generation++; signIn(); });

document.getElementById('logout').addEventListener('click', () => {
  token.clear();
  generation++;
  signIn();
});

document.getElementById('theme').addEventListener('click', () => {
  const root = document.documentElement;
  const dark = root.dataset.theme ? root.dataset.theme === 'dark' :
      matchMedia('(prefers-color-scheme: dark)').matches;
  root.dataset.theme = dark ? 'light' : 'dark';
  localStorage.setItem('sendense.theme', root.dataset.theme);
});

show();
