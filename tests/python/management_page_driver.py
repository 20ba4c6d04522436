"""Drives funboost-edge's management page (/funboost/ui, components/web) in headless Chromium
as a user would, for tests/management_page_works.rs. The API needs a token, which the page must
ask for. Steps, in order:

    token          the page asks for the token (its own form), lists the jobs once given
    escaped        a job id holding HTML shows as text; no element, dialog or script from it
    filtered       the queue and status filters
    preview        typing cron fields shows the next 10 fire times (debounced preview)
    field_error    a bad cron hour and a bad time zone (preview), bad kwargs (add): each error
                   shows next to its field
    added          cron, interval and date jobs added through the form
    job_paused     a job's Pause button
    job_resumed    its Resume button
    run_now        its Run now button, then History (screenshot here)
    queue_paused   a queue's Pause queue button
    queue_resumed  its Resume queue button
    deleted        the job's Delete, then Confirm delete
    auto_refreshed a job the caller added through the API after `deleted` shows up without a
                   click or a reload

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
    jobs: [...section.querySelectorAll('tr.job')].map((row) => {
      const job = { buttons: [...row.querySelectorAll('button')].map((b) => b.textContent.trim()) };
      for (const cell of row.querySelectorAll('td[class^="c-"]')) job[cell.className.slice(2)] = cell.textContent.trim();
      return job;
    }),
  }));
  return {
    groups,
    status: text(document.getElementById('status')),
    imgs: document.querySelectorAll('#queues img, #history-panel img').length,
    token_panel: !document.getElementById('token-panel').hidden,
  };
}"""


class Failed(Exception):
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the page, e.g. http://127.0.0.1:3000/funboost/ui")
    parser.add_argument("--token", required=True, help="the API token to type into the page's token form")
    parser.add_argument("--evil-job-id", required=True, help="a listed job id holding HTML")
    parser.add_argument("--late-job-id", required=True, help="the job the caller adds after the deleted step")
    parser.add_argument("--screenshot", required=True, help="PNG written with a job's history open")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for each effect to show")
    args = parser.parse_args()
    if urllib.parse.urlsplit(args.url).hostname not in LOOPBACK:
        print(f"FAIL --url must be a loopback address, not {args.url}", flush=True)
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
            run(page, args, seen)
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


def run(page, args, seen):
    def read():
        return page.evaluate(READ_PAGE)

    def step(name, **extra):
        print("STEP " + json.dumps({"step": name, "page": read(), **extra}), flush=True)
        answer = sys.stdin.readline().strip()
        if answer != "ok":
            raise Failed(f"the caller stopped after {name}: {answer!r}")

    def wait(js, arg=None, what="the page"):
        try:
            page.wait_for_function(js, arg=arg, timeout=args.timeout * 1000)
        except Exception as e:
            raise Failed(f"waiting for {what}: {e}; the page shows {json.dumps(read())}") from e

    def row(job_id):
        rows = page.locator("tr.job").filter(has=page.get_by_text(job_id, exact=True))
        if rows.count() != 1:
            raise Failed(f"{rows.count()} rows show job {job_id}: {json.dumps(read())}")
        return rows

    def wait_status(job_id, status):
        wait(f"(id) => [...document.querySelectorAll('tr.job')].some((r) => r.dataset.jobId === id && r.dataset.status === '{status}')", job_id, f"{job_id} {status}")

    def has_job(job_id, present=True):
        listed = f"[...document.querySelectorAll('tr.job')].some((r) => r.dataset.jobId === {json.dumps(job_id)})"
        return f"() => {listed}" if present else f"() => !{listed}"

    form = page.locator("#add-form")

    def field(name):
        return form.locator(f'[name="{name}"]')

    def error_texts():
        return page.evaluate("() => Object.fromEntries([...document.querySelectorAll('#add-form .error')].map((e) => [e.dataset.for || e.id, e.textContent]))")

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

    # 7-9. One job: pause, resume, run now and its history.
    row("weekday_report").get_by_role("button", name="Pause", exact=True).click()
    wait_status("weekday_report", "paused")
    step("job_paused")
    row("weekday_report").get_by_role("button", name="Resume", exact=True).click()
    wait_status("weekday_report", "running")
    step("job_resumed")
    row("weekday_report").get_by_role("button", name="Run now").click()
    wait("() => document.getElementById('status').textContent.includes('weekday_report')", what="the run-now message")
    run_message = page.locator("#status").text_content()
    row("weekday_report").get_by_role("button", name="History").click()
    wait("() => document.querySelectorAll('#history-panel tr.fire').length > 0", what="the history")
    history = page.evaluate(
        "() => ({title: document.querySelector('#history-panel h3').textContent,"
        " fires: [...document.querySelectorAll('#history-panel tr.fire')].map((r) => Object.fromEntries([...r.cells].map((c) => [c.className.slice(2), c.textContent])))})"
    )
    page.screenshot(path=args.screenshot, full_page=True)
    step("run_now", message=run_message, history=history)

    # 10-11. The queue's scheduler.
    group = page.locator("section.queue[data-queue=orders]")
    group.get_by_role("button", name="Pause queue").click()
    wait("() => document.querySelector('section.queue[data-queue=orders] .badge.scheduler').textContent === 'scheduler paused'", what="orders paused")
    step("queue_paused")
    group.get_by_role("button", name="Resume queue").click()
    wait("() => document.querySelector('section.queue[data-queue=orders] .badge.scheduler').textContent !== 'scheduler paused'", what="orders resumed")
    step("queue_resumed")

    # 12. Delete asks for a second click.
    row("weekday_report").get_by_role("button", name="Delete").click()
    row("weekday_report").get_by_role("button", name="Confirm delete").click()
    wait(has_job("weekday_report", present=False), what="weekday_report gone")
    step("deleted")

    # 13. The caller added a job through the API: auto-refresh shows it, without a reload.
    wait(has_job(args.late_job_id), what="the late job (auto-refresh)")
    step("auto_refreshed", same_document=page.evaluate("() => window.__loaded_once === true"))


if __name__ == "__main__":
    sys.exit(main())
