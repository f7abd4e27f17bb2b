"""The web UI under hostile and careless requests, over real HTTP (uvicorn on a loopback port).

Every malformed query gets a 4xx with a message, never a 500; a broken artifact never takes
down a page; the Host header is checked (DNS rebinding); redirects are relative; every
response carries ``nosniff`` and every HTML page the CSP.
"""

from __future__ import annotations

import json
import os
import re
from http.client import HTTPConnection
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from logwright import fluent  # noqa: E402
from logwright.client import Client  # noqa: E402
from logwright.server import cli as ui_cli  # noqa: E402
from logwright.server.app import create_app  # noqa: E402
from logwright.server.sample import populate, serve  # noqa: E402

FINITE_ERROR = "must be a finite number"
POINTS_ERROR = "max_points must be a whole number from 10 to 20000"
HOST_ERROR = "invalid Host header"

BROKEN_MODELS = {
    "no_outputs": json.dumps({"flavour": "sklearn", "sklearn_version": "1.5.0",
                              "signature": {"inputs": {"type": "tensor", "dtype": "float64"}}}).encode(),
    "not_json": b"{flavour: sklearn, this is not json",
    "a_list": b'[{"flavour": "sklearn"}]',
    "a_string": b'"just a string"',
    "null": b"null",
    "wrong_types": json.dumps({"flavour": {"nested": 1}, "python_version": [3, 11], "torch_version": 2,
                               "signature": "inputs: x", "requirements": {"numpy": ">=1"},
                               "input_example": {"x": [1, 2]}, "created": ["yesterday"]}).encode(),
    "outputs_list": json.dumps({"flavour": "pyfunc", "requirements": "numpy",
                                "signature": {"inputs": None, "outputs": [1, "two", None]}}).encode(),
    "deep": b"[" * 100_000,
    "binary": b"\xff\xfe\x00\x01garbage\x00",
    "empty": b"",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A sample store plus a run whose artifacts are broken on purpose, served over HTTP."""
    uri = str(tmp_path_factory.mktemp("ui-hostile") / "store")
    fluent._reset_for_tests()
    ids = populate(uri, long_points=500)
    client = Client(uri)
    run = client.create_run(ids["experiment_id"], run_name="broken-artifacts")
    run_id = run.info.run_id
    repo = client.artifacts(run_id)
    for name, body in BROKEN_MODELS.items():
        repo.write_bytes(f"{name}/MODEL.json", body)
    repo.write_bytes("nul.csv", b"a,b\n1,\x002\n")
    repo.write_bytes("deep.json", b"[" * 100_000 + b"]" * 100_000)
    repo.write_bytes("huge_field.csv", b"a\n" + b"x" * 200_000 + b"\n")
    os.symlink("/nonexistent/logwright-test-target", os.path.join(repo.path(), "dangling.txt"))
    client.log_metric(run_id, "loss", 1.0, step=0)
    client.set_terminated(run_id)
    client.flush()
    fluent._reset_for_tests()
    ids["broken"] = run_id
    with serve(uri) as url:
        yield url, ids, uri


@pytest.fixture(scope="module")
def http(site):
    with httpx.Client(base_url=site[0], timeout=30, follow_redirects=False) as client:
        yield client


@pytest.fixture
def ids(site):
    return site[1]


def _error_of(resp: httpx.Response) -> str:
    """The message of an error answer: ``error`` of JSON, the text of an HTML page."""
    if resp.headers["content-type"].startswith("application/json"):
        return resp.json()["error"]
    return resp.text


# -- malformed series queries ---------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "inf"}, "start " + FINITE_ERROR),
        ({"start": "-inf"}, "start " + FINITE_ERROR),
        ({"start": "1e400"}, "start " + FINITE_ERROR),
        ({"end": "nan"}, "end " + FINITE_ERROR),
        ({"end": "-1e999"}, "end " + FINITE_ERROR),
        ({"start": "abc"}, "start must be a number"),
        ({"max_points": "-1"}, POINTS_ERROR),
        ({"max_points": "0"}, POINTS_ERROR),
        ({"max_points": "1" + "0" * 30}, POINTS_ERROR),
        ({"max_points": "9" * 5000}, POINTS_ERROR),
        ({"max_points": "2.5"}, POINTS_ERROR),
    ],
)
def test_malformed_series_queries_are_400_with_a_message(http, ids, query, message):
    run = ids["long_run"]
    for path, params in ((f"/api/runs/{run}/metric", {"key": "long"}),
                         ("/api/series", {"runs": run, "key": "long"}),
                         (f"/runs/{run}/metric.csv", {"key": "long"})):
        if path.endswith(".csv") and "max_points" in query:
            continue  # the CSV holds every point: it takes no max_points
        resp = http.get(path, params={**params, **query})
        assert resp.status_code == 400, (path, query, resp.text[:300])
        assert message in _error_of(resp), path


def test_far_but_finite_windows_are_clamped_not_refused(http, ids):
    run = ids["long_run"]
    resp = http.get(f"/api/runs/{run}/metric", params={"key": "long", "start": "1e300"})
    assert resp.status_code == 200 and resp.json()["count"] == 0
    resp = http.get(f"/api/runs/{run}/metric", params={"key": "long", "start": "-1e300", "end": "1e300"})
    assert resp.status_code == 200 and resp.json()["count"] == 500
    csv = http.get(f"/runs/{run}/metric.csv", params={"key": "long", "start": "9.5", "end": "19"})
    assert csv.status_code == 200 and [line.split(",")[0] for line in csv.text.split()[1:]] == [
        str(s) for s in range(9, 20)]  # the window widens to whole steps


def test_csv_of_a_key_outside_latin1_downloads(http, ids):
    resp = http.get(f"/runs/{ids['long_run']}/metric.csv", params={"key": "损失/训练"})
    assert resp.status_code == 200 and resp.text.strip() == "step,value,timestamp"
    assert resp.headers["content-disposition"].isascii()


# -- hostile filters ------------------------------------------------------------------

NESTING = re.compile(r"nest|deep|depth", re.I)
NUMBER = re.compile(r"number|range|large", re.I)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("not " * 1000 + "name = 'a'", NESTING),
        ("(" * 1000 + "name = 'a'" + ")" * 1000, NESTING),
        ("metrics.loss > " + "9" * 5000, NUMBER),
        ("metrics.loss > -" + "9" * 5000 + ".5", NUMBER),
        ("params.lr = " + "1" * 5000, NUMBER),
    ],
    ids=["1000-nots", "1000-parens", "5000-digits", "5000-digit-float", "5000-digit-param"],
)
def test_hostile_run_filters_are_400_with_a_message(http, ids, text, pattern):
    url = f"/experiments/{ids['experiment_id']}"
    api = http.get("/api" + url, params={"filter": text})
    assert api.status_code == 400, api.text[:300]
    body = api.json()
    assert pattern.search(body["error"]) and body["filter_error"]["message"] == body["error"]
    assert body["runs"] == []
    page = http.get(url, params={"filter": text})
    assert page.status_code == 400 and 'id="filter-error"' in page.text
    assert pattern.search(page.text.split('id="filter-error"')[1])


@pytest.mark.parametrize(
    "text",
    ["not " * 1000 + "name = 'a'", "(" * 1000 + "name = 'a'" + ")" * 1000, "latency_ms > " + "9" * 5000],
    ids=["1000-nots", "1000-parens", "5000-digits"],
)
def test_hostile_trace_filters_are_400_with_a_message(http, ids, text):
    resp = http.get(f"/api/experiments/{ids['experiment_id']}/traces", params={"filter": text})
    assert resp.status_code == 400 and resp.json()["filter_error"]["message"]
    page = http.get(f"/experiments/{ids['experiment_id']}/traces", params={"filter": text})
    assert page.status_code == 400 and 'id="filter-error"' in page.text


def test_a_thousand_chained_ors_answer_or_are_refused_never_500(http, ids):
    text = " or ".join(["name = 1"] * 998 + ["name = 'sweep'"])
    resp = http.get(f"/api/experiments/{ids['experiment_id']}", params={"filter": text})
    assert resp.status_code in (200, 400), resp.text[:300]
    if resp.status_code == 200:
        assert [r["name"] for r in resp.json()["runs"]] == ["sweep"]
    else:
        assert resp.json()["error"]


def test_hostile_order_clauses_are_400(http, ids):
    exp = ids["experiment_id"]
    for order in ("metrics.`x` " * 500, "name DESC DESC", "(" * 1000, "name " + "9" * 5000):
        resp = http.get(f"/api/experiments/{exp}", params={"order": order})
        assert resp.status_code == 400 and resp.json()["error"], order[:40]


def test_odd_ids_and_page_numbers_are_404_or_clamped(http, ids):
    for path in ("/api/experiments/" + "9" * 5000, "/api/experiments/1e5", "/api/experiments/-1",
                 "/api/runs/%00", "/api/traces/%00", "/runs/" + "x" * 5000):
        assert http.get(path).status_code == 404, path[:40]
    exp = ids["experiment_id"]
    far = http.get(f"/api/experiments/{exp}", params={"page": "1" + "0" * 12, "size": "-5"}).json()
    assert (far["page"], far["size"], far["runs"]) == (10**9, 1, [])  # clamped
    odd = http.get(f"/api/experiments/{exp}", params={"page": "9" * 5000, "size": "x"}).json()
    assert (odd["page"], odd["size"]) == (1, 100)  # malformed: the defaults


# -- broken artifacts -----------------------------------------------------------------


def test_run_page_renders_with_broken_model_files(http, ids):
    run = ids["broken"]
    page = http.get(f"/runs/{run}")
    assert page.status_code == 200, page.text[-2000:]
    for name in BROKEN_MODELS:
        assert f'data-model="{name}"' in page.text, name
    cards = {m["path"]: m for m in http.get(f"/api/runs/{run}").json()["models"]}
    assert set(cards) == set(BROKEN_MODELS)
    good = cards["no_outputs"]
    assert good["error"] is None and good["flavour"] == "sklearn"
    assert good["signature"] == {"inputs": {"type": "tensor", "dtype": "float64"}, "outputs": None}
    assert "not valid JSON" in cards["not_json"]["error"] and "not valid JSON" in cards["deep"]["error"]
    assert "not valid JSON" in cards["empty"]["error"]
    assert "JSON list" in cards["a_list"]["error"] and "JSON str" in cards["a_string"]["error"]
    assert "JSON NoneType" in cards["null"]["error"]
    wrong = cards["wrong_types"]
    assert (wrong["flavour"], wrong["signature"], wrong["requirements"], wrong["created"]) == (None, None, [], None)
    assert wrong["framework_versions"] == {"torch_version": "2"}
    assert cards["outputs_list"]["requirements"] == ["numpy"]
    assert cards["outputs_list"]["signature"]["outputs"] == [1, "two", None]
    assert "is not valid JSON" in page.text and "no signature" in page.text


def test_artifact_pages_survive_bad_files(http, ids):
    base = f"/runs/{ids['broken']}/artifacts"
    listing = http.get(base)
    assert listing.status_code == 200 and "nul.csv" in listing.text and "dangling.txt" not in listing.text
    for path in ("nul.csv", "deep.json", "huge_field.csv", "not_json/MODEL.json", "binary/MODEL.json"):
        resp = http.get(base, params={"path": path})
        assert resp.status_code == 200, (path, resp.text[-500:])
        api = http.get("/api" + base, params={"path": path}).json()
        assert api["file"]["kind"] in ("text", "csv", "json", "binary"), path
    assert http.get(base, params={"path": "dangling.txt"}).status_code in (400, 404)


# -- Host header ----------------------------------------------------------------------


def _raw(url: str, target: str, host: str | None, method: str = "GET") -> tuple[int, dict[str, str], str]:
    """One request with exactly this request target and Host header (None: no Host header)."""
    parts = urlsplit(url)
    conn = HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


BAD_HOSTS = ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}", "localhost.evil.example",
             "evil.example@localhost", "[::1]x", "localhost:port", "", "10.0.0.1:{port}", "0.0.0.0:{port}"]
GOOD_HOSTS = ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "localhost.", "[::1]:{port}", "::1",
              "127.0.0.1"]


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_requests_for_other_hosts_are_refused(site, host):
    url = site[0]
    host = host.format(port=urlsplit(url).port)
    for target in ("/", "/api/experiments", "/static/app.js", "/static/plotly.min.js", "/api/nope", "/nope"):
        status, headers, body = _raw(url, target, host)
        assert status == 400, (host, target)
        assert HOST_ERROR in body and headers["x-content-type-options"] == "nosniff"
    status, headers, body = _raw(url, "/", host)
    assert "script-src 'self'" in headers["content-security-policy"] and "<script>" not in body


def test_a_request_without_host_is_refused(site):
    status, _, _ = _raw(site[0], "/api/experiments", None)
    assert status == 400  # from uvicorn (HTTP/1.1 requires Host) or from the Host check


@pytest.mark.parametrize("host", GOOD_HOSTS)
def test_loopback_hosts_are_served(site, host):
    status, _, body = _raw(site[0], "/api/experiments", host.format(port=urlsplit(site[0]).port))
    assert status == 200 and "sample-experiment" in body


def test_allowed_hosts_for_a_reverse_proxy(site):
    uri = site[2]
    with serve(uri, allowed_hosts=["ui.example.org", "*.corp.example"]) as url:
        for host in ("ui.example.org", "UI.example.org:443", "a.corp.example", "b.a.corp.example:8080",
                     "localhost:1"):
            assert _raw(url, "/api/experiments", host)[0] == 200, host
        for host in ("corp.example", "evil.example", "ui.example.org.evil.example", "xcorp.example",
                     "10.1.2.3"):
            assert _raw(url, "/api/experiments", host)[0] == 400, host
    with serve(uri, allowed_hosts=["0.0.0.0"]) as url:  # bound to every address: any IP, no names
        for host in ("10.1.2.3:5000", "192.168.1.20", "[fe80::1]:5000", "[2001:db8::1]"):
            assert _raw(url, "/api/experiments", host)[0] == 200, host
        assert _raw(url, "/api/experiments", "evil.example")[0] == 400
    with serve(uri, allowed_hosts=["*"]) as url:
        assert _raw(url, "/api/experiments", "anything.example")[0] == 200


def test_bad_allowed_host_entries_are_refused_at_start(site):
    for bad in ("bad host", "a/b", "*.", "http://x"):
        with pytest.raises(ValueError, match="allowed host"):
            create_app(site[2], allowed_hosts=[bad])


def test_ui_command_allows_bound_and_given_hosts():
    assert ui_cli.allowed_hosts("127.0.0.1", []) == ["127.0.0.1"]
    assert ui_cli.allowed_hosts("myhost.lan", ["proxy.example"]) == ["myhost.lan", "proxy.example"]
    wildcard = ui_cli.allowed_hosts("0.0.0.0", ["a.example"])
    assert wildcard[:2] == ["0.0.0.0", "a.example"]


# -- redirects ------------------------------------------------------------------------


def test_trailing_slash_redirect_is_relative(site, ids):
    url = site[0]
    port = urlsplit(url).port
    run = ids["parent"]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        status, headers, _ = _raw(url, f"/runs/{run}/?tab=1", host)
        assert status in (301, 302, 307, 308) and headers["location"] == f"/runs/{run}?tab=1"
        assert headers["x-content-type-options"] == "nosniff"
    status, headers, _ = _raw(url, f"/api/experiments/{ids['experiment_id']}/", f"localhost:{port}")
    assert headers["location"] == f"/api/experiments/{ids['experiment_id']}"
    assert _raw(url, f"/runs/{run}/", "evil.example")[0] == 400  # refused before any redirect


@pytest.mark.parametrize("target", ["//evil.example/", "///evil.example/", "/\\evil.example/", "/%2Fevil.example/",
                                    "/runs//evil.example/", "/nope/"])
def test_no_redirect_leaves_the_site(site, target):
    status, headers, _ = _raw(site[0], target, "localhost")
    location = headers.get("location", "")
    assert status == 404 or (location.startswith("/") and not location.startswith(("//", "/\\")))


# -- safety headers on every kind of response ------------------------------------------


def test_every_response_has_nosniff_and_html_the_csp(http, ids):
    run, exp = ids["hostile_run"], ids["experiment_id"]
    cases = [
        ("GET", "/", 200), ("GET", f"/experiments/{exp}", 200), ("GET", f"/runs/{run}", 200),
        ("GET", f"/runs/{run}/artifacts", 200), ("GET", f"/compare?runs={run},{ids['parent']}", 200),
        ("GET", "/api/experiments", 200), ("GET", f"/api/runs/{run}", 200),
        ("GET", f"/api/runs/{run}/metric?key=long", 200), ("GET", f"/runs/{run}/metric.csv?key=long", 200),
        ("GET", f"/runs/{run}/artifact?path=plots/confusion.png", 200),
        ("GET", "/static/app.js", 200), ("GET", "/static/app.css", 200), ("GET", "/static/plotly.min.js", 200),
        ("GET", "/static/nope.js", 404), ("GET", "/nope", 404), ("GET", "/runs/nope", 404),
        ("GET", "/api/runs/nope", 404), ("GET", "/api/nope", 404),
        ("POST", f"/runs/{run}", 405), ("DELETE", f"/api/runs/{run}", 405), ("PUT", "/static/app.js", 405),
        ("GET", f"/api/runs/{run}/metric?key=long&start=inf", 400),
        ("GET", f"/experiments/{exp}?" + urlencode({"filter": "name ="}), 400),
        ("GET", "/compare?runs=x", 400),
    ]
    for method, path, status in cases:
        resp = http.request(method, path)
        assert resp.status_code == status, (method, path, resp.status_code)
        assert resp.headers.get("x-content-type-options") == "nosniff", (method, path)
        if resp.headers.get("content-type", "").startswith("text/html"):
            assert "script-src 'self'" in resp.headers.get("content-security-policy", ""), (method, path)
            assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    raw = http.get(f"/runs/{run}/artifact", params={"path": "logs/train.log"})
    assert raw.headers["content-security-policy"].startswith("sandbox")  # its own, stricter CSP is kept


def test_an_unreadable_store_answers_503_with_headers(tmp_path):
    uri = str(tmp_path / "store")
    fluent._reset_for_tests()
    client = Client(uri)
    client.create_experiment("soon-corrupt")
    client.flush()
    fluent._reset_for_tests()
    with serve(uri) as url:
        db = os.path.join(uri, "logwright.db")
        for suffix in ("-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        with open(db, "r+b") as fh:
            fh.write(b"\x00garbage!" * 4096)
        with httpx.Client(base_url=url, timeout=30) as http_client:
            for path in ("/", "/api/experiments"):
                resp = http_client.get(path)
                assert resp.status_code == 503, (path, resp.text[:300])
                assert "the store cannot be read" in _error_of(resp)
                assert resp.headers["x-content-type-options"] == "nosniff"
            assert "script-src 'self'" in http_client.get("/").headers["content-security-policy"]
