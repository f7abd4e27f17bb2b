"""Artifact previews in a real headless Chromium over a real uvicorn server: an image, a CSV and
a Parquet table, Markdown, sandboxed HTML, and a model folder with its "load this model" snippet
(which is then run, as a user would paste it). Screenshots: ``test-artifacts/ui/artifact-*.png``.
"""

from __future__ import annotations

import base64
import json

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")
pytest.importorskip("playwright.sync_api")

import logwright  # noqa: E402
from logwright import fluent  # noqa: E402
from logwright.client import Client  # noqa: E402
from logwright.testing.browser import CHROMIUM, checked_page, chromium, screenshot, serve  # noqa: E402

HOSTILE = "<script>window.__pwned=1</script>"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt install chromium)")
_PNG = base64.b64decode(  # 2x2: red, green / blue, white
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)
_HTML = """<!doctype html><html><body><h1 id="t">report</h1><script>
document.getElementById("t").textContent = "script ran in the sandbox";
try { parent.window.__pwned = 4; document.body.append(" parent reachable"); }
catch (e) { document.body.append(" parent unreachable"); }
</script></body></html>"""


def _model(client: Client, run_id: str) -> bool:
    """A real sklearn model when sklearn is installed (True), else a hand-written MODEL.json."""
    try:
        import numpy as np
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        meta = {"flavour": "sklearn", "python_version": "3.11.9", "sklearn_version": "1.5.0",
                "signature": {"inputs": {"type": "tensor", "dtype": "float64", "shape": [-1, 2]}},
                "requirements": ["scikit-learn==1.5.0"]}
        client.artifacts(run_id).write_bytes("model/MODEL.json", json.dumps(meta).encode())
        return False
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    model = LogisticRegression().fit(x, [0, 1, 0, 1])
    logwright.log_model(model, "model", input_example=x[:2], run_id=run_id)
    return True


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    uri = str(tmp_path_factory.mktemp("ui-artifacts") / "store")
    fluent._reset_for_tests()
    logwright.set_tracking_uri(uri)
    client = Client(uri)
    exp = client.create_experiment("previews")
    run_id = client.create_run(exp, run_name="with-files").info.run_id
    repo = client.artifacts(run_id)
    repo.write_bytes("plots/confusion.png", _PNG)
    client.log_text(run_id, "name,score\nalice,0.91\n" + HOSTILE + ",0.5\n", "results.csv")
    client.log_text(run_id, "# Report\n\nAccuracy is **0.91**.\n\n" + HOSTILE + "\n", "README.md")
    client.log_text(run_id, _HTML, "report.html")
    table = pa.table({"epoch": list(range(300)), "loss": [1 / (i + 1) for i in range(300)],
                      "tag": [f"<b>{i}</b>" for i in range(300)]})
    parquet = tmp_path_factory.mktemp("pq") / "history.parquet"
    pq.write_table(table, parquet)
    client.log_artifact(run_id, str(parquet))
    real = _model(client, run_id)
    if real:
        client.register_model(f"runs:/{run_id}/model", "churn")
    client.set_terminated(run_id)
    client.flush()
    fluent._reset_for_tests()
    return uri, run_id, real


@pytest.fixture(scope="module")
def site(store):
    with serve(store[0]) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser, site):
    with checked_page(browser, grant=["clipboard-read", "clipboard-write"], origin=site) as pg:
        yield pg


def _open(pg, site: str, run_id: str, path: str) -> None:
    pg.goto(f"{site}/runs/{run_id}/artifacts?path={path}")
    pg.wait_for_function("() => document.documentElement.dataset.editReady === '1'")


def test_image_csv_and_parquet_previews(page, site, store):
    _, run_id, _ = store
    _open(page, site, run_id, "plots/confusion.png")
    page.wait_for_function("() => document.querySelector('img.preview').complete")
    assert page.evaluate("() => document.querySelector('img.preview').naturalWidth") == 2
    screenshot(page, "artifact-01-image")
    _open(page, site, run_id, "results.csv")
    assert page.locator("#csv-table tbody tr").count() == 2
    assert HOSTILE in page.inner_text("#csv-table")
    _open(page, site, run_id, "history.parquet")
    assert page.locator("#parquet-table thead th").all_inner_texts()[0].split("\n") == ["epoch", "int64"]
    assert page.locator("#parquet-table tbody tr").count() == 200
    assert "first 200 of 300 rows" in page.inner_text("#table-note")
    assert page.locator("#parquet-table tbody tr").first.inner_text().split("\t") == ["0", "1.0", "<b>0</b>"]
    screenshot(page, "artifact-02-parquet")


