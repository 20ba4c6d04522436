"""Drives funboost-edge's management page (/funboost/ui, components/web) in headless Chromium
as a user would, for tests/management_page_works.rs. Three scenarios (--scenario):

manage (the default): the API has one admin token (`api_token`), which the page must ask for.
Steps, in order:

    token          the page asks for the token (its own form), lists the jobs once given
    escaped        a job id holding HTML shows as text; no element, dialog or script from it
    filtered       the queue and status filters
    preview        typing cron fields shows the next 10 fire times (debounced preview)
    field_error    a bad cron hour and a bad time zone (preview), bad kwargs (add): each error
                   shows next to its field
    added          cron, interval and date jobs added through the form
    job_paused     a job's Pause button, confirmed without a note
    job_resumed    its Resume button, confirmed without a note
    run_now        its Run now button, then History with the audit trail (screenshot here)
    queue_paused   a queue's Pause queue button, confirmed with a note (--queue-note)
    queue_resumed  its Resume queue button
    deleted        the job's Delete, then Confirm delete with a note (--delete-note)
    auto_refreshed a job the caller added through the API after `deleted` shows up without a
                   click or a reload

roles: the API has named tokens (--read-token, --write-token).

    read_only        logged in with the read token: what the page shows, and --job-id's history
                     and audit trail
    read_only_forced the write and admin controls forced: the hidden add form submitted, then
                     the page reloaded with whoami answering every route (so it shows every
                     button) and each change tried; the messages the page shows
    writer           "Forget token", then the write token: what the page shows; the add form
                     for --other-queue (outside the token's queues)
    writer_paused    --job-id paused with --note; its history's audit trail, first as shown,
                     then after "Older" until there is no older record

loopback: no token configured; the page never asks for one.

    loopback         what the page shows
    loopback_paused  --job-id paused with --note; its audit trail

After each step it prints `STEP <json>` (the step, what the page shows then, step details) and
waits for a line on stdin (`ok` goes on). Last, `DONE <json>`: the page's headers, console
errors, CSP violations, page errors and dialogs. Any failure: `FAIL <reason>`, exit status 1.

Chromium is Debian's (/usr/bin/chromium); Playwright for Python drives it (no `playwright
install`).
"""

import argparse
import json
import sys
import urllib.parse

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

# What the page shows: each queue group with its scheduler badge and rows, the status line.
READ_PAGE = """() => {
  const text = (el) => (el ? el.textContent.trim() : null);
  const groups = [...document.querySelectorAll('#queues section.queue')].map((section) => ({
    queue: section.dataset.queue,
    title: text(section.querySelector('h2')),
    scheduler: text(section.querySelector('.badge.scheduler')),
    scheduler_button: text(section.querySelector('.scheduler-toggle')),
    delete_all: text(section.querySelector('.delete-all')),
    head: text(section.querySelector('.queue-head')),
    jobs: [...section.querySelectorAll('tr.job')].map((row) => {
      const job = { buttons: [...row.querySelectorAll('button')].map((b) => b.textContent.trim()) };
      for (const cell of row.querySelectorAll('td[class^="c-"]')) job[cell.className.slice(2)] = cell.textContent.trim();
      return job;
    }),
  }));
  const who = document.getElementById('whoami');
  return {
    groups,
    status: text(document.getElementById('status')),
    status_denied: document.getElementById('status').classList.contains('denied'),
    imgs: document.querySelectorAll('#queues img, #history-panel img').length,
    token_panel: !document.getElementById('token-panel').hidden,
    me: who.hidden ? null : { token: text(who.querySelector('.who-token')), role: text(who.querySelector('.who-role')), queues: text(who.querySelector('.who-queues')) },
    add_panel: !document.getElementById('add-panel').hidden,
    confirm_panel: !document.getElementById('confirm-panel').hidden,
    history: document.getElementById('history-panel').hidden ? null : text(document.querySelector('#history-panel h3')),
    trail_routes: [...document.querySelectorAll('#history-panel tr.record .c-route')].map((c) => c.textContent),
  };
}"""

