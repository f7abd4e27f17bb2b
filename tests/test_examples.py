"""The tour (which runs every example) works end to end on the default store."""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys

import pytest

import logwright as lw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_tour_runs_every_example_into_the_default_store(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGWRIGHT_")}
    env["LOGWRIGHT_QUIET"] = "1"
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "tour.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "best run:" in out.stdout
    client = lw.Client(str(tmp_path / "logwright-runs"))
    names = {e.name for e in client.search_experiments()}
    assert {"tour", "tour-tracing", "sklearn-quickstart", "xgboost-quickstart", "torch-loop-example",
            "lightning-quickstart", "langchain-rag", "dspy-program"} <= names
    for name in names - {"tour-tracing", "langchain-rag"}:
        runs = client.search_runs([name])
        assert runs and all(r.info.status == "FINISHED" for r in runs), name
    champion = client.get_model_version_by_alias("breast-cancer-classifier", "champion")
    assert champion.flavour == "sklearn" and "models:/breast-cancer-classifier@champion loads" in out.stdout
    from logwright.tracing import search_traces

    lw.set_tracking_uri(str(tmp_path / "logwright-runs"))
    try:
        assert len(search_traces(experiment="langchain-rag")) == 2
        assert search_traces(experiment="tour-tracing")[0].info.total_tokens == 15
    finally:
        from logwright import fluent

        fluent._reset_for_tests()


def _examples() -> dict[str, tuple[str, str]]:
    """Each integration's ``examples/<fw>_*.py``: the framework module it needs, and what it
    prints: ``run`` (it reloads a model, ``runs:/<id>/model``) or ``trace`` (it prints traces)."""
    import importlib.util

    from logwright.autolog import registry

    spec = importlib.util.spec_from_file_location("_logwright_hatch_build", os.path.join(ROOT, "hatch_build.py"))
    hatch_build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hatch_build)
    found = {}
    for name in (folder.split("/")[-1] for folder, _ in hatch_build.integration_packages(ROOT)):
        module = registry.discover()[name].module
        for path in sorted(glob.glob(os.path.join(ROOT, "examples", f"{name}_*.py"))):
            text = open(path, encoding="utf-8").read()
            found[os.path.basename(path)] = (module, "run" if "runs:/" in text else "trace")
    return found


EXAMPLES = _examples()


def _run_example(path: str, cwd: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGWRIGHT_")}
    env["LOGWRIGHT_QUIET"] = "1"
    out = subprocess.run([sys.executable, path], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def _stored_ids(folder: str) -> set[str]:
    store = lw.Client(folder).store
    runs = {r.info.run_id for r in store.search_runs(None, max_results=100_000, view="all")}
    return runs | {t.info.trace_id for t in store.search_traces(None, max_results=100_000)}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_run_twice_prints_and_reloads_its_own_run_both_times(tmp_path, name):
    module, kind = EXAMPLES[name]
    pytest.importorskip(module)
    folder = str(tmp_path / "logwright-runs")
    seen: set[str] = set()
    for _ in range(2):
        out = _run_example(os.path.join(ROOT, "examples", name), str(tmp_path))
        made = _stored_ids(folder) - seen
        printed = set(re.findall(rf"\b{kind} ([0-9a-f]{{32}})\b", out))
        assert printed, out
        assert printed <= made, f"printed ids not made by this run of {name}: {printed - made}\n{out}"
        if kind == "run":
            reloaded = re.findall(r"runs:/([0-9a-f]{32})/model", out)
            assert reloaded and set(reloaded) <= made, out
        seen |= made


def _readme_snippets() -> list[str]:
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme.split("\n## 30 seconds\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.mark.parametrize("index", [0, 1], ids=["autolog", "by-hand"])
def test_readme_30_second_snippets_run_as_pasted(tmp_path, index):
    pytest.importorskip("sklearn")
    snippets = _readme_snippets()
    assert len(snippets) == 2
    script = tmp_path / "snippet.py"
    script.write_text(snippets[index], encoding="utf-8")
    out = _run_example(str(script), str(tmp_path))
    run_id = re.search(r"\b([0-9a-f]{32})\b", out).group(1)
    run = lw.Client(str(tmp_path / "logwright-runs")).get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.metrics
