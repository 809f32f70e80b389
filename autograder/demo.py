"""``demo``: the whole grading pipeline on a temporary copy of the course, with no setup.

Copies the course (``solutions/``, ``nbgrader_config.py``) into a temporary folder, generates the
release there, makes four submissions, grades them and prints the results:

- ``perfect``: the solution notebook itself (full marks);
- ``untouched``: the release as students get it (zero, without crashing);
- ``partial``: the solutions with every other exercise put back to the release's stub;
- ``broken``: a file that is not valid JSON (reported, graded zero, the batch goes on).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from autograder import nbg


def make_partial(solution_nb, release_nb):
    """The solution notebook with every other solution cell replaced by its release stub."""
    import copy

    nb = copy.deepcopy(solution_nb)
    stubs = {c.metadata["nbgrader"]["grade_id"]: c for c in release_nb.cells
             if c.metadata.get("nbgrader", {}).get("solution")}
    k = 0
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in stubs:
            if k % 2 == 1:
                nb.cells[i] = copy.deepcopy(stubs[meta["grade_id"]])
            k += 1
    return nb


def make_submissions(course: Path, chapter: str, dest: Path) -> list[str]:
    import nbformat

    src = course / nbg.SOURCE_DIR / chapter
    rel = course / nbg.RELEASE_DIR / chapter
    made = {"perfect": src, "untouched": rel, "partial": None, "broken": None}
    for student in made:
        (dest / student / chapter).mkdir(parents=True)
    for nb_path in sorted(rel.glob("*.ipynb")):
        name = nb_path.name
        shutil.copyfile(src / name, dest / "perfect" / chapter / name)
        shutil.copyfile(nb_path, dest / "untouched" / chapter / name)
        partial = make_partial(nbformat.read(str(src / name), as_version=4),
                               nbformat.read(str(nb_path), as_version=4))
        nbformat.write(partial, str(dest / "partial" / chapter / name))
        (dest / "broken" / chapter / name).write_text(nb_path.read_text()[:200])  # truncated JSON
    return list(made)


def demo(root: Path, chapter: str | None = None, workdir: Path | None = None, jobs: int | None = None,
         timeout: int | None = None, memory_limit: int = 2048, log=print) -> int:
    from autograder import grading, release

    root = Path(root).resolve()
    chapters = nbg.chapters_in(root)
    if not chapters:
        log(f"error: no chapters in {root}/solutions")
        return 2
    chapter = chapter or chapters[0]
    if chapter not in chapters:
        log(f"error: no chapter {chapter!r} (have: {', '.join(chapters)})")
        return 2
    work = Path(workdir).resolve() if workdir else Path(tempfile.mkdtemp(prefix="nn-course-demo-"))
    course = work / "course"
    log(f"demo folder: {work}")
    nbg.copy_tree(root / nbg.SOURCE_DIR / chapter, course / nbg.SOURCE_DIR / chapter)
    cfg = nbg.config_file(root)
    if cfg is not None:
        shutil.copyfile(cfg, course / nbg.CONFIG_NAME)
        # Sample students never reach the course's own gradebook, even a shared PostgreSQL one.
        with open(course / nbg.CONFIG_NAME, "a") as f:
            f.write(f"\n# The demo's own gradebook.\nc.CourseDirectory.db_url = "
                    f"{'sqlite:///' + str(work / 'grading' / 'gradebook.db')!r}\n")
    log(f"1. generating the release of {chapter} (nbgrader generate_assignment)")
    if release.release(course, [chapter], log=lambda m: log("   " + m)) != 0:
        return 1
    students = make_submissions(course, chapter, work / "submitted")
    log(f"2. made {len(students)} submissions in {work / 'submitted'}: {', '.join(students)}")
    from autograder import sandbox

    ok, how = sandbox.probe()
    log("3. grading them" + ("" if ok else f" WITHOUT a sandbox ({how}); these sample submissions are harmless, "
                             "but `grade` on real ones refuses to run without one"))
    result = grading.grade(course, chapter, work / "submitted", work / "grading", jobs=jobs,
                           timeout=timeout, memory_limit=memory_limit, unsafe_no_sandbox=not ok)
    log("")
    log(result.report_path.read_text().rstrip())
    log("")
    log(f"report:   {result.report_path}")
    log(f"CSV:      {result.csv_path}")
    log(f"feedback: {result.feedback_dir}")
    log(f"(remove {work} when done)")
    return 0
