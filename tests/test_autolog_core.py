"""The autolog core against a toy framework written to disk: enabling, disabling, options, hooks."""

from __future__ import annotations

import copy
import importlib
import inspect
import pickle
import subprocess
import sys

import pytest
import wrapt

import logwright
from logwright.autolog import registry
from logwright.autolog.registry import ACTIVE, DISABLED, PENDING, parse_requirement, version_tuple
from logwright.testing import toy


@pytest.fixture
def fw(tmp_store, tmp_path):
    with toy.installed(_mkdir(tmp_path / "site")) as inst:
        yield inst


def _mkdir(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def _runs():
    return logwright.Client().search_runs(None, order_by=["attributes.start_time ASC"])


def test_autolog_is_lazy_and_imports_no_framework():
    code = (
        "import sys, logwright\n"
        "states = logwright.autolog()\n"
        "heavy = [m for m in ('torch', 'sklearn', 'xgboost', 'lightning', 'langchain_core', 'dspy',"
        " 'numpy', 'pandas', 'wrapt') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert all(s in ('PENDING', 'ACTIVE', 'DISABLED') for s in states.values()), states\n"
        "logwright.autolog(disable=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_post_import_hook_patches_on_import(fw):
    assert logwright.autolog(only=["toy"]) == {"toy": PENDING}
    assert fw.module not in sys.modules  # autolog() imported nothing
    mod = fw.load()
    assert registry.state("toy") == ACTIVE
    assert hasattr(mod.Model.__dict__["fit"], "__wrapped__")
    mod.Model(k=3).fit(1)
    (run,) = _runs()
    assert run.info.status == "FINISHED"
    assert run.data.params == {"k": "3"}
    assert run.data.tags["logwright.autolog"] == "toy"
    logwright.autolog(disable=True)


def test_already_imported_framework_is_patched_at_once(fw):
    mod = fw.load()
    assert logwright.autolog(only=["toy"]) == {"toy": ACTIVE}
    assert hasattr(mod.Model.__dict__["fit"], "__wrapped__")
    logwright.autolog(disable=True)


def test_enable_disable_restores_identity_and_is_idempotent(fw):
    mod = fw.load()
    fit, train = mod.Model.__dict__["fit"], mod.train
    assert "score" not in mod.Sub.__dict__
    logwright.autolog(only=["toy"])
    proxy = mod.Model.__dict__["fit"]
    assert proxy is not fit and mod.train is not train and "score" in mod.Sub.__dict__
    logwright.autolog(only=["toy"])
    assert mod.Model.__dict__["fit"] is proxy  # enabling twice does not re-patch
    logwright.autolog(disable=True)
    logwright.autolog(disable=True)
    assert mod.Model.__dict__["fit"] is fit
    assert mod.train is train
    assert "score" not in mod.Sub.__dict__  # the inherited method is found through the base again
    assert registry.state("toy") == DISABLED
    mod.Model().fit(1)
    assert _runs() == []


def test_disable_while_pending_then_import_does_nothing(fw):
    logwright.autolog(only=["toy"])
    logwright.autolog(disable=True)
    mod = fw.load()
    assert not hasattr(mod.Model.__dict__["fit"], "__wrapped__")
    assert registry.state("toy") == DISABLED


def test_options_are_read_at_call_time(fw):
    mod = fw.load()
    logwright.autolog(only=["toy"])
    proxy = mod.Model.__dict__["fit"]
    mod.Model().fit(1)
    logwright.autolog(only=["toy"], toy={"tag_value": "b"}, extra_tags={"team": "x"})
    assert mod.Model.__dict__["fit"] is proxy
    mod.Model().fit(2)
    first, second = _runs()
    assert first.data.tags["toy.tag"] == "a" and "team" not in first.data.tags
    assert second.data.tags["toy.tag"] == "b" and second.data.tags["team"] == "x"
    logwright.autolog(disable=True)


def test_unknown_option_or_integration_raises(fw):
    with pytest.raises(ValueError, match="nope"):
        logwright.autolog(only=["toy"], toy={"nope": 1})
    with pytest.raises(ValueError, match="unknown integration"):
        logwright.autolog(only=["no-such-framework"])
    with pytest.raises(ValueError, match="unknown integration"):
        logwright.autolog(nosuch={"a": 1})
    assert registry.state("toy") == DISABLED


def test_version_below_floor_warns_once_and_skips(tmp_store, tmp_path):
    with toy.installed(_mkdir(tmp_path / "old"), version="0.5") as fw:
        mod = fw.load()
        fit = mod.Model.__dict__["fit"]
        with pytest.warns(RuntimeWarning, match="older than the supported"):
            assert logwright.autolog(only=["toy"]) == {"toy": DISABLED}
        assert mod.Model.__dict__["fit"] is fit
        assert logwright.autolog(only=["toy"], allow_unsupported=True) == {"toy": ACTIVE}
        assert mod.Model.__dict__["fit"] is not fit
        logwright.autolog(disable=True)


def test_version_at_floor_is_patched_through_the_hook(tmp_store, tmp_path):
    with toy.installed(_mkdir(tmp_path / "ok"), version="1.2.0") as fw:
        logwright.autolog(only=["toy"])
        fw.load()
        assert registry.state("toy") == ACTIVE
        logwright.autolog(disable=True)


@pytest.mark.parametrize("strict", ["1", "0"])
def test_raising_post_import_hook_never_breaks_the_import(fw, monkeypatch, strict):
    monkeypatch.setenv("LOGWRIGHT_STRICT", strict)
    logwright.autolog(only=["toy"], toy={"fail": "patches"}, silent=True)
    mod = fw.load()  # patches() raises inside the hook: the import still succeeds
    assert mod.Model().fit(1).fitted
    assert registry.state("toy") == DISABLED
    assert not hasattr(mod.Model.__dict__["fit"], "__wrapped__")


def test_raising_patches_when_already_imported(fw, monkeypatch):
    fw.load()
    with pytest.raises(RuntimeError, match="toy patches"):  # strict: our error surfaces
        logwright.autolog(only=["toy"], toy={"fail": "patches"})
    monkeypatch.setenv("LOGWRIGHT_STRICT", "0")
    with pytest.warns(RuntimeWarning, match="toy patches"):
        assert logwright.autolog(only=["toy"], toy={"fail": "patches"}) == {"toy": DISABLED}


def test_metadata_is_preserved(fw):
    mod = fw.load()
    sig_fit, sig_train = inspect.signature(mod.Model.fit), inspect.signature(mod.train)
    logwright.autolog(only=["toy"])
    for fn in (mod.Model.fit, mod.Model().fit, mod.train):
        assert fn.__name__ in ("fit", "train")
        assert fn.__doc__ in ("Fit the model on x.", "Train a model: calls Model.fit inside (a nested patched call).")
    assert inspect.signature(mod.Model.fit) == sig_fit
    assert inspect.signature(mod.train) == sig_train
    assert str(inspect.signature(mod.Model().fit)) == "(x, y=None, *, epochs=1)"
    assert mod.train.__module__ == fw.module and mod.Model.fit.__qualname__ == "Model.fit"
    logwright.autolog(disable=True)


def test_async_and_classmethod_targets_keep_their_nature(fw):
    import asyncio

    mod = fw.load()
    logwright.autolog(only=["toy"])
    assert isinstance(mod.Model.__dict__["apredict"], wrapt.FunctionWrapper)
    assert inspect.iscoroutinefunction(mod.Model.apredict)
    assert inspect.iscoroutinefunction(mod.Model().apredict)
    assert asyncio.run(mod.Model().apredict(3)) == 3
    assert type(mod.Sub.create(4)) is mod.Sub and mod.Sub.create(4).k == 4
    logwright.autolog(disable=True)
    assert isinstance(mod.Model.__dict__["create"], classmethod)


def test_patched_objects_pickle_deepcopy_and_isinstance(fw):
    mod = fw.load()
    logwright.autolog(only=["toy"])
    model = mod.Sub(k=2).fit(1)
    for back in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model), copy.copy(model)):
        assert isinstance(back, mod.Sub) and isinstance(back, mod.Model)
        assert type(back) is mod.Sub and back.k == 2 and back.fitted
    assert pickle.loads(pickle.dumps(mod.train)) is mod.train
    assert copy.deepcopy(mod.train) is mod.train
    bound = pickle.loads(pickle.dumps(model.fit))
    assert bound.__self__.k == 2 and bound.__name__ == "fit"
    assert copy.deepcopy({"f": mod.train})["f"] is mod.train
    logwright.autolog(disable=True)


