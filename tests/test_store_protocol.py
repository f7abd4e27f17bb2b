"""The Store protocol is the only way to the database: the SQLite and PostgreSQL stores implement all of it,
and nothing outside ``logwright/store/`` writes SQL or builds writer operations."""

from __future__ import annotations

import inspect
import pathlib
import re

import logwright as lw
from logwright.store.base import Store

ROOT = pathlib.Path(__file__).resolve().parents[1]
_PROTOCOL_METHODS = [
    name for name, member in vars(Store).items() if callable(member) and not name.startswith("_")
]


def test_every_store_implements_every_protocol_method_with_its_signature(store_uri):
    store = lw.Client().store
    assert isinstance(store, Store)
    for name in _PROTOCOL_METHODS:
        mine = inspect.signature(getattr(type(store), name))
        spec = inspect.signature(getattr(Store, name))
        assert list(mine.parameters) == list(spec.parameters), name
    for attr in ("location", "artifact_root", "read_only"):
        assert hasattr(store, attr)


def test_no_sql_or_writer_ops_outside_the_store():
    offenders = []
    sql = re.compile(r"\.execute(many)?\(|read_db\(|\.writer\.put|\bsqlite3\.connect\(")
    for folder in ("src/logwright", "integrations"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith("src/logwright/store/") or "/tests/" in rel:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if sql.search(line):
                    offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []
