"""The grading pipeline end to end: one batch of awkward submissions, many assertions.

A module-scoped fixture grades a mix of submissions to the fixture course (tests/fixtures/checked_course,
chapter 00_tiny: square 2 points, mean 3 points) in one ``python -m autograder grade`` run:
perfect, untouched release, partly right, invalid JSON, renamed notebook, a cell that never returns,
a kernel that dies, a huge allocation, a correct answer that writes to stderr, a missing folder,
and a submission that attacks the master gradebook. Each kernel runs in the sandbox and the points
are decided outside it (tests/test_sandbox.py holds the hostile batch). Then every real chapter.
"""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import demo, grading, nbg, release, verdict

pytestmark = [pytest.mark.grading, pytest.mark.sandbox]

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "checked_course"
CHAPTER = "00_tiny"
TIMEOUT = 4  # per-cell seconds: the "limits" submission's endless loop is interrupted after this
MEMORY_MB = 1024

SQUARE_OK = 'def square(x):\n    """Return x squared."""\n    return x * x'


def _set_cell(nb, grade_id, source):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
            return nb
    raise KeyError(grade_id)


def _mean(body):
    return 'def mean(xs):\n    """Return the arithmetic mean of the non-empty list xs."""\n' + body


def make_course(tmp: Path) -> Path:
    course = tmp / "course"
    shutil.copytree(FIXTURE, course)
    shutil.copyfile(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    assert release.release(course, log=lambda m: None) == 0
    return course


def make_submissions(course: Path, dest: Path, master_db: Path) -> dict[str, Path]:
    sol = course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"
    rel = course / "chapters" / CHAPTER / f"{CHAPTER}.ipynb"

    def write(student, nb, name=f"{CHAPTER}.ipynb"):
        d = dest / student / CHAPTER
        d.mkdir(parents=True)
        nbformat.write(nb, str(d / name))

    def released():
        return nbformat.read(str(rel), as_version=4)

    write("perfect", nbformat.read(str(sol), as_version=4))
    write("zero", released())
    write("partial", _set_cell(released(), "square_impl", SQUARE_OK))
    (dest / "broken" / CHAPTER).mkdir(parents=True)
    (dest / "broken" / CHAPTER / f"{CHAPTER}.ipynb").write_text('{"cells": [')
    write("renamed", nbformat.read(str(sol), as_version=4), name=f"{CHAPTER} (copy).ipynb")
    # Over the limits: square allocates 4x the memory limit (MemoryError, so square is undefined);
    # mean never returns (interrupted after the per-cell timeout).
    nb = _set_cell(released(), "square_impl", f"hog = bytearray({4 * MEMORY_MB} * 2**20)\n" + SQUARE_OK)
    write("limits", _set_cell(nb, "mean_impl", _mean("    while True:\n        pass")))
    nb = _set_cell(released(), "square_impl", SQUARE_OK)
    write("dies", _set_cell(nb, "mean_impl", "import os\nos._exit(1)"))
    # stderr from a correct answer: a debug print and a UserWarning inside square (a RuntimeWarning
    # inside a checked function is a stability bug the checks report), a RuntimeWarning in mean's cell.
    nb = _set_cell(released(), "square_impl",
                   'import sys, warnings\n' + SQUARE_OK.replace(
                       "    return", '    print("debug: squaring", x, file=sys.stderr)\n'
                                     '    warnings.warn("a harmless warning", UserWarning)\n    return'))
    write("noisy", _set_cell(nb, "mean_impl", 'import numpy as np\nnp.float64(1.0) / 0.0  # RuntimeWarning\n' + _mean(
        '    return math.fsum(xs) / len(xs)')))
    (dest / "missing").mkdir()
    # Correct answers, plus an attack: rewrite every grade in the master gradebook, give itself
    # 100 points in its private one, and leave a background process to do it again later.
    attack = f'''
import os, sqlite3, subprocess, sys
MASTER = {str(master_db)!r}
def wreck(path, score):
    try:
        con = sqlite3.connect(path, timeout=1)
        con.execute("UPDATE grade SET auto_score = ?", (score,))
        con.commit(); con.close()
    except Exception as exc:
        print("attack failed:", exc)
wreck(MASTER, 0)
wreck(os.path.join(os.getcwd().split("/autograded/")[0], "gradebook.db"), 100)
subprocess.Popen([sys.executable, "-c", "import time, sqlite3; time.sleep(3); "
                  "c = sqlite3.connect({str(master_db)!r}); c.execute('DELETE FROM grade'); c.commit()"])
'''
    nb = nbformat.read(str(sol), as_version=4)
    _set_cell(nb, "square_impl", SQUARE_OK + "\n" + attack)
    write("tamper", nb)
    return dest


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grading")
    course = make_course(tmp)
    course_dir = tmp / "course-dir"
    subs = make_submissions(course, tmp / "submitted", course_dir / "gradebook.db")
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", CHAPTER, "--root", str(course), "--submissions",
         str(subs), "--course-dir", str(course_dir), "--jobs", "2", "--timeout", str(TIMEOUT),
         "--memory-limit", str(MEMORY_MB)],
        capture_output=True, env=nbg.venv_env(), timeout=300)
    proc.stdout, proc.stderr = proc.stdout.decode(), proc.stderr.decode()  # keep the \r of the bar
    return {"course": course, "course_dir": course_dir, "proc": proc, "subs": subs}