# The open history's audit trail: each record's cells, and whether there is an Older button.
READ_TRAIL = """() => ({
  records: [...document.querySelectorAll('#history-panel tr.record')].map((r) => ({
    id: r.dataset.id,
    html_children: [...r.cells].reduce((n, c) => n + c.children.length, 0),
    ...Object.fromEntries([...r.cells].map((c) => [c.className.slice(2), c.textContent])),
  })),
  older: !!document.querySelector('#history-panel button.older'),
})"""

# What a read-only page is forced to offer: whoami's routes plus every change the page makes.
CHANGES = ["/add_timing_job", "/pause_timing_job", "/resume_timing_job", "/run_timing_job_now", "/delete_timing_job", "/pause_scheduler", "/resume_scheduler", "/delete_all_timing_jobs"]


class Failed(Exception):
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the page, e.g. http://127.0.0.1:3000/funboost/ui")
    parser.add_argument("--scenario", choices=["manage", "roles", "loopback"], default="manage")
    parser.add_argument("--token", help="manage: the API token to type into the page's token form")
    parser.add_argument("--evil-job-id", help="manage: a listed job id holding HTML")
    parser.add_argument("--late-job-id", help="manage: the job the caller adds after the deleted step")
    parser.add_argument("--screenshot", help="manage, roles: PNG written with a job's history open")
    parser.add_argument("--queue-note", default="", help="manage: the note of the queue's pause")
    parser.add_argument("--delete-note", default="", help="manage: the note of the delete")
    parser.add_argument("--read-token", help="roles: a read-only token")
    parser.add_argument("--write-token", help="roles: a write token limited to --job-queue")
    parser.add_argument("--job-queue", help="roles, loopback: the queue of --job-id")
    parser.add_argument("--job-id", help="roles, loopback: the job to look at and pause")
    parser.add_argument("--other-queue", help="roles: a queue outside the write token's")
    parser.add_argument("--note", default="", help="roles, loopback: the note of --job-id's pause")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for each effect to show")
    args = parser.parse_args()
    if urllib.parse.urlsplit(args.url).hostname not in LOOPBACK:
        print(f"FAIL --url must be a loopback address, not {args.url}", flush=True)
        return 1
    needed = {
        "manage": ["token", "evil_job_id", "late_job_id", "screenshot"],
        "roles": ["read_token", "write_token", "job_queue", "job_id", "other_queue", "screenshot"],
        "loopback": ["job_queue", "job_id"],
    }[args.scenario]
    missing = [name for name in needed if not getattr(args, name)]
    if missing:
        print(f"FAIL --scenario {args.scenario} needs " + ", ".join("--" + m.replace("_", "-") for m in missing), flush=True)
        return 1

    seen = {"console_errors": [], "page_errors": [], "dialogs": [], "csp_violations": [], "page_headers": None, "other_hosts": []}

    def guard(route):
        if urllib.parse.urlsplit(route.request.url).hostname not in LOOPBACK and route.request.url.startswith("http"):
            seen["other_hosts"].append(route.request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def on_dialog(dialog):
        seen["dialogs"].append({"type": dialog.type, "message": dialog.message})
        dialog.dismiss()

    def on_console(message):
        if message.type == "error":
            seen["console_errors"].append(message.text)

    def on_response(response):
        if response.request.resource_type == "document":
            seen["page_headers"] = response.all_headers()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", guard)
            # CSP violations are reported as events; collect them before the page's own script.
            context.add_init_script(
                "document.addEventListener('securitypolicyviolation', (e) => {"
                " (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI); });"
            )
            page = context.new_page()
            page.on("dialog", on_dialog)
            page.on("console", on_console)
            page.on("pageerror", lambda e: seen["page_errors"].append(str(e)))
            page.on("response", on_response)
            page.set_default_timeout(args.timeout * 1000)
            Session(page, args).run(seen)
            seen["csp_violations"] = page.evaluate("() => window.__csp || []")
            print("DONE " + json.dumps(seen), flush=True)
            return 0
        except Failed as e:
            print(f"FAIL {e}", flush=True)
            return 1
        except Exception as e:  # a Playwright timeout names what it waited for
            print(f"FAIL {type(e).__name__}: {e}".replace("\n", " | "), flush=True)
            return 1
        finally:
            browser.close()


class Session:
    """The page and the helpers every scenario uses."""

    def __init__(self, page, args):
        self.page = page
        self.args = args
        self.form = page.locator("#add-form")

    def run(self, seen):
        {"manage": self.manage, "roles": self.roles, "loopback": self.loopback}[self.args.scenario](seen)

    def read(self):
        return self.page.evaluate(READ_PAGE)

    def trail(self):
        return self.page.evaluate(READ_TRAIL)

    def step(self, name, **extra):
        print("STEP " + json.dumps({"step": name, "page": self.read(), **extra}), flush=True)
        answer = sys.stdin.readline().strip()
        if answer != "ok":
            raise Failed(f"the caller stopped after {name}: {answer!r}")

    def wait(self, js, arg=None, what="the page"):
        try:
            self.page.wait_for_function(js, arg=arg, timeout=self.args.timeout * 1000)
        except Exception as e:
            raise Failed(f"waiting for {what}: {e}; the page shows {json.dumps(self.read())}") from e

    def settled(self):
        """No refresh in flight (one could re-render the list under a click)."""
        self.wait("() => document.getElementById('queues').getAttribute('aria-busy') !== 'true'", what="the list to settle")

    def row(self, job_id):
        self.settled()
        rows = self.page.locator("tr.job").filter(has=self.page.get_by_text(job_id, exact=True))
        if rows.count() != 1:
            raise Failed(f"{rows.count()} rows show job {job_id}: {json.dumps(self.read())}")
        return rows

    def queue_group(self, queue):
        self.settled()
        return self.page.locator(f"section.queue[data-queue={json.dumps(queue)}]")

    def wait_status(self, job_id, status):
        self.wait(f"(id) => [...document.querySelectorAll('tr.job')].some((r) => r.dataset.jobId === id && r.dataset.status === '{status}')", job_id, f"{job_id} {status}")

    @staticmethod
    def has_job(job_id, present=True):
        listed = f"[...document.querySelectorAll('tr.job')].some((r) => r.dataset.jobId === {json.dumps(job_id)})"
        return f"() => {listed}" if present else f"() => !{listed}"

    def field(self, name):
        return self.form.locator(f'[name="{name}"]')

    def error_texts(self):
        return self.page.evaluate("() => Object.fromEntries([...document.querySelectorAll('#add-form .error')].map((e) => [e.dataset.for || e.id, e.textContent]))")

    def confirm(self, label, note=""):
        """The confirm panel a change opened: its button must say `label`; `note` typed, then sent."""
        panel = self.page.locator("#confirm-panel")
        panel.wait_for(state="visible")
        shown = self.page.locator("#confirm-ok").text_content()
        if shown != label:
            raise Failed(f"the confirm button says {shown!r}, not {label!r}")
        if note:
            self.page.locator("#confirm-note").fill(note)
        self.page.locator("#confirm-ok").click()
        panel.wait_for(state="hidden")

    def give_token(self, token):
        """The token form is open: type `token`; wait until whoami names the token's role."""
        self.page.locator("#token-panel").wait_for(state="visible")
        self.page.locator("#token-input").fill(token)
        self.page.locator("#token-form button[type=submit]").click()
        self.wait("() => !document.getElementById('whoami').hidden && document.querySelectorAll('tr.job').length > 0", what="whoami and the jobs after the token")

    def denied(self, click, what):
        """Clears the status line, runs `click`; the status line's 403 message."""
        self.page.evaluate("() => { const s = document.getElementById('status'); s.textContent = ''; s.className = ''; }")
        click()
        self.wait("() => document.getElementById('status').classList.contains('denied') && document.getElementById('status').textContent !== ''", what=f"the refusal of {what}")
        return self.page.locator("#status").text_content()

    def open_trail(self, job_id, route=None):
        """Opens `job_id`'s history; waits for its trail's newest record (to be of `route`)."""
        self.row(job_id).get_by_role("button", name="History").click()
        self.wait(
            "(route) => { const r = document.querySelector('#history-panel tr.record .c-route'); return r && (route === null || r.textContent === route); }",
            route,
            f"the trail's {route or 'newest'} record",
        )
        return self.trail()

    def fill_add(self, queue, job_id):
        """The add form, through the DOM (it may be hidden): an interval job of `queue`."""
        self.page.evaluate(
            """([queue, id]) => {
              const f = document.getElementById('add-form').elements;
              f.queue_name.value = queue; f.job_id.value = id; f.trigger.value = 'interval'; f.minutes.value = '5'; f.kwargs.value = '{"x": 1}';
            }""",
            [queue, job_id],
        )

    # ---- manage: an admin token ----

    def manage(self, seen):
        page, args, form = self.page, self.args, self.form
        read, step, wait, row, field = self.read, self.step, self.wait, self.row, self.field
        has_job, error_texts = self.has_job, self.error_texts

        # 1. The API answers 401: the page shows its token form; once given, it lists the jobs.
        page.goto(args.url)
        page.evaluate("() => { window.__loaded_once = true; }")
        page.locator("#token-panel").wait_for(state="visible")
        reason = page.locator("#token-reason").text_content()
        before = page.evaluate("() => ({session: sessionStorage.length, local: localStorage.length})")
        page.locator("#token-input").fill(args.token)
        page.locator("#token-form button[type=submit]").click()
        wait("() => document.querySelectorAll('tr.job').length > 0", what="the jobs after the token")
        storage = page.evaluate("() => ({session: {...sessionStorage}, local: {...localStorage}})")
        step("token", reason=reason, before=before, storage=storage, token_panel_after=page.locator("#token-panel").is_visible())

        # 2. A job id holding HTML is text.
        wait(has_job(args.evil_job_id), what="the evil job")
        cell = page.evaluate(
            "(id) => { const r = [...document.querySelectorAll('tr.job')].find((r) => r.dataset.jobId === id);"
            " return r && { text: r.querySelector('.c-job_id').textContent, children: r.querySelector('.c-job_id').children.length }; }",
            args.evil_job_id,
        )
        step("escaped", cell=cell)

        # 3. Filters: one queue, then one status.
        page.locator("#filter-queue").select_option("reports")
        shown_reports = read()
        page.locator("#filter-queue").select_option("")
        page.locator("#filter-status").select_option("paused")
        shown_paused = read()
        page.locator("#filter-status").select_option("")
        step("filtered", reports=shown_reports, paused=shown_paused)

        # 4. Typing cron fields shows the next 10 fire times.
        page.locator("#add-panel summary").click()
        field("trigger").select_option("cron")
        typed = {"day_of_week": "mon-fri", "hour": "9", "minute": "30"}
        for name, value in typed.items():
            field(name).press_sequentially(value, delay=40)
        wait("() => document.querySelectorAll('#preview-times li').length === 10 && document.getElementById('preview-trigger').textContent.includes(\"minute='30'\")", what="10 preview times")
        times = page.evaluate("() => [...document.querySelectorAll('#preview-times li')].map((li) => li.textContent)")
        step("preview", typed=typed, times=times, trigger_str=page.locator("#preview-trigger").text_content())

        # 5. Errors next to their fields: preview (hour, timezone), add (kwargs).
        field("hour").fill("25")
        wait("() => document.querySelector('.error[data-for=hour]').textContent !== ''", what="the hour error")
        hour_errors = error_texts()
        field("hour").fill("9")
        field("timezone").fill("Mars/Olympus_Mons")
        wait("() => document.querySelector('.error[data-for=timezone]').textContent !== '' && document.querySelector('.error[data-for=hour]').textContent === ''", what="the timezone error")
        timezone_errors = error_texts()
        field("timezone").fill("")
        wait("() => document.getElementById('preview-times').dataset.state === 'ok' && document.querySelector('.error[data-for=timezone]').textContent === ''", what="the preview back")
        field("queue_name").fill("orders")
        field("job_id").fill("weekday_report")
        field("kwargs").fill('{"x": 1, "z": 2}')
        form.locator("button[type=submit]").click()
        wait("() => document.querySelector('.error[data-for=kwargs]').textContent !== ''", what="the kwargs error")
        kwargs_errors = error_texts()
        step("field_error", hour=hour_errors, timezone=timezone_errors, kwargs=kwargs_errors)

        # 6. Cron, interval and date jobs through the form.
        field("kwargs").fill('{"x": 1, "y": 2}')
        form.locator("button[type=submit]").click()
        wait(has_job("weekday_report"), what="weekday_report listed")
        field("trigger").select_option("interval")
        field("queue_name").fill("reports")
        field("job_id").fill("every_10_minutes")
        field("minutes").fill("10")
        field("misfire_grace_time").fill("30")
        field("coalesce").uncheck()
        field("kwargs").fill('{"x": 3}')
        form.locator("button[type=submit]").click()
        wait(has_job("every_10_minutes"), what="every_10_minutes listed")
        field("trigger").select_option("date")
        field("queue_name").fill("orders")
        field("job_id").fill("new_year_2031")
        field("run_date").fill("2031-01-01 00:00:00")
        field("timezone").fill("Europe/Berlin")
        field("paused").check()
        field("args").fill("[7, 8]")
        field("kwargs").fill("")
        form.locator("button[type=submit]").click()
        wait(has_job("new_year_2031"), what="new_year_2031 listed")
        page.locator("#add-panel summary").click()  # fold the form
        step("added", errors=error_texts())

        # 7-9. One job: pause, resume (each confirmed without a note), run now, its history and trail.
        row("weekday_report").get_by_role("button", name="Pause", exact=True).click()
        self.confirm("Pause")
        self.wait_status("weekday_report", "paused")
        step("job_paused")
        row("weekday_report").get_by_role("button", name="Resume", exact=True).click()
        self.confirm("Resume")
        self.wait_status("weekday_report", "running")
        step("job_resumed")
        row("weekday_report").get_by_role("button", name="Run now").click()
        wait("() => document.getElementById('status').textContent.includes('weekday_report')", what="the run-now message")
        run_message = page.locator("#status").text_content()
        trail = self.open_trail("weekday_report", "run_timing_job_now")
        wait("() => document.querySelectorAll('#history-panel tr.fire').length > 0", what="the history")
        history = page.evaluate(
            "() => ({title: document.querySelector('#history-panel h3').textContent,"
            " fires: [...document.querySelectorAll('#history-panel tr.fire')].map((r) => Object.fromEntries([...r.cells].map((c) => [c.className.slice(2), c.textContent])))})"
        )
        page.screenshot(path=args.screenshot, full_page=True)
        step("run_now", message=run_message, history=history, trail=trail)

        # 10-11. The queue's scheduler: paused with a note, resumed without.
        self.queue_group("orders").get_by_role("button", name="Pause queue").click()
        self.confirm("Pause queue", args.queue_note)
        wait("() => document.querySelector('section.queue[data-queue=orders] .badge.scheduler').textContent === 'scheduler paused'", what="orders paused")
        step("queue_paused")
        self.queue_group("orders").get_by_role("button", name="Resume queue").click()
        self.confirm("Resume queue")
        wait("() => document.querySelector('section.queue[data-queue=orders] .badge.scheduler').textContent !== 'scheduler paused'", what="orders resumed")
        step("queue_resumed")

        # 12. Delete asks for a confirmation, with a note.
        row("weekday_report").get_by_role("button", name="Delete").click()
        self.confirm("Confirm delete", args.delete_note)
        wait(has_job("weekday_report", present=False), what="weekday_report gone")
        step("deleted")

        # 13. The caller added a job through the API: auto-refresh shows it, without a reload.
        wait(has_job(args.late_job_id), what="the late job (auto-refresh)")
        step("auto_refreshed", same_document=page.evaluate("() => window.__loaded_once === true"))

    # ---- roles: a read token, then a write token ----

    def roles(self, seen):
        page, args = self.page, self.args

        # 1. The read token: a page that only looks; the job's history and trail still open.
        page.goto(args.url)
        self.give_token(args.read_token)
        trail = self.open_trail(args.job_id)
        self.step("read_only", trail=trail)

        # 2. Forced: the hidden add form submitted; then whoami made to answer every route, so the
        # page offers every change, and each one tried. The page shows the API's 403.
        forced = {}
        self.fill_add(args.job_queue, "forced_add")
        forced["add_hidden"] = self.denied(lambda: page.evaluate("() => document.getElementById('add-form').requestSubmit()"), "the hidden add form")
        forced["add_hidden_form_error"] = page.locator("#form-error").text_content()

        def every_route(route):
            response = route.fetch()
            body = response.json()
            body["data"]["routes"] = sorted(set(body["data"]["routes"]) | set(CHANGES))
            route.fulfill(response=response, json=body)

        page.route("**/funboost/whoami", every_route)
        page.reload()
        self.wait(
            "() => document.querySelectorAll('tr.job button.delete').length > 0 && document.querySelector('.scheduler-toggle') && document.querySelector('.delete-all')",
            what="every button, whoami forced",
        )
        forced["shown"] = self.read()
        job = lambda: self.row(args.job_id)  # noqa: E731 (rows are rendered anew on each refresh)
        group = lambda: self.queue_group(args.job_queue)  # noqa: E731

        def pause():
            job().get_by_role("button", name="Pause", exact=True).click()
            self.confirm("Pause", "forced")

        def delete():
            job().get_by_role("button", name="Delete").click()
            self.confirm("Confirm delete", "forced")

        def pause_queue():
            group().get_by_role("button", name="Pause queue").click()
            self.confirm("Pause queue", "forced")

        def delete_all():
            group().get_by_role("button", name="Delete all").click()
            self.confirm("Delete all jobs", "forced")

        def add():
            page.locator("#add-panel summary").click()
            self.fill_add(args.job_queue, "forced_add")
            self.form.locator("button[type=submit]").click()

        forced["pause"] = self.denied(pause, "pause")
        forced["run_now"] = self.denied(lambda: job().get_by_role("button", name="Run now").click(), "run now")
        forced["delete"] = self.denied(delete, "delete")
        forced["pause_scheduler"] = self.denied(pause_queue, "the scheduler switch")
        forced["delete_all"] = self.denied(delete_all, "delete all")
        forced["add"] = self.denied(add, "add")
        forced["add_form_error"] = page.locator("#form-error").text_content()
        page.unroute("**/funboost/whoami")
        self.step("read_only_forced", forced=forced)

        # 3. The write token, after "Forget token": its own rights and queues.
        page.locator("#forget-token").click()
        page.locator("#refresh").click()
        self.give_token(args.write_token)
        self.wait("() => document.querySelector('#whoami .who-token').textContent !== " + json.dumps("reader") + " && document.querySelectorAll('tr.job button.delete').length > 0", what="the write token's page")
        shown = self.read()
        self.fill_add(args.other_queue, "out_of_scope")
        outside = self.denied(lambda: self.form.locator("button[type=submit]").click(), "an add to another queue")
        self.step("writer", shown=shown, outside=outside, outside_field_error=self.form.locator(".error[data-for=\"queue_name\"]").text_content())

        # 4. Pause with a note; the job's trail shows it, then every older record.
        self.row(args.job_id).get_by_role("button", name="Pause", exact=True).click()
        self.confirm("Pause", args.note)
        self.wait_status(args.job_id, "paused")
        first = self.open_trail(args.job_id, "pause_timing_job")
        page.screenshot(path=args.screenshot, full_page=True)
        clicks = 0
        while self.trail()["older"]:
            count = len(self.trail()["records"])
            page.locator("#history-panel button.older").click()
            self.wait(f"() => document.querySelectorAll('#history-panel tr.record').length > {count} || !document.querySelector('#history-panel button.older')", what="older records")
            clicks += 1
            if clicks > 20:
                raise Failed("Older never ends")
        self.step("writer_paused", first=first, all=self.trail(), older_clicks=clicks)

    # ---- loopback: no token configured ----

    def loopback(self, seen):
        page, args = self.page, self.args
        page.goto(args.url)
        self.wait("() => !document.getElementById('whoami').hidden && document.querySelectorAll('tr.job').length > 0", what="whoami and the jobs")
        self.step("loopback")
        self.row(args.job_id).get_by_role("button", name="Pause", exact=True).click()
        self.confirm("Pause", args.note)
        self.wait_status(args.job_id, "paused")
        self.step("loopback_paused", trail=self.open_trail(args.job_id, "pause_timing_job"))


if __name__ == "__main__":
    sys.exit(main())
