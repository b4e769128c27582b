// The buildbatch console: a single-page app without a framework or a build
// step. Pages are routed by the URL's fragment:
//
//   #/projects                          projects, their last builds, start buttons
//   #/builds?project=&status=&next=     builds, newest first
//   #/batches?project=&status=&next=    batch builds, newest first
//   #/batches/<id>                      a batch: its build graph, live
//   #/builds/<id>                       a build: phases, environment, artifacts, live log
//
// Data comes from the server's /console/api/ (JSON); live changes from
// /console/events (server-sent events: "build X changed"), after which the
// page refetches what it shows. Every POST carries the session's CSRF token.

const main = document.getElementById('main');
const flash = document.getElementById('flash');
let session = null; // {mode, account, region, user, csrf}
let view = null; // the page shown: {refresh(), onEvent(ev), stop()}
let events = null;

// ---- small helpers ----

// h builds an element: h('a', {href: '#/'}, 'text', child, ...). Text is
// always set as text, never as HTML.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

// s builds an SVG element.
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  return fill(el, attrs, children);
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const enc = encodeURIComponent;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(path, body, signal) {
  const opts = { credentials: 'same-origin', signal, headers: {} };
  if (body !== undefined) {
    opts.method = 'POST';
    opts.headers['Content-Type'] = 'application/json';
    opts.headers['X-CSRF-Token'] = session ? session.csrf : '';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error(data.message || r.statusText);
    e.status = r.status;
    e.type = data.error;
    throw e;
  }
  return data;
}

function showError(e) {
  if (e && e.name === 'AbortError') return;
  if (e && e.status === 401) return start();
  flash.textContent = (e && e.type ? e.type + ': ' : '') + (e && e.message ? e.message : String(e));
  flash.hidden = false;
}

function clearError() {
  flash.hidden = true;
}

// refresher calls load at most once at a time, soon after it is asked for:
// a burst of events makes one refetch.
function refresher(load, delay = 100) {
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await load();
    } catch (e) {
      showError(e);
    } finally {
      running = false;
      if (again) {
        again = false;
        run();
      }
    }
  };
  return () => {
    clearTimeout(timer);
    timer = setTimeout(run, delay);
  };
}

const ended = (st) => st && st !== 'IN_PROGRESS' && st !== 'PENDING' && st !== 'QUEUED';

function fmtDur(ms) {
  if (ms < 0 || !Number.isFinite(ms)) return '';
  const sec = ms / 1000;
  if (sec < 10) return sec.toFixed(1) + 's';
  const m = Math.floor(sec / 60);
  const h = Math.floor(m / 60);
  const ss = String(Math.floor(sec % 60)).padStart(2, '0');
  if (h) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return m ? `${m}m ${ss}s` : `${Math.floor(sec)}s`;
}

function fmtTime(ms) {
  return ms ? new Date(ms).toLocaleString() : '';
}

// dur is a duration that keeps counting while end is 0 (see tick).
function dur(start, end, tag = 'span') {
  const el = (tag === 'tspan' ? s : h)(tag, { class: 'dur' });
  if (start) {
    el.dataset.start = start;
    if (end) el.dataset.end = end;
  }
  el.textContent = start ? fmtDur((end || Date.now()) - start) : '';
  return el;
}

setInterval(() => {
  for (const el of document.querySelectorAll('.dur[data-start]:not([data-end])')) {
    el.textContent = fmtDur(Date.now() - Number(el.dataset.start));
  }
}, 1000);

const badge = (st) => h('span', { class: `badge st-${st || 'PENDING'}`, 'data-status': st || 'PENDING' }, st || 'PENDING');
const buildLink = (id, text) => h('a', { href: '#/builds/' + enc(id) }, text || id);
const batchLink = (id, text) => h('a', { href: '#/batches/' + enc(id) }, text || id);

