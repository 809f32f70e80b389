"""Where the course's grades live: nbgrader's gradebook, in SQLite or in one shared PostgreSQL.

One setting chooses it: nbgrader's own ``c.CourseDirectory.db_url`` in the course's
``nbgrader_config.py``. Unset, the gradebook is the SQLite file ``COURSE_DIR/gradebook.db``; set to a
``postgresql://user@host/database`` URL, every machine that grades, and every stock nbgrader command
and formgrader started in the course folder, read and write that one database. Keep the password out
of the URL (``~/.pgpass`` or ``PGPASSWORD``); one in the URL is never put on a command line.

Besides nbgrader's tables the database holds two of ours, so that the CSV and the report can be built
from the gradebook alone, whichever machine graded whom:

- ``autograder_outcome``: per (course, chapter, student), how the latest grading went (status, notes,
  seconds, which machine and shard) and the student's functions as normalised source, compressed,
  for the class-wide similarity report;
- ``autograder_batch``: one row per ``grade`` run (machine, shard, counts, the batch's summary lines).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
import zlib
from pathlib import Path

from sqlalchemy import (Column, DateTime, Float, Integer, LargeBinary, MetaData, String, Table, Text,
                        create_engine, delete, insert, select, text)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import URL, make_url

from autograder import nbg

META = MetaData()
OUTCOMES = Table(
    "autograder_outcome", META,
    Column("course_id", String(128), primary_key=True),
    Column("chapter", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("status", Text, nullable=False),
    Column("notes", Text, nullable=False),  # JSON list of strings
    Column("seconds", Float),
    Column("graded_by", String(256)),  # "host" or "host, shard 2/4"
    Column("graded_at", DateTime),
    Column("answers", LargeBinary),  # zlib(JSON {function name: normalised source})
)
BATCHES = Table(
    "autograder_batch", META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("course_id", String(128), nullable=False),
    Column("chapter", String(128), nullable=False),
    Column("graded_by", String(256)),
    Column("finished_at", DateTime),
    Column("summary", Text, nullable=False),  # JSON: {"sandbox": line, "lines": [...], "incidents": [...]}
)


class GradebookSettingError(RuntimeError):
    """``c.CourseDirectory.db_url`` names no gradebook that several processes can share."""


def url_for(root: Path, course_dir: Path) -> str:
    """The gradebook's URL: the course's ``CourseDirectory.db_url`` if set, else SQLite in ``course_dir``."""
    configured = nbg.config_value(root, "CourseDirectory", "db_url", None)
    if not configured:
        return f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"
    u = make_url(str(configured))
    if u.get_backend_name() == "sqlite":
        if not u.database or u.database == ":memory:" or u.database.startswith("file:"):
            raise GradebookSettingError(f"c.CourseDirectory.db_url = {shown(str(configured))!r}: a gradebook in memory "
                             "would be lost when each process ends; name a file or a PostgreSQL database")
        if not Path(u.database).expanduser().is_absolute():
            # nbgrader hands a relative path to SQLite as it is, i.e. relative to whichever folder a
            # process runs in (grade's nbgrader processes run in temporary folders): pin it to the
            # course folder, where stock nbgrader commands are started.
            u = u.set(database=str(Path(course_dir).resolve() / u.database))
        else:
            u = u.set(database=str(Path(u.database).expanduser()))
        return u.render_as_string(hide_password=False)
    return str(configured)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite gradebook (None for a database server)."""
    u = make_url(url)
    return Path(u.database) if u.get_backend_name() == "sqlite" and u.database else None


def _split_password(url: str):
    """(the URL without its password, the password or None). libpq takes a password either as
    ``user:password@host`` or in the query, ``?password=...``: both are taken out."""
    u = make_url(url)
    in_query = [k for k in u.query if k.lower() == "password"]
    password = u.password
    for k in in_query:
        v = u.query[k]
        password = password or (v if isinstance(v, str) else v[0])
    if password is None and not in_query:
        return u, None
    bare = URL.create(u.drivername, username=u.username, host=u.host, port=u.port, database=u.database,
                      query={k: v for k, v in u.query.items() if k not in in_query})
    return bare, str(password)


