"""The reusable contract suite (logwright.testing.contract), run against toy integrations."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

import logwright
from logwright.autolog import registry
from logwright.autolog.registry import ACTIVE
from logwright.testing import contract, toy


@pytest.fixture
def fw(tmp_store, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    with toy.installed(site) as inst:
        yield inst


def test_a_well_behaved_integration_passes(fw):
    mod = fw.load()
    logwright.autolog(only=["toy"], toy={"tag_value": "kept"})
    contract.check_contract(
        "toy",
        exercise=lambda: mod.train({"k": 2}, 1),
        failing=lambda: mod.Model().fit("boom"),
        check_absent=False,
    )
    assert registry.state("toy") == ACTIVE  # the state and options found are restored
    assert registry.get("toy").config.tag_value == "kept"
    logwright.autolog(disable=True)
    assert contract.run_contract_suite is contract.check_contract


def test_an_unguarded_native_hook_fails_the_contract(fw):
    mod = fw.load()

    class Unguarded(fw.integration):
        def on_enable(self, config):
            original = mod.Model.fit

            def fit(model, *args, **kwargs):  # bypasses Patch and the safety layer
                result = original(model, *args, **kwargs)
                logwright.Client().log_params(logwright.active_run().info.run_id, {"raw": 1})
                return result

            self._saved, mod.Model.fit = original, fit

        def on_disable(self):
            mod.Model.fit = self._saved

        def patches(self, config):
            return []

    registry.reset()
    registry.add(Unguarded)
    with logwright.start_run():
        with pytest.raises(contract.ContractError, match="never breaks the call"):
            contract.check_contract("toy", exercise=lambda: mod.Model().fit(1), check_absent=False)


def test_exercise_that_logs_nothing_is_flagged(fw):
    mod = fw.load()
    with pytest.raises(contract.ContractError, match="no logging call hit"):
        contract.check_contract("toy", exercise=lambda: mod.Model().score(1), roundtrip=False,
                                check_absent=False)
    contract.check_contract("toy", exercise=lambda: mod.Model().score(1), roundtrip=False,
                            check_absent=False, require_injected_hit=False)


def test_absent_framework_check_runs_in_a_subprocess(tmp_store, tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "absent_pkg").mkdir(parents=True)
    (site / "absent_pkg" / "__init__.py").write_text(textwrap.dedent("""\
        from logwright.autolog import Integration

        class AbsentIntegration(Integration):
            name = "absent"
            module = "no_such_framework_module"
            requirement = "no-such-framework>=1"

            def patches(self, config):
                return []

        class PresentIntegration(AbsentIntegration):
            name = "present"
            module = "sys"
        """))
    info = site / "absent_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: absent-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[logwright.integrations]\nabsent = absent_pkg:AbsentIntegration\n"
                                          "present = absent_pkg:PresentIntegration\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), *sys.path]))
    with pytest.raises(contract.ContractError, match="absent framework is a no-op"):
        contract._check_absent("present", "sys")  # sys is always imported: patched at once
    contract._check_absent("absent", "no_such_framework_module")
