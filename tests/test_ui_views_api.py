"""Issue 19's UI views through the HTTP API (Starlette's TestClient over a real SQLite store):
the runs table's default columns on a real sklearn GridSearchCV experiment, folding under
parents when filtered, CSV/Parquet export, chart sections and single values, live updates,
the traces list's previews, controls and sessions, and the small things (durations, tokens,
last activity, favicon).
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time

import pytest

pytest.importorskip("starlette")
sklearn = pytest.importorskip("sklearn")

from starlette.testclient import TestClient  # noqa: E402

import logwright  # noqa: E402
from logwright import fluent  # noqa: E402
from logwright.client import Client  # noqa: E402
from logwright.server import charts  # noqa: E402
from logwright.server.app import create_app  # noqa: E402
from logwright.server.formatting import fmt_duration, fmt_tokens  # noqa: E402
from logwright.tracing import flush_spans, start_span, update_current_trace  # noqa: E402

pytestmark = pytest.mark.sqlite_only(reason="builds one SQLite folder store per module, outside tmp_store")


def build_grid_search(uri: str) -> str:
    """Two sklearn GridSearchCV fits under autolog (parents with candidate children); the experiment id."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeClassifier

    logwright.set_tracking_uri(uri)
    logwright.set_experiment("iris-grid")
    logwright.autolog(only=["sklearn"], silent=True)
    try:
        x, y = load_iris(return_X_y=True)
        GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0, 10.0]}, cv=3).fit(x, y)
        GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [2, 3]}, cv=3).fit(x, y)
    finally:
        logwright.autolog(disable=True)
    logwright.flush()
    return Client(uri).store.get_experiment_by_name("iris-grid").experiment_id


def build_chat_traces(uri: str) -> str:
    """Traces of a chat app: two sessions (tags ``session.id``), one trace without a session,
    one failing trace, token counts present, zero and absent; the experiment id."""
    logwright.set_tracking_uri(uri)
    logwright.set_experiment("chat-app")
    turns = [("s-alpha", "What is 2+2?", "4", 12), ("s-beta", "Capital of France?", "Paris", 30),
             ("s-alpha", "And 3+3?", "6", 14), (None, "ping", "pong", 0)]
    for session, question, answer, tokens in turns:
        with start_span("chat-turn", kind="CHAIN",
                        inputs={"messages": [{"role": "system", "content": "be terse"},
                                             {"role": "user", "content": question}]}) as root:
            if session:
                update_current_trace(tags={"session.id": session})
            attrs = {"gen_ai.usage.input_tokens": tokens, "gen_ai.usage.output_tokens": 0} if tokens else {}
            with start_span("llm", kind="CHAT_MODEL", attributes=attrs):
                time.sleep(0.002)
            root.set_outputs({"role": "assistant", "content": answer})
    try:
        with start_span("broken-turn", kind="CHAIN", inputs={"question": "boom?"}):
            raise RuntimeError("tool failed")
    except RuntimeError:
        pass
    flush_spans()
    return Client(uri).store.get_experiment_by_name("chat-app").experiment_id


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("ui-views") / "store")
    fluent._reset_for_tests()
    ids = {"grid": build_grid_search(uri), "chat": build_chat_traces(uri)}
    fluent._reset_for_tests()
    return uri, ids, TestClient(create_app(uri), base_url="http://localhost")


def test_default_columns_are_what_the_grid_search_parents_share(site):
    _, ids, http = site
    body = http.get(f"/api/experiments/{ids['grid']}").json()
    assert body["grouped"] and body["total"] == 2 and [r["child_count"] for r in body["runs"]] == [2, 3]
    metrics = body["metric_columns"]
    # before: the first five keys alphabetically, mean_fit_time & co. that only candidates have
    assert metrics == ["best_cv_score", "training_accuracy", "training_f1", "training_log_loss"]  # 8 shared, 4 shown
    assert not any(k.startswith(("mean_", "std_", "rank_")) for k in metrics)
    assert all(r["metrics"].get("training_accuracy") is not None for r in body["runs"])  # no blank parent rows
    assert body["param_columns"] == ["estimator", "param_grid"]  # what differs between them, concise first
    assert body["coverage"]["metrics"]["mean_test_score"] == 5 and body["rows_in_view"] == 7


def test_the_sorted_metric_joins_the_default_columns(site):
    _, ids, http = site
    body = http.get(f"/api/experiments/{ids['grid']}", params={"order": "metrics.`mean_fit_time` DESC"}).json()
    assert body["metric_columns"][0] == "mean_fit_time" and "training_accuracy" in body["metric_columns"]
    picked = http.get(f"/api/experiments/{ids['grid']}", params={"m": "best_cv_score", "p": "cv"}).json()
    assert (picked["metric_columns"], picked["param_columns"]) == (["best_cv_score"], ["cv"])
    assert picked["keep"] == [["m", "best_cv_score"], ["p", "cv"]]
    reset = http.get(f"/api/experiments/{ids['grid']}", params={"m": "best_cv_score", "cols": "default"}).json()
    assert "training_accuracy" in reset["metric_columns"]


