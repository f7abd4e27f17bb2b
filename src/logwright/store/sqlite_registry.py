"""The model registry in the store: registered models, versions, tags and aliases.

:class:`RegistryMixin` holds every registry call of the Store protocol, written once
over two hooks a backend provides: ``_reg_rows(sql, args)`` (a read) and
``_reg_tx()`` (a write transaction that holds the database's write lock, yielding a
function that runs one statement and returns its rows). SQL uses ``?`` placeholders;
the PostgreSQL store (:mod:`logwright.store.postgres_registry`) turns them into ``%s``.
:class:`SqliteRegistryMixin` is the SQLite backend, mixed into
:class:`~logwright.store.sqlite.SqliteStore`.

Registry writes are synchronous (the caller needs the version number). A new version
takes ``MAX(version) + 1`` inside a transaction that holds the write lock (SQLite's
``BEGIN IMMEDIATE``; in PostgreSQL the registered model's row, locked by an upsert), so
concurrent registrations get distinct numbers. Moving an alias is one upsert.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from logwright.entities import ModelVersion, RegisteredModel
from logwright.exceptions import LogwrightError, ModelNotFound, StoreError
from logwright.store.registry_filter import compile_filter

Run = Callable[[str, Sequence[Any]], list[tuple]]
MAX_NAME = 256
_VERSION_COLS = ("v.name, v.version, v.source, v.run_id, v.artifact_path, v.flavour, v.signature, "
                 "v.description, v.status, v.creation_time, v.last_update_time")


def _now_ms() -> int:
    return int(time.time() * 1000)


def check_name(name: object, what: str = "registered model name") -> str:
    """Return ``name`` if it can name a registered model or an alias, else raise.

    Legal: a non-empty string of at most 256 characters without ``/``, ``@``,
    control characters or surrounding spaces. An alias must also not be ``latest``
    nor all digits (``models:/name/latest`` and ``models:/name/3`` mean versions).

    Raises:
        TypeError: not a string.
        ValueError: not a legal name; the message says why.
    """
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string, got {type(name).__name__}: {name!r:.80}")
    problem = None
    if not name or name != name.strip():
        problem = "it must not be empty nor start or end with a space"
    elif len(name) > MAX_NAME:
        problem = f"it is {len(name)} characters; the limit is {MAX_NAME}"
    elif "/" in name or "@" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "it must not contain '/', '@' or control characters"
    elif what == "alias" and (name.lower() == "latest" or name.isdigit()):
        problem = "'latest' and numbers name versions in models:/ URIs"
    if problem:
        raise ValueError(f"{what} {name!r:.300} is illegal: {problem}")
    return name


def _version(value: object) -> int:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"a model version is a positive whole number, got {value!r:.80}") from None
    if number < 1 or number >= 2**62:
        raise ValueError(f"a model version is a positive whole number, got {value!r:.80}")
    return number


class RegistryMixin:
    """Every registry call of the Store protocol over ``_reg_rows`` and ``_reg_tx``."""

    _REG_POSTGRES = False
    _reg_rows: Callable[[str, Sequence[Any]], list[tuple]]
    _reg_tx: Callable[[], contextlib.AbstractContextManager[Run]]

    # -- reads -----------------------------------------------------------------------

    def _registered(self, row: tuple) -> RegisteredModel:
        name = row[0]
        tags = dict(self._reg_rows("SELECT key, value FROM registered_model_tags WHERE name = ?", (name,)))
        aliases = dict(self._reg_rows("SELECT alias, version FROM registered_model_aliases WHERE name = ? "
                                      "ORDER BY alias", (name,)))
        latest = self._reg_rows("SELECT MAX(version) FROM model_versions WHERE name = ?", (name,))[0][0]
        return RegisteredModel(name=name, description=row[1], tags=tags, aliases=aliases,
                               latest_version=latest, creation_time=row[2], last_update_time=row[3])

    def _model_version(self, row: tuple) -> ModelVersion:
        name, version = row[0], row[1]
        tags = dict(self._reg_rows("SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?",
                                   (name, version)))
        aliases = tuple(a for (a,) in self._reg_rows(
            "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? ORDER BY alias",
            (name, version)))
        return ModelVersion(
            name=name, version=int(version), source=row[2], run_id=row[3], artifact_path=row[4], flavour=row[5],
            signature=json.loads(row[6]) if row[6] else None, aliases=aliases, tags=tags, description=row[7],
            status=row[8], creation_time=row[9], last_update_time=row[10],
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model; raises ModelNotFound."""
        rows = self._reg_rows("SELECT name, description, creation_time, last_update_time FROM registered_models "
                              "WHERE name = ?", (name,))
        if not rows:
            raise ModelNotFound(f"registered model {name!r}")
        return self._registered(rows[0])

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version; raises ModelNotFound."""
        number = _version(version)
        rows = self._reg_rows(f"SELECT {_VERSION_COLS} FROM model_versions v WHERE v.name = ? AND v.version = ?",
                              (name, number))
        if not rows:
            raise ModelNotFound(f"version {number} of registered model {name!r}")
        return self._model_version(rows[0])

    def get_latest_model_version(self, name: str) -> ModelVersion:
        """The version with the highest number; raises ModelNotFound."""
        rows = self._reg_rows(f"SELECT {_VERSION_COLS} FROM model_versions v WHERE v.name = ? "
                              "ORDER BY v.version DESC LIMIT 1", (name,))
        if not rows:
            raise ModelNotFound(f"a version of registered model {name!r}")
        return self._model_version(rows[0])

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at; raises ModelNotFound."""
        rows = self._reg_rows("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                              (name, alias))
        if not rows:
            raise ModelNotFound(f"alias {alias!r} of registered model {name!r}")
        return self.get_model_version(name, rows[0][0])

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int = 1000) -> list[RegisteredModel]:
        """Registered models matching the registry filter, by name; raises InvalidFilter."""
        where, args = compile_filter(filter_string, versions=False, postgres=self._REG_POSTGRES)
        rows = self._reg_rows("SELECT m.name, m.description, m.creation_time, m.last_update_time "
                              f"FROM registered_models m WHERE {where} ORDER BY m.name LIMIT ?",
                              [*args, int(max_results)])
        return [self._registered(r) for r in rows]

    def search_model_versions(self, filter_string: str | None = None, max_results: int = 1000) -> list[ModelVersion]:
        """Versions matching the registry filter, by name then newest first; raises InvalidFilter."""
        where, args = compile_filter(filter_string, versions=True, postgres=self._REG_POSTGRES)
        rows = self._reg_rows(f"SELECT {_VERSION_COLS} FROM model_versions v WHERE {where} "
                              "ORDER BY v.name, v.version DESC LIMIT ?", [*args, int(max_results)])
        return [self._model_version(r) for r in rows]

    # -- writes (synchronous) ----------------------------------------------------------

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             artifact_path: str | None = None, flavour: str | None = None,
                             signature: Mapping[str, Any] | None = None, tags: Mapping[str, str] | None = None,
                             description: str | None = None, version: int | None = None) -> ModelVersion:
        """Register a new version (creating the registered model when missing); returns it.

        The version number is ``MAX(version) + 1`` taken under the write lock: concurrent
        registrations, from any process, get distinct numbers. ``version`` asks for that
        number instead (``logwright store copy`` keeps a registry's numbers); ValueError
        when the model already has a version of that number.
        """
        check_name(name)
        now = _now_ms()
        sig = json.dumps(signature, default=str) if signature is not None else None
        with self._reg_tx() as run:
            run("INSERT INTO registered_models (name, creation_time, last_update_time) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET last_update_time = excluded.last_update_time", (name, now, now))
            number = (run("SELECT MAX(version) FROM model_versions WHERE name = ?", (name,))[0][0] or 0) + 1
            if version is not None:
                number = _version(version)
                if run("SELECT 1 FROM model_versions WHERE name = ? AND version = ?", (name, number)):
                    raise ValueError(f"version {number} of registered model {name!r} already exists")
            run("INSERT INTO model_versions (name, version, run_id, artifact_path, source, flavour, signature, "
                "status, description, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?, ?, ?, 'READY', ?, ?, ?)",
                (name, number, run_id, artifact_path, source, flavour, sig, description, now, now))
            for key, value in (tags or {}).items():
                run("INSERT INTO model_version_tags VALUES (?, ?, ?, ?)", (name, number, key, value))
        return self.get_model_version(name, number)

    def create_registered_model(self, name: str, tags: Mapping[str, str] | None = None,
                                description: str | None = None) -> RegisteredModel:
        """Create a registered model without versions, or return the existing one unchanged."""
        check_name(name)
        now = _now_ms()
        with self._reg_tx() as run:
            made = run("INSERT INTO registered_models VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING "
                       "RETURNING name", (name, description, now, now))
            for key, value in (tags or {}).items() if made else ():
                run("INSERT INTO registered_model_tags VALUES (?, ?, ?)", (name, key, value))
        return self.get_registered_model(name)

    def _need_model(self, run: Run, name: str) -> None:
        if not run("SELECT 1 FROM registered_models WHERE name = ?", (name,)):
            raise ModelNotFound(f"registered model {name!r}")

    def _need_version(self, run: Run, name: str, version: int) -> None:
        if not run("SELECT 1 FROM model_versions WHERE name = ? AND version = ?", (name, version)):
            raise ModelNotFound(f"version {version} of registered model {name!r}")

    def update_registered_model(self, name: str, description: str | None) -> None:
        """Set a registered model's description; raises ModelNotFound."""
        with self._reg_tx() as run:
            self._need_model(run, name)
            run("UPDATE registered_models SET description = ?, last_update_time = ? WHERE name = ?",
                (description, _now_ms(), name))

    def update_model_version(self, name: str, version: int | str, description: str | None) -> None:
        """Set a version's description; raises ModelNotFound."""
        number = _version(version)
        with self._reg_tx() as run:
            self._need_version(run, name, number)
            run("UPDATE model_versions SET description = ?, last_update_time = ? WHERE name = ? AND version = ?",
                (description, _now_ms(), name, number))

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        """Set (overwrite) a tag on a registered model; raises ModelNotFound."""
        with self._reg_tx() as run:
            self._need_model(run, name)
            run("INSERT INTO registered_model_tags VALUES (?, ?, ?) ON CONFLICT (name, key) "
                "DO UPDATE SET value = excluded.value", (name, key, value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a registered model (absent: nothing happens); raises ModelNotFound."""
        with self._reg_tx() as run:
            self._need_model(run, name)
            run("DELETE FROM registered_model_tags WHERE name = ? AND key = ?", (name, key))

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        """Set (overwrite) a tag on a version; raises ModelNotFound."""
        number = _version(version)
        with self._reg_tx() as run:
            self._need_version(run, name, number)
            run("INSERT INTO model_version_tags VALUES (?, ?, ?, ?) ON CONFLICT (name, version, key) "
                "DO UPDATE SET value = excluded.value", (name, number, key, value))

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        """Remove a tag from a version (absent: nothing happens); raises ModelNotFound."""
        number = _version(version)
        with self._reg_tx() as run:
            self._need_version(run, name, number)
            run("DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?", (name, number, key))

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at a version, moving it atomically if it pointed elsewhere; raises ModelNotFound."""
        check_name(alias, "alias")
        number = _version(version)
        with self._reg_tx() as run:
            self._need_version(run, name, number)
            run("INSERT INTO registered_model_aliases VALUES (?, ?, ?) ON CONFLICT (name, alias) "
                "DO UPDATE SET version = excluded.version", (name, alias, number))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias; raises ModelNotFound when the model or the alias does not exist."""
        with self._reg_tx() as run:
            self._need_model(run, name)
            if not run("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ? RETURNING alias",
                       (name, alias)):
                raise ModelNotFound(f"alias {alias!r} of registered model {name!r}")

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete a version, its tags and the aliases pointing at it; raises ModelNotFound.

        Only the registry entry goes: the run's model artifacts stay where they are.
        """
        number = _version(version)
        with self._reg_tx() as run:
            self._need_version(run, name, number)
            run("DELETE FROM registered_model_aliases WHERE name = ? AND version = ?", (name, number))
            run("DELETE FROM model_version_tags WHERE name = ? AND version = ?", (name, number))
            run("DELETE FROM model_versions WHERE name = ? AND version = ?", (name, number))

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model with every version, tag and alias; raises ModelNotFound."""
        with self._reg_tx() as run:
            self._need_model(run, name)
            for table in ("registered_model_aliases", "model_version_tags", "model_versions",
                          "registered_model_tags", "registered_models"):
                run(f"DELETE FROM {table} WHERE name = ?", (name,))


class SqliteRegistryMixin(RegistryMixin):
    """The registry hooks over the SQLite store's per-thread connection."""

    db_path: str
    read_db: Callable[[], sqlite3.Connection]
    _refuse_writes: Callable[[], None]

    def _reg_rows(self, sql: str, args: Sequence[Any]) -> list[tuple]:
        try:
            return self.read_db().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.db_path!r}: {exc}") from exc

    @contextlib.contextmanager
    def _reg_tx(self) -> Iterator[Run]:
        self._refuse_writes()
        db = self.read_db()

        def run(sql: str, args: Sequence[Any]) -> list[tuple]:
            return db.execute(sql, args).fetchall()

        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield run
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except LogwrightError:
            raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the model registry in {self.db_path!r}: {exc}") from exc
