"""Grading shared by several machines: two shards at once into one real PostgreSQL gradebook.

A module fixture starts a PostgreSQL server from Debian's package (initdb and pg_ctl, as the
``postgres`` account when run as root, on a free loopback port, password authentication) and stops it
at the end. The fixture course (tests/fixtures/checked_course, chapter 00_tiny: square 2 points,
mean 3 points) gets one setting, ``c.CourseDirectory.db_url``. Eight students, four per shard, each
shard holding one of each answer pattern (both right, square only, mean only, none), so a grade
written under the wrong name shows as a wrong score.

The run: ``grade --shard 1/2`` and ``grade --shard 2/2`` start at the same time, each in its own
course folder (two "machines"). Once both have written grades, shard 1's whole process tree is
killed (SIGSTOP then SIGKILL, like a machine that dies). Shard 2 finishes; its rows are snapshotted;
shard 1 is run again to the end. Then: every student exactly once with the expected points, the
other shard's rows byte-for-byte unchanged, the CSV and report rebuilt from the gradebook on a third
folder, and stock nbgrader commands working on the same database.

In CI (``CI`` set) a missing PostgreSQL fails the test instead of skipping it.
"""

from __future__ import annotations

import csv
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

import nbformat
import pytest

from autograder import gradebook, nbg, release

pytestmark = [pytest.mark.grading, pytest.mark.sandbox, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "checked_course"
CHAPTER = "00_tiny"
POINTS = {"square": 2.0, "mean": 3.0}
PATTERNS = [("square", "mean"), ("square",), ("mean",), ()]
SLOW_S = 1.5  # each submission sleeps this long, so that a shard is surely killed midway
GRADE_TIMEOUT_S = 240


# ---------------------------------------------------------------------------------------------
# Unit: shards, shard specs and the password kept off command lines (no server needed).


def test_shards_partition_the_class_whatever_the_order():
    students = [f"s{i:04d}" for i in range(1000)] + ["alice", "bob@uni.edu", "x.y+z"]
    for n in (1, 2, 3, 7):
        slices = [[s for s in students if gradebook.shard_of(s, n) == k] for k in range(1, n + 1)]
        assert sorted(sum(slices, [])) == sorted(students)  # disjoint and complete
        assert [gradebook.shard_of(s, n) for s in reversed(students)] == \
            [gradebook.shard_of(s, n) for s in students][::-1]
        if n > 1:  # balanced: a hash, not the first letters
            assert max(map(len, slices)) < 1.25 * len(students) / n


@pytest.mark.parametrize("spec, message", [("2", "K/N"), ("0/3", "between 1 and N=3"), ("4/3", "between 1 and N=3"),
                                           ("a/b", "K/N"), ("1/0", "N, the number of machines, must be 1 or more")])
def test_bad_shard_spec_is_named(spec, message):
    with pytest.raises(ValueError, match=message):
        gradebook.parse_shard(spec)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", CHAPTER, "--root", str(FIXTURE),
                           "--submissions", "/nonexistent", "--shard", spec], capture_output=True, text=True,
                          env=nbg.venv_env())
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_password_never_on_a_command_line():
    url = "postgresql+psycopg://grader:s3cret@db.example.edu:5433/course"
    bare, env = gradebook.for_subprocess(url)
    assert "s3cret" not in bare and env == {"PGPASSWORD": "s3cret"}
    assert not any("s3cret" in a for a in nbg.path_args(Path("/w"), db_url=url))
    assert "s3cret" not in gradebook.shown(url)
    assert gradebook.for_subprocess("postgresql+psycopg://grader@db/course") == \
        ("postgresql+psycopg://grader@db/course", {})


def test_password_in_the_query_is_kept_off_command_lines_and_reports_too():
    """libpq also takes ``?password=...``: neither ``ps`` nor the report may show it."""
    url = "postgresql+psycopg://grader@db.example.edu/course?sslmode=require&password=s3cret"
    bare, env = gradebook.for_subprocess(url)
    assert "s3cret" not in bare and "sslmode=require" in bare and env == {"PGPASSWORD": "s3cret"}
    assert not any("s3cret" in a for a in nbg.path_args(Path("/w"), db_url=url))
    assert "s3cret" not in gradebook.shown(url) and "db.example.edu/course" in gradebook.shown(url)