function button(label, onclick, cls) {
  const b = h('button', { class: cls, type: 'button' }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    clearError();
    try {
      await onclick();
    } catch (e) {
      showError(e);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

function counts(c, total) {
  const bar = h('span', { class: 'counts', title: Object.entries(c).map(([k, v]) => `${v} ${k}`).join(', ') });
  for (const st of ['SUCCEEDED', 'FAILED', 'FAULT', 'TIMED_OUT', 'STOPPED', 'IN_PROGRESS', 'PENDING']) {
    if (!c[st]) continue;
    const part = h('span', { class: 'st-' + st });
    part.style.width = (100 * c[st]) / total + '%';
    bar.append(part);
  }
  return bar;
}

// ---- session ----

async function start() {
  try {
    session = await api('/console/api/session');
  } catch (e) {
    if (e.status === 401) return showLogin();
    main.replaceChildren(h('p', {}, e.message));
    return;
  }
  renderWho();
  connectEvents();
  route();
}

function showLogin(message) {
  stopView();
  document.getElementById('who').replaceChildren();
  const key = h('input', { name: 'accessKeyId', placeholder: 'Access key id', autocomplete: 'username', required: true });
  const secret = h('input', { name: 'secretAccessKey', type: 'password', placeholder: 'Secret access key', autocomplete: 'current-password', required: true });
  const region = h('input', { name: 'region', placeholder: 'Region (us-east-1)' });
  const form = h('form', { class: 'login' },
    h('h1', {}, 'Log in'),
    h('p', { class: 'muted' }, 'Use an access key of the server\'s credentials file.'),
    message ? h('p', { class: 'flash' }, message) : null,
    key, secret, region, h('button', { class: 'primary', type: 'submit' }, 'Log in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      session = await api('/console/api/login', { accessKeyId: key.value, secretAccessKey: secret.value, region: region.value });
      start();
    } catch (e) {
      showLogin(e.message);
    }
  });
  main.replaceChildren(form);
}

function renderWho() {
  const who = document.getElementById('who');
  if (session.mode === 'strict') {
    who.replaceChildren(
      h('span', {}, `${session.user} · ${session.account} · ${session.region}`),
      button('Log out', async () => {
        await api('/console/api/session', { logout: true });
        if (events) events.close();
        session = null;
        showLogin();
      }));
    return;
  }
  const account = h('input', { value: session.account, pattern: '[0-9]{12}', title: 'Account (12 digits)', 'aria-label': 'Account' });
  const region = h('input', { value: session.region, title: 'Region', 'aria-label': 'Region' });
  const form = h('form', {}, account, ' ', region, ' ', h('button', { type: 'submit' }, 'Switch'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      session = await api('/console/api/session', { account: account.value, region: region.value });
      connectEvents();
      route();
    } catch (e) {
      showError(e);
    }
  });
  who.replaceChildren(form);
}

// ---- live updates ----

function connectEvents() {
  if (events) events.close();
  const live = document.getElementById('live');
  events = new EventSource('/console/events');
  events.onopen = () => {
    live.classList.add('on');
    live.title = 'Live updates: connected';
    if (view) view.refresh(); // what happened while disconnected
  };
  events.onerror = () => {
    live.classList.remove('on');
    live.title = 'Live updates: reconnecting';
  };
  events.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (!view) return;
    if (ev.type === 'resync') view.refresh();
    else view.onEvent(ev);
  };
  events.addEventListener('expired', () => {
    events.close();
    start();
  });
}

// ---- routing ----

function stopView() {
  if (view) view.stop();
  view = null;
}

function route() {
  if (!session) return;
  clearError();
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('on', a.dataset.nav === (parts[0] || 'projects'));
  stopView();
  // Each view draws in its own element: what a stopped view's late
  // answers draw lands in an element no longer shown.
  const root = h('div');
  main.replaceChildren(root);
  if (parts[0] === 'builds' && parts.length > 1) view = buildPage(root, parts.slice(1).join('/'));
  else if (parts[0] === 'batches' && parts.length > 1) view = batchPage(root, parts.slice(1).join('/'));
  else if (parts[0] === 'builds') view = buildsPage(root, params);
  else if (parts[0] === 'batches') view = batchesPage(root, params);
  else view = projectsPage(root, params);
  view.refresh();
}