def shown(url: str) -> str:
    """The URL as a report may print it (no password, neither ``user:...@`` nor ``?password=...``)."""
    return _split_password(url)[0].render_as_string(hide_password=True)


def for_subprocess(url: str) -> tuple[str, dict]:
    """(URL without its password, environment giving libpq the password): a command line is readable
    by every user of the machine (``ps``), a process's environment only by its owner."""
    bare, password = _split_password(url)
    if password is None:
        return url, {}
    return bare.render_as_string(hide_password=False), {"PGPASSWORD": password}


def engine(url: str):
    return create_engine(url, future=True)


@contextlib.contextmanager
def exclusive(url: str, what: str):
    """Hold a lock named ``what`` across every machine using this gradebook: a PostgreSQL advisory
    lock, or a file lock beside a SQLite file. Used where two graders could race to create the same
    rows (the tables, the course, the chapter's assignment)."""
    key = int.from_bytes(hashlib.sha256(what.encode()).digest()[:8], "big", signed=True)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(str(path) + ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield
        return
    eng = engine(url)
    try:
        with eng.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
    finally:
        eng.dispose()


class GradebookBusy(RuntimeError):
    """Another ``grade`` is writing the same SQLite gradebook."""


@contextlib.contextmanager
def sole_grader(url: str, what: str = "grade"):
    """For a SQLite gradebook: make sure no other ``grade`` writes it while this one runs (raise
    ``GradebookBusy`` at once otherwise). Each grader keeps the last copy it wrote and puts it back if
    the file changed under it (``grading.MasterGradebook``), so two graders writing one file in turn
    would each throw the other's grades away. A PostgreSQL gradebook needs no such lock: graders write
    it in transactions of their own."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path) + ".grading", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            other = f.read().strip() or "another process"
            raise GradebookBusy(f"{path} is being written by another grade ({other}); wait for it to finish "
                                "(two graders of one SQLite gradebook would undo each other's grades), or "
                                "give this one its own --course-dir; several machines at once need a "
                                "PostgreSQL gradebook (c.CourseDirectory.db_url)") from None
        f.seek(0)
        f.truncate()
        f.write(f"{what}, pid {os.getpid()} on {os.uname().nodename}\n")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_tables(url: str) -> None:
    """Create our two tables if missing (after nbgrader's: nbgrader stamps a database that has no
    table at all as new, so ours must never come first)."""
    eng = engine(url)
    try:
        META.create_all(eng, checkfirst=True)
    finally:
        eng.dispose()


def pack_answers(answers: dict) -> bytes:
    return zlib.compress(json.dumps(answers, sort_keys=True).encode(), 9)


def unpack_answers(blob) -> dict:
    try:
        return json.loads(zlib.decompress(blob).decode()) if blob else {}
    except Exception:  # noqa: BLE001 - an unreadable row has nothing to compare
        return {}


def record_outcome(session, course_id: str, chapter: str, student: str, *, status: str, notes: list[str],
                   seconds: float, graded_by: str, answers: dict) -> None:
    """Replace the student's row in ``autograder_outcome`` (in the caller's transaction)."""
    key = (OUTCOMES.c.course_id == course_id) & (OUTCOMES.c.chapter == chapter) & (OUTCOMES.c.student == student)
    session.execute(delete(OUTCOMES).where(key))
    session.execute(insert(OUTCOMES).values(
        course_id=course_id, chapter=chapter, student=student, status=status, notes=json.dumps(notes),
        seconds=float(seconds), graded_by=graded_by, graded_at=_now(), answers=pack_answers(answers)))


def _has(conn, table: Table) -> bool:
    """Whether the gradebook holds ``table``: not one that only stock nbgrader (or this course before
    it kept outcomes in the gradebook) has written to, until ``grade`` runs there once."""
    return sa_inspect(conn).has_table(table.name)


def outcomes(url: str, course_id: str, chapter: str) -> dict:
    """{student: {"status", "notes", "seconds", "graded_by", "graded_at", "answers"}} of the chapter
    (empty if the gradebook has no ``autograder_outcome`` table)."""
    eng = engine(url)
    try:
        with eng.connect() as conn:
            if not _has(conn, OUTCOMES):
                return {}
            rows = conn.execute(select(OUTCOMES).where((OUTCOMES.c.course_id == course_id)
                                                       & (OUTCOMES.c.chapter == chapter))).mappings().all()
    finally:
        eng.dispose()
    return {r["student"]: {"status": r["status"], "notes": json.loads(r["notes"] or "[]"), "seconds": r["seconds"],
                           "graded_by": r["graded_by"] or "", "graded_at": r["graded_at"],
                           "answers": unpack_answers(r["answers"])} for r in rows}


def record_batch(url: str, course_id: str, chapter: str, graded_by: str, summary: dict) -> None:
    eng = engine(url)
    try:
        with eng.begin() as conn:
            conn.execute(insert(BATCHES).values(course_id=course_id, chapter=chapter, graded_by=graded_by,
                                                finished_at=_now(), summary=json.dumps(summary)))
    finally:
        eng.dispose()


def batches(url: str, course_id: str, chapter: str) -> list[dict]:
    """The chapter's ``grade`` runs, newest first (none if the gradebook has no ``autograder_batch``)."""
    eng = engine(url)
    try:
        with eng.connect() as conn:
            if not _has(conn, BATCHES):
                return []
            rows = conn.execute(select(BATCHES).where((BATCHES.c.course_id == course_id)
                                                      & (BATCHES.c.chapter == chapter))
                                .order_by(BATCHES.c.id.desc())).mappings().all()
    finally:
        eng.dispose()
    return [{"graded_by": r["graded_by"] or "", "finished_at": r["finished_at"], **json.loads(r["summary"])}
            for r in rows]


