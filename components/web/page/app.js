// funboost-edge management page. It talks only to the JSON API under /funboost/ and builds
// every node with createElement/textContent: no value from the API (a job id, a message) is
// ever parsed as HTML.
'use strict';

(() => {
  const API = '/funboost/';
  const TOKEN_KEY = 'funboost-edge.api-token';
  const REFRESH_MS = 5000;
  const PREVIEW_DELAY_MS = 300;
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
  const state = { listing: null, schedulers: {}, history: null, armed: null, loading: null, again: false };

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

  function say(message, isError) {
    const status = $('status');
    status.textContent = message || '';
    status.classList.toggle('bad', !!isError);
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
        return { succ: false, msg: 'cannot reach the API: ' + e.message, data: null, error_data: null };
      }
      let envelope;
      try {
        envelope = await response.json();
      } catch (e) {
        envelope = { succ: false, msg: `HTTP ${response.status} without a JSON answer`, data: null, error_data: null };
      }
      if (response.status !== 401) return envelope;
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

  // ---- the job list ----

  /** Reloads the listing (and the open history); calls during a reload make it run once more. */
  function refresh() {
    if (state.loading) {
      state.again = true;
      return state.loading;
    }
    state.loading = (async () => {
      do {
        state.again = false;
        await load();
      } while (state.again);
    })().finally(() => {
      state.loading = null;
    });
    return state.loading;
  }

  async function load() {
    const store = $('filter-store').value;
    const listing = await call('GET', 'get_timing_jobs', { query: { job_store_kind: store } });
    if (!listing.succ) {
      say(listing.msg, true);
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

  function render() {
    if (!state.listing) return;
    const byQueue = state.listing.jobs_by_queue;
    const queues = Object.keys(byQueue).sort();
    syncOptions($('filter-queue'), queues);
    $('queue-names').replaceChildren(...queues.map((q) => h('option', { value: q })));
    const queueWanted = $('filter-queue').value;
    const statusWanted = $('filter-status').value;
    const groups = queues
      .filter((queue) => !queueWanted || queue === queueWanted)
      .map((queue) => renderQueue(queue, byQueue[queue].filter((job) => !statusWanted || job.status === statusWanted), byQueue[queue].length));
    $('queues').replaceChildren(...(groups.length ? groups : [h('p', { class: 'empty' }, 'No queue yet: a funboost consumer registers one when it starts.')]));
    renderHistory();
  }

  function renderQueue(queue, jobs, total) {
    const scheduler = state.schedulers[queue];
    const head = h('header', { class: 'queue-head' }, h('h2', null, queue), h('span', { class: 'hint' }, jobs.length === total ? `${total} jobs` : `${jobs.length} of ${total} jobs`));
    if (scheduler) {
      const paused = scheduler === 'paused';
      head.append(
        h('span', { class: 'badge scheduler s-' + scheduler, title: "this queue's scheduler" }, 'scheduler ' + scheduler),
        h(
          'button',
          { type: 'button', class: 'scheduler-toggle', onclick: () => act(paused ? 'resume_scheduler' : 'pause_scheduler', { queue_name: queue, job_store_kind: 'redis' }) },
          paused ? 'Resume queue' : 'Pause queue',
        ),
      );
    }
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
    const id = JSON.stringify(key);
    const paused = job.status === 'paused';
    const armed = state.armed === id;
    const cells = COLUMNS.map(([field, label]) => {
      const value = field === 'status' ? h('span', { class: 'badge s-' + job.status }, job.status) : shown(job[field]);
      return h('td', { class: 'c-' + field, dataset: { label } }, value);
    });
    const actions = h(
      'td',
      { class: 'actions' },
      job.status !== 'finished' &&
        h('button', { type: 'button', class: 'pause-resume', onclick: () => act(paused ? 'resume_timing_job' : 'pause_timing_job', key) }, paused ? 'Resume' : 'Pause'),
      h('button', { type: 'button', class: 'run-now', onclick: () => act('run_timing_job_now', key) }, 'Run now'),
      h('button', { type: 'button', class: 'show-history', onclick: () => openHistory(key) }, 'History'),
      h('button', { type: 'button', class: 'delete' + (armed ? ' armed' : ''), onclick: () => deleteJob(key, id) }, armed ? 'Confirm delete' : 'Delete'),
    );
    return h('tr', { class: 'job', dataset: { queue: job.queue_name, jobId: job.job_id, status: job.status } }, cells, actions);
  }

  async function act(route, query) {
    const reply = await call(route.startsWith('delete') ? 'DELETE' : 'POST', route, { query });
    say(reply.msg, !reply.succ);
    await refresh();
  }

  /** Delete asks for a second click (no window.confirm), within 4 s. */
  function deleteJob(key, id) {
    if (state.armed !== id) {
      state.armed = id;
      render();
      setTimeout(() => {
        if (state.armed === id) {
          state.armed = null;
          render();
        }
      }, 4000);
      return;
    }
    state.armed = null;
    if (state.history && JSON.stringify(state.history.key) === id) state.history = null;
    act('delete_timing_job', key);
  }

  // ---- a job's history ----

  async function openHistory(key) {
    state.history = { key, data: null, error: null };
    await loadHistory();
    renderHistory();
  }

  async function loadHistory() {
    const history = state.history;
    const reply = await call('GET', 'get_timing_job', { query: { ...history.key, count: 5 } });
    history.data = reply.succ ? reply.data : null;
    history.error = reply.succ ? null : reply.msg;
  }

  function renderHistory() {
    const panel = $('history-panel');
    const history = state.history;
    panel.hidden = !history;
    if (!history) return panel.replaceChildren();
    const close = h('button', { type: 'button', class: 'quiet close-history', onclick: () => { state.history = null; renderHistory(); } }, 'Close');
    const title = h('h3', null, `History of ${history.key.job_id} `, h('span', { class: 'hint' }, `(${history.key.queue_name})`), close);
    if (!history.data) return panel.replaceChildren(title, h('p', { class: 'bad' }, history.error || 'Loading…'));
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
    panel.replaceChildren(title, table, h('p', { class: 'hint' }, next.length ? 'Next: ' + next.join(', ') : 'No next fire time.'));
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
      showError(reply.error_data && reply.error_data.field, reply.msg, 'add');
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
      say('token forgotten');
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
