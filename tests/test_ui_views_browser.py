"""Issue 19's UI views in a real headless Chromium over uvicorn and a store written by real
frameworks: the runs table of an sklearn GridSearchCV experiment (default columns, picker,
memory per experiment, folding when filtered, CSV export), a Lightning run's grouped charts
(x axis by epoch, smoothing, log scale), compare overlays, a live run updating itself, and
the traces list (previews, controls, sessions). Screenshots go to ``test-artifacts/ui/``.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning")


import logwright  # noqa: E402
from logwright import fluent  # noqa: E402
from logwright.client import Client  # noqa: E402
from logwright.server.sample import serve  # noqa: E402
from logwright.testing.browser import screenshot as _shot  # noqa: E402


def _sibling(name: str):
    """A test module of this folder, loaded once (its fixtures and helpers are reused here)."""
    full = f"tests.{name}"
    if full not in sys.modules:
        spec = importlib.util.spec_from_file_location(full, Path(__file__).with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)
    return sys.modules[full]


_browser_tests = _sibling("test_ui_browser")
_api_tests = _sibling("test_ui_views_api")
browser, page, _wait_charts = _browser_tests.browser, _browser_tests.page, _browser_tests._wait_charts
pytestmark = [_browser_tests.pytestmark, pytest.mark.sqlite_only(reason="one SQLite folder store per module")]


class TinyClassifier(L.LightningModule):
    """Four inputs, two classes; logs train_loss (step and epoch), val_loss, val_acc and test_acc."""

    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(4, 2)

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        out = self.net(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(out, y))
        self.log("val_acc", (out.argmax(1) == y).float().mean())

    def test_step(self, batch, _):
        x, y = batch
        self.log("test_acc", (self.net(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def build_lightning(uri: str) -> list[str]:
    """Two Lightning fits (4 epochs of 8 steps) and a test, under autolog; their run ids."""
    from torch.utils.data import DataLoader, TensorDataset

    logwright.set_tracking_uri(uri)
    logwright.set_experiment("lightning-demo")
    logwright.autolog(only=["lightning"], silent=True, log_models=False)
    try:
        torch.manual_seed(0)
        x = torch.randn(64, 4)
        loader = DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=8)
        for lr in (0.05, 0.5):
            trainer = L.Trainer(max_epochs=4, log_every_n_steps=2, enable_progress_bar=False, accelerator="cpu",
                                enable_model_summary=False, enable_checkpointing=False, logger=None)
            model = TinyClassifier(lr)
            trainer.fit(model, loader, loader)
            trainer.test(model, dataloaders=loader, verbose=False)
    finally:
        logwright.autolog(disable=True)
    logwright.flush()
    client = Client(uri)
    exp = client.store.get_experiment_by_name("lightning-demo").experiment_id
    return [r.info.run_id for r in reversed(client.store.search_runs([exp]))]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("ui-views-browser") / "store")
    fluent._reset_for_tests()
    ids = {"grid": _api_tests.build_grid_search(uri), "chat": _api_tests.build_chat_traces(uri),
           "lightning": build_lightning(uri)}
    fluent._reset_for_tests()
    with serve(uri) as url:
        yield url, ids, uri


def _headers(pg) -> list[str]:
    return [t.strip(" ↑↓") for t in pg.locator("#runs thead tr:last-child th").all_inner_texts()]


def test_grid_search_runs_table_columns_picker_and_memory(page, site, tmp_path):
    url, ids, _ = site
    page.goto(f"{url}/experiments/{ids['grid']}")
    heads = _headers(page)
    assert "training_accuracy" in heads and "best_cv_score" in heads and "param_grid" in heads
    assert "mean_fit_time" not in heads and "mean_test_score" not in heads
    accuracy = page.locator(f"#runs tbody tr.run td:nth-child({heads.index('training_accuracy') + 1})")
    assert all(float(t) > 0.8 for t in accuracy.all_inner_texts())  # parent rows are filled, not blank
    page.locator("button.expand").first.click()
    _shot(page, "19-01-runs-grid-search")

    page.click("#column-picker summary")
    page.fill("#column-search", "mean_test")
    assert page.locator("#columns-form label:visible").count() == 1
    page.check('#columns-form input[value="mean_test_score"]')
    _shot(page, "19-02-column-picker")
    page.click("#columns-form button[type=submit]")
    page.wait_for_url("**m=mean_test_score**")
    assert "mean_test_score" in _headers(page)
    page.goto(f"{url}/experiments/{ids['grid']}")  # a later visit: the same columns, from the browser's memory
    page.wait_for_url("**m=mean_test_score**")
    assert "mean_test_score" in _headers(page)

    page.click("#column-picker summary")
    page.click("#default-columns")
    page.wait_for_url("**cols=default**")
    assert "mean_test_score" not in _headers(page)
    page.click('#runs thead a:has-text("best_cv_score")')
    page.wait_for_url("**order=**")
    page.goto(f"{url}/experiments/{ids['grid']}")
    page.wait_for_url("**order=**")  # the sort is remembered too
    assert "metrics.`best_cv_score`" in page.evaluate("() => new URLSearchParams(location.search).get('order')")

    with page.expect_download() as info:
        page.click("#export-csv")
    path = tmp_path / "runs.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 7 and {"metrics.best_cv_score", "metrics.training_accuracy", "params.param_grid"} <= set(rows[0])


def test_filtered_grid_search_candidates_stay_under_their_parent(page, site):
    url, ids, _ = site
    page.goto(f"{url}/experiments/{ids['grid']}?cols=default")
    page.fill("input[name=filter]", "metrics.mean_test_score > 0.5")
    page.press("input[name=filter]", "Enter")
    page.wait_for_selector("#runs tbody tr.context")
    assert page.locator("#runs tbody tr.run.context").count() == 2
    assert page.locator("#runs tbody tr.child:visible").count() == 5
    assert "mean_test_score" in _headers(page)
    page.locator("button.expand").first.click()  # fold one parent again
    assert page.locator("#runs tbody tr.child:visible").count() in (2, 3)
    _shot(page, "19-03-runs-filtered-folded")


def _chart(pg, title: str) -> str:
    return f'.metric-chart[data-title="{title}"]'


def _xs(pg, title: str) -> dict[str, list]:
    return pg.evaluate("sel => Object.fromEntries(document.querySelector(sel).data.filter(t => t.meta !== 'raw')"
                       ".map(t => [t.name, Array.from(t.x)]))", _chart(pg, title))


def test_lightning_run_charts_grouped_with_epoch_axis_smoothing_and_log(page, site):
    url, ids, _ = site
    page.goto(f"{url}/runs/{ids['lightning'][0]}")
    _wait_charts(page, ".metric-chart")
    sections = page.locator("h3.chart-section").all_inner_texts()
    assert sections[0] == "train · val · test" and "metrics" in sections
    loss = _xs(page, "loss")
    assert sorted(loss) == ["train_loss_epoch", "train_loss_step", "val_loss"]  # train and val overlaid
    assert page.locator(".value-tile[data-key='test_acc']").count() == 1  # a single value, not a lone dot
    assert page.locator(".chart-card .chart-head span:text-is('test_acc')").count() == 0
    assert loss["val_loss"] == sorted(loss["val_loss"]) and loss["val_loss"][0] > 3  # epoch ends, in global steps
    _shot(page, "19-04-lightning-charts-step")

    page.select_option("#x-axis", "epoch")
    page.wait_for_function("() => document.querySelector('.metric-chart').layout.xaxis.title.text === 'epoch'")
    loss = _xs(page, "loss")
    assert loss["val_loss"] == [1, 2, 3, 4] and loss["train_loss_epoch"] == [1, 2, 3, 4]
    assert 0 <= min(loss["train_loss_step"]) and max(loss["train_loss_step"]) < 4
    assert loss["train_loss_step"] == sorted(loss["train_loss_step"])
    _shot(page, "19-05-lightning-charts-epoch")

    page.locator("#smoothing").fill("0.8")
    page.check("#log-y")
    page.wait_for_function("sel => document.querySelector(sel).layout.yaxis.type === 'log'", arg=_chart(page, "loss"))
    traces = page.evaluate("sel => document.querySelector(sel).data.length", _chart(page, "loss"))
    assert traces == 6  # each curve drawn raw (faint) and smoothed
    page.select_option("#x-axis", "relative")
    page.wait_for_function("() => document.querySelector('.metric-chart').layout.xaxis.title.text.startsWith('time')")
    _shot(page, "19-06-lightning-smoothed-log")


def test_compare_overlays_the_same_metric_across_runs(page, site):
    url, ids, _ = site
    page.goto(f"{url}/compare?runs={','.join(ids['lightning'])}")
    _wait_charts(page, ".compare-chart")
    val = page.evaluate("() => document.querySelector('.compare-chart[data-key=\"val_loss\"]').data.length")
    assert val == 2
    assert page.locator(".compare-chart[data-key='test_acc']").count() == 0
    page.select_option("#x-axis", "epoch")
    page.wait_for_function("() => document.querySelector('.compare-chart').layout.xaxis.title.text === 'epoch'")
    xs = page.evaluate("() => document.querySelector('.compare-chart[data-key=\"val_loss\"]').data.map(t => t.x)")
    assert xs == [[1, 2, 3, 4], [1, 2, 3, 4]]
    assert "lightning-demo" in page.inner_text("header nav")
    _shot(page, "19-07-compare-lightning")


def test_running_run_page_updates_itself_and_stops(page, site):
    url, ids, uri = site
    client = Client(uri)
    run_id = client.create_run(ids["grid"], run_name="live-training").info.run_id
    for step in range(5):
        client.log_metrics(run_id, {"loss": 1.0 / (step + 1)}, step=step)
    client.flush()
    page.goto(f"{url}/runs/{run_id}")
    _wait_charts(page, ".metric-chart")
    page.evaluate("() => { window.__same_page = 1; }")
    assert page.evaluate("() => document.querySelector('.metric-chart').data[0].x.length") == 5
    for step in range(5, 10):
        client.log_metrics(run_id, {"loss": 1.0 / (step + 1), "acc": step / 10}, step=step)
    client.flush()
    page.wait_for_function("() => document.querySelector('.metric-chart[data-key=\"loss\"]').data[0].x.length === 10",
                           timeout=20000)
    page.wait_for_selector(".metric-chart[data-key='acc']", timeout=20000)  # a new metric gets its chart
    assert page.inner_text("#run-status") == "RUNNING" and page.is_visible("#live-note")
    _shot(page, "19-08-live-run")
    client.set_terminated(run_id)
    page.wait_for_function("() => document.body.dataset.live === 'done'", timeout=20000)
    assert page.inner_text("#run-status") == "FINISHED" and page.inner_text("#run-duration") != "running"
    assert page.evaluate("() => window.__same_page") == 1  # updated in place, never reloaded
    polls = page.evaluate("() => document.body.dataset.polls")
    page.wait_for_timeout(4500)
    assert page.evaluate("() => document.body.dataset.polls") == polls  # polling stopped with the run
    _shot(page, "19-09-live-run-finished")


def test_traces_list_previews_controls_and_sessions(page, site):
    url, ids, _ = site
    page.goto(f"{url}/experiments/{ids['chat']}/traces")
    assert page.locator("#traces tr.session-row").count() == 2
    alpha = page.locator("#traces tr.in-session[data-session='s-alpha'] td.request").all_inner_texts()
    assert alpha == ["And 3+3?", "What is 2+2?"]
    assert "Paris" in page.inner_text("#traces tr[data-session='s-beta'] td.response")
    assert "0 / 0 / 0" not in page.inner_text("#traces")
    _shot(page, "19-10-traces-sessions")
    page.select_option("#status-filter", "ERROR")
    page.click("#filter-form button[type=submit]")
    page.wait_for_url("**status=ERROR**")
    assert page.locator("#traces td.request").all_inner_texts() == ["boom?"]
    page.goto(f"{url}/experiments/{ids['chat']}/traces")
    page.fill("#tokens-filter", "13")
    page.press("#tokens-filter", "Enter")
    page.wait_for_url("**min_tokens=13**")
    assert sorted(page.locator("#traces td.request").all_inner_texts()) == ["And 3+3?", "Capital of France?"]
    _shot(page, "19-11-traces-token-filter")


def test_zooming_a_long_series_fetches_the_raw_points(page, site):
    url, ids, uri = site
    client = Client(uri)
    run_id = client.create_run(ids["grid"], run_name="long-curve").info.run_id
    for step in range(5000):
        client.log_metric(run_id, "long", (step % 97) / 97, step=step)
    client.set_terminated(run_id)
    page.goto(f"{url}/runs/{run_id}")
    _wait_charts(page, ".metric-chart")
    assert 0 < page.evaluate("() => document.querySelector('.metric-chart').data[0].x.length") <= 2000
    page.evaluate("() => Plotly.relayout(document.querySelector('.metric-chart'), {'xaxis.range': [100, 300]})")
    page.wait_for_function("() => document.querySelector('.metric-chart').data[0].x.length === 201", timeout=20000)
    xs = page.evaluate("() => Array.from(document.querySelector('.metric-chart').data[0].x)")
    assert xs[0] == 100 and xs[-1] == 300
    page.evaluate("() => Plotly.relayout(document.querySelector('.metric-chart'), {'xaxis.autorange': true})")
    page.wait_for_function("() => document.querySelector('.metric-chart').data[0].x.length < 2001 && "
                           "document.querySelector('.metric-chart').data[0].x[0] === 0", timeout=20000)
