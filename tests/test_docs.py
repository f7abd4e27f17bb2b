"""The README's supported-versions table is generated from each Integration's requirement."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_integrations_table_is_current():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "readme_table.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_every_integration_readme_exists_and_is_linked():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    for name in ("sklearn", "xgboost", "torch", "lightning", "langchain", "dspy"):
        assert os.path.isfile(os.path.join(ROOT, "integrations", name, "README.md"))
        assert f"integrations/{name}/README.md" in readme
