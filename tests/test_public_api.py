"""The public names: ``logwright.last_active_run()`` and a package typed for IDEs and checkers."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import logwright as lw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INIT = os.path.join(ROOT, "src", "logwright", "__init__.py")


def test_last_active_run_is_the_active_run_then_the_last_one_ended(tmp_store):
    assert lw.last_active_run() is None
    with lw.start_run(run_name="outer") as outer:
        assert lw.last_active_run() is outer
        with lw.start_run(run_name="inner", nested=True) as inner:
            lw.log_metric("acc", 0.5)
            assert lw.last_active_run() is inner
        assert lw.last_active_run() is outer
        lw.log_metric("loss", 0.25)
    last = lw.last_active_run()
    assert isinstance(last, lw.Run)
    assert (last.info.run_id, last.info.run_name, last.info.status) == (outer.info.run_id, "outer", "FINISHED")
    assert last.data.metrics == {"loss": 0.25}
    with lw.start_run(run_name="newest"):
        pass
    lw.set_tracking_uri(os.path.join(os.path.dirname(tmp_store), "elsewhere"))
    assert lw.last_active_run().info.run_name == "newest"  # read from the store it was logged to


def test_last_active_run_in_a_fresh_process_after_a_run(tmp_store):
    code = (f"import logwright as lw\nlw.set_tracking_uri({tmp_store!r})\nwith lw.start_run(run_name='mine') as r:\n"
            "    lw.log_metric('m', 1)\nrun = lw.last_active_run()\n"
            "print(run.info.run_id == r.info.run_id, run.info.run_name, run.data.metrics)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True mine {'m': 1.0}", out.stderr


def _type_checking_names() -> set[str]:
    tree = ast.parse(open(INIT, encoding="utf-8").read())
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    return {alias.asname or alias.name for node in block.body if isinstance(node, ast.ImportFrom)
            for alias in node.names}


def test_every_public_name_is_in_all_and_imported_for_type_checkers():
    from logwright import _LAZY

    assert sorted(lw.__all__) == sorted(_LAZY) == sorted(_type_checking_names())
    assert "last_active_run" in lw.__all__ and "autolog" in lw.__all__ and "log_model" in lw.__all__
    tree = ast.parse(open(INIT, encoding="utf-8").read())
    literal = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "__all__")
    assert isinstance(literal.value, ast.List)  # a literal list: what type checkers read
    for name in lw.__all__:
        assert getattr(lw, name) is not None


def test_package_ships_a_py_typed_marker_in_the_wheel():
    assert os.path.isfile(os.path.join(ROOT, "src", "logwright", "py.typed"))
    pyproject = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    wheel = pyproject.split("[tool.hatch.build.targets.wheel]", 1)[1].split("\n[", 1)[0]
    assert '"src/logwright"' in wheel and "exclude" not in wheel  # hatchling ships every file of the package