def _course_with(tmp: Path, setting: str | None) -> Path:
    root = tmp / "course_root"
    shutil.copytree(FIXTURE, root)
    config = (REPO / "nbgrader_config.py").read_text() + (f"\nc.CourseDirectory.db_url = {setting!r}\n" if setting else "")
    (root / "nbgrader_config.py").write_text(config)
    return root


def test_a_relative_sqlite_gradebook_is_the_course_folders_whatever_the_working_folder(tmp_path, monkeypatch):
    """nbgrader passes a relative SQLite path to SQLite as it is: grade's nbgrader processes, which run in
    temporary folders, would each write a gradebook of their own."""
    root = _course_with(tmp_path, "sqlite:///grades/gradebook.db")
    monkeypatch.chdir(tmp_path)
    url = gradebook.url_for(root, tmp_path / "machine")
    assert gradebook.sqlite_path(url) == (tmp_path / "machine" / "grades" / "gradebook.db").resolve()


def test_a_gradebook_in_memory_is_refused_by_name(tmp_path):
    root = _course_with(tmp_path, "sqlite://")
    with pytest.raises(gradebook.GradebookSettingError, match="in memory"):
        gradebook.url_for(root, tmp_path / "machine")


def test_export_of_a_gradebook_graded_by_stock_nbgrader(tmp_path):
    """A gradebook without our tables (stock nbgrader, or this course before it kept its outcomes in the
    gradebook): the CSV and the report are written, every student marked as without a grading record."""
    from nbgrader.api import Gradebook

    from autograder import grading

    root = _course_with(tmp_path, None)
    course_dir = tmp_path / "machine"
    course_dir.mkdir()
    url = gradebook.url_for(root, course_dir)
    with warnings.catch_warnings(), Gradebook(url, nbg.course_id(root)) as gb:
        warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's, harmless
        gb.add_assignment(CHAPTER)
        gb.add_student("alice")
        gb.add_submission(CHAPTER, "alice")
    assert gradebook.outcomes(url, nbg.course_id(root), CHAPTER) == {}
    assert gradebook.batches(url, nbg.course_id(root), CHAPTER) == []
    path = grading.export_csv(root, CHAPTER, course_dir)
    (row,) = csv.DictReader(open(path))
    assert row["student"] == "alice" and row["status"] == grading.NO_RECORD
    report = grading.write_report(root, CHAPTER, course_dir, csv_path=path).read_text()
    assert "1 student(s) in the gradebook, 0 graded, 0 failed, 1 without a grading record; 0 batch(es)" in report


def test_two_graders_of_one_sqlite_gradebook_are_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with gradebook.sole_grader(url, "grade 00_tiny"):
        with pytest.raises(gradebook.GradebookBusy, match=r"grade 00_tiny, pid \d+"):
            with gradebook.sole_grader(url):
                pass
        # in another process too (flock is per open file, so this is the case that matters)
        code = (f"from autograder import gradebook\ntry:\n    with gradebook.sole_grader({url!r}): print('entered')\n"
                "except gradebook.GradebookBusy as e: print('busy')")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=nbg.venv_env())
        assert proc.stdout.strip() == "busy", proc.stderr
    with gradebook.sole_grader(url):  # released
        pass
    with gradebook.sole_grader("postgresql+psycopg://grader@db/course"), \
            gradebook.sole_grader("postgresql+psycopg://grader@db/course"):
        pass  # a server needs no lock of ours


def test_the_report_names_the_shards_that_never_finished():
    runs = [{"graded_by": "m1, shard 1/3"}, {"graded_by": "m2, shard 2/3"}, {"graded_by": "laptop"}]
    (line,) = gradebook.shard_gaps(runs, CHAPTER)
    assert "shard 3/3" in line and f"grade {CHAPTER} --shard 3/3" in line
    assert gradebook.shard_gaps(runs + [{"graded_by": "m3, shard 3/3"}], CHAPTER) == []
    assert gradebook.shard_gaps([{"graded_by": "m1"}], CHAPTER) == []
    mixed = gradebook.shard_gaps([{"graded_by": "a, shard 1/2"}, {"graded_by": "b, shard 2/2"},
                                  {"graded_by": "c, shard 1/1"}], CHAPTER)
    assert len(mixed) == 1 and "N=1, N=2" in mixed[0]


