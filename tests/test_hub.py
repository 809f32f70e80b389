"""The JupyterHub recipe (deploy/hub/) end to end, on loopback.

One run (module fixture ``run``): Unix accounts for an instructor and two students (homes in a temporary
folder), a temporary exchange, the instructor's course folder with ``nbgrader generate_assignment`` of
chapter 1 and ``nbgrader release_assignment`` (run as the instructor), the hub started with
deploy/hub/jupyterhub_config.py (PAM, LocalProcessSpawner, configurable-http-proxy), a PAM login, each
user's server started through the hub's REST API, and THROUGH THE PROXY: the students' assignment list,
fetch, a save of the solved notebook (contents API), Validate and submit; the instructor's formgrader
lists the chapter. Then ``nbgrader collect`` and ``nbgrader autograde`` as the instructor, the hub
stopped, every process it started checked gone, the accounts and folders removed.

Accounts need root. Without root (or without a Python the test accounts can execute), the same run uses
jupyterhub's SimpleLocalProcessSpawner (every hub user runs as the current account) and says so in a
warning; ``NN_HUB_TEST_SPAWNER=simple`` forces that mode, ``=local`` forbids it. In CI (``CI`` set) a
missing jupyterhub or configurable-http-proxy fails the test instead of skipping it.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

pytestmark = [pytest.mark.grading, pytest.mark.notebooks]

REPO = Path(__file__).resolve().parent.parent
CHAPTER = "01_activations"
HUB_START_S = 60
SERVER_START_S = 60


def _load_hubctl():
    spec = importlib.util.spec_from_file_location("hubctl", REPO / "deploy" / "hub" / "hubctl.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("hubctl", mod)  # dataclasses look their module up
    spec.loader.exec_module(sys.modules["hubctl"])
    return sys.modules["hubctl"]


def _missing(what: str):
    msg = f"test_hub needs {what}; see deploy/README.md (section Install)"
    if os.environ.get("CI"):
        pytest.fail(msg + " (CI is set: not skipping)", pytrace=False)
    pytest.skip(msg)


def find_proxy() -> str | None:
    """configurable-http-proxy: $NN_HUB_PROXY_CMD, PATH, or the npm prefix .ci/run installs into."""
    for cand in (os.environ.get("NN_HUB_PROXY_CMD"), shutil.which("configurable-http-proxy"),
                 str(Path(sys.prefix) / "node" / "node_modules" / ".bin" / "configurable-http-proxy"),
                 str(REPO / ".venv" / "node" / "node_modules" / ".bin" / "configurable-http-proxy")):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def users_python(tmp: Path, probe_user: str | None) -> str | None:
    """A Python with the course's packages that ``probe_user`` can execute, or None.

    This interpreter when the account can run it; else (e.g. it lives under /root, mode 0700) Debian's
    /usr/bin/python3 of the same minor version, in a throwaway venv whose site-packages add this venv's
    (compiled extensions are ABI-compatible within a minor version) and whose etc/ and share/ are this
    venv's (Jupyter's enabled extensions, JupyterLab's assets), with wrappers for its console
    scripts (nbgrader needs `alembic` on PATH). A real deployment installs a venv instead (README)."""
    probe = "import nnlib"  # numpy's compiled core and this checkout: the rest is plain Python

    def works(py):
        if probe_user is None:
            return True
        proc = subprocess.run(["runuser", "-u", probe_user, "--", py, "-c", probe], capture_output=True)
        return proc.returncode == 0

    if works(sys.executable):
        return sys.executable
    system = Path("/usr/bin/python3")
    if not system.exists():
        return None
    ver = subprocess.run([str(system), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True).stdout.strip()
    if ver != "%d.%d" % sys.version_info[:2]:
        return None
    venv = tmp / "users-python"
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], check=True)
    for data in ("etc", "share"):  # {sys.prefix}/etc/jupyter (enabled extensions), share/jupyter (lab)
        if (Path(sys.prefix) / data).is_dir():
            (venv / data).symlink_to(Path(sys.prefix) / data)
    site_dirs = [p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix)]
    target = venv / "lib" / f"python{ver}" / "site-packages"
    (target / "nn_course_packages.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in site_dirs))
    from importlib.metadata import distributions

    py = venv / "bin" / "python"
    for dist in distributions():
        for ep in dist.entry_points:
            if ep.group != "console_scripts" or (venv / "bin" / ep.name).exists():
                continue
            mod, _, attr = ep.value.partition(":")
            script = venv / "bin" / ep.name
            script.write_text(f"#!{py}\nimport sys\nfrom {mod.strip()} import {attr.split('.')[0].strip()}"
                              f" as _main\nsys.exit(_main{('.' + attr.split('.', 1)[1]) if '.' in attr else ''}())\n")
            script.chmod(0o755)
    return str(py) if works(str(py)) else None


def api(session, method, url, token, **kw):
    kw.setdefault("timeout", 60)
    headers = {"Authorization": f"token {token}"}
    return session.request(method, url, headers=headers, **kw)


def wait_for(pred, timeout, what, proc=None, log=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the hub exited ({proc.returncode}):\n{_tail(log)}")
        try:
            value = pred()
        except Exception:  # noqa: BLE001 (server not up yet)
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{_tail(log)}")


def _tail(log: Path | None, n: int = 40) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:])


def autograded_points(gradebook: Path, student: str) -> tuple[float, float]:
    """(score, max) over the autograded cells (code cells) of the student's chapter-1 submission."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{gradebook}") as gb:
        sub = gb.find_submission(CHAPTER, student)
        score = maxi = 0.0
        for nb in sub.notebooks:
            for grade in nb.grades:
                if grade.cell.cell_type == "code":
                    score += grade.auto_score or 0.0
                    maxi += grade.max_score
        return score, maxi