window.addEventListener('hashchange', route);

// page makes a view from a load function: refresh refetches (debounced),
// onEvent decides which events matter.
function page(load, matters, stop = () => {}) {
  let stopped = false;
  const refresh = refresher(() => (stopped ? null : load()));
  return {
    refresh,
    onEvent: (ev) => matters(ev) && refresh(),
    stop() {
      stopped = true;
      stop();
    },
  };
}

// ---- projects ----

function projectsPage(root, params) {
  const next = params.get('next') || '';
  const load = async () => {
    const data = await api('/console/api/projects?next=' + enc(next));
    const rows = data.projects.map((p) => h('tr', { 'data-project': p.name },
      h('td', {}, h('a', { href: '#/builds?project=' + enc(p.name) }, p.name), p.description ? h('div', { class: 'muted' }, p.description) : null),
      h('td', {}, p.source),
      h('td', {}, p.lastBuilds.length ? p.lastBuilds.map((b) => h('a', { href: '#/builds/' + enc(b.id), title: `#${b.number} ${b.status}` }, h('span', { class: 'chip st-' + b.status }))) : h('span', { class: 'muted' }, 'no builds')),
      h('td', {}, p.lastBuilds[0] ? fmtTime(p.lastBuilds[0].start) : ''),
      h('td', {}, h('div', { class: 'actions' },
        button('Start build', async () => {
          const r = await api('/console/api/start', { type: 'build', project: p.name });
          location.hash = '#/builds/' + enc(r.id);
        }),
        p.batch ? button('Start batch', async () => {
          const r = await api('/console/api/start', { type: 'batch', project: p.name });
          location.hash = '#/batches/' + enc(r.id);
        }) : null,
        h('a', { href: '#/batches?project=' + enc(p.name) }, 'batches')))));
    root.replaceChildren(
      h('h1', {}, 'Projects'),
      rows.length ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Project'), h('th', {}, 'Source'), h('th', {}, 'Last builds'), h('th', {}, 'Last started'), h('th', {}, ''))), h('tbody', {}, rows))
        : h('p', { class: 'muted' }, 'No projects in this account and region yet. Create one with the aws cli (aws codebuild create-project …).'),
      h('div', { class: 'pager' }, next ? h('a', { href: '#/projects' }, 'First page') : null, data.next ? h('a', { href: '#/projects?next=' + enc(data.next) }, 'Next page') : null));
  };
  return page(load, (ev) => ev.type === 'build');
}

// ---- lists of builds and batches ----

const statuses = ['', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'FAULT', 'STOPPED', 'TIMED_OUT'];

function filters(kind, params) {
  const project = h('input', { name: 'project', value: params.get('project') || '', placeholder: 'project' });
  const status = h('select', { name: 'status' }, statuses.map((st) => h('option', { value: st, selected: st === (params.get('status') || '') }, st || 'any status')));
  const form = h('form', { class: 'filters' }, 'Project ', project, ' Status ', status, h('button', { type: 'submit' }, 'Filter'));
  const go = (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (project.value) q.set('project', project.value);
    if (status.value) q.set('status', status.value);
    location.hash = `#/${kind}?${q}`;
  };
  form.addEventListener('submit', go);
  status.addEventListener('change', go);
  return form;
}

function pager(kind, params, next) {
  const q = new URLSearchParams(params);
  const first = params.get('next');
  q.delete('next');
  const firstLink = first ? h('a', { href: `#/${kind}?${q}` }, 'Newest') : null;
  q.set('next', next || '');
  return h('div', { class: 'pager' }, firstLink, next ? h('a', { href: `#/${kind}?${q}` }, 'Older') : null);
}