def test_someone_wrapping_on_top_switches_us_off(fw):
    mod = fw.load()
    original = mod.train
    logwright.autolog(only=["toy"])
    ours = mod.train
    seen = []

    def theirs(wrapped, instance, args, kwargs):
        seen.append(1)
        return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(mod, "train", theirs)
    logwright.autolog(disable=True)
    assert mod.train is not original and mod.train.__wrapped__ is ours  # theirs is left in place
    result = mod.train({"k": 1}, 5)
    assert result.fitted and seen == [1]
    assert _runs() == []  # our proxy is switched off: no logging
    assert ours.__wrapped__ is original


def test_reenabling_after_disable_patches_again(fw):
    mod = fw.load()
    for _ in range(2):
        logwright.autolog(only=["toy"])
        mod.Model().fit(1)
        logwright.autolog(disable=True)
    assert len(_runs()) == 2


def test_callable_module_and_registry_reset(fw):
    import logwright.autolog as pkg

    assert pkg(only=["toy"]) == {"toy": PENDING}
    registry.reset()
    assert registry.state("toy") == DISABLED
    importlib.import_module(fw.module)
    assert registry.state("toy") == DISABLED


def test_requirement_parsing():
    assert parse_requirement("scikit-learn>=1.3") == ("scikit-learn", (1, 3))
    assert parse_requirement("torch >= 2.2, <3") == ("torch", (2, 2))
    assert parse_requirement("langchain-core") == ("langchain-core", ())
    assert parse_requirement("dspy[all]>=2.6; python_version>'3.9'") == ("dspy", (2, 6))
    assert version_tuple("2.13.0+cpu") == (2, 13, 0)
    assert version_tuple("1.9rc1") == (1, 9)
    assert version_tuple("0.3.post1") == (0, 3)


