"""Set up and start the course's JupyterHub (one machine, nbgrader's default exchange).

Run as root from anywhere (paths are resolved from this file)::

    python3 deploy/hub/hubctl.py setup --create-users   # exchange, users, the instructor's course folder
    python3 deploy/hub/hubctl.py start                  # exec jupyterhub with deploy/hub/jupyterhub_config.py

Every setting is an environment variable with a production default (see ``Settings``); the
``jupyterhub_config.py`` next to this file reads the same settings through ``load_settings()``, so the
script, the hub and tests/test_hub.py agree on every path.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
JUPYTER_DIRS = HERE / "jupyter"  # per-role Jupyter/nbgrader config folders, put on JUPYTER_CONFIG_PATH
HUB_CONFIG = HERE / "jupyterhub_config.py"
DEFAULT_COURSE_ID = "nn-from-first-principles"
# The course's stand-in that makes `import rfc3987_syntax` fail at once (autograder/_fastimport): the real
# package compiles a grammar at import, 2-3 s in every process that imports nbformat (each single-user
# server, each Validate, each nbgrader command); notebooks never use what it checks. NN_COURSE_FULL_IMPORTS=1
# turns it off, as for the grader.
FASTIMPORT = REPO / "autograder" / "_fastimport"


def with_fast_imports(env: dict) -> dict:
    """``env`` with the course's fast-import folder first on PYTHONPATH (unless NN_COURSE_FULL_IMPORTS)."""
    env = dict(env)
    if not (env.get("NN_COURSE_FULL_IMPORTS") or os.environ.get("NN_COURSE_FULL_IMPORTS")) and FASTIMPORT.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(FASTIMPORT), env.get("PYTHONPATH", "")) if p)
    return env


def course_id_from_repo(repo: Path = REPO) -> str:
    """``CourseDirectory.course_id`` from the repository's nbgrader_config.py (the one source of truth)."""
    cfg = repo / "nbgrader_config.py"
    if not cfg.is_file():
        return DEFAULT_COURSE_ID
    from traitlets.config import PyFileConfigLoader

    loaded = PyFileConfigLoader(cfg.name, path=str(cfg.parent)).load_config()
    return loaded.get("CourseDirectory", {}).get("course_id", DEFAULT_COURSE_ID)


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.replace("\n", ",").split(",") if n.strip()]