function buildsPage(root, params) {
  const qs = new URLSearchParams({ project: params.get('project') || '', status: params.get('status') || '', next: params.get('next') || '' });
  const form = filters('builds', params);
  const load = async () => {
    const data = await api('/console/api/builds?' + qs);
    const rows = data.builds.map((b) => h('tr', { 'data-build': b.id },
      h('td', {}, buildLink(b.id, `${b.project}:${b.number}`)),
      h('td', {}, badge(b.status)),
      h('td', {}, b.complete ? '' : b.phase),
      h('td', {}, fmtTime(b.start)),
      h('td', {}, dur(b.start, b.end || (b.complete ? b.start : 0))),
      h('td', {}, b.batch ? batchLink(b.batch, 'batch') : ''),
      h('td', { class: 'muted' }, b.initiator || '')));
    root.replaceChildren(h('h1', {}, 'Builds'), form,
      rows.length ? h('table', {}, h('thead', {}, h('tr', {}, ['Build', 'Status', 'Phase', 'Started', 'Duration', 'Batch', 'Initiator'].map((t) => h('th', {}, t)))), h('tbody', {}, rows))
        : h('p', { class: 'muted' }, 'No builds.'),
      pager('builds', params, data.next));
  };
  const project = params.get('project');
  return page(load, (ev) => ev.type === 'build' && (!project || ev.project === project));
}

function batchesPage(root, params) {
  const qs = new URLSearchParams({ project: params.get('project') || '', status: params.get('status') || '', next: params.get('next') || '' });
  const form = filters('batches', params);
  const load = async () => {
    const data = await api('/console/api/batches?' + qs);
    const rows = data.batches.map((b) => h('tr', { 'data-batch': b.id },
      h('td', {}, batchLink(b.id, `${b.project}:${b.number}`)),
      h('td', {}, badge(b.status)),
      h('td', {}, b.complete ? '' : b.phase),
      h('td', {}, b.groups ? counts(b.counts, b.groups) : ''),
      h('td', {}, fmtTime(b.start)),
      h('td', {}, dur(b.start, b.end || (b.complete ? b.start : 0)))));
    root.replaceChildren(h('h1', {}, 'Batch builds'), form,
      rows.length ? h('table', {}, h('thead', {}, h('tr', {}, ['Batch', 'Status', 'Phase', 'Groups', 'Started', 'Duration'].map((t) => h('th', {}, t)))), h('tbody', {}, rows))
        : h('p', { class: 'muted' }, 'No batch builds.'),
      pager('batches', params, data.next));
  };
  const project = params.get('project');
  return page(load, (ev) => ev.type === 'batch' && (!project || ev.project === project));
}

// ---- one batch ----

