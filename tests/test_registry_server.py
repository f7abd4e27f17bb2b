"""The model registry through a real ``logwright server --auth`` process, with its tokens.

A read-write token registers a model, sets its ``champion`` alias and loads it by
``models:/name@champion``; a read-only token loads it too, but cannot register, move or
remove an alias, or edit a description (StoreError from the client, 403 from the store
API and from the UI's write routes) and the store is unchanged afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

httpx = pytest.importorskip("httpx")

import logwright as lw  # noqa: E402
from logwright import fluent  # noqa: E402
from logwright.exceptions import StoreError  # noqa: E402
from logwright.store import close_stores  # noqa: E402
from logwright.store.http_transport import TOKEN_ENV  # noqa: E402
from logwright.testing.flavours import DictFlavour, dict_flavour  # noqa: E402
from logwright.testing.server import ServerProcess, server_store  # noqa: E402

UI = {"X-Logwright-UI": "1"}


def _token(store: str, name: str, read_only: bool = False) -> str:
    """A token's secret, made as an admin would: ``logwright server token create NAME --store ...``."""
    cmd = [sys.executable, "-m", "logwright.cli", "server", "token", "create", name, "--json", "--store", store]
    out = subprocess.run(cmd + (["--read-only"] if read_only else []), capture_output=True, text=True, check=True,
                         env={**os.environ, "LOGWRIGHT_QUIET": "1"}, timeout=120)
    return json.loads(out.stdout)["secret"]


@pytest.fixture
def auth_server(request, tmp_path, monkeypatch):
    """A ``logwright server --auth`` process and its two tokens (``full``, ``viewer``)."""
    with dict_flavour():
        monkeypatch.setenv("LOGWRIGHT_JOURNAL_DIR", str(tmp_path / "journal"))
        store, artifacts = server_store(request, tmp_path, monkeypatch)
        server = ServerProcess(store, artifacts, args=["--auth"]).start()
        tokens = {"full": _token(store, "trainer"), "viewer": _token(store, "dashboard", read_only=True)}
        fluent._reset_for_tests()
        try:
            yield server, tokens
        finally:
            fluent._reset_for_tests()
            close_stores(lambda s: str(s.location).startswith(server.url))
            server.stop()


def _as(monkeypatch, server: ServerProcess, secret: str) -> lw.Client:
    """A fresh client of the server that sends ``secret``, as a new process with that token would."""
    fluent._reset_for_tests()
    close_stores(lambda s: str(s.location).startswith(server.url))
    monkeypatch.setenv(TOKEN_ENV, secret)
    lw.set_tracking_uri(server.url)
    return lw.Client(server.url)


def _snapshot(store_uri: str) -> tuple:
    """The registry as the server's own store holds it (read directly, not through the server)."""
    client = lw.Client(store_uri)
    models = client.search_registered_models()
    versions = client.search_model_versions()
    return ([(m.name, m.description, m.aliases, m.tags, m.latest_version) for m in models],
            [(v.name, v.version, v.run_id, v.description, v.aliases, v.tags) for v in versions])


def test_full_token_registers_and_aliases_read_only_token_only_loads(auth_server, monkeypatch):
    server, tokens = auth_server
    weights = {"w": [0.25, -1.5], "b": 0.1}

    client = _as(monkeypatch, server, tokens["full"])
    exp = client.create_experiment("churn")
    run_id = client.create_run(exp, run_name="train").info.run_id
    lw.log_model(weights, "model", client=client, run_id=run_id)
    client.set_terminated(run_id)
    client.flush()
    version = client.register_model(f"runs:/{run_id}/model", "churn-classifier", tags={"data": "nov"},
                                    description="first")
    assert (version.version, version.run_id, version.flavour) == (1, run_id, DictFlavour.name)
    client.set_registered_model_alias("churn-classifier", "champion", 1)
    assert lw.load_model("models:/churn-classifier@champion") == weights
    second = client.register_model(f"runs:/{run_id}/model", "churn-classifier")
    client.set_registered_model_alias("churn-classifier", "champion", second.version)  # moved by the full token
    assert client.get_model_version_by_alias("churn-classifier", "champion").version == 2
    before = _snapshot(server.store)

    viewer = _as(monkeypatch, server, tokens["viewer"])
    assert lw.load_model("models:/churn-classifier@champion") == weights
    assert lw.load_model("models:/churn-classifier/1") == weights
    assert viewer.get_registered_model("churn-classifier").aliases == {"champion": 2}
    assert [v.version for v in viewer.search_model_versions("name = 'churn-classifier'")] == [2, 1]
    refused = [
        lambda: viewer.register_model(f"runs:/{run_id}/model", "churn-classifier"),
        lambda: viewer.register_model(f"runs:/{run_id}/model", "brand-new"),
        lambda: viewer.set_registered_model_alias("churn-classifier", "champion", 1),
        lambda: viewer.set_registered_model_alias("churn-classifier", "challenger", 1),
        lambda: viewer.delete_registered_model_alias("churn-classifier", "champion"),
        lambda: viewer.update_registered_model("churn-classifier", "hijacked"),
        lambda: viewer.set_registered_model_tag("churn-classifier", "stage", "hijacked"),
        lambda: viewer.delete_model_version("churn-classifier", 1),
    ]
    for call in refused:
        with pytest.raises(StoreError):
            call()
    assert _snapshot(server.store) == before


def test_read_only_token_gets_403_from_the_store_api_and_the_ui_routes(auth_server, monkeypatch):
    server, tokens = auth_server
    client = _as(monkeypatch, server, tokens["full"])
    run_id = client.create_run(client.create_experiment("churn"), run_name="train").info.run_id
    lw.log_model({"w": 1}, "model", client=client, run_id=run_id)
    client.set_terminated(run_id)
    client.flush()
    client.register_model(f"runs:/{run_id}/model", "churn-classifier")
    client.set_registered_model_alias("churn-classifier", "champion", 1)
    before = _snapshot(server.store)
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    full = {"Authorization": f"Bearer {tokens['full']}"}
    register = {"run_id": run_id, "path": "model", "name": "churn-classifier", "alias": "champion"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        store_call = {"args": ["churn-classifier", "champion", 1], "kwargs": {}}
        answer = http.post("/api/v1/store/set_registered_model_alias", json=store_call, headers=viewer)
        assert answer.status_code == 403
        assert http.post("/api/models", json=register, headers={**UI, **viewer}).status_code == 403
        assert http.patch("/api/models/churn-classifier", json={"delete_aliases": ["champion"]},
                          headers={**UI, **viewer}).status_code == 403
        assert http.post("/api/models", json=register, headers=UI).status_code == 401
        page = http.get(f"/runs/{run_id}", headers=viewer)
        assert page.status_code == 200 and "register-model" in page.text and "register-open" not in page.text
        assert _snapshot(server.store) == before

        assert "register-open" in http.get(f"/runs/{run_id}", headers=full).text
        made = http.post("/api/models", json=register, headers={**UI, **full})
        assert made.status_code == 201, made.text
        assert made.json()["version"]["version"] == 2 and made.json()["version"]["aliases"] == ["champion"]
    after = lw.Client(server.store).get_registered_model("churn-classifier")
    assert (after.latest_version, after.aliases) == (2, {"champion": 2})
