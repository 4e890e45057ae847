// Tripswitch local console. Plain script, no dependencies.
//
// The admin key is kept in sessionStorage (this tab only) and sent only in
// the Authorization header. Live updates come from
// /console/api/projects/{id}/live, read with fetch() because EventSource
// cannot send headers and the key must never be put in a URL.
'use strict';

(function () {
  const KEY_ITEM = 'tripswitch.console.adminKey';
  const PROJECT_ITEM = 'tripswitch.console.project';
  const RECONNECT_MS = 1000;
  const MAX_EVENTS = 500;

  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';

  const ui = {
    rows: new Map(),   // breaker ID -> {tr, cells}
    charts: new Map(), // breaker ID -> [{svg, label}]
  };
  let view = null;     // the current project's data, from the last snapshot
  let stream = null;   // AbortController of the live stream
  let retry = null;

  // ---- helpers -------------------------------------------------------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }

  function key() { return sessionStorage.getItem(KEY_ITEM) || ''; }

  function api(path, opts) {
    opts = opts || {};
    const headers = Object.assign({ Authorization: 'Bearer ' + key() }, opts.headers || {});
    return fetch(path, Object.assign({}, opts, { headers, cache: 'no-store', credentials: 'omit' }));
  }

  function projectPath(suffix) {
    return '/v1/projects/' + encodeURIComponent(view.projectId) + suffix;
  }

  function fmtNum(v) {
    if (!isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a >= 1000) return v.toFixed(0);
    if (a >= 100) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2);
    return v.toPrecision(2);
  }

  function fmtValue(b, v) {
    return b.kind === 'error_rate' ? (v * 100).toFixed(1) + ' %' : fmtNum(v);
  }

  function fmtMs(ms) {
    if (ms % 3600000 === 0) return ms / 3600000 + 'h';
    if (ms % 60000 === 0) return ms / 60000 + 'm';
    if (ms % 1000 === 0) return ms / 1000 + 's';
    return ms + 'ms';
  }

  const OPS = { gt: '>', gte: '≥', lt: '<', lte: '≤' };

  function holds(op, v, t) {
    switch (op) {
      case 'gt': return v > t;
      case 'gte': return v >= t;
      case 'lt': return v < t;
      case 'lte': return v <= t;
    }
    return false;
  }

  function kindLabel(b) {
    if (b.kind === 'percentile') return 'p' + b.percentile;
    return b.kind.replace(/_/g, ' ');
  }

  function stateLabel(state, rate) {
    if (state === 'half_open') return rate === undefined ? 'half-open' : 'half-open ' + Math.round(rate * 100) + '%';
    return state;
  }

  function badge(state, rate) {
    return el('span', 'badge ' + state, stateLabel(state, rate));
  }

  function routerName(id) {
    const r = view.routers.get(id);
    return r ? r.name : id;
  }

  function historySpan(b) {
    return Math.min(Math.max(2 * b.window_ms, 60000), 600000);
  }

  // ---- sign in and project choice -----------------------------------

  function showLogin(message) {
    closeStream();
    $('app').hidden = true;
    $('project-pick').hidden = true;
    $('signout').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    setStatus('not connected', 'down');
    $('key').focus();
  }

  function setStatus(text, cls) {
    const s = $('status');
    s.textContent = text;
    s.className = 'status ' + (cls || '');
  }

  function describeOrigin() {
    const host = location.hostname;
    const loopback = host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
    const p = $('origin');
    if (loopback) {
      p.textContent = 'Loopback address ' + location.host + ': by default the local server listens only here, ' +
        'so only this machine can open this console (unless it was started with another -addr). ' +
        'The console needs the admin key of this server.';
    } else {
      p.textContent = 'Served on ' + location.host + ', which other machines may reach: anyone with the admin key ' +
        'can force breakers here. Bind tripswitch-local to 127.0.0.1 unless you mean to share it.';
      p.classList.add('exposed');
    }
  }

  async function start() {
    setStatus('connecting…');
    let resp;
    try {
      resp = await api('/v1/projects?limit=500');
    } catch (e) {
      setStatus('server unreachable', 'down');
      retry = setTimeout(start, RECONNECT_MS);
      return;
    }
    if (resp.status === 401 || resp.status === 403) {
      sessionStorage.removeItem(KEY_ITEM);
      showLogin('The server refused this key (' + resp.status + '). Use the admin key (eb_admin_…).');
      return;
    }
    if (!resp.ok) {
      setStatus('error ' + resp.status, 'down');
      return;
    }
    const body = await resp.json();
    const projects = Array.isArray(body) ? body : (body.projects || []);
    const sel = $('project');
    sel.replaceChildren();
    for (const p of projects) {
      const o = el('option', '', p.name + ' (' + p.id + ')');
      o.value = p.id;
      sel.appendChild(o);
    }
    const saved = sessionStorage.getItem(PROJECT_ITEM);
    if (saved && projects.some((p) => p.id === saved)) sel.value = saved;
    $('login').hidden = true;
    $('project-pick').hidden = projects.length < 2;
    $('signout').hidden = false;
    $('app').hidden = false;
    if (projects.length === 0) {
      setStatus('no projects', 'down');
      return;
    }
    connect(sel.value);
  }

  // ---- live stream ----------------------------------------------------

  function closeStream() {
    if (stream) stream.abort();
    stream = null;
    clearTimeout(retry);
  }

  async function connect(projectId) {
    closeStream();
    const ctl = new AbortController();
    stream = ctl;
    view = { projectId, breakers: new Map(), routers: new Map(), events: [], history: new Map(), rates: new Map() };
    try {
      const resp = await api('/console/api/projects/' + encodeURIComponent(projectId) + '/live',
        { signal: ctl.signal, headers: { Accept: 'text/event-stream' } });
      if (resp.status === 401 || resp.status === 403) {
        sessionStorage.removeItem(KEY_ITEM);
        showLogin('The server refused this key (' + resp.status + ').');
        return;
      }
      if (resp.status === 404) { // the project was deleted: list the projects again
        setStatus('project not found', 'down');
        retry = setTimeout(start, RECONNECT_MS);
        return;
      }
      if (!resp.ok) throw new Error('status ' + resp.status);
      setStatus('live', 'live');
      await readEvents(resp.body, ctl);
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    if (stream !== ctl) return;
    setStatus('reconnecting…', 'down');
    retry = setTimeout(() => connect(projectId), RECONNECT_MS);
  }

  // readEvents parses a server-sent event stream: blocks separated by a
  // blank line, with "event:" and "data:" fields and ":" comments.
  async function readEvents(body, ctl) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done || ctl.signal.aborted) return;
      buf += decoder.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'event') event = val;
          else if (field === 'data') data.push(val);
        }
        if (data.length > 0) handle(event, JSON.parse(data.join('\n')));
      }
    }
  }

  function handle(event, data) {
    switch (event) {
      case 'snapshot': onSnapshot(data); break;
      case 'state': onState(data); break;
      case 'events': onEvents(data); break;
      case 'metrics': onMetrics(data); break;
    }
  }

  function onSnapshot(s) {
    view.breakers = new Map(s.breakers.map((b) => [b.id, Object.assign({ value: null, count: 0 }, b)]));
    view.routers = new Map(s.routers.map((r) => [r.id, r]));
    view.events = s.events;
    view.history = new Map();
    view.rateWindowMs = s.rate_window_ms;
    for (const b of view.breakers.values()) {
      const h = s.history[b.id] || [];
      view.history.set(b.id, h);
      if (h.length > 0) {
        b.value = h[h.length - 1][1];
        b.count = h[h.length - 1][2];
      }
    }
    view.nowMs = s.now_ms;
    renderBreakers();
    renderSignals();
    renderFilter();
    renderTimeline();
  }

  function byName(name) {
    for (const b of view.breakers.values()) if (b.name === name) return b;
    return null;
  }

  function onState(d) {
    const b = byName(d.breaker);
    if (!b) return;
    const changed = b.state !== d.state || b.allow_rate !== d.allow_rate;
    b.state = d.state;
    b.allow_rate = d.allow_rate;
    updateRow(b, changed);
  }

  function onEvents(evs) {
    view.events = evs.concat(view.events).slice(0, MAX_EVENTS);
    renderTimeline();
    drawCharts();
  }

  function onMetrics(m) {
    view.nowMs = m.now_ms;
    const held = new Set(m.held);
    for (const [id, p] of Object.entries(m.points)) {
      const b = view.breakers.get(id);
      if (!b) continue;
      b.held = held.has(id);
      b.value = p[1];
      b.count = p[2];
      const h = view.history.get(id) || [];
      h.push(p);
      const from = m.now_ms - historySpan(b);
      while (h.length > 0 && h[0][0] < from) h.shift();
      view.history.set(id, h);
      updateRow(b, false);
    }
    view.rates = new Map(m.rates.map((r) => [r.router_id + '\n' + r.metric, r.per_second]));
    updateRates();
    drawCharts();
  }

  // ---- breakers table -------------------------------------------------

  function renderBreakers() {
    const tbody = $('breakers').querySelector('tbody');
    tbody.replaceChildren();
    ui.rows.clear();
    for (const b of view.breakers.values()) {
      const tr = el('tr');
      tr.dataset.breaker = b.name;
      const cells = {};
      for (const name of ['state', 'name', 'condition', 'window', 'now', 'routers', 'controls']) {
        cells[name] = el('td', name === 'now' || name === 'window' ? 'num' : '');
        tr.appendChild(cells[name]);
      }
      cells.name.append(el('span', 'name', b.name), el('span', 'sub', b.metric));
      cells.condition.textContent = kindLabel(b) + ' ' + (OPS[b.op] || b.op) + ' ' + fmtValue(b, b.threshold);
      cells.window.append(document.createTextNode(fmtMs(b.window_ms)),
        el('span', 'sub', 'min ' + b.min_count + (b.min_count === 1 ? ' sample' : ' samples')));
      cells.routers.textContent = b.router_ids.map(routerName).join(', ') || '—';
      const controls = el('div', 'controls');
      for (const [action, label] of [['open', 'Force open'], ['closed', 'Force closed'],
        ['release', 'Release'], ['reset', 'Reset window']]) {
        const btn = el('button', '', label);
        btn.type = 'button';
        btn.dataset.action = action;
        btn.addEventListener('click', () => control(b, action, btn));
        controls.appendChild(btn);
      }
      cells.controls.appendChild(controls);
      tbody.appendChild(tr);
      ui.rows.set(b.id, { tr, cells });
      updateRow(b, false);
    }
    $('no-breakers').hidden = view.breakers.size > 0;
  }

  function updateRow(b, changed) {
    const row = ui.rows.get(b.id);
    if (!row) return;
    const c = row.cells;
    c.state.replaceChildren(badge(b.state, b.allow_rate));
    if (b.held) c.state.appendChild(el('span', 'held', 'held until released'));
    row.tr.dataset.state = b.state;
    row.tr.dataset.held = b.held ? 'true' : 'false';
    c.now.replaceChildren();
    if (b.value === null || b.count === 0) {
      c.now.append(el('span', 'sub', 'no samples'));
    } else {
      const over = holds(b.op, b.value, b.threshold);
      c.now.append(el('span', over ? 'over' : '', fmtValue(b, b.value)),
        el('span', 'sub', b.count + (b.count < b.min_count ? ' < min ' + b.min_count : ' samples')));
    }
    row.tr.querySelector('[data-action="release"]').disabled = !b.held;
    if (changed) {
      row.tr.dataset.changedAt = String(Date.now());
      row.tr.classList.remove('flash');
      void row.tr.offsetWidth; // restart the animation
      row.tr.classList.add('flash');
    }
  }

  async function control(b, action, btn) {
    const paths = { open: '/state:force', closed: '/state:force', release: '/state:release', reset: '/window:reset' };
    const body = action === 'open' || action === 'closed' ? JSON.stringify({ state: action }) : undefined;
    btn.disabled = true;
    $('action-error').textContent = '';
    try {
      const resp = await api(projectPath('/breakers/' + encodeURIComponent(b.id) + paths[action]), {
        method: 'POST', body, headers: { 'Content-Type': 'application/json' },
      });
      const out = await resp.json();
      if (!resp.ok) throw new Error(out.message || ('status ' + resp.status));
      const changed = b.state !== out.state;
      b.state = out.state;
      b.allow_rate = out.allow_rate;
      b.held = out.held;
      if (action === 'reset') {
        b.value = null;
        b.count = 0;
      }
      updateRow(b, changed);
    } catch (e) {
      $('action-error').textContent = b.name + ': ' + e.message;
    } finally {
      btn.disabled = false;
      updateRow(b, false);
    }
  }

  // ---- signals: rates and charts ----------------------------------------

  // signalKeys lists router and metric pairs: those of every breaker's
  // links, then any other that has traffic.
  function signalKeys() {
    const keys = new Map();
    for (const b of view.breakers.values()) {
      for (const r of b.router_ids) {
        const k = r + '\n' + b.metric;
        if (!keys.has(k)) keys.set(k, { router: r, metric: b.metric, breakers: [] });
        keys.get(k).breakers.push(b);
      }
    }
    for (const k of view.rates.keys()) {
      if (!keys.has(k)) {
        const [router, metric] = k.split('\n');
        keys.set(k, { router, metric, breakers: [] });
      }
    }
    return keys;
  }

  function renderSignals() {
    const box = $('signals');
    box.replaceChildren();
    ui.charts.clear();
    for (const [k, sig] of signalKeys()) {
      const card = el('article', 'signal');
      card.dataset.signal = k.replace('\n', ' ');
      const head = el('header');
      head.append(el('strong', '', routerName(sig.router) + ' · ' + sig.metric), el('span', 'rate', ''));
      head.lastChild.dataset.key = k;
      card.appendChild(head);
      for (const b of sig.breakers) {
        const chart = el('div', 'chart');
        const label = el('div', 'label');
        chart.append(label, svg('svg', { viewBox: '0 0 320 90', preserveAspectRatio: 'none', role: 'img' }));
        card.appendChild(chart);
        if (!ui.charts.has(b.id)) ui.charts.set(b.id, []);
        ui.charts.get(b.id).push({ chart, label, svg: chart.lastChild });
      }
      box.appendChild(card);
    }
    updateRates();
    drawCharts();
  }

  function updateRates() {
    const keys = signalKeys();
    const known = new Set(Array.from($('signals').querySelectorAll('.rate'), (e) => e.dataset.key));
    for (const k of keys.keys()) {
      if (!known.has(k)) { renderSignals(); return; }
    }
    for (const e of $('signals').querySelectorAll('.rate')) {
      const v = view.rates.get(e.dataset.key) || 0;
      e.textContent = v.toFixed(1) + ' samples/s';
    }
  }

  function drawCharts() {
    for (const [id, charts] of ui.charts) {
      const b = view.breakers.get(id);
      if (!b) continue;
      for (const c of charts) drawChart(b, c);
    }
  }

  // drawChart plots the breaker's aggregate (blue) against its threshold
  // (dashed red) over its history span, with a tick at each transition.
  function drawChart(b, c) {
    const W = 320, H = 90, L = 44, R = 4, T = 6, B = 14;
    const now = view.nowMs || Date.now();
    const span = historySpan(b);
    const pts = (view.history.get(b.id) || []).filter((p) => p[0] >= now - span);
    let hi = Math.max(b.threshold * 1.25, 0);
    let lo = Math.min(0, b.threshold);
    for (const p of pts) { hi = Math.max(hi, p[1] * 1.1); lo = Math.min(lo, p[1]); }
    if (hi === lo) hi = lo + 1;
    const x = (t) => L + (W - L - R) * (t - (now - span)) / span;
    const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));

    const s = c.svg;
    s.replaceChildren();
    s.appendChild(svg('rect', { class: 'plot', x: L, y: T, width: W - L - R, height: H - T - B }));
    for (const e of view.events) {
      const t = Date.parse(e.timestamp);
      if (e.breaker_id !== b.id || t < now - span) continue;
      s.appendChild(svg('line', { class: 'mark ' + e.to_state, x1: x(t), x2: x(t), y1: T, y2: H - B }));
    }
    s.appendChild(svg('line', { class: 'threshold', x1: L, x2: W - R, y1: y(b.threshold), y2: y(b.threshold) }));
    if (pts.length > 0) {
      const d = pts.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' ');
      s.appendChild(svg('polyline', { class: 'value', points: d }));
    }
    const text = (str, ax, ay, anchor) => {
      const t = svg('text', { class: 'axis', x: ax, y: ay, 'text-anchor': anchor || 'start' });
      t.textContent = str;
      s.appendChild(t);
    };
    text(fmtValue(b, hi), L - 3, T + 8, 'end');
    text(fmtValue(b, lo), L - 3, H - B, 'end');
    text('−' + fmtMs(span), L, H - 2);
    text('now', W - R, H - 2, 'end');

    c.label.replaceChildren(el('span', '', b.name + ' · ' + kindLabel(b) + ' ' + (OPS[b.op] || b.op) + ' ' +
      fmtValue(b, b.threshold)), badge(b.state, b.allow_rate));
  }

  // ---- timeline ---------------------------------------------------------

  function renderFilter() {
    const sel = $('filter');
    const cur = sel.value;
    sel.replaceChildren(el('option', '', 'all breakers'));
    sel.firstChild.value = '';
    for (const b of view.breakers.values()) {
      const o = el('option', '', b.name);
      o.value = b.id;
      sel.appendChild(o);
    }
    sel.value = view.breakers.has(cur) ? cur : '';
  }

  function renderTimeline() {
    const filter = $('filter').value;
    const list = $('timeline');
    list.replaceChildren();
    let n = 0;
    for (const e of view.events) {
      if (filter && e.breaker_id !== filter) continue;
      const li = el('li');
      li.dataset.breaker = e.breaker_name;
      const t = new Date(e.timestamp);
      const time = el('time', '', t.toLocaleTimeString([], { hour12: false }));
      time.dateTime = e.timestamp;
      const what = el('span', 'what', e.breaker_name + ' ');
      what.append(badge(e.from_state), ' → ', badge(e.to_state, e.allow_rate));
      li.append(time, what, el('span', 'reason', e.reason || ''));
      list.appendChild(li);
      n++;
    }
    $('no-events').hidden = n > 0;
  }

  // ---- wiring -----------------------------------------------------------

  document.addEventListener('DOMContentLoaded', () => {
    describeOrigin();
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const k = $('key').value.trim();
      $('key').value = '';
      if (!k) {
        $('login-error').textContent = 'Enter the admin key.';
        return;
      }
      sessionStorage.setItem(KEY_ITEM, k);
      start();
    });
    $('signout').addEventListener('click', () => {
      sessionStorage.removeItem(KEY_ITEM);
      showLogin('');
    });
    $('project').addEventListener('change', (ev) => {
      sessionStorage.setItem(PROJECT_ITEM, ev.target.value);
      connect(ev.target.value);
    });
    $('filter').addEventListener('change', renderTimeline);
    if (key()) start(); else showLogin('');
  });
})();
