"""The web UI's Models pages: over real HTTP (uvicorn + httpx) and in a real headless Chromium."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import logwright as lw  # noqa: E402
from logwright import fluent  # noqa: E402
from logwright.server.sample import serve  # noqa: E402
from logwright.testing.browser import CHROMIUM, chromium, screenshot  # noqa: E402

HOSTILE_NAME = "<img src=x onerror=window.__pwned=1>"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from sklearn.linear_model import LogisticRegression

    uri = str(tmp_path_factory.mktemp("registry-ui") / "store")
    fluent._reset_for_tests()
    lw.set_tracking_uri(uri)
    lw.set_experiment("churn-training")
    runs = []
    for c in (0.1, 1.0):
        clf = LogisticRegression(C=c).fit([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]], [0, 1, 0, 1])
        with lw.start_run(run_name=f"C={c}") as run:
            lw.log_metrics({"accuracy": 0.75 + c / 4, "f1": 0.85})
            lw.log_model(clf, "model", registered_model_name="churn-classifier")
        runs.append(run.info.run_id)
    lw.set_registered_model_alias("churn-classifier", "champion", 2)
    lw.set_registered_model_alias("churn-classifier", "challenger", 1)
    lw.update_registered_model("churn-classifier", "Predicts who cancels next month.")
    lw.set_registered_model_tag("churn-classifier", "team", "growth")
    lw.update_model_version("churn-classifier", 2, "C=1.0, best accuracy")
    lw.register_model(f"runs:/{runs[0]}/model", HOSTILE_NAME, description="<script>window.__pwned=2</script>")
    lw.flush()
    fluent._reset_for_tests()
    with serve(uri) as url:
        yield url, runs


def test_models_pages_and_their_json_twins(site):
    url, runs = site
    listing = httpx.get(url + "/api/models").json()
    assert [m["name"] for m in listing["models"]] == [HOSTILE_NAME, "churn-classifier"]
    churn = listing["models"][1]
    assert churn["latest_version"] == 2 and churn["aliases"] == {"challenger": 1, "champion": 2}
    detail = httpx.get(url + "/api/models/churn-classifier").json()
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    newest = detail["versions"][0]
    assert newest["aliases"] == ["champion"] and newest["flavour"] == "sklearn" and newest["run_id"] == runs[1]
    assert newest["run"]["metrics"] == {"accuracy": 1.0, "f1": 0.85} and newest["run"]["name"] == "C=1.0"
    html = httpx.get(url + "/models")
    assert html.status_code == 200 and "churn-classifier" in html.text and "&lt;img" in html.text
    assert "<img src=x" not in html.text
    page = httpx.get(url + "/models/churn-classifier").text
    assert f'href="/runs/{runs[1]}"' in page and "@champion" in page and "Predicts who cancels" in page
    hostile = httpx.get(url + "/models/" + quote(HOSTILE_NAME, safe=""))
    assert hostile.status_code == 200 and "&lt;script&gt;" in hostile.text and "<script>window" not in hostile.text
    assert httpx.get(url + "/models/nope").status_code == 404
    missing = httpx.get(url + "/api/models/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    bad = httpx.get(url + "/api/models", params={"filter": "nme = 'x'"})
    assert bad.status_code == 400 and "unknown field" in bad.json()["error"]
    assert [m["name"] for m in httpx.get(url + "/api/models", params={"filter": "tags.team = 'growth'"})
            .json()["models"]] == ["churn-classifier"]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt install chromium)")
def test_models_pages_in_a_browser(site):
    pytest.importorskip("playwright.sync_api")
    url, runs = site
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: (errors.append("dialog: " + dialog.message), dialog.dismiss()))
        page.goto(url + "/")
        page.click("header.top a.models-link")
        rows = page.locator("#models tbody tr")
        assert rows.count() == 2
        assert "@champion → 2" in page.locator("tr[data-model='churn-classifier']").inner_text()
        screenshot(page, "models-list")
        page.click("tr[data-model='churn-classifier'] a")
        page.wait_for_selector("#versions")
        versions = page.locator("#versions tbody tr")
        assert versions.count() == 2
        first = versions.first.inner_text()
        assert "@champion" in first and "sklearn" in first and "C=1.0" in first and "accuracy" in first
        assert "version 1" in page.locator("tr[data-alias='challenger']").inner_text()
        screenshot(page, "models-detail")
        page.click(f"#versions tr[data-version='2'] a[href='/runs/{runs[1]}']")
        page.wait_for_selector("#run-status")
        assert runs[1] in page.inner_text(".sub")
        page.goto(url + "/models")
        pwned = page.evaluate("() => window.__pwned")
        context.close()
    assert pwned is None, "a model name or description ran as script"
    assert errors == []
