"""Hostile submissions graded in one batch with honest ones (issue 11).

One batch of the fixture chapter (00_tiny: square 2 points, mean 3 points) in which an honest
student is graded before and after every attacker (tests/hostile/attacks.py: each attack class of
the issue and a few more), and one batch of chapter 1 in which every answer is delegated to nnlib.
They prove: every honest student keeps the exact score it earns; no attacker scores more than its
honest answers earn; the submissions, the course, the master gradebook and a file outside the
course are byte-identical afterwards, and the course's code could not be opened for writing; no
process survives; no feedback contains solution or hidden-test text.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import os
import shutil
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from autograder import grading, nbg, release, sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.grading]

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "checked_course"
CHAPTER = "00_tiny"
TIMEOUT = 4
MEMORY_MB = 1024
SOLUTION_SENTINEL = "solution-sentinel-7f3a"
# The markers as they stand in a source notebook. The bare words ("BEGIN SOLUTION") are constants of the
# course's own public code (autograder/release.py), which the sandbox shows read-only by design.
SOLUTION_MARKER, HIDDEN_MARKER = "### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"
HIDDEN_SENTINEL = "hidden-sentinel-91c2"


def _load_attacks():
    spec = importlib.util.spec_from_file_location("hostile_attacks", REPO / "tests" / "hostile" / "attacks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


attacks = _load_attacks()


@pytest.fixture(scope="module", autouse=True)
def require_sandbox():
    ok, how = sandbox.probe()
    if not ok:
        if os.environ.get("NN_COURSE_ALLOW_NO_SANDBOX"):
            pytest.skip(f"no sandbox here: {how}")
        pytest.fail(f"no sandbox on this machine ({how}); install bubblewrap (.ci/run does), or set "
                    "NN_COURSE_ALLOW_NO_SANDBOX=1 to skip these tests knowingly")


def _tree_hash(path: Path) -> dict:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _set_cell(nb, grade_id, source):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
            return nb
    raise KeyError(grade_id)


def _scores(result):
    rows = {r["student"]: r for r in csv.DictReader(open(result.csv_path))}
    return {s: float(r["score"]) for s, r in rows.items()}, rows


def _alive(marker: str, uids=()) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
            uid = proc.stat().st_uid
        except OSError:
            continue
        if marker.encode() in cmd or uid in uids:
            found.append(f"{proc.name} uid {uid}: {cmd[:120]!r}")
    return found


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    course = tmp / "course"
    shutil.copytree(FIXTURE, course)
    shutil.copyfile(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    assert release.release(course, log=lambda m: None) == 0
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "canary.txt").write_text("the instructor's other files\n")
    course_dir = tmp / "course-dir"
    master = course_dir / "gradebook.db"
    subs = tmp / "submitted"
    marker = f"nn-hostile-{uuid.uuid4().hex}"
    fill = {"repo": str(REPO), "master": str(master), "submissions": str(subs), "canary": str(outside / "canary.txt"),
            "outside": str(outside), "marker": marker, "cwd_up": str(tmp)}

    sol = nbformat.read(str(course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"), as_version=4)
    rel = nbformat.read(str(course / "chapters" / CHAPTER / f"{CHAPTER}.ipynb"), as_version=4)

    def released():
        return nbformat.reads(nbformat.writes(rel), as_version=4)

    def write(student, nb):
        d = subs / student / CHAPTER
        d.mkdir(parents=True)
        nbformat.write(nb, str(d / f"{CHAPTER}.ipynb"))

    honest = {"perfect": 5, "partial": 2, "zero": 0}
    expected = {}
    attackers = {}
    k = 0

    def add_honest():
        nonlocal k
        # mostly perfect students, so that a starved or damaged one shows; one partial and one zero
        kind = {2: "partial", 4: "zero"}.get(k, "perfect")
        name = f"h{k:02d}_{kind}"
        write(name, {"perfect": sol, "zero": released(),
                     "partial": _set_cell(released(), "square_impl", attacks.SQUARE_OK)}[kind])
        expected[name] = honest[kind]
        k += 1

    for attack, code in attacks.attackers():
        add_honest()
        for key, value in fill.items():
            code = code.replace("{" + key + "!r}", repr(value)).replace("{" + key + "}", value)
        name = f"x{k:02d}_{attack}"
        write(name, _set_cell(released(), "square_impl", attacks.SQUARE_OK + code))
        attackers[name] = 2
        k += 1
    for attack, code in attacks.MEAN_FAULTS.items():
        add_honest()
        nb = _set_cell(released(), "square_impl", attacks.SQUARE_OK)
        name = f"x{k:02d}_{attack}"
        write(name, _set_cell(nb, "mean_impl", code))
        attackers[name] = 2
        k += 1
    add_honest()

    before = {"subs": _tree_hash(subs), "course": _tree_hash(course), "outside": _tree_hash(outside)}
    t0 = time.monotonic()
    result = grading.grade(course, CHAPTER, subs, course_dir, jobs=2, timeout=TIMEOUT, memory_limit=MEMORY_MB,
                           progress=False)
    seconds = time.monotonic() - t0
    master_after_batch = master.read_bytes()
    time.sleep(5)  # longer than the detached process waits before it attacks the gradebook
    return {"result": result, "expected": expected, "attackers": attackers, "before": before, "subs": subs,
            "course": course, "outside": outside, "master": master, "master_after_batch": master_after_batch,
            "marker": marker, "seconds": seconds, "course_dir": course_dir}


def test_honest_students_keep_their_exact_scores(hostile):
    scores, rows = _scores(hostile["result"])
    for student, want in hostile["expected"].items():
        assert scores[student] == want, (student, rows[student])
        assert rows[student]["status"] == "graded", rows[student]


def test_no_attacker_scores_more_than_its_honest_answers(hostile):
    scores, rows = _scores(hostile["result"])
    report = hostile["result"].report_path.read_text()
    for student, honest_points in hostile["attackers"].items():
        assert scores[student] <= honest_points, (student, rows[student], report)


def test_a_fault_costs_only_its_exercise(hostile):
    """os._exit, an endless loop that ignores interrupts, a memory bomb: in mean only; square keeps
    its 2 points, and the loop costs about one cell timeout, not a second grading."""
    scores, rows = _scores(hostile["result"])
    outcomes = {o.student: o for o in hostile["result"].outcomes}
    for attack in attacks.MEAN_FAULTS:
        student = next(s for s in hostile["attackers"] if s.endswith(attack))
        assert scores[student] == 2 and rows[student]["test_square"] == "2", (student, rows[student])
        assert rows[student]["status"] == "graded"
        assert outcomes[student].seconds < 3 * TIMEOUT + 20, (student, outcomes[student].seconds)


def test_files_are_byte_identical_and_the_code_was_read_only(hostile):
    assert _tree_hash(hostile["subs"]) == hostile["before"]["subs"]
    assert _tree_hash(hostile["course"]) == hostile["before"]["course"]
    assert _tree_hash(hostile["outside"]) == hostile["before"]["outside"]
    assert hostile["master"].read_bytes() == hostile["master_after_batch"]
    assert not hostile["result"].incidents, hostile["result"].incidents
    for path in (hostile["course_dir"] / "autograded").rglob("*.ipynb"):
        outputs = [o for c in nbformat.read(str(path), as_version=4).cells for o in c.get("outputs", [])]
        assert "BREACH" not in str(outputs), path
    for html in (hostile["course_dir"] / "feedback").rglob("*.html"):
        assert "BREACH " not in html.read_text().replace('"BREACH ', ""), html


def test_no_process_survives(hostile):
    uids = hostile["result"].uids
    assert uids  # the kernels ran as uids of their own
    deadline = time.monotonic() + 30  # a pid namespace's teardown can take a moment on a loaded machine
    while _alive(hostile["marker"], uids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _alive(hostile["marker"], uids) == []


def test_no_feedback_shows_solutions_or_hidden_tests(hostile):
    htmls = list((hostile["course_dir"] / "feedback").rglob("*.html"))
    assert len(htmls) == len(hostile["expected"]) + len(hostile["attackers"])
    for html in htmls:
        text = html.read_text()
        for secret in (SOLUTION_SENTINEL, HIDDEN_SENTINEL, SOLUTION_MARKER, HIDDEN_MARKER):
            if secret in (SOLUTION_SENTINEL, SOLUTION_MARKER) and html.parts[-3].endswith("perfect"):
                continue  # the solution notebook submitted as is: its own cell, not a leak
            assert secret not in text, (html, secret)


def test_the_secrets_were_out_of_reach(hostile):
    """What the read_secrets attacker printed (its cells' outputs): no solution, no hidden test."""
    student = next(s for s in hostile["attackers"] if s.endswith("read_secrets"))
    path = hostile["course_dir"] / "autograded" / student / CHAPTER / f"{CHAPTER}.ipynb"
    outputs = str([o for c in nbformat.read(str(path), as_version=4).cells for o in c.get("outputs", [])])
    assert "environment:" in outputs or "found" in outputs  # it ran
    for secret in (SOLUTION_SENTINEL, HIDDEN_SENTINEL, SOLUTION_MARKER, HIDDEN_MARKER):
        assert secret not in outputs, secret


def test_report_states_the_sandbox_first(hostile):
    report = hostile["result"].report_path.read_text()
    assert report.startswith("Sandbox: each submission's kernel ran in its own sandbox")
    assert "uid" in report.splitlines()[0]
    assert "judged outside the student's code" in report
    assert "processes outlived" not in report


def test_grade_refuses_without_a_sandbox(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "_PROBE", (False, "bubblewrap (bwrap) is not installed"))
    (tmp_path / "subs").mkdir()
    with pytest.raises(grading.SandboxUnavailable, match="--unsafe-no-sandbox"):
        grading.grade(FIXTURE, CHAPTER, tmp_path / "subs", tmp_path / "cd", progress=False)


def test_unsafe_flag_says_so_on_the_first_line(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(FIXTURE, course)
    shutil.copyfile(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    assert release.release(course, log=lambda m: None) == 0
    d = tmp_path / "subs" / "perfect" / CHAPTER
    d.mkdir(parents=True)
    shutil.copyfile(course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb", d / f"{CHAPTER}.ipynb")
    result = grading.grade(course, CHAPTER, tmp_path / "subs", tmp_path / "cd", jobs=1, timeout=TIMEOUT,
                           progress=False, feedback=False, unsafe_no_sandbox=True)
    report = result.report_path.read_text()
    assert report.splitlines()[0].startswith("WARNING: graded WITHOUT a sandbox")
    assert _scores(result)[0] == {"perfect": 5}


# ---------------------------------------------------------------------------------------------
# Chapter 1: delegation to nnlib, closed at the root.

REAL = "01_activations"


@pytest.mark.ch01
@pytest.mark.skipif(REAL not in nbg.chapters_in(REPO), reason="chapter 1 not in solutions/")
def test_delegation_to_nnlib_earns_nothing(tmp_path):
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copytree(REPO / "solutions" / REAL, course / "solutions" / REAL)
    shutil.copyfile(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    assert release.release(course, [REAL], log=lambda m: None) == 0
    sol_path = course / "solutions" / REAL / f"{REAL}.ipynb"
    subs = tmp_path / "submitted"
    for student in ("a_perfect", "z_perfect"):
        (subs / student / REAL).mkdir(parents=True)
        shutil.copyfile(sol_path, subs / student / REAL / f"{REAL}.ipynb")
    nb = nbformat.read(str(sol_path), as_version=4)
    import ast

    k = 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            defs = [n.name for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)]
            if defs:
                cell.source = "\n".join(attacks.DELEGATIONS[(k + i) % len(attacks.DELEGATIONS)].format(name=d)
                                        for i, d in enumerate(defs))
                k += 1
    (subs / "m_delegates" / REAL).mkdir(parents=True)
    nbformat.write(nb, str(subs / "m_delegates" / REAL / f"{REAL}.ipynb"))
    result = grading.grade(course, REAL, subs, tmp_path / "cd", jobs=2, timeout=30, feedback=False, progress=False)
    scores, rows = _scores(result)
    report = result.report_path.read_text()
    from autograder import verdict

    full = sum(c.points for c in verdict.graded_cells(course, REAL) if c.calls)  # written answers: by hand
    assert scores["a_perfect"] == full and scores["z_perfect"] == full, report
    # Delegation earns nothing, except on answers the checks must keep in the sandbox (named in the report).
    judge = grading.BatchJudge(course, REAL, tmp_path / "judge", 1, sandboxed=True)
    judge.close()
    kept = {k.rsplit(".", 1)[1] for k in judge.kept}
    open_points = sum(c.points for c in judge.cells if c.calls and {n for n, _ in c.calls} <= kept)
    assert scores["m_delegates"] <= open_points, report
    assert "not available while chapter 01_activations is graded" in (
        tmp_path / "cd" / "autograded" / "m_delegates" / REAL / f"{REAL}.ipynb").read_text()


# ---------------------------------------------------------------------------------------------
# The pieces, quickly.


def test_only_grade_calls_are_judged_outside():
    from autograder import verdict

    assert verdict.grade_calls('grade("a", a)\n# c\ngrade("a", a, hidden=True)  # s') == [("a", False), ("a", True)]
    assert verdict.grade_calls('grade("a", a, b)') == [("a", False)]
    for source in ('assert a(1) == 1', 'grade("a", a)\nprint(1)', 'grade(name, a)', 'g = grade("a", a)',
                   'grade("a", a, hidden=x)', 'grade("a", *fs)', 'def f(: pass', ''):
        assert verdict.grade_calls(source) is None, source
    generated = verdict.collect_source(f'grade("a", a)\n### BEGIN HIDDEN TESTS\ngrade("a", a, hidden=True)  '
                                       f'# {HIDDEN_SENTINEL}\n### END HIDDEN TESTS')
    assert generated == "grade('a', a)\ngrade('a', a, hidden=True)\n"


def test_similarity_sees_through_renaming_and_docstrings():
    from autograder import verdict

    a = verdict.tokens('def f(x, w):\n    """Doc."""\n    total = x @ w\n    return total + 1\n')
    b = verdict.tokens('def g(inputs, weights):\n    out = inputs @ weights  # mine\n    return out + 1\n')
    c = verdict.tokens('def g(x, w):\n    return (x * w).sum(axis=0) - 1\n')
    assert verdict.similarity(a, b) == 1.0 and verdict.similarity(a, c) < 0.9
    assert verdict.tokens("def (:") == [] and verdict.tokens("x" * (verdict.MAX_SOURCE + 1)) == []


@pytest.mark.ch01
def test_stubs_replace_the_chapters_answers_only(tmp_path):
    from autograder.exercises import activations

    overlays, stubbed, kept = sandbox.stub_sources(activations.CATALOGUE, tmp_path)
    assert "nnlib.activations.sigmoid" in stubbed and not set(kept) & set(stubbed)
    # What the checks themselves need in the sandbox (today: softmax, which draws softmax_backward's
    # inputs) stays real, and is named in the report.
    assert set(kept) <= {f"{f.__module__}.{f.__name__}" for f in activations.CATALOGUE.forbidden}
    (real, stub), = overlays.items()
    assert real.name == "activations.py"
    ns = {"__name__": "stubbed"}
    exec(compile(stub.read_text(), str(stub), "exec"), ns)
    with pytest.raises(RuntimeError, match="not available while chapter 01_activations is graded"):
        ns["sigmoid"](0.0)
    import numpy as np

    if "nnlib.activations.softmax" in kept:
        assert np.allclose(ns["softmax"](np.zeros(3)), 1 / 3)