# ---------------------------------------------------------------------------------------------
# A real PostgreSQL server.


def _need(msg):
    if os.environ.get("CI"):
        pytest.fail(msg + " (CI is set: not skipping)", pytrace=False)
    pytest.skip(msg)


def _pg_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A throwaway PostgreSQL cluster on loopback; root runs it as the ``postgres`` account."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="nn-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.admin_password = secrets.token_hex(8)
        self.password = secrets.token_hex(8)
        self.run_as = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            self.run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
            os.chown(self.base, pw.pw_uid, pw.pw_gid)

    def _run(self, *argv, **kw):
        return subprocess.run([str(self.bindir / argv[0]), *argv[1:]], capture_output=True, text=True,
                              cwd=self.base, timeout=60, **self.run_as, **kw)

    def start(self) -> str:
        pwfile = self.base / "pw"
        pwfile.write_text(self.admin_password + "\n")
        if self.run_as:
            os.chown(pwfile, self.run_as["user"], self.run_as["group"])
        proc = self._run("initdb", "-D", str(self.data), "-U", "admin", f"--pwfile={pwfile}", "-E", "UTF8",
                         "--locale=C", "--auth=scram-sha-256", "--no-sync")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c fsync=off "
                "-c max_connections=50")
        proc = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "log"), "-o", opts, "-w", "-t", "60",
                         "start")
        assert proc.returncode == 0, proc.stdout + proc.stderr + self.log()
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="admin", password=self.admin_password,
                             dbname="postgres", autocommit=True) as con:
            con.execute(f"CREATE ROLE grader LOGIN PASSWORD '{self.password}'")
            con.execute("CREATE DATABASE nncourse OWNER grader")
        return f"postgresql+psycopg://grader:{self.password}@127.0.0.1:{self.port}/nncourse"

    def log(self) -> str:
        p = self.base / "log"
        return p.read_text(errors="replace")[-3000:] if p.exists() else ""

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        assert not (self.data / "postmaster.pid").exists(), "PostgreSQL did not stop\n" + self.log()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres():
    bindir = _pg_bindir()
    if bindir is None:
        _need("no PostgreSQL server (Debian: apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _need("no 'postgres' account to run the server as (Debian's postgresql package creates it)")
    server = PostgresServer(bindir)
    try:
        yield server, server.start()
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# The course, the class, the two machines.


def _cell(nb, grade_id):
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return cell


def make_course(tmp: Path, url: str) -> Path:
    course = tmp / "course"
    shutil.copytree(FIXTURE, course)
    config = (REPO / "nbgrader_config.py").read_text()
    # The one setting: every machine, and stock nbgrader in the course folder, use this database.
    config += f"\nc.CourseDirectory.db_url = {url!r}\n"
    (course / "nbgrader_config.py").write_text(config)
    assert release.release(course, log=lambda m: None) == 0
    return course


def make_class(course: Path, dest: Path) -> dict[str, tuple]:
    """Four students per shard, one of each pattern per shard: {student: exercises answered right}."""
    sol = nbformat.read(str(course / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"), as_version=4)
    names = iter(f"st{i:03d}" for i in range(1000))
    students = {}
    for shard in (1, 2):
        for pattern in PATTERNS:
            name = next(n for n in names if gradebook.shard_of(n, 2) == shard)
            nb = nbformat.read(str(course / "chapters" / CHAPTER / f"{CHAPTER}.ipynb"), as_version=4)
            for exercise in pattern:
                _cell(nb, f"{exercise}_impl").source = _cell(sol, f"{exercise}_impl").source
            _cell(nb, "square_impl").source = f"import time\ntime.sleep({SLOW_S})\n" + _cell(nb, "square_impl").source
            (dest / name / CHAPTER).mkdir(parents=True)
            nbformat.write(nb, str(dest / name / CHAPTER / f"{CHAPTER}.ipynb"))
            students[name] = pattern
    return students


def grade_cmd(course: Path, subs: Path, course_dir: Path, shard: str) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", CHAPTER, "--root", str(course), "--submissions", str(subs),
            "--course-dir", str(course_dir), "--shard", shard, "--jobs", "1", "--timeout", "20", "--no-progress"]


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p.name))
    found, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in found:
                found.add(c)
                todo.append(c)
    return found


def kill_machine(proc: subprocess.Popen) -> set[int]:
    """Kill a grader and everything it started at once, as if its machine died: freeze the whole
    tree first (so nothing forks away or finishes a write afterwards), then SIGKILL it."""
    frozen: set[int] = set()
    for _ in range(20):
        tree = {proc.pid} | _descendants(proc.pid)
        if tree <= frozen:
            break
        for pid in tree - frozen:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        frozen |= tree
    for pid in frozen:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)
    return frozen


