"""The instructor's command line: ``python -m autograder <command>`` (also ``nn-course``).

Every command takes ``--root DIR``, the course root holding ``solutions/``, ``chapters/`` and
``nbgrader_config.py`` (default: this repository). nbgrader always runs in temporary folders; the
repository never gets a gradebook or a log.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DESCRIPTION = """\
The course's grading pipeline (wraps nbgrader 0.9).

commands:
  release [CHAPTER ...] [--check]
        regenerate chapters/ from solutions/ (nbgrader generate_assignment, throwaway gradebook);
        checks that no solution or hidden-test text reaches the release. --check only compares:
        exit 1 and list the differing files if chapters/ is out of date.
  check NOTEBOOK
        what students run: execute the notebook headless and print each graded exercise as
        passed / failed (reason) / not attempted, and the score the grader would give (each graded
        cell's hidden cases are run too; widgets are shown as text). Exit 0 unless it cannot be read.
  student-edition OUT
        write the folder students get: the released chapters, nnlib, the checks, a student README,
        pinned requirements and a JupyterLab without nbgrader's instructor panels; no solutions/,
        hidden tests, tests/ or instructor configuration (checked before it is written).
  collect CHAPTER ZIP --submissions DIR
        put the notebooks of a Canvas or Moodle submissions zip into nbgrader's layout
        DIR/<student id>/CHAPTER/CHAPTER.ipynb, reporting late, duplicate, renamed and stray files.
  grade CHAPTER --submissions DIR
        autograde DIR/<student>/CHAPTER/ (nbgrader's submitted/ layout) in parallel, one
        `nbgrader autograde --student X` per student in a private course folder, each student's
        kernel in a sandbox (bubblewrap: no network, no view of solutions/ or other files), with
        time and memory limits and a progress bar; the points of each graded cell are decided
        outside the sandbox; record the grades in the course's gradebook, then generate feedback,
        the grades CSV and the report (so `feedback` and `export` are part of `grade`). Refuses to
        run without a sandbox unless --unsafe-no-sandbox. --shard K/N grades only the students of
        shard K of N (a hash of the id), for N machines sharing one PostgreSQL gradebook.
  feedback CHAPTER      (re)generate feedback HTML from the gradebook (hidden tests cleared)
  export CHAPTER        (re)write the grades CSV and the report from the gradebook (every
                        student, whichever batch or machine graded it)
  lms-export {canvas,moodle}
        turn every COURSE_DIR/reports/<chapter>-grades.csv into the CSV the LMS imports
        (COURSE_DIR/reports/canvas-import.csv, or moodle-<chapter>.csv per chapter).
  demo [--chapter CHAPTER]
        end to end on a temporary copy of the course: perfect, untouched, partly right and broken
        submissions, graded, with the report, feedback and CSV paths and the score table.

outputs of grade / feedback / export (COURSE_DIR defaults to ROOT/course, git-ignored):
  COURSE_DIR/gradebook.db                            nbgrader's gradebook (formgrader can open it),
                                                      unless nbgrader_config.py sets
                                                      c.CourseDirectory.db_url (e.g. PostgreSQL)
  COURSE_DIR/autograded/<student>/<chapter>/          executed, graded notebooks
  COURSE_DIR/feedback/<student>/<chapter>/*.html      feedback for students
  COURSE_DIR/reports/<chapter>-grades.csv             student, chapter, score, max_score,
                                                      one column per graded cell, status
  COURSE_DIR/reports/<chapter>-report.txt             the summary, with a reason for every failure
"""


def _common(root_default: Path) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--root", type=Path, default=root_default,
                   help="course root with solutions/ and chapters/ (default: %(default)s)")
    return p


def _grading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--course-dir", type=Path, default=None,
                   help="nbgrader course folder for the gradebook and outputs (default: ROOT/course)")


def build_parser() -> argparse.ArgumentParser:
    from autograder.nbg import default_root

    common = _common(default_root())
    parser = argparse.ArgumentParser(prog="python -m autograder", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("release", parents=[common], help="regenerate or check chapters/")
    p.add_argument("chapters", nargs="*", metavar="CHAPTER", help="default: every chapter in solutions/")
    p.add_argument("--check", action="store_true", help="compare only; exit 1 if chapters/ is out of date")

    p = sub.add_parser("check", parents=[common], help="run a notebook and show its graded exercises")
    p.add_argument("notebook", type=Path, metavar="NOTEBOOK")
    p.add_argument("--timeout", type=int, default=120, help="per-cell timeout in seconds (default 120)")

    p = sub.add_parser("student-edition", parents=[common], help="write the student edition into a new folder")
    p.add_argument("out", type=Path, metavar="OUT")

    p = sub.add_parser("collect", parents=[common], help="an LMS's submissions zip into nbgrader's layout")
    p.add_argument("chapter", metavar="CHAPTER")
    p.add_argument("archive", type=Path, metavar="ZIP")
    p.add_argument("--submissions", type=Path, required=True, help="where to write <student>/CHAPTER/")
    p.add_argument("--lms", choices=("canvas", "moodle"), default=None, help="default: detected from the zip")

    p = sub.add_parser("grade", parents=[common], help="autograde a folder of submissions")
    p.add_argument("chapter", metavar="CHAPTER")
    p.add_argument("--submissions", type=Path, required=True,
                   help="folder of <student>/<CHAPTER>/ (or a course folder containing submitted/)")
    _grading_options(p)
    p.add_argument("--jobs", type=int, default=None, help="students graded at once (default: cores)")
    p.add_argument("--timeout", type=int, default=None,
                   help="per-cell timeout in seconds (default: Execute.timeout in nbgrader_config.py, 30)")
    p.add_argument("--memory-limit", type=int, default=2048, metavar="MB",
                   help="address-space limit of each grading process and its kernel (default 2048; 0: none)")
    p.add_argument("--no-feedback", action="store_true", help="skip nbgrader generate_feedback")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--keep-workdirs", action="store_true", help="keep the private course folders (debugging)")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="grade without the per-submission sandbox (bubblewrap): student code then runs with "
                        "the grader's rights. Without it, grade refuses to run where no sandbox is available")
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="grade only shard K of N (students split by a hash of their id), e.g. 1/3 on the "
                        "first of three machines writing into one PostgreSQL gradebook")
    p.add_argument("--no-fork", action="store_true",
                   help="start every nbgrader process from scratch instead of forking a warm one "
                        "(about 1 s more per student)")

    p = sub.add_parser("feedback", parents=[common], help="generate feedback HTML from the gradebook")
    p.add_argument("chapter", metavar="CHAPTER")
    _grading_options(p)
    p.add_argument("--student", default=None, help="one student (default: all)")

    p = sub.add_parser("export", parents=[common], help="write the grades CSV and the report from the gradebook")
    p.add_argument("chapter", metavar="CHAPTER")
    _grading_options(p)
    p.add_argument("--output", type=Path, default=None,
                   help="CSV path (default: COURSE_DIR/reports/CHAPTER-grades.csv)")

    p = sub.add_parser("lms-export", parents=[common], help="the grades CSVs in the shape an LMS imports")
    p.add_argument("lms", choices=("canvas", "moodle"))
    _grading_options(p)
    p.add_argument("--roster", type=Path, default=None,
                   help="roster.csv written by collect, for the students' names (default: none)")

    p = sub.add_parser("demo", parents=[common], help="end-to-end demonstration in a temporary folder")
    p.add_argument("--chapter", default=None, help="default: the first chapter in solutions/")
    p.add_argument("--workdir", type=Path, default=None, help="folder to use (default: a new temporary one)")
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    return parser


def _cmd_release(args) -> int:
    from autograder.release import release

    return release(args.root, args.chapters, check=args.check)


def _cmd_check(args) -> int:
    from autograder import notebook_check

    return notebook_check.report(args.notebook, timeout=args.timeout)


def _cmd_grade(args) -> int:
    from autograder import gradebook, grading

    try:
        shard = gradebook.parse_shard(args.shard) if args.shard else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = grading.grade(args.root, args.chapter, args.submissions, args.course_dir, jobs=args.jobs,
                               timeout=args.timeout, memory_limit=args.memory_limit,
                               feedback=not args.no_feedback, progress=not args.no_progress,
                               keep_workdirs=args.keep_workdirs, fork=not args.no_fork,
                               unsafe_no_sandbox=args.unsafe_no_sandbox, shard=shard)
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.report_path.read_text().rstrip())
    print(f"\nreport written to {result.report_path}")
    return 0


def _course_dir(args) -> Path:
    return (args.course_dir or Path(args.root) / "course").resolve()


def _cmd_feedback(args) -> int:
    from autograder import grading

    out, problems = grading.generate_feedback(args.root, args.chapter, _course_dir(args),
                                              [args.student] if args.student else None)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"feedback: {out}/<student>/{args.chapter}/*.html")
    return 1 if problems else 0


def _cmd_export(args) -> int:
    from autograder import grading

    from nbgrader.api import MissingEntry

    try:
        path = grading.export_csv(args.root, args.chapter, _course_dir(args), path=args.output)
    except MissingEntry:
        print(f"error: no {args.chapter} in the gradebook yet: grade it first", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # e.g. gradebook.GradebookSettingError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = grading.write_report(args.root, args.chapter, _course_dir(args), csv_path=path)
    print(f"grades CSV: {path}\nreport:     {report}")
    return 0


def _cmd_student_edition(args) -> int:
    from autograder import edition

    try:
        out = edition.build(args.out, args.root)
    except (FileExistsError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"student edition: {out} (publish this folder, never the repository)")
    return 0


def _cmd_collect(args) -> int:
    from autograder import lms

    report = lms.collect(args.archive, args.chapter, args.submissions, lms=args.lms)
    print(report.text())
    return 0


def _cmd_lms_export(args) -> int:
    from autograder import lms

    reports = _course_dir(args) / "reports"
    try:
        paths = lms.lms_export(reports, reports, lms=args.lms, roster=args.roster)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"{args.lms} grades: {path}")
    return 0


def _cmd_demo(args) -> int:
    from autograder.demo import demo

    return demo(args.root, args.chapter, args.workdir, jobs=args.jobs, timeout=args.timeout)


def main(argv: list[str] | None = None) -> int:
    from autograder.nbg import skip_slow_imports

    skip_slow_imports()
    args = build_parser().parse_args(argv)
    args.root = Path(args.root).resolve()
    handler = {"release": _cmd_release, "check": _cmd_check, "student-edition": _cmd_student_edition,
               "collect": _cmd_collect, "grade": _cmd_grade, "feedback": _cmd_feedback, "export": _cmd_export,
               "lms-export": _cmd_lms_export, "demo": _cmd_demo}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
