"""The web UI's HTTP API and pages, through Starlette's TestClient and a real uvicorn server."""

from __future__ import annotations

import argparse
import math
from array import array

import httpx
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from starlette.testclient import TestClient  # noqa: E402

from logwright import fluent  # noqa: E402
from logwright.server import cli as ui_cli  # noqa: E402
from logwright.server.app import create_app  # noqa: E402
from logwright.server.sample import HOSTILE, populate, serve  # noqa: E402
from logwright.server.series import downsample, downsample_numpy  # noqa: E402


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("ui") / "store")
    fluent._reset_for_tests()
    ids = populate(uri)
    fluent._reset_for_tests()
    return uri, ids


@pytest.fixture(scope="module")
def client(sample):
    return TestClient(create_app(sample[0]), base_url="http://localhost")


@pytest.fixture
def ids(sample):
    return sample[1]


def test_experiments_list_counts_runs_and_traces(client):
    body = client.get("/api/experiments").json()
    (exp,) = body["experiments"]
    assert (exp["name"], exp["run_count"], exp["trace_count"]) == ("sample-experiment", 6, 3)
    assert "sample-experiment" in client.get("/").text


def test_runs_table_groups_children_under_parents(client, ids):
    body = client.get(f"/api/experiments/{ids['experiment_id']}").json()
    assert body["grouped"] and body["total"] == 3  # sweep, hostile, still-running
    by_id = {r["run_id"]: r for r in body["runs"]}
    parent = by_id[ids["parent"]]
    assert parent["child_count"] == 3
    assert sorted(c["run_id"] for c in parent["children"]) == sorted(ids["children"])
    # default columns: what the runs in view share (issue 19; details in test_ui_views_api.py)
    assert body["metric_columns"] == ["accuracy", "long", "loss"]  # no system/* by default
    assert body["param_columns"] == ["lr", "optimizer"]
    html = client.get(f"/experiments/{ids['experiment_id']}").text
    assert html.count('class="child hidden"') == 3


def test_runs_table_columns_sort_and_pages_follow_the_url(client, ids):
    exp = ids["experiment_id"]
    body = client.get(f"/api/experiments/{exp}?m=loss&p=lr&p=optimizer&order=metrics.`loss` ASC").json()
    assert body["metric_columns"] == ["loss"] and body["param_columns"] == ["lr", "optimizer"]
    losses = [r["metrics"].get("loss") for r in body["runs"] if "loss" in r["metrics"]]
    assert losses == sorted(losses)
    assert all(set(r["metrics"]) <= {"loss"} for r in body["runs"])
    paged = client.get(f"/api/experiments/{exp}?size=1&page=2").json()
    assert (paged["page"], paged["pages"], len(paged["runs"])) == (2, 3, 1)
    assert "page=3" in paged["next_url"] and "page=1" in paged["prev_url"]


def test_runs_filter_folds_matches_under_their_parent(client, ids):
    body = client.get(f"/api/experiments/{ids['experiment_id']}", params={"filter": "params.optimizer = 'adam'"}).json()
    assert not body["grouped"] and body["total"] == 3
    top = {r["name"]: r for r in body["runs"]}
    assert sorted(top) == ["still-running", "sweep"] and top["sweep"]["context"]  # the parent does not match
    assert sorted(c["name"] for c in top["sweep"]["children"]) == ["lr-0.3", "lr-1.0"]


def test_invalid_filter_is_reported_with_its_position(client, ids):
    url = f"/experiments/{ids['experiment_id']}"
    body = client.get("/api" + url, params={"filter": "metrics.loss >"}).json()
    assert body["runs"] == [] and body["filter_error"]["position"] == len("metrics.loss >")
    html = client.get(url, params={"filter": "metrics.loss >"}).text
    assert 'id="filter-error"' in html and "filter invalid" in html


def test_run_page_data(client, ids):
    body = client.get(f"/api/runs/{ids['hostile_run']}").json()
    assert body["params"]["payload"] == HOSTILE
    assert {"loss", "accuracy", "long", "loss_nan"} <= set(body["metric_keys"])
    assert body["system_keys"] == ["system/cpu_percent", "system/memory_mb"]
    assert body["metrics"]["loss_nan"] == "Infinity"  # latest point is +inf, spelled out in JSON
    (model,) = body["models"]
    assert model["flavour"] == "sklearn" and "scikit-learn==1.5.0" in model["requirements"]
    assert {a["path"] for a in body["artifacts"]} >= {"config.json", "results.csv", "model", "plots"}
    assert body["trace_total"] == 3 and all(t["span_count"] == 4 for t in body["traces"])
    assert body["tags"]["note"] == HOSTILE and "logwright.user" in body["system_tags"]
    parent = client.get(f"/api/runs/{ids['parent']}").json()
    assert sorted(c["run_id"] for c in parent["children"]) == sorted(ids["children"])
    assert parent["run"]["description"] == "A learning-rate sweep."


