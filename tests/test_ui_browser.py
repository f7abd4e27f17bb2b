"""The web UI in a real headless Chromium (Playwright): what a user sees and clicks.

Each test saves a screenshot of the page it checks under ``test-artifacts/ui/``.
Skipped only when no ``chromium`` binary is installed (CI installs Debian's).
"""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("playwright.sync_api")


from logwright import fluent  # noqa: E402
from logwright.server.sample import HOSTILE, populate, serve  # noqa: E402
from logwright.testing.browser import CHROMIUM, checked_page, chromium, screenshot  # noqa: E402

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt install chromium)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("ui-browser") / "store")
    fluent._reset_for_tests()
    ids = populate(uri)
    fluent._reset_for_tests()
    with serve(uri) as url:
        yield url, ids


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    """A fresh page that records script errors and fails the test on any of them or on a dialog."""
    with checked_page(browser) as pg:
        yield pg


def _wait_charts(pg, selector: str) -> None:
    pg.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].every(d => d.dataset.ready === '1')", arg=selector, timeout=20000
    )


def test_experiments_page(page, site):
    url, _ = site
    page.goto(url + "/")
    rows = page.locator("#experiments tbody tr")
    assert rows.count() == 1 and "sample-experiment" in rows.first.inner_text()
    screenshot(page, "01-experiments")


def test_runs_table_nested_runs_and_compare(page, site):
    url, ids = site
    page.goto(url + "/")
    page.click("text=sample-experiment")
    page.wait_for_url("**/experiments/**")
    page.wait_for_load_state("load")
    table = page.locator("#runs tbody")
    assert table.locator("tr.run").count() == 3
    children = table.locator("tr.child")
    assert children.count() == 3 and not children.first.is_visible()
    page.click(f'button[data-toggle="{ids["parent"]}"]')
    assert children.first.is_visible()
    assert page.locator("#runs thead th.metric-col").count() >= 3
    screenshot(page, "02-runs-table")
    button = page.locator("#compare-button")
    assert button.is_disabled()
    for run_id in ids["children"]:
        page.check(f'input[name="runs"][value="{run_id}"]')
    assert button.is_enabled()
    button.click()
    page.wait_for_url("**/compare?**")
    _wait_charts(page, ".compare-chart")
    curves = page.evaluate("() => [...document.querySelectorAll('.compare-chart')].map(d => d.data.length)")
    assert curves and all(n == 3 for n in curves)
    page.wait_for_function("() => document.getElementById('parcoords').dataset.ready === '1'")
    assert page.evaluate("() => document.getElementById('parcoords').data.length") == 3  # one line per run
    assert page.evaluate("() => document.getElementById('parcoords').layout.xaxis.ticktext") == [
        "layers", "lr", "optimizer", "accuracy"]
    assert page.locator("#param-diff tr.differs").count() == 2
    page.check("#only-diff")
    assert not page.locator("#param-diff tr.same").first.is_visible()
    screenshot(page, "03-compare")


def test_filter_error_is_shown_inline(page, site):
    url, ids = site
    page.goto(f"{url}/experiments/{ids['experiment_id']}")
    page.fill("input[name=filter]", "metrics.loss > 0.1 and and")
    page.press("input[name=filter]", "Enter")
    page.wait_for_selector("#filter-error")
    assert "position" in page.inner_text("#filter-error")
    assert page.locator("#filter-error mark").inner_text() == "a"
    page.fill("input[name=filter]", "params.optimizer = 'adam'")
    page.press("input[name=filter]", "Enter")
    page.wait_for_selector("#runs tbody tr.run")
    # matches folded under their parent (issue 19): sweep (greyed, not matching) > lr-0.3, lr-1.0; still-running
    assert page.locator("#runs tbody tr.run").count() == 2 and page.locator("#runs tbody tr.run.context").count() == 1
    assert page.locator("#runs tbody tr.child:visible").count() == 2
    screenshot(page, "04-runs-filtered")


def test_run_page_charts_and_hostile_strings(page, site):
    url, ids = site
    page.goto(f"{url}/runs/{ids['hostile_run']}")
    _wait_charts(page, ".metric-chart")
    counts = page.evaluate("() => [...document.querySelectorAll('.metric-chart')].map(d => d.data.length)")
    assert len(counts) == 6 and set(counts) == {1}  # 4 metrics + 2 system metrics
    long_points = page.evaluate(
        "() => document.querySelector('.metric-chart[data-key=\"long\"]').data[0].x.length")
    assert 0 < long_points <= 2000
    assert HOSTILE in page.inner_text("h1")
    assert HOSTILE in page.inner_text("#params")
    assert page.locator(".model-card").count() == 1 and "scikit-learn==1.5.0" in page.inner_text(".model-card")
    assert page.locator("#run-traces tbody tr, #run-traces tr:has(a)").count() >= 3
    screenshot(page, "05-run")


def test_artifacts_browser(page, site):
    url, ids = site
    page.goto(f"{url}/runs/{ids['hostile_run']}")
    page.click("#artifacts >> text=results.csv")
    page.wait_for_selector("#csv-table")
    assert page.locator("#csv-table tbody tr").count() == 2
    assert '<img src=x onerror="window.__pwned=2">' in page.inner_text("#csv-table")
    screenshot(page, "06-artifact-csv")
    page.goto(f"{url}/runs/{ids['hostile_run']}/artifacts?path=plots/confusion.png")
    page.wait_for_function("() => document.querySelector('img.preview').complete")
    assert page.evaluate("() => document.querySelector('img.preview').naturalWidth") == 2
    page.goto(f"{url}/runs/{ids['hostile_run']}/artifacts?path=config.json")
    assert '"layers"' in page.inner_text("#text-preview")
    screenshot(page, "07-artifact-json")


def test_run_to_trace_span_tree_and_chat(page, site):
    url, ids = site
    page.goto(f"{url}/runs/{ids['hostile_run']}")
    page.locator("#run-traces a").first.click()
    page.wait_for_selector("#span-tree")
    page.wait_for_load_state("load")  # click handlers are bound on DOMContentLoaded
    names = page.locator("#span-tree .span-name").all_inner_texts()
    assert len(names) == 4 and names[1:] == ["retrieve", "chat", "format"]
    assert page.locator("#span-tree tr.selected .span-name").inner_text() == names[0]
    page.click("#span-tree tr:has-text('chat')")
    page.wait_for_selector(".span-detail.shown .msg.user")
    detail = page.locator(".span-detail.shown")
    assert detail.locator(".msg").count() == 3  # system, user, assistant
    assert detail.locator(".msg.user .content").inner_text() == "What is 2+2? " + HOSTILE
    assert "gen_ai.request.model" in detail.inner_text()
    screenshot(page, "08-trace")


def test_traces_list(page, site):
    url, ids = site
    page.goto(f"{url}/experiments/{ids['experiment_id']}/traces")
    assert page.locator("#traces tbody tr").count() == 3
    page.fill("input[name=filter]", "name = 'answer-question-2'")
    page.press("input[name=filter]", "Enter")
    page.wait_for_function("() => document.querySelectorAll('#traces tbody tr').length === 1")
    screenshot(page, "09-traces")
