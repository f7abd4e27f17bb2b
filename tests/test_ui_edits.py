"""Edits from the web UI, in a real headless Chromium over a real uvicorn server: rename, tags,
notes, delete and restore of runs and experiments, each checked in the store; the write
routes' CSRF and read-only guards over real HTTP and from a page of another origin.

Screenshots go to ``test-artifacts/ui/`` (``edit-*.png``).
"""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
pytest.importorskip("playwright.sync_api")

from logwright import fluent  # noqa: E402
from logwright.client import Client  # noqa: E402
from logwright.testing.browser import CHROMIUM, checked_page, chromium, screenshot, serve  # noqa: E402
from logwright.testing.serve import serve_app  # noqa: E402

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt install chromium)")
HOSTILE = "<script>window.__pwned=1</script>"
UI = {"X-Logwright-UI": "1"}


def _populate(uri: str) -> dict[str, str]:
    fluent._reset_for_tests()
    client = Client(uri)
    exp = client.create_experiment("edit-me", description="Sweep of **learning rates**")
    ids = {"experiment_id": exp}
    for name, acc in (("baseline", 0.81), ("bigger", 0.86)):
        run = client.create_run(exp, run_name=name, tags={"team": "vision"})
        client.log_params(run.info.run_id, {"lr": 0.1})
        client.log_metric(run.info.run_id, "acc", acc, step=0)
        client.set_terminated(run.info.run_id)
        ids[name] = run.info.run_id
    client.flush()
    fluent._reset_for_tests()
    return ids


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("ui-edits") / "store")
    return uri, _populate(uri)


@pytest.fixture(scope="module")
def site(store):
    with serve(store[0]) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    """A fresh page that fails the test on a script error, a dialog or a user-supplied script running."""
    with checked_page(browser) as pg:
        yield pg


def _ready(pg) -> None:
    pg.wait_for_function("() => document.documentElement.dataset.editReady === '1'")


def _run(uri: str, run_id: str):
    return Client(uri).get_run(run_id)


def test_run_edit_round_trip_rename_tags_notes_delete_restore(page, site, store):
    uri, ids = store
    run_id = ids["baseline"]
    page.goto(f"{site}/runs/{run_id}")
    _ready(page)
    page.click("#rename-run")
    page.fill("#rename-form input[name=name]", "baseline " + HOSTILE)
    with page.expect_navigation():
        page.click("#rename-form button[type=submit]")
    _ready(page)
    assert _run(uri, run_id).info.run_name == "baseline " + HOSTILE
    assert ("baseline " + HOSTILE) in page.inner_text("h1")

    page.fill("#tag-form input[name=key]", "stage")
    page.fill("#tag-form input[name=value]", "candidate")
    with page.expect_navigation():
        page.click("#tag-form button[type=submit]")
    _ready(page)
    assert _run(uri, run_id).data.tags["stage"] == "candidate"
    assert "candidate" in page.inner_text("#tags")
    with page.expect_navigation():
        page.click('#tags button[aria-label="remove tag team"]')
    _ready(page)
    assert "team" not in _run(uri, run_id).data.tags and "team" not in page.inner_text("#tags")

    notes = "## Findings\n\n- lr **0.1** is stable\n- see [the paper](https://example.org/p)\n\n" + HOSTILE
    page.click("#edit-notes")
    page.fill("#notes-form textarea", notes)
    with page.expect_navigation():
        page.click("#notes-form button[type=submit]")
    _ready(page)
    assert _run(uri, run_id).info.description == notes
    assert page.inner_text("#notes h2") == "Findings"
    assert page.inner_text("#notes li strong") == "0.1"
    assert page.get_attribute("#notes a", "href") == "https://example.org/p"
    assert HOSTILE in page.inner_text("#notes")  # shown as text, never run
    screenshot(page, "edit-01-run")

    with page.expect_navigation():
        page.click("#delete-run")
    page.wait_for_url(f"**/experiments/{ids['experiment_id']}#deleted-runs")
    _ready(page)
    assert _run(uri, run_id).info.lifecycle_stage == "deleted"
    assert run_id not in page.inner_html("#runs")
    assert page.locator("#deleted-runs").get_attribute("open") is not None
    assert page.locator(f'#deleted-runs tr[data-run="{run_id}"]').count() == 1
    screenshot(page, "edit-02-deleted-runs")
    with page.expect_navigation():
        page.click(f'#deleted-runs button[data-run="{run_id}"]')
    _ready(page)
    assert _run(uri, run_id).info.lifecycle_stage == "active"
    assert page.locator(f'#runs input[value="{run_id}"]').count() == 1
    assert page.locator("#deleted-runs").count() == 0


