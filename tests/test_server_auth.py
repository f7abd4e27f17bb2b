"""Tokens: ``logwright server --auth`` over real HTTP (uvicorn on 127.0.0.1), in a real Chromium,
through the ``logwright server token`` commands, and the store's token calls on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import httpx  # noqa: E402

import logwright as lw  # noqa: E402
from logwright.exceptions import StoreError  # noqa: E402
from logwright.server.auth import COOKIE, check_bind, is_read_method, is_write, safe_next  # noqa: E402
from logwright.server.team import create_server_app  # noqa: E402
from logwright.store import close_stores, get_store, wire  # noqa: E402
from logwright.store.base import RunRecord, TokenInfo  # noqa: E402
from logwright.testing.browser import CHROMIUM, chromium, screenshot  # noqa: E402
from logwright.testing.serve import serve_app  # noqa: E402

# Tokens live in the server's own store, which these tests open themselves; the HTTP store has none.
pytestmark = pytest.mark.local_store(reason="tokens live in the server's own store, opened here")


@dataclass
class Site:
    """A server with auth on, the store behind it and one token of each kind."""

    url: str
    uri: str
    store: Any
    full: str
    read_only: str
    revoked: str
    experiment_id: str
    run_id: str


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def site(tmp_store, tmp_path, monkeypatch) -> Iterator[Site]:
    monkeypatch.setenv("LOGWRIGHT_JOURNAL_DIR", str(tmp_path / "journal"))  # HTTP clients' spool
    store = get_store(tmp_store)
    experiment_id = store.create_experiment("churn-training")
    with lw.start_run(experiment_id=experiment_id, run_name="baseline") as run:
        lw.log_metric("loss", 0.5, step=0)
    lw.flush()
    _, full = store.create_token("trainer")
    _, read_only = store.create_token("dashboard", read_only=True)
    _, revoked = store.create_token("old-laptop")
    store.revoke_token("old-laptop")
    with serve_app(create_server_app(tmp_store, auth=True)) as url:
        yield Site(url, tmp_store, store, full, read_only, revoked, experiment_id, run.info.run_id)
        close_stores(lambda s: getattr(s, "location", None) == url)  # while the server still answers


def _run_tags(site: Site) -> dict[str, str]:
    site.store.flush()
    return dict(site.store.get_run(site.run_id).data.tags)


# -- the rules, without a server ---------------------------------------------------------


@pytest.mark.parametrize(("host", "auth", "insecure", "refused"), [
    ("127.0.0.1", False, False, False), ("localhost", False, False, False), ("::1", False, False, False),
    ("127.0.0.2", False, False, False), ("0.0.0.0", False, False, True), ("::", False, False, True),
    ("192.168.1.20", False, False, True), ("mybox.lan", False, False, True), ("0.0.0.0", True, False, False),
    ("0.0.0.0", False, True, False),
])
def test_without_auth_only_loopback_hosts_are_allowed_unless_insecure(host, auth, insecure, refused):
    problem = check_bind(host, auth, insecure)
    assert (problem is not None) == refused
    if refused:
        assert "--auth" in problem and "--insecure" in problem and host in problem


def test_which_requests_are_writes():
    for name in ("get_run", "search_runs", "list_artifacts", "runs_page", "metric_keys", "experiment_location",
                 "traces_page", "get_model_version_by_alias", "search_registered_models"):
        assert is_read_method(name), name
        assert not is_write("POST", f"/api/v1/store/{name}")
    for name in ("create_experiment", "insert_params", "set_run_lifecycle", "create_model_version",
                 "set_registered_model_alias", "delete_registered_model", "create_token", "list_tokens",
                 "revoke_token", "check_token"):
        assert not is_read_method(name), name
        assert is_write("POST", f"/api/v1/store/{name}")
    assert is_write("POST", "/api/v1/writes") and is_write("PUT", "/api/v1/artifacts/1/abc/x.txt")
    assert is_write("POST", "/api/v1/store/get_run/") and is_write("DELETE", "/api/v1/store/get_run")
    assert is_write("POST", "/v1/traces") and is_write("OPTIONS", "/api/experiments")
    assert not is_write("GET", "/api/v1/artifacts/1/abc/x.txt") and not is_write("HEAD", "/")
    assert not is_write("POST", "/login") and not is_write("POST", "/logout")


def test_sign_in_only_returns_to_paths_on_this_server():
    assert safe_next("/experiments/1?filter=a") == "/experiments/1?filter=a"
    for bad in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "", None,
                "/x\r\nSet-Cookie: a=b"):
        assert safe_next(bad) == "/"


# -- over HTTP -------------------------------------------------------------------------


def test_requests_without_a_valid_token_get_401(site):
    assert httpx.get(site.url + "/health").status_code == 200
    for headers in ({}, _bearer("lw_" + "x" * 43), _bearer(site.revoked), {"Authorization": "Bearer"},
                    {"Authorization": f"Basic {site.full}"}, {"Authorization": site.full}):
        for method, path in (("GET", "/api/experiments"), ("GET", "/api/v1/info"),
                             ("POST", "/api/v1/store/search_experiments"), ("POST", "/api/v1/writes"),
                             ("POST", "/v1/traces"), ("GET", f"/api/runs/{site.run_id}")):
            answer = httpx.request(method, site.url + path, headers=headers, json={"args": []})
            assert answer.status_code == 401, (headers, path)
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert answer.json()["status"] == 401 and "token" in answer.json()["error"]
            assert "churn-training" not in answer.text
    page = httpx.get(site.url + f"/runs/{site.run_id}?x=1")
    assert page.status_code == 303 and page.headers["location"] == f"/login?next=%2Fruns%2F{site.run_id}%3Fx%3D1"
    assert httpx.get(site.url + "/", headers=_bearer(site.revoked)).status_code == 401
    assert httpx.get(site.url + "/", headers=_bearer(site.full)).status_code == 200


def test_read_only_token_reads_but_every_write_gets_403_and_nothing_is_written(site):
    ro = _bearer(site.read_only)
    assert "churn-training" in httpx.get(site.url + "/api/experiments", headers=ro).text
    assert httpx.get(site.url + "/api/v1/info", headers=ro).json()["read_only"] is True
    found = httpx.post(site.url + "/api/v1/store/get_experiment_by_name", headers=ro, json={"args": ["churn-training"]})
    assert found.status_code == 200 and wire.decode(found.json()["result"]).name == "churn-training"
    run = httpx.post(site.url + "/api/v1/store/get_run", headers=ro, json={"args": [site.run_id]})
    assert run.status_code == 200 and site.run_id in run.text
    batch = wire.batch_body(uuid.uuid4().hex, 1, [("tag", site.run_id, "team", "growth"),
                                                   ("metric", site.run_id, "loss", 0.25, 1, 1)])
    writes = [
        ("POST", "/api/v1/writes", {"content": batch, "headers": {**ro, "Content-Encoding": "gzip"}}),
        ("POST", "/api/v1/store/create_experiment", {"json": {"args": ["sneaky"]}, "headers": ro}),
        ("POST", "/api/v1/store/set_run_lifecycle", {"json": {"args": [site.run_id, "deleted"]}, "headers": ro}),
        ("POST", "/api/v1/store/create_registered_model", {"json": {"args": ["sneaky-model"]}, "headers": ro}),
        ("PUT", f"/api/v1/artifacts/{site.experiment_id}/{site.run_id}/notes.txt", {"content": b"x", "headers": ro}),
        ("POST", "/v1/traces", {"content": b"{}", "headers": {**ro, "Content-Type": "application/json"}}),
        ("POST", "/api/v1/store/create_token", {"json": {"args": ["mine"]}, "headers": ro}),
    ]
    for method, path, kwargs in writes:
        answer = httpx.request(method, site.url + path, **kwargs)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["status"] == 403 and answer.json()["error"]
    assert "read-only" in httpx.post(site.url + "/api/v1/store/create_experiment", headers=ro,
                                     json={"args": ["sneaky"]}).json()["error"]
    store = site.store
    assert store.get_experiment_by_name("sneaky") is None
    assert [m.value for m in store.get_metric_history(site.run_id, "loss")] == [0.5]
    assert "team" not in _run_tags(site)
    assert store.get_run(site.run_id).info.lifecycle_stage == "active"
    assert store.search_registered_models() == []
    assert sorted(t.name for t in store.list_tokens()) == ["dashboard", "old-laptop", "trainer"]


def test_read_only_token_through_the_http_client(site, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_TRACKING_TOKEN", site.read_only)
    client = lw.Client(site.url)
    assert [e.name for e in client.search_experiments()] == ["churn-training"]
    assert client.get_run(site.run_id).data.metrics == {"loss": 0.5}
    with pytest.raises(StoreError, match="read"):
        client.create_experiment("sneaky")
    assert site.store.get_experiment_by_name("sneaky") is None


def test_full_token_writes_and_its_use_is_recorded(site, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_TRACKING_TOKEN", site.full)
    remote = lw.Client(site.url).store  # the http:// store: every protocol call through the server
    assert remote.read_only is False
    experiment_id = remote.create_experiment("from-the-cluster")
    run_id = uuid.uuid4().hex
    remote.create_run(RunRecord(run_id, experiment_id, "ddp", "RUNNING", int(time.time() * 1000)))
    remote.log_params(run_id, [("lr", "0.01")])
    for step in range(5):
        remote.log_metric(run_id, "loss", 1.0 / (step + 1), int(time.time() * 1000), step)
    remote.set_tags(run_id, {"team": "growth"})
    remote.update_run(run_id, {"status": "FINISHED", "end_time": int(time.time() * 1000)})
    remote.flush()
    site.store.flush()
    stored = site.store.get_run(run_id)
    assert stored.data.params == {"lr": "0.01"} and stored.data.tags["team"] == "growth"
    assert stored.info.status == "FINISHED"
    assert stored.info.experiment_id == site.store.get_experiment_by_name("from-the-cluster").experiment_id
    assert [m.step for m in site.store.get_metric_history(run_id, "loss")] == [0, 1, 2, 3, 4]
    tokens = {t.name: t for t in site.store.list_tokens()}
    assert tokens["trainer"].last_used is not None and tokens["trainer"].last_used >= tokens["trainer"].created
    assert tokens["dashboard"].last_used is None
    assert httpx.get(site.url + "/api/v1/info", headers=_bearer(site.full)).json()["read_only"] is False


def test_token_calls_are_never_served_over_http(site):
    for name in ("create_token", "list_tokens", "revoke_token", "check_token"):
        answer = httpx.post(site.url + f"/api/v1/store/{name}", headers=_bearer(site.full), json={"args": ["x"]})
        assert answer.status_code == 403 and "logwright server token" in answer.json()["error"]
    assert len(site.store.list_tokens()) == 3


def test_revoking_a_token_locks_it_out_at_once(site):
    _, secret = site.store.create_token("intern")
    assert httpx.get(site.url + "/api/experiments", headers=_bearer(secret)).status_code == 200
    site.store.revoke_token("intern")
    assert httpx.get(site.url + "/api/experiments", headers=_bearer(secret)).status_code == 401


def test_cookie_writes_from_another_site_are_refused(site):
    cookie = {"Cookie": f"{COOKIE}={site.full}"}
    assert httpx.get(site.url + "/api/experiments", headers=cookie).status_code == 200
    cross = httpx.post(site.url + "/api/v1/store/create_experiment", json={"args": ["csrf"]},
                       headers={**cookie, "Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert site.store.get_experiment_by_name("csrf") is None
    same = httpx.post(site.url + "/api/v1/store/create_experiment", json={"args": ["same-origin"]},
                      headers={**cookie, "Origin": site.url})
    assert same.status_code == 200 and site.store.get_experiment_by_name("same-origin") is not None


def test_sign_in_form_sets_an_http_only_strict_cookie(site):
    bad = httpx.post(site.url + "/login", data={"token": site.revoked, "next": "/"})
    assert bad.status_code == 401 and "not valid" in bad.text and "set-cookie" not in bad.headers
    good = httpx.post(site.url + "/login", data={"token": site.read_only, "next": "https://evil.example/"})
    assert good.status_code == 303 and good.headers["location"] == "/"
    cookie = good.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={site.read_only};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http; behind a TLS proxy that says so, the cookie is Secure:
    proxied = httpx.post(site.url + "/login", data={"token": site.read_only, "next": "/"},
                         headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in proxied.headers["set-cookie"]
    out = httpx.get(site.url + "/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert 'Max-Age=0' in out.headers["set-cookie"] or "expires=" in out.headers["set-cookie"].lower()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt install chromium)")
def test_browser_asks_for_a_token_once_and_keeps_it_in_an_http_only_cookie(site):
    pytest.importorskip("playwright.sync_api")
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1200, "height": 700})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(site.url + f"/experiments/{site.experiment_id}")
        assert page.url == site.url + f"/login?next=%2Fexperiments%2F{site.experiment_id}"
        assert page.locator("h1").inner_text() == "Sign in"
        page.fill("#token", site.revoked)
        page.click("#sign-in")
        assert "not valid" in page.locator("#login-error").inner_text()
        screenshot(page, "login-refused")
        page.fill("#token", site.full)
        page.click("#sign-in")
        page.wait_for_selector("#runs")
        assert page.url == site.url + f"/experiments/{site.experiment_id}"
        assert "baseline" in page.locator("#runs").inner_text()
        page.goto(site.url + "/")
        assert "churn-training" in page.locator("#experiments").inner_text()
        screenshot(page, "login-signed-in")
        cookie = next(c for c in context.cookies() if c["name"] == COOKIE)
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["value"] == site.full
        assert site.full not in page.evaluate("() => document.cookie")
        site.store.revoke_token("trainer")  # a revoked token's cookie sends the browser back to sign in
        page.goto(site.url + "/")
        assert page.url.startswith(site.url + "/login") and "no longer valid" in page.inner_text("#login-error")
        assert not [c for c in context.cookies() if c["name"] == COOKIE]
        screenshot(page, "login")
        context.close()
    assert errors == []


# -- the command line ------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "logwright.cli", "server", "token", *args],
                          capture_output=True, text=True, timeout=120)


def test_token_commands_create_list_and_revoke(site):
    made = _cli("create", "ci-runner", "--read-only", "--store", site.uri)
    assert made.returncode == 0, made.stderr
    secret = next(line.split("=", 1)[1] for line in made.stdout.splitlines() if "LOGWRIGHT_TRACKING_TOKEN=" in line)
    assert secret.startswith("lw_") and made.stdout.count(secret) == 1 and "read-only" in made.stdout
    assert httpx.get(site.url + "/api/experiments", headers=_bearer(secret)).status_code == 200
    refused = httpx.post(site.url + "/api/v1/store/create_experiment", headers=_bearer(secret), json={"args": ["x"]})
    assert refused.status_code == 403
    listed = _cli("list", "--store", site.uri)
    assert listed.returncode == 0 and secret not in listed.stdout
    row = next(line for line in listed.stdout.splitlines() if line.startswith("ci-runner"))
    token_id = site.store.check_token(secret).token_id
    assert token_id in row and "read-only" in row
    assert "never" in next(line for line in listed.stdout.splitlines() if line.startswith("dashboard"))
    again = _cli("create", "ci-runner", "--store", site.uri)
    assert again.returncode == 1 and "already exists" in again.stderr
    gone = _cli("revoke", token_id, "--store", site.uri)
    assert gone.returncode == 0 and "revoked" in gone.stdout
    assert httpx.get(site.url + "/api/experiments", headers=_bearer(secret)).status_code == 401
    tokens = json.loads(_cli("list", "--json", "--store", site.uri).stdout)
    assert {t["name"]: t["revoked"] is not None for t in tokens} == {
        "trainer": False, "dashboard": False, "old-laptop": True, "ci-runner": True}
    as_json = json.loads(_cli("create", "notebook", "--json", "--store", site.uri).stdout)
    assert site.store.check_token(as_json["secret"]).name == "notebook" and as_json["read_only"] is False
    assert _cli("revoke", "nobody", "--store", site.uri).returncode == 1
    over_http = _cli("list", "--store", site.url)
    assert over_http.returncode == 2 and "server's own store" in over_http.stderr


# -- the store's calls on both backends ------------------------------------------------


def test_store_keeps_only_a_hash_of_each_secret(store_uri):
    store = get_store(store_uri)
    info, secret = store.create_token("trainer")
    assert isinstance(info, TokenInfo) and info.name == "trainer" and not info.read_only and info.revoked is None
    assert secret.startswith("lw_") and len(secret) == 46
    stored = store._tok_rows("SELECT * FROM api_tokens", ())
    assert len(stored) == 1 and not any(secret in str(value) for value in stored[0])
    assert hashlib.sha256(secret.encode()).hexdigest() in stored[0]
    assert store.check_token(secret).token_id == info.token_id
    for wrong in ("", secret[:-1], secret + "x", secret.upper(), "lw_" + "A" * 10_000, "x" * 46):
        assert store.check_token(wrong) is None
    _, other = store.create_token("trainer-2")
    assert other != secret


def test_store_token_lifecycle(store_uri):
    store = get_store(store_uri)
    full, full_secret = store.create_token("trainer")
    ro, ro_secret = store.create_token("dashboard", read_only=True)
    assert store.check_token(ro_secret).read_only is True
    assert sorted(t.name for t in store.list_tokens()) == ["dashboard", "trainer"]
    with pytest.raises(ValueError, match="already exists"):
        store.create_token("trainer", read_only=True)
    for bad in ("", " padded", "a\nb", "x" * 101):
        with pytest.raises(ValueError, match="illegal"):
            store.create_token(bad)
    revoked = store.revoke_token("trainer")
    assert revoked.revoked is not None and revoked.token_id == full.token_id
    assert store.check_token(full_secret) is None
    assert store.revoke_token(full.token_id).revoked == revoked.revoked  # again: unchanged
    with pytest.raises(ValueError, match="already exists.*revoked"):
        store.create_token("trainer")
    with pytest.raises(ValueError, match="no token"):
        store.revoke_token("nobody")
    assert store.revoke_token(ro.token_id).name == "dashboard"
    assert all(t.revoked is not None for t in store.list_tokens())


def test_last_use_is_written_at_most_once_a_minute(store_uri):
    store = get_store(store_uri)
    info, secret = store.create_token("trainer")
    first = store.check_token(secret).last_used
    assert first is not None and first >= info.created
    time.sleep(0.01)
    assert store.check_token(secret).last_used == first
    assert store.list_tokens()[0].last_used == first
    store._tok_write("UPDATE api_tokens SET last_used = ? WHERE token_id = ?", (first - 61_000, info.token_id))
    assert store.check_token(secret).last_used > first - 61_000
    assert store.list_tokens()[0].last_used >= first


def test_concurrent_creations_of_one_name_make_one_token(store_uri):
    store = get_store(store_uri)
    results: list[Any] = []

    def create() -> None:
        try:
            results.append(store.create_token("shared"))
        except ValueError as exc:
            results.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [r for r in results if isinstance(r, tuple)]
    assert len(made) == 1 and len(results) == 8
    assert store.check_token(made[0][1]).name == "shared" and len(store.list_tokens()) == 1
