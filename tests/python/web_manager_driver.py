"""Drives funboost 55's timing-job page (served by funboost_web_manager.py in front of
funboost-edge) in headless Chromium, through its own buttons and dialogs, as a user would:

    listed             the page lists the jobs grouped by queue (waits for --expect-queues)
    added              "添加任务": the dialog, queue picked in its Select2 box, kwargs, a cron trigger
    job_paused         the job's "暂停" button (screenshot taken here)
    job_resumed        its "恢复" button
    scheduler_paused   the queue group's scheduler "暂停" button
    scheduler_resumed  its "恢复" button
    deleted            the job's "删除" button

After each step it prints `STEP <json>`: the step, what the page shows then (stats, the groups
with their scheduler badge and rows, the queue filter) and the dialogs it answered. With
--step-by-step it then waits for a line on stdin (`ok` to go on, anything else stops it), so a
caller can check each effect through the API before the next. Last, `DONE <json>` with every
request the page made (method, path, query, status, `succ` of JSON answers). Any request to a
host other than loopback is blocked and fails the run, as does a script error in the page or
an alert that reports a failure; `FAIL <reason>` and exit status 1.

Chromium is Debian's (`/usr/bin/chromium`, apt package `chromium`); Playwright for Python
drives it (no `playwright install`).

    python tests/python/web_manager_driver.py --url http://127.0.0.1:8080 \
        --expect-queues orders,reports --queue orders --job-id weekday_report \
        --screenshot /tmp/web-manager.png
"""

import argparse
import json
import sys
import tempfile
import time
import urllib.parse

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
PAGE_PATH = "/tpl/timing_jobs_management.html"

# What the page shows, read from the DOM: Tabulator puts each group header before its rows.
READ_PAGE = """() => {
  const text = el => el ? el.innerText.trim() : null;
  const shown = el => !!el && getComputedStyle(el).display !== 'none';
  const groups = [];
  let current = null;
  document.querySelectorAll('#timing-jobs-table .tabulator-table > *').forEach(el => {
    if (el.classList.contains('tabulator-group')) {
      const controls = el.querySelector('.scheduler-controls-group');
      current = {
        queue: controls ? controls.dataset.queue : null,
        header: text(el),
        scheduler: text(el.querySelector('.scheduler-status')),
        pause_button: shown(el.querySelector('.btn-pause-group')),
        resume_button: shown(el.querySelector('.btn-resume-group')),
        jobs: [],
      };
      groups.push(current);
    } else if (el.classList.contains('tabulator-row') && current) {
      const cell = f => el.querySelector('[tabulator-field="' + f + '"]');
      const trigger = cell('trigger');
      current.jobs.push({
        job_id: text(cell('job_id')),
        trigger_badge: trigger ? text(trigger.querySelector('.trigger-badge')) : null,
        trigger: trigger ? text(trigger.querySelector('span:not(.trigger-badge)')) : null,
        next_run_time: text(cell('next_run_time')),
        status: text(cell('status')),
        buttons: [...el.querySelectorAll('button')].map(b => b.innerText.trim()),
      });
    }
  });
  return {
    stats: {queues: text(document.querySelector('#total_queues')),
            jobs: text(document.querySelector('#total_jobs')),
            running: text(document.querySelector('#running_jobs'))},
    queue_filter: [...document.querySelectorAll('#queueFilter option')].map(o => o.textContent.trim()),
    groups,
  };
}"""