def rows_of(url: str, students: list[str]) -> dict:
    """Every gradebook row that belongs to these students (grades, submissions, our outcome rows)."""
    import sqlalchemy as sa

    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            q = lambda sql: [tuple(r) for r in c.execute(sa.text(sql), {"s": list(students)})]  # noqa: E731
            return {
                "submissions": q("SELECT sa.id, sa.student_id, sa.timestamp FROM submitted_assignment sa "
                                 "WHERE sa.student_id = ANY(:s) ORDER BY sa.id"),
                "grades": q("SELECT g.id, g.cell_id, g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade, "
                            "sa.student_id FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id "
                            "JOIN submitted_assignment sa ON sn.assignment_id = sa.id WHERE sa.student_id = ANY(:s) "
                            "ORDER BY g.id"),
                "outcomes": q("SELECT student, status, notes, seconds, graded_by, graded_at FROM autograder_outcome "
                              "WHERE student = ANY(:s) ORDER BY student"),
            }
    finally:
        eng.dispose()


def _recorded(url: str) -> dict:
    import sqlalchemy as sa

    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            return dict(c.execute(sa.text("SELECT student, graded_by FROM autograder_outcome")).all())
    except sa.exc.SQLAlchemyError:  # no table yet: the graders are still setting up
        return {}
    finally:
        eng.dispose()


def _scores(url: str, course_id: str) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(url, course_id) as gb:
        return {(sub.student.id, g.name): g.score for sub in gb.find_assignment(CHAPTER).submissions
                for nb in sub.notebooks for g in nb.grades}


@pytest.fixture(scope="module")
def sharded(postgres, tmp_path_factory):
    server, url = postgres
    tmp = tmp_path_factory.mktemp("shards")
    course = make_course(tmp, url)
    subs = tmp / "submitted"
    students = make_class(course, subs)
    shard_of = {s: gradebook.shard_of(s, 2) for s in students}
    # The graders' temporary folders (a killed one cannot remove its own) go here, removed at the end.
    scratch = Path(tempfile.mkdtemp(prefix="nn-shards-"))
    scratch.chmod(0o755)  # the sandboxed kernels' uids pass through it
    env = nbg.venv_env({"TMPDIR": str(scratch)})
    logs = {k: open(tmp / f"shard{k}.log", "w+") for k in (1, 2)}
    procs = {k: subprocess.Popen(grade_cmd(course, subs, tmp / f"machine{k}", f"{k}/2"), stdout=logs[k],
                                 stderr=subprocess.STDOUT, env=env, start_new_session=True) for k in (1, 2)}
    at_kill, killed = {}, set()
    try:
        deadline = time.monotonic() + GRADE_TIMEOUT_S
        while time.monotonic() < deadline:  # both machines have written grades: now shard 1 dies
            at_kill = _recorded(url)
            if {shard_of[s] for s in at_kill} == {1, 2} or any(p.poll() is not None for p in procs.values()):
                break
            time.sleep(0.05)
        killed = kill_machine(procs[1])
        procs[2].wait(timeout=GRADE_TIMEOUT_S)
    finally:
        for p in procs.values():
            if p.poll() is None:
                kill_machine(p)
    shard2 = sorted(s for s in students if shard_of[s] == 2)
    before_rerun = rows_of(url, shard2)
    shard1_before_rerun = rows_of(url, sorted(s for s in students if shard_of[s] == 1))
    after_kill = _recorded(url)
    report_path = tmp / "machine2" / "reports" / f"{CHAPTER}-report.txt"
    report_before_rerun = report_path.read_text() if report_path.exists() else ""
    rerun = subprocess.run(grade_cmd(course, subs, tmp / "machine1", "1/2"), capture_output=True, text=True,
                           env=env, timeout=GRADE_TIMEOUT_S)
    logs_text = {k: (f.seek(0), f.read())[1] for k, f in logs.items()}
    yield {"killed": killed, "url": url, "course": course, "subs": subs, "students": students, "shard_of": shard_of, "tmp": tmp,
            "at_kill": at_kill, "after_kill": after_kill, "rc": {k: p.returncode for k, p in procs.items()},
            "logs": logs_text, "before_rerun": before_rerun, "shard2": shard2,
            "shard1_before_rerun": shard1_before_rerun, "rerun": rerun, "report_before_rerun": report_before_rerun,
            "course_id": nbg.course_id(course)}
    shutil.rmtree(scratch, ignore_errors=True)