function batchPage(root, id) {
  const head = h('div');
  const box = h('div', { class: 'graphbox' });
  const rest = h('div');
  root.replaceChildren(head, box, rest);
  let current = id;
  let groupsOpen = null;
  const load = async () => {
    const data = await api('/console/api/batch?id=' + enc(id));
    const b = data.batch;
    current = b.id;
    const failed = ['FAILED', 'FAULT', 'STOPPED', 'TIMED_OUT'].includes(b.status);
    head.replaceChildren(
      h('h1', {}, `Batch ${b.project}:${b.number}`, badge(b.status)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Project'), h('dd', {}, h('a', { href: '#/batches?project=' + enc(b.project) }, b.project)),
        h('dt', {}, 'Phase'), h('dd', {}, b.phase || ''),
        h('dt', {}, 'Started'), h('dd', {}, fmtTime(b.start)),
        h('dt', {}, 'Duration'), h('dd', {}, dur(b.start, b.end || (b.complete ? b.start : 0))),
        h('dt', {}, 'Initiator'), h('dd', {}, b.initiator || ''),
        h('dt', {}, 'Source version'), h('dd', { class: 'mono' }, b.resolvedSourceVersion || b.sourceVersion || '')),
      h('div', { class: 'actions' },
        !b.complete ? button('Stop batch', () => api('/console/api/stop', { type: 'batch', id: b.id }).then(refresh), 'danger') : null,
        b.complete && failed ? button('Retry', async () => {
          const r = await api('/console/api/retry', { type: 'batch', id: b.id });
          location.hash = '#/batches/' + enc(r.id);
          refresh();
        }) : null,
        b.complete && failed ? button('Retry failed builds', async () => {
          await api('/console/api/retry', { type: 'batch', id: b.id, failedOnly: true });
          refresh();
        }) : null),
      h('div', { class: 'legend' }, ['SUCCEEDED', 'IN_PROGRESS', 'FAILED', 'STOPPED', 'PENDING'].map((st) => h('span', {}, h('span', { class: 'chip st-' + st }), st.toLowerCase().replace('_', ' ')))));
    const scroll = [box.scrollLeft, box.scrollTop];
    box.replaceChildren(drawGraph(data.graph));
    [box.scrollLeft, box.scrollTop] = scroll;
    if (groupsOpen === null) groupsOpen = data.graph.nodes.length <= 30; // a big matrix's list starts folded
    const groups = h('details', { open: groupsOpen }, h('summary', {}, h('h2', {}, `Groups (${data.graph.nodes.length})`)),
      h('table', {}, h('thead', {}, h('tr', {}, ['Group', 'Status', 'Phase', 'Duration', 'Depends on', 'Retries'].map((t) => h('th', {}, t)))),
        h('tbody', {}, data.graph.nodes.map((n) => h('tr', { 'data-group': n.id },
          h('td', {}, n.build ? buildLink(n.build, n.id) : n.id),
          h('td', {}, badge(n.status)),
          h('td', {}, ended(n.status) ? '' : n.phase || ''),
          h('td', {}, dur(n.start, n.end || (ended(n.status) ? n.start : 0))),
          h('td', {}, n.dependsOn.join(', ')),
          h('td', {}, n.retries || ''))))));
    groups.addEventListener('toggle', () => { groupsOpen = groups.open; });
    rest.replaceChildren(groups,
      h('h2', {}, 'Phases'),
      phaseTable(b.phases || [], b.start, b.end, b.complete));
  };
  const v = page(load, (ev) => (ev.type === 'batch' && ev.id === current) || (ev.type === 'build' && ev.batch === current));
  const refresh = v.refresh;
  return v;
}

// drawGraph draws the layout the server computed (see graph.go).
function drawGraph(g) {
  const svg = s('svg', { class: 'graph', width: g.width, height: g.height, viewBox: `0 0 ${g.width} ${g.height}`, role: 'img', 'aria-label': 'Build graph' });
  svg.append(s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    s('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8c959f' }))));
  for (const c of g.clusters) {
    const summary = Object.entries(c.counts).map(([k, v]) => `${v} ${k.toLowerCase().replace('_', ' ')}`).join(' · ');
    svg.append(s('g', { class: 'cluster', 'data-cluster': c.id },
      s('rect', { x: c.x, y: c.y, width: c.w, height: c.h, rx: 8 }),
      s('text', { x: c.x + 10, y: c.y + 16 }, `${c.label} · ${c.members} builds · ${summary}`)));
  }
  for (const e of g.edges) {
    const mx = (e.x1 + e.x2) / 2;
    svg.append(s('path', { class: e.source ? 'edge source' : 'edge', 'data-from': e.from, 'data-to': e.to, 'marker-end': 'url(#arrow)',
      d: `M${e.x1},${e.y1} C${mx},${e.y1} ${mx},${e.y2} ${e.x2},${e.y2}` }));
  }
  for (const n of g.nodes) {
    const cls = ['node', 'st-' + n.status, n.compact ? 'compact' : '', n.source ? 'source' : 'group'].join(' ');
    const done = ended(n.status);
    const node = s('g', { class: cls, transform: `translate(${n.x},${n.y})`, 'data-group': n.id, 'data-status': n.status, 'data-build': n.build || '',
      tabindex: n.build ? 0 : null, role: n.build ? 'link' : null },
      s('title', {}, `${n.id}: ${n.status}${n.ignoreFailure ? ' (failure ignored)' : ''}`));
    if (n.compact) {
      node.append(s('rect', { width: n.w, height: n.h, rx: 3 }));
    } else {
      const name = n.id.length > 24 ? n.id.slice(0, 23) + '…' : n.id;
      const meta = s('text', { class: 'meta', x: 16, y: 44 }, n.status.toLowerCase().replace('_', ' '));
      if (n.start) meta.append(' · ', dur(n.start, n.end || (done ? n.start : 0), 'tspan'));
      if (!done && n.phase && n.status === 'IN_PROGRESS') meta.append(' · ' + n.phase.toLowerCase().replace('_', ' '));
      node.append(
        s('rect', { class: 'box', width: n.w, height: n.h, rx: 6 }),
        s('rect', { class: 'bar', width: 6, height: n.h, rx: 3 }),
        s('text', { class: 'name', x: 16, y: 22 }, name),
        meta);
    }
    if (n.build) {
      const go = () => { location.hash = '#/builds/' + enc(n.build); };
      node.addEventListener('click', go);
      node.addEventListener('keydown', (ev) => ev.key === 'Enter' && go());
    }
    svg.append(node);
  }
  return svg;
}

