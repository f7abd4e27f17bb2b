"""Discovery through entry points: a third-party plugin on sys.path is picked up as is."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
import textwrap

import pytest

import logwright
from logwright.autolog import discovery, registry
from logwright.autolog.registry import ACTIVE, GROUP, PENDING
from logwright.testing import toy

PLUGIN = '''
"""A third-party logwright plugin: knows nothing but the public contract."""
from logwright.autolog import Integration, Patch, managed_run


class ToyPluginIntegration(Integration):
    """Logs the data of every Model.fit as a param."""

    name = "toyplug"
    module = "{module}"
    requirement = "{module}>=1.0"
    defaults = {{"prefix": "p"}}

    def patches(self, config):
        return [Patch(self.module, "Model.fit", self._wrap_model_fit)]

    def _wrap_model_fit(self, wrapped, instance, args, kwargs):
        with managed_run(self.name, self.config) as run:
            result = wrapped(*args, **kwargs)
            run.client.log_params(run.info.run_id, {{self.config.prefix + "_x": args[0]}})
            return result
'''


@pytest.fixture
def plugin_site(tmp_path, tmp_store):
    site = tmp_path / "site"
    (site / "toyplug_pkg").mkdir(parents=True)
    module = f"toyplugfw_{id(site)}"
    toy.write_framework(site, module, version="1.1")
    (site / "toyplug_pkg" / "__init__.py").write_text(PLUGIN.format(module=module))
    info = site / "toyplug_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplug-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(f"""\
            [console_scripts]
            toyplug = toyplug_pkg:main

            [{GROUP}]
            toyplug = toyplug_pkg:ToyPluginIntegration
            """)
    )
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    registry.clear_discovery()
    yield module
    registry.reset()
    sys.path.remove(str(site))
    for name in (module, "toyplug_pkg"):
        sys.modules.pop(name, None)
    registry.clear_discovery()


def test_third_party_plugin_is_discovered_and_enabled(plugin_site):
    assert "toyplug" in registry.discover()
    assert logwright.autolog(only=["toyplug"], toyplug={"prefix": "q"}) == {"toyplug": PENDING}
    mod = importlib.import_module(plugin_site)
    assert registry.state("toyplug") == ACTIVE
    mod.Model().fit(42)
    (run,) = logwright.Client().search_runs(None)
    assert run.data.params == {"q_x": "42"} and run.data.tags["logwright.autolog"] == "toyplug"
    logwright.autolog(disable=True)
    assert not hasattr(mod.Model.__dict__["fit"], "__wrapped__")


def test_fast_discovery_matches_importlib_metadata(plugin_site):
    for group in (GROUP, "console_scripts", "pytest11"):
        ours = [(e.name, e.value) for e in discovery.entry_points(group)]
        theirs = [(e.name, e.value) for e in importlib.metadata.entry_points(group=group)]
        assert ours == theirs, group
    assert ("toyplug", "toyplug_pkg:ToyPluginIntegration") in [
        (e.name, e.value) for e in discovery.entry_points(GROUP)
    ]


def test_broken_plugin_is_reported_not_raised(plugin_site, tmp_path):
    (tmp_path / "site" / "toyplug_pkg" / "__init__.py").write_text("raise ImportError('broken plugin')\n")
    sys.modules.pop("toyplug_pkg", None)
    registry.clear_discovery()
    assert "toyplug" not in registry.discover()
    assert "broken plugin" in registry.failed["toyplug"]


def test_discovery_falls_back_with_a_zip_on_the_path(tmp_path, monkeypatch):
    archive = tmp_path / "empty.zip"
    import zipfile

    with zipfile.ZipFile(archive, "w"):
        pass
    monkeypatch.syspath_prepend(str(archive))
    assert discovery._scan(GROUP) is None
    assert [e.name for e in discovery.entry_points(GROUP)] == [
        e.name for e in importlib.metadata.entry_points(group=GROUP)
    ]
