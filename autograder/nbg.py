"""Running nbgrader in throwaway course folders.

nbgrader always works inside a course folder (``CourseDirectory.root``) with a gradebook. We never
run it in the repository: every call gets a temporary folder holding a copy of the course's
``nbgrader_config.py`` and just the files it needs, and paths are given on the command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE_DIR = "solutions"
RELEASE_DIR = "chapters"
CONFIG_NAME = "nbgrader_config.py"
# Debris that never belongs in a release, a submission copy or a comparison.
IGNORE = (".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store", "gradebook.db", ".nbgrader.log")


def default_root() -> Path:
    """The course root: the repository that holds this package (``solutions/``, ``chapters/``)."""
    return Path(__file__).resolve().parent.parent


def chapters_in(root: Path) -> list[str]:
    """Chapter ids (folder names) under ``root/solutions`` that hold ``<chapter>.ipynb``."""
    src = Path(root) / SOURCE_DIR
    if not src.is_dir():
        return []
    return sorted(p.name for p in src.iterdir() if (p / f"{p.name}.ipynb").is_file())


def venv_env(extra: dict | None = None) -> dict:
    """The environment for nbgrader subprocesses: this interpreter's ``bin/`` first on PATH.

    nbgrader runs ``alembic`` through PATH; without the venv's ``bin/`` it fails with
    ``FileNotFoundError: 'alembic'``.
    """
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    if not env.get("NN_COURSE_FULL_IMPORTS"):  # see autograder/_fastimport/rfc3987_syntax.py
        fast = str(Path(__file__).resolve().parent / "_fastimport")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (fast, env.get("PYTHONPATH", "")) if p)
    if extra:
        env.update(extra)
    return env


def skip_slow_imports() -> None:
    """In this process: make ``import rfc3987_syntax`` fail fast (see ``_fastimport``)."""
    if not os.environ.get("NN_COURSE_FULL_IMPORTS"):
        sys.modules.setdefault("rfc3987_syntax", None)


def nbgrader_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "nbgrader", *args]


def prepare_workdir(root: Path, workdir: Path) -> Path:
    """Create ``workdir`` with a copy of the course's ``nbgrader_config.py`` (if it has one)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = config_file(root)
    if cfg is not None:
        shutil.copyfile(cfg, workdir / CONFIG_NAME)
    return workdir


def config_file(root: Path) -> Path | None:
    """The course's ``nbgrader_config.py``; a course without one uses this repository's."""
    for cand in (Path(root) / CONFIG_NAME, default_root() / CONFIG_NAME):
        if cand.is_file():
            return cand
    return None


def config_value(root: Path, section: str, key: str, default):
    """A value from the course's ``nbgrader_config.py`` (``default`` if unset)."""
    from traitlets.config import PyFileConfigLoader  # local: keeps ``import autograder.nbg`` light

    cfg = config_file(root)
    if cfg is None:
        return default
    loaded = PyFileConfigLoader(cfg.name, path=str(cfg.parent)).load_config()
    return loaded.get(section, {}).get(key, default)


COURSE_CONFIG = '''"""nbgrader settings of this course folder, written by ``python -m autograder grade``.

The course's own settings ({config}), with this folder as the course root and the course's
solutions/ and chapters/ as source and release: stock nbgrader commands and formgrader started here
read and write this folder's gradebook, and feedback clears the hidden tests as ``grade`` does.
Edit {config}, not this file.
"""

c = get_config()  # noqa: F821
load_subconfig({config!r})  # noqa: F821
c.CourseDirectory.root = {course!r}
c.CourseDirectory.source_directory = {source!r}
c.CourseDirectory.release_directory = {release!r}
'''


def write_course_config(root: Path, course_dir: Path) -> Path | None:
    """``course_dir/nbgrader_config.py``, loading the course's config with ``course_dir`` as nbgrader's root."""
    cfg = config_file(root)
    if cfg is None:
        return None
    root, course_dir = Path(root).resolve(), Path(course_dir).resolve()
    path = course_dir / CONFIG_NAME
    path.write_text(COURSE_CONFIG.format(config=str(cfg.resolve()), course=str(course_dir),
                                         source=str(root / SOURCE_DIR), release=str(root / RELEASE_DIR)))
    return path


