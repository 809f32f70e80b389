"""The instructor's command line on the fixture course: release, release --check, check, help."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import cli, nbg, release
from autograder.notebook_check import Row, format_table

pytestmark = pytest.mark.grading  # runs nbgrader and kernels: `-m "not grading"` skips it

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "course"
CHAPTER = "00_tiny"
SENTINELS = ("solution-sentinel", "hidden-sentinel", "BEGIN SOLUTION", "END SOLUTION",
             "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          env=nbg.venv_env(), timeout=300)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A released copy of the fixture course (one ``release`` run shared by this module)."""
    root = tmp_path_factory.mktemp("cli") / "course"
    shutil.copytree(FIXTURE, root)
    shutil.copyfile(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    proc = run_cli("release", "--root", str(root))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def _tree_bytes(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_help_lists_every_command():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for word in ("release", "check", "grade", "feedback", "export", "demo", "--check", "grades.csv"):
        assert word in proc.stdout


def test_release_writes_the_chapter_and_nothing_else(course):
    assert sorted(_tree_bytes(course / "chapters" / CHAPTER)) == [f"{CHAPTER}.ipynb", "data.csv"]
    # no gradebook, log or other debris in the course root
    assert sorted(p.name for p in course.iterdir()) == ["chapters", "nbgrader_config.py", "solutions"]


def test_release_has_no_solution_or_hidden_test_text(course):
    text = (course / "chapters" / CHAPTER / f"{CHAPTER}.ipynb").read_text()
    for s in SENTINELS:
        assert s not in text
    assert "raise NotImplementedError()" in text
    assert release.find_leaks(course / "solutions" / CHAPTER, course / "chapters" / CHAPTER) == []


def test_leak_check_finds_solution_lines(tmp_path, course):
    leaky = tmp_path / "leaky"
    shutil.copytree(course / "chapters" / CHAPTER, leaky)
    (leaky / "notes.py").write_text("total = math.fsum(xs)\n")  # a line from mean's solution
    problems = release.find_leaks(course / "solutions" / CHAPTER, leaky)
    assert problems == ["notes.py: contains solution/hidden-test text: 'total = math.fsum(xs)'"]


def test_release_is_deterministic(course):
    before = _tree_bytes(course / "chapters")
    proc = run_cli("release", CHAPTER, "--root", str(course))
    assert proc.returncode == 0 and "(unchanged)" in proc.stdout, proc.stdout + proc.stderr
    assert _tree_bytes(course / "chapters") == before  # byte-identical


def test_release_check_detects_a_stale_release(tmp_path, course):
    stale = tmp_path / "stale"
    shutil.copytree(course, stale)
    nb_path = stale / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"
    nb = nbformat.read(str(nb_path), as_version=4)
    nb.cells[0].source += "\n\nA new sentence."
    nbformat.write(nb, str(nb_path))
    (stale / "chapters" / CHAPTER / "old.txt").write_text("left over")
    before = _tree_bytes(stale / "chapters")
    proc = run_cli("release", "--check", "--root", str(stale))
    assert proc.returncode == 1
    assert f"chapters/{CHAPTER}/{CHAPTER}.ipynb" in proc.stdout
    assert f"chapters/{CHAPTER}/old.txt" in proc.stdout
    assert f"chapters/{CHAPTER}/data.csv" not in proc.stdout
    assert _tree_bytes(stale / "chapters") == before  # --check writes nothing


def test_release_unknown_chapter_is_an_error(course):
    proc = run_cli("release", "99_nothing", "--root", str(course))
    assert proc.returncode == 2 and "99_nothing" in proc.stdout


def _check(path: Path) -> subprocess.CompletedProcess:
    return run_cli("check", str(path), "--timeout", "20")


def test_check_solution_passes(course):
    proc = _check(course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb")
    assert proc.returncode == 0
    assert "test_square      2 / 2  passed" in proc.stdout
    assert "Score: 5 / 5  (2 passed, 0 failed, 0 not attempted)" in proc.stdout
    assert "Kernel is running over TCP" not in proc.stdout + proc.stderr


def test_check_release_is_not_attempted(course):
    proc = _check(course / "chapters" / CHAPTER / f"{CHAPTER}.ipynb")
    assert proc.returncode == 0
    assert "test_square      0 / 2  not attempted: NotImplementedError" in proc.stdout
    assert "Score: 0 / 5  (0 passed, 0 failed, 2 not attempted)" in proc.stdout


def test_check_reports_failures_not_attempted_and_kernel_death(tmp_path, course):
    nb = nbformat.read(str(course / "chapters" / CHAPTER / f"{CHAPTER}.ipynb"), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "square_impl":
            cell.source = "def square(x):\n    return 2 * x"  # wrong: 6 for 3
        elif gid == "mean_impl":
            cell.source = ("class NotAttempted(Exception):\n    pass\n"
                           "def mean(xs):\n    raise NotAttempted('mean is still the stub\\nmore detail')")
    path = tmp_path / "student.ipynb"
    nbformat.write(nb, str(path))
    proc = _check(path)
    assert proc.returncode == 0
    assert "test_square      0 / 2  failed: square(3) should be 9, got 6" in proc.stdout
    assert "test_mean        0 / 3  not attempted: mean is still the stub" in proc.stdout
    assert "Score: 0 / 5  (0 passed, 1 failed, 1 not attempted)" in proc.stdout

    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "mean_impl":
            cell.source = "import os\nos._exit(1)"
    nbformat.write(nb, str(path))
    proc = _check(path)
    assert proc.returncode == 0
    assert "test_mean        0 / 3  not run: the kernel died in cell 7" in proc.stdout
    assert path.read_text() == nbformat.writes(nb) + "\n"  # check never writes the notebook


def test_check_unreadable_notebook_exits_2(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{ not json")
    proc = _check(bad)
    assert proc.returncode == 2 and "cannot read" in proc.stderr


def test_format_table_partial_and_manual():
    rows = [Row("a", 2, 1.5, "partial", "1.5 of 2 points"), Row("essay", 3, 0, "manual", "graded by hand")]
    table = format_table(rows)
    assert "a           1.5 / 2  partial: 1.5 of 2 points" in table
    assert "Score: 1.5 / 2" in table and "Graded by hand later: essay (3 points)" in table


def test_release_check_passes_when_up_to_date(course, capsys):
    assert cli.main(["release", "--check", "--root", str(course)]) == 0
    assert "00_tiny: up to date" in capsys.readouterr().out


def test_progress_bar_redraws_with_carriage_returns():
    import io

    from autograder.progress import Progress

    stream = io.StringIO()
    with Progress(4, label="grading x", stream=stream, width=8) as bar:
        bar.advance()
        bar.advance()
    text = stream.getvalue()
    assert text.startswith("\rgrading x [........] 0/4  elapsed 0:00  left ?")
    assert "\rgrading x [####....] 2/4  elapsed 0:00  left ~0:00" in text
    assert text.endswith("\n") and text.count("\n") == 1


def test_student_edition_collect_and_lms_export_commands(tmp_path):
    """The class workflow's commands, end to end through the command line."""
    import csv
    import zipfile

    edition = run_cli("student-edition", str(tmp_path / "edition"))
    assert edition.returncode == 0, edition.stderr
    assert (tmp_path / "edition" / "chapters").is_dir() and not (tmp_path / "edition" / "solutions").exists()
    again = run_cli("student-edition", str(tmp_path / "edition"))
    assert again.returncode == 1 and "exists" in again.stderr

    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("doejane_1001_1_01_activations.ipynb", "{}")
        zf.writestr("roeric_LATE_1002_2_01_activations.ipynb", "{}")
    collected = run_cli("collect", "01_activations", str(archive), "--submissions", str(tmp_path / "submitted"))
    assert collected.returncode == 0, collected.stderr
    assert "2 students, 1 late" in collected.stdout
    assert (tmp_path / "submitted" / "1002" / "01_activations" / "01_activations.ipynb").is_file()

    reports = tmp_path / "course" / "reports"
    reports.mkdir(parents=True)
    (reports / "01_activations-grades.csv").write_text("student,chapter,score,max_score,status\n1001,01_activations,16,16,graded\n")
    exported = run_cli("lms-export", "canvas", "--course-dir", str(tmp_path / "course"),
                       "--roster", str(tmp_path / "submitted" / "roster.csv"))
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.reader((reports / "canvas-import.csv").open()))
    assert rows[2][:2] == ["doejane", "1001"] and rows[2][-1] == "16"
    missing = run_cli("lms-export", "moodle", "--course-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "grades.csv" in missing.stderr