def _csv(batch):
    text = (batch["course_dir"] / "reports" / f"{CHAPTER}-grades.csv").read_text()
    return text, {row["student"]: row for row in csv.DictReader(io.StringIO(text))}


def test_grade_command_succeeds_and_prints_where_outputs_are(batch):
    proc = batch["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    cd = batch["course_dir"]
    for path in (cd / "gradebook.db", cd / "reports" / f"{CHAPTER}-grades.csv",
                 cd / "reports" / f"{CHAPTER}-report.txt", cd / "feedback"):
        assert str(path) in proc.stdout, path
    # The progress bar: plain text on stderr, redrawn with \r, ending at done == total.
    assert "\rgrading 00_tiny [" in proc.stderr
    assert "10/10" in proc.stderr and "elapsed" in proc.stderr and "left" in proc.stderr


def test_csv_content_exactly(batch):
    text, _ = _csv(batch)
    expected = [
        "student,chapter,score,max_score,test_square,test_mean,status",
        "broken,00_tiny,0,5,0,0,failed: 00_tiny.ipynb is not valid notebook JSON "
        "(Expecting value at line 1 column 12)",
        "dies,00_tiny,2,5,2,0,graded",  # the kernel died in mean's cell: square keeps its points
        "limits,00_tiny,0,5,0,0,graded",
        "missing,00_tiny,0,5,0,0,failed: no 00_tiny/ folder in the submission",
        "noisy,00_tiny,5,5,2,3,graded",
        "partial,00_tiny,2,5,2,0,graded",
        "perfect,00_tiny,5,5,2,3,graded",
        "renamed,00_tiny,0,5,0,0,failed: missing notebook 00_tiny.ipynb "
        "(the submission has: 00_tiny (copy).ipynb; was it renamed?)",
        "tamper,00_tiny,5,5,2,3,graded",
        "zero,00_tiny,0,5,0,0,graded",
    ]
    assert text.splitlines() == expected


def test_report_gives_a_reason_per_problem(batch):
    report = (batch["course_dir"] / "reports" / f"{CHAPTER}-report.txt").read_text()
    assert "10 submission(s), 7 graded, 3 failed" in report
    # limits: MemoryError in square's cell (square undefined), an endless loop in mean (interrupted)
    assert "test_mean: failed (no result was recorded for mean: the cell did not run to its end" in report
    assert "test_square: failed (no result was recorded for square" in report
    assert "square_impl (student code): raised MemoryError" in report
    assert "graded a second time" not in report  # a timeout costs one cell timeout, never a regrading
    assert "test_square: not attempted yet (square still raises NotImplementedError)" in report  # zero
    assert report in batch["proc"].stdout + "\n"


def test_gradebook_matches_csv(batch):
    from nbgrader.api import Gradebook

    _, rows = _csv(batch)
    with Gradebook(f"sqlite:///{batch['course_dir'] / 'gradebook.db'}", nbg.course_id(batch["course"])) as gb:
        for student, row in rows.items():
            sub = gb.find_submission(CHAPTER, student)
            assert f"{sub.score:g}" == row["score"], student


def test_attack_on_master_gradebook_fails(batch):
    """The tamper student tries to zero the master gradebook and plants a process to empty it later:
    in the sandbox it sees no gradebook at all, its process dies with its kernel, and every grade
    stands (the grader would still restore its last good copy and report it)."""
    report = (batch["course_dir"] / "reports" / f"{CHAPTER}-report.txt").read_text()
    assert "the master gradebook was modified" not in report
    _, rows = _csv(batch)
    assert rows["perfect"]["score"] == "5" and rows["noisy"]["score"] == "5"
    assert rows["tamper"]["score"] == "5"  # what it earned, not the 100 it wrote privately
    con = sqlite3.connect(batch["course_dir"] / "gradebook.db")
    assert con.execute("SELECT count(*) FROM grade").fetchone()[0] == 2 * 10
    con.close()


def test_feedback_for_graded_students_without_hidden_tests(batch):
    fb = batch["course_dir"] / "feedback"
    graded = {"dies", "limits", "noisy", "partial", "perfect", "tamper", "zero"}
    have = {p.parent.parent.name for p in fb.glob(f"*/{CHAPTER}/{CHAPTER}.html")}
    assert have == graded
    for html in fb.glob(f"*/{CHAPTER}/*.html"):
        text = html.read_text()
        assert "hidden-sentinel" not in text and "HIDDEN TESTS" not in text, html
    # Test cells show the verdict decided outside the sandbox.
    assert "not attempted yet (square still raises NotImplementedError)" in \
        (fb / "zero" / CHAPTER / f"{CHAPTER}.html").read_text()
    assert "[PASSED] square: visible and hidden cases" in (fb / "perfect" / CHAPTER / f"{CHAPTER}.html").read_text()


def test_stock_feedback_started_in_the_course_folder_uses_its_gradebook_and_hides_the_tests(batch):
    """`nbgrader generate_feedback` run by hand in the course folder: the config grade wrote there."""
    cd = batch["course_dir"]
    assert (cd / "nbgrader_config.py").is_file()
    proc = subprocess.run(nbg.nbgrader_cmd("generate_feedback", CHAPTER, "--student", "zero", "--force"), cwd=cd,
                          env=nbg.venv_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    html = (cd / "feedback" / "zero" / CHAPTER / f"{CHAPTER}.html").read_text()
    assert "hidden-sentinel" not in html and "HIDDEN TESTS" not in html
    assert "Exercise <code>square</code>" in html  # the course's feedback page, not nbgrader's default


def test_nothing_left_behind(batch):
    course = batch["course"]
    assert not (course / "gradebook.db").exists() and not (course / ".nbgrader.log").exists()
    assert sorted(p.name for p in course.iterdir()) == ["chapters", "nbgrader_config.py", "solutions"]
    assert (batch["course_dir"] / "autograded" / "perfect" / CHAPTER / f"{CHAPTER}.ipynb").is_file()
    assert not (batch["course_dir"] / "autograded" / "broken").exists()


def test_export_command_rewrites_the_same_csv(batch, tmp_path):
    out = tmp_path / "grades.csv"
    proc = subprocess.run([sys.executable, "-m", "autograder", "export", CHAPTER, "--root", str(batch["course"]),
                           "--course-dir", str(batch["course_dir"]), "--output", str(out)],
                          capture_output=True, text=True, env=nbg.venv_env())
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == _csv(batch)[0]


def test_regrading_one_student_keeps_the_others(batch, tmp_path):
    """A second batch with only 'zero', now solved, updates that row and leaves the rest."""
    subs = tmp_path / "submitted"
    shutil.copytree(batch["subs"] / "perfect", subs / "zero")
    course_dir = tmp_path / "course-dir"
    shutil.copytree(batch["course_dir"], course_dir)
    result = grading.grade(batch["course"], CHAPTER, subs, course_dir, jobs=1, timeout=TIMEOUT,
                           feedback=False, progress=False)
    assert [o.status for o in result.outcomes] == ["graded"]
    _, rows = _csv({"course_dir": course_dir})
    assert rows["zero"]["score"] == "5" and rows["partial"]["score"] == "2" and len(rows) == 10
    # The report is built from the gradebook: every student once, the latest batch named, both batches listed.
    report = (course_dir / "reports" / f"{CHAPTER}-report.txt").read_text()
    assert "10 student(s) in the gradebook, 7 graded, 3 failed; 2 batch(es) on 1 machine(s)" in report
    assert "Latest batch (" in report and "): 1 submission(s), 1 graded, 0 failed" in report
    table = report.split("Verdicts:")[0]
    for student, score in (("zero", "5 / 5"), ("partial", "2 / 5"), ("perfect", "5 / 5"), ("broken", "0 / 5")):
        (line,) = [ln for ln in table.splitlines() if ln.startswith(student + " ")]
        assert score in line, line
    batches = report.split("Batches, newest first:")[1].split("\n\n")[0].strip().splitlines()
    assert len(batches) == 2 and "1 submission(s)" in batches[0] and "10 submission(s)" in batches[1]


def test_plain_assert_tests_are_judged_by_nbgrader_and_reported(tmp_path):
    """A course whose test cells are plain asserts (tests/fixtures/course) still grades, in the
    sandbox; the report says those verdicts were decided inside the kernel."""
    course = tmp_path / "course"
    shutil.copytree(FIXTURE.parent / "course", course)
    shutil.copyfile(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    assert release.release(course, log=lambda m: None) == 0
    for student, src in (("perfect", "solutions"), ("zero", "chapters")):
        (tmp_path / "subs" / student / CHAPTER).mkdir(parents=True)
        shutil.copyfile(course / src / CHAPTER / f"{CHAPTER}.ipynb",
                        tmp_path / "subs" / student / CHAPTER / f"{CHAPTER}.ipynb")
    result = grading.grade(course, CHAPTER, tmp_path / "subs", tmp_path / "cd", jobs=2, timeout=TIMEOUT,
                           feedback=False, progress=False)
    rows = {r["student"]: r for r in csv.DictReader(open(result.csv_path))}
    assert rows["perfect"]["score"] == "5" and rows["zero"]["score"] == "0"
    report = result.report_path.read_text()
    assert "no catalogue of checks found for 00_tiny" in report


# ---------------------------------------------------------------------------------------------
# The real chapters: full marks for the solutions, zero without a crash for the untouched release,
# some points for a partly right one; every test of the release fails on the stubs; chapters/ is
# what nbgrader generates from solutions/.

def _marker_name(chapter):
    """``ch01`` for ``01_activations``: the marker declared in pyproject.toml."""
    return "ch" + chapter.split("_")[0]


REAL_CHAPTERS = [pytest.param(c, marks=getattr(pytest.mark, _marker_name(c))) for c in nbg.chapters_in(REPO)]


def test_every_chapter_has_a_marker():
    declared = (REPO / "pyproject.toml").read_text()
    assert all(f'"{_marker_name(c)}: ' in declared for c in nbg.chapters_in(REPO))


def test_chapters_folder_is_up_to_date_and_leak_free():
    messages = []
    assert release.release(REPO, check=True, log=messages.append) == 0, "\n".join(messages)


@pytest.mark.parametrize("chapter", REAL_CHAPTERS)
def test_real_chapter_round_trip(tmp_path, chapter):
    """solutions -> full marks; the untouched release -> 0 without a crash; every other exercise
    put back to its stub -> some points, not all."""
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copytree(REPO / "solutions" / chapter, course / "solutions" / chapter)
    shutil.copyfile(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    assert release.release(course, [chapter], log=lambda m: None) == 0
    subs = tmp_path / "submitted"
    students = demo.make_submissions(course, chapter, subs)
    shutil.rmtree(subs / "broken")  # covered by the fixture batch
    # No cell of a chapter takes more than a few seconds; a short timeout bounds the rare nbclient
    # stall (a whole timeout, then a second grading) that the grader guards against.
    result = grading.grade(course, chapter, subs, tmp_path / "course-dir", jobs=2, timeout=30, feedback=False,
                           progress=False)
    assert [o.student for o in result.outcomes] == sorted(set(students) - {"broken"})
    rows = {r["student"]: r for r in csv.DictReader(open(result.csv_path))}
    # Full marks on every automatically graded point; written answers wait for manual grading.
    auto = sum(c.points for c in verdict.graded_cells(course, chapter) if c.code)
    assert float(rows["perfect"]["score"]) == auto and rows["perfect"]["status"] == "graded", \
        result.report_path.read_text()
    assert float(rows["untouched"]["score"]) == 0 and rows["untouched"]["status"] == "graded"
    assert 0 < float(rows["partial"]["score"]) < auto
    assert rows["partial"]["status"] == "graded"


@pytest.mark.parametrize("chapter", REAL_CHAPTERS)
def test_every_test_of_the_release_fails_on_the_stubs(chapter):
    notebook = REPO / "chapters" / chapter / f"{chapter}.ipynb"
    proc = nbg.run(nbg.nbgrader_cmd("validate", "--invert", str(notebook)), cwd=REPO, timeout=300)
    assert "does not pass any tests" in proc.stdout, proc.stdout + proc.stderr


def test_demo_grades_into_its_own_gradebook_never_the_course_one(tmp_path):
    """An instructor whose course sets a shared gradebook (db_url) runs the demo: its sample students
    stay in the demo's folder."""
    course = make_course(tmp_path)
    class_db = tmp_path / "class-gradebook.db"
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"\nc.CourseDirectory.db_url = {'sqlite:///' + str(class_db)!r}\n")
    lines = []
    assert demo.demo(course, CHAPTER, tmp_path / "demo", jobs=2, timeout=TIMEOUT, log=lines.append) == 0, lines
    assert not class_db.exists()
    assert (tmp_path / "demo" / "grading" / "gradebook.db").is_file()
    assert any("perfect" in ln and "5 / 5" in ln for ln in lines), "\n".join(lines)


def test_feedback_split_among_processes_covers_each_student_once(batch, tmp_path, monkeypatch):
    course_dir = tmp_path / "course-dir"
    shutil.copytree(batch["course_dir"], course_dir)
    shutil.rmtree(course_dir / "feedback")
    graded = ["dies", "limits", "noisy", "partial", "perfect", "tamper", "zero"]
    monkeypatch.setattr(grading, "FEEDBACK_PER_PROCESS", 2)  # 7 students, 3 processes at once
    fb, problems = grading.generate_feedback(batch["course"], CHAPTER, course_dir, graded, jobs=3)
    assert problems == []
    assert sorted(p.parent.parent.name for p in fb.glob(f"*/{CHAPTER}/{CHAPTER}.html")) == graded
    shutil.rmtree(fb)
    fb, problems = grading.generate_feedback(batch["course"], CHAPTER, course_dir, ["zero", "broken"], jobs=3)
    assert [p.parent.parent.name for p in fb.glob(f"*/{CHAPTER}/{CHAPTER}.html")] == ["zero"]
    assert problems == ["no autograded notebook (grade first) for: broken"]


def test_a_shard_with_a_sqlite_gradebook_grades_its_share_and_says_the_grades_stay_local(batch, tmp_path):
    from autograder import gradebook

    result = grading.grade(batch["course"], CHAPTER, batch["subs"], tmp_path / "cd", jobs=2, timeout=TIMEOUT,
                           feedback=False, progress=False, shard=(2, 3))
    everyone = sorted(p.name for p in batch["subs"].iterdir())
    assert [o.student for o in result.outcomes] == [s for s in everyone if gradebook.shard_of(s, 3) == 2]
    report = result.report_path.read_text()
    assert "with a SQLite gradebook: this machine's grades are in its own file only" in report
    assert f"of the {len(everyone)} submission folder(s) are in shard 2/3" in report
    assert "WARNING: no finished batch of shard 1/3, 3/3" in report
