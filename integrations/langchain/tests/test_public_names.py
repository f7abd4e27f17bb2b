"""logwright_langchain imports only public logwright names (no `_private` name, no private module)."""

from __future__ import annotations

import ast
import pathlib

import logwright_langchain

PACKAGE = pathlib.Path(logwright_langchain.__file__).parent


def test_only_public_logwright_names_are_imported():
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "logwright":
                parts = node.module.split(".") + [alias.name for alias in node.names]
                found += [f"{path.name}: from {node.module} import {alias.name}" for alias in node.names
                          if any(part.startswith("_") for part in parts)]
            elif isinstance(node, ast.Import):
                found += [f"{path.name}: import {alias.name}" for alias in node.names
                          if alias.name.split(".")[0] == "logwright"
                          and any(part.startswith("_") for part in alias.name.split("."))]
    assert found == []