def test_delete_ticked_runs_and_experiment_rename_notes_delete_restore(page, site, store):
    uri, ids = store
    exp = ids["experiment_id"]
    page.goto(f"{site}/experiments/{exp}")
    _ready(page)
    assert page.is_disabled("#delete-selected")
    page.check(f'input[name="runs"][value="{ids["bigger"]}"]')
    assert page.inner_text("#delete-selected") == "Delete 1 selected run"
    with page.expect_navigation():
        page.click("#delete-selected")
    _ready(page)
    assert _run(uri, ids["bigger"]).info.lifecycle_stage == "deleted"
    with page.expect_navigation():
        page.click(f'#deleted-runs button[data-run="{ids["bigger"]}"]')
    _ready(page)
    assert _run(uri, ids["bigger"]).info.lifecycle_stage == "active"

    page.click("#rename-experiment")
    page.fill("#rename-experiment-form input[name=name]", "edited")
    with page.expect_navigation():
        page.click("#rename-experiment-form button[type=submit]")
    _ready(page)
    assert Client(uri).get_experiment(exp).name == "edited" and page.inner_text("h1") == "edited"
    page.click("#edit-experiment-notes")
    page.fill("#experiment-notes-form textarea", "Goal: *beat* 0.9")
    with page.expect_navigation():
        page.click("#experiment-notes-form button[type=submit]")
    _ready(page)
    assert Client(uri).get_experiment(exp).description == "Goal: *beat* 0.9"
    assert page.inner_text("#experiment-notes em") == "beat"
    screenshot(page, "edit-03-experiment")

    with page.expect_navigation():
        page.click("#delete-experiment")
    _ready(page)
    assert Client(uri).get_experiment(exp).lifecycle_stage == "deleted"
    assert page.locator("#deleted-banner").count() == 1
    page.goto(site + "/")
    _ready(page)
    assert "edited" not in page.inner_text("#experiments")
    page.click("#deleted-experiments summary")
    screenshot(page, "edit-04-experiments")
    with page.expect_navigation():
        page.click(f'#deleted-experiments button[data-experiment="{exp}"]')
    _ready(page)
    assert Client(uri).get_experiment(exp).lifecycle_stage == "active"
    assert "edited" in page.inner_text("#experiments")


def test_new_experiment_from_the_experiments_page(page, site, store):
    uri, _ = store
    page.goto(site + "/")
    _ready(page)
    page.fill("#new-experiment-form input[name=name]", "fresh one")
    with page.expect_navigation():
        page.click("#new-experiment-form button[type=submit]")
    page.wait_for_url("**/experiments/*")
    assert page.inner_text("h1") == "fresh one"
    assert Client(uri).get_experiment_by_name("fresh one") is not None
    page.goto(site + "/")
    _ready(page)
    page.fill("#new-experiment-form input[name=name]", "fresh one")
    page.click("#new-experiment-form button[type=submit]")
    page.wait_for_selector("#edit-error:not([hidden])")
    assert "already exists" in page.inner_text("#edit-error")


def test_writes_need_the_ui_header_and_the_same_origin(site, store):
    uri, ids = store
    url = f"{site}/api/runs/{ids['baseline']}"
    with httpx.Client() as http:
        assert http.patch(url, json={"name": "x"}).status_code == 403
        evil = {**UI, "Origin": "http://evil.example"}
        assert http.patch(url, json={"name": "x"}, headers=evil).status_code == 403
        assert http.patch(url, json={"name": "x"}, headers={**UI, "Origin": "null"}).status_code == 403
        assert http.patch(url, json={"name": "x"}, headers={**UI, "Sec-Fetch-Site": "cross-site"}).status_code == 403
        form = http.post(url + "/delete", data={"a": "b"}, headers=UI)
        assert form.status_code == 415  # an HTML form cannot send JSON
        assert http.patch(url, json={"nope": 1}, headers=UI).status_code == 400
        assert http.patch(url, json={"name": "  "}, headers=UI).status_code == 400
        assert http.patch(f"{site}/api/runs/nope", json={"name": "x"}, headers=UI).status_code == 404
        same = http.patch(url, json={"description": "ok"}, headers={**UI, "Origin": site})
        assert same.status_code == 200 and same.json()["run"]["description"] == "ok"
        for method in ("post", "put", "delete"):  # the page's own URL still only reads
            assert getattr(http, method)(url).status_code == 405
    assert _run(uri, ids["baseline"]).info.description == "ok"


