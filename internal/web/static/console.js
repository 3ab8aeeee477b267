// capy's web console: metadata only. It talks to capyd's /v1 API with an
// HttpOnly cookie session (the script never sees the session's secret)
// and sends the CSRF token capyd gave it with every change. The routes it
// may reach are an allow-list on the server; the key routes refuse its
// cookie. Everything shown is put in the page with textContent, never as
// markup.
'use strict';

(function () {
  const state = { me: null, csrf: '', orgs: [], org: null, tab: 'projects', members: [] };
  const $ = (id) => document.getElementById(id);

  // ---- API ---------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || ('the service answered ' + status));
      this.status = status;
      this.type = problem && problem.type ? String(problem.type).replace(/^.*\//, '') : '';
    }
  }

  async function api(method, path, body) {
    const headers = {};
    const opts = { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    if (method !== 'GET' && state.csrf) headers['Capy-Csrf-Token'] = state.csrf;
    const r = await fetch(path, opts);
    if (r.status === 204) return null;
    let j = null;
    try { j = await r.json(); } catch (e) { j = null; }
    if (!r.ok) {
      if (r.status === 401 && state.me) signedOut('Your session has ended. Sign in again.');
      throw new ApiError(r.status, j);
    }
    return j;
  }

  // all follows a list's cursors to its end, at most maxPages pages (a
  // cursor seen twice ends it too); complete says whether it got there.
  async function pages(path, maxPages) {
    const items = [];
    const seen = new Set();
    let cursor = null;
    for (let i = 0; i < maxPages; i++) {
      const sep = path.includes('?') ? '&' : '?';
      const page = await api('GET', cursor ? path + sep + 'cursor=' + encodeURIComponent(cursor) : path);
      items.push(...page.items);
      if (!page.next_cursor) return { items, complete: true };
      if (seen.has(page.next_cursor)) break;
      seen.add(page.next_cursor);
      cursor = page.next_cursor;
    }
    return { items, complete: false };
  }
  async function all(path) { return (await pages(path, 50)).items; }

  const orgPath = () => '/v1/orgs/' + encodeURIComponent(state.org.id);

  // ---- DOM helpers -------------------------------------------------------

  function el(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k === 'text') n.textContent = v;
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat()) {
      if (k === null || k === undefined || k === false) continue;
      n.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return n;
  }

  function when(t) {
    if (!t) return '—';
    const d = new Date(t);
    if (isNaN(d)) return String(t);
    return d.toISOString().replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
  }

  function badge(text, kind) { return el('span', { class: 'badge ' + (kind || ''), text }); }

  const statusKind = { active: 'good', pending: 'info', redeemed: 'info', consumed: 'plain', revoked: 'bad', expired: 'plain' };

  function table(cols, rows, empty, cls) {
    if (!rows.length) return el('p', { class: 'empty muted', text: empty });
    return el('div', { class: 'table-wrap' },
      el('table', { class: 'list ' + (cls || '') },
        el('thead', {}, el('tr', {}, cols.map((c) => el('th', { text: c })))),
        el('tbody', {}, rows)));
  }

  // cell labels each cell for the phone layout (a table becomes cards).
  function row(cols, cells, attrs) {
    return el('tr', attrs || {}, cells.map((c, i) => el('td', { 'data-label': cols[i] }, c)));
  }

  function flash(msg, kind) {
    const f = $('flash');
    f.textContent = msg;
    f.className = 'notice ' + (kind || '');
  }
  function clearFlash() { $('flash').className = 'notice hidden'; }

  // A button that asks once more before acting: the first click arms it,
  // the second acts.
  function confirmButton(label, armedLabel, action, cls) {
    const b = el('button', { type: 'button', class: cls || 'danger small', text: label });
    b.addEventListener('click', async () => {
      if (!b.dataset.armed) {
        b.dataset.armed = '1';
        b.textContent = armedLabel;
        b.classList.add('armed');
        return;
      }
      b.disabled = true;
      try {
        await action();
      } catch (e) {
        flash(e.message, 'bad');
        b.disabled = false;
      }
    });
    return b;
  }

  function show(id) {
    for (const m of ['loading', 'login', 'app', 'no-org']) $(m).classList.toggle('hidden', m !== id);
  }

  // ---- sign-in -----------------------------------------------------------

  function loginError(msg) {
    const p = $('login-error');
    p.textContent = msg || '';
    p.classList.toggle('hidden', !msg);
  }

  function signedOut(msg) {
    state.me = null;
    state.csrf = '';
    $('who').textContent = '';
    $('logout').classList.add('hidden');
    $('start-form').classList.remove('hidden');
    $('verify-form').classList.add('hidden');
    loginError(msg || '');
    show('login');
  }

  async function startLogin(ev) {
    ev.preventDefault();
    const email = $('email').value.trim().toLowerCase();
    if (!email.includes('@')) return loginError('Enter your e-mail address.');
    $('start').disabled = true;
    try {
      await api('POST', '/v1/auth/start', { email });
      $('sent-to').textContent = email;
      $('start-form').classList.add('hidden');
      $('verify-form').classList.remove('hidden');
      loginError('');
      $('code').focus();
    } catch (e) {
      loginError(e.message);
    } finally {
      $('start').disabled = false;
    }
  }

  async function verifyLogin(ev) {
    ev.preventDefault();
    const code = $('code').value.replace(/\s+/g, '');
    if (!/^\d{8}$/.test(code)) return loginError('The code is 8 digits.');
    $('verify').disabled = true;
    try {
      const res = await api('POST', '/v1/console/session', { email: $('sent-to').textContent, code });
      $('code').value = '';
      await signedIn(res);
    } catch (e) {
      loginError(e.message);
    } finally {
      $('verify').disabled = false;
    }
  }

  async function signedIn(res) {
    state.me = res.user;
    state.csrf = res.csrf_token;
    $('who').textContent = res.user.email;
    $('logout').classList.remove('hidden');
    loginError('');
    state.orgs = await all('/v1/orgs');
    if (!state.orgs.length) return show('no-org');
    const sel = $('org');
    sel.replaceChildren(...state.orgs.map((o) => el('option', { value: o.id, text: o.name })));
    const [hashOrg, hashTab] = location.hash.replace(/^#\/?/, '').split('/');
    const org = state.orgs.find((o) => o.id === hashOrg) || state.orgs[0];
    sel.value = org.id;
    if (hashTab) state.tab = hashTab;
    show('app');
    await selectOrg(org.id);
  }

  async function logout() {
    try { await api('DELETE', '/v1/console/session'); } catch (e) { /* the session may be gone already */ }
    signedOut('You are signed out.');
  }

  // ---- org and tabs ------------------------------------------------------

  async function selectOrg(id) {
    state.org = state.orgs.find((o) => o.id === id);
    $('org-name').textContent = state.org.name;
    $('org-meta').textContent = 'Your role: ' + state.org.role + ' · created ' + when(state.org.created_at);
    await openTab(state.tab);
  }

  const isAdmin = () => state.org && (state.org.role === 'admin' || state.org.role === 'owner');
  const isOwner = () => state.org && state.org.role === 'owner';

  async function openTab(tab) {
    if (!views[tab]) tab = 'projects';
    state.tab = tab;
    history.replaceState(null, '', '#/' + state.org.id + '/' + tab);
    for (const b of $('tabs').querySelectorAll('button')) {
      b.setAttribute('aria-selected', String(b.dataset.tab === tab));
      if (b.dataset.tab === tab) b.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    }
    clearFlash();
    const view = $('view');
    view.replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
    try {
      const node = await views[tab]();
      view.replaceChildren(node);
      view.dataset.tab = tab;
    } catch (e) {
      view.replaceChildren(el('p', { class: 'error', text: e.message }));
    }
  }

  const reload = () => openTab(state.tab);

  async function loadMembers() {
    state.members = await all(orgPath() + '/members?status=all&limit=200');
    state.members.sort((a, b) => (a.status === b.status ? 0 : a.status === 'active' ? -1 : 1));
    return state.members;
  }
  function emailOf(id) {
    const m = state.members.find((x) => x.id === id);
    return m ? m.email : id;
  }

  // ---- views -------------------------------------------------------------

  const views = {};

  views.projects = async function () {
    const projects = await all(orgPath() + '/projects?limit=200');
    const wrap = el('div', {}, el('h2', { text: 'Projects' }),
      el('p', { class: 'lead', text: 'Environments and their versions: who pushed what version when, and at which key epoch. Values stay encrypted; only your capy CLI can read them.' }));
    if (!projects.length) wrap.append(el('p', { class: 'empty muted', text: 'No projects yet. Create one with capy init.' }));
    for (const p of projects) {
      const envs = await all(orgPath() + '/projects/' + p.id + '/envs?limit=200');
      const card = el('div', { class: 'card project', 'data-project': p.name },
        el('div', { class: 'card-head' }, el('h3', { text: p.name }),
          el('span', { class: 'muted small', text: 'created ' + when(p.created_at) + ' by ' + p.created_by.email })));
      const cols = ['Environment', 'Epoch', 'Head', 'Rotated', ''];
      const rows = envs.map((e) => {
        const holder = el('tr', { class: 'versions hidden' }, el('td', { colspan: '5' }));
        const btn = el('button', { type: 'button', class: 'secondary small', text: 'Versions' });
        btn.addEventListener('click', async () => {
          if (!holder.classList.contains('hidden')) { holder.classList.add('hidden'); btn.textContent = 'Versions'; return; }
          holder.classList.remove('hidden');
          btn.textContent = 'Hide versions';
          holder.firstChild.replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
          try {
            const vs = await all(orgPath() + '/projects/' + p.id + '/envs/' + e.id + '/versions?limit=200');
            vs.sort((a, b) => b.version - a.version);
            const vc = ['Version', 'Epoch', 'Pushed by', 'When', 'Size', 'Id'];
            holder.firstChild.replaceChildren(table(vc, vs.map((v) => row(vc, [
              el('strong', { text: 'v' + v.version }), String(v.epoch), v.created_by.email, when(v.created_at),
              v.size + ' B', el('code', { title: v.id, text: v.id.slice(0, 12) })], { 'data-version': String(v.version) })),
            'No version pushed yet.', 'versions-table'));
          } catch (err) {
            holder.firstChild.replaceChildren(el('p', { class: 'error', text: err.message }));
          }
        });
        return [row(cols, [el('strong', { text: e.name }), String(e.epoch),
          e.head ? 'v' + e.head.version : badge('empty', 'plain'), e.rotated_at ? when(e.rotated_at) : 'never', btn],
        { 'data-env': e.name }), holder];
      }).flat();
      card.append(table(cols, rows, 'No environments.'));
      wrap.append(card);
    }
    return wrap;
  };

  views.members = async function () {
    const members = await loadMembers();
    const cols = ['Member', 'Role', 'Status', 'Joined', ''];
    const rows = members.map((m) => {
      const self = state.me && m.id === state.me.id;
      const active = m.status === 'active';
      let roleCell = badge(m.role, m.role === 'owner' ? 'accent' : 'plain');
      if (isOwner() && active && !self) {
        const sel = el('select', { 'aria-label': 'Role of ' + m.email, class: 'role-select' },
          ['member', 'admin', 'owner'].map((r) => el('option', { value: r, text: r, selected: r === m.role })));
        const save = el('button', { type: 'button', class: 'secondary small', text: 'Change' });
        save.addEventListener('click', async () => {
          save.disabled = true;
          try {
            await api('PUT', orgPath() + '/members/' + m.id + '/role', { role: sel.value });
            await reload();
            flash(m.email + ' is now ' + sel.value + '.', 'good');
          } catch (e) { flash(e.message, 'bad'); save.disabled = false; }
        });
        roleCell = el('span', { class: 'inline' }, sel, save);
      }
      const actions = [];
      if (isAdmin() && active && !self) {
        actions.push(confirmButton('Kick', 'Confirm kick', async () => {
          const res = await api('POST', orgPath() + '/members/' + m.id + '/kick', {});
          await reload();
          flash(m.email + ' was removed: ' + res.revoked_invites.length + ' invite(s) and ' + res.revoked_deploys.length +
            ' deploy token(s) revoked. They may still know values they have read: rotate the environments with capy env rotate.', 'good');
        }));
      }
      return row(cols, [el('span', {}, m.email, self ? el('span', { class: 'muted small', text: ' (you)' }) : null),
        roleCell, badge(m.status, statusKind[m.status]), when(m.joined_at), el('span', { class: 'inline' }, actions)],
      { 'data-member': m.email });
    });
    return el('div', {}, el('h2', { text: 'Members and roles' }),
      el('p', { class: 'lead', text: isOwner() ? 'Owners change roles; admins and owners remove members.' : 'Only owners change roles; admins and owners remove members.' }),
      table(cols, rows, 'No members.'));
  };

  views.invites = async function () {
    const invites = await all(orgPath() + '/invites?status=all&limit=200');
    const open = (i) => i.status === 'pending' || i.status === 'redeemed';
    invites.sort((a, b) => (open(b) - open(a)) || (b.created_at > a.created_at ? 1 : -1));
    const cols = ['Invited', 'Kind', 'Role', 'Status', 'By', 'Expires', ''];
    const rows = invites.map((i) => row(cols, [i.email, i.kind, i.role || '—', badge(i.status, statusKind[i.status]),
      i.created_by.email, when(i.expires_at),
      (i.status === 'pending' || i.status === 'redeemed') ? confirmButton('Revoke', 'Confirm revoke', async () => {
        await api('DELETE', orgPath() + '/invites/' + i.id);
        await reload();
        flash('The invite for ' + i.email + ' is revoked.', 'good');
      }) : ''], { 'data-invite': i.email }));
    return el('div', {}, el('h2', { text: 'Invites' }),
      el('p', { class: 'lead', text: 'Open invites can be redeemed until they expire. Revoke one that went to the wrong place.' }),
      table(cols, rows, 'No invites.'));
  };

  views.deploys = async function () {
    const wrap = el('div', {}, el('h2', { text: 'Deploy tokens' }));
    if (!isAdmin()) {
      wrap.append(el('p', { class: 'empty muted', text: 'Deploy tokens are listed for admins and owners.' }));
      return wrap;
    }
    const [deps, projects] = await Promise.all([all(orgPath() + '/deploys?status=all&limit=200'), all(orgPath() + '/projects?limit=200')]);
    const envNames = {};
    for (const p of projects) {
      for (const e of await all(orgPath() + '/projects/' + p.id + '/envs?limit=200')) envNames[e.id] = p.name + ' / ' + e.name;
    }
    deps.sort((a, b) => ((b.status === 'active') - (a.status === 'active')) || (b.created_at > a.created_at ? 1 : -1));
    const cols = ['Name', 'Environment', 'Epoch', 'Status', 'By', 'Last used', 'Expires', ''];
    const rows = deps.map((d) => row(cols, [el('strong', { text: d.name }), envNames[d.env] || d.env, String(d.epoch),
      badge(d.status, statusKind[d.status]), d.created_by.email, when(d.last_used_at), when(d.expires_at),
      d.status === 'active' ? confirmButton('Revoke', 'Confirm revoke', async () => {
        await api('DELETE', orgPath() + '/deploys/' + d.id);
        await reload();
        flash('Deploy token ' + d.name + ' is revoked.', 'good');
      }) : ''], { 'data-deploy': d.name }));
    wrap.append(el('p', { class: 'lead', text: 'Tokens let CI and servers read one environment. Revoking one stops it at once.' }),
      table(cols, rows, 'No deploy tokens.'));
    return wrap;
  };

  views.sessions = async function () {
    const sessions = await all('/v1/auth/sessions?limit=200');
    const cols = ['Signed in as', 'Since', 'Last used', 'Expires', ''];
    const rows = sessions.map((s) => row(cols, [
      el('span', {}, el('strong', { text: s.label }), s.current ? el('span', { class: 'badge good', text: 'this browser' }) : null),
      when(s.created_at), when(s.last_used_at), when(s.expires_at),
      s.current ? '' : confirmButton('Revoke', 'Confirm revoke', async () => {
        await api('DELETE', '/v1/auth/sessions/' + s.id);
        await reload();
        flash('The session "' + s.label + '" is ended.', 'good');
      })], { 'data-session': s.id, 'data-label': s.label }));
    return el('div', {}, el('h2', { text: 'Your sessions' }),
      el('p', { class: 'lead', text: 'Every machine and browser signed in to your account. End one you do not recognise.' }),
      table(cols, rows, 'No sessions.'));
  };

  // ---- audit -------------------------------------------------------------

  const GENESIS = '0'.repeat(64);
  const enc = new TextEncoder();

  async function sha256hex(s) {
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(s)));
    return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // canonicalTime: the one spelling auditchain.ParseTime accepts, a real
  // instant (no 24:00, no 31 April).
  function canonicalTime(s) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{9})Z$/.exec(s);
    if (!m) return false;
    const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
    const t = new Date(0);
    t.setUTCFullYear(y, mo - 1, d);
    t.setUTCHours(h, mi, se, 0);
    return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d &&
      t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === se;
  }

  // verifyChain is `capy audit --verify` (internal/auditchain and
  // member.VerifyAudit): from the genesis, each row's seq follows, its
  // prev_hash is the last hash, and its hash is SHA-256 of
  // "capy-audit 1\n" prev "\n" seq "\n" time "\n" actor "\n" action "\n"
  // target "\n" result "\n"; then every head this browser saw before must
  // still be in the chain with the same hash.
  async function verifyChain(rows, seen) {
    let prev = GENESIS;
    let seq = 0;
    for (const r of rows) {
      if (!Number.isSafeInteger(r.seq)) return { ok: false, at: seq + 1, why: 'an entry number is out of range' };
      if (typeof r.time !== 'string' || !canonicalTime(r.time)) return { ok: false, at: r.seq, why: 'its time is not in the canonical form' };
      if (r.seq !== seq + 1) return { ok: false, at: seq + 1, why: 'found #' + r.seq + ' instead' };
      if (r.prev_hash !== prev) return { ok: false, at: r.seq, why: 'the previous hash does not match' };
      const fields = [r.actor, r.action, r.target, r.result];
      if (fields.some((f) => typeof f !== 'string' || f.includes('\n'))) return { ok: false, at: r.seq, why: 'a field is not valid' };
      const h = await sha256hex('capy-audit 1\n' + prev + '\n' + r.seq + '\n' + r.time + '\n' + fields.join('\n') + '\n');
      if (h !== r.hash) return { ok: false, at: r.seq, why: 'the hash does not match the event' };
      prev = r.hash;
      seq = r.seq;
    }
    const heads = seen.slice().sort((a, b) => a.seq - b.seq);
    for (const s of heads) {
      if (!s.seq) continue;
      if (s.seq > rows.length) {
        return { ok: false, at: s.seq, why: 'the log has ' + rows.length + ' entries, but this browser saw entry #' + s.seq + ' before: the log was cut short' };
      }
      if (rows[s.seq - 1].hash !== s.hash) return { ok: false, at: s.seq, why: 'the entry differs from the one this browser saw before' };
    }
    return { ok: true, rows: rows.length, head: seq ? { seq, hash: prev } : null, checked: heads.length };
  }

  function seenHeads() {
    try { return JSON.parse(localStorage.getItem('capy.audit.' + state.org.id) || '[]'); } catch (e) { return []; }
  }
  function rememberHead(h) {
    if (!h) return;
    const heads = seenHeads().filter((x) => x.seq !== h.seq);
    heads.push(h);
    heads.sort((a, b) => a.seq - b.seq);
    try { localStorage.setItem('capy.audit.' + state.org.id, JSON.stringify(heads.slice(-64))); } catch (e) { /* private mode */ }
  }

  views.audit = async function () {
    const wrap = el('div', {}, el('h2', { text: 'Audit log' }));
    if (!isAdmin()) {
      wrap.append(el('p', { class: 'empty muted', text: 'The audit log is shown to admins and owners.' }));
      return wrap;
    }
    await loadMembers();
    const log = await pages(orgPath() + '/audit?limit=1000', 10000);
    const rows = log.items;
    const result = el('div', { id: 'verify-result', class: 'verify pending', role: 'status' }, 'Verifying the chain in this browser…');
    const again = el('button', { type: 'button', class: 'secondary small', id: 'verify-again', text: 'Verify again' });
    again.addEventListener('click', reload);
    wrap.append(el('p', { class: 'lead', text: 'Every entry is chained to the one before by a SHA-256 hash. This page recomputes the whole chain itself, with the same rules as capy audit --verify; a row changed in the database breaks it.' }),
      el('div', { class: 'verify-bar' }, result, again));
    const cols = ['#', 'Time', 'Actor', 'Action', 'Target', 'Result'];
    const shown = rows.slice().reverse();
    wrap.append(table(cols, shown.map((r) => row(cols, [String(r.seq), when(r.time), emailOf(r.actor),
      el('code', { text: r.action }), el('span', { class: 'target', text: r.target }),
      badge(r.result, r.result === 'ok' ? 'good' : 'bad')], { 'data-seq': String(r.seq) })), 'No entries.', 'audit-table'));
    const v = log.complete ? await verifyChain(rows, seenHeads())
      : { ok: false, at: rows.length + 1, why: 'the service did not hand out the whole log (its pages did not end)' };
    if (v.ok) {
      rememberHead(v.head);
      result.className = 'verify good';
      result.replaceChildren(el('strong', { text: 'Chain verified.' }),
        ' ' + v.rows + ' entries from the genesis, every hash recomputed in this browser' +
        (v.head ? '; head #' + v.head.seq + ' ' + v.head.hash.slice(0, 16) + '…' : '') + '.');
    } else {
      result.className = 'verify bad';
      result.replaceChildren(el('strong', { text: 'The chain is broken at entry #' + v.at + '.' }),
        ' ' + v.why + '. The log was changed after it was written: tell the operator of this service.');
      const bad = wrap.querySelector('tr[data-seq="' + v.at + '"]');
      if (bad) bad.classList.add('broken');
    }
    return wrap;
  };

  // The verifier is pure; it is named on the page so that the browser
  // tests can check it against auditchain's known answers.
  window.capyAudit = Object.freeze({ verifyChain, canonicalTime });

  // ---- start -------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', async () => {
    $('start-form').addEventListener('submit', startLogin);
    $('verify-form').addEventListener('submit', verifyLogin);
    $('restart').addEventListener('click', () => signedOut(''));
    $('logout').addEventListener('click', logout);
    $('org').addEventListener('change', (e) => selectOrg(e.target.value));
    $('tabs').addEventListener('click', (e) => {
      const b = e.target.closest('button[data-tab]');
      if (b) openTab(b.dataset.tab);
    });
    try {
      await signedIn(await api('GET', '/v1/console/session'));
    } catch (e) {
      signedOut(e.status === 401 ? '' : e.message);
    }
  });
})();
