"""The entry-point scan cache: a fresh process's autolog() imports no integration package (issue 21 item 6)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from logwright.autolog.registry import GROUP

PLUGIN = '''
from logwright.autolog import Integration, Patch


class CachedPlugIntegration(Integration):
    """A plugin whose trigger module is {module!r}."""

    name = "cachedplug"
    module = {module!r}
    requirement = "cachedplugfw>=1.0"
    defaults = {{"knob": 1}}

    def patches(self, config):
        return []
'''

PROBE = textwrap.dedent("""
    import json, sys
    import logwright
    before = set(sys.modules)
    states = logwright.autolog()
    loaded = sorted(m for m in set(sys.modules) - before if m.startswith("logwright_") or m == "cachedplug_pkg")
    try:
        logwright.autolog(cachedplug={"nope": 1})
        unknown = None
    except ValueError as exc:
        unknown = str(exc)
    logwright.autolog(cachedplug={"knob": 2})
    import cachedplugfw_a
    from logwright.autolog import registry
    print(json.dumps({"states": states, "loaded": loaded, "unknown": unknown,
                      "after_import": registry.state("cachedplug")}))
""")


@pytest.fixture
def env(tmp_path):
    site = tmp_path / "site"
    (site / "cachedplug_pkg").mkdir(parents=True)
    for name in ("cachedplugfw_a", "cachedplugfw_b"):
        (site / f"{name}.py").write_text("X = 1\n")
    (site / "cachedplug_pkg" / "__init__.py").write_text(PLUGIN.format(module="cachedplugfw_a"))
    info = site / "cachedplug_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cachedplug-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\ncachedplug = cachedplug_pkg:CachedPlugIntegration\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOGWRIGHT_")}
    environ.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(site),
                   LOGWRIGHT_TRACKING_URI=str(tmp_path / "store"), PYTHONDONTWRITEBYTECODE="1")
    (tmp_path / "work").mkdir()  # the cwd (on sys.path as ''): nothing is written there
    return {"site": site, "environ": environ, "cache": tmp_path / "cache" / "logwright", "cwd": tmp_path / "work"}


def _probe(env) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env["environ"], capture_output=True, text=True,
                         timeout=120, cwd=env["cwd"])
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_enables_from_the_cache_importing_no_integration(env):
    first = _probe(env)
    assert "logwright_sklearn" in first["loaded"] and "cachedplug_pkg" in first["loaded"]
    assert len(list(env["cache"].glob("autolog-*.marshal"))) == 1
    second = _probe(env)
    assert second["loaded"] == []  # names, trigger modules and knob names came from the cache
    assert second["states"] == first["states"] and second["states"]["cachedplug"] == "PENDING"
    assert "nope" in second["unknown"] and "knob" in second["unknown"]  # knobs still checked
    assert second["after_import"] == "ACTIVE"  # the plugin is loaded when its framework is imported


def test_an_edited_integration_or_a_changed_environment_is_read_again(env):
    _probe(env)
    plugin = env["site"] / "cachedplug_pkg" / "__init__.py"
    plugin.write_text(PLUGIN.format(module="cachedplugfw_b"))
    stat = plugin.stat()
    os.utime(plugin, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    edited = _probe(env)
    assert "cachedplug_pkg" in edited["loaded"] and edited["after_import"] == "PENDING"  # now waits for _b
    shutil.rmtree(env["site"] / "cachedplug_pkg-0.1.dist-info")  # uninstalled: the folder's mtime changes
    gone = subprocess.run([sys.executable, "-c", "import logwright; print(sorted(logwright.autolog()))"],
                          env=env["environ"], capture_output=True, text=True, timeout=120, cwd=env["cwd"])
    assert gone.returncode == 0, gone.stderr[-3000:]
    assert "cachedplug" not in gone.stdout and "sklearn" in gone.stdout


def test_the_cache_folder_keeps_only_the_newest_files(tmp_path, monkeypatch):
    from logwright.autolog import scan_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "logwright"
    folder.mkdir()
    for i in range(scan_cache.KEEP + 5):
        old = folder / f"autolog-{i:016x}.marshal"
        old.write_bytes(b"")
        os.utime(old, ns=(i * 10**9, i * 10**9))
    scan_cache.store("some.group", {})
    kept = sorted(p.name for p in folder.glob("autolog-*.marshal"))
    assert len(kept) == scan_cache.KEEP and f"autolog-{0:016x}.marshal" not in kept
    assert scan_cache.load("some.group") == {}