def _expected(pattern) -> dict:
    return {name: (points if name in pattern else 0.0) for name, points in POINTS.items()}


def _lock_intervals(url: str, tmp: Path) -> list[tuple[float, float]]:
    """Three processes take ``gradebook.exclusive`` at the same moment, each holding it 0.5 s: when did
    each hold it? (Without the lock the three intervals would overlap.)"""
    code = ("import os, time\nfrom autograder import gradebook\n"
            "time.sleep(max(0.0, float(os.environ['NN_TEST_AT']) - time.time()))\n"
            "with gradebook.exclusive(os.environ['NN_TEST_URL'], 'setup test'):\n"
            "    t0 = time.time(); time.sleep(0.5); print(t0, time.time())\n")
    env = nbg.venv_env({"NN_TEST_URL": url, "NN_TEST_AT": str(time.time() + 4)})  # the URL's password: not in argv
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=tmp) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outs]
    return sorted(tuple(map(float, o.split())) for o, _ in outs)


def _disjoint(intervals) -> bool:
    return all(a_end <= b_start for (_, a_end), (b_start, _) in zip(intervals, intervals[1:]))


def test_the_setup_lock_is_held_by_one_process_at_a_time_sqlite(tmp_path):
    assert _disjoint(_lock_intervals(f"sqlite:///{tmp_path / 'gradebook.db'}", tmp_path))
    assert not _disjoint([(0.0, 1.0), (0.5, 1.5)])  # the check itself can fail


def test_the_setup_lock_is_held_by_one_process_at_a_time_postgresql(postgres, tmp_path):
    assert _disjoint(_lock_intervals(postgres[1], tmp_path))


def test_shard1_was_killed_midway_while_both_wrote(sharded):
    on_shard1 = [s for s in sharded["at_kill"] if sharded["shard_of"][s] == 1]
    assert sharded["rc"][1] == -signal.SIGKILL, sharded["logs"][1]
    assert sharded["rc"][2] == 0, sharded["logs"][2]
    assert 1 <= len(on_shard1) < 4, (sharded["at_kill"], sharded["logs"])  # killed midway
    assert any(sharded["shard_of"][s] == 2 for s in sharded["at_kill"])  # while the other wrote
    assert len(sharded["killed"]) >= 2  # the grader and what it had started (its nbgrader processes)
    assert not [pid for pid in sharded["killed"] if Path(f"/proc/{pid}").exists()]


def test_the_other_shard_finished_alone_and_its_grades_survive_the_rerun(sharded):
    assert sharded["rerun"].returncode == 0, sharded["rerun"].stdout[-3000:] + sharded["rerun"].stderr[-3000:]
    after = rows_of(sharded["url"], sharded["shard2"])
    assert after == sharded["before_rerun"]  # ids, scores, timestamps: untouched
    assert len(after["grades"]) == 2 * 4 and len(after["outcomes"]) == 4
    # Before the rerun, shard 1's unfinished students had no grades at all (nothing half-written): a
    # student has nbgrader's submission and grades exactly when it has our outcome row.
    missing = [s for s, k in sharded["shard_of"].items() if k == 1 and s not in sharded["after_kill"]]
    assert missing, "shard 1 finished before it was killed"
    killed = sharded["shard1_before_rerun"]
    with_outcome = sorted(r[0] for r in killed["outcomes"])
    assert sorted(r[1] for r in killed["submissions"]) == with_outcome, killed
    assert sorted({r[-1] for r in killed["grades"]}) == with_outcome and len(killed["grades"]) == 2 * len(with_outcome)
    assert not set(missing) & set(with_outcome)


