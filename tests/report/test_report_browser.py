"""The report page in a real headless Chromium (Debian's package, driven by Selenium).

What a person debugging a run needs must be on the page as they see it: the failed task shown
failed with its error one click away, skipped tasks shown skipped, a timeline, and a 300-task
graph that still lays out and can be searched and clicked. Screenshots are kept as artifacts
under out/artifacts/ (or $DAGC_ARTIFACTS) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from dagc.report.html import render_report
from report_fixtures import ARTIFACTS, PROMOTE_ERROR, big_run, failed_run, write_big_pipeline
from report_png import count_near

# $DAGC_CHROMIUM / $DAGC_CHROMEDRIVER point elsewhere (another Chromium build, a Chrome on a laptop).
CHROMIUM = os.environ.get("DAGC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("DAGC_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(f"the browser tests need Debian's chromium and chromium-driver ({CHROMIUM} or {CHROMEDRIVER} is missing; "
                "apt-get install chromium chromium-driver, which `make test` does)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium (pip install -e '.[dev]')")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

FAILED_RED = (0xD9, 0x30, 0x25)
SKIPPED_GREY = (0x80, 0x86, 0x8B)
SUCCEEDED_GREEN = (0x1E, 0x8E, 0x3E)

# Recorded before any page script runs: CSP violations (a fetch the page tried) and script errors.
WATCH = """
window.__problems = [];
document.addEventListener('securitypolicyviolation', e => window.__problems.push('csp: ' + e.violatedDirective + ' ' + e.blockedURI));
window.addEventListener('error', e => window.__problems.push('error: ' + e.message));
"""


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager try to download a browser or driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1600,1000", "--hide-scrollbars"):
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="dagc-chromium-")
    opts.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\nreport screenshots: {ARTIFACTS}")
    return ARTIFACTS


def open_page(driver, path: Path, fragment: str = "") -> None:
    driver.get(path.resolve().as_uri() + fragment)
    WebDriverWait(driver, 90).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
    assert driver.execute_script("return window.dagcError || null") is None


def problems(driver) -> list[str]:
    return driver.execute_script("return window.__problems")


def node(driver, name: str):
    return driver.find_element(By.CSS_SELECTOR, f'g.node[data-task="{name}"]')


def click(driver, element) -> None:
    ActionChains(driver).move_to_element(element).click().perform()


def test_failed_run_shows_failure_skips_and_error(browser, artifacts, tmp_path, training_manifest):
    page = tmp_path / "failed-run.html"
    page.write_text(render_report(training_manifest, failed_run()), encoding="utf-8")
    open_page(browser, page)

    # every task is drawn with the state it ended in
    states = {e.get_attribute("data-task"): e.get_attribute("data-state")
              for e in browser.find_elements(By.CSS_SELECTOR, "g.node[data-task]")}
    assert states["promote"] == "FAILED"
    assert {states[n] for n in ("alert_gate_failed", "summarize", "on_failure")} == {"SKIPPED"}
    assert states["quality_gate"] == states["cleanup"] == "SUCCEEDED"
    assert "skipped" in node(browser, "alert_gate_failed").text
    assert "failed" in node(browser, "promote").text
    legend = browser.find_element(By.ID, "legend").text
    assert "failed 1" in legend and "skipped 3" in legend and "succeeded 6" in legend

    # the colours a person sees, each task brought into view with the search box like a person would:
    # red on the failed task, grey on a skipped one, green on a succeeded one
    def seen(name: str) -> bytes:
        search = browser.find_element(By.ID, "search")
        search.clear()
        search.send_keys(name, Keys.ENTER)
        png = node(browser, name).screenshot_as_png
        search.send_keys(Keys.ESCAPE)
        return png

    promote, skipped, train = seen("promote"), seen("alert_gate_failed"), seen("train")
    assert count_near(promote, FAILED_RED, 30) > 200
    assert count_near(skipped, FAILED_RED, 30) == 0 and count_near(skipped, SKIPPED_GREY, 20) > 200
    assert count_near(train, SUCCEEDED_GREEN, 30) > 200 and count_near(train, FAILED_RED, 30) == 0

    # the branch case not taken is drawn as such
    not_taken = browser.find_elements(By.CSS_SELECTOR, 'g.edge.not-taken[data-from="quality_gate"]')
    assert [e.get_attribute("data-to") for e in not_taken] == ["alert_gate_failed"]

    # a skipped task's details say skipped, with no error
    browser.find_element(By.ID, "zoom-fit").click()
    click(browser, node(browser, "alert_gate_failed"))
    assert browser.find_element(By.ID, "detail-state").text == "skipped"
    assert not browser.find_elements(By.ID, "detail-error")

    # the failed task's error is one click away
    click(browser, node(browser, "promote"))
    assert browser.find_element(By.ID, "detail-state").text == "failed"
    assert PROMOTE_ERROR in browser.find_element(By.ID, "detail-error").text
    assert "Traceback" in browser.find_element(By.ID, "detail-log").text
    assert "promote" in browser.current_url.split("#", 1)[1]
    shot = artifacts / "report-failed-run.png"
    browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the timeline has a bar for every task that ran, none for the skipped ones, and both attempts of promote
    browser.find_element(By.CSS_SELECTOR, '.tab[data-view="timeline"]').click()
    bars = browser.find_elements(By.CSS_SELECTOR, ".gantt-row .bar:not(.prev)")
    assert len(bars) == 7
    assert len(browser.find_elements(By.CSS_SELECTOR, '[data-gantt="promote"] .bar.prev')) == 1
    assert browser.find_elements(By.CSS_SELECTOR, '[data-gantt="summarize"] .bar') == []
    browser.save_screenshot(str(artifacts / "report-failed-run-timeline.png"))

    # the config tab shows the run's config
    browser.find_element(By.CSS_SELECTOR, '.tab[data-view="config"]').click()
    assert "approval_model" in browser.find_element(By.ID, "config").text
    assert problems(browser) == []


def test_real_local_run_in_the_browser(browser, artifacts, local_run):
    """The whole path: engine run -> SQLite -> `dagc report` -> what Chromium shows."""
    from dagc.cli.main import main

    root, path, state, run_id = local_run
    out = artifacts / "report-local-run.html"
    with pytest.raises(SystemExit) as exc:
        main(["report", run_id, "--state-dir", str(state), "-o", str(out)])
    assert exc.value.code == 0
    open_page(browser, out)
    assert node(browser, "load").get_attribute("data-state") == "FAILED"
    assert node(browser, "alert").get_attribute("data-state") == "SKIPPED"
    assert node(browser, "notify").get_attribute("data-state") == "SKIPPED"
    assert node(browser, "cleanup").get_attribute("data-state") == "SUCCEEDED"
    # the run's first failure is selected when the page opens
    assert browser.find_element(By.CSS_SELECTOR, "#details h2").text == "load"
    assert "warehouse NIGHTLY_WH is read-only" in browser.find_element(By.ID, "detail-error").text
    assert "about to fail" in browser.find_element(By.ID, "detail-log").text
    browser.save_screenshot(str(artifacts / "report-local-run.png"))
    browser.find_element(By.CSS_SELECTOR, '.tab[data-view="timeline"]').click()
    note = browser.find_element(By.CSS_SELECTOR, ".gantt-note").text
    assert "at most 2 at the same time" in note, note  # transform_a and transform_b ran together
    browser.save_screenshot(str(artifacts / "report-local-run-timeline.png"))
    assert problems(browser) == []


def test_pipeline_mode_shows_settings(browser, artifacts, tmp_path, training_manifest):
    page = tmp_path / "pipeline.html"
    page.write_text(render_report(training_manifest), encoding="utf-8")
    open_page(browser, page, "#task=train")
    assert not browser.find_element(By.CSS_SELECTOR, '.tab[data-view="timeline"]').is_displayed()
    details = browser.find_element(By.ID, "details").text
    assert "TRAINING_POOL \u00d7 2" in details and "train_xgboost" in details and "n_estimators" in details
    assert {e.get_attribute("data-state") for e in browser.find_elements(By.CSS_SELECTOR, "g.node[data-task]")} == {"PIPELINE"}
    assert node(browser, "cleanup").find_element(By.CSS_SELECTOR, ".cond").text == "runs after all tasks, always"
    assert node(browser, "on_failure").find_element(By.CSS_SELECTOR, ".cond").text == "when at_least_one_failed"
    browser.save_screenshot(str(artifacts / "report-pipeline.png"))
    assert problems(browser) == []


def test_300_tasks_render_and_stay_usable(browser, artifacts, tmp_path):
    from dagc.emit.manifest import build_manifest
    from dagc.frontend import load_pipeline

    manifest = build_manifest(load_pipeline(write_big_pipeline(tmp_path, 300)))
    assert len(manifest["tasks"]) == 300
    page = tmp_path / "big.html"
    page.write_text(render_report(manifest, big_run(manifest)), encoding="utf-8")
    open_page(browser, page)
    print(f"300-task layout: {browser.execute_script('return window.dagcLayoutMs'):.0f} ms, "
          f"drawing: {browser.execute_script('return window.dagcDrawMs'):.0f} ms")

    # every task is laid out at a distinct place
    spots = browser.execute_script(
        "return [...document.querySelectorAll('g.node[data-task]')].map(g => g.getAttribute('transform'))")
    assert len(spots) == 300 and len(set(spots)) == 300 and not any("NaN" in s for s in spots)

    # find a task by name, jump to it, and read its details
    search = browser.find_element(By.ID, "search")
    search.send_keys("c17_s09")
    assert browser.find_element(By.ID, "search-count").text == "1 match"
    search.send_keys(Keys.ENTER)
    assert browser.find_element(By.CSS_SELECTOR, "#details h2").text == "c17_s09"
    target = node(browser, "c17_s09")
    svg = browser.find_element(By.ID, "graph").rect
    r = target.rect
    assert svg["x"] <= r["x"] and r["x"] + r["width"] <= svg["x"] + svg["width"]
    assert svg["y"] <= r["y"] and r["y"] + r["height"] <= svg["y"] + svg["height"]
    assert r["width"] > 100, "the task jumped to is shown at a readable size"
    browser.save_screenshot(str(artifacts / "report-300-tasks-search.png"))

    # the legend filter takes you to the failure; the task table lists every task
    search.send_keys(Keys.ESCAPE)
    browser.find_element(By.CSS_SELECTOR, '#legend .chip[data-state="FAILED"]').click()
    assert browser.find_element(By.CSS_SELECTOR, "#details h2").text == "c03_s05"
    assert "does not exist" in browser.find_element(By.ID, "detail-error").text
    browser.find_element(By.ID, "zoom-fit").click()
    browser.save_screenshot(str(artifacts / "report-300-tasks.png"))
    browser.find_element(By.CSS_SELECTOR, '#legend .chip[data-state="FAILED"]').click()  # filter off
    browser.find_element(By.CSS_SELECTOR, '.tab[data-view="tasks"]').click()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#task-table tr.row")) == 300

    # parallel chains show as overlapping bars in the timeline
    browser.find_element(By.CSS_SELECTOR, '.tab[data-view="timeline"]').click()
    note = browser.find_element(By.CSS_SELECTOR, ".gantt-note").text
    peak = int(note.split("at most ")[1].split(" ")[0])
    assert peak >= 10, note
    assert problems(browser) == []


def test_hostile_text_is_shown_as_text(browser, tmp_path, training_manifest):
    import dataclasses

    evil = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script></script>'
    run = failed_run()
    run = dataclasses.replace(run, tasks=tuple(dataclasses.replace(t, error=evil, return_value=evil)
                                               if t.name == "promote" else t for t in run.tasks))
    page = tmp_path / "hostile.html"
    page.write_text(render_report(training_manifest, run), encoding="utf-8")
    open_page(browser, page, "#task=promote")
    assert browser.find_element(By.ID, "detail-error").text == evil
    assert browser.find_element(By.ID, "detail-return").text == evil
    assert browser.execute_script("return window.pwned === undefined")
    assert not browser.find_elements(By.CSS_SELECTOR, "#details img")
    assert problems(browser) == []



def test_cancelled_and_not_run_states(browser, artifacts, tmp_path, training_manifest):
    import dataclasses

    run = failed_run()
    # on_failure was cancelled; summarize has no record at all (not part of the run)
    tasks = tuple(dataclasses.replace(t, state="CANCELLED", started_at=t.started_at) if t.name == "on_failure" else t
                  for t in run.tasks if t.name != "summarize")
    page = tmp_path / "states.html"
    page.write_text(render_report(training_manifest, dataclasses.replace(run, state="CANCELLED", tasks=tasks)), encoding="utf-8")
    open_page(browser, page)
    assert node(browser, "on_failure").get_attribute("data-state") == "CANCELLED"
    assert "cancelled" in node(browser, "on_failure").text
    assert node(browser, "summarize").get_attribute("data-state") == "NOT_EXECUTED"
    assert "not run" in node(browser, "summarize").text
    legend = browser.find_element(By.ID, "legend").text
    assert "cancelled 1" in legend and "not run 1" in legend
    assert browser.find_element(By.ID, "run-state").text == "cancelled"
    browser.find_element(By.CSS_SELECTOR, '#legend .chip[data-state="NOT_EXECUTED"]').click()
    assert browser.find_element(By.CSS_SELECTOR, "#details h2").text == "summarize"
    assert "not part of it" in browser.find_element(By.ID, "details").text
    assert problems(browser) == []