// phaseTable draws phases as a timeline: each phase's span on the run's
// time axis, its duration, and the contexts of phases that did not succeed.
// The last phase of a complete run (COMPLETED, or the batch's final status)
// has no end.
function phaseTable(phases, start, end, complete) {
  const t0 = start || (phases[0] && phases[0].start) || Date.now();
  const t1 = Math.max(end || Date.now(), ...phases.map((p) => p.end || 0), t0 + 1);
  const grid = h('div', { class: 'timeline' });
  for (const p of phases) {
    const open = !p.end && !p.status;
    const status = p.status || (open && !complete ? 'IN_PROGRESS' : '');
    const until = p.end || (complete ? p.start : Date.now());
    const span = h('span', { class: 'span st-' + (status || 'PENDING') });
    span.style.left = (100 * (p.start - t0)) / (t1 - t0) + '%';
    span.style.width = (100 * (until - p.start)) / (t1 - t0) + '%';
    grid.append(
      h('span', { class: 'mono', 'data-phase': p.type }, p.type),
      h('span', {}, status ? badge(status) : ''),
      h('span', {}, open && complete ? '' : dur(p.start, p.end)),
      h('span', { class: 'track' }, span));
    if (p.contexts && p.contexts.length && status !== 'SUCCEEDED') {
      grid.append(h('div', { class: 'ctx', 'data-context': p.type }, p.contexts.join('\n')));
    }
  }
  return grid;
}

// ---- one build ----

