"""Trace display (text tree, HTML), notebook collection and the ``traces`` CLI."""

from __future__ import annotations

import argparse
import importlib.util

import pytest

import logwright as lw
from logwright import tracing
from logwright.tracing import cli, notebook


@pytest.fixture(autouse=True)
def _fresh(tmp_store):
    tracing._reset_for_tests()
    yield
    tracing._reset_for_tests()


def _make_trace():
    with lw.start_span("rag <b>", kind="CHAIN", inputs={"q": "<script>alert(1)</script>"}) as root:
        with lw.start_span("retrieve", kind="RETRIEVER") as span:
            span.set_outputs(["doc & co"])
        with lw.start_span("llm", kind="LLM") as span:
            span.set_attributes({"gen_ai.usage.input_tokens": 11, "gen_ai.usage.output_tokens": 4})
            with lw.start_span("parse", kind="PARSER"):
                pass
        try:
            with lw.start_span("tool", kind="TOOL"):
                raise KeyError("missing")
        except KeyError:
            pass
    lw.flush()
    return lw.get_trace(root.trace_id)


def test_str_is_an_indented_tree_with_kinds_durations_status_and_tokens():
    trace = _make_trace()
    lines = str(trace).splitlines()
    assert lines[0].startswith(f"Trace {trace.trace_id}  rag <b>  OK")
    assert "tokens 11 in / 4 out / 15 total" in lines[0]
    assert lines[1].startswith("└─ CHAIN rag <b>")
    assert lines[2].startswith("   ├─ RETRIEVER retrieve") and lines[2].endswith("OK")
    assert lines[3].startswith("   ├─ LLM llm") and "tokens 11 in / 4 out / - total" in lines[3]
    assert lines[4].startswith("   │  └─ PARSER parse")
    assert lines[5].startswith("   └─ TOOL tool") and "ERROR (KeyError: 'missing')" in lines[5]
    assert all(("ms" in line or "us" in line or " s " in line) for line in lines[1:])


def test_html_is_self_contained_escaped_with_bars_and_details():
    html = _make_trace()._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "rag &lt;b&gt;" in html and "doc &amp; co" in html
    assert html.count("<details") >= 5 and "<summary>Inputs</summary>" in html
    assert "class='lw-bar" in html and "width:" in html
    assert "http" not in html  # no external resource
    assert "lw-bad" in html  # the failed span's bar


def test_notebook_collects_the_traces_a_cell_produced():
    notebook.start_collecting()
    first = _make_trace()
    with lw.start_span("second"):
        pass
    got = notebook.collect_cell_traces()
    assert [t.trace_id for t in got][0] == first.trace_id and len(got) == 2
    assert notebook.collect_cell_traces() == []
    notebook.stop_collecting()
    with lw.start_span("not collected"):
        pass
    assert notebook.collect_cell_traces() == []


def test_display_outside_ipython_hooks_nothing():
    with lw.start_span("plain"):
        pass
    assert notebook._state["collecting"] is False


@pytest.mark.skipif(importlib.util.find_spec("IPython") is None, reason="IPython not installed")
def test_ipython_post_run_cell_displays_traces(capsys):
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    notebook._state["tried"] = False
    shell.run_cell("import logwright as lw\nwith lw.start_span('cell-span'):\n    pass\n")
    assert "cell-span" in capsys.readouterr().out


def _cli(*argv):
    parser = argparse.ArgumentParser(prog="logwright")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_cli_list_and_show(capsys, tmp_store):
    trace = _make_trace()
    lw.flush()
    assert _cli("traces", "list") == 0
    out = capsys.readouterr().out
    assert trace.trace_id in out and "rag <b>" in out and "TRACE ID" in out
    assert _cli("traces", "list", "--experiment", "Default", "--filter", "status = 'ERROR'") == 0
    assert trace.trace_id not in capsys.readouterr().out
    assert _cli("traces", "list", "--max-results", "1") == 0
    assert _cli("traces", "show", trace.trace_id) == 0
    assert "TOOL tool" in capsys.readouterr().out
    assert _cli("traces", "show", trace.trace_id[:10]) == 0
    assert trace.trace_id in capsys.readouterr().out
    assert _cli("traces", "show", "nope") == 1
    assert _cli("traces", "list", "--filter", "status ==== 1") == 2
    assert "error" in capsys.readouterr().err
