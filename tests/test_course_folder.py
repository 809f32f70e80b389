"""One course folder: stock nbgrader commands, from the repository root or from course/, share one gradebook."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from autograder import nbg

pytestmark = pytest.mark.grading

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "checked_course"


def nbgrader(cwd, *args):
    proc = subprocess.run(nbg.nbgrader_cmd(*args), cwd=cwd, env=nbg.venv_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout + proc.stderr


def test_root_and_course_folder_commands_share_the_gradebook(tmp_path):
    repo = tmp_path / "repo"  # shaped like this repository: nnlib/, solutions/, the course's config
    shutil.copytree(FIXTURE, repo)
    shutil.copyfile(REPO / "nbgrader_config.py", repo / "nbgrader_config.py")
    (repo / "nnlib").mkdir()
    nbgrader(repo, "generate_assignment", "00_tiny", "--force")
    assert (repo / "chapters" / "00_tiny" / "00_tiny.ipynb").is_file()  # the release, where students get it
    assert (repo / "course" / "gradebook.db").is_file() and not (repo / "gradebook.db").exists()
    nbgrader(repo, "db", "student", "add", "alice")
    nbg.write_course_config(repo, repo / "course")
    course = repo / "course"
    assert "alice" in nbgrader(course, "db", "student", "list")
    assert "00_tiny" in nbgrader(course, "db", "assignment", "list")  # what formgrader's assignments page lists


def test_a_temporary_copy_of_the_config_keeps_its_own_folder(tmp_path):
    """The grader's private copies of the config (no nnlib/ beside them) stay relative to their folder."""
    work = tmp_path / "work"
    shutil.copytree(FIXTURE, work)
    shutil.copyfile(REPO / "nbgrader_config.py", work / "nbgrader_config.py")
    nbgrader(work, "generate_assignment", "00_tiny", "--force")
    assert (work / "gradebook.db").is_file() and not (work / "course").exists()
