"""report.html in a real browser: Debian's headless Chromium driven by its chromedriver
through selenium (never selenium-manager, which would download a browser).

The page is opened from disk with the network of the browser idle; the test checks that
the tables are there, every embedded image decodes, the model's ``<script>`` did not run,
and a problem's drill-down opens on a click.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from motcoder.analysis.report_html import write_reports
from report_fixtures import SCRIPT_COMPLETION, write_base_run, write_better_run

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MISSING = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]


@pytest.fixture
def browser(tmp_path):
    if MISSING:
        pytest.skip(f"{' and '.join(MISSING)} not found: install Debian's headless browser "
                    "with `apt-get install chromium chromium-driver` (or `make browser`)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: "
                                    "pip install -e '.[dev]'")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_report_renders_in_headless_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, better = write_base_run(tmp_path / "base"), write_better_run(tmp_path / "better")
    html_path, _ = write_reports([base, better], tmp_path / "out", labels=["base", "better"])
    browser.get(html_path.resolve().as_uri())
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete")

    assert browser.title == "motcoder report"
    tables = browser.find_elements(By.TAG_NAME, "table")
    assert len(tables) >= 15
    headers = [th.get_attribute("textContent") for th in
               browser.find_elements(By.CSS_SELECTOR, "table.results th")]
    assert "test pass rate %" in headers and "pass@1 %" in headers
    deltas = browser.find_element(By.CSS_SELECTOR, "table.deltas")
    assert [td.text for td in deltas.find_elements(By.CSS_SELECTOR, "tbody td")] == \
        ["better", "+50.00", "-100.00", "+0.00"]

    images = browser.execute_script(
        "return Array.from(document.images).map(i => "
        "[i.complete, i.naturalWidth, i.naturalHeight, i.alt])")
    assert len(images) == 5
    for complete, width, height, alt in images:
        assert complete and width > 0 and height > 0, alt

    # the completion's <script> and <img onerror> are text: nothing of them ran
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.execute_script("return document.scripts.length") == 0

    problem = browser.find_element(By.CSS_SELECTOR, "details.problem:nth-of-type(2)")
    response = problem.find_elements(By.CSS_SELECTOR, "pre.response")[1]
    assert problem.get_attribute("open") is None and not response.is_displayed()
    problem.find_element(By.TAG_NAME, "summary").click()
    WebDriverWait(browser, 5).until(lambda d: response.is_displayed())
    assert problem.get_attribute("open") is not None
    assert "<script>window.pwned = 1;</script>" in response.text
    assert response.text.strip() == SCRIPT_COMPLETION.strip()
    rows = problem.find_elements(By.CSS_SELECTOR, "table.tests tbody tr")
    assert len(rows) == 4 and all(row.is_displayed() for row in rows)
