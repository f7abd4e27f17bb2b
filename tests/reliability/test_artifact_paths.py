"""Artifact paths and model names: bad input and symbolic links never lose or leak a file.

Issue 14, item 6: ``log_model`` checks the name before touching anything; artifact
writes resolve links and refuse any target outside the run folder; reads never follow
a link out of it. Real files in ``tmp_path``, a real store (``tmp_store``).
"""

from __future__ import annotations

import json
import logging
import os
import threading

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import logwright as lw
from logwright.models import register_flavour
from logwright.testing.artifacts import artifact_files


def _tree(root) -> dict[str, object]:
    """Every entry under ``root``: file bytes, ``("link", target)`` or ``"dir"`` (links not followed)."""
    out: dict[str, object] = {}
    for here, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(here, name)
            rel = os.path.relpath(full, root)
            if os.path.islink(full):
                out[rel] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                out[rel] = "dir"
            else:
                with open(full, "rb") as fh:
                    out[rel] = fh.read()
    return out


def _model(seed: int = 0) -> tuple[LogisticRegression, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + (1 if seed else -1) * X[:, 1] > 0).astype(int)
    return LogisticRegression().fit(X, y), X


def _root(run_id: str) -> str:
    return lw.Client().artifacts(run_id).path()




@pytest.fixture
def outside(tmp_path):
    """A folder outside the store holding a file that must never change."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("do not touch")
    return folder


def _started_run():
    model, X = _model()
    with lw.start_run() as active:
        lw.log_text("kept", "notes/kept.txt")
        lw.log_model(model, "model", input_example=X[:2])
        yield active


@pytest.fixture
def run(tmp_store):
    """An active run that already holds a text file and a model (local artifacts)."""
    yield from _started_run()


@pytest.fixture
def any_run(artifact_backend):
    """The same run, once with local artifacts and once in S3 (moto)."""
    yield from _started_run()


# -- model names ----------------------------------------------------------------------

BAD_NAMES = [
    ("", ValueError, "must not be empty"),
    (".", ValueError, r"model name '\.'"),
    ("a/..", ValueError, r"'a/\.\.'"),
    ("..", ValueError, r"'\.\.'"),
    ("../x", ValueError, r"'\.\./x'"),
    ("/abs", ValueError, "'/abs'.*not absolute"),
    ("a//b", ValueError, "'a//b'"),
    ("model/", ValueError, "'model/'"),
    ("nul\x00", ValueError, "control character"),
    ("half\udce9", ValueError, "lone surrogate"),
    ("a\\..\\..", ValueError, "use '/'"),
    ("C:/x", ValueError, "drive letters"),
    (".logwright-stage-x", ValueError, "reserved"),
    ("m" * 235, ValueError, "235 characters; the limit is 234"),
    (None, TypeError, "must be a string.*None"),
    (42, TypeError, "must be a string.*int: 42"),
    (b"model", TypeError, "must be a string.*bytes"),
]


@pytest.mark.parametrize(("name", "error", "match"), BAD_NAMES)
def test_bad_model_name_is_refused_before_anything_is_touched(any_run, name, error, match):
    before = artifact_files(any_run.info.run_id)
    model, _ = _model(1)
    with pytest.raises(error, match=match):
        lw.log_model(model, name)
    assert artifact_files(any_run.info.run_id) == before
    assert lw.load_model(f"runs:/{any_run.info.run_id}/model") is not None


def test_bad_model_name_without_active_run_starts_no_run(tmp_store):
    model, _ = _model()
    with pytest.raises(ValueError, match="must not be empty"):
        lw.log_model(model, "")
    assert lw.active_run() is None
    assert lw.search_runs() == []


@pytest.mark.parametrize("taken", ["notes", "notes/kept.txt"])
def test_model_name_held_by_other_artifacts_is_refused(any_run, taken):
    before = artifact_files(any_run.info.run_id)
    with pytest.raises(FileExistsError, match=repr(taken)):
        lw.log_model(_model()[0], taken)
    assert artifact_files(any_run.info.run_id) == before


def test_logging_a_model_again_replaces_it_whole(any_run, artifact_backend):
    rid = any_run.info.run_id
    first = {k: v for k, v in artifact_files(rid).items() if k.startswith("model/")}
    model, X = _model(seed=1)
    info = lw.log_model(model, "model", serialization="pickle")
    now = {k: v for k, v in artifact_files(rid).items() if k.startswith("model/")}
    assert sorted(now) == ["model/MODEL.json", "model/model.pkl"]  # no stale file of the first one
    assert first != now
    assert np.array_equal(lw.load_model(info.model_uri).predict(X), model.predict(X))
    if not artifact_backend.remote:
        assert not [n for n in os.listdir(_root(rid)) if n.startswith(".logwright-")]


def test_failing_save_leaves_the_old_model_whole(any_run):
    before = artifact_files(any_run.info.run_id)
    broken, X = _model(seed=1)
    broken.lock = threading.Lock()  # pickle fails half-way through writing model.pkl
    with pytest.raises(TypeError, match="lock"):
        lw.log_model(broken, "model", serialization="pickle")
    assert artifact_files(any_run.info.run_id) == before
    old, X = _model()
    assert np.array_equal(lw.load_model(f"runs:/{any_run.info.run_id}/model").predict(X), old.predict(X))


def test_round_trip_artifact_and_nested_model(artifact_backend, tmp_path):
    src = tmp_path / "data.csv"
    src.write_bytes(b"a,b\n1,2\n")
    model, X = _model()
    with lw.start_run() as active:
        assert lw.log_artifact(str(src), "tables") == "tables/data.csv"
        info = lw.log_model(model, "models/clf", input_example=X[:3])
    client = lw.Client()
    got = client.download_artifacts(active.info.run_id, "tables/data.csv", str(tmp_path / "dl"))
    assert open(got, "rb").read() == b"a,b\n1,2\n"
    assert info.model_uri == f"runs:/{active.info.run_id}/models/clf"
    assert np.array_equal(lw.load_model(info.model_uri).predict(X), model.predict(X))
    meta = json.loads(artifact_files(active.info.run_id)["models/clf/MODEL.json"])
    assert meta["artifact_path"] == "models/clf" and meta["signature"]["inputs"]["shape"] == [-1, 3]


# -- writes through symbolic links ---------------------------------------------------


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2])
    return fig


def _write(how: str, rel: str, tmp_path) -> None:
    """Write artifact ``rel`` (its file name is ``f.txt``/``f.png``) the way ``how`` says."""
    folder, name = os.path.split(rel)
    if how == "log_text":
        lw.log_text("new", rel)
    elif how == "log_dict":
        lw.log_dict({"new": 1}, rel)
    elif how == "log_figure":
        lw.log_figure(_figure(), rel)
    elif how in ("log_artifact", "log_artifacts"):
        src = tmp_path / "src" / how
        src.mkdir(parents=True, exist_ok=True)
        (src / name).write_text("new")
        lw.log_artifact(str(src / name) if how == "log_artifact" else str(src), folder or None)
    elif how == "write_shared":
        repo = lw.Client().artifacts(lw.active_run().info.run_id)
        repo.write_shared(rel, b"new", str(tmp_path / "shared"))
    elif how == "log_model":
        lw.log_model(_model(1)[0], rel)


WRITERS = ["log_text", "log_dict", "log_figure", "log_artifact", "log_artifacts", "write_shared", "log_model"]


@pytest.mark.parametrize("how", WRITERS)
@pytest.mark.parametrize("layout", ["file_link", "folder_link", "relative_folder_link"])
def test_writes_through_a_link_out_of_the_run_are_refused(run, outside, tmp_path, how, layout):
    root = _root(run.info.run_id)
    name = "f.png" if how == "log_figure" else "f.txt"
    if layout == "file_link":
        os.symlink(outside / "secret.txt", os.path.join(root, name))
        rel = name
    elif layout == "folder_link":
        os.symlink(outside, os.path.join(root, "linked"))
        rel = f"linked/{name}"
    else:  # a relative link two levels up, inside a real folder of the run
        os.symlink("../../../..", os.path.join(root, "notes", "up"))
        rel = f"notes/up/{name}"
    before_out, before_run = _tree(outside), _tree(root)
    outside_parent = sorted(os.listdir(os.path.dirname(os.path.dirname(root))))
    with pytest.raises(ValueError, match="symbolic link"):
        _write(how, rel, tmp_path)
    assert _tree(outside) == before_out
    assert _tree(root) == before_run
    assert sorted(os.listdir(os.path.dirname(os.path.dirname(root)))) == outside_parent


@pytest.mark.parametrize("how", ["log_text", "log_artifact", "write_shared"])
def test_hard_link_to_an_outside_file_is_replaced_not_written_through(run, outside, tmp_path, how):
    root = _root(run.info.run_id)
    try:
        os.link(outside / "secret.txt", os.path.join(root, "f.txt"))
    except OSError as exc:  # another filesystem: nothing to test
        pytest.skip(f"cannot hard-link here: {exc}")
    _write(how, "f.txt", tmp_path)
    assert (outside / "secret.txt").read_text() == "do not touch"
    assert open(os.path.join(root, "f.txt")).read() == "new"


def test_link_to_a_folder_inside_the_run_is_resolved(run):
    root = _root(run.info.run_id)
    os.symlink("notes", os.path.join(root, "alias"))
    assert lw.log_text("via alias", "alias/more.txt") == "alias/more.txt"
    assert open(os.path.join(root, "notes", "more.txt")).read() == "via alias"
    assert not os.path.islink(os.path.join(root, "notes", "more.txt"))


def test_artifact_paths_with_nul_or_surrogates_are_refused(run):
    for path, match in (("a\x00b.txt", "control character"), ("x\udce9.txt", "lone surrogate")):
        with pytest.raises(ValueError, match=match):
            lw.log_text("x", path)


def test_log_artifacts_copies_links_inside_the_tree_and_skips_the_rest(run, outside, tmp_path, caplog):
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.txt").write_text("B")
    os.symlink("a.txt", src / "to_a")  # inside the tree: copied as a file
    os.symlink(outside / "secret.txt", src / "to_secret")  # outside: skipped
    os.symlink(outside, src / "to_outside_dir")  # a folder outside: skipped
    os.symlink("sub", src / "to_sub")  # a folder link: skipped (its files are copied under sub/)
    os.symlink("missing", src / "dangling")
    os.mkfifo(src / "pipe")  # opening it would block: skipped
    with caplog.at_level(logging.WARNING, logger="logwright"):
        assert lw.log_artifacts(str(src), "copy") == "copy"
    copy = os.path.join(_root(run.info.run_id), "copy")
    assert _tree(copy) == {"a.txt": b"A", "to_a": b"A", "sub": "dir", "sub/b.txt": b"B"}
    warned = caplog.text
    for skipped in ("to_secret", "to_outside_dir", "to_sub", "dangling", "pipe"):
        assert skipped in warned
    assert _tree(outside) == {"secret.txt": b"do not touch"}


def test_log_artifacts_checks_every_target_before_writing(run, outside, tmp_path):
    root = _root(run.info.run_id)
    src = tmp_path / "tree"
    (src / "z").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "z" / "late.txt").write_text("late")
    os.makedirs(os.path.join(root, "copy", "z"))
    os.symlink(outside / "secret.txt", os.path.join(root, "copy", "z", "late.txt"))
    before = _tree(root)
    with pytest.raises(ValueError, match="'copy/z/late.txt' is a symbolic link"):
        lw.log_artifacts(str(src), "copy")
    assert _tree(root) == before  # a.txt was not copied either
    assert _tree(outside) == {"secret.txt": b"do not touch"}


# -- races: a link swapped in while writing -------------------------------------------


def test_folder_swapped_for_a_link_during_a_figure_save_does_not_escape(run, outside):
    root = _root(run.info.run_id)
    os.makedirs(os.path.join(root, "plots"))

    class Figure:  # a figure whose savefig swaps the target folder for a link mid-write
        def savefig(self, path):
            with open(path, "wb") as fh:
                fh.write(b"figure")
            os.rename(os.path.join(root, "plots"), os.path.join(root, "moved"))
            os.symlink(outside, os.path.join(root, "plots"))

    lw.log_figure(Figure(), "plots/fig.png")
    assert _tree(outside) == {"secret.txt": b"do not touch"}
    assert open(os.path.join(root, "moved", "fig.png"), "rb").read() == b"figure"


class _SwappingFlavour:
    """A model flavour whose save swaps the model's parent folder for a link (a racing writer)."""

    name = "swapping-test"

    def __init__(self, root: str, outside: str) -> None:
        self.root, self.outside = root, outside

    def can_log(self, model):
        return False

    def save(self, model, path, **kwargs):
        with open(os.path.join(path, "weights.bin"), "wb") as fh:
            fh.write(b"weights")
        os.rename(os.path.join(self.root, "models"), os.path.join(self.root, "moved"))
        os.symlink(self.outside, os.path.join(self.root, "models"))
        return {}

    def load(self, path, meta):
        return open(os.path.join(path, "weights.bin"), "rb").read()

    def requirements(self):
        return []


