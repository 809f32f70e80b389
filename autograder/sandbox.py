"""A sandbox per submission: each student's notebook kernel runs inside bubblewrap (``bwrap``).

What the kernel (the student's code) sees and may do:

- a read-only view of the system (``/usr``, ``/etc``, the library folders), of Python (the
  interpreter's prefix and the virtual environment) and of the course's code: ``nnlib/`` and
  ``autograder/`` only, at their own paths (so an editable install still resolves), with the
  functions the graded chapter asks students to write replaced by stubs (:func:`stub_sources`);
- nothing else of the machine: no ``solutions/``, no gradebook, no submissions folder, no other
  student, no reports or feedback, no repository working tree, no home folder;
- three private writable folders: its working folder (a copy of the chapter's files, mounted where
  nbgrader expects the notebook's folder), the folder it records its results in
  (``AUTOGRADER_COLLECT_DIR``), and the folder of its kernel's connection sockets; ``/tmp`` is a small
  private tmpfs;
- no network (its own empty network namespace; the kernel talks to nbgrader over Unix sockets), its
  own process, IPC and UTS namespaces, a new session, and it dies with its launcher: nothing it
  starts outlives it;
- an unprivileged user: when the grader runs as root, bwrap sets the namespaces up and the kernel then
  runs as a uid of its own (one per parallel job, so that a fork bomb in one cannot starve another's
  process limit), with no capabilities and ``no_new_privs``; when the grader is not root, bwrap uses a
  user namespace and the kernel runs as the grader's own (unprivileged) uid;
- limits: address space (``--memory-limit``), CPU seconds, processes, file size, and the size of its
  ``/tmp``.

``python -m autograder.sandbox kernel CONFIG CONNECTION_FILE [ARGS...]`` is the kernel command the
grader installs as the private ``python3`` kernelspec of each student's nbgrader run: it runs outside
the sandbox (trusted), prepares the private folders and ``exec``\\s bwrap.
"""

from __future__ import annotations

import ast
import json
import os
import resource
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

