"""``grade``, ``feedback`` and ``export``: autograde a folder of submissions into nbgrader's gradebook.

How a batch runs (``grade``):

1. ``nbgrader generate_assignment`` runs once in a temporary *template* course folder, which gives a
   gradebook holding only this chapter (cells, points, checksums, hidden tests; no solutions).
2. Each student is graded by its own ``nbgrader autograde CHAPTER --student X`` process, several at
   once, in its own *private* course folder: a copy of the template gradebook, the chapter's
   non-notebook files, the student's submission, private Jupyter/IPython folders. The process runs in
   a new session under an address-space limit and a wall-clock limit; the kernel gets a per-cell
   timeout and is shut down immediately. Afterwards the whole process group is killed, so nothing
   the student started survives (unless it left the session itself).
3. The parent alone writes the course's gradebook (``COURSE_DIR/gradebook.db``, or the PostgreSQL
   database that ``c.CourseDirectory.db_url`` names, see ``autograder/gradebook.py``): it copies the
   student's scores out of the private gradebook (clamped to the course's points) one student at a
   time, with a row saying how the grading went. Before each write to a SQLite file it checks that
   the file is byte-identical to what it last wrote; if anything else changed it, the last good copy
   (held in memory) is put back and the incident is reported.
4. ``nbgrader generate_feedback`` (hidden tests cleared, see ``nbgrader_config.py``), then, built from
   the gradebook alone, a CSV with one row per student (``student, chapter, score, max_score,
   <grade_id>..., status``) and the report.

Several machines (``--shard K/N``): each grades the students whose id hashes to its shard, into one
PostgreSQL gradebook; they never write the same student's rows, and the one-time setup (tables,
course, chapter) is done under a database lock by whichever comes first. A killed shard is re-run
as it was; its students' rows are replaced, nobody else's are touched (tests/test_shards.py).

Sandbox and verdicts (issue 11). Each student's kernel runs in a bubblewrap sandbox
(``autograder/sandbox.py``): read-only system, Python and course code (``nnlib/``, ``autograder/``);
no view of ``solutions/``, gradebooks, submissions, reports, feedback or the repository; a private
writable scratch; no network; its own pid namespace (nothing outlives it); an unprivileged uid per
job slot; limits on memory, CPU seconds, processes and file size. nbgrader itself runs outside.
A graded cell made only of ``grade(...)`` calls is never run as written: the kernel runs the calls,
which only *record* the student's outputs on inputs drawn from the grader's seed
(``AUTOGRADER_COLLECT_DIR``); the grader judges every record in its own process with the chapter's
catalogue (``autograder/verdict.py``), writes the points into nbgrader's gradebook and the verdict
into the autograded notebook (what feedback shows). In the sandbox, nnlib's answers to the graded
chapter are stubs. A kernel that dies or hangs costs its cell: grading goes on in a fresh kernel.
Without a sandbox (no ``bwrap``), ``grade`` refuses unless ``--unsafe-no-sandbox``, and the report
says so on its first line.

What a malicious submission can and cannot do, by attack class (tests/test_sandbox.py, tests/hostile/):

============================================================  ==========================================
Attack                                                        After this change
============================================================  ==========================================
redefine ``grade``/``check``, patch ``autograder.checks``,    protected: the verdict is judged outside
IPython input transformers, patched numpy or profiler         from recorded outputs; a cell that records
                                                              nothing scores 0
forge the records (another seed, malformed, huge, symlinks)   protected: rejected by the trusted judge
call nnlib's answer (profiler off, function copied, source    protected for the chapter's own answers
read and exec'd, module reloaded)                             (stubs in the sandbox); NOT for the few
                                                              the checks themselves need there (ch. 1:
                                                              ``softmax``, which draws inputs; ch. 3:
                                                              ``two_layer_loss``, handed to student
                                                              code, and the affine layers it calls),
                                                              named in the report; NOR for the
                                                              catalogues' own pure-numpy references
                                                              (case drawing and blame run in the
                                                              kernel, so they stay callable, guarded
                                                              only by the call detector, which can be
                                                              switched off); the similarity
                                                              report lists close copies, never deducts
hard-code outputs                                             protected: inputs drawn from a fresh seed
write ``nnlib/``, ``autograder/``, the venv, the repository   protected: read-only or invisible
rewrite a gradebook (now or from a detached process later),   protected: invisible; every process dies
empty other submissions, delete files elsewhere               with the sandbox; the master gradebook is
                                                              still checked and restored as before
kill the grader, ``os._exit``, kill -1, fork bomb             protected: own pid namespace and uid;
                                                              costs the cell it happens in
endless loop (even ignoring SIGINT), memory bomb, huge files  protected: one cell timeout, then a fresh
                                                              kernel; address-space and file-size limits
read ``solutions/``, the hidden tests, other students         protected: not in the sandbox; the kernel
                                                              never receives a test cell's hidden block
network access (exfiltration, downloads)                      protected: an empty network namespace
graded cells that are not ``grade(...)`` calls (plain         NOT protected: nbgrader's verdict, decided
asserts)                                                      in the kernel; the report lists them
disk use in its folders (many small files); memory across     NOT limited beyond per-file size and per-
many processes (the limit is per process); kernel exploits    process address space (no cgroups, no
                                                              seccomp filter)
copying another student's answer                              NOT prevented: reported (similarity), for
                                                              the instructor to judge
grading without ``bwrap`` (``--unsafe-no-sandbox``)           NOT protected: everything above is open
============================================================  ==========================================

Submissions are read from ``DIR/<student>/<chapter>/`` (nbgrader's ``submitted/`` layout; ``DIR`` may
also be the course folder that contains ``submitted/``).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autograder import gradebook, nbg, sandbox, similarity, verdict
from autograder.progress import Progress
from autograder.zygote import Zygote, ZygoteDied

class SandboxUnavailable(RuntimeError):
    """No sandbox on this machine and the instructor did not pass --unsafe-no-sandbox."""


STUDENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$")


@dataclass
class Outcome:
    student: str
    status: str = "graded"  # "graded" or "failed: <reason>"
    notes: list[str] = field(default_factory=list)  # per-exercise problems, for the report
    seconds: float = 0.0
    scores: dict = field(default_factory=dict)  # (notebook, grade_id) -> score, from the private run
    workdir: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "graded"


@dataclass
class BatchResult:
    chapter: str
    course_dir: Path
    outcomes: list[Outcome]
    csv_path: Path | None = None
    report_path: Path | None = None
    feedback_dir: Path | None = None
    incidents: list[str] = field(default_factory=list)
    seconds: float = 0.0
    course_id: str = "default_course"
    phases: dict = field(default_factory=dict)  # phase -> seconds
    sandbox_line: str = ""
    uids: list = field(default_factory=list)  # the sandbox uids the batch's kernels ran as
    judge_notes: list = field(default_factory=list)
    shard_line: str = ""


def _fmt(x) -> str:
    return "" if x is None else f"{float(x):g}"


# ---------------------------------------------------------------------------------------------
# The master gradebook, guarded against writes by anything but the parent.


class MasterGradebook:
    """The course's gradebook, written only by the grader (the parent, never a student's process),
    one student at a time.

    A SQLite file lives on this machine: before each write we check that it is byte-identical to what
    we last wrote, and put the last good copy back if anything else changed it. A database server
    (PostgreSQL) is out of a sandbox's reach (no network), and several graders write into it at once,
    each in its own transactions, each for students no other shard grades.
    """

    def __init__(self, url: str, course_id: str):
        self.url = url
        self.path = gradebook.sqlite_path(url)
        self.course_id = course_id
        self.lock = threading.Lock()
        self.incidents: list[str] = []
        if self.path is not None:
            self._snapshot()

    def _snapshot(self) -> None:
        self._bytes = self.path.read_bytes()
        self._hash = hashlib.sha256(self._bytes).hexdigest()

    def verify(self, context: str) -> None:
        """Put the last good copy back if the file changed since we last wrote it."""
        if self.path is None:
            return
        for extra in (Path(str(self.path) + "-journal"), Path(str(self.path) + "-wal")):
            if extra.exists():
                extra.unlink()
        current = self.path.read_bytes() if self.path.exists() else None
        if current is None or hashlib.sha256(current).hexdigest() != self._hash:
            how = "deleted" if current is None else "modified"
            self.path.write_bytes(self._bytes)
            self.incidents.append(f"the master gradebook was {how} by something other than the grader "
                                  f"(noticed {context}); restored the last good copy")

    def write(self, fn, context: str) -> None:
        """Run ``fn(gradebook)``; all or nothing (a SQLite file is put back if ``fn`` fails)."""
        with self.lock:
            self.verify(context)
            from nbgrader.api import Gradebook

            try:
                with warnings.catch_warnings():
                    # nbgrader's add_submission triggers a harmless SQLAlchemy autoflush warning.
                    warnings.filterwarnings("ignore", message=".*not in session.*")
                    with Gradebook(self.url, self.course_id) as gb:
                        try:
                            fn(gb)
                        except BaseException:
                            gb.db.rollback()
                            raise
            except BaseException:
                if self.path is not None:
                    self.path.write_bytes(self._bytes)
                raise
            if self.path is not None:
                self._snapshot()


def _structure(gb, chapter: str) -> dict:
    a = gb.find_assignment(chapter)
    return {nb.name: sorted((gc.name, float(gc.max_score)) for gc in nb.grade_cells) for nb in a.notebooks}


def ensure_master(root: Path, chapter: str, template: Path, url: str, course_id: str, zygote=None) -> str:
    """Make sure the course's gradebook (``url``) holds the chapter as the template does, and our
    tables. Several shards may start at once: one at a time does this, the others then find it done."""
    from nbgrader.api import Gradebook, MissingEntry

    with gradebook.exclusive(url, f"setup {course_id}"):
        path = gradebook.sqlite_path(url)
        if path is not None and not path.exists():
            shutil.copyfile(template / "gradebook.db", path)
        with Gradebook(f"sqlite:///{template / 'gradebook.db'}", course_id) as gb:
            want = _structure(gb, chapter)
        try:
            with Gradebook(url, course_id) as gb:  # creates nbgrader's tables in a new database
                have = _structure(gb, chapter)
        except MissingEntry:
            have = None
        if have != want:  # add or update the chapter in the course's gradebook with nbgrader itself
            rc, text = nbg.run_nbgrader(["generate_assignment", chapter, "--force",
                                         *nbg.path_args(template, db_url=url)], template, zygote=zygote,
                                        env=nbg.gradebook_env(url))
            if rc != 0:
                raise nbg.NbgraderError("could not add the chapter to the course's gradebook:\n"
                                        + nbg.last_error_lines(text))
        gradebook.ensure_tables(url)
    return url


# ---------------------------------------------------------------------------------------------
# One student.


def _notebook_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable notebook (None if it is)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return f"{path.name} is not UTF-8 text"
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return f"{path.name} is not valid notebook JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return f"{path.name} is not a notebook (no list of cells)"
    try:
        import nbformat

        nbformat.reads(raw, as_version=4)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the submission's problem
        return f"{path.name} cannot be read as a notebook ({type(exc).__name__}: {exc})"
    return None


def _reason_from_log(log: str, timeout: int, memory_limit: int) -> str:
    if "DeadKernelError" in log or "Kernel died" in log or "kernel died" in log:
        lim = f"{memory_limit} MB" if memory_limit else "none"
        return ("the kernel died while running the notebook (os._exit, a crash, or running out of "
                f"memory; limit {lim}); nothing could be graded")
    if "UnresponsiveKernelError" in log or "Kernel didn't respond" in log:
        return f"the kernel stopped responding (a cell kept running after the {timeout} s timeout)"
    if "MemoryError" in log:
        return f"the grader ran out of memory (limit {memory_limit} MB)"
    errs = [ln.strip() for ln in log.splitlines() if "[ERROR]" in ln or "Error:" in ln]
    errs = [e for e in errs if "Kernel is running over TCP" not in e]
    return "nbgrader failed: " + (errs[-1][:300] if errs else "no error message")


def _cell_notes(autograded_dir: Path) -> list[str]:
    """One line per graded cell that did not pass, from the autograded notebooks."""
    import nbformat

    from autograder.notebook_check import classify

    notes = []
    for path in sorted(autograded_dir.glob("*.ipynb")):
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:  # noqa: BLE001
            continue
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and not meta.get("grade") and cell.cell_type == "code":
                for o in cell.get("outputs", []):
                    if o.get("output_type") == "error" and o.get("ename") not in ("NotImplementedError",):
                        msg = (o.get("evalue") or "").strip().splitlines()
                        notes.append(f"{meta.get('grade_id')} (student code): raised {o.get('ename')}"
                                     + (f": {msg[0]}" if msg else ""))
                        break
            if meta.get("grade"):
                row = classify(cell, ran=True)
                if row.result not in ("passed", "manual"):
                    reason = row.reason.rstrip(".")
                    if reason.lower().startswith(row.result):  # "not attempted yet (...)"
                        notes.append(f"{row.grade_id}: {reason}")
                    else:
                        notes.append(f"{row.grade_id}: {row.result}" + (f" ({reason})" if reason else ""))
    return notes


def _has_timeouts(autograded_dir: Path) -> bool:
    for path in autograded_dir.glob("*.ipynb"):
        try:
            nb = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for cell in nb.get("cells", []):
            for o in cell.get("outputs", []) or []:
                if o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError":
                    return True
    return False


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class StudentRun:
    def __init__(self, *, student, chapter, submission: Path, template: Path, notebooks: list[str],
                 workroot: Path, root: Path, course_id: str, timeout: int, memory_limit: int,
                 wall_limit: float, threads_env: dict, zygote=None, retry_timeouts: bool = False,
                 judge: "BatchJudge | None" = None):
        self.student, self.chapter = student, chapter
        self.submission, self.template, self.notebooks = submission, template, notebooks
        self.work = workroot / student
        self.root, self.course_id = root, course_id
        self.timeout, self.memory_limit, self.wall_limit = timeout, memory_limit, wall_limit
        self.threads_env = threads_env
        self.zygote = zygote
        self.retry_timeouts = retry_timeouts
        self.judge = judge
        self.seed = secrets.randbelow(2**31)
        self.uid = None
        self.runtime = None

    def prepare(self, out: Outcome) -> list[str]:
        """Build the private course folder; returns the notebooks that can be graded."""
        w = self.work
        nbg.prepare_workdir(self.root, w)
        shutil.copyfile(self.template / "gradebook.db", w / "gradebook.db")
        # Only the chapter's non-notebook files: autograde copies them over the submission. The
        # source notebook (the solutions) is never in the student's reach here.
        src = w / nbg.SOURCE_DIR / self.chapter
        nbg.copy_tree(self.template / nbg.RELEASE_DIR / self.chapter, src, notebooks=False)
        dest = w / "submitted" / self.student / self.chapter
        shutil.copytree(self.submission, dest, symlinks=True,
                        ignore=shutil.ignore_patterns(*nbg.IGNORE))
        gradable = []
        found = sorted(p.name for p in dest.glob("*.ipynb"))
        for name in self.notebooks:
            path = dest / f"{name}.ipynb"
            if path.is_symlink():
                path.unlink()
                out.notes.append(f"{name}.ipynb is a symbolic link; not graded")
                continue
            if not path.is_file():
                others = [f for f in found if f[:-6] not in self.notebooks]
                hint = f" (the submission has: {', '.join(others)}; was it renamed?)" if others else ""
                out.notes.append(f"missing notebook {name}.ipynb{hint}")
                continue
            problem = _notebook_problem(path)
            if problem:
                path.unlink()  # nbgrader then scores it 0 as missing instead of failing the batch
                out.notes.append(problem)
                continue
            gradable.append(name)
        for d in (".runtime", ".ipython", ".home"):
            (w / d).mkdir(exist_ok=True)
        if self.judge is not None and gradable:
            self._prepare_kernel()
        return gradable

    def _prepare_kernel(self) -> None:
        """The private kernelspec that starts this student's kernels in the sandbox, the sandbox's
        settings (outside its reach), and nbgrader's settings for sandboxed execution."""
        w, j = self.work, self.judge
        # Unix socket paths are limited to ~100 bytes: the kernel's sockets live in a short folder.
        self.runtime = Path(tempfile.mkdtemp(prefix="nnk-"))
        cfg = {"seed": self.seed, "uid": self.uid if j.sandboxed else None, "sandbox": j.sandboxed,
               "scratch": str(w / ".sandbox" / "scratch"), "records": str(self.records),
               "runtime": str(self.runtime), "memory_mb": self.memory_limit,
               "cpu_seconds": int(self.wall_limit), "overlays": {str(k): str(v) for k, v in j.overlays.items()},
               "env": dict(self.threads_env)}
        config = w / ".sandbox.json"
        config.write_text(json.dumps(cfg))
        config.chmod(0o600)
        spec_dir = w / ".home" / "data" / "kernels" / "python3"
        spec_dir.mkdir(parents=True, exist_ok=True)
        (spec_dir / "kernel.json").write_text(json.dumps(sandbox.kernelspec(config)))
        with open(w / nbg.CONFIG_NAME, "a") as f:
            f.write(SANDBOX_NBGRADER_CONFIG.format(ip=str(self.runtime / "k")))

    @property
    def records(self) -> Path:
        return self.work / ".sandbox" / "records"

    def env(self) -> dict:
        w = self.work
        extra = {"JUPYTER_RUNTIME_DIR": str(w / ".runtime"), "IPYTHONDIR": str(w / ".ipython"),
                 "HOME": str(w / ".home"),
                 "JUPYTER_DATA_DIR": str(w / ".home" / "data"), "MPLCONFIGDIR": str(w / ".home" / "mpl"),
                 # first in the kernelspec search (before the venv's own python3): the sandboxed kernel
                 "JUPYTER_PATH": str(w / ".home" / "data"),
                 "MPLBACKEND": "Agg"}
        extra.update(self.threads_env)
        return nbg.venv_env(extra)

    def autograde(self, out: Outcome) -> None:
        w = self.work
        argv = ["autograde", self.chapter, f"--student={self.student}", "--force", *nbg.path_args(w),
                f"--CourseDirectory.course_id={self.course_id}", f"--Execute.timeout={self.timeout}",
                "--Execute.shutdown_kernel=immediate"]
        logfile = w / "autograde.log"
        rc, killed = self._run_once(argv, logfile)
        if self.retry_timeouts and (killed or (rc == 0 and _has_timeouts(self._autograded()))):
            # Graded once more in a fresh process: besides endless loops, we saw the kernel connection
            # stall (the kernel idle, its reply never received) in about 1 of 25-70 runs (nbclient).
            what = (f"it did not finish within {self.wall_limit:.0f} s" if killed
                    else f"a cell timed out after {self.timeout} s")
            out.notes.append(f"{what}; graded a second time to rule out a stalled kernel")
            rc, killed = self._run_once(argv, logfile)
        self._interpret(out, rc, killed, logfile)

    def _run_once(self, argv, logfile):
        """One nbgrader process: forked from the warm zygote when it lives, else started afresh."""
        if self.zygote is not None and not self.zygote.dead:
            try:
                return self._run_forked(argv, logfile)
            except ZygoteDied:
                pass
        return self._run_exec(argv, logfile)

    def _autograded(self) -> Path:
        return self.work / "autograded" / self.student / self.chapter

    def _run_forked(self, argv, logfile):
        rid, pid = self.zygote.start(argv, self.work, self.env(), logfile, self.memory_limit)
        try:
            rc = self.zygote.wait(rid, self.wall_limit)
            killed = rc is None
            _killpg(pid)  # nbgrader, the kernel and anything the student started in the session
            if killed:
                rc = self.zygote.wait(rid, 30)
        except ZygoteDied:  # e.g. the student's code killed it: this student runs again, unforked
            _killpg(pid)
            raise
        return rc, killed

    def _run_exec(self, argv, logfile):
        cmd = [sys.executable, "-m", "autograder._limits", "--memory", str(self.memory_limit), "--",
               *nbg.nbgrader_cmd(*argv)]
        with open(logfile, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=str(self.work), env=self.env(), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            killed = False
            try:
                proc.wait(timeout=self.wall_limit)
            except subprocess.TimeoutExpired:
                killed = True
            finally:
                _killpg(proc.pid)
                proc.wait()
        return proc.returncode, killed

    def _interpret(self, out: Outcome, rc, killed: bool, logfile: Path) -> None:
        w = self.work
        text = logfile.read_text(errors="replace") if logfile.exists() else ""
        autograded = w / "autograded" / self.student / self.chapter
        if killed:
            out.status = (f"failed: did not finish within {self.wall_limit:.0f} s (a cell kept running "
                          f"after the {self.timeout} s timeout?); nothing could be graded")
            return
        if rc != 0 or not any(autograded.glob("*.ipynb")):
            if rc is not None and rc < 0:
                out.status = (f"failed: the grader was killed by signal {-rc} "
                              "(the student's code may have killed it)")
            else:
                out.status = "failed: " + _reason_from_log(text, self.timeout, self.memory_limit)
            if self.judge is not None:
                self.judge.verdicts(self, out, None)
            return
        self.read_scores(out)
        if self.judge is not None:
            self.judge.verdicts(self, out, autograded)
        out.notes.extend(_cell_notes(autograded))

    def read_scores(self, out: Outcome) -> None:
        from nbgrader.api import Gradebook

        try:
            with Gradebook(f"sqlite:///{self.work / 'gradebook.db'}", self.course_id) as gb:
                sub = gb.find_submission(self.chapter, self.student)
                for nb in sub.notebooks:
                    for g in nb.grades:
                        out.scores[(nb.name, g.name)] = (g.auto_score, bool(g.needs_manual_grade))
        except Exception as exc:  # noqa: BLE001 - a damaged private gradebook is this student's problem
            out.status = f"failed: could not read the results ({type(exc).__name__}: {exc})"
            out.scores.clear()

    def __call__(self) -> Outcome:
        out = Outcome(self.student, workdir=self.work)
        t0 = time.monotonic()
        if self.judge is not None:
            self.uid = self.judge.take_uid()
        try:
            gradable = self.prepare(out)
            if not gradable:
                out.status = "failed: " + ("; ".join(out.notes) or "no notebook to grade")
                out.notes.clear()
            else:
                self.autograde(out)
        except Exception as exc:  # noqa: BLE001 - never stop the batch
            out.status = f"failed: grader error ({type(exc).__name__}: {exc})"
        finally:
            if self.runtime is not None:
                shutil.rmtree(self.runtime, ignore_errors=True)
            if self.judge is not None:
                self.judge.give_uid(self.uid)
        out.seconds = time.monotonic() - t0
        return out


SANDBOX_NBGRADER_CONFIG = """
# Added by autograder.grading for this student's run: kernels in the sandbox (autograder/sandbox.py),
# reached over Unix sockets (the sandbox has no network), executed with faults confined to a cell.
c.Autograde.autograde_preprocessors = [
    "autograder.nbgrader_extras.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.KernelManager.transport = "ipc"
c.KernelManager.ip = {ip!r}
"""


class BatchJudge:
    """What a batch shares for the verdicts decided outside the sandbox: the chapter's catalogue,
    its graded cells (from the instructor's notebooks), the stubbed nnlib modules, the kernels' uids."""

    def __init__(self, root: Path, chapter: str, tmp: Path, jobs: int, sandboxed: bool):
        self.root, self.chapter, self.sandboxed = root, chapter, sandboxed
        self.catalogue = verdict.find_catalogue(root, chapter)
        self.cells = verdict.graded_cells(root, chapter)
        self.overlays, self.stubbed, self.kept = {}, [], []
        if self.catalogue is not None and sandboxed:
            stubs = tmp / "stubs"
            self.overlays, self.stubbed, self.kept = sandbox.stub_sources(self.catalogue, stubs)
            for p in [stubs, *stubs.iterdir()]:
                p.chmod(0o755 if p.is_dir() else 0o644)
        self.leftovers = 0  # processes still running as a sandbox uid after their kernel (should stay 0)
        self.leftover_examples: list[str] = []
        self.uids: queue.Queue = queue.Queue()
        self.lease = sandbox.UidLease(jobs) if sandboxed else None
        for uid in (self.lease.uids if self.lease else [None] * jobs):
            self.uids.put(uid)

    def close(self) -> None:
        if self.lease is not None:
            self.lease.release()

    def take_uid(self):
        return self.uids.get()

    def give_uid(self, uid) -> None:
        killed = sandbox.reap_uid(uid, wait=5.0)
        if killed:
            self.leftovers += 1
            self.leftover_examples.extend(killed[:3])
        self.uids.put(uid)

    @property
    def kernel_graded(self) -> list[str]:
        return [c.grade_id for c in self.cells if c.calls is None and c.code]

    def verdicts(self, run: "StudentRun", out: Outcome, autograded: Path | None) -> None:
        """Judge every catalogue-graded cell from the records; scores into ``out.scores``, and the
        trusted verdict into the autograded notebook's test cell (what feedback shows)."""
        import nbformat

        if self.catalogue is None:
            return
        results = {}
        for cell in self.cells:
            if not cell.calls:
                continue
            v = verdict.judge_cell(self.catalogue, run.records, cell.calls, run.seed)
            results[(cell.notebook, cell.grade_id)] = v
            out.scores[(cell.notebook, cell.grade_id)] = (cell.points if v.passed else 0.0, False)
        if autograded is None:
            got = sum(v.passed for v in results.values())
            if any(run.records.glob("*.npz")):
                out.notes.append(f"{got} of {len(results)} graded cells passed on the results recorded "
                                 "before the failure")
            return
        for path in sorted(autograded.glob("*.ipynb")):
            try:
                nb = nbformat.read(str(path), as_version=4)
            except Exception:  # noqa: BLE001
                continue
            changed = False
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                v = results.get((path.stem, meta.get("grade_id")))
                if v is None or cell.cell_type != "code" or not meta.get("grade"):
                    continue
                cell.outputs = _verdict_outputs(v)
                changed = True
            if changed:
                nbformat.write(nb, str(path))


def _verdict_outputs(v) -> list:
    """A test cell's outputs showing the trusted verdict (as ``grade`` prints or raises it)."""
    from nbformat.v4 import new_output

    if v.passed:
        names = []
        for r in v.reports:
            if r.name not in names:
                names.append(r.name)
        lines = []
        for name in names:
            mine = [r for r in v.reports if r.name == name]
            lines.append(f"[PASSED] {name}: visible and hidden cases" if len(mine) > 1 else str(mine[0]))
        return [new_output("stream", name="stdout", text="\n".join(lines) + "\n")]
    r = v.first_failure()
    ename = "NotAttempted" if r.status == "not attempted" else "CheckFailed"
    return [new_output("error", ename=ename, evalue=r.message, traceback=[f"{ename}: {r.message}"])]


def merge(gb, chapter: str, out: Outcome, *, graded_by: str = "", answers: dict | None = None) -> None:
    """Write one student's results into the course's gradebook (``gb``): nbgrader's grades and our
    outcome row, committed together."""
    gb.update_or_create_student(out.student)
    from nbgrader.api import MissingEntry

    try:
        sub = gb.find_submission(chapter, out.student)
    except MissingEntry:
        sub = gb.add_submission(chapter, out.student)
    for nb in sub.notebooks:
        for g in nb.grades:
            auto, manual = out.scores.get((nb.name, g.name), (0.0, False))
            if auto is not None:
                auto = min(max(float(auto), 0.0), float(g.max_score))
            g.auto_score = auto
            g.needs_manual_grade = manual if out.ok else False
    gradebook.record_outcome(gb.db, gb.course_id, chapter, out.student, status=out.status, notes=out.notes,
                             seconds=out.seconds, graded_by=graded_by, answers=answers or {})
    gb.db.commit()


# ---------------------------------------------------------------------------------------------
# Feedback and export.


def _workdir_for(root: Path, tmp: Path) -> Path:
    return nbg.prepare_workdir(root, tmp)


FEEDBACK_PER_PROCESS = 4  # fewer per process is not worth a process's start (about 1.3 s)


def generate_feedback(root: Path, chapter: str, course_dir: Path, students: list[str] | None = None,
                      course_id: str | None = None, zygote=None, jobs: int = 1) -> tuple[Path, list[str]]:
    """``nbgrader generate_feedback`` for the chapter (``students``: only these; default every
    autograded one); returns (feedback folder, problems). With ``jobs`` > 1 the students are split
    among that many nbgrader processes at once: one process makes about 2 feedback pages a second,
    which on a machine of many cores would take longer than the grading itself."""
    course_dir = Path(course_dir).resolve()
    course_id = course_id or nbg.course_id(root)
    url = gradebook.url_for(root, course_dir)
    present = {p.name for p in (course_dir / "autograded").glob("*") if p.is_dir()}
    if students is None:
        chunks = [None]
    else:
        wanted = sorted(set(students) & present)
        k = max(1, min(jobs, len(wanted) // FEEDBACK_PER_PROCESS))
        chunks = [wanted[i::k] for i in range(k)] if wanted else []
    problems = []
    if students is not None and set(students) - present:
        problems.append("no autograded notebook (grade first) for: " + ", ".join(sorted(set(students) - present)))

    def one(chunk, tmp: Path) -> None:
        w = _workdir_for(root, tmp)
        if chunk is not None:  # the others, in the config: a list of thousands is too long for a command line
            with open(w / nbg.CONFIG_NAME, "a") as f:
                f.write(f"\nc.CourseDirectory.student_id_exclude = {','.join(sorted(present - set(chunk)))!r}\n")
        args = [*nbg.path_args(course_dir, db_url=url, logdir=w), f"--CourseDirectory.course_id={course_id}"]
        rc, text = nbg.run_nbgrader(["generate_feedback", chapter, "--student=*", "--force", *args], w,
                                    zygote=zygote, env=nbg.gradebook_env(url))
        if rc != 0:
            problems.append("nbgrader generate_feedback failed: " + nbg.last_error_lines(text, 3))

    with tempfile.TemporaryDirectory(prefix="nn-feedback-") as tmp:
        with ThreadPoolExecutor(max_workers=max(1, len(chunks))) as pool:
            list(pool.map(lambda ic: one(ic[1], Path(tmp) / str(ic[0])), enumerate(chunks)))
    return course_dir / "feedback", problems


# nbgrader's add_submission commits by itself, so a grader killed in the few milliseconds before our own
# commit leaves a submission without its record, like stock nbgrader and this grader's earlier versions.
NO_RECORD = ("no grading record (graded by stock nbgrader or an earlier version of this grader, or its grading "
             "was cut off: grade it again)")


def export_csv(root: Path, chapter: str, course_dir: Path, course_id: str | None = None,
               path: Path | None = None) -> Path:
    """Write the chapter's grades table from the gradebook: one row per student with a submission,
    whichever machine or batch graded it."""
    from nbgrader.api import Gradebook

    course_dir = Path(course_dir)
    course_id = course_id or nbg.course_id(root)
    url = gradebook.url_for(root, course_dir)
    order = grade_order(root, chapter)
    path = Path(path) if path else course_dir / "reports" / f"{chapter}-grades.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    statuses = {s: o["status"] for s, o in gradebook.outcomes(url, course_id, chapter).items()}
    with Gradebook(url, course_id) as gb:
        assignment = gb.find_assignment(chapter)
        cells = []
        for nb in sorted(assignment.notebooks, key=lambda n: n.name):
            for gc in sorted(nb.grade_cells, key=lambda c: (order.get((nb.name, c.name), 10**6), c.name)):
                cells.append((nb.name, gc.name))
        multi = len(assignment.notebooks) > 1
        header = ["student", "chapter", "score", "max_score"]
        header += [f"{n}/{g}" if multi else g for n, g in cells]
        header.append("status")
        rows = []
        for sub in sorted(assignment.submissions, key=lambda s: s.student.id):
            grades = {(nb.name, g.name): g.score for nb in sub.notebooks for g in nb.grades}
            row = [sub.student.id, chapter, _fmt(sub.score), _fmt(sub.max_score)]
            row += [_fmt(grades.get(key)) for key in cells]
            row.append(statuses.get(sub.student.id, NO_RECORD))
            rows.append(row)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def grade_order(root: Path, chapter: str) -> dict:
    """{(notebook, grade_id): position} from the source notebooks (the gradebook keeps no order)."""
    import nbformat

    order = {}
    for path in sorted((Path(root) / nbg.SOURCE_DIR / chapter).glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                order[(path.stem, meta.get("grade_id"))] = len(order)
    return order


# ---------------------------------------------------------------------------------------------
# The batch.


def find_students(submissions: Path, chapter: str) -> tuple[Path, list[str]]:
    submissions = Path(submissions)
    if (submissions / "submitted").is_dir():
        submissions = submissions / "submitted"
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder: {submissions}")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    return submissions, students


def grade(root: Path, chapter: str, submissions: Path, course_dir: Path | None = None, *,
          jobs: int | None = None, timeout: int | None = None, memory_limit: int = 2048, feedback: bool = True,
          progress: bool = True, keep_workdirs: bool = False, fork: bool = True,
          unsafe_no_sandbox: bool = False, shard: tuple[int, int] | None = None, log=print) -> BatchResult:
    """Grade every submission of ``chapter`` in ``submissions`` (with ``shard=(K, N)``: only the
    students of shard K of N, see ``gradebook.shard_of``) into the course's gradebook."""
    root = Path(root).resolve()
    if unsafe_no_sandbox:
        sandbox_line = ("WARNING: graded WITHOUT a sandbox (--unsafe-no-sandbox): student code ran with the "
                        "grader's rights and could read the solutions, change files and forge verdicts.")
    else:
        ok, how = sandbox.probe()
        if not ok:
            raise SandboxUnavailable(f"no sandbox for student code: {how}. grade refuses to run submissions "
                                     "without one; pass --unsafe-no-sandbox to grade anyway (unsafe).")
        sandbox_line = f"Sandbox: each submission's kernel ran in its own sandbox ({how})."
    if chapter not in nbg.chapters_in(root):
        raise FileNotFoundError(f"no chapter {chapter!r}: missing {root}/solutions/{chapter}/{chapter}.ipynb")
    course_dir = Path(course_dir).resolve() if course_dir else root / "course"
    course_dir.mkdir(parents=True, exist_ok=True)
    nbg.write_course_config(root, course_dir)  # stock nbgrader and formgrader started there use this gradebook
    submitted, students = find_students(Path(submissions).resolve(), chapter)
    n_found = len(students)
    if shard is not None:
        students = [s for s in students if gradebook.shard_of(s, shard[1]) == shard[0]]
    graded_by = gradebook.grader_name(shard)
    url = gradebook.url_for(root, course_dir)
    jobs = max(1, jobs or os.cpu_count() or 1)
    course_id = nbg.course_id(root)
    timeout = int(timeout or nbg.config_value(root, "Execute", "timeout", 120))
    t_start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="nn-grade-"))
    zygote = None
    judge = None
    if fork:
        try:
            zygote = Zygote(nbg.venv_env())
        except (ZygoteDied, OSError, ValueError) as exc:
            log(f"note: starting each nbgrader process from scratch ({exc})")
    batch_lock = contextlib.ExitStack()
    try:
        # Two graders of one SQLite file would each put back their own last copy over the other's grades.
        batch_lock.enter_context(gradebook.sole_grader(
            url, f"grade {chapter}" + (f" --shard {shard[0]}/{shard[1]}" if shard else "")))
        template = tmp / "template"
        release_dir = nbg.generate_assignment(root, chapter, template, zygote=zygote)
        notebooks = sorted(p.stem for p in release_dir.glob("*.ipynb"))
        master = MasterGradebook(ensure_master(root, chapter, template, url, course_id, zygote), course_id)
        import nbformat

        n_code = sum(1 for name in notebooks
                     for c in nbformat.read(str(release_dir / f"{name}.ipynb"), as_version=4).cells
                     if c.cell_type == "code")
        # A whole notebook's time: the chapters run in under 30 s. A timed-out cell costs one timeout,
        # but a stalled kernel connection (the kernel idle, its reply lost) makes every later cell
        # wait a full timeout, so the limit is not cells x timeout, which would hold a worker for hours.
        wall_limit = min(n_code + 2, 10) * timeout + 60
        threads_env = {k: os.environ.get(k, "1") for k in
                       ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        workroot = tmp / "students"
        workroot.mkdir()
        judge = BatchJudge(root, chapter, tmp, jobs, sandboxed=not unsafe_no_sandbox)

        outcomes: dict[str, Outcome] = {}

        def one(student: str) -> Outcome:
            sub_dir = submitted / student / chapter
            if not STUDENT_RE.match(student):
                out = Outcome(student, status="failed: unusable student id (allowed: letters, digits, _.@+-)")
            elif not sub_dir.is_dir():
                out = Outcome(student, status=f"failed: no {chapter}/ folder in the submission")
            else:
                out = StudentRun(student=student, chapter=chapter, submission=sub_dir, template=template,
                                 notebooks=notebooks, workroot=workroot, root=root, course_id=course_id,
                                 timeout=timeout, memory_limit=memory_limit, wall_limit=wall_limit,
                                 threads_env=threads_env, zygote=zygote, judge=judge)()
            if STUDENT_RE.match(student):
                answers = similarity.student_answers(submitted / student / chapter, notebooks)
                try:
                    master.write(lambda gb: merge(gb, chapter, out, graded_by=graded_by, answers=answers),
                                 f"after grading {student}")
                    _install_autograded(out, course_dir, chapter)
                except Exception as exc:  # noqa: BLE001
                    out.status = f"failed: could not record the grade ({type(exc).__name__}: {exc})"
                if out.workdir and not keep_workdirs:
                    shutil.rmtree(out.workdir, ignore_errors=True)
            bar.advance()
            return out

        t_setup = time.monotonic() - t_start
        with Progress(len(students), label=f"grading {chapter}", enabled=progress) as bar:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for out in pool.map(one, students):
                    outcomes[out.student] = out
        with master.lock:
            master.verify("at the end of the batch")

        result = BatchResult(chapter, course_dir, [outcomes[s] for s in students],
                             incidents=master.incidents, course_id=course_id)
        result.sandbox_line = sandbox_line
        result.uids = [u for u in (judge.lease.uids if judge.lease else []) if u is not None]
        result.judge_notes = _judge_notes(judge)
        result.phases["setup"] = t_setup
        result.phases["autograde"] = time.monotonic() - t_start - t_setup
        if shard is not None and gradebook.sqlite_path(url) is not None:
            result.incidents.append(f"--shard {shard[0]}/{shard[1]} with a SQLite gradebook: this machine's grades are "
                                    "in its own file only; machines that share a class need one PostgreSQL "
                                    "gradebook (c.CourseDirectory.db_url)")
        result.shard_line = (f"{len(students)} of the {n_found} submission folder(s) are in shard "
                             f"{shard[0]}/{shard[1]}" if shard else "")
        if feedback:
            graded = [o.student for o in result.outcomes if o.ok]
            if graded:
                result.feedback_dir, problems = generate_feedback(root, chapter, course_dir, graded,
                                                                  course_id, zygote, jobs=jobs)
                result.incidents.extend(problems)
        result.phases["feedback"] = time.monotonic() - t_start - t_setup - result.phases["autograde"]
        result.seconds = time.monotonic() - t_start
        gradebook.record_batch(url, course_id, chapter, graded_by, batch_summary(result))
        result.csv_path = export_csv(root, chapter, course_dir, course_id)
        result.report_path = write_report(root, chapter, course_dir, course_id, csv_path=result.csv_path,
                                          feedback_dir=result.feedback_dir, compare=shard is None)
        return result
    finally:
        batch_lock.close()
        if judge is not None:
            judge.close()
        if zygote is not None:
            zygote.close()
        if not keep_workdirs:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"private course folders kept in {tmp}")


def _judge_notes(judge: BatchJudge) -> list[str]:
    notes = []
    if judge.catalogue is None:
        notes.append(f"no catalogue of checks found for {judge.chapter}: every graded cell was judged by "
                     "nbgrader inside the kernel (a submission can forge those verdicts)")
    else:
        n = sum(1 for c in judge.cells if c.calls)
        notes.append(f"{n} graded cell(s) judged outside the student's code, on results recorded in the "
                     f"sandbox from inputs drawn with the grader's own seed")
        if judge.kernel_graded:
            notes.append("judged by nbgrader inside the kernel (forgeable): " + ", ".join(judge.kernel_graded))
        manual = [f"{c.grade_id} ({c.points:g} points)" for c in judge.cells if not c.code]
        if manual:
            notes.append("needs manual grading (written answers, in formgrader): " + ", ".join(manual))
        if judge.leftovers:
            notes.append(f"processes outlived {judge.leftovers} sandbox(es) and could not be killed, e.g. "
                         + "; ".join(judge.leftover_examples[:3]))
        if judge.stubbed:
            notes.append(f"not importable in the sandbox (this chapter's answers): {', '.join(judge.stubbed)}")
        if judge.kept:
            notes.append("still importable in the sandbox, because the checks need them there (a student "
                         f"could delegate to them; see the similarity report): {', '.join(judge.kept)}")
    return notes


def _install_autograded(out: Outcome, course_dir: Path, chapter: str) -> None:
    dest = course_dir / "autograded" / out.student / chapter
    if dest.exists():
        _make_writable(dest)
        shutil.rmtree(dest)
    src = out.workdir / "autograded" / out.student / chapter if out.workdir else None
    if out.ok and src and src.is_dir():
        shutil.copytree(src, dest, symlinks=True)
    fb = course_dir / "feedback" / out.student / chapter
    if fb.exists():  # stale feedback from an earlier run
        shutil.rmtree(fb)


def _make_writable(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        try:
            p.chmod(p.stat().st_mode | 0o200)
        except OSError:
            pass


def batch_summary(result: BatchResult) -> dict:
    """What the report keeps of one ``grade`` run (stored in the gradebook's ``autograder_batch``)."""
    n_ok = sum(o.ok for o in result.outcomes)
    line = (f"{len(result.outcomes)} submission(s), {n_ok} graded, {len(result.outcomes) - n_ok} failed, in "
            f"{result.seconds:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in result.phases.items()) + ")")
    return {"sandbox": result.sandbox_line, "line": line, "shard": result.shard_line,
            "verdicts": result.judge_notes, "incidents": result.incidents}


def score_table(chapter: str, scores: dict, records: dict) -> str:
    """One line per student (and one per note): score, grading time, status, and which machine and
    shard graded it when more than one did."""
    students = sorted(set(scores) | set(records))
    graders = {records[s]["graded_by"] for s in students if s in records}
    w = max([len("student")] + [len(s) for s in students])
    head = f"{'student':<{w}}  {'score':>9}  {'time':>6}  "
    lines = [head + "status" + ("  [graded by]" if len(graders) > 1 else ""),
             f"{'-' * w}  {'-' * 9}  {'-' * 6}  {'-' * 40}"]
    for s in students:
        score, max_score = scores.get(s, (None, None))
        rec = records.get(s, {"status": NO_RECORD, "notes": [], "seconds": None, "graded_by": ""})
        sc = f"{_fmt(score)} / {_fmt(max_score)}" if max_score is not None else "-"
        t = f"{rec['seconds']:5.1f}s" if rec["seconds"] is not None else "     -"
        by = f"  [{rec['graded_by']}]" if len(graders) > 1 else ""
        lines.append(f"{s:<{w}}  {sc:>9}  {t:>6}  {rec['status']}{by}")
        for note in rec["notes"]:
            lines.append(f"{'':<{w}}  {'':>9}  {'':>6}    - {note}")
    return "\n".join(lines)


def write_report(root: Path, chapter: str, course_dir: Path, course_id: str | None = None, *,
                 csv_path: Path | None = None, feedback_dir: Path | None = None, compare: bool = True) -> Path:
    """``COURSE_DIR/reports/<chapter>-report.txt``, built from the gradebook alone: every student once
    (whichever batch or machine graded it), the class-wide similarity, and every batch, newest first.
    The first line says how the code ran: a batch graded without the sandbox is named there.
    ``compare=False`` leaves the similarity out (a shard's report: the class is not complete yet)."""
    from nbgrader.api import Gradebook, MissingEntry

    root, course_dir = Path(root), Path(course_dir)
    course_id = course_id or nbg.course_id(root)
    url = gradebook.url_for(root, course_dir)
    records = gradebook.outcomes(url, course_id, chapter)
    runs = gradebook.batches(url, course_id, chapter)
    scores = {}
    with Gradebook(url, course_id) as gb:
        try:
            for sub in gb.find_assignment(chapter).submissions:
                scores[sub.student.id] = (sub.score, sub.max_score)
        except MissingEntry:
            pass
    sandbox_lines = sorted({r["sandbox"] for r in runs if r.get("sandbox")}, key=lambda x: not x.startswith("WARNING"))
    n_ok = sum(r["status"] == "graded" for r in records.values())
    machines = {r["graded_by"].split(",")[0] for r in runs}
    text = sandbox_lines + [
        f"Chapter {chapter}: {len(scores)} student(s) in the gradebook, {n_ok} graded, "
        f"{len(records) - n_ok} failed" + (f", {len(scores) - len(records)} without a grading record"
                                           if len(scores) > len(records) else "")
        + f"; {len(runs)} batch(es) on {len(machines)} machine(s)"]
    text += [f"WARNING: {w}" for w in gradebook.shard_gaps(runs, chapter)]
    if runs:
        latest = runs[0]
        text += [f"Latest batch ({latest['graded_by']}, {latest['finished_at']:%Y-%m-%d %H:%M} UTC): " + latest["line"]
                 + (f"; {latest['shard']}" if latest.get("shard") else "")]
    text += ["", score_table(chapter, scores, records)]
    if runs and runs[0]["verdicts"]:
        text += ["", "Verdicts:"] + [f"  - {i}" for i in runs[0]["verdicts"]]
    incidents = [(r, i) for r in runs for i in r["incidents"]]
    if incidents:
        text += ["", "Incidents:"] + [f"  - {i}" + (f" [{r['graded_by']}, {r['finished_at']:%Y-%m-%d %H:%M}]"
                                                   if len(runs) > 1 else "") for r, i in incidents]
    text += ["", "Similarity (normalised code, the whole class; for the instructor to judge; never deducted):"]
    if compare:
        similar = similarity.report({s: r["answers"] for s, r in records.items()},
                                    verdict.find_catalogue(root, chapter))
        text += [f"  - {line}" for line in similar] or ["  - no pair above the threshold"]
    else:
        text += [f"  - not compared by a shard: once every shard is done, `python -m autograder export {chapter}`"]
    if len(runs) > 1:
        text += ["", "Batches, newest first:"]
        text += [f"  - {r['finished_at']:%Y-%m-%d %H:%M} UTC, {r['graded_by']}: {r['line']}"
                 + (f"; {r['shard']}" if r.get("shard") else "") for r in runs]
    feedback_dir = feedback_dir or (course_dir / "feedback" if (course_dir / "feedback").is_dir() else None)
    text += ["", f"gradebook: {gradebook.shown(url)}",
             f"grades CSV: {csv_path or course_dir / 'reports' / f'{chapter}-grades.csv'}",
             f"feedback:   {feedback_dir or '(not generated)'}"
             + ("/<student>/" + chapter + "/*.html" if feedback_dir else ""),
             f"autograded: {course_dir / 'autograded'}/<student>/{chapter}/ (on the machine that graded each)"]
    path = course_dir / "reports" / f"{chapter}-report.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(text) + "\n")
    return path