def test_filtered_candidates_are_folded_under_their_grid_search(site):
    _, ids, http = site
    body = http.get(f"/api/experiments/{ids['grid']}", params={"filter": "metrics.mean_test_score > 0.5"}).json()
    assert not body["grouped"] and body["total"] == 5  # five candidates match, no parent does
    assert len(body["runs"]) == 2 and all(r["context"] for r in body["runs"])
    assert sorted(r["child_count"] for r in body["runs"]) == [2, 3]
    assert body["metric_columns"][0] == "mean_test_score"  # the filter's metric first, then what the matches share
    assert not {"best_cv_score", "training_accuracy"} & set(body["metric_columns"])
    html = http.get(f"/experiments/{ids['grid']}", params={"filter": "metrics.mean_test_score > 0.5"}).text
    assert html.count('class="run context"') == 2 and 'class="child hidden"' not in html


def test_csv_export_has_every_run_of_the_view(site):
    _, ids, http = site
    resp = http.get(f"/experiments/{ids['grid']}/runs.csv", params={"m": ["training_accuracy", "mean_test_score"],
                                                                     "p": "estimator_class"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert 'filename="iris-grid-runs.csv"' in resp.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert len(rows) == 7 and set(rows[0]) >= {"run_id", "parent_run_id", "metrics.training_accuracy",
                                               "metrics.mean_test_score", "params.estimator_class"}
    parents = [r for r in rows if not r["parent_run_id"]]
    assert len(parents) == 2 and all(float(r["metrics.training_accuracy"]) > 0.8 for r in parents)
    assert parents[0]["start_time"].endswith("+00:00")
    only = http.get(f"/experiments/{ids['grid']}/runs.csv", params={"filter": "params.max_depth = '2'"})
    assert len(list(csv.DictReader(io.StringIO(only.text)))) == 1
    assert http.get(f"/experiments/{ids['grid']}/runs.csv", params={"filter": "metrics.x >"}).status_code == 400
    assert http.get(f"/experiments/{ids['grid']}/runs.xlsx").status_code == 404


def test_parquet_export_reads_back_with_pandas(site):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    _, ids, http = site
    resp = http.get(f"/experiments/{ids['grid']}/runs.parquet", params={"m": "best_cv_score"})
    assert resp.status_code == 200
    frame = pd.read_parquet(io.BytesIO(resp.content))
    assert len(frame) == 7 and frame["metrics.best_cv_score"].notna().sum() == 2
    assert str(frame["start_time"].dtype).startswith("datetime64")


def test_parquet_without_pyarrow_is_a_clear_message(site):
    uri, ids, _ = site
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"  # what `import pyarrow` does when it is not installed
        "import importlib.util; real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'pyarrow' else real(n, *a)\n"
        "from starlette.testclient import TestClient\n"
        "from logwright.server.app import create_app\n"
        f"http = TestClient(create_app({uri!r}), base_url='http://localhost')\n"
        f"page = http.get('/experiments/{ids['grid']}').text\n"
        f"resp = http.get('/experiments/{ids['grid']}/runs.parquet')\n"
        "print(resp.status_code); print('needs pandas and pyarrow' in resp.text); print('button disabled' in page)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["501", "True", "True"], out.stderr[-2000:]


def test_chart_layout_groups_stages_and_keeps_single_values_out():
    keys = ["epoch", "lr-Adam", "test_acc", "train_loss_epoch", "train_loss_step", "val_acc", "val_loss",
            "train/f1", "val/f1", "system/cpu_percent", "early_stopping/wait_count", "early_stopping/best_score"]
    counts = dict.fromkeys(keys, 30) | {"test_acc": 1, "early_stopping/wait_count": 1, "early_stopping/best_score": 1}
    out = charts.layout(keys, counts)
    assert [s["name"] for s in out["sections"]] == ["", "metrics", "system"]
    stages = {c["title"]: c["keys"] for c in out["sections"][0]["charts"]}
    assert stages == {"val_acc": ["val_acc"], "f1": ["train/f1", "val/f1"],
                      "loss": ["train_loss_epoch", "train_loss_step", "val_loss"]}
    assert out["values"] == ["early_stopping/best_score", "early_stopping/wait_count", "test_acc"]
    flat = charts.layout(keys, counts, overlay_stages=False)
    assert all(len(c["keys"]) == 1 for s in flat["sections"] for c in s["charts"])


def test_sklearn_run_page_shows_scores_as_values(site):
    uri, ids, http = site
    parent = http.get(f"/api/experiments/{ids['grid']}").json()["runs"][0]
    body = http.get(f"/api/runs/{parent['run_id']}").json()
    assert body["charts"]["sections"] == []  # every sklearn score is a single value
    assert body["values"]["training_accuracy"] == pytest.approx(parent["metrics"]["training_accuracy"])
    html = http.get(f"/runs/{parent['run_id']}").text
    assert 'data-key="training_accuracy"' in html and 'id="chart-layout"' in html


def test_live_updates_send_only_what_is_new(site):
    uri, ids, http = site
    client = Client(uri)
    run = client.create_run(ids["grid"], run_name="live")
    rid = run.info.run_id
    for step in range(5):
        client.log_metrics(rid, {"loss": 1.0 / (step + 1), "acc": step / 10}, step=step)
    client.flush()
    first = http.get(f"/api/runs/{rid}/updates").json()
    assert not first["done"] and first["status"] == "RUNNING" and sorted(first["metrics"]) == ["acc", "loss"]
    up = http.get(f"/api/runs/{rid}/updates", params={"since": ["loss:2", "acc:4"]}).json()
    assert list(up["metrics"]) == ["loss"] and up["metrics"]["loss"]["steps"] == [3, 4]
    assert http.get(f"/api/runs/{rid}/updates", params={"since_step": 4}).json()["metrics"] == {}
    assert http.get(f"/api/runs/{rid}/updates", params={"since_step": "x"}).status_code == 400
    assert http.get(f"/api/runs/{rid}/updates", params={"since": "nocolon"}).status_code == 400
    assert http.get("/api/runs/nope/updates").status_code == 404
    client.log_metric(rid, "loss", 0.1, step=5)
    client.set_terminated(rid)
    last = http.get(f"/api/runs/{rid}/updates", params={"since_step": 4}).json()
    assert last["done"] and last["status"] == "FINISHED" and last["metrics"]["loss"]["values"] == [0.1]
    assert last["latest"]["loss"] == 0.1 and last["duration_ms"] is not None


def test_traces_list_previews_sessions_and_controls(site):
    _, ids, http = site
    body = http.get(f"/api/experiments/{ids['chat']}/traces").json()
    by_request = {t["request"]: t for t in body["traces"]}
    assert set(by_request) == {"What is 2+2?", "Capital of France?", "And 3+3?", "ping", "boom?"}
    assert by_request["What is 2+2?"]["response"] == "4" and by_request["What is 2+2?"]["session_id"] == "s-alpha"
    sessions = [g["session_id"] for g in body["groups"] if g["session_id"]]
    assert sorted(sessions) == ["s-alpha", "s-beta"] and body["sessions"] == 2
    alpha = next(g for g in body["groups"] if g["session_id"] == "s-alpha")
    assert len(alpha["traces"]) == 2 and alpha["total_tokens"] == 26
    errors = http.get(f"/api/experiments/{ids['chat']}/traces", params={"status": "ERROR"}).json()
    assert [t["request"] for t in errors["traces"]] == ["boom?"]
    big = http.get(f"/api/experiments/{ids['chat']}/traces", params={"min_tokens": 13, "filter": "name = 'chat-turn'"})
    assert sorted(t["request"] for t in big.json()["traces"]) == ["And 3+3?", "Capital of France?"]
    slow = http.get(f"/api/experiments/{ids['chat']}/traces", params={"min_latency": 60000}).json()
    assert slow["traces"] == [] and slow["controls"]["min_latency"] == 60000
    bad = http.get(f"/api/experiments/{ids['chat']}/traces", params={"filter": "name = ", "status": "OK"})
    assert bad.status_code == 400 and bad.json()["filter_error"]["text"] == "name ="
    assert http.get(f"/api/experiments/{ids['chat']}/traces", params={"min_tokens": "many"}).status_code == 400
    html = http.get(f"/experiments/{ids['chat']}/traces").text
    assert html.count('class="session-row"') == 2 and "0 / 0 / 0" not in html


def test_small_things(site):
    _, ids, http = site
    assert [fmt_duration(v) for v in (0, 0.0042, 0.35, 3.5, 850)] == ["0 ms", "4.2 µs", "0.35 ms", "3.5 ms", "850 ms"]
    assert fmt_tokens({"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}) == "–"
    assert fmt_tokens({"input_tokens": None, "output_tokens": None, "total_tokens": None}) == "–"
    assert fmt_tokens({"input_tokens": 12, "output_tokens": None, "total_tokens": 12}) == "12 / – / 12"
    exps = {e["name"]: e for e in http.get("/api/experiments").json()["experiments"]}
    newest_trace = http.get(f"/api/experiments/{ids['chat']}/traces").json()["traces"][0]
    assert exps["chat-app"]["run_count"] == 0 and exps["chat-app"]["last_activity"] >= newest_trace["start_ns"] // 10**6
    icon = http.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert 'rel="icon"' in http.get("/").text
    first = http.get(f"/api/experiments/{ids['grid']}").json()["runs"]
    compare = http.get("/compare", params={"runs": ",".join(r["run_id"] for r in first)}).text
    assert ">iris-grid</a> / compare" in compare  # the breadcrumb names the experiment
