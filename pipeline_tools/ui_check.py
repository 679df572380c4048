"""Look at a DAG run in the Airflow UI with a real browser (Debian's Chromium driven by Playwright).

Signs in through the login form, opens the run's page, reads the run's state badge and the state of every
task instance in the page's table, and saves a screenshot.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

# Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@dataclass
class RunPage:
    run_state: str
    task_states: dict[str, str]
    screenshot: Path


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise FileNotFoundError("Chromium is not installed: `apt-get install chromium` (Debian package)")
    return path


def read_run_page(base_url: str, username: str, password: str, dag_id: str, run_id: str,
                  screenshot: Path, expected_tasks: int) -> RunPage:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1400})
            page.goto(f"{base_url}/dags/{dag_id}/runs/{quote(run_id)}")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/runs/**")
            rows = page.locator("table tbody tr")
            expect(rows).to_have_count(expected_tasks, timeout=30_000)
            page.wait_for_load_state("networkidle")
            tasks = {}
            for row in rows.all():
                cells = [c.strip() for c in row.locator("td").all_inner_texts()]
                # Columns: checkbox, task id, map index, state, ...
                tasks[cells[1]] = cells[3]
            header = page.locator("h2, [class*=heading]").filter(has_text=run_id).first
            badge = header.locator("xpath=..").inner_text()
            run_state = next((s for s in ("Success", "Failed", "Running", "Queued") if s in badge), badge)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return RunPage(run_state=run_state, task_states=tasks, screenshot=screenshot)
