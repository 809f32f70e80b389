"""Collecting an LMS's zip into nbgrader's layout, and exporting grades in the shape the LMS imports."""

from __future__ import annotations

import csv
import zipfile

import pytest

from autograder import lms

CHAPTER = "01_activations"
NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def test_canvas_zip_late_resubmission_renamed_stray_and_hostile_entries(tmp_path):
    archive = _zip(tmp_path / "canvas.zip", {
        f"doejane_1001_5001_{CHAPTER}.ipynb": b"jane first " + NOTEBOOK,
        f"doejane_1001_5002_{CHAPTER}-1.ipynb": b"jane second " + NOTEBOOK,  # a resubmission: this one counts
        f"roeric_LATE_1002_5003_{CHAPTER}.ipynb": NOTEBOOK,
        f"leeann_1003_5004_{CHAPTER} (copy).ipynb": NOTEBOOK,  # renamed: still her only notebook
        "leeann_1003_5005_notes.pdf": b"%PDF",
        "../../etc/evil_1004_5006_x.ipynb": NOTEBOOK,  # a path: never extracted by name
        "README.txt": b"hello",
    })
    subs = tmp_path / "submitted"
    report = lms.collect(archive, CHAPTER, subs)
    assert report.lms == "canvas"
    assert sorted(u.student for u in report.collected) == ["1001", "1002", "1003"]
    assert (subs / "1001" / CHAPTER / f"{CHAPTER}.ipynb").read_bytes().startswith(b"jane second")
    assert (subs / "1003" / CHAPTER / f"{CHAPTER}.ipynb").is_file()
    assert not (tmp_path / "etc").exists() and not list(subs.glob("*evil*"))
    text = report.text()
    assert "1 late" in text and "late: 1002 (roeric)" in text
    assert "duplicate: 1001 (doejane)" in text and f"kept 'doejane_1001_5002_{CHAPTER}-1.ipynb'" in text
    assert "renamed: 1003 (leeann)" in text and "not a notebook: 'leeann_1003_5005_notes.pdf'" in text
    assert "unmatched: 'README.txt'" in text and "unmatched: '../../etc/evil_1004_5006_x.ipynb'" in text
    roster = lms.read_roster(subs / "roster.csv")
    assert roster["1001"]["name"] == "doejane" and roster["1002"]["lms"] == "canvas"


def test_moodle_zip_folders_per_student(tmp_path):
    archive = _zip(tmp_path / "moodle.zip", {
        f"Jane Doe_2001_assignsubmission_file_/{CHAPTER}.ipynb": NOTEBOOK,
        f"Eric Roe_2002_assignsubmission_file_/{CHAPTER}.ipynb": NOTEBOOK,
        "Eric Roe_2002_assignsubmission_file_/scratch.py": b"print()",
        "Ann Lee_2003_assignsubmission_file_/essay.docx": b"PK",
    })
    report = lms.collect(archive, CHAPTER, tmp_path / "submitted")
    assert report.lms == "moodle"
    assert sorted(u.student for u in report.collected) == ["2001", "2002"]
    assert "no notebook: 2003 (Ann Lee)" in report.text()
    assert "not a notebook: 'Eric Roe_2002_assignsubmission_file_/scratch.py'" in report.text()


def test_a_late_batch_replaces_only_its_own_students(tmp_path):
    subs = tmp_path / "submitted"
    lms.collect(_zip(tmp_path / "a.zip", {f"doejane_1001_1_{CHAPTER}.ipynb": b"a" + NOTEBOOK,
                                          f"roeric_1002_2_{CHAPTER}.ipynb": b"b" + NOTEBOOK}), CHAPTER, subs)
    lms.collect(_zip(tmp_path / "b.zip", {f"roeric_LATE_1002_3_{CHAPTER}-1.ipynb": b"c" + NOTEBOOK}), CHAPTER, subs)
    assert (subs / "1001" / CHAPTER / f"{CHAPTER}.ipynb").read_bytes().startswith(b"a")
    assert (subs / "1002" / CHAPTER / f"{CHAPTER}.ipynb").read_bytes().startswith(b"c")
    assert set(lms.read_roster(subs / "roster.csv")) == {"1001", "1002"}


def test_an_oversized_notebook_is_reported_not_collected(tmp_path, monkeypatch):
    monkeypatch.setattr(lms, "MAX_NOTEBOOK_BYTES", 10)
    report = lms.collect(_zip(tmp_path / "z.zip", {f"doejane_1001_1_{CHAPTER}.ipynb": NOTEBOOK}), CHAPTER, tmp_path / "s")
    assert report.collected == [] and "too large" in report.text()


def _grades(reports, chapter, rows, maximum):
    reports.mkdir(parents=True, exist_ok=True)
    with (reports / f"{chapter}-grades.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "chapter", "score", "max_score", "status"])
        for student, score in rows.items():
            writer.writerow([student, chapter, score, maximum, "graded"])


def test_canvas_and_moodle_exports(tmp_path):
    reports = tmp_path / "reports"
    _grades(reports, "01_activations", {"1001": 16, "1002": 7.5}, 16)
    _grades(reports, "02_losses", {"1001": 18}, 18)
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name,lms\n1001,doejane,canvas\n1002,roeric,canvas\n")
    [canvas] = lms.lms_export(reports, tmp_path / "out", lms="canvas", roster=roster)
    rows = list(csv.reader(canvas.open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "01_activations", "02_losses"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][5:] == ["16", "18"]
    assert rows[2] == ["doejane", "1001", "", "", "", "16", "18"]
    assert rows[3] == ["roeric", "1002", "", "", "", "7.5", ""]  # no chapter-2 grade: left empty, not 0
    moodle = lms.lms_export(reports, tmp_path / "out", lms="moodle", roster=roster)
    first = list(csv.reader(moodle[0].open()))
    assert first[0] == ["Identifier", "Full name", "Grade", "Maximum Grade"]
    assert first[1] == ["Participant 1001", "doejane", "16", "16"]
    # Written beside the grades CSVs, the import files are never read back as a chapter's grades.
    assert len(lms.lms_export(reports, reports, lms="canvas")) == 1
    assert [p.name for p in lms.lms_export(reports, reports, lms="canvas")] == ["canvas-import.csv"]
    rows = list(csv.reader((reports / "canvas-import.csv").open()))
    assert rows[0][5:] == ["01_activations", "02_losses"]
    with pytest.raises(ValueError, match="unknown LMS"):
        lms.lms_export(reports, tmp_path / "out", lms="blackboard")
    with pytest.raises(FileNotFoundError, match="grades.csv"):
        lms.lms_export(tmp_path / "empty", tmp_path / "out", lms="canvas")
