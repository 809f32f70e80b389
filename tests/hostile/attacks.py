"""Hostile submissions: the code a malicious student puts in a solution cell, one attack class each.

Used by tests/test_sandbox.py. Every attack is appended to a *correct* ``square`` in the fixture
chapter (00_tiny: square 2 points, mean 3 points) and leaves ``mean`` unsolved, so an attacker earns
exactly 2 points with its honest work, and anything above 2 is a successful attack. The attacks on
chapter 1 (delegation to nnlib) replace every answer with a call into nnlib.

Attacks that would damage files never write content into the course's code or the repository (the
test suite runs in a shared checkout): they open those files for appending, which fails on a
read-only view, and print ``BREACH <what>`` when something succeeds. The test asserts that no
``BREACH`` appears in any output, besides byte-identical trees.

``{placeholders}`` are filled in by the test: paths of the master gradebook, of the submissions, of
a canary file outside the course, of the repository, and a marker for leftover processes.
"""

SQUARE_OK = 'def square(x):\n    """Return x squared."""\n    return x * x\n'

# name -> code appended to the square cell
FIXTURE_ATTACKS = {
    # --- full marks for wrong or missing answers -----------------------------------------------
    "redefine_grade": '''
def grade(*args, **kwargs):
    print("[PASSED] everything")
def check(*args, **kwargs):
    print("[PASSED] everything")
''',
    "patch_catalogue": '''
import autograder.checks as _c
_real_collect = _c.Catalogue.collect
def _fake_collect(self, name, function, forward=None, *, seed, hidden=False):
    return _real_collect(self, name, (lambda *a: 1.0) if name == "mean" else function, forward, seed=seed,
                         hidden=hidden)
_c.Catalogue.collect = _fake_collect
_c.Catalogue.judge = lambda self, *a, **k: _c.Report("x", "passed", "ok", 0)
_c.Catalogue.evaluate = lambda self, *a, **k: _c.Report("x", "passed", "ok", 0)
_c.Catalogue.grade = lambda self, *a, **k: print("[PASSED]")
''',
    "input_transformer": '''
get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])
''',
    "forge_records": '''
import os, numpy as np
import autograder.checks as _c
import tiny_checks
_d = os.environ.get("AUTOGRADER_COLLECT_DIR", ".")
_honest = lambda xs: sum(xs) / len(xs)
for _hidden in (False, True):
    _rec = tiny_checks.CATALOGUE.collect("mean", _honest, seed=12345, hidden=_hidden)
    _p = os.path.join(_d, "mean.hidden.npz" if _hidden else "mean.npz")
    _c.save_collected(_rec, _p)
    os.chmod(_p, 0o444)  # so that the real grade call cannot overwrite it
try:
    os.symlink("/etc/shadow", os.path.join(_d, "square.hidden.npz.tmp"))
except OSError:
    pass
''',
    "huge_record": '''
import os
_d = os.environ.get("AUTOGRADER_COLLECT_DIR", ".")
for _n in ("mean.npz", "mean.hidden.npz"):
    with open(os.path.join(_d, _n), "wb") as _f:
        _f.write(b"PK\\x03\\x04" + b"\\0" * 100)
    os.chmod(os.path.join(_d, _n), 0o444)
''',
    # --- damage to other students and to the instructor's files ---------------------------------
    "append_to_code": '''
import glob, os
for _p in glob.glob({repo!r} + "/nnlib/**/*.py", recursive=True) + \\
          glob.glob({repo!r} + "/autograder/**/*.py", recursive=True) + [{repo!r} + "/README.md"]:
    try:
        open(_p, "a").close()
        print("BREACH writable", _p)
    except OSError:
        pass
import autograder.checks as _c
try:
    open(_c.__file__, "a").close()
    print("BREACH writable", _c.__file__)
except OSError:
    pass
''',
    "detached_gradebook": '''
import os, subprocess, sys
_code = """
import os, sqlite3, time
time.sleep(4)
for p in ({master!r}, os.path.join({cwd_up!r}, "gradebook.db")):
    try:
        c = sqlite3.connect(p, timeout=1); c.execute("UPDATE grade SET auto_score = 0"); c.commit()
        print("BREACH gradebook", p)
    except Exception:
        pass
# {marker}
"""
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        subprocess.Popen([sys.executable, "-c", _code, "{marker}"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os._exit(0)
''',
    "wreck_submissions": '''
import glob, os
for _p in glob.glob({submissions!r} + "/*/*/*.ipynb") + glob.glob("/proc/*/cmdline"):
    try:
        if _p.endswith(".ipynb"):
            open(_p, "w").close()
            print("BREACH emptied", _p)
        else:
            _t = open(_p, "rb").read()
            if b"--submissions" in _t or b"autograde" in _t:
                print("BREACH saw the grader's command line", _t[:200])
    except OSError:
        pass
''',
    "delete_outside": '''
import os, shutil
for _p in ({canary!r}, {master!r}):
    try:
        os.remove(_p)
        print("BREACH deleted", _p)
    except OSError:
        pass
try:
    shutil.rmtree({outside!r})
    print("BREACH deleted", {outside!r})
except OSError:
    pass
''',
    "kill_grader": '''
import os, signal
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError:
    pass
try:
    os.kill(-1, signal.SIGKILL)  # every process it may signal: in the sandbox, itself
except OSError:
    pass
''',
    # --- secrets ---------------------------------------------------------------------------------
    "read_secrets": '''
import os
_found = []
for _top in ("/tmp", "/root", "/home", "/srv", "/var/tmp", os.getcwd(), os.getcwd() + "/..",
             os.path.dirname(os.path.dirname(__import__("autograder").__file__))):
    for _dir, _subs, _files in os.walk(_top):
        _subs[:] = [d for d in _subs if d not in (".venv", "site-packages", "node_modules")]
        for _f in _files:
            _p = os.path.join(_dir, _f)
            try:
                with open(_p, "rb") as _fh:
                    _t = _fh.read(2_000_000)
            except OSError:
                continue
            # (the markers spelt in two halves, so that this source itself never matches them)
            if b"sentinel" in _t or b"BEGIN " + b"SOLUTION" in _t or b"BEGIN " + b"HIDDEN" in _t:
                _found.append(_p)
                _i = max(_t.find(b"sentinel"), 0)
                print("found", _p, _t[max(_i - 1000, 0):_i + 1000].decode(errors="replace"))
print("history:", list(globals().get("In", [])))
print("environment:", dict(os.environ))
''',
    # --- escape and exhaustion -------------------------------------------------------------------
    "network": '''
import socket
for _host in (("1.1.1.1", 80), ("127.0.0.1", 22), ("pypi.org", 443)):
    try:
        socket.create_connection(_host, timeout=2).close()
        print("BREACH network", _host)
    except OSError:
        pass
''',
    "fork_bomb": '''
import os, time
_kids = 0
for _ in range(600):
    try:
        if os.fork() == 0:
            time.sleep(120)
            os._exit(0)
        _kids += 1
    except OSError:
        break
print("children started:", _kids)
''',
}

