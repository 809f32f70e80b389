"""``collect`` and ``lms-export``: submissions in from an LMS's zip, grades out in the CSV it imports.

Canvas and Moodle both hand an instructor one zip of every student's upload for an assignment:

- Canvas: ``<lastfirst>_<user id>_<submission id>_<file>`` at the top level, with ``_LATE_`` after the
  name for a late submission, and ``-1``, ``-2``... before the extension for a resubmission;
- Moodle: ``<Full Name>_<participant id>_assignsubmission_file_/<file>`` (a folder per student).

``collect`` puts each student's notebook where ``grade`` reads it, nbgrader's layout
``SUBMISSIONS/<student id>/<chapter>/<chapter>.ipynb``, the student id being the LMS's own id (so that
grades go back to the right row), and writes ``SUBMISSIONS/roster.csv`` (student, name, lms). The
report lists every entry of the zip that was not used and why: unmatched names, files that are not
notebooks, duplicates (the newest resubmission is kept), late submissions, renamed notebooks.
Nothing is extracted by path: only notebook members are read, by name and within a size limit, so a
hostile archive cannot write outside ``SUBMISSIONS``.

nbgrader's ``zip_collect`` takes one file-name regex and a course folder; it reports neither late
nor duplicate uploads in a form an instructor can act on, so the two LMS layouts are parsed here.

``lms_export`` reads the grades CSVs that ``grade``/``export`` write (``reports/<chapter>-grades.csv``)
and writes one CSV in the shape the LMS imports: Canvas's gradebook CSV (``Student, ID, SIS User ID,
SIS Login ID, Section``, a ``Points Possible`` row, one column per chapter) or Moodle's grading
worksheet (``Identifier, Full name, Grade, Maximum Grade``, one file per chapter).
"""

from __future__ import annotations

import csv
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

#: A notebook larger than this is not a student's notebook (outputs included, chapters are < 2 MB).
MAX_NOTEBOOK_BYTES = 50 * 2**20

CANVAS = re.compile(r"^(?P<name>[a-z0-9]+)(?P<late>_LATE)?_(?P<id>\d+)_(?P<submission>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_file_$")
RESUBMISSION = re.compile(r"^(?P<stem>.*?)-(?P<n>\d+)$")


@dataclass
class Upload:
    student: str
    name: str
    member: str  # the zip member it comes from
    filename: str  # the file name the student uploaded
    late: bool = False
    attempt: int = 0  # Canvas's -N resubmission number (0: the first upload)


@dataclass
class CollectReport:
    chapter: str
    lms: str
    collected: list[Upload] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one sentence per zip entry not used, or used with a caveat

    def text(self) -> str:
        late = [u for u in self.collected if u.late]
        lines = [f"collect {self.chapter} from a {self.lms} zip: {len(self.collected)} students, {len(late)} late"]
        lines += [f"  late: {u.student} ({u.name})" for u in late]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


def _canvas_upload(member: str) -> tuple[Upload | None, str | None]:
    match = CANVAS.match(PurePosixPath(member).name)
    if "/" in member.strip("/") or not match:
        return None, f"unmatched: {member!r} is not a Canvas submission name (<name>_<user id>_<submission id>_<file>)"
    filename, attempt = match["file"], 0
    stem, suffix = filename.rsplit(".", 1) if "." in filename else (filename, "")
    resubmission = RESUBMISSION.match(stem)
    if resubmission:
        filename, attempt = f"{resubmission['stem']}.{suffix}" if suffix else resubmission["stem"], int(resubmission["n"])
    return Upload(match["id"], match["name"], member, filename, late=bool(match["late"]), attempt=attempt), None


def _moodle_upload(member: str) -> tuple[Upload | None, str | None]:
    parts = PurePosixPath(member).parts
    match = MOODLE.match(parts[0]) if len(parts) == 2 else None
    if not match:
        return None, f"unmatched: {member!r} is not a Moodle submission (<Full Name>_<id>_assignsubmission_file_/<file>)"
    return Upload(match["id"], match["name"], member, parts[1]), None


def detect_lms(names: list[str]) -> str:
    """'moodle' if the entries are Moodle's per-student folders, else 'canvas'."""
    moodle = sum(bool(MOODLE.match(PurePosixPath(n).parts[0])) for n in names if "/" in n)
    return "moodle" if moodle > len(names) / 2 else "canvas"