def solve(nb: dict, solution: Path) -> dict:
    """The fetched release with every answer cell replaced by the solution's (by grade_id), as a
    student who solved everything would save it (written answers: the model answer, no rubric)."""
    src = json.loads(solution.read_text())
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in src["cells"]
               if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    n = 0
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            source = answers[meta["grade_id"]]
            source = "".join(source) if isinstance(source, list) else source
            if cell["cell_type"] == "markdown":
                source = source.split("### BEGIN SOLUTION")[-1].split("**Rubric")[0].split("### END SOLUTION")[0]
            cell["source"] = source
            n += cell["cell_type"] == "code"
    assert n > 0, "no answer cell found in the fetched notebook"
    return nb


@pytest.fixture(scope="module")
def run():
    """The whole round trip; returns what the tests check. Cleans up whatever happens."""
    try:
        import requests
    except ImportError:
        _missing("requests")
    if importlib.util.find_spec("jupyterhub") is None:
        _missing("jupyterhub (pip install -r requirements.txt)")
    proxy = find_proxy()
    if proxy is None:
        _missing("configurable-http-proxy (npm install --prefix .venv/node configurable-http-proxy@5.2.0)")
    import psutil

    hubctl = _load_hubctl()
    forced = os.environ.get("NN_HUB_TEST_SPAWNER", "")
    unix = forced != "simple" and os.geteuid() == 0 and all(shutil.which(t) for t in ("useradd", "userdel", "runuser"))
    if forced == "local" and not unix:
        pytest.fail("NN_HUB_TEST_SPAWNER=local needs root and useradd/userdel/runuser", pytrace=False)

    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="nn-hub-"))
    os.chmod(tmp, 0o755)
    homes = tmp / "home"
    homes.mkdir(mode=0o755)
    tag = secrets.token_hex(3)
    instructor, solved, blank = f"nnh{tag}-inst", f"nnh{tag}-solved", f"nnh{tag}-blank"
    students = [solved, blank]
    created: list[str] = []
    result: dict = {"tmp": tmp, "users": [instructor, *students], "unix": unix, "timings": {}}
    hub = None
    log = tmp / "hub.log"
    session = requests.Session()
    watched: dict[int, psutil.Process] = {}
    env_backup = dict(os.environ)
    pool = None
    try:
        password = secrets.token_urlsafe(12)
        if unix:
            for name in (instructor, *students):
                hubctl.create_user(name, password, home_base=homes)
                created.append(name)
        py = users_python(tmp, instructor if unix else None)
        if py is None:
            if forced == "local":
                pytest.fail("no Python the test accounts can execute (see users_python)", pytrace=False)
            warnings.warn("test_hub: no Python the test accounts can execute; using SimpleLocalProcessSpawner")
            unix = result["unix"] = False
            py = sys.executable
        if not unix:
            warnings.warn("test_hub runs with jupyterhub's SimpleLocalProcessSpawner (no root, or forced): every hub "
                          "user is the current Unix account; the recipe itself uses real accounts")
        hub_port, hub_api_port, proxy_api_port = free_ports(3)
        token = secrets.token_hex(32)
        settings_env = {
            "NN_HUB_INSTRUCTORS": instructor, "NN_HUB_STUDENTS": ",".join(students),
            "NN_HUB_EXCHANGE": str(tmp / "exchange"), "NN_HUB_STATE": str(tmp / "state"),
            "NN_HUB_PYTHON": py, "NN_HUB_URL": f"http://127.0.0.1:{hub_port}",
            "NN_HUB_HUB_URL": f"http://127.0.0.1:{hub_api_port}",
            "NN_HUB_PROXY_API_URL": f"http://127.0.0.1:{proxy_api_port}", "NN_HUB_PROXY_CMD": proxy,
            "NN_HUB_COURSE_DIR": str(homes / "{username}" / "nn-from-first-principles"),
            "NN_HUB_API_TOKEN": token,
        }
        if not unix:
            settings_env["NN_HUB_STUDENT_ID_FROM_HUB"] = "1"
        os.environ.update(settings_env)
        s = hubctl.load_settings()
        assert s.course_id == "nn-from-first-principles"
        (tmp / "state").mkdir(mode=0o700)
        hubctl.make_exchange(s)

        def as_instructor(argv, cwd):
            if unix:
                return hubctl.run_as(instructor, argv, s, cwd=cwd, timeout=120)
            env = {**os.environ, "HOME": str(homes / instructor), **s.user_environment(instructor)}
            return subprocess.run(argv, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=120)

        if not unix:
            for name in (instructor, *students):
                (homes / name).mkdir(exist_ok=True)

        # --- the instructor prepares and releases the chapter while the hub starts
        def prepare():
            course = hubctl.setup_course(s, instructor, [CHAPTER], runner=None if unix else as_instructor)
            rel = as_instructor([py, "-m", "nbgrader", "release_assignment", CHAPTER], course)
            assert rel.returncode == 0, rel.stdout + rel.stderr
            result["timings"]["generate+release done"] = time.monotonic() - t0
            return course
        pool = concurrent.futures.ThreadPoolExecutor(1)
        prepared = pool.submit(prepare)

        # --- the hub
        extra = []
        if not unix:
            # No Unix accounts: PAM (a LocalAuthenticator) would refuse the users; nobody logs in here.
            extra = ["--JupyterHub.spawner_class=simple", "--JupyterHub.authenticator_class=dummy",
                     f"--SimpleLocalProcessSpawner.home_dir_template={homes}/{{username}}"]
            if os.geteuid() == 0:  # forced simple mode as root: jupyter-server refuses root otherwise
                extra.append('--SimpleLocalProcessSpawner.args=["--allow-root"]')
        with open(log, "wb") as out:
            hub = subprocess.Popen(hubctl.hub_command(s, *extra), cwd=str(s.state), stdout=out,
                                   env=hubctl.hub_environment(),
                                   stderr=subprocess.STDOUT, start_new_session=True)
        watched[hub.pid] = psutil.Process(hub.pid)
        base = s.public_url
        wait_for(lambda: session.get(f"{base}/hub/api/", timeout=2).status_code == 200, HUB_START_S,
                 "the hub's API through the proxy", hub, log)
        result["timings"]["hub up"] = time.monotonic() - t0

        # The hub answers a spawn request when the server is up (or after 10 s): ask for all three at once.
        with concurrent.futures.ThreadPoolExecutor(3) as spawner:
            replies = list(spawner.map(
                lambda name: api(requests, "POST", f"{base}/hub/api/users/{name}/server", token),
                (instructor, *students)))
        for name, r in zip((instructor, *students), replies):
            assert r.status_code in (201, 202), (name, r.status_code, r.text)

        def ready(name):
            r = api(session, "GET", f"{base}/hub/api/users/{name}", token, timeout=5)
            return r.json().get("servers", {}).get("", {}).get("ready")
        for name in (instructor, *students):
            wait_for(lambda: ready(name), SERVER_START_S, f"{name}'s server", hub, log)
        result["timings"]["servers up"] = time.monotonic() - t0
        for p in watched[hub.pid].children(recursive=True):
            watched[p.pid] = p

        if unix:  # PAM: the right password logs in, a wrong one does not
            def login(pw):
                sess = requests.Session()
                sess.get(f"{base}/hub/login", timeout=10)
                return sess.post(f"{base}/hub/login", allow_redirects=False, timeout=30,
                                 data={"username": solved, "password": pw, "_xsrf": sess.cookies.get("_xsrf", "")})
            result["login_ok"] = login(password).status_code
            result["login_bad"] = login(password + "x").status_code

        course = result["course"] = prepared.result(timeout=120)
        pool.shutdown()
        assert (s.exchange / s.course_id / "outbound" / CHAPTER / f"{CHAPTER}.ipynb").is_file()

        def user_url(name, path):
            return f"{base}/user/{name}/{path}"

        # --- the instructor's formgrader sees the course folder; students have none
        r = api(session, "GET", user_url(instructor, "formgrader/api/assignments"), token)
        result["formgrader_instructor"] = (r.status_code, [a.get("name") for a in r.json()] if r.ok else r.text)
        r = api(session, "GET", user_url(solved, "formgrader/api/assignments"), token)
        result["formgrader_student_status"] = r.status_code

        # --- students (both at once): list, fetch, (solve and save), validate, submit; all through the proxy
        def student_round(name):
            rec = {}
            q = {"course_id": s.course_id}
            r = api(requests, "GET", user_url(name, "assignments"), token, params=q)
            rec["listed"] = [(a["assignment_id"], a["status"]) for a in r.json()["value"]]
            r = api(requests, "POST", user_url(name, "assignments/fetch"), token,
                    data={**q, "assignment_id": CHAPTER})
            rec["fetched"] = [(a["assignment_id"], a["status"]) for a in r.json()["value"]]
            nb_path = f"{CHAPTER}/{CHAPTER}.ipynb"
            if name == solved:
                r = api(requests, "GET", user_url(name, f"api/contents/{nb_path}"), token)
                nb = solve(r.json()["content"], REPO / "solutions" / CHAPTER / f"{CHAPTER}.ipynb")
                r = api(requests, "PUT", user_url(name, f"api/contents/{nb_path}"), token,
                        json={"type": "notebook", "format": "json", "content": nb})
                assert r.status_code == 200, r.text
            t1 = time.monotonic()
            r = api(requests, "POST", user_url(name, "assignments/validate"), token, data={"path": nb_path},
                    timeout=120)
            rec["validate"] = r.json()
            result["timings"][f"validate {name.rsplit('-', 1)[-1]} (s)"] = time.monotonic() - t1
            r = api(requests, "POST", user_url(name, "assignments/submit"), token,
                    data={**q, "assignment_id": CHAPTER})
            body = r.json()
            rec["submitted"] = ([(a["assignment_id"], a["status"]) for a in body["value"]]
                                if body.get("success") else body)
            home = Path(pwd.getpwnam(name).pw_dir) if unix else homes / name
            rec["owner"] = (home / nb_path).stat().st_uid
            rec["uid"] = pwd.getpwnam(name).pw_uid if unix else os.getuid()
            return rec

        with concurrent.futures.ThreadPoolExecutor(len(students)) as both:
            result["students"] = dict(zip(students, both.map(student_round, students)))
        result["timings"]["students done"] = time.monotonic() - t0
        for p in watched[hub.pid].children(recursive=True):
            watched[p.pid] = p
        # The servers are done: stop them through the hub (while the instructor grades).
        for name in (instructor, *students):
            r = api(session, "DELETE", f"{base}/hub/api/users/{name}/server", token)
            assert r.status_code in (202, 204), (name, r.status_code, r.text)

        # --- what a student's account cannot read: solutions, another student's work, others' submissions
        if unix:
            def can(user, *argv):
                return subprocess.run(["runuser", "-u", user, "--", *argv], capture_output=True).returncode == 0
            solved_nb = Path(pwd.getpwnam(solved).pw_dir) / CHAPTER / f"{CHAPTER}.ipynb"
            result["student_can"] = {
                "read the solutions": can(blank, "cat", str(course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb")),
                "read the gradebook": can(blank, "cat", str(course / "gradebook.db")),
                "read another student's notebook": can(blank, "cat", str(solved_nb)),
                "list the exchange's inbound": can(blank, "ls", str(s.exchange / s.course_id / "inbound")),
            }
            result["student_can_control"] = can(solved, "cat", str(solved_nb))  # the check itself works

        # --- the instructor collects and autogrades (stock nbgrader, in the course folder)
        for step in (["collect", CHAPTER], ["autograde", CHAPTER]):
            proc = as_instructor([py, "-m", "nbgrader", *step], course)
            assert proc.returncode == 0, f"nbgrader {' '.join(step)}:\n{proc.stdout}\n{proc.stderr}"
            result["timings"][f"{step[0]} done"] = time.monotonic() - t0
            result[f"{step[0]}_log"] = proc.stdout + proc.stderr
        result["collected"] = sorted(p.name for p in (course / "submitted").iterdir())
        result["points"] = {name: autograded_points(course / "gradebook.db", name) for name in students}
        result["timings"]["graded"] = time.monotonic() - t0
    finally:
        # --- stop everything: the hub stops its servers (and their kernels) and the proxy
        if hub is not None:
            for p in watched[hub.pid].children(recursive=True) if hub.poll() is None else []:
                watched[p.pid] = p
            if hub.poll() is None:
                hub.send_signal(signal.SIGTERM)
                try:
                    hub.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(_alive(p) for p in watched.values()):
                time.sleep(0.2)
        # Anything still alive that the hub started, or that runs as a test account, is a survivor.
        owned = [q for q in psutil.process_iter(["username"]) if q.info["username"] in created]
        survivors = [f"{p.pid} {_cmd(p)}" for p in watched.values() if _alive(p)]
        survivors += [f"{p.pid} (user {p.info['username']}) {_cmd(p)}" for p in owned if _alive(p)]
        for p in list(watched.values()) + owned:  # kill them, so that the accounts can go
            if _alive(p):
                try:
                    p.kill()
                except psutil.Error:
                    pass
        result["survivors"] = sorted(set(survivors))
        if pool is not None:
            pool.shutdown(wait=True)
        result["hub_log"] = _tail(log, 60)
        result["hub_log_full"] = log.read_text(errors="replace") if log.exists() else ""
        if os.environ.get("NN_HUB_TEST_LOG"):  # keep the hub's log (hub, proxy, single-user servers)
            Path(os.environ["NN_HUB_TEST_LOG"]).write_text(
                result["hub_log_full"] + "".join(f"\n=== nbgrader {step}\n" + result.get(f"{step}_log", "")
                                                 for step in ("collect", "autograde")))
        for name in created:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
        os.environ.clear()
        os.environ.update(env_backup)
        shutil.rmtree(tmp, ignore_errors=True)
        result["timings"]["total"] = time.monotonic() - t0
        result["users_left"] = [n for n in created if _user_exists(n)]
        result["tmp_left"] = tmp.exists()
    return result


def _alive(p) -> bool:
    try:
        return p.is_running() and p.status() != "zombie"
    except Exception:  # noqa: BLE001 (psutil.NoSuchProcess and friends)
        return False


def _cmd(p) -> str:
    try:
        return " ".join(p.cmdline())[:200]
    except Exception:  # noqa: BLE001
        return "?"


def _user_exists(name: str) -> bool:
    """The account or its own group (useradd makes one per user) is still there."""
    import grp

    for lookup in (pwd.getpwnam, grp.getgrnam):
        try:
            lookup(name)
            return True
        except KeyError:
            pass
    return False


def test_students_fetch_and_submit_through_the_hub(run):
    for name, rec in run["students"].items():
        assert (CHAPTER, "released") in rec["listed"], rec
        assert (CHAPTER, "fetched") in rec["fetched"], rec
        assert (CHAPTER, "submitted") in rec["submitted"], rec
        assert rec["owner"] == rec["uid"], "the fetched copy belongs to the student's own account"


def test_validate_passes_the_solved_notebook_and_not_the_release(run):
    solved, blank = sorted(run["students"], key=lambda n: not n.endswith("solved"))
    ok = run["students"][solved]["validate"]
    assert ok["success"] is True, ok
    assert "failed" not in ok["value"] and "changed" not in ok["value"], ok["value"]
    bad = run["students"][blank]["validate"]
    assert bad["success"] is True and bad["value"].get("failed"), bad


def test_autograde_gives_full_points_to_solved_and_zero_to_untouched(run):
    assert run["collected"] == sorted(run["students"])
    solved, blank = sorted(run["students"], key=lambda n: not n.endswith("solved"))
    score, maxi = run["points"][solved]
    assert maxi > 0 and score == maxi, run["points"]
    assert run["points"][blank] == (0.0, maxi), run["points"]


def test_instructor_has_the_formgrader_and_students_do_not(run):
    status, names = run["formgrader_instructor"]
    assert status == 200 and CHAPTER in names, (status, "\n".join(
        ln for ln in run["hub_log_full"].splitlines() if "formgrader" in ln.lower() or "rror" in ln)[-6000:])
    assert run["formgrader_student_status"] == 404


def test_students_cannot_read_solutions_or_each_other(run):
    if not run["unix"]:
        pytest.skip("no Unix accounts in this mode (SimpleLocalProcessSpawner)")
    assert run["student_can_control"], "the student cannot even read their own notebook"
    assert not any(run["student_can"].values()), run["student_can"]


def test_pam_login(run):
    if not run["unix"]:
        pytest.skip("no Unix accounts in this mode (SimpleLocalProcessSpawner)")
    assert run["login_ok"] == 302 and run["login_bad"] == 403, (run["login_ok"], run["login_bad"])


def test_everything_stopped_and_removed(run):
    assert run["survivors"] == [], "\n".join(run["survivors"]) + "\n" + run["hub_log"]
    assert run["users_left"] == [] and not run["tmp_left"]
    print("timings (s):", {k: round(v, 1) for k, v in run["timings"].items()})
    assert run["timings"]["total"] < 110, run["timings"]