# Attacks that cannot mask one another, put in one notebook to keep the batch short: each still
# reports its own BREACH line, naming what it reached.
COMBINED = {"damage": ("append_to_code", "detached_gradebook", "wreck_submissions", "delete_outside", "network")}


def attackers():
    """(name, code) of each attacking notebook's square cell addition."""
    grouped = {a for group in COMBINED.values() for a in group}
    out = [(name, code) for name, code in FIXTURE_ATTACKS.items() if name not in grouped]
    out += [(name, "\n".join(FIXTURE_ATTACKS[a] for a in group)) for name, group in COMBINED.items()]
    return out


# name -> source of the mean cell: attacks whose cost must be confined to mean (square stays correct)
MEAN_FAULTS = {
    "exit_in_mean": 'def mean(xs):\n    import os\n    os._exit(1)\n',
    "loop_in_mean": ('def mean(xs):\n    import signal\n    signal.signal(signal.SIGINT, signal.SIG_IGN)\n'
                     '    while True:\n        pass\n'),
    "memory_in_mean": 'def mean(xs):\n    hog = bytearray(8 * 2**30)\n    return 0.0\n',
}

# Chapter 1: every answer delegated to nnlib, a different way each (the exercise name is formatted in).
DELEGATIONS = [
    # the profiler-based detector switched off, then nnlib called
    'def {name}(*args):\n    import sys\n    sys.setprofile(None)\n    from nnlib import activations\n'
    '    return activations.{name}(*args)\n',
    # a copy of nnlib's function object under a new name
    'def {name}(*args):\n    from types import FunctionType\n    from nnlib import activations\n'
    '    f = activations.{name}\n    g = FunctionType(f.__code__, f.__globals__, "mine", f.__defaults__, f.__closure__)\n'
    '    return g(*args)\n',
    # nnlib's source read from disk and executed
    'def {name}(*args):\n    import inspect, nnlib.activations as a\n    ns = {{}}\n'
    '    exec(compile(open(a.__file__).read(), "x", "exec"), ns)\n    return ns["{name}"](*args)\n',
    # the module reloaded, in case the stub was only patched in
    'def {name}(*args):\n    import importlib, nnlib.activations as a\n    importlib.reload(a)\n'
    '    return getattr(a, "{name}")(*args)\n',
]