def test_user_strings_are_escaped_in_html(client, ids):
    pages = [f"/runs/{ids['hostile_run']}", f"/experiments/{ids['experiment_id']}",
             f"/runs/{ids['hostile_run']}/artifacts", f"/runs/{ids['hostile_run']}/artifacts?path=results.csv",
             f"/runs/{ids['hostile_run']}/artifacts?path=logs/train.log",
             f"/runs/{ids['hostile_run']}/artifacts?path=weird",
             f"/compare?runs={ids['hostile_run']},{ids['parent']}"]
    for page in pages:
        html = client.get(page).text
        assert "<script>window" not in html and "<img src=x" not in html, page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in client.get(pages[0]).text
    assert "script-src 'self'" in client.get(pages[0]).headers["content-security-policy"]


def test_metric_series_is_downsampled_keeping_extremes(client, ids):
    body = client.get(f"/api/runs/{ids['long_run']}/metric", params={"key": "long", "max_points": 500}).json()
    assert body["downsampled"] and body["count"] == 5000 and len(body["steps"]) <= 500
    assert max(body["values"]) == pytest.approx(3 + math.sin(5000 // 3 / 200))  # the one-point spike survives
    assert body["steps"] == sorted(body["steps"])
    zoom = client.get(f"/api/runs/{ids['long_run']}/metric", params={"key": "long", "start": 100, "end": 299}).json()
    assert not zoom["downsampled"] and zoom["steps"] == list(range(100, 300))
    nan = client.get(f"/api/runs/{ids['hostile_run']}/metric", params={"key": "loss_nan"}).json()
    assert nan["values"] == [None, None] and nan["steps"] == [0, 1]


def test_multi_run_series_for_compare(client, ids):
    body = client.get("/api/series", params={"runs": ",".join(ids["children"]), "key": "loss"}).json()
    assert [c["run_id"] for c in body["curves"]] == ids["children"]
    assert all(len(c["steps"]) == 40 for c in body["curves"])


def test_metric_csv_has_every_point(client, ids):
    resp = client.get(f"/runs/{ids['long_run']}/metric.csv", params={"key": "long"})
    assert resp.headers["content-type"].startswith("text/csv")
    lines = resp.text.strip().split("\n")
    assert lines[0] == "step,value,timestamp" and len(lines) == 5001
    assert lines[1].startswith("0,0.0,")
    nan = client.get(f"/runs/{ids['hostile_run']}/metric.csv", params={"key": "loss_nan"}).text
    assert nan.split("\n")[1].startswith("0,NaN,") and nan.split("\n")[2].startswith("1,inf,")


def test_artifact_previews(client, ids):
    base = f"/api/runs/{ids['hostile_run']}/artifacts"
    csv_file = client.get(base, params={"path": "results.csv"}).json()["file"]
    assert csv_file["kind"] == "csv" and csv_file["header"] == ["name", "score"] and len(csv_file["rows"]) == 2
    json_file = client.get(base, params={"path": "config.json"}).json()["file"]
    assert json_file["kind"] == "json" and '"layers"' in json_file["text"]
    assert client.get(base, params={"path": "plots/confusion.png"}).json()["file"]["kind"] == "image"
    assert client.get(base, params={"path": "model/model.skops"}).json()["file"]["kind"] == "binary"
    listing = client.get(base, params={"path": "model"}).json()
    assert [e["path"] for e in listing["entries"]] == ["model/MODEL.json", "model/model.skops"]


def test_artifact_paths_cannot_escape_the_run(client, ids):
    for bad in ("../../../etc/passwd", "/etc/passwd", "model/../../x", "..", "a/../../b"):
        for url in (f"/runs/{ids['hostile_run']}/artifact", f"/api/runs/{ids['hostile_run']}/artifacts"):
            resp = client.get(url, params={"path": bad})
            assert resp.status_code in (400, 404), (bad, url)
            assert "root:" not in resp.text


def test_artifact_download_is_sandboxed(client, ids):
    url = f"/runs/{ids['hostile_run']}/artifact"
    text = client.get(url, params={"path": "logs/train.log"})
    assert text.headers["content-type"].startswith("text/plain")
    assert "attachment" in text.headers["content-disposition"]
    assert "sandbox" in text.headers["content-security-policy"]
    assert text.headers["x-content-type-options"] == "nosniff"
    image = client.get(url, params={"path": "plots/confusion.png"})
    assert image.headers["content-type"] == "image/png" and image.content.startswith(b"\x89PNG")
    assert image.headers["content-disposition"].startswith("inline")


def test_compare_diff_and_parallel_coordinates(client, ids):
    runs = ",".join(ids["children"])
    body = client.get("/api/compare", params={"runs": runs, "metric": "accuracy"}).json()
    params = {p["key"]: p for p in body["params"]}
    assert params["lr"]["differs"] and params["optimizer"]["differs"] and not params["layers"]["differs"]
    axes = {a["label"]: a for a in body["parallel"]["axes"]}
    assert axes["lr"]["values"] == [0.1, 0.3, 1.0]
    assert axes["optimizer"]["ticktext"] == ["adam", "sgd"] and axes["accuracy"]["metric"]
    assert body["metric"] == "accuracy"
    assert client.get("/api/compare", params={"runs": ids["parent"]}).status_code == 400
    assert client.get("/api/compare", params={"runs": ids["parent"] + ",nope"}).status_code == 404


def test_traces_list_filter_and_trace_page(client, ids):
    exp = ids["experiment_id"]
    body = client.get(f"/api/experiments/{exp}/traces").json()
    assert body["total"] == 3 and all(t["run_id"] == ids["hostile_run"] for t in body["traces"])
    one = client.get(f"/api/experiments/{exp}/traces", params={"filter": "name = 'answer-question-1'"}).json()
    assert [t["name"] for t in one["traces"]] == ["answer-question-1"]
    bad = client.get(f"/api/experiments/{exp}/traces", params={"filter": "name = "}).json()
    assert bad["filter_error"] and bad["traces"] == []
    trace = client.get(f"/api/traces/{one['traces'][0]['trace_id']}").json()
    assert [(s["name"], s["depth"]) for s in trace["spans"]] == [
        ("answer-question-1", 0), ("retrieve", 1), ("chat", 1), ("format", 1)]
    chat = trace["spans"][2]
    assert chat["input_messages"][1] == {"role": "user", "content": "What is 2+2? " + HOSTILE}
    assert chat["output_messages"] == [{"role": "assistant", "content": "4"}]
    assert chat["events"][0]["name"] == "first_token"
    assert all(0 <= s["bar_left"] <= 100 and 0 < s["bar_width"] <= 100 for s in trace["spans"])
    html = client.get(f"/traces/{trace['trace_id']}").text
    assert html.count('class="span-row') == 4 and "<script>window" not in html


def test_missing_things_are_404(client):
    for url in ("/runs/nope", "/api/runs/nope", "/traces/nope", "/api/experiments/999", "/experiments/x"):
        resp = client.get(url)
        assert resp.status_code == 404, url
    assert client.get("/api/runs/nope").json()["error"] == "run 'nope' not found"


def test_the_server_is_read_only(client, ids):
    for method in ("post", "put", "delete"):
        assert getattr(client, method)(f"/api/runs/{ids['parent']}").status_code == 405


@pytest.mark.parametrize("engine", ["python", "numpy"])
def test_downsample_keeps_min_and_max_of_a_million_points(engine):
    n = 1_000_000
    steps = array("q", range(n))
    vals = array("d", (math.sin(i / 5000) for i in range(n)))
    vals[123_457] = 50.0
    vals[700_001] = -50.0
    vals[5] = float("nan")
    vals[600_000:600_600] = array("d", [float("nan")] * 600)  # whole buckets of NaN
    if engine == "numpy":
        np = pytest.importorskip("numpy")
        s, v = np.array(steps), np.array(vals)
        out = downsample_numpy(np, s, v, s, 0, n, 2000)
    else:
        out = downsample(steps, vals, steps, 0, n, 2000)
    assert out["downsampled"] and len(out["steps"]) <= 2000 and out["count"] == n
    assert 123_457 in out["steps"] and 700_001 in out["steps"]
    assert max(v for v in out["values"] if v is not None) == 50.0
    assert min(v for v in out["values"] if v is not None) == -50.0
    assert out["steps"] == sorted(out["steps"])


@pytest.fixture(scope="module")
def live_server(sample):
    with serve(sample[0]) as url:
        yield url


def test_real_server_serves_pages_api_and_plotly(live_server, ids):
    with httpx.Client(base_url=live_server, timeout=10) as http:
        assert http.get("/").status_code == 200
        assert http.get(f"/api/runs/{ids['parent']}").json()["run"]["name"] == "sweep"
        js = http.get("/static/plotly.min.js")
        assert js.status_code == 200 and len(js.content) > 1_000_000 and b"plotly" in js.content[:2000].lower()
        assert http.get("/static/app.js").status_code == 200


def test_cli_registers_ui_command(monkeypatch):
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default=None)
    ui_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["--store", "/tmp/x", "ui"])
    assert (args.store, args.host, args.port, args.func) == ("/tmp/x", "127.0.0.1", 5151, ui_cli.ui_command)
    assert args.allowed_hosts == []
    args = parser.parse_args(["ui", "--store", "/tmp/y", "--port", "8123", "--host", "0.0.0.0",
                              "--allowed-host", "ui.example.org", "--allowed-host", "*.corp.example"])
    assert (args.store, args.host, args.port) == ("/tmp/y", "0.0.0.0", 8123)
    assert args.allowed_hosts == ["ui.example.org", "*.corp.example"]
