"""The noxfile's version pins, integration READMEs and requirements cannot drift apart."""

from __future__ import annotations

import importlib.util
import os

import pytest

from logwright.autolog.registry import parse_requirement

pytest.importorskip("nox")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("_logwright_noxfile", os.path.join(ROOT, "noxfile.py"))
noxfile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(noxfile)
ENTRY_POINTS = noxfile.entry_points()


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_min_pin_is_the_requirement_floor(name):
    requirement = noxfile.requirement(ENTRY_POINTS[name])
    if requirement is None:
        pytest.skip(f"{name}: Integration class not written yet")
    dist, floor = parse_requirement(requirement)
    pins = noxfile.pins(name)
    if dist == "torch":  # the documented exception: one exact torch build on this index
        assert pins == {"min": [noxfile.TORCH_PIN], "latest": [noxfile.TORCH_PIN]}
        return
    floor_pin = f"{dist}=={'.'.join(map(str, floor))}"
    assert [p for p in pins["min"] if p.startswith(f"{dist}==")] == [floor_pin]
    assert pins["latest"][-1] == dist
    if dist in noxfile.TORCH_FRAMEWORKS:
        assert pins["min"][0] == pins["latest"][0] == noxfile.TORCH_PIN


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_entry_point_has_a_folder_and_readme(name):
    folder = noxfile.integration_folder(ENTRY_POINTS[name])
    assert folder is not None, f"{name}: no integrations/<fw>/ folder holds {ENTRY_POINTS[name]}"
    if noxfile.requirement(ENTRY_POINTS[name]) is None:
        pytest.skip(f"{name}: Integration class not written yet")
    assert os.path.isfile(os.path.join(folder, "README.md")), f"{name}: README.md missing"
    assert os.path.isdir(os.path.join(folder, "tests")), f"{name}: tests/ missing"


def test_requirement_parsed_from_source_matches_the_class():
    from logwright.autolog import registry

    for name, cls in registry.discover().items():
        if name in ENTRY_POINTS:
            assert noxfile.requirement(ENTRY_POINTS[name]) == cls.requirement, name