def test_a_page_of_another_origin_cannot_edit(page, site, store):
    uri, ids = store
    page.route("http://evil.test/**", lambda route: route.fulfill(body="<html><body>evil</body></html>",
                                                                  content_type="text/html"))
    page.goto("http://evil.test/")
    target = f"{site}/api/runs/{ids['baseline']}"
    outcome = page.evaluate(
        """async (url) => {
            const out = {};
            try {
              const r = await fetch(url, {method: "PATCH", body: JSON.stringify({name: "hijacked"}),
                                          headers: {"Content-Type": "application/json", "X-Logwright-UI": "1"}});
              out.patch = r.status;
            } catch (e) { out.patch = "blocked"; }
            try {  // what a form or a simple request can do: no custom header, no JSON type
              await fetch(url + "/delete", {method: "POST", mode: "no-cors", body: "{}"});
              out.simple = "sent";
            } catch (e) { out.simple = "blocked"; }
            return out;
        }""", target)
    assert outcome["patch"] == "blocked"  # the custom header needs a CORS preflight the UI never grants
    run = _run(uri, ids["baseline"])
    assert run.info.run_name != "hijacked" and run.info.lifecycle_stage == "active"


def test_read_only_ui_shows_no_edit_controls_and_refuses_writes(page, store):
    uri, ids = store
    with serve(uri, read_only=True) as url:
        page.goto(f"{url}/runs/{ids['baseline']}")
        _ready(page)
        for selector in ("#rename-run", "#delete-run", "#tag-form", "#edit-notes", "button.remove-tag"):
            assert page.locator(selector).count() == 0, selector
        status = page.evaluate(
            """async (url) => (await fetch(url, {method: "PATCH", body: "{}",
                 headers: {"Content-Type": "application/json", "X-Logwright-UI": "1"}})).status""",
            f"{url}/api/runs/{ids['baseline']}")
        assert status == 403
        screenshot(page, "edit-05-read-only")
        page.goto(f"{url}/experiments/{ids['experiment_id']}")
        _ready(page)
        assert page.locator("#delete-selected, #rename-experiment").count() == 0
        page.goto(url + "/")
        _ready(page)
        assert page.locator("#new-experiment-form").count() == 0


def test_edits_behind_token_auth_follow_the_token(tmp_path):
    from logwright.server.team import create_server_app
    from logwright.store import get_store

    uri = str(tmp_path / "team")
    ids = _populate(uri)
    store = get_store(uri)
    _, full = store.create_token("editor")
    _, viewer = store.create_token("viewer", read_only=True)
    app = create_server_app(uri, auth=True)
    with serve_app(app) as url:
        run_url = f"{url}/api/runs/{ids['baseline']}"
        with httpx.Client() as http:
            assert http.patch(run_url, json={"name": "x"}, headers=UI).status_code == 401
            as_viewer = {**UI, "Authorization": f"Bearer {viewer}"}
            assert http.patch(run_url, json={"name": "x"}, headers=as_viewer).status_code == 403
            page = http.get(f"{url}/runs/{ids['baseline']}", headers={"Authorization": f"Bearer {viewer}"})
            assert page.status_code == 200 and 'id="rename-run"' not in page.text
            as_editor = {**UI, "Authorization": f"Bearer {full}"}
            assert http.patch(run_url, json={"name": "by token"}, headers=as_editor).status_code == 200
            page = http.get(f"{url}/runs/{ids['baseline']}", headers={"Authorization": f"Bearer {full}"})
            assert 'id="rename-run"' in page.text
    assert Client(uri).get_run(ids["baseline"]).info.run_name == "by token"


def test_logwright_ui_read_only_flag_end_to_end(store):
    import os
    import subprocess
    import sys

    uri, ids = store
    env = {**os.environ, "LOGWRIGHT_QUIET": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "logwright.cli", "ui", "--store", uri, "--port", "0", "--read-only"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        url = line.strip().rsplit(" at ", 1)[-1].rstrip("/")
        assert url.startswith("http://127.0.0.1:"), line
        answer = httpx.patch(f"{url}/api/runs/{ids['baseline']}", json={"name": "x"}, headers=UI, timeout=10)
        assert answer.status_code == 403 and "read-only" in answer.json()["error"]
        assert 'id="rename-run"' not in httpx.get(f"{url}/runs/{ids['baseline']}", timeout=10).text
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(("source", "html"), [
    ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
    ("[x](JaVaScRiPt:alert(1))", "<p>[x](JaVaScRiPt:alert(1))</p>"),
    ("[x](data:text/html,hi)", "<p>[x](data:text/html,hi)</p>"),
    ("[x](runs/abc)", '<p><a href="runs/abc" rel="noopener noreferrer nofollow" target="_blank">x</a></p>'),
    ('[x](https://a.org/?q="1")', '<p><a href="https://a.org/?q=&#34;1&#34;" rel="noopener noreferrer nofollow" '
                                  'target="_blank">x</a></p>'),
    ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
    ("`**not bold**` **bold**", "<p><code>**not bold**</code> <strong>bold</strong></p>"),
    ("```\n<b>\n```", "<pre><code>&lt;b&gt;</code></pre>"),
    ("a_b_c and _it_", "<p>a_b_c and <em>it</em></p>"),
    ("", ""),
])
def test_markdown_notes_are_rendered_safely(source, html):
    from logwright.server.markdown import render

    assert str(render(source)) == html