function buildPage(root, id) {
  const head = h('div');
  const body = h('div');
  const pre = h('pre', { class: 'log', id: 'log' });
  const logState = h('div', { class: 'logstate' }, 'Loading the log…');
  root.replaceChildren(head, body, h('h2', {}, 'Log'), logState, pre);
  const abort = new AbortController();
  let current = id;
  const load = async () => {
    const data = await api('/console/api/build?id=' + enc(id), undefined, abort.signal);
    const b = data.build;
    current = b.id;
    const ms = (t) => (t ? Math.round(t * 1000) : 0);
    const env = b.environment || {};
    head.replaceChildren(
      h('h1', {}, `Build ${b.projectName}:${b.buildNumber}`, badge(b.buildStatus)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Project'), h('dd', {}, h('a', { href: '#/builds?project=' + enc(b.projectName) }, b.projectName)),
        data.batch ? [h('dt', {}, 'Batch'), h('dd', {}, batchLink(data.batch))] : null,
        h('dt', {}, 'Phase'), h('dd', {}, b.currentPhase || ''),
        h('dt', {}, 'Started'), h('dd', {}, fmtTime(ms(b.startTime))),
        h('dt', {}, 'Duration'), h('dd', {}, dur(ms(b.startTime), ms(b.endTime) || (b.buildComplete ? ms(b.startTime) : 0))),
        h('dt', {}, 'Initiator'), h('dd', {}, b.initiator || ''),
        h('dt', {}, 'Source version'), h('dd', { class: 'mono' }, b.resolvedSourceVersion || b.sourceVersion || '')),
      h('div', { class: 'actions' },
        !b.buildComplete ? button('Stop build', () => api('/console/api/stop', { type: 'build', id: b.id }).then(refresh), 'danger') : null,
        b.buildComplete && !data.batch ? button('Retry', async () => {
          const r = await api('/console/api/retry', { type: 'build', id: b.id });
          location.hash = '#/builds/' + enc(r.id);
        }) : null));
    const phases = (b.phases || []).map((p) => ({
      type: p.phaseType, status: p.phaseStatus || '', start: ms(p.startTime), end: ms(p.endTime),
      contexts: (p.contexts || []).map((c) => [c.statusCode, c.message].filter(Boolean).join(': ')).filter(Boolean),
    }));
    const vars = env.environmentVariables || [];
    body.replaceChildren(
      h('h2', {}, 'Phases'), phaseTable(phases, ms(b.startTime), ms(b.endTime), b.buildComplete),
      h('h2', {}, 'Environment'),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Type'), h('dd', {}, env.type || ''),
        h('dt', {}, 'Image'), h('dd', { class: 'mono' }, env.image || ''),
        h('dt', {}, 'Compute'), h('dd', {}, env.computeType || ''),
        h('dt', {}, 'Timeout'), h('dd', {}, b.timeoutInMinutes ? b.timeoutInMinutes + ' min' : '')),
      vars.length ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Variable'), h('th', {}, 'Type'), h('th', {}, 'Value'))),
        h('tbody', {}, vars.map((v) => h('tr', {}, h('td', { class: 'mono' }, v.name), h('td', {}, v.type || 'PLAINTEXT'), h('td', { class: 'mono' }, v.value || ''))))) : '',
      h('h2', {}, 'Artifacts'),
      data.artifacts.length ? h('ul', {}, data.artifacts.map((a) => h('li', {},
        h('strong', {}, a.name), ' ', h('span', { class: 'muted mono' }, a.location),
        a.error ? h('div', { class: 'flash' }, a.error) : null,
        h('ul', {}, a.files.map((f) => h('li', {}, h('a', { href: f.url, download: '' }, f.path), h('span', { class: 'muted' }, ` ${f.size} bytes`)))),
        a.more ? h('div', { class: 'muted' }, 'More files than shown.') : null)))
        : h('p', { class: 'muted' }, 'No artifacts.'));
  };
  const v = page(load, (ev) => ev.type === 'build' && ev.id === current, () => abort.abort());
  const refresh = v.refresh;
  followLog(id, pre, logState, abort.signal);
  return v;
}

// followLog appends the build's log as it grows, with long polls of
// GetBuildLog, until the build is complete and its log read to the end.
async function followLog(id, pre, state, signal) {
  let offset = 0;
  while (!signal.aborted) {
    let r;
    try {
      r = await api(`/console/api/log?id=${enc(id)}&offset=${offset}&wait=10`, undefined, signal);
    } catch (e) {
      if (signal.aborted) return;
      state.textContent = 'Reading the log failed (' + e.message + '); trying again…';
      await sleep(2000);
      continue;
    }
    if (r.text) {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
      pre.append(r.text);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
    offset = r.nextOffset;
    if (r.complete) {
      state.textContent = 'The build is complete; this is its whole log.';
      pre.dataset.complete = 'true';
      return;
    }
    state.textContent = 'Following the log as the build runs…';
    if (!r.text) await sleep(500); // a queued build has no log yet
  }
}

start();