class Failed(Exception):
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="base URL of funboost_web_manager.py")
    parser.add_argument("--expect-queues", required=True, help="comma-separated queues whose groups must be listed (each holds a job)")
    parser.add_argument("--queue", required=True, help="the queue to add the job to and to pause the scheduler of")
    parser.add_argument("--job-id", required=True, help="the id of the job to add")
    parser.add_argument("--kwargs", default='{"x": 1, "y": 2}', help="the job's kwargs (JSON), typed into the dialog")
    parser.add_argument("--cron", default="day_of_week=mon-fri,hour=9,minute=30,second=0", help="cron fields typed into the dialog")
    parser.add_argument("--screenshot", required=True, help="PNG written after the job is paused")
    parser.add_argument("--step-by-step", action="store_true", help="wait for a line on stdin after each step")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for each effect to show")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    if urllib.parse.urlsplit(base).hostname not in LOOPBACK:
        print(f"FAIL --url must be a loopback address, not {base}", flush=True)
        return 1

    blocked: list[str] = []
    page_errors: list[str] = []
    dialogs: list[dict] = []
    responses: list = []
    failed_requests: list[str] = []

    def guard(route):
        url = route.request.url
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOOPBACK:
            blocked.append(url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def on_dialog(dialog):
        dialogs.append({"type": dialog.type, "message": dialog.message})
        dialog.accept()

    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="funboost_web_manager_chromium_") as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, viewport={"width": 1500, "height": 950}, locale="zh-CN"
        )
        try:
            context.route("**/*", guard)
            page = context.pages[0] if context.pages else context.new_page()
            page.on("dialog", on_dialog)
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.on("response", lambda r: responses.append(r))
            page.on("requestfailed", lambda r: failed_requests.append(f"{r.method} {r.url}: {r.failure}"))
            page.set_default_timeout(args.timeout * 1000)
            run(page, args, base, dialogs, blocked, page_errors)
            report = {"requests": requests_of(responses, base), "failed_requests": failed_requests, "blocked": blocked, "browser": context.browser.version if context.browser else None}
            print("DONE " + json.dumps(report, ensure_ascii=False), flush=True)
            return 0
        except Failed as e:
            print(f"FAIL {e}", flush=True)
            return 1
        except Exception as e:  # a Playwright timeout and the like: say where
            state = None
            try:
                state = page.evaluate(READ_PAGE)
            except Exception:
                pass
            print(f"FAIL {type(e).__name__}: {e}\npage: {json.dumps(state, ensure_ascii=False)}\ndialogs: {dialogs}\nblocked: {blocked}\npage errors: {page_errors}", flush=True)
            return 1
        finally:
            context.close()