def grader_name(shard: tuple[int, int] | None) -> str:
    host = os.uname().nodename
    return f"{host}, shard {shard[0]}/{shard[1]}" if shard else host


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


# ---------------------------------------------------------------------------------------------
# Shards: which machine grades whom.


def shard_of(student: str, n: int) -> int:
    """The shard (1..n) that grades ``student``: a hash of the id, so every machine agrees without
    talking to the others, whatever subset of the submissions it was given and in whatever order."""
    return int.from_bytes(hashlib.sha256(student.encode()).digest()[:8], "big") % n + 1


def parse_shard(spec: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 1 <= K <= N, or ValueError naming the problem."""
    try:
        k, n = (int(part) for part in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes K/N, e.g. 2/4 for the second of four machines; got {spec!r}") from None
    if n < 1:
        raise ValueError(f"--shard {spec}: N, the number of machines, must be 1 or more; got N={n}")
    if not 1 <= k <= n:
        raise ValueError(f"--shard {spec}: K must be between 1 and N={n}; got K={k}")
    return k, n


_SHARD_RE = re.compile(r", shard (\d+)/(\d+)$")


def shard_gaps(runs: list[dict], chapter: str) -> list[str]:
    """Warnings for the report from the chapter's finished batches (``batches``): a shard K of N that
    no finished batch covers (its machine died or never ran: its students are missing from the CSV,
    or only some of them are there), and shards of different N (some students in none of them).
    A killed ``grade`` records no batch, and a student it had not reached has no row at all."""
    seen: dict[int, set[int]] = {}
    for r in runs:
        m = _SHARD_RE.search(r.get("graded_by") or "")
        if m:
            seen.setdefault(int(m[2]), set()).add(int(m[1]))
    lines = []
    for n, done in sorted(seen.items()):
        missing = [f"{k}/{n}" for k in range(1, n + 1) if k not in done]
        if missing:
            lines.append(f"no finished batch of shard {', '.join(missing)}: its students are missing from the "
                         f"grades, or only some are there; run `python -m autograder grade {chapter} "
                         f"--shard {missing[0]}` (and so on) again")
    if len(seen) > 1:
        lines.append(f"batches were split into different numbers of shards ({', '.join(f'N={n}' for n in sorted(seen))}):"
                     " a student can fall in none of them; grade every shard of one N")
    return lines