#: First uid of the sandboxed kernels when the grader runs as root (job slot k uses BASE_UID + k).
BASE_UID = 61000
PROCESS_LIMIT = 256  # threads count too: numpy/BLAS and ZMQ start a few
FILE_SIZE_LIMIT_MB = 64
TMP_SIZE_MB = 256
ENV_KEEP = ("LANG", "LC_ALL", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TZ")


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _python_roots() -> list[Path]:
    """Folders Python needs: its base prefix and the virtual environment's prefix."""
    roots = []
    for p in {sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix}:
        p = Path(p).resolve()
        if not any(p == r or r in p.parents for r in roots):
            roots.append(p)
    return sorted(roots)


def _code_roots() -> list[Path]:
    """The course's installed packages (nnlib and autograder), wherever they are imported from."""
    import autograder
    import nnlib

    return [Path(autograder.__file__).resolve().parent, Path(nnlib.__file__).resolve().parent]


def _system_args() -> list[str]:
    args = []
    for top in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        p = Path(top)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            args += ["--ro-bind", top, top]
    return args


class _Mounts:
    """bwrap arguments, creating every parent folder of a mount point world-traversable (bwrap
    would otherwise create them with mode 0700, closed to the unprivileged kernel)."""

    SYSTEM = {"/", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/proc", "/dev"}

    def __init__(self):
        self.args: list[str] = []
        self.made: set[str] = set()

    def _parents(self, dest: Path) -> None:
        for parent in reversed(dest.parents):
            s = str(parent)
            if s in self.SYSTEM or s in self.made:
                continue
            self.made.add(s)
            self.args += ["--perms", "0755", "--dir", s]

    def bind(self, src, dest=None, *, ro=True) -> None:
        dest = Path(dest or src)
        self._parents(dest)
        self.made.add(str(dest))
        self.args += ["--ro-bind" if ro else "--bind", str(src), str(dest)]

    def tmpfs(self, dest, size_mb: int) -> None:
        dest = Path(dest)
        self._parents(dest)
        self.made.add(str(dest))
        self.args += ["--size", str(size_mb * 2**20), "--perms", "1777", "--tmpfs", str(dest)]


UID_RANGE = 1000  # uids BASE_UID .. BASE_UID + UID_RANGE - 1
LOCK_DIR = Path("/tmp/nn-sandbox-uids")


def sandbox_uid(slot: int) -> int | None:
    """The uid a kernel runs as (None when the grader is not root: bwrap's user namespace then)."""
    return BASE_UID + int(slot) if os.geteuid() == 0 else None


class UidLease:
    """Sandbox uids held by this batch alone, for its lifetime: an exclusive ``flock`` on one file per
    uid, so that two batches at once (two instructors, two test runs) never share a uid, its process
    limit, or have their kernels reaped by the other."""

    def __init__(self, count: int):
        import fcntl

        self.uids: list[int | None] = []
        self._files = []
        if os.geteuid() != 0:
            self.uids = [None] * count
            return
        import secrets

        LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        start = secrets.randbelow(UID_RANGE)  # a released uid is not the next batch's first choice
        for k in range(UID_RANGE):
            uid = BASE_UID + (start + k) % UID_RANGE
            if len(self.uids) == count:
                break
            f = open(LOCK_DIR / str(uid), "a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            self._files.append(f)
            self.uids.append(uid)
        if len(self.uids) < count:
            self.release()
            raise RuntimeError(f"no free sandbox uid in {BASE_UID}..{BASE_UID + UID_RANGE - 1}")

    def release(self) -> None:
        for f in self._files:
            f.close()  # closing drops the lock
        self._files = []


def bwrap_argv(*, workdir: Path, writable: list[Path], overlays: dict | None = None, uid: int | None,
               env: dict, command: list[str], split: bool = False):
    """The full command line: ``bwrap ... [drop to uid] command``.

    ``workdir`` is the kernel's working folder (one of ``writable``); ``overlays`` maps paths of the
    course's code to replacement files (the stubs), mounted read-only over them.
    """
    m = _Mounts()
    m.args += _system_args()
    m.args += ["--proc", "/proc", "--dev", "/dev"]
    m.tmpfs("/tmp", TMP_SIZE_MB)
    for root in _python_roots():
        m.bind(root)
    for root in _code_roots():
        m.bind(root)
    for dest, src in sorted((overlays or {}).items()):
        m.args += ["--ro-bind", str(src), str(dest)]
    for path in writable:
        m.bind(path, ro=False)
    ns = (["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
          if uid is not None else ["--unshare-all", "--unshare-user", "--disable-userns"])
    argv = [bwrap_path() or "bwrap", *ns, "--die-with-parent", "--new-session", "--hostname", "sandbox",
            *m.args, "--chdir", str(workdir), "--clearenv"]
    for k, v in sorted(env.items()):
        argv += ["--setenv", k, str(v)]
    if uid is not None:
        # bwrap runs privileged (as root, no user namespace) to set up the mounts; the kernel then
        # drops to its own uid: no capabilities left, no_new_privs (set by bwrap) keeps it that way.
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        command = [sys.executable, "-I", "-S", "-c", _DROP, str(uid), *command]
    return (argv, command) if split else argv + command


_DROP = ("import ctypes, os, signal, sys; u = int(sys.argv[1]); os.setgroups([]); os.setresgid(u, u, u); "
         "os.setresuid(u, u, u); "
         # the kernel dies with the sandbox's init at once (prctl PR_SET_PDEATHSIG; cleared by setuid, so after)
         "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0); "
         "os.execv(sys.argv[2], sys.argv[2:])")


def set_limits(*, memory_mb: int, cpu_seconds: int, processes: int = PROCESS_LIMIT,
               file_size_mb: int = FILE_SIZE_LIMIT_MB) -> None:
    """Resource limits for this process and everything it starts (call right before exec)."""
    if memory_mb:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20,) * 2)
    if cpu_seconds:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_mb * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# ---------------------------------------------------------------------------------------------
# Is a sandbox available here?

_PROBE = None


def probe() -> tuple[bool, str]:
    """(True, how) if a kernel can be sandboxed on this machine, else (False, why not). Cached."""
    global _PROBE
    if _PROBE is None:
        _PROBE = _probe()
    return _PROBE


def _probe() -> tuple[bool, str]:
    exe = bwrap_path()
    if exe is None:
        return False, "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    import tempfile

    lease = UidLease(1)
    try:
        return _probe_with(exe, lease.uids[0])
    finally:
        lease.release()


def _probe_with(exe: str, uid: int | None) -> tuple[bool, str]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="nn-sandbox-probe-") as tmp:
        tmp = Path(tmp)
        if uid is not None:
            os.chown(tmp, uid, uid)
        argv = bwrap_argv(workdir=tmp, writable=[tmp], uid=uid, env={"PATH": "/usr/bin:/bin"},
                          command=[sys.executable, "-I", "-c",
                                   "import os, socket; open('ok', 'w').write(str(os.getuid())); "
                                   "print(len(socket.if_nameindex()))"])
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"bwrap could not start a sandbox ({exc})"
        if proc.returncode != 0 or not (tmp / "ok").exists():
            return False, "bwrap could not start a sandbox: " + (proc.stderr.strip()[-300:] or f"exit {proc.returncode}")
        if proc.stdout.strip() != "1":
            return False, "the sandbox has a network interface besides loopback"
        who = (f"their own uids (from {BASE_UID}..{BASE_UID + UID_RANGE - 1})" if uid is not None
               else "the grader's uid in a user namespace")
    return True, f"bubblewrap {_bwrap_version(exe)}, kernels run as {who}"


def _bwrap_version(exe: str) -> str:
    try:
        return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.split()[-1]
    except Exception:  # noqa: BLE001
        return "?"


# ---------------------------------------------------------------------------------------------
# Delegation closed at the root: nnlib's answers to the graded chapter, replaced by stubs.


def _resolves_to_forbidden(function, forbidden: set, seen: set) -> set:
    """Forbidden functions that ``function`` calls by name, directly or through the course's own
    helpers (e.g. a case's inputs computed with the reference softmax, or the reference loss a check
    hands to student code, which calls the reference layers)."""
    found = set()
    code = getattr(function, "__code__", None)
    if code is None or id(function) in seen:
        return found
    seen.add(id(function))
    g = getattr(function, "__globals__", {})
    names, stack = set(), [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if hasattr(k, "co_names"))
    cells = [c.cell_contents for c in (getattr(function, "__closure__", None) or ()) if _has_contents(c)]
    for name in names:
        obj = g.get(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            candidates = [obj] + [getattr(obj, attr, None) for attr in names] if obj is not None else []
        for cand in candidates + cells:
            if cand is None:
                continue
            try:
                hit = cand in forbidden
            except TypeError:
                continue
            if hit:
                found.add(cand)
                found |= _resolves_to_forbidden(cand, forbidden, seen)
            elif callable(cand) and str(getattr(cand, "__module__", "")).split(".")[0] in _OWN:
                found |= _resolves_to_forbidden(cand, forbidden, seen)
    return found


_OWN = {"nnlib", "autograder", "tiny_checks"}


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def needed_by_checks(catalogue) -> set:
    """The forbidden functions the chapter's checks need inside the sandbox: the ones a case draws
    its inputs with, the ones ``run`` calls, and the ones handed to student code (wrapped with
    ``checks.trusted``), with what they call. These stay importable (the report names them). The
    numerical derivatives (``numerical``) are not among them: without them the checks only lose a
    hint about the student's forward."""
    forbidden = set(catalogue.forbidden)
    needed = set()
    if not forbidden:
        return needed
    roots, mods = [], set()
    for exercise in catalogue.exercises.values():
        roots += [exercise.run, *(c.draw for c in exercise.cases)]
        for f in (exercise.run, exercise.numerical, *(c.draw for c in exercise.cases)):
            if getattr(f, "__module__", None) in sys.modules:
                mods.add(sys.modules[f.__module__])
    for mod in mods:
        for value in list(vars(mod).values()):
            inner = getattr(value, "__wrapped__", None)
            if inner in forbidden:
                needed.add(inner)
                roots.append(inner)
    seen: set = set()
    for root in roots:
        needed |= _resolves_to_forbidden(root, forbidden, seen)
    return needed


def stub_sources(catalogue, outdir: Path) -> tuple[dict, list[str]]:
    """Write stubbed copies of the nnlib modules that hold the chapter's forbidden functions.

    Returns ({path of the real module file: path of its stubbed copy}, [qualified names stubbed],
    [qualified names kept because the checks need them in the sandbox]).
    A stub keeps the signature and raises ``RuntimeError`` naming the chapter.
    """
    import inspect

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    keep = needed_by_checks(catalogue)
    by_file: dict[Path, set] = {}
    for f in catalogue.forbidden:
        # Only nnlib's answers: the catalogue's own helpers (its references, draws and mistakes, which
        # it may also forbid students to call) are the check machinery, needed in the sandbox.
        if f in keep or not str(getattr(f, "__module__", "")).startswith("nnlib"):
            continue
        try:
            path = Path(inspect.getsourcefile(f)).resolve()
        except (TypeError, OSError):
            continue
        by_file.setdefault(path, set()).add(f.__name__)
    overlays, stubbed = {}, []
    for i, (path, names) in enumerate(sorted(by_file.items())):
        tree = ast.parse(path.read_text())
        modname = path.stem
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names \
                    and node in tree.body:
                message = (f"nnlib's {modname}.{node.name} is not available while chapter "
                           f"{catalogue.chapter} is graded: this chapter asks you to write it yourself.")
                doc = ast.get_docstring(node)
                body = [ast.Expr(ast.Constant(doc))] if doc else []
                body.append(ast.Raise(exc=ast.Call(func=ast.Name("RuntimeError", ast.Load()),
                                                   args=[ast.Constant(message)], keywords=[]), cause=None))
                node.body = body
                stubbed.append(f"nnlib.{modname}.{node.name}")
        out = outdir / f"{i:02d}_{path.name}"
        out.write_text("# Stubbed for grading by autograder.sandbox\n" + ast.unparse(ast.fix_missing_locations(tree)) + "\n")
        overlays[path] = out
    kept = sorted(f"{f.__module__}.{f.__name__}" for f in keep if str(f.__module__).startswith("nnlib"))
    return overlays, sorted(stubbed), kept


# ---------------------------------------------------------------------------------------------
# The kernel launcher (runs outside the sandbox, in nbgrader's process tree).


def kernelspec(config: Path) -> dict:
    """The ``kernel.json`` of the private ``python3`` kernelspec that starts sandboxed kernels."""
    return {"argv": [sys.executable, "-m", "autograder.sandbox", "kernel", str(config), "{connection_file}"],
            "display_name": "Python 3 (sandboxed)", "language": "python", "interrupt_mode": "message",
            "metadata": {"debugger": False}}


def _copy_workdir(src: Path, dest: Path, uid: int | None) -> None:
    """The kernel's working folder: a copy of the notebook's folder (the chapter's files and the
    student's own), owned by the kernel's uid. Never the notebooks: the one nbgrader is executing
    holds the test cells as restored from the gradebook, hidden tests included."""
    dest.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        for item in src.iterdir():
            target = dest / item.name
            if target.exists() or item.is_symlink() or item.suffix == ".ipynb":
                continue
            if item.is_dir():
                shutil.copytree(item, target, symlinks=True, ignore=shutil.ignore_patterns("*.ipynb"))
            elif item.is_file():
                shutil.copyfile(item, target)
    _chown_tree(dest, uid)


def _chown_tree(path: Path, uid: int | None) -> None:
    if uid is None:
        return
    for p in [path, *path.rglob("*")]:
        try:
            os.lchown(p, uid, uid)
        except OSError:
            pass


def reap_uid(uid: int | None, wait: float = 5.0) -> list[str]:
    """Before a sandbox uid goes to the next student: SIGKILL whatever still runs as it (a pid
    namespace being torn down, e.g. after a fork bomb, can take a moment under load) and wait until
    it is gone. Returns what survived ``wait`` seconds after that (nothing, unless unkillable)."""
    import signal
    import time

    if uid is None or os.geteuid() != 0:
        return []
    deadline = time.monotonic() + wait
    while True:
        procs = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid]
        if not procs:
            return []
        for p in procs:
            try:
                os.kill(int(p.name), signal.SIGKILL)
            except OSError:
                pass
        if time.monotonic() > deadline:
            out = []
            for p in procs:
                try:
                    out.append(f"{p.name} " + (p / "cmdline").read_bytes().replace(b"\0", b" ")[:80].decode(errors="replace"))
                except OSError:
                    pass
            return out
        time.sleep(0.05)


def _owner(proc: Path) -> int | None:
    try:
        return proc.stat().st_uid
    except OSError:
        return None


def _processes_of(uid: int) -> int:
    n = 0
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and p.stat().st_uid == uid:
                n += len(list((p / "task").iterdir()))
        except OSError:
            continue
    return n


def launch_kernel(config_path: str, connection_file: str, extra: list[str]) -> None:
    """``exec`` bwrap running ``ipykernel`` with the student's private folders; never returns."""
    cfg = json.loads(Path(config_path).read_text())
    uid = cfg.get("uid")
    cwd = Path.cwd()
    scratch, records, runtime = Path(cfg["scratch"]), Path(cfg["records"]), Path(cfg["runtime"])
    for d in (records, runtime):
        d.mkdir(parents=True, exist_ok=True)
        _chown_tree(d, uid)
    _copy_workdir(cwd, scratch, uid)
    conn = runtime / Path(connection_file).name
    shutil.copyfile(connection_file, conn)
    _chown_tree(conn, uid)
    env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
    env.update({
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp/home", "IPYTHONDIR": "/tmp/home/.ipython", "MPLCONFIGDIR": "/tmp/home/.mpl",
        "JUPYTER_RUNTIME_DIR": "/tmp/home/.runtime", "JUPYTER_DATA_DIR": "/tmp/home/.data",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1", "NN_COURSE_SANDBOX": "1",
        "AUTOGRADER_COLLECT_DIR": str(records), "AUTOGRADER_SEED": str(int(cfg["seed"])),
    })
    env.update(cfg.get("env", {}))
    command = [sys.executable, "-m", "ipykernel_launcher", "-f", str(conn), *extra]
    if not cfg.get("sandbox", True):  # --unsafe-no-sandbox: the same kernel, with the grader's rights
        env.update({"HOME": str(scratch / ".home"), "IPYTHONDIR": str(scratch / ".home" / ".ipython"),
                    "MPLCONFIGDIR": str(scratch / ".home" / ".mpl"),
                    "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTER_DATA_DIR": str(scratch / ".home" / ".data")})
        os.chdir(scratch)
        set_limits(memory_mb=int(cfg.get("memory_mb", 0)), cpu_seconds=int(cfg.get("cpu_seconds", 0)),
                   processes=PROCESS_LIMIT + _processes_of(os.getuid()))
        os.execve(command[0], command, env)
    overlays = {Path(k): Path(v) for k, v in cfg.get("overlays", {}).items()}
    # The kernel's folder is its scratch copy, mounted where nbgrader expects the notebook's folder.
    argv, command = bwrap_argv(workdir=cwd, writable=[], uid=uid, env=env, command=command, overlays=overlays,
                               split=True)
    i = argv.index("--chdir")
    extra_mounts = []
    for src, dest in ((scratch, cwd), (records, records), (runtime, runtime)):
        extra_mounts += ["--bind", str(src), str(dest)]
    # Parents of the private folders, traversable (inserted before --chdir).
    parents = _Mounts()
    parents.made = {"/tmp"}
    for dest in (cwd, records, runtime):
        parents._parents(Path(dest))
    argv[i:i] = parents.args + extra_mounts
    processes = PROCESS_LIMIT
    if uid is None:  # the kernel keeps the grader's uid: the limit counts the grader's own processes too
        processes += _processes_of(os.getuid())
    set_limits(memory_mb=int(cfg.get("memory_mb", 0)), cpu_seconds=int(cfg.get("cpu_seconds", 0)),
               processes=processes)
    # bwrap's options go through a memory file (``--args FD``, closed by bwrap), so that the sandbox's
    # pid 1 shows no paths in /proc/1/cmdline; and bwrap gets an empty environment (/proc/1/environ).
    fd = os.memfd_create("bwrap-args", 0)
    os.write(fd, b"".join(a.encode() + b"\0" for a in argv[1:]))
    os.lseek(fd, 0, os.SEEK_SET)
    os.set_inheritable(fd, True)
    os.execve(argv[0], [argv[0], "--args", str(fd), *command], {"PATH": "/usr/bin:/bin"})


def main(argv: list[str]) -> int:
    if argv[:1] == ["kernel"] and len(argv) >= 3:
        launch_kernel(argv[1], argv[2], argv[3:])
        return 1
    if argv[:1] == ["probe"]:
        ok, how = probe()
        print(("sandbox available: " if ok else "no sandbox: ") + how)
        return 0 if ok else 1
    print("usage: python -m autograder.sandbox probe | kernel CONFIG CONNECTION_FILE [ARGS...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