def _choose(uploads: list[Upload], chapter: str, report: CollectReport) -> Upload | None:
    """The one notebook of a student to grade, reporting the others."""
    notebooks = [u for u in uploads if u.filename.lower().endswith(".ipynb")]
    for u in uploads:
        if u not in notebooks:
            report.problems.append(f"not a notebook: {u.member!r} ({u.student}, {u.name}) was skipped")
    if not notebooks:
        report.problems.append(f"no notebook: {uploads[0].student} ({uploads[0].name}) uploaded none; not collected")
        return None
    exact = [u for u in notebooks if u.filename == f"{chapter}.ipynb"] or notebooks
    chosen = max(exact, key=lambda u: u.attempt)
    for u in notebooks:
        if u is not chosen:
            report.problems.append(f"duplicate: {u.student} ({u.name}) also uploaded {u.member!r}; kept {chosen.member!r}")
    if chosen.filename != f"{chapter}.ipynb":
        report.problems.append(f"renamed: {chosen.student} ({chosen.name}) uploaded {chosen.filename!r}; graded as {chapter}.ipynb")
    return chosen


def collect(archive: Path, chapter: str, submissions: Path, *, lms: str | None = None) -> CollectReport:
    """Put the notebooks of an LMS's zip into ``submissions/<student>/<chapter>/<chapter>.ipynb``.

    A student already in ``submissions`` (an earlier batch) is replaced only by a new upload of theirs;
    every other student's folder is left as it is. ``roster.csv`` gains the new names.
    """
    submissions = Path(submissions)
    with zipfile.ZipFile(archive) as zf:
        members = [info for info in zf.infolist() if not info.is_dir()]
        names = [info.filename for info in members]
        lms = lms or detect_lms(names)
        parse = {"canvas": _canvas_upload, "moodle": _moodle_upload}[lms]
        report = CollectReport(chapter, lms)
        by_student: dict[str, list[Upload]] = {}
        sizes = {info.filename: info.file_size for info in members}
        for name in names:
            upload, problem = parse(name)
            if problem:
                report.problems.append(problem)
            else:
                by_student.setdefault(upload.student, []).append(upload)
        for student in sorted(by_student):
            chosen = _choose(by_student[student], chapter, report)
            if chosen is None:
                continue
            if sizes[chosen.member] > MAX_NOTEBOOK_BYTES:
                report.problems.append(f"too large: {chosen.member!r} is {sizes[chosen.member] / 2**20:.0f} MB; not collected")
                continue
            target = submissions / student / chapter / f"{chapter}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(chosen.member))
            report.collected.append(chosen)
    _update_roster(submissions / "roster.csv", report)
    return report


def _update_roster(path: Path, report: CollectReport) -> None:
    roster = read_roster(path)
    for u in report.collected:
        roster[u.student] = {"student": u.student, "name": u.name, "lms": report.lms}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["student", "name", "lms"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(roster[s] for s in sorted(roster))


def read_roster(path: Path) -> dict[str, dict]:
    if not Path(path).is_file():
        return {}
    with Path(path).open(newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def _read_grades(path: Path) -> tuple[dict[str, float], float]:
    """``{student: score}`` and the chapter's maximum, from one ``<chapter>-grades.csv``."""
    scores, maximum = {}, 0.0
    with Path(path).open(newline="") as f:
        for row in csv.DictReader(f):
            scores[row["student"]] = float(row["score"] or 0)
            maximum = max(maximum, float(row["max_score"] or 0))
    return scores, maximum


def lms_export(reports: Path, out: Path, *, lms: str, roster: Path | None = None) -> list[Path]:
    """Write the LMS's import CSV(s) from every ``reports/<chapter>-grades.csv``; return the paths."""
    grade_files = sorted(Path(reports).glob("*-grades.csv"))
    if not grade_files:
        raise FileNotFoundError(f"no <chapter>-grades.csv in {reports}: run grade (or export) first.")
    names = read_roster(roster) if roster else {}
    chapters = {p.name[: -len("-grades.csv")]: _read_grades(p) for p in grade_files}
    students = sorted({s for scores, _ in chapters.values() for s in scores})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if lms == "canvas":
        path = out / "canvas-import.csv"
        with path.open("w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *chapters])
            writer.writerow(["    Points Possible", "", "", "", "", *(f"{m:g}" for _, m in chapters.values())])
            for s in students:
                scores = [chapters[c][0].get(s, "") for c in chapters]
                writer.writerow([names.get(s, {}).get("name", s), s, "", "", "", *(f"{v:g}" if v != "" else "" for v in scores)])
        return [path]
    if lms == "moodle":
        paths = []
        for chapter, (scores, maximum) in chapters.items():
            path = out / f"moodle-{chapter}.csv"
            with path.open("w", newline="") as f:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(["Identifier", "Full name", "Grade", "Maximum Grade"])
                for s in sorted(scores):
                    writer.writerow([f"Participant {s}", names.get(s, {}).get("name", s), f"{scores[s]:g}", f"{maximum:g}"])
            paths.append(path)
        return paths
    raise ValueError(f"unknown LMS {lms!r}; expected 'canvas' or 'moodle'.")
