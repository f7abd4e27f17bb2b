"""The safety layer: the user's call is never changed by logwright's own bugs; managed runs."""

from __future__ import annotations

import threading
import traceback
import warnings

import pytest

import logwright
from logwright.autolog import guard, in_logging_call, logging_call, registry, safety
from logwright.testing import toy


@pytest.fixture
def mod(tmp_store, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    with toy.installed(site) as fw:
        module = fw.load()
        logwright.autolog(only=["toy"])
        yield module
        logwright.autolog(disable=True)


@pytest.fixture
def lenient(monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_STRICT", "0")


def _runs():
    return logwright.Client().search_runs(None, order_by=["attributes.start_time ASC"])


def _fits(mod):
    return [c for c in mod.CALLS if c[0] == "fit"]


def test_result_passes_through_by_identity(mod):
    model = mod.Model()
    assert model.fit(1) is model
    assert _fits(mod) == [("fit", 1)]


def test_user_exception_passes_through_with_traceback(mod):
    with pytest.raises(ValueError, match="user error") as info:
        mod.Model().fit("boom")
    assert info.value is mod.LAST_ERROR[-1]
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[-1].name == "fit" and frames[-1].filename.endswith(f"{mod.__name__}.py")
    assert info.value.__cause__ is None
    assert not isinstance(info.value.__context__, safety.OriginalFailed)
    (run,) = _runs()
    assert run.info.status == "FAILED"
    assert run.data.tags["logwright.error"] == "ValueError: user error"


def test_keyboard_interrupt_kills_the_run(mod):
    with pytest.raises(KeyboardInterrupt):
        mod.Model().fit("ctrl-c")
    (run,) = _runs()
    assert run.info.status == "KILLED"
    assert run.data.tags["logwright.error"].startswith("KeyboardInterrupt")


@pytest.mark.parametrize("fail", ["before", "after", "skip", "twice"])
def test_our_bug_is_reraised_in_strict_mode(mod, fail):
    logwright.autolog(only=["toy"], toy={"fail": fail})
    if fail == "twice":  # calling the original twice is not an error: it runs once
        mod.Model().fit(1)
        assert _fits(mod) == [("fit", 1)]
        return
    with pytest.raises(RuntimeError, match="toy bug|without calling"):
        mod.Model().fit(1)


@pytest.mark.parametrize("fail", ["before", "after", "skip", "twice"])
def test_our_bug_never_changes_the_result(mod, lenient, fail):
    logwright.autolog(only=["toy"], toy={"fail": fail})
    model = mod.Model()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert model.fit(1) is model
    assert _fits(mod) == [("fit", 1)]  # exactly once, whatever our code did
    assert all(r.info.status == "FINISHED" for r in _runs())


@pytest.mark.parametrize("fail", ["after", "swallow"])
def test_our_bug_never_changes_the_users_exception(mod, lenient, fail):
    logwright.autolog(only=["toy"], toy={"fail": fail})
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="user error") as info:
            mod.Model().fit("boom")
    assert info.value is mod.LAST_ERROR[-1]
    assert _fits(mod) == [("fit", "boom")]


def test_our_bug_is_warned_once_per_call_site(mod, lenient):
    logwright.autolog(only=["toy"], toy={"fail": "after"})
    before = safety.errors.get("toy", 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(3):
            mod.Model().fit(i)
    ours = [w for w in caught if "toy autolog hit an internal error" in str(w.message)]
    assert len(ours) == 1 and issubclass(ours[0].category, RuntimeWarning)
    assert safety.errors["toy"] == before + 3
    logwright.autolog(only=["toy"], toy={"fail": "before"})  # another call site warns again
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod.Model().fit(9)
    assert len([w for w in caught if "toy bug before" in str(w.message)]) == 1


def test_silent_suppresses_the_warning(mod, lenient):
    logwright.autolog(only=["toy"], toy={"fail": "before"}, silent=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod.Model().fit(1)
    assert not [w for w in caught if "logwright" in str(w.message)]


def test_only_the_outermost_call_logs(mod):
    model = mod.train({"k": 4}, 7)  # train -> Model.fit: one run
    assert model.fitted
    (run,) = _runs()
    assert run.info.run_name == "toy-train" and run.data.tags["toy.entry"] == "train"
    assert "k" not in run.data.params  # the inner fit took the plain path
    assert [c[0] for c in mod.CALLS] == ["train", "fit"]


def test_reentrancy_guard_is_per_thread(mod):
    seen = []
    with logging_call("other"):
        assert in_logging_call()
        mod.Model().fit(1)  # inside another autologged call: not logged
        thread = threading.Thread(target=lambda: seen.append(in_logging_call()))
        thread.start()
        thread.join()
    assert seen == [False] and not in_logging_call()
    assert _runs() == []


def test_user_run_is_logged_into(mod):
    with logwright.start_run() as run:
        mod.Model(k=5).fit(1)
    (only,) = _runs()
    assert only.info.run_id == run.info.run_id and only.data.params == {"k": "5"}


def test_exclusive_starts_a_nested_run(mod):
    logwright.autolog(only=["toy"], exclusive=True, extra_tags={"team": "a"})
    with logwright.start_run() as run:
        mod.Model(k=6).fit(1)
        assert logwright.active_run() is run
    runs = _runs()  # both may start in the same millisecond: tell them apart by id, not by order
    assert len(runs) == 2 and run.info.run_id in {r.info.run_id for r in runs}
    parent, child = sorted(runs, key=lambda r: r.info.run_id != run.info.run_id)
    assert parent.info.run_id == run.info.run_id and parent.data.params == {}
    assert child.info.parent_run_id == run.info.run_id and child.data.params == {"k": "6"}
    assert child.info.status == "FINISHED" and child.data.tags["team"] == "a"


def test_run_started_by_autolog_is_not_left_active(mod):
    mod.Model().fit(1)
    assert logwright.active_run() is None
    with pytest.raises(ValueError):
        mod.Model().fit("boom")
    assert logwright.active_run() is None


def test_guard_decorator(lenient):
    class Callback:
        @guard("toy")
        def on_epoch_end(self, value):
            """Log an epoch."""
            if value < 0:
                raise RuntimeError("callback bug")
            return value

    cb = Callback()
    assert cb.on_epoch_end(3) == 3 and Callback.on_epoch_end.__doc__ == "Log an epoch."
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert cb.on_epoch_end(-1) is None


def test_guard_reraises_in_strict_mode():
    @guard("toy")
    def hook():
        raise RuntimeError("callback bug")

    with pytest.raises(RuntimeError, match="callback bug"):
        hook()


def test_system_metrics_option_passes_through(mod):
    logwright.autolog(only=["toy"], log_system_metrics=True)
    assert registry.get("toy").config.log_system_metrics is True