def test_markdown_is_rendered_safely_and_html_runs_only_in_its_sandbox(page, site, store):
    _, run_id, _ = store
    _open(page, site, run_id, "README.md")
    assert page.inner_text("#markdown-preview h1") == "Report"
    assert page.inner_text("#markdown-preview strong") == "0.91"
    assert HOSTILE in page.inner_text("#markdown-preview")
    _open(page, site, run_id, "report.html")
    frame_el = page.locator("#html-preview")
    assert frame_el.get_attribute("sandbox") == "allow-scripts"
    frame = page.frame_locator("#html-preview")
    assert frame.locator("#t").inner_text() == "script ran in the sandbox"
    assert "parent unreachable" in frame.locator("body").inner_text()
    screenshot(page, "artifact-03-html")
    resp = httpx.get(f"{site}/runs/{run_id}/artifact.html", params={"path": "report.html"})
    csp = resp.headers["content-security-policy"]
    assert resp.status_code == 200 and csp.startswith("sandbox allow-scripts;") and "default-src 'none'" in csp
    assert "allow-same-origin" not in csp and resp.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{site}/runs/{run_id}/artifact.html", params={"path": "results.csv"}).status_code == 404
    raw = httpx.get(f"{site}/runs/{run_id}/artifact", params={"path": "report.html"})
    assert raw.headers["content-type"].startswith("text/plain") and "attachment" in raw.headers["content-disposition"]


def test_model_folder_shows_flavour_signature_and_a_load_snippet(page, site, store):
    uri, run_id, real = store
    _open(page, site, run_id, "model")
    assert page.inner_text("#model-flavour") == "sklearn"
    assert page.locator("#model-signature tbody tr").count() >= 1
    snippet = page.inner_text("#load-snippet")
    assert f'model = logwright.load_model("runs:/{run_id}/model")' in snippet.replace("'", '"')
    assert repr(uri) in snippet
    page.click("#model-preview button.copy")
    page.wait_for_function("() => document.querySelector('#model-preview button.copy').dataset.copied === '1'")
    assert page.evaluate("() => navigator.clipboard.readText()").strip() == snippet.strip()
    if real:
        assert "models:/churn/1" in page.inner_text("#model-registered")
    screenshot(page, "artifact-04-model")
    page.goto(f"{site}/runs/{run_id}")
    assert page.locator(".model-card .snippet pre").count() == 1
    assert page.inner_text(".model-card .snippet pre") == snippet
    page.locator(".model-card").scroll_into_view_if_needed()
    screenshot(page, "artifact-05-run-model-card")


def test_the_load_snippet_runs_as_pasted(store):
    uri, run_id, real = store
    if not real:
        pytest.skip("needs scikit-learn to load the model")
    from starlette.testclient import TestClient

    from logwright.server.app import create_app

    # the snippet as the page's JSON twin serves it: exactly what the page shows
    data = TestClient(create_app(uri), base_url="http://localhost").get(
        f"/api/runs/{run_id}/artifacts", params={"path": "model"}).json()
    scope: dict = {}
    try:
        exec(data["model"]["snippet"], scope)  # noqa: S102 - the point: it runs as pasted
        assert list(scope["model"].predict([[0.0, 1.0], [1.0, 0.0]])) == [0, 1]
    finally:
        fluent._reset_for_tests()


def test_a_run_without_artifacts_and_missing_paths(site, store):
    _, run_id, _ = store
    assert httpx.get(f"{site}/runs/{run_id}/artifacts", params={"path": "nope.txt"}).status_code == 404
    assert httpx.get(f"{site}/runs/{run_id}/artifacts", params={"path": "../x"}).status_code == 400
    assert httpx.get(f"{site}/runs/{run_id}/artifact.html", params={"path": "../x.html"}).status_code == 400


def test_previews_through_the_json_twin_on_this_backend(tmp_store, tmp_path):
    """The same previews over the store ``tmp_store`` hands out (PostgreSQL + S3 under
    ``--store-backend=postgres+s3``: Parquet and HTML are then read from the object store)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from starlette.testclient import TestClient

    from logwright.server.app import create_app

    with logwright.start_run(run_name="previews") as run:
        pq.write_table(pa.table({"x": [1, 2, 3]}), tmp_path / "t.parquet")
        logwright.log_artifact(str(tmp_path / "t.parquet"))
        logwright.log_text("*hi* " + HOSTILE, "notes.md")
        logwright.log_text(_HTML, "page.html")
        meta = {"flavour": "sklearn", "signature": {"inputs": {"type": "dataframe",
                                                               "columns": [{"name": "age", "type": "int64"}]}}}
        logwright.log_dict(meta, "clf/MODEL.json")
    http = TestClient(create_app(tmp_store), base_url="http://localhost")
    api = f"/api/runs/{run.info.run_id}/artifacts"
    table = http.get(api, params={"path": "t.parquet"}).json()["file"]
    assert (table["kind"], table["header"], table["rows"], table["total_rows"]) == ("table", ["x"], [["1"], ["2"], ["3"]], 3)
    md = http.get(api, params={"path": "notes.md"}).json()["file"]
    assert md["html"].startswith("<p><em>hi</em> &lt;script&gt;")
    model = http.get(api, params={"path": "clf"}).json()["model"]
    assert model["flavour"] == "sklearn" and model["signature_rows"] == [{"side": "inputs", "name": "age",
                                                                         "type": "int64"}]
    assert f"logwright.load_model('runs:/{run.info.run_id}/clf')" in model["snippet"]
    page = http.get(f"/runs/{run.info.run_id}/artifact.html", params={"path": "page.html"})
    assert page.status_code == 200 and page.text == _HTML
