"""``student-edition OUT``: the folder students get, built from this repository.

It holds what a student needs and nothing an instructor must keep: the released chapters, nnlib,
the check engine and the chapters' catalogues (``check`` in the notebooks and ``python -m
autograder check`` work as in the repository), a README for students, pinned requirements and
the student's JupyterLab settings. It leaves out ``solutions/``, the hidden tests (they live only
in ``solutions/``), ``tests/``, the instructor's nbgrader configuration and the grading pipeline.

Built from an allow-list, so a new instructor file is left out until someone decides otherwise;
``leaks()`` then checks every file against the solution notebooks' secret lines.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from autograder import release

REPO = Path(__file__).resolve().parents[1]

#: What the student edition takes from autograder/: the checks that run in notebooks and the student CLI.
STUDENT_MODULES = ("__init__.py", "checks.py", "notebook_check.py", "student_cli.py", "exercises")
#: Direct dependencies students need (pinned as in requirements.txt); nbgrader gives the Validate button.
STUDENT_REQUIREMENTS = ("jupyterlab", "numpy", "matplotlib", "ipywidgets", "nbgrader")
#: nbgrader's instructor panels and the exchange-based assignment list (no exchange on a laptop).
DISABLED_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                        "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:menu",
                        "@jupyterlab/apputils-extension:announcements")
DISABLED_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list",
                              "nbgrader.server_extensions.assignment_list")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")

STUDENT_README = """\
# Neural networks from first principles: student edition

You build neural networks yourself, in numpy, one chapter at a time. Every function you write is
checked against `nnlib`, the course's reference library, and the check tells you why an answer is
wrong: the expected and actual shape or dtype, the worst element, and the likely cause.

## Set up (once)

You need Python 3.11 or newer ([python.org](https://www.python.org/downloads/); on Windows tick
"Add python.exe to PATH" in the installer). In a terminal, in this folder:

| | |
|---|---|
| Linux, macOS | `python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt` |
| Windows (PowerShell) | `py -m venv .venv; .venv\\Scripts\\Activate.ps1; pip install -r requirements.txt` |

## Work

```
python -m autograder lab
```

copies every chapter you do not have yet from `chapters/` into `work/` and opens JupyterLab there
(next time, activate the environment again first: `. .venv/bin/activate`, or
`.venv\\Scripts\\Activate.ps1` on Windows). Work only in `work/`: `chapters/` is the pristine release,
and a new edition of the course replaces it without touching your files; `python -m autograder
start` then copies only the chapters that are new.

In a chapter: read, replace each `raise NotImplementedError()` with your code, and run the check
cell under the exercise. Run All keeps going past unfinished exercises, so every plot shows
(drawing the reference until your function works). The **Validate** button in the notebook's
toolbar runs every test of the notebook. From a terminal, the score the grader would give:

```
python -m autograder check work/01_activations/01_activations.ipynb
```

## Submit

Upload your notebook, `work/<chapter>/<chapter>.ipynb`, with its name unchanged, where your
instructor says (your course's LMS assignment, or the Assignments tab of your course's
JupyterHub). Do not rename it, and do not delete or edit the locked test cells: they are restored
from the instructor's copy when your work is graded. Written answers are graded by hand.
"""


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def _requirements() -> str:
    pins = _pins()
    lines = ["# Exact pins, as in the course's own requirements (Python 3.11 or newer)."]
    lines += [f"{name}=={pins[name]}" for name in STUDENT_REQUIREMENTS]
    lines += ["# nnlib and the checks, from this folder.", "-e ."]
    return "\n".join(lines) + "\n"


PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "nn-from-first-principles-student"
version = "{version}"
description = "Student edition of the course: released chapters, nnlib and the checks."
requires-python = ">=3.11"
dependencies = ["numpy"]

[tool.setuptools.packages.find]
include = ["nnlib*", "autograder*"]

[tool.setuptools.package-data]
nnlib = ["datasets/*.npz"]
"""


def _write_jupyter_config(out: Path) -> None:
    config = out / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {p: True for p in DISABLED_LAB_PLUGINS}}, indent=2) + "\n")
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {e: False for e in DISABLED_SERVER_EXTENSIONS}}}, indent=2) + "\n")


def build(out: Path, repo: Path = REPO) -> Path:
    """Write the student edition into ``out`` (which must not exist yet); return ``out``."""
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; the student edition is written into a new folder.")
    shutil.copytree(repo / "chapters", out / "chapters", ignore=IGNORED)
    shutil.copytree(repo / "nnlib", out / "nnlib", ignore=IGNORED)
    for name in STUDENT_MODULES:
        source = repo / "autograder" / name
        if source.is_dir():
            shutil.copytree(source, out / "autograder" / name, ignore=IGNORED)
        else:
            (out / "autograder").mkdir(exist_ok=True)
            shutil.copy2(source, out / "autograder" / name)
    (out / "autograder" / "__main__.py").write_text(
        '"""``python -m autograder`` in the student edition: start, lab, check."""\n\nimport sys\n\n'
        "from autograder.student_cli import main\n\nsys.exit(main())\n")
    from nnlib import __version__

    (out / "pyproject.toml").write_text(PYPROJECT.format(version=__version__))
    (out / "requirements.txt").write_text(_requirements())
    (out / "README.md").write_text(STUDENT_README)
    (out / ".gitignore").write_text(".venv/\nwork/\n__pycache__/\n.ipynb_checkpoints/\n")
    _write_jupyter_config(out)
    problems = leaks(out, repo)
    if problems:
        shutil.rmtree(out)
        raise RuntimeError("the student edition would leak instructor material:\n" + "\n".join(problems))
    return out


def leaks(out: Path, repo: Path = REPO) -> list[str]:
    """Files of ``out`` that hold a solution or hidden-test marker, or notebooks and texts that hold a
    line found only inside such a region of a solution notebook."""
    import nbformat

    secrets = set()
    for notebook in sorted((repo / "solutions").glob("*/*.ipynb")):
        secrets |= release._secret_lines(nbformat.read(str(notebook), as_version=4))
    problems = []
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.suffix in {".py", ".ipynb", ".md", ".json", ".txt", ".toml"}):
        text = path.read_text(errors="replace")
        if path.suffix == ".ipynb":
            text = "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells)
        lines = {line.strip() for line in text.splitlines()}
        # Code may share a line with a solution by design (nnlib is the reference students read; a
        # catalogue's known mistakes look like answers): secret lines are looked for in notebooks and text.
        shared = lines & secrets if path.suffix in {".ipynb", ".md", ".txt"} else set()
        found = [m for m in release.MARKERS if m in text] + sorted(shared)[:3]
        if found:
            problems.append(f"{path.relative_to(out)}: {found}")
    return problems
