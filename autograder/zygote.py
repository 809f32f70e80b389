"""A warm starter for ``nbgrader autograde`` processes (``python -m autograder.zygote``).

Starting ``nbgrader`` costs about 1 s of CPU in imports (2.3 s with jsonschema's rfc3987_syntax),
which is most of nbgrader's own work per notebook. The grader runs one ``nbgrader autograde
--student X`` process per student, so it pays that once per student, while stock nbgrader pays it
once per batch. This process imports nbgrader once and then *forks* one child per request; each
child is exactly ``nbgrader <argv>`` (``NbGraderApp.launch_instance``) in a new session, with its own
working folder, environment, log file and address-space limit, started in milliseconds.

Protocol (one JSON object per line): requests on stdin
``{"id", "argv", "cwd", "env", "log", "memory"}``; replies on stdout ``{"id", "pid"}`` when forked
and ``{"id", "pid", "status"}`` when the child has exited (status: exit code, or -signal). The
zygote stays single-threaded so that forking is safe; it exits when stdin closes.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path


# ------------------------------------------------------------------------------------------------
# The zygote process.


def _child(req: dict) -> None:
    """In the forked child: become ``nbgrader <argv>``; never returns."""
    code = 1
    try:
        os.setsid()
        if req.get("memory"):
            limit = int(req["memory"]) * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        sys.argv = ["nbgrader", *req["argv"]]
        from nbgrader.apps.nbgraderapp import NbGraderApp

        try:
            NbGraderApp.launch_instance(argv=list(req["argv"]))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _cache_alembic_head() -> None:
    """nbgrader runs ``alembic heads`` in a new process (~1 s) for every new gradebook; read the same
    head once here with alembic's API and give it to every child."""
    try:
        import nbgrader.api
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        from nbgrader.dbutil import _temp_alembic_ini

        with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
            head = ScriptDirectory.from_config(Config(ini)).get_current_head()
        if head:
            nbgrader.api.get_alembic_version = lambda: head
    except Exception:  # noqa: BLE001 - keep nbgrader's own way
        pass


def serve() -> None:
    # Warm up: everything an autograde run imports, without starting any thread.
    from nbgrader.apps import nbgraderapp  # noqa: F401
    from nbgrader.apps import autogradeapp  # noqa: F401
    from nbgrader.converters import autograde  # noqa: F401
    import nbclient  # noqa: F401
    import jupyter_client.manager  # noqa: F401
    import sqlalchemy.dialects.sqlite  # noqa: F401
    import nbconvert.exporters.notebook  # noqa: F401

    _cache_alembic_head()
    if threading.active_count() != 1:
        print(json.dumps({"error": "threads running after imports; cannot fork safely"}), flush=True)
        return
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    children: dict[int, object] = {}
    stdin = sys.stdin.buffer
    buf = b""
    eof = False
    while not eof or children:
        if not eof:
            ready, _, _ = select.select([stdin], [], [], 0.02)
            if ready:
                chunk = os.read(stdin.fileno(), 65536)
                if not chunk:
                    eof = True
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    req = json.loads(line)
                    out.flush()
                    sys.stderr.flush()
                    pid = os.fork()
                    if pid == 0:
                        _child(req)
                    children[pid] = req["id"]
                    out.write(json.dumps({"id": req["id"], "pid": pid}) + "\n")
                    out.flush()
        else:
            select.select([], [], [], 0.02)
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            rid = children.pop(pid, None)
            code = os.waitstatus_to_exitcode(status)
            out.write(json.dumps({"id": rid, "pid": pid, "status": code}) + "\n")
            out.flush()


# ------------------------------------------------------------------------------------------------
# The grader's side.


class ZygoteDied(RuntimeError):
    pass


class Zygote:
    """Client of a zygote process; thread-safe ``run``."""

    def __init__(self, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.zygote"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, start_new_session=True)
        first = self.proc.stdout.readline()
        if not first or not json.loads(first).get("ready"):
            self.proc.kill()
            raise ZygoteDied(f"the zygote did not start: {first!r}")
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._pids: dict[int, int] = {}
        self._status: dict[int, int] = {}
        self._next = 0
        self.dead = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self._cond:
                if "status" in msg:
                    self._status[msg["id"]] = msg["status"]
                elif "pid" in msg:
                    self._pids[msg["id"]] = msg["pid"]
                self._cond.notify_all()
        with self._cond:
            self.dead = True
            self._cond.notify_all()

    def start(self, argv: list[str], cwd: Path, env: dict, log: Path, memory: int) -> tuple[int, int]:
        """Fork ``nbgrader <argv>``; returns (request id, pid)."""
        with self._cond:
            if self.dead:
                raise ZygoteDied("the zygote has exited")
            rid = self._next
            self._next += 1
            req = {"id": rid, "argv": argv, "cwd": str(cwd), "env": env, "log": str(log), "memory": memory}
            try:
                self.proc.stdin.write((json.dumps(req) + "\n").encode())
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self.dead = True
                raise ZygoteDied(str(exc)) from exc
            while rid not in self._pids:
                if self.dead:
                    raise ZygoteDied("the zygote exited before forking")
                self._cond.wait()
            return rid, self._pids[rid]

    def wait(self, rid: int, timeout: float | None) -> int | None:
        """Exit status of request ``rid``; None on timeout."""
        with self._cond:
            ok = self._cond.wait_for(lambda: rid in self._status or self.dead, timeout=timeout)
            if rid in self._status:
                return self._status[rid]
            if not ok:
                return None
            raise ZygoteDied("the zygote exited while a child was running")

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    serve()
