// funboost-edge management page. It talks only to the JSON API under /funboost/ and builds
// every node with createElement/textContent: no value from the API (a job id, a message) is
// ever parsed as HTML.
'use strict';

(() => {
  const API = '/funboost/';
  const TOKEN_KEY = 'funboost-edge.api-token';
  const REFRESH_MS = 5000;
  const PREVIEW_DELAY_MS = 300;
  /** Audit records a job's trail shows at first, and adds per "Older" click. */
  const TRAIL_PAGE = 5;
  // The body fields of each trigger (the API refuses another trigger's fields).
  const TRIGGER_FIELDS = {
    date: ['run_date'],
    interval: ['weeks', 'days', 'hours', 'minutes', 'seconds', 'start_date', 'end_date', 'jitter'],
    cron: ['year', 'month', 'day', 'week', 'day_of_week', 'hour', 'minute', 'second', 'start_date', 'end_date', 'jitter'],
  };
  const NUMBER_FIELDS = new Set(['weeks', 'days', 'hours', 'minutes', 'seconds', 'jitter', 'misfire_grace_time']);
  const COLUMNS = [
    ['job_id', 'Job'],
    ['trigger_str', 'Trigger'],
    ['status', 'Status'],
    ['next_run_time', 'Next run'],
    ['fire_count', 'Fires'],
    ['missed_count', 'Missed'],
    ['coalesced_count', 'Coalesced'],
    ['last_fire_time', 'Last fire'],
  ];

  const $ = (id) => document.getElementById(id);
  const form = () => $('add-form');
  // me: whoami's answer (token, role, queues, routes), for the token in meToken; pending: the
  // change the confirm panel asks a note for.
  const state = { listing: null, schedulers: {}, history: null, me: null, meToken: null, pending: null, loading: null, again: false };

  /** An element with attributes (`class`, `dataset`, `on<event>`, others as text) and children
   * (nodes, or strings that become text nodes). */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name === 'dataset') Object.assign(node.dataset, value);
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const shown = (value) => (value === null || value === undefined || value === '' ? '—' : String(value));

  /** The status line; `kind` 'bad' (an error) or 'denied' (a 403: the token may not). */
  function say(message, kind) {
    const status = $('status');
    status.textContent = message || '';
    status.classList.toggle('bad', !!kind);
    status.classList.toggle('denied', kind === 'denied');
  }

  /** A failed reply's message; a 403's says that the token may not (the API names the role or queue). */
  const failure = (reply) => (reply.http_status === 403 ? 'Not allowed: ' + reply.msg : reply.msg);

  /** Shows a reply on the status line. */
  function report(reply) {
    if (reply.succ) say(reply.msg);
    else say(failure(reply), reply.http_status === 403 ? 'denied' : 'bad');
  }

  // ---- the API, with the bearer token ----

  let tokenPrompt = null; // one prompt shared by every request that got a 401

  /** One API call; resolves to the envelope (a made-up failed one when there is no JSON).
   * A 401 shows the token form and retries with the token given. */
  async function call(method, route, { query, body } = {}) {
    for (;;) {
      const url = API + route + (query ? '?' + new URLSearchParams(query) : '');
      const headers = {};
      if (body !== undefined) headers['content-type'] = 'application/json';
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (token) headers.authorization = 'Bearer ' + token;
      let response;
      try {
        response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
      } catch (e) {
        return { succ: false, msg: 'cannot reach the API: ' + e.message, data: null, error_data: null, http_status: 0 };
      }
      let envelope;
      try {
        envelope = await response.json();
      } catch (e) {
        envelope = { succ: false, msg: `HTTP ${response.status} without a JSON answer`, data: null, error_data: null };
      }
      if (response.status !== 401) return { ...envelope, http_status: response.status };
      await askToken(envelope.msg);
    }
  }

  function askToken(reason) {
    if (!tokenPrompt) {
      tokenPrompt = new Promise((resolve) => {
        $('token-reason').textContent = reason || 'The API needs a token.';
        $('token-panel').hidden = false;
        $('token-input').value = '';
        $('token-input').focus();
        $('token-form').onsubmit = (event) => {
          event.preventDefault();
          const token = $('token-input').value.trim();
          if (!token) return;
          sessionStorage.setItem(TOKEN_KEY, token);
          $('token-panel').hidden = true;
          $('forget-token').hidden = false;
          tokenPrompt = null;
          resolve();
        };
      });
    }
    return tokenPrompt;
  }

  // ---- who the token is, and what it may do ----

  /** May the token call `route`? (whoami lists the routes its role opens; the API checks anyway.) */
  const can = (route) => !!state.me && state.me.routes.includes('/' + route);

  /** Asks whoami once per token; false when it failed (said on the status line). */
  async function loadMe() {
    if (state.me && state.meToken === sessionStorage.getItem(TOKEN_KEY)) return true;
    const reply = await call('GET', 'whoami');
    if (!reply.succ) {
      report(reply);
      return false;
    }
    state.me = reply.data;
    state.meToken = sessionStorage.getItem(TOKEN_KEY); // the token given at a 401 prompt, if any
    renderMe();
    return true;
  }

  /** The header's token, role and queues; the add form only for a token that may add. */
  function renderMe() {
    const me = state.me;
    const who = $('whoami');
    who.hidden = !me;
    $('add-panel').hidden = !can('add_timing_job');
    if (!me) return who.replaceChildren();
    const queues = me.queues ? 'queues: ' + me.queues.join(', ') : 'all queues';
    who.dataset.role = me.role;
    who.replaceChildren(
      h('span', { class: 'who-token', title: 'the token in use' }, me.token),
      ' ',
      h('span', { class: 'badge who-role r-' + me.role }, me.role === 'read' ? 'read-only' : me.role),
      ' ',
      h('span', { class: 'who-queues hint' }, queues),
    );
  }

  // ---- the job list ----

  /** Reloads the listing (and the open history); calls during a reload make it run once more. */
  function refresh() {
    if (state.loading) {
      state.again = true;
      return state.loading;
    }
    $('queues').setAttribute('aria-busy', 'true');
    state.loading = (async () => {
      do {
        state.again = false;
        await load();
      } while (state.again);
    })().finally(() => {
      state.loading = null;
      $('queues').setAttribute('aria-busy', 'false');
    });
    return state.loading;
  }

  async function load() {
    if (!(await loadMe())) return;
    const store = $('filter-store').value;
    const listing = await call('GET', 'get_timing_jobs', { query: { job_store_kind: store } });
    if (!listing.succ) {
      report(listing);
      return;
    }
    const queues = Object.keys(listing.data.jobs_by_queue);
    const schedulers = {};
    // Only the redis store has a per-queue scheduler switch.
    if (store === 'redis') {
      await Promise.all(
        queues.map(async (queue) => {
          const reply = await call('GET', 'get_scheduler_status', { query: { queue_name: queue, job_store_kind: 'redis' } });
          schedulers[queue] = reply.succ ? reply.data.status_str : 'unknown';
        }),
      );
    }
    if (state.history) await loadHistory();
    state.listing = listing.data;
    state.schedulers = schedulers;
    render();
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  /** Keeps a select's options equal to `values` (after its first, "all" option), and its choice. */
  function syncOptions(select, values) {
    const current = [...select.options].slice(1).map((o) => o.value);
    if (current.join('\n') === values.join('\n')) return;
    const chosen = select.value;
    select.replaceChildren(select.options[0], ...values.map((v) => h('option', { value: v }, v)));
    select.value = values.includes(chosen) ? chosen : '';
  }

  /** What the list and the history panel were rendered from: a refresh that changed nothing
   * leaves them as they are (a click in progress, a selection and the focus are kept). */
  const renderedFrom = { queues: null, history: null };

  function render() {
    if (!state.listing) return;
    const byQueue = state.listing.jobs_by_queue;
    const queues = Object.keys(byQueue).sort();
    syncOptions($('filter-queue'), queues);
    const queueWanted = $('filter-queue').value;
    const statusWanted = $('filter-status').value;
    const from = JSON.stringify([state.listing, state.schedulers, state.me, queueWanted, statusWanted, $('filter-store').value]);
    if (from !== renderedFrom.queues) {
      renderedFrom.queues = from;
      renderList(byQueue, queues, queueWanted, statusWanted);
    }
    renderHistory();
  }

  function renderList(byQueue, queues, queueWanted, statusWanted) {
    $('queue-names').replaceChildren(...queues.map((q) => h('option', { value: q })));
    const groups = queues
      .filter((queue) => !queueWanted || queue === queueWanted)
      .map((queue) => renderQueue(queue, byQueue[queue].filter((job) => !statusWanted || job.status === statusWanted), byQueue[queue].length));
    $('queues').replaceChildren(...(groups.length ? groups : [h('p', { class: 'empty' }, 'No queue yet: a funboost consumer registers one when it starts.')]));
  }

  function renderQueue(queue, jobs, total) {
    const scheduler = state.schedulers[queue];
    const store = $('filter-store').value;
    const paused = scheduler === 'paused';
    const switchRoute = paused ? 'resume_scheduler' : 'pause_scheduler';
    const switchLabel = paused ? 'Resume queue' : 'Pause queue';
    // The scheduler switch and delete all only for a token that may use them (admin).
    const head = h(
      'header',
      { class: 'queue-head' },
      h('h2', null, queue),
      h('span', { class: 'hint' }, jobs.length === total ? `${total} jobs` : `${jobs.length} of ${total} jobs`),
      scheduler && h('span', { class: 'badge scheduler s-' + scheduler, title: "this queue's scheduler" }, 'scheduler ' + scheduler),
      scheduler &&
        can(switchRoute) &&
        h(
          'button',
          {
            type: 'button',
            class: 'scheduler-toggle',
            onclick: () => confirmChange(`${switchLabel} ${queue}: ${paused ? 'its jobs fire again' : 'none of its jobs fires until resumed'}.`, switchLabel, switchRoute, { queue_name: queue, job_store_kind: 'redis' }),
          },
          switchLabel,
        ),
      total > 0 &&
        can('delete_all_timing_jobs') &&
        h(
          'button',
          { type: 'button', class: 'delete-all', onclick: () => confirmChange(`Delete all ${total} jobs of ${queue} (${store} store)?`, 'Delete all jobs', 'delete_all_timing_jobs', { queue_name: queue, job_store_kind: store }, true) },
          'Delete all',
        ),
    );
    const table = jobs.length
      ? h(
          'table',
          { class: 'jobs' },
          h('thead', null, h('tr', null, COLUMNS.map(([, label]) => h('th', { scope: 'col' }, label)), h('th', { scope: 'col' }, 'Actions'))),
          h('tbody', null, jobs.map(renderJob)),
        )
      : h('p', { class: 'empty' }, 'No jobs.');
    return h('section', { class: 'queue', dataset: { queue } }, head, table);
  }

  function renderJob(job) {
    const key = { job_id: job.job_id, queue_name: job.queue_name, job_store_kind: job.job_store_kind || 'redis' };
    const paused = job.status === 'paused';
    const toggle = paused ? 'resume_timing_job' : 'pause_timing_job';
    const cells = COLUMNS.map(([field, label]) => {
      const value = field === 'status' ? h('span', { class: 'badge s-' + job.status }, job.status) : shown(job[field]);
      return h('td', { class: 'c-' + field, dataset: { label } }, value);
    });
    const name = `${job.job_id} (${job.queue_name})`;
    // Only the buttons the token's role opens (whoami); the API refuses the others anyway.
    const actions = h(
      'td',
      { class: 'actions' },
      job.status !== 'finished' &&
        can(toggle) &&
        h('button', { type: 'button', class: 'pause-resume', onclick: () => confirmChange(`${paused ? 'Resume' : 'Pause'} ${name}?`, paused ? 'Resume' : 'Pause', toggle, key) }, paused ? 'Resume' : 'Pause'),
      can('run_timing_job_now') && h('button', { type: 'button', class: 'run-now', onclick: () => act('run_timing_job_now', key) }, 'Run now'),
      h('button', { type: 'button', class: 'show-history', onclick: () => openHistory(key) }, 'History'),
      can('delete_timing_job') && h('button', { type: 'button', class: 'delete', onclick: () => confirmChange(`Delete ${name}?`, 'Confirm delete', 'delete_timing_job', key, true) }, 'Delete'),
    );
    return h('tr', { class: 'job', dataset: { queue: job.queue_name, jobId: job.job_id, status: job.status } }, cells, actions);
  }

  async function act(route, query) {
    const reply = await call(route.startsWith('delete') ? 'DELETE' : 'POST', route, { query });
    report(reply);
    await refresh();
  }

  // ---- a change with a note: pause, resume, delete, a queue's scheduler, delete all ----

  /** Opens the confirm panel for `route` (outside the list, so a refresh keeps what is typed). */
  function confirmChange(text, label, route, query, danger) {
    state.pending = { route, query };
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = label;
    $('confirm-ok').classList.toggle('danger', !!danger);
    $('confirm-note').value = '';
    $('confirm-panel').hidden = false;
    $('confirm-note').focus();
  }

  function closeConfirm() {
    state.pending = null;
    $('confirm-panel').hidden = true;
  }

  /** Sends the pending change, with the note when one was typed. */
  function confirmed(event) {
    event.preventDefault();
    const pending = state.pending;
    if (!pending) return;
    const note = $('confirm-note').value.trim();
    closeConfirm();
    const history = state.history && state.history.key;
    if (history && pending.route.startsWith('delete') && history.queue_name === pending.query.queue_name && (!pending.query.job_id || pending.query.job_id === history.job_id)) state.history = null;
    act(pending.route, note ? { ...pending.query, note } : pending.query);
  }

  // ---- a job's history and audit trail ----

  async function openHistory(key) {
    state.history = { key, data: null, error: null, trail: { records: [], next: null, error: null, version: 0 } };
    await loadHistory();
    renderHistory();
  }

  async function loadHistory() {
    const history = state.history;
    const [reply] = await Promise.all([call('GET', 'get_timing_job', { query: { ...history.key, count: 5 } }), loadTrail(history)]);
    history.data = reply.succ ? reply.data : null;
    history.error = reply.succ ? null : failure(reply);
  }

  const sameIds = (a, b) => a.length === b.length && a.every((record, k) => record.id === b[k].id);

  /** The job's newest audit records, as many as shown (so a refresh keeps the older pages).
   * `trail.version` counts changes of the list: a reply to a list that changed meanwhile is dropped. */
  async function loadTrail(history) {
    const trail = history.trail;
    if (!can('get_audit_records')) return;
    const [version, limit] = [trail.version, Math.min(1000, Math.max(TRAIL_PAGE, trail.records.length))];
    const reply = await call('GET', 'get_audit_records', { query: { queue_name: history.key.queue_name, job_id: history.key.job_id, limit } });
    if (version !== trail.version) return;
    trail.error = reply.succ ? null : failure(reply);
    // The same records: keep the cursor (an "Older" that found the end stays gone).
    if (!reply.succ || sameIds(reply.data.records, trail.records)) return;
    [trail.records, trail.next] = [reply.data.records, reply.data.next_before];
    trail.version += 1;
  }

  /** The next older records, after `next_before`. */
  async function olderTrail() {
    const history = state.history;
    const trail = history && history.trail;
    if (!trail || !trail.next) return;
    const version = trail.version;
    const reply = await call('GET', 'get_audit_records', { query: { queue_name: history.key.queue_name, job_id: history.key.job_id, limit: TRAIL_PAGE, before: trail.next } });
    if (version !== trail.version || state.history !== history) return;
    trail.error = reply.succ ? null : failure(reply);
    if (reply.succ) [trail.records, trail.next] = [[...trail.records, ...reply.data.records], reply.data.next_before];
    trail.version += 1;
    renderHistory();
  }

  /** A value in a few characters, cut at `max`: an object as `k=v, …` (a trigger as
   * `cron(hour=9, …)`), other values as JSON, strings as they are. */
  function brief(value, max) {
    let text;
    if (typeof value === 'string') text = value;
    else if (value && typeof value === 'object' && !Array.isArray(value)) {
      const { trigger, ...rest } = value;
      const fields = Object.entries(typeof trigger === 'string' ? rest : value).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
      text = typeof trigger === 'string' ? `${trigger}(${fields})` : `{${fields}}`;
    } else text = JSON.stringify(value);
    return text.length > max ? text.slice(0, max - 1) + '…' : text;
  }

  const empty = (value) => value === null || value === undefined || value === '' || (typeof value === 'object' && Object.keys(value).length === 0);

  /** What a record changed, in one line: edits `field: from → to`, others `field: value`
   * (an add's or a delete's empty fields left out). */
  function describeChanges(changes) {
    if (!changes || typeof changes !== 'object') return shown(changes);
    const parts = [];
    for (const [field, value] of Object.entries(changes)) {
      const isEdit = value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).join() === 'from,to';
      if (isEdit) parts.push(`${field}: ${brief(value.from, 40)} → ${brief(value.to, 40)}`);
      else if (field === 'deleted' && value && typeof value === 'object') parts.push('deleted; was ' + describeChanges(value));
      else if (!empty(value)) parts.push(`${field}: ${brief(value, 60)}`);
    }
    return brief(parts.join('; ') || '—', 200);
  }

  function renderTrail(trail) {
    if (!can('get_audit_records')) return null;
    const columns = [['time', 'Time'], ['token', 'Token'], ['route', 'Change'], ['changes', 'What changed'], ['note', 'Note']];
    const cell = (record, field, label) => {
      let value = record[field];
      if (field === 'time') value = String(value || '').replace(/\.\d+/, ''); // to the second; the full time in title
      if (field === 'route') value = String(value || '').replace(/^\//, '') + (record.job_id ? '' : record.queue_name === '*' ? ' (every queue)' : ' (queue)');
      if (field === 'changes') value = describeChanges(value);
      return h('td', { class: 'c-' + field, dataset: { label }, title: field === 'changes' ? JSON.stringify(record.changes) : field === 'time' ? record.time : null }, shown(value));
    };
    const table = trail.records.length
      ? h(
          'table',
          { class: 'trail' },
          h('thead', null, h('tr', null, columns.map(([, label]) => h('th', { scope: 'col' }, label)))),
          h('tbody', null, trail.records.map((record) => h('tr', { class: 'record', dataset: { id: record.id } }, columns.map(([field, label]) => cell(record, field, label))))),
        )
      : h('p', { class: 'empty' }, trail.error ? '' : 'No changes recorded.');
    return h(
      'div',
      { class: 'trail-part' },
      h('h4', null, 'Audit trail ', h('span', { class: 'hint' }, 'newest first; with the queue\'s own changes')),
      trail.error && h('p', { class: 'bad' }, trail.error),
      table,
      trail.next && h('button', { type: 'button', class: 'quiet older', onclick: olderTrail }, 'Older'),
    );
  }

  function renderHistory() {
    const panel = $('history-panel');
    const history = state.history;
    const trail = history && history.trail;
    const from = history && JSON.stringify([history.key, history.data, history.error, trail.records, trail.next, trail.error, state.me]);
    if (from && from === renderedFrom.history) return;
    renderedFrom.history = from;
    panel.hidden = !history;
    if (!history) return panel.replaceChildren();
    const close = h('button', { type: 'button', class: 'quiet close-history', onclick: () => { state.history = null; renderHistory(); } }, 'Close');
    const title = h('h3', null, `History of ${history.key.job_id} `, h('span', { class: 'hint' }, `(${history.key.queue_name})`), close);
    const trailPart = renderTrail(trail);
    if (!history.data) return panel.replaceChildren(title, h('div', { class: 'history-parts' }, h('div', { class: 'fires-part' }, h('p', { class: 'bad' }, history.error || 'Loading…')), trailPart));
    const fires = history.data.history || [];
    const columns = [['scheduled_time', 'Scheduled'], ['outcome', 'Outcome'], ['published_time', 'Published'], ['lateness_ms', 'Late (ms)'], ['fire_id', 'Fire id']];
    const table = fires.length
      ? h(
          'table',
          { class: 'fires' },
          h('thead', null, h('tr', null, columns.map(([, label]) => h('th', { scope: 'col' }, label)))),
          h('tbody', null, fires.map((fire) => h('tr', { class: 'fire' }, columns.map(([field, label]) => h('td', { class: 'c-' + field, dataset: { label } }, shown(fire[field])))))),
        )
      : h('p', { class: 'empty' }, 'No fires yet.');
    const next = history.data.next_run_times || [];
    const firesPart = h('div', { class: 'fires-part' }, h('h4', null, 'Fires'), table, h('p', { class: 'hint' }, next.length ? 'Next: ' + next.join(', ') : 'No next fire time.'));
    panel.replaceChildren(title, h('div', { class: 'history-parts' }, firesPart, trailPart));
  }

  // ---- the add form ----

  const input = (name) => form().elements.namedItem(name);
  const text = (name) => input(name).value.trim();

  function fieldError(field, message) {
    return Object.assign(new Error(message), { field });
  }

  /** The trigger part of the body: the chosen trigger's non-empty fields and the time zone. */
  function triggerBody() {
    const trigger = text('trigger');
    const body = { trigger };
    for (const name of TRIGGER_FIELDS[trigger] || []) {
      const value = text(name);
      // Whole numbers go as numbers; anything else as typed, for the API to name the field.
      if (value !== '') body[name] = NUMBER_FIELDS.has(name) && /^\d+$/.test(value) ? Number(value) : value;
    }
    if (text('timezone')) body.timezone = text('timezone');
    return body;
  }

  function jsonField(name, kind) {
    const value = text(name);
    if (value === '') return undefined;
    let parsed;
    try {
      parsed = JSON.parse(value);
    } catch (e) {
      throw fieldError(name, `${name}: not valid JSON (${e.message})`);
    }
    const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
    if (kind === 'array' ? !Array.isArray(parsed) : !isObject) throw fieldError(name, `${name}: must be a JSON ${kind}`);
    return parsed;
  }

  /** The whole add request; throws a field error for JSON the browser cannot parse. */
  function addBody() {
    const body = { queue_name: text('queue_name'), ...triggerBody() };
    if (text('job_id')) body.job_id = text('job_id');
    body.job_store_kind = text('job_store_kind');
    if (input('no_grace_limit').checked) body.misfire_grace_time = null;
    else if (text('misfire_grace_time') !== '') body.misfire_grace_time = /^\d+$/.test(text('misfire_grace_time')) ? Number(text('misfire_grace_time')) : text('misfire_grace_time');
    body.coalesce = input('coalesce').checked;
    body.replace_existing = input('replace_existing').checked;
    body.paused = input('paused').checked;
    if (text('broker_kind')) body.broker_kind = text('broker_kind');
    const args = jsonField('args', 'array');
    const kwargs = jsonField('kwargs', 'object');
    if (args !== undefined) body.args = args;
    if (kwargs !== undefined) body.kwargs = kwargs;
    return { ...body, ...jsonField('extra', 'object') };
  }

  /** Errors carry the source that set them, so a new preview clears only the preview's. */
  function clearErrors(source) {
    for (const slot of form().querySelectorAll('.error')) {
      if (slot.dataset.source !== source) continue;
      slot.textContent = '';
      delete slot.dataset.source;
      const field = slot.dataset.for && input(slot.dataset.for);
      if (field) field.removeAttribute('aria-invalid');
    }
  }

  /** Shows `message` next to `field` when the form has a visible slot for it, else under the form. */
  function showError(field, message, source) {
    let slot = field ? form().querySelector(`.error[data-for="${CSS.escape(field)}"]`) : null;
    if (!slot || slot.closest('[hidden]')) slot = $('form-error');
    slot.textContent = message;
    slot.dataset.source = source;
    const control = slot.dataset.for && input(slot.dataset.for);
    if (control) control.setAttribute('aria-invalid', 'true');
  }

  function showTrigger() {
    const trigger = text('trigger');
    for (const fieldset of form().querySelectorAll('fieldset[data-trigger]')) fieldset.hidden = !fieldset.dataset.trigger.split(' ').includes(trigger);
  }

  let previewTimer = null;
  let previewSeq = 0;

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, PREVIEW_DELAY_MS);
  }

  async function preview() {
    const seq = ++previewSeq;
    const reply = await call('POST', 'preview_timing_job', { body: { ...triggerBody(), count: 10 } });
    if (seq !== previewSeq) return; // a newer preview is on its way
    clearErrors('preview');
    const times = reply.succ ? reply.data.next_run_times : [];
    $('preview-trigger').textContent = reply.succ ? `${reply.data.trigger_str} · ${reply.data.timezone}` : '';
    $('preview-times').replaceChildren(...times.map((time) => h('li', null, time)));
    $('preview-times').dataset.state = reply.succ ? 'ok' : 'error';
    if (reply.succ && !times.length) $('preview-times').replaceChildren(h('li', { class: 'hint' }, 'no fire time'));
    if (!reply.succ) showError(reply.error_data && reply.error_data.field, reply.msg, 'preview');
  }

  async function submitAdd(event) {
    event.preventDefault();
    clearErrors('add');
    let body;
    try {
      body = addBody();
    } catch (e) {
      if (!e.field) throw e;
      showError(e.field, e.message, 'add');
      return;
    }
    const reply = await call('POST', 'add_timing_job', { body });
    if (!reply.succ) {
      showError(reply.error_data && reply.error_data.field, failure(reply), 'add');
      if (reply.http_status === 403) report(reply);
      return;
    }
    say(reply.msg);
    input('job_id').value = '';
    await refresh();
  }

  // ---- wiring ----

  const PREVIEWED = new Set(['trigger', 'timezone', ...Object.values(TRIGGER_FIELDS).flat()]);

  document.addEventListener('DOMContentLoaded', () => {
    $('refresh').addEventListener('click', () => refresh());
    $('filter-queue').addEventListener('change', render);
    $('filter-status').addEventListener('change', render);
    $('filter-store').addEventListener('change', () => refresh());
    $('forget-token').hidden = !sessionStorage.getItem(TOKEN_KEY);
    $('forget-token').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      $('forget-token').hidden = true;
      state.me = null; // the next token's rights come from its own whoami
      closeConfirm();
      renderMe();
      render();
      say('token forgotten');
    });
    $('confirm-panel').addEventListener('submit', confirmed);
    $('confirm-cancel').addEventListener('click', closeConfirm);
    $('confirm-panel').addEventListener('keydown', (event) => {
      if (event.key === 'Escape') closeConfirm();
    });
    form().addEventListener('submit', submitAdd);
    form().addEventListener('input', (event) => {
      if (event.target.name === 'trigger') showTrigger();
      if (PREVIEWED.has(event.target.name)) schedulePreview();
    });
    $('add-panel').addEventListener('toggle', () => {
      if ($('add-panel').open) schedulePreview();
    });
    showTrigger();
    refresh();
    setInterval(() => {
      if ($('auto-refresh').checked && !document.hidden && !tokenPrompt) refresh();
    }, REFRESH_MS);
  });
})();
