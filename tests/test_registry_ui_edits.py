"""The UI's registry writes, in a real headless Chromium over a real uvicorn server: "Register" on a
run's model (run page card and artifacts page), aliases and descriptions on /models/<name>, each
checked in the store; the write routes' guards over real HTTP; a read-only UI shows no controls.

Screenshots go to ``test-artifacts/ui/`` (``registry-edit-*.png``).
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
pytest.importorskip("playwright.sync_api")

from logwright import fluent  # noqa: E402
from logwright.client import Client  # noqa: E402
from logwright.exceptions import ModelNotFound  # noqa: E402
from logwright.testing.browser import CHROMIUM, checked_page, chromium, screenshot, serve  # noqa: E402

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt install chromium)")
HOSTILE = "<img src=x onerror=window.__pwned=1>"
UI = {"X-Logwright-UI": "1"}
META = {"flavour": "sklearn", "python_version": "3.11.9", "sklearn_version": "1.5.0",
        "signature": {"inputs": {"type": "tensor", "dtype": "float64", "shape": [-1, 2]}},
        "requirements": ["scikit-learn==1.5.0"]}


def _populate(uri: str) -> dict[str, str]:
    """Two runs with a model folder each (MODEL.json); ``old``'s model is version 1 of churn-classifier."""
    fluent._reset_for_tests()
    client = Client(uri)
    exp = client.create_experiment("churn")
    ids = {"experiment_id": exp}
    for name, acc in (("old", 0.8), ("new", 0.9)):
        run = client.create_run(exp, run_name=name)
        run_id = run.info.run_id
        client.log_metric(run_id, "accuracy", acc, step=0)
        client.artifacts(run_id).write_bytes("model/MODEL.json", json.dumps(META).encode())
        client.set_terminated(run_id)
        ids[name] = run_id
    client.flush()
    client.register_model(f"runs:/{ids['old']}/model", "churn-classifier")
    fluent._reset_for_tests()
    return ids


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("registry-edits") / "store")
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
    pg.wait_for_function("() => document.documentElement.dataset.registryReady === '1'")


def test_register_from_the_run_page_then_open_the_model(page, site, store):
    uri, ids = store
    page.goto(f"{site}/runs/{ids['new']}")
    _ready(page)
    card = page.locator('.model-card[data-model="model"]')
    assert card.locator(".register-form").is_hidden()
    card.locator(".register-open").click()
    offered = card.locator("datalist option").evaluate_all("(os) => os.map((o) => o.value)")
    assert offered == ["churn-classifier"]
    card.locator("input[name=name]").fill("churn-classifier")
    card.locator("input[name=alias]").fill("champion")
    card.locator("input[name=tags]").fill("data=nov, team=growth")
    card.locator("textarea[name=description]").fill("retrained on November")
    screenshot(page, "registry-edit-01-register-form")
    card.locator(".register-form button[type=submit]").click()
    done = card.locator(".register-done")
    done.wait_for(state="visible")
    assert "Registered as version 2 of churn-classifier (@champion)" in done.inner_text()
    assert 'models:/churn-classifier/2' in done.inner_text()
    screenshot(page, "registry-edit-02-registered")

    version = Client(uri).get_model_version("churn-classifier", 2)
    assert (version.run_id, version.artifact_path, version.flavour) == (ids["new"], "model", "sklearn")
    assert version.tags == {"data": "nov", "team": "growth"} and version.description == "retrained on November"
    assert version.aliases == ("champion",)

    with page.expect_navigation():
        done.locator("a.registered-link").click()
    assert page.url.endswith("/models/churn-classifier")
    row = page.locator('#versions tr[data-version="2"]')
    assert row.locator(f'a[href="/runs/{ids["new"]}"]').inner_text() == "new"
    assert "@champion" in row.inner_text() and "accuracy" in row.inner_text()
    screenshot(page, "registry-edit-03-model-page")
    page.goto(f"{site}/runs/{ids['new']}")  # the card now says what it was registered as
    assert "churn-classifier v2 (@champion)" in page.inner_text('.model-card[data-model="model"] .registered-as')


def test_register_from_the_artifacts_page_with_a_new_hostile_name(page, site, store):
    uri, ids = store
    before = Client(uri).get_registered_model("churn-classifier").latest_version
    page.goto(f"{site}/runs/{ids['old']}/artifacts?path=model")
    _ready(page)
    page.click("#model-preview .register-open")
    page.fill("#model-preview input[name=name]", "churn-classifier")
    page.fill("#model-preview input[name=alias]", "latest")  # names versions in models:/ URIs: refused
    page.click("#model-preview .register-form button[type=submit]")
    error = page.locator("#model-preview .register-error")
    error.wait_for(state="visible")
    assert "illegal" in error.inner_text()
    assert Client(uri).get_registered_model("churn-classifier").latest_version == before  # nothing registered

    page.fill("#model-preview input[name=name]", HOSTILE)
    page.fill("#model-preview input[name=alias]", "")
    page.click("#model-preview .register-form button[type=submit]")
    page.locator("#model-preview .register-done").wait_for(state="visible")
    link = page.locator("#model-preview a.registered-link")
    assert link.inner_text() == HOSTILE and link.get_attribute("href") == "/models/" + quote(HOSTILE, safe="")
    screenshot(page, "registry-edit-04-artifacts")
    assert Client(uri).get_model_version(HOSTILE, 1).run_id == ids["old"]
    with page.expect_navigation():
        link.click()
    assert page.inner_text("h1") == HOSTILE


