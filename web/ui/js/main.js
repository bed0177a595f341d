// The dashboard: a router over real URLs (reload and back work), the
// sign-in (a user and password, or a token) and the views, which offer
// only what the signed-in role may do.

import {resume, session, signIn, signOut} from './api.js';
import {clear, errorBox, h} from './dom.js';
import {renderAudit} from './audit.js';
import {renderHosts} from './hosts.js';
import {renderJobs} from './jobs.js';
import {renderOverview} from './overview.js';
import {renderBrowse, renderPoint} from './point.js';
import {renderSearch} from './search.js';
import {renderTargets} from './targets.js';
import {renderTenants} from './tenants.js';
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
  if (first === 'tenants' && segments.length === 1) return ['tenants', renderTenants];
  if (first === 'hosts' && segments.length === 1) return ['hosts', renderHosts];
  if (first === 'targets' && segments.length === 1) return ['targets', renderTargets];
  if (first === 'audit' && segments.length === 1) return ['audit', renderAudit];
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

// Why the sign-in page shows: null on arrival, a sentence when a session
// ended under the user.
let signedOutBecause = null;

async function show() {
  const segments = location.pathname.split('/').filter((s) => s !== '')
      .map((s) => { try { return decodeURIComponent(s); } catch (e) { return s; } });
  const query = new URLSearchParams(location.search);
  if (!session.who() && !await resume().catch(() => false)) {
    generation++;
    showSignIn();
    return;
  }
  signedOutBecause = null;
  showWho();
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

// The header: who is signed in, and the sections their role has.
function showWho() {
  const who = session.who();
  document.body.classList.remove('signed-out');
  document.getElementById('who').textContent =
      `${who.name} · ${who.appliance_admin ? 'appliance admin' : who.role}` +
      (who.tenant ? ` · ${who.tenant}` : '');
  document.querySelector('.nav a[data-section="tenants"]').hidden = !session.can('admin');
  document.querySelector('.nav a[data-section="hosts"]').hidden = !who.appliance_admin;
  document.querySelector('.nav a[data-section="targets"]').hidden = !who.appliance_admin;
}

function showSignIn() {
  document.title = 'Sign in · Sendense';
  // The navigation and "Sign out" mean nothing until signed in.
  document.body.classList.add('signed-out');
  const field = (id, label, attrs) => [h('label', {for: id}, label),
    h('input', {id, name: id, spellcheck: 'false', ...attrs})];
  const [userLabel, user] = field('user', 'User', {type: 'text',
    autocomplete: 'username', placeholder: 'name@tenant, or name'});
  const [passwordLabel, password] = field('password', 'Password', {type: 'password',
    autocomplete: 'current-password'});
  const [tokenLabel, token] = field('token', 'API token', {type: 'password',
    autocomplete: 'off', placeholder: 'sendense_… or REPO/api-token'});
  const message = h('p', {class: 'form-error', role: 'alert'}, signedOutBecause || '');
  const form = h('form', {class: 'card signin', onsubmit: async (ev) => {
    ev.preventDefault();
    const credentials = token.value.trim() ? {token: token.value.trim()} :
        {user: user.value.trim(), password: password.value};
    if (!credentials.token && (!credentials.user || !credentials.password)) {
      message.textContent = 'Give a user and password, or a token.';
      return;
    }
    try {
      if (await signIn(credentials)) {
        show();
      } else {
        message.textContent = 'Wrong user name, password or token.';
        password.value = '';
      }
    } catch (e) {
      message.textContent = e.message;
    }
  }},
  h('h1', null, 'Sign in'),
  userLabel, user, passwordLabel, password,
  h('details', null,
      h('summary', null, 'Sign in with an API token instead'),
      h('p', {class: 'muted small'}, 'A user\'s token (', h('code', null, 'sendense token create'),
          ') or the appliance\'s own (the file ', h('code', null, 'REPO/api-token'), ').'),
      tokenLabel, token),
  message,
  h('button', {type: 'submit', class: 'primary'}, 'Sign in'));
  clear(main, form);
  user.focus();
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
window.addEventListener('sendense:signed-out', () => {
  if (!document.body.classList.contains('signed-out')) {
    signedOutBecause = 'Your session ended (idle too long, or signed out elsewhere). Sign in again.';
  }
  generation++;
  showSignIn();
});

document.getElementById('logout').addEventListener('click', async () => {
  document.body.classList.add('signed-out');  // chosen: no "session ended"
  signedOutBecause = null;
  await signOut().catch(() => {});
});

document.getElementById('theme').addEventListener('click', () => {
  const root = document.documentElement;
  const dark = root.dataset.theme ? root.dataset.theme === 'dark' :
      matchMedia('(prefers-color-scheme: dark)').matches;
  root.dataset.theme = dark ? 'light' : 'dark';
  localStorage.setItem('sendense.theme', root.dataset.theme);
});

show();
