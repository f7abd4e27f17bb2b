"""The README's supported-versions table is generated from each Integration's requirement."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def integration_names(root: str = ROOT) -> list[str]:
    """Every integration folder's name (``integrations/<fw>/logwright_<fw>``; ``_template`` excluded)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_logwright_hatch_build", os.path.join(ROOT, "hatch_build.py"))
    hatch_build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hatch_build)
    return [folder.split("/")[-1] for folder, _ in hatch_build.integration_packages(root)]


def test_readme_integrations_table_is_current():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "readme_table.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_every_integration_readme_exists_and_is_linked():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    for name in integration_names():
        assert os.path.isfile(os.path.join(ROOT, "integrations", name, "README.md"))
        assert f"integrations/{name}/README.md" in readme