def test_model_page_sets_moves_and_removes_aliases_and_edits_descriptions(page, site, store):
    uri, ids = store
    client = Client(uri)
    if client.get_registered_model("churn-classifier").latest_version < 2:  # run alone
        client.register_model(f"runs:/{ids['new']}/model", "churn-classifier")
    page.goto(f"{site}/models/churn-classifier")
    _ready(page)
    for alias, version in (("challenger", "2"), ("champion", "1")):
        page.fill("#alias-form input[name=alias]", alias)
        page.select_option("#alias-form select[name=version]", version)
        with page.expect_navigation():
            page.click("#alias-form button[type=submit]")
        _ready(page)
    model = client.get_registered_model("churn-classifier")
    assert model.aliases == {"challenger": 2, "champion": 1}  # champion moved (or was set) to version 1
    assert "version 1" in page.inner_text('#aliases tr[data-alias="champion"]')
    with page.expect_navigation():
        page.click('#aliases button[aria-label="remove alias challenger"]')
    _ready(page)
    assert client.get_registered_model("churn-classifier").aliases == {"champion": 1}
    assert page.locator('#aliases tr[data-alias="challenger"]').count() == 0

    page.click("#edit-model-description")
    page.fill("#model-description-form textarea", "Predicts who cancels " + HOSTILE)
    with page.expect_navigation():
        page.click("#model-description-form button[type=submit]")
    _ready(page)
    assert client.get_registered_model("churn-classifier").description == "Predicts who cancels " + HOSTILE
    assert page.inner_text("#description") == "Predicts who cancels " + HOSTILE
    page.click('#versions tr[data-version="1"] button.edit-version')
    page.fill("#version-form-1 textarea", "the first one")
    with page.expect_navigation():
        page.click("#version-form-1 button[type=submit]")
    _ready(page)
    assert client.get_model_version("churn-classifier", 1).description == "the first one"
    assert "the first one" in page.inner_text('#versions tr[data-version="1"]')
    screenshot(page, "registry-edit-05-aliases")


def test_registry_writes_are_guarded_over_http(site, store):
    uri, ids = store
    body = {"run_id": ids["old"], "path": "model", "name": "guarded"}
    with httpx.Client() as http:
        assert http.post(f"{site}/api/models", json=body).status_code == 403  # no UI header
        cross = http.post(f"{site}/api/models", json=body, headers={**UI, "Origin": "http://evil.example"})
        assert cross.status_code == 403
        assert http.post(f"{site}/api/models", data={"a": "b"}, headers=UI).status_code == 415
        assert http.post(f"{site}/api/models", json={**body, "nope": 1}, headers=UI).status_code == 400
        assert http.post(f"{site}/api/models", json={**body, "name": "a/b"}, headers=UI).status_code == 400
        assert http.post(f"{site}/api/models", json={**body, "run_id": "f" * 32}, headers=UI).status_code == 404
        no_model = http.post(f"{site}/api/models", json={**body, "path": "nothing"}, headers=UI)
        assert no_model.status_code == 404 and "MODEL.json" in no_model.json()["error"]
        assert http.patch(f"{site}/api/models/nope", json={"description": "x"}, headers=UI).status_code == 404
        assert http.patch(f"{site}/api/models/churn-classifier", json={"aliases": {"x": 99}},
                          headers=UI).status_code == 404
        assert http.patch(f"{site}/api/models/churn-classifier/versions/99", json={"description": "x"},
                          headers=UI).status_code == 404
        made = http.post(f"{site}/api/models", json={**body, "tags": {"k": "v"}}, headers={**UI, "Origin": site})
        assert made.status_code == 201 and made.json()["version"]["url"] == "/models/guarded"
    with pytest.raises(ModelNotFound):
        Client(uri).get_model_version("guarded", 2)
    assert Client(uri).get_model_version("guarded", 1).tags == {"k": "v"}


def test_read_only_ui_shows_no_registry_controls_and_refuses_writes(page, store):
    uri, ids = store
    before = Client(uri).get_registered_model("churn-classifier")
    with serve(uri, read_only=True) as url:
        page.goto(f"{url}/runs/{ids['new']}")
        _ready(page)
        assert page.locator(".model-card .register-open, .model-card .register-form").count() == 0
        page.goto(f"{url}/runs/{ids['new']}/artifacts?path=model")
        _ready(page)
        assert page.locator("#model-preview .register-open").count() == 0
        status = page.evaluate(
            """async (body) => (await fetch("/api/models", {method: "POST", body: JSON.stringify(body),
                 headers: {"Content-Type": "application/json", "X-Logwright-UI": "1"}})).status""",
            {"run_id": ids["new"], "path": "model", "name": "churn-classifier"})
        assert status == 403
        page.goto(f"{url}/models/churn-classifier")
        _ready(page)
        for selector in ("#alias-form", "button.remove-alias", "button.edit-version", "#model-description-form"):
            assert page.locator(selector).count() == 0, selector
        screenshot(page, "registry-edit-06-read-only")
    after = Client(uri).get_registered_model("churn-classifier")
    assert (after.latest_version, after.aliases) == (before.latest_version, before.aliases)
