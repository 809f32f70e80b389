"""The student edition: what students get holds no answers, and works on its own.

Built once per module into a temporary folder. The subprocesses see the edition's own nnlib and
checks first on ``PYTHONPATH`` (as its ``pip install -e .`` would give), never the repository's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

from autograder import edition, release, student_cli

CHAPTER = "01_activations"
pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return edition.build(tmp_path_factory.mktemp("edition") / "edition")


def _run(out, *args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(out))
    return subprocess.run([sys.executable, *args], cwd=out, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_edition_holds_no_instructor_material(built):
    names = {p.relative_to(built).as_posix() for p in built.rglob("*")}
    for forbidden in ("solutions", "tests", "nbgrader_config.py", "autograder/grading.py", "autograder/release.py",
                      "autograder/cli.py", ".ci"):
        assert forbidden not in names
    assert not [n for n in names if n.startswith(("solutions/", "tests/"))]
    assert edition.leaks(built) == []
    for path in built.rglob("*.ipynb"):
        source = "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells)
        assert not [m for m in release.MARKERS if m in source], path


def test_leaks_finds_a_solution_line_or_a_marker(built, tmp_path):
    """The leak check itself can fail: a chapter with a solution's line, or a marker, is reported."""
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(built, copy)
    solution = nbformat.read(str(edition.REPO / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"), as_version=4)
    secret = sorted(release._secret_lines(solution))[0]
    notebook = copy / "chapters" / CHAPTER / f"{CHAPTER}.ipynb"
    nb = nbformat.read(str(notebook), as_version=4)
    nb.cells[-1].source += "\n" + secret
    nbformat.write(nb, str(notebook))
    (copy / "autograder" / "extra.py").write_text("# ### BEGIN HIDDEN TESTS\n")
    found = "\n".join(edition.leaks(copy))
    assert f"chapters/{CHAPTER}/{CHAPTER}.ipynb" in found and "autograder/extra.py" in found


def test_build_refuses_an_existing_folder(built):
    with pytest.raises(FileExistsError):
        edition.build(built)


def test_student_settings_hide_nbgrader_instructor_tools(built):
    page = json.loads((built / "jupyter-config" / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is True
    assert "@jupyter/nbgrader:validate-assignment" not in page["disabledExtensions"]
    server = json.loads((built / "jupyter-config" / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is False
    command, env = student_cli.lab_command(built)
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(built / "jupyter-config")


def test_start_copies_new_chapters_and_never_overwrites_work(tmp_path):
    out = edition.build(tmp_path / "edition")
    assert {p.name for p in student_cli.start(out, log=lambda line: None)} == {p.name for p in (out / "chapters").iterdir()}
    mine = out / "work" / CHAPTER / f"{CHAPTER}.ipynb"
    mine.write_text(mine.read_text().replace("raise NotImplementedError()", "return x  # my attempt", 1))
    edited = mine.read_text()
    # A new edition brings a corrected chapter 1 and a new chapter: only the new one is copied.
    (out / "chapters" / CHAPTER / f"{CHAPTER}.ipynb").write_text("{}")
    (out / "chapters" / "99_new").mkdir()
    (out / "chapters" / "99_new" / "99_new.ipynb").write_text("{}")
    assert [p.name for p in student_cli.start(out, log=lambda line: None)] == ["99_new"]
    assert mine.read_text() == edited


def test_a_student_checks_a_chapter_from_the_edition(built, tmp_path):
    """`python -m autograder check` in the edition: the edition's own code, one exercise written, the rest stubs."""
    where = _run(built, "-c", "import autograder, nnlib; print(autograder.__file__); print(nnlib.__file__)")
    assert all(line.startswith(str(built)) for line in where.stdout.split()), where.stdout
    solution = nbformat.read(str(edition.REPO / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"), as_version=4)
    answer = next(c.source for c in solution.cells if c.source.startswith("def sigmoid("))
    answer = "\n".join(line for line in answer.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    work = tmp_path / "work.ipynb"
    nb = nbformat.read(str(built / "chapters" / CHAPTER / f"{CHAPTER}.ipynb"), as_version=4)
    stub = next(c for c in nb.cells if c.source.startswith("def sigmoid("))
    stub.source = answer
    nbformat.write(nb, str(work))
    result = _run(built, "-m", "autograder", "check", str(work))
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("test_")}
    assert "not attempted" not in rows["test_sigmoid"] and "fail" not in rows["test_sigmoid"].lower(), result.stdout
    assert "not attempted" in rows["test_tanh"], result.stdout
