"""A new integration is one folder plus its entry-point lines (issue 21 item 4), proven with the template.

``integrations/_template`` is copied as an integration ``tplfw`` (files and text renamed,
as its README says) into a copy of the project: its own tests pass against a stand-in
framework, and the wheel, the editable install, the nox sessions and the docs/examples
test lists all find it with no other edit.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import warnings
import zipfile

import pytest

from logwright.testing import toy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "tplfw"
ENTRY_POINTS = {
    "logwright.integrations": f'{NAME} = "logwright_{NAME}:{NAME.title()}Integration"',
    "logwright.flavours": f'{NAME} = "logwright_{NAME}.flavour:{NAME.title()}Flavour"',
}


def _copy_template(dest: str) -> str:
    """``integrations/_template`` copied to ``dest/integrations/tplfw``, renamed throughout."""
    target = os.path.join(dest, "integrations", NAME)
    shutil.copytree(os.path.join(ROOT, "integrations", "_template"), target,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for folder, _, files in os.walk(target):
        for file in files:
            path = os.path.join(folder, file)
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text.replace("template", NAME).replace("Template", NAME.title()))
    os.rename(os.path.join(target, "logwright_template"), os.path.join(target, f"logwright_{NAME}"))
    return target


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project(tmp_path):
    """A copy of the project (pyproject, build hook, noxfile, README, core, integrations) plus tplfw."""
    for file in ("pyproject.toml", "hatch_build.py", "noxfile.py", "README.md"):
        shutil.copy(os.path.join(ROOT, file), tmp_path / file)
    shutil.copytree(os.path.join(ROOT, "src"), tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(os.path.join(ROOT, "integrations"), tmp_path / "integrations",
                    ignore=shutil.ignore_patterns("__pycache__", "tests"))
    _copy_template(str(tmp_path))
    text = (tmp_path / "pyproject.toml").read_text(encoding="utf-8")
    for group, line in ENTRY_POINTS.items():  # the entry-point lines: the only edit outside the folder
        header = f'[project.entry-points."{group}"]\n'
        assert header in text
        text = text.replace(header, header + line + "\n")
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_the_template_copied_as_an_integration_passes_its_own_tests(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    toy.write_framework(site, NAME, version="1.1")  # the stand-in framework, importable as `tplfw`
    target = _copy_template(str(tmp_path))
    info = site / f"logwright_{NAME}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: logwright-{NAME}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "".join(f"[{group}]\n{line.replace(chr(34), '')}\n\n" for group, line in ENTRY_POINTS.items())
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGWRIGHT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), target, env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "logwright.testing",
         "--import-mode=importlib", os.path.join(target, "tests")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "3 passed" in out.stdout and "skipped" not in out.stdout, out.stdout[-2000:]


def test_packaging_nox_and_test_lists_find_the_new_folder(project):
    hatch_build = _load(str(project / "hatch_build.py"), "_tpl_hatch_build")
    assert (f"integrations/{NAME}", f"logwright_{NAME}") in hatch_build.integration_packages(str(project))
    assert all(not folder.split("/")[-1].startswith("_") for folder, _ in
               hatch_build.integration_packages(str(project)))
    with warnings.catch_warnings():  # nox: the sessions this module registers again
        warnings.simplefilter("ignore", FutureWarning)
        noxfile = _load(str(project / "noxfile.py"), "_tpl_noxfile")
    assert noxfile.entry_points()[NAME] == f"logwright_{NAME}:{NAME.title()}Integration"
    assert noxfile.integration_folder(noxfile.entry_points()[NAME]) == str(project / "integrations" / NAME)
    assert noxfile.pins(NAME) == {"min": [f"{NAME}==1.0"], "latest": [NAME]}
    test_docs = _load(os.path.join(ROOT, "tests", "test_docs.py"), "_tpl_test_docs")
    assert NAME in test_docs.integration_names(str(project))


def test_the_wheel_and_the_editable_install_carry_the_new_integration(project, tmp_path):
    pytest.importorskip("hatchling")
    code = ("import os, sys, hatchling.build as b; "
            "print(os.path.join('wheel', b.build_wheel('wheel'))); "
            "print(os.path.join('editable', b.build_editable('editable')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    wheel, editable = (str(project / name) for name in out.stdout.split())
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("logwright", "logwright_sklearn", f"logwright_{NAME}"):
        assert f"{package}/__init__.py" in names, package
    assert not any(n.startswith(("logwright_template/", "_template/")) or "__pycache__" in n for n in names)
    entry_points = zipfile.ZipFile(wheel).read("logwright-0.1.0.dist-info/entry_points.txt").decode()
    assert f"{NAME} = logwright_{NAME}:{NAME.title()}Integration" in entry_points
    pth = zipfile.ZipFile(editable).read("_logwright_integrations.pth").decode().split()
    assert os.path.join(str(project), "integrations", NAME) in pth
    assert os.path.join(str(project), "integrations", "_template") not in pth