@dataclass
class Settings:
    instructors: list[str] = field(default_factory=lambda: ["instructor"])
    students: list[str] = field(default_factory=list)
    # nbgrader's default exchange: one folder every single-user server can read and write (mode 0777).
    exchange: Path = Path("/srv/nbgrader/exchange")
    # The hub's own state: its SQLite database, cookie secret, the proxy's pid file.
    state: Path = Path("/srv/jupyterhub")
    # The Python the single-user servers (and their kernels, and the instructor's nbgrader) run with: a
    # virtual environment every user can execute, holding requirements.txt + jupyterhub (see README).
    python: str = "/opt/nn-course/venv/bin/python"
    public_url: str = "http://:8000"          # where students connect (the proxy)
    hub_url: str = "http://127.0.0.1:8081"    # the hub process, behind the proxy
    proxy_api_url: str = "http://127.0.0.1:8001"
    proxy_cmd: str = "configurable-http-proxy"
    # The instructor's course folder ({username} is replaced): solutions/, chapters/, gradebook.db, ...
    course_dir: str = "/home/{username}/" + DEFAULT_COURSE_ID
    course_id: str = DEFAULT_COURSE_ID
    # Optional token of the "course-ops" service (start/stop servers, list users) for scripts and tests.
    api_token: str = ""

    def course_root(self, instructor: str) -> Path:
        return Path(self.course_dir.format(username=instructor))

    def role(self, username: str) -> str:
        return "instructor" if username in self.instructors else "student"

    def user_environment(self, username: str) -> dict[str, str]:
        """Environment of a user's single-user server (and so of their terminals and kernels)."""
        role = self.role(username)
        env = {
            "NN_COURSE_ID": self.course_id,
            "NN_COURSE_EXCHANGE": str(self.exchange),
            # Role folder first (it wins), then the settings every user shares.
            "JUPYTER_CONFIG_PATH": os.pathsep.join([str(JUPYTER_DIRS / role), str(JUPYTER_DIRS / "common")]),
            # nbgrader finds `alembic` (and the instructor `nbgrader`) through PATH.
            "PATH": os.pathsep.join([str(Path(self.python).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        }
        if role == "instructor":
            env["NN_COURSE_ROOT"] = str(self.course_root(username))
        if os.environ.get("NN_HUB_STUDENT_ID_FROM_HUB") == "1":  # test without Unix accounts only
            env["NN_HUB_STUDENT_ID_FROM_HUB"] = "1"
        return with_fast_imports(env)


def load_settings(environ=os.environ) -> Settings:
    s = Settings()
    get = environ.get
    if get("NN_HUB_INSTRUCTORS"):
        s.instructors = _names(get("NN_HUB_INSTRUCTORS"))
    if get("NN_HUB_STUDENTS"):
        s.students = _names(get("NN_HUB_STUDENTS"))
    if get("NN_HUB_STUDENTS_FILE"):
        s.students += _names(Path(get("NN_HUB_STUDENTS_FILE")).read_text())
    for attr, key in (("public_url", "NN_HUB_URL"), ("hub_url", "NN_HUB_HUB_URL"),
                      ("proxy_api_url", "NN_HUB_PROXY_API_URL"), ("proxy_cmd", "NN_HUB_PROXY_CMD"),
                      ("python", "NN_HUB_PYTHON"), ("course_dir", "NN_HUB_COURSE_DIR"),
                      ("api_token", "NN_HUB_API_TOKEN")):
        if get(key):
            setattr(s, attr, get(key))
    if get("NN_HUB_EXCHANGE"):
        s.exchange = Path(get("NN_HUB_EXCHANGE"))
    if get("NN_HUB_STATE"):
        s.state = Path(get("NN_HUB_STATE"))
    s.course_id = get("NN_COURSE_ID") or course_id_from_repo()
    return s


# ---------------------------------------------------------------------------------------------- setup

def make_exchange(s: Settings) -> None:
    """The exchange root, mode 0777 exactly (nbgrader's release_assignment insists on it)."""
    s.exchange.mkdir(parents=True, exist_ok=True)
    os.chmod(s.exchange, 0o777)


def create_user(name: str, password: str | None = None, home_base: Path | None = None) -> None:
    """A local Unix account with a private home folder (PAM logs it in); homes under ``home_base`` if
    given. Private: Debian's useradd makes homes 0755 (UMASK 022, no HOME_MODE), which would let every
    student read every other student's notebooks."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        base = ["--base-dir", str(home_base)] if home_base else []
        subprocess.run(["useradd", "--create-home", *base, "--shell", "/bin/bash", name], check=True,
                       capture_output=True)
        os.chmod(pwd.getpwnam(name).pw_dir, 0o700)
    if password:
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)


def run_as(user: str, argv: list[str], s: Settings, cwd: Path | None = None, **kw):
    """Run ``argv`` as ``user`` with the environment their single-user server gets (needs root)."""
    home = pwd.getpwnam(user).pw_dir
    env = {"HOME": home, "USER": user, "LOGNAME": user, "LANG": os.environ.get("LANG", "C.UTF-8"),
           **s.user_environment(user)}
    cmd = ["runuser", "-u", user, "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv]
    return subprocess.run(cmd, cwd=str(cwd or home), capture_output=True, text=True, **kw)


def setup_course(s: Settings, instructor: str, chapters: list[str] | None = None, *, runner=None) -> Path:
    """The instructor's course folder: the repository's nbgrader_config.py and solutions/ (as the
    instructor's files), then ``nbgrader generate_assignment`` of each chapter run AS the instructor
    (their gradebook.db, their chapters/). Returns the course folder.

    ``runner(argv, cwd)`` runs a command as the instructor (default: ``run_as``; a test without Unix
    accounts passes its own and the files keep the current owner)."""
    root = s.course_root(instructor)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    wanted = chapters or sorted(p.name for p in (REPO / "solutions").iterdir()
                                if (p / f"{p.name}.ipynb").is_file())
    for ch in wanted:
        shutil.copytree(REPO / "solutions" / ch, root / "solutions" / ch, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc"))
    if runner is None:
        pw = pwd.getpwnam(instructor)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [dirpath, *(os.path.join(dirpath, f) for f in dirnames + filenames)]:
                os.chown(name, pw.pw_uid, pw.pw_gid)
        runner = lambda argv, cwd: run_as(instructor, argv, s, cwd=cwd)  # noqa: E731
    os.chmod(root, 0o700)  # solutions and the gradebook: the instructor's eyes only
    for ch in wanted:
        proc = runner([s.python, "-m", "nbgrader", "generate_assignment", ch, "--force"], root)
        if proc.returncode != 0:
            raise RuntimeError(f"generate_assignment {ch} failed:\n{proc.stdout}\n{proc.stderr}")
    return root


def setup(s: Settings, *, create_users: bool = False, password: str | None = None,
          chapters: list[str] | None = None) -> None:
    s.state.mkdir(parents=True, exist_ok=True)
    os.chmod(s.state, 0o700)
    make_exchange(s)
    if create_users:
        for name in s.instructors + s.students:
            create_user(name, password)
    for name in s.instructors:
        setup_course(s, name, chapters)


def hub_command(s: Settings, *extra: str) -> list[str]:
    """The command that starts the hub (the hub runs as root: it spawns servers as each user)."""
    return [sys.executable, "-m", "jupyterhub", "-f", str(HUB_CONFIG), *extra]


def hub_environment(environ=os.environ) -> dict:
    """The hub's environment: this one, with the fast imports."""
    return with_fast_imports(dict(environ))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("setup", help="exchange, state folder, (users), the instructor's course folder")
    p.add_argument("--create-users", action="store_true", help="create missing Unix accounts (demo)")
    p.add_argument("--password", help="with --create-users: set this password on them (demo only)")
    p.add_argument("--chapters", nargs="*", help="chapters to generate (default: all in solutions/)")
    sub.add_parser("start", help="exec jupyterhub (foreground; Ctrl-C stops hub, proxy and servers)")
    args = ap.parse_args(argv)
    s = load_settings()
    if os.geteuid() != 0:
        print("hubctl: run as root (the hub spawns each user's server as that user)", file=sys.stderr)
        return 2
    if args.cmd == "setup":
        setup(s, create_users=args.create_users, password=args.password, chapters=args.chapters)
        print(f"exchange {s.exchange}; course folders: "
              + ", ".join(str(s.course_root(i)) for i in s.instructors))
        print("next, as the instructor: cd <course folder> && nbgrader release_assignment <chapter>")
        return 0
    cmd = hub_command(s)
    os.chdir(s.state)
    os.execve(cmd[0], cmd, hub_environment())


if __name__ == "__main__":
    sys.exit(main())