DEFERRED_FW = '''
def train(x):
    return x
'''
DEFERRED_SUB = '''
from {pkg}._impl import score


class Model:
    def fit(self, x):
        return x
'''
DEFERRED_IMPL = '''
def score(x):
    return x * 2
'''


def _deferred_integration(pkg: str, built: list):
    from logwright.autolog import Integration, ModulePatches, Patch

    def passthrough(wrapped, instance, args, kwargs):
        return wrapped(*args, **kwargs)

    def build(module):
        if built[:1] == ["fail"]:
            raise RuntimeError("deferred build failed")
        built.append(module.__name__)
        return [Patch(module.__name__, "Model.fit", passthrough)]

    class DeferredIntegration(Integration):
        name, module, requirement = "deferred", pkg, f"{pkg}>=1.0"

        def patches(self, config):
            return [Patch(pkg, "train", passthrough), ModulePatches(f"{pkg}.sub", build),
                    Patch(f"{pkg}._impl", "score", passthrough), Patch(f"{pkg}.sub", "score", passthrough)]

    return DeferredIntegration


@pytest.fixture
def deferred_fw(tmp_path, tmp_store):
    pkg = f"deferredfw_{id(tmp_path)}"
    folder = tmp_path / "site" / pkg
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(DEFERRED_FW)
    (folder / "sub.py").write_text(DEFERRED_SUB.format(pkg=pkg))
    (folder / "_impl.py").write_text(DEFERRED_IMPL)
    sys.path.insert(0, str(tmp_path / "site"))
    importlib.invalidate_caches()
    built: list[str] = []
    registry.add(_deferred_integration(pkg, built))
    yield pkg, built
    registry.reset()
    registry.discover().pop("deferred", None)
    for name in (pkg, f"{pkg}.sub", f"{pkg}._impl"):
        sys.modules.pop(name, None)
    sys.path.remove(str(tmp_path / "site"))


def test_a_patch_is_applied_when_its_own_module_is_imported_and_reverted_by_the_registry(deferred_fw):
    pkg, built = deferred_fw
    fw = importlib.import_module(pkg)
    assert logwright.autolog(only=["deferred"]) == {"deferred": ACTIVE}
    assert f"{pkg}.sub" not in sys.modules and built == []  # the registry imported nothing
    assert hasattr(fw.train, "__wrapped__")
    sub = importlib.import_module(f"{pkg}.sub")  # imports _impl first: both are patched on import
    impl = sys.modules[f"{pkg}._impl"]
    assert built == [f"{pkg}.sub"]
    assert hasattr(sub.Model.__dict__["fit"], "__wrapped__")
    assert sub.score is impl.score and hasattr(impl.score, "__wrapped__")  # a re-export shares the proxy
    assert sub.score(2) == 4 and sub.Model().fit(3) == 3
    fit, score = sub.Model.__dict__["fit"].__wrapped__, impl.score.__wrapped__
    logwright.autolog(disable=True)
    assert sub.Model.__dict__["fit"] is fit and impl.score is score and sub.score is score


def test_a_deferred_patch_is_dropped_when_disabled_before_its_module_is_imported(deferred_fw):
    pkg, built = deferred_fw
    importlib.import_module(pkg)
    logwright.autolog(only=["deferred"])
    logwright.autolog(disable=True)
    sub = importlib.import_module(f"{pkg}.sub")
    assert built == [] and not hasattr(sub.Model.__dict__["fit"], "__wrapped__")
    logwright.autolog(only=["deferred"])  # enabled again with the module imported: patched at once
    assert built == [f"{pkg}.sub"] and hasattr(sub.Model.__dict__["fit"], "__wrapped__")
    logwright.autolog(disable=True)


@pytest.mark.parametrize("strict", ["1", "0"])
def test_a_failing_deferred_build_never_breaks_the_import(deferred_fw, monkeypatch, strict):
    pkg, built = deferred_fw
    monkeypatch.setenv("LOGWRIGHT_STRICT", strict)
    importlib.import_module(pkg)
    logwright.autolog(only=["deferred"], silent=True)
    built.append("fail")
    sub = importlib.import_module(f"{pkg}.sub")  # the hook's build raises: the import still succeeds
    assert sub.Model().fit(1) == 1 and not hasattr(sub.Model.__dict__["fit"], "__wrapped__")
    logwright.autolog(disable=True)