def run(page, args, base, dialogs, blocked, page_errors):
    queues = [q for q in args.expect_queues.split(",") if q]
    job_id = args.job_id
    step_dialogs_from = 0

    def check_health():
        if blocked:
            raise Failed(f"the page asked for a non-loopback host: {blocked}")
        if page_errors:
            raise Failed(f"script errors in the page: {page_errors}")
        failures = [d for d in dialogs if d["type"] == "alert" and ("失败" in d["message"] or "❌" in d["message"])]
        if failures:
            raise Failed(f"the page reported a failure: {failures}")

    def read():
        return page.evaluate(READ_PAGE)

    def wait_until(what, predicate):
        deadline = time.monotonic() + args.timeout
        while True:
            check_health()
            state = read()
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise Failed(f"timed out waiting until {what}; the page shows {json.dumps(state, ensure_ascii=False)}")
            page.wait_for_timeout(100)

    def group(state, queue):
        return next((g for g in state["groups"] if g["queue"] == queue), None)

    def row(state, queue):
        g = group(state, queue)
        return next((j for j in g["jobs"] if j["job_id"] == job_id), None) if g else None

    def step(name, state, **extra):
        nonlocal step_dialogs_from
        check_health()
        out = {"step": name, "page": state, "dialogs": dialogs[step_dialogs_from:], **extra}
        step_dialogs_from = len(dialogs)
        print("STEP " + json.dumps(out, ensure_ascii=False), flush=True)
        if args.step_by_step:
            answer = sys.stdin.readline().strip()
            if answer != "ok":
                raise Failed(f"stopped after {name}: the caller said {answer!r}")

    def job_row():
        return page.locator(".tabulator-row", has=page.locator('[tabulator-field="job_id"]', has_text=job_id))

    def settled(state):
        return all(group(state, q) and group(state, q)["jobs"] and group(state, q)["scheduler"] != "加载中..." for q in queues)

    # 1. The list, grouped by queue, each group with its scheduler's state.
    page.goto(base + PAGE_PATH)
    state = wait_until(f"every queue of {queues} is listed with its scheduler state", settled)
    step("listed", state, title=page.title())

    # 2. A cron job through the add dialog.
    page.click(".control-panel .btn-add")
    page.wait_for_selector("#addJobModal.in", state="visible")
    page.click("#job_queue_name + .select2 .select2-selection")
    page.click(f'.select2-results__option:text-is("{args.queue}")')
    # Picking the queue makes the page fetch get_one_queue_config and show the function.
    page.wait_for_selector("#func_params_text strong", state="visible")
    params_text = page.inner_text("#func_params_text")
    kwargs_template = page.input_value("#job_kwargs")
    page.fill("#job_id", job_id)
    page.fill("#job_kwargs", args.kwargs)
    page.check("#trigger_cron")
    page.wait_for_selector("#cronTriggerSection.active", state="visible")
    for field_value in args.cron.split(","):
        field, _, value = field_value.partition("=")
        page.fill(f"#cron_{field.strip()}", value.strip())
    page.click("#addJobModal .modal-footer .btn-add")
    page.wait_for_selector("#addJobModal", state="hidden")
    state = wait_until(f"{job_id} is listed in {args.queue}", lambda s: settled(s) and row(s, args.queue) is not None and row(s, args.queue)["status"] == "运行中")
    step("added", state, func_params_text=params_text, kwargs_template=kwargs_template)

    # 3. Pause the job.
    job_row().locator("button.btn-pause").click()
    state = wait_until(f"{job_id} shows paused", lambda s: settled(s) and row(s, args.queue) is not None and row(s, args.queue)["status"] == "已暂停")
    page.mouse.move(5, 5)  # no row highlighted by the pointer
    page.wait_for_timeout(300)
    page.screenshot(path=args.screenshot, full_page=True)
    step("job_paused", state)

    # 4. Resume it.
    job_row().locator("button.btn-resume").click()
    state = wait_until(f"{job_id} shows running", lambda s: settled(s) and row(s, args.queue) is not None and row(s, args.queue)["status"] == "运行中")
    step("job_resumed", state)

    # 5. Pause the queue's scheduler (its group header's buttons), then 6. resume it.
    controls = f'.scheduler-controls-group[data-queue="{args.queue}"]'
    wait_until(f"the scheduler of {args.queue} shows running", lambda s: group(s, args.queue)["scheduler"] == "调度中")
    page.click(f"{controls} .btn-pause-group")
    state = wait_until(f"the scheduler of {args.queue} shows paused", lambda s: group(s, args.queue)["scheduler"] == "已暂停")
    step("scheduler_paused", state)
    page.click(f"{controls} .btn-resume-group")
    state = wait_until(f"the scheduler of {args.queue} shows running again", lambda s: group(s, args.queue)["scheduler"] == "调度中")
    step("scheduler_resumed", state)

    # 7. Delete the job.
    job_row().locator("button.btn-delete").click()
    state = wait_until(f"{job_id} is gone", lambda s: settled(s) and row(s, args.queue) is None)
    step("deleted", state)


def requests_of(responses, base):
    """Every response the page got, in order: method, path, query, status, and `succ` for JSON."""
    out = []
    for response in responses:
        parts = urllib.parse.urlsplit(response.url)
        entry = {"method": response.request.method, "path": parts.path, "query": parts.query, "status": response.status, "host": parts.hostname}
        if (response.headers.get("content-type") or "").startswith("application/json"):
            try:
                entry["succ"] = response.json().get("succ")
            except Exception as e:  # the body may be gone after a navigation
                entry["succ"] = f"unreadable: {e}"
        out.append(entry)
    return out


if __name__ == "__main__":
    sys.exit(main())