def test_every_grade_once_under_the_right_student(sharded):
    url, students = sharded["url"], sharded["students"]
    scores = _scores(url, sharded["course_id"])
    expected = {(s, f"test_{ex}"): pts for s, pattern in students.items() for ex, pts in _expected(pattern).items()}
    assert scores == expected
    rows = rows_of(url, sorted(students))
    assert sorted(r[1] for r in rows["submissions"]) == sorted(students)  # one submission each
    assert len(rows["grades"]) == 2 * len(students)
    for student, status, _notes, _seconds, graded_by, _at in rows["outcomes"]:
        assert status == "graded" and graded_by.endswith(f"shard {sharded['shard_of'][student]}/2"), graded_by


def test_the_surviving_shards_report_warns_of_the_dead_one(sharded):
    """Students the killed shard never reached have no row at all: the report must say a shard is missing."""
    report = sharded["report_before_rerun"]
    assert "WARNING: no finished batch of shard 1/2" in report, report
    assert report.startswith("Sandbox: ")  # the sandbox line stays first


def test_csv_and_report_are_built_from_the_gradebook_on_any_machine(sharded):
    third = sharded["tmp"] / "machine3"  # a TA's laptop: no submissions, no autograded notebooks
    proc = subprocess.run([sys.executable, "-m", "autograder", "export", CHAPTER, "--root", str(sharded["course"]),
                           "--course-dir", str(third)], capture_output=True, text=True, env=nbg.venv_env())
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(third / "reports" / f"{CHAPTER}-grades.csv"))}
    assert sorted(rows) == sorted(sharded["students"])
    for student, pattern in sharded["students"].items():
        exp = _expected(pattern)
        assert rows[student]["score"] == f"{sum(exp.values()):g}", rows[student]
        assert (rows[student]["test_square"], rows[student]["test_mean"]) == (f"{exp['square']:g}", f"{exp['mean']:g}")
        assert rows[student]["status"] == "graded"
    report = (third / "reports" / f"{CHAPTER}-report.txt").read_text()
    assert report.startswith("Sandbox: each submission's kernel ran in its own sandbox")
    assert "WARNING" not in report  # every shard has a finished batch now
    assert "8 student(s) in the gradebook, 8 graded, 0 failed; 2 batch(es)" in report  # the killed run left none
    assert "[graded by]" in report and "shard 1/2" in report and "shard 2/2" in report
    assert server_password(sharded["url"]) not in report  # the URL is shown without its password
    # The class is compared as a whole: the right answers of both shards are grouped together.
    right = sorted(s for s, p in sharded["students"].items() if "mean" in p)
    assert {sharded["shard_of"][s] for s in right} == {1, 2}
    (line,) = [ln for ln in report.splitlines() if ln.strip().startswith("- mean:")]
    assert all(s in line for s in right), line


def server_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).password


def test_stock_nbgrader_commands_use_the_same_database(sharded):
    """Started in a course folder that grade set up (nbgrader_config.py there loads the course's)."""
    machine1 = sharded["tmp"] / "machine1"
    proc = subprocess.run(nbg.nbgrader_cmd("db", "student", "list"), cwd=machine1, capture_output=True, text=True,
                          env=nbg.venv_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert all(s in proc.stdout for s in sharded["students"]), proc.stdout
    proc = subprocess.run(nbg.nbgrader_cmd("export", "--to", "stock.csv"), cwd=machine1, capture_output=True, text=True,
                          env=nbg.venv_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["student_id"]: r for r in csv.DictReader(open(machine1 / "stock.csv")) if r["assignment"] == CHAPTER}
    assert {s: float(r["score"]) for s, r in rows.items()} == \
        {s: sum(_expected(p).values()) for s, p in sharded["students"].items()}


def test_feedback_command_reads_the_shared_gradebook(sharded):
    machine2 = sharded["tmp"] / "machine2"
    proc = subprocess.run([sys.executable, "-m", "autograder", "feedback", CHAPTER, "--root", str(sharded["course"]),
                           "--course-dir", str(machine2)], capture_output=True, text=True, env=nbg.venv_env(),
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    have = {p.parent.parent.name for p in (machine2 / "feedback").glob(f"*/{CHAPTER}/{CHAPTER}.html")}
    assert have == set(sharded["shard2"])  # the students this machine graded (it holds their autograded copies)
