"""nox sessions: tests, lint, bench, demo, and one per integration x framework version.

Each integration session is parametrized by ``min`` (its framework pinned to the
floor of the Integration class's ``requirement``, read from the source with ast,
so the two cannot drift) and ``latest``. ``nox -l`` lists them; ``nox -s
"sklearn(min)"`` runs one. torch is always installed first with an exact pin
(``TORCH_PIN``): this machine's index carries only that build, so for the torch
integration min and latest are both ``TORCH_PIN``.
"""

from __future__ import annotations

import ast
import glob
import os

import nox
import tomllib

ROOT = os.path.dirname(os.path.abspath(__file__))
TORCH_PIN = "torch==2.13.0"
TORCH_FRAMEWORKS = {"torch", "lightning", "pytorch-lightning"}
DEV = ["pytest>=8", "pytest-timeout>=2.3", "hypothesis>=6", "pandas", "matplotlib"]
# What a framework's floor release needs beside it: releases of its era, not today's.
MIN_COMPANIONS = {
    "scikit-learn": ["numpy<2", "scipy<1.14", "pandas<2.3", "skops<0.11"],
    "xgboost": ["numpy<2", "scikit-learn<1.6", "pandas<2.3"],
    "lightning": ["setuptools<70"],  # lightning 2.2 still imports pkg_resources
}

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True


def entry_points() -> dict[str, str]:
    """The ``logwright.integrations`` entry points declared in pyproject.toml."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)["project"]
    return dict(project.get("entry-points", {}).get("logwright.integrations", {}))


def _requirement_in(folder: str, class_name: str) -> str | None:
    for path in sorted(glob.glob(os.path.join(folder, "*.py"))):
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == class_name:
                for stmt in node.body:
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
                    value = getattr(stmt, "value", None)
                    if any(getattr(t, "id", None) == "requirement" for t in targets) and isinstance(
                        value, ast.Constant
                    ):
                        return value.value
    return None


def integration_folder(value: str) -> str | None:
    """``integrations/<fw>`` holding the entry point's package (``logwright_x:XIntegration``)."""
    package = value.split(":", 1)[0].split(".", 1)[0]
    found = glob.glob(os.path.join(ROOT, "integrations", "*", package))
    return os.path.dirname(found[0]) if found else None


def requirement(value: str) -> str | None:
    """The ``requirement`` string of an entry point's Integration class, parsed (not imported)."""
    module, _, class_name = value.partition(":")
    folder = integration_folder(value)
    if folder is None:
        return None
    return _requirement_in(os.path.join(folder, module.split(".", 1)[0]), class_name)


def split_requirement(text: str) -> tuple[str, str | None]:
    """``"scikit-learn>=1.3"`` -> ``("scikit-learn", "1.3")``."""
    text = text.split(";", 1)[0]
    name = text
    for sep in ("[", ">", "<", "=", "!", "~", " ", ","):
        name = name.split(sep, 1)[0]
    floor = None
    for clause in text[len(name):].split(","):
        clause = clause.strip()
        if clause.startswith(">="):
            floor = clause[2:].strip()
    return name.strip(), floor


def pins(name: str) -> dict[str, list[str]]:
    """``{"min": [...], "latest": [...]}``: what to install for one integration's two sessions."""
    req = requirement(entry_points()[name])
    if req is None:
        return {"min": [], "latest": []}
    dist, floor = split_requirement(req)
    if dist == "torch":
        return {"min": [TORCH_PIN], "latest": [TORCH_PIN]}
    first = [TORCH_PIN] if dist in TORCH_FRAMEWORKS else []
    floor_pin = f"{dist}=={floor}" if floor else dist
    return {"min": [*first, floor_pin, *MIN_COMPANIONS.get(dist, [])], "latest": [*first, dist]}


@nox.session
def tests(session: nox.Session) -> None:
    """Core tests (no ML framework needed)."""
    session.install("-e", ".", *DEV)
    session.run("pytest", "tests", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark with logwright (add MLflow figures with the bench venv, see benchmarks/)."""
    session.install("-e", ".", TORCH_PIN, "scikit-learn", "xgboost", "psutil")
    for path in sorted(glob.glob(os.path.join(ROOT, "benchmarks", "*.py"))):
        session.run("python", path, "--tracker", "logwright", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The tour (examples/tour.py)."""
    session.install("-e", ".[sklearn]")
    session.run("python", os.path.join(ROOT, "examples", "tour.py"), *session.posargs)


def _make_integration_session(name: str) -> None:
    @nox.session(name=name)
    @nox.parametrize("version", ["min", "latest"], ids=["min", "latest"])
    def integration(session: nox.Session, version: str) -> None:
        folder = integration_folder(entry_points()[name])
        for pin in pins(name)[version]:  # torch first, exactly pinned, before anything pulls it in
            session.install(pin)
        session.install("-e", f".[{name}]", *DEV)
        for pin in pins(name)[version]:  # and again, so "-e ." never moves the framework
            session.install(pin)
        session.run("pytest", os.path.join(folder, "tests"), *session.posargs)

    integration.__doc__ = f"The {name} integration's tests against its framework's floor and latest."


for _name in sorted(entry_points()):
    _make_integration_session(_name)