def course_id(root: Path) -> str:
    """``CourseDirectory.course_id`` from the course's config ("default_course" if unset)."""
    return config_value(root, "CourseDirectory", "course_id", "default_course")


def path_args(workdir: Path, db: Path | None = None, logdir: Path | None = None,
              db_url: str | None = None) -> list[str]:
    """Command-line settings that pin nbgrader to ``workdir`` (they override the config file), with
    the gradebook ``db_url`` (its password left out: see ``gradebook_env``) or the SQLite file ``db``
    (default ``workdir/gradebook.db``)."""
    if db_url:
        from autograder.gradebook import for_subprocess

        db_url = for_subprocess(db_url)[0]
    else:
        db_url = f"sqlite:///{Path(db) if db else Path(workdir) / 'gradebook.db'}"
    return [
        f"--CourseDirectory.root={workdir}",
        f"--CourseDirectory.source_directory={SOURCE_DIR}",
        f"--CourseDirectory.release_directory={RELEASE_DIR}",
        f"--CourseDirectory.db_url={db_url}",
        f"--NbGrader.logfile={Path(logdir or workdir) / '.nbgrader.log'}",
    ]


def gradebook_env(db_url: str) -> dict:
    """The environment of an nbgrader process given ``path_args(..., db_url=db_url)``."""
    from autograder.gradebook import for_subprocess

    return venv_env(for_subprocess(db_url)[1])


def copy_tree(src: Path, dst: Path, *, notebooks: bool = True) -> None:
    """Copy a chapter folder without debris (and without notebooks if ``notebooks`` is false)."""
    patterns = list(IGNORE) + ([] if notebooks else ["*.ipynb"])
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*patterns), dirs_exist_ok=True)


def run(cmd: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("env", venv_env())
    return subprocess.run(cmd, cwd=str(cwd), capture_output=True, text=True, **kw)


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message holds the end of its log."""


def last_error_lines(text: str, n: int = 12) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errs = [ln for ln in lines if "[ERROR]" in ln or "Error" in ln or "error" in ln]
    return "\n".join((errs or lines)[-n:])


def run_nbgrader(argv: list[str], cwd: Path, *, zygote=None, env: dict | None = None) -> tuple[int, str]:
    """``nbgrader <argv>`` in ``cwd``: forked from ``zygote`` if given (and alive), else a new
    process. Returns (exit code, its output)."""
    env = env or venv_env()
    if zygote is not None and not zygote.dead:
        import tempfile

        from autograder.zygote import ZygoteDied

        with tempfile.NamedTemporaryFile(prefix="nbgrader-", suffix=".log") as log:
            try:
                rid, _ = zygote.start(argv, cwd, env, Path(log.name), 0)
                rc = zygote.wait(rid, None)
                return rc, Path(log.name).read_text(errors="replace")
            except ZygoteDied:
                pass
    proc = run(nbgrader_cmd(*argv), cwd=cwd, env=env)
    return proc.returncode, proc.stdout + proc.stderr


def generate_assignment(root: Path, chapter: str, workdir: Path, zygote=None) -> Path:
    """Run ``nbgrader generate_assignment`` on a copy of ``solutions/<chapter>`` in ``workdir``.

    Returns the generated release folder ``workdir/chapters/<chapter>``; ``workdir/gradebook.db``
    then holds the assignment (cells, points, checksums, hidden tests, no solutions).
    """
    workdir = prepare_workdir(root, workdir)
    copy_tree(Path(root) / SOURCE_DIR / chapter, workdir / SOURCE_DIR / chapter)
    rc, text = run_nbgrader(["generate_assignment", chapter, "--force", *path_args(workdir)], workdir,
                            zygote=zygote)
    out = workdir / RELEASE_DIR / chapter
    if rc != 0 or not out.is_dir():
        raise NbgraderError(f"nbgrader generate_assignment {chapter} failed:\n" + last_error_lines(text))
    return out
