"""The student's command line, ``python -m autograder`` in the student edition.

- ``start``: copy every released chapter you do not have yet from ``chapters/`` into ``work/``.
  It never overwrites: your work stays yours when a new edition brings new or corrected chapters,
  and ``chapters/`` stays pristine, so updating the edition never conflicts with your edits.
- ``lab``: ``start``, then JupyterLab in ``work/``, with the student's settings (nbgrader's
  Validate button; none of its instructor panels).
- ``check NOTEBOOK``: run a notebook headless and print each graded exercise's verdict and the score.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: The edition's root: the folder holding chapters/, work/ and jupyter-config/.
EDITION = Path(__file__).resolve().parents[1]


def start(edition: Path = EDITION, log=print) -> list[Path]:
    """Copy ``chapters/<ch>/`` to ``work/<ch>/`` for every chapter not yet in ``work/``; return the new folders."""
    released, work = edition / "chapters", edition / "work"
    copied = []
    for chapter in sorted(p for p in released.iterdir() if p.is_dir()):
        target = work / chapter.name
        if target.exists():
            continue
        shutil.copytree(chapter, target)
        copied.append(target)
        log(f"new chapter: {target.relative_to(edition)}")
    if not copied:
        log("no new chapter: work/ already has every chapter (your files are never overwritten).")
    return copied


def lab_command(edition: Path = EDITION) -> tuple[list[str], dict]:
    """The command and environment that start the student's JupyterLab in ``work/``."""
    env = dict(os.environ)
    config = str(edition / "jupyter-config")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [config, env.get("JUPYTER_CONFIG_PATH")]))
    return [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={edition / 'work'}"], env


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="copy the chapters you do not have yet into work/")
    commands.add_parser("lab", help="start, then open JupyterLab in work/")
    check = commands.add_parser("check", help="run a notebook and print each exercise's verdict and the score")
    check.add_argument("notebook", type=Path)
    args = parser.parse_args(argv)
    if args.command == "start":
        start()
        return 0
    if args.command == "lab":
        start()
        command, env = lab_command()
        return subprocess.call(command, env=env, cwd=EDITION / "work")
    from autograder import notebook_check

    return notebook_check.report(args.notebook)


if __name__ == "__main__":
    sys.exit(main())