def test_folder_swapped_for_a_link_during_a_model_save_does_not_escape(run, outside):
    root = _root(run.info.run_id)
    os.makedirs(os.path.join(root, "models"))
    flavour = _SwappingFlavour(root, str(outside))
    register_flavour(flavour)
    try:
        lw.log_model(object(), "models/m", flavour=flavour.name)
    finally:
        lw.models.flavours().pop(flavour.name, None)
    assert _tree(outside) == {"secret.txt": b"do not touch"}
    assert open(os.path.join(root, "moved", "m", "weights.bin"), "rb").read() == b"weights"


# -- reads never follow a link out ---------------------------------------------------


def test_reads_do_not_follow_links_out_of_the_run(run, outside, tmp_path):
    rid = run.info.run_id
    root = _root(rid)
    os.symlink(outside / "secret.txt", os.path.join(root, "notes", "leak.txt"))
    os.symlink(outside, os.path.join(root, "leakdir"))
    os.symlink(".", os.path.join(root, "loop"))  # a cycle: walk must end
    os.symlink("kept.txt", os.path.join(root, "notes", "alias.txt"))  # inside: listed
    client = lw.Client()
    listed = [f.path for f in client.list_artifacts(rid, "notes")]
    assert listed == ["notes/alias.txt", "notes/kept.txt"]
    assert "leakdir" not in [f.path for f in client.list_artifacts(rid)]
    walked = [f.path for f in client.artifacts(rid).walk()]
    assert "notes/kept.txt" in walked and not [p for p in walked if "leak" in p or p.startswith("loop/")]
    got = client.download_artifacts(rid, "notes", str(tmp_path / "dl"))
    assert sorted(os.listdir(got)) == ["alias.txt", "kept.txt"]
    for rel in ("notes/leak.txt", "leakdir", "leakdir/secret.txt"):
        with pytest.raises(ValueError, match="escapes"):
            client.download_artifacts(rid, rel, str(tmp_path / "dl2"))
    assert not (tmp_path / "dl2").exists()
