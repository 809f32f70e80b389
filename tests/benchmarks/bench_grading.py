"""Benchmark: ``python -m autograder grade`` against stock ``nbgrader autograde``, same submissions.

    python tests/benchmarks/bench_grading.py                  # chapter 1 if it exists, else the fixture
    python tests/benchmarks/bench_grading.py --chapter 00_tiny --root tests/fixtures/course -n 40
    python tests/benchmarks/bench_grading.py --ablation       # also: without the fork and the import fix

Builds a temporary copy of the course, its release, and N submissions (cycling: the solutions, the
untouched release, the solutions with every other exercise put back to its stub). Then, in one run:

1. execution alone: a few of the submissions run with nbclient in this process (kernel start, all
   cells, immediate shutdown), i.e. the floor that any grader pays per notebook;
2. stock: one ``nbgrader autograde CHAPTER`` over all students (nbgrader grades them one after the
   other), with the course's ``nbgrader_config.py`` and a gradebook made beforehand by
   ``nbgrader generate_assignment`` (not timed: it is part of releasing);
3. ours: ``autograder.grading.grade`` with ``--jobs`` (default: cores), without feedback so that it
   does the same work as stock; its time includes making its own template gradebook. Each kernel runs
   in the sandbox (bubblewrap) and the verdicts are judged outside it;
4. ours with ``--unsafe-no-sandbox`` (same pipeline, kernels not in bubblewrap), and a bare start of
   Python inside and outside bwrap: the sandbox's own cost per submission.

Reports both times, the ratio, and the overhead per notebook beyond executing its cells. Scores must
agree between the two gradebooks. Not a test (it takes minutes); nothing is written to the repo.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _setup(root: Path, chapter: str, n: int, work: Path, cycle=("perfect", "untouched", "partial")):
    from autograder import demo, nbg, release

    course = work / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copytree(root / "solutions" / chapter, course / "solutions" / chapter)
    cfg = nbg.config_file(root)
    shutil.copyfile(cfg, course / "nbgrader_config.py")
    assert release.release(course, [chapter], log=lambda m: None) == 0
    kinds = work / "kinds"
    demo.make_submissions(course, chapter, kinds)
    subs = work / "submitted"
    for i in range(n):
        shutil.copytree(kinds / cycle[i % len(cycle)] / chapter, subs / f"s{i:03d}" / chapter)
    return course, subs


def _exec_alone(paths: list[Path]) -> list[float]:
    import nbformat
    from nbclient import NotebookClient

    times = []
    for p in paths:
        nb = nbformat.read(str(p), as_version=4)
        t = time.perf_counter()
        NotebookClient(nb, timeout=60, allow_errors=True, shutdown_kernel="immediate",
                       resources={"metadata": {"path": str(p.parent)}}).execute()
        times.append(time.perf_counter() - t)
    return times


def _stock(course: Path, chapter: str, subs: Path, work: Path, env: dict) -> tuple[float, dict]:
    """Stock nbgrader in a course folder of its own; returns (seconds, {student: score})."""
    from autograder import nbg

    stock = work / "stock"
    stock.mkdir()
    shutil.copyfile(course / "nbgrader_config.py", stock / "nbgrader_config.py")
    shutil.copytree(course / "solutions", stock / "solutions")
    shutil.copytree(subs, stock / "submitted")
    p = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", chapter, "--force"],
                       cwd=stock, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    t = time.perf_counter()
    starts = []  # when nbgrader starts each student, from its log as it streams
    p = subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", chapter, "--force"],
                         cwd=stock, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail = []
    for line in p.stdout:
        if "Creating/updating student with ID" in line:
            starts.append(time.perf_counter())
        tail = (tail + [line])[-40:]
    p.wait()
    end = time.perf_counter()
    seconds = end - t
    assert p.returncode == 0, "".join(tail)
    per_student = [b - a for a, b in zip(starts, starts[1:] + [end])]
    return seconds, per_student, _scores(stock / "gradebook.db", chapter, nbg.course_id(course))


def _scores(db: Path, chapter: str, course_id: str) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}", course_id) as gb:
        return {s.student.id: s.score for s in gb.find_assignment(chapter).submissions}


def _bare_bwrap(n: int = 10) -> tuple[float, float]:
    """Median seconds of ``python -c pass``, outside and inside the sandbox (setup and teardown only)."""
    from autograder import sandbox

    lease = sandbox.UidLease(1)
    with tempfile.TemporaryDirectory(prefix="nn-bench-bwrap-") as d:
        d = Path(d)
        uid = lease.uids[0]
        if uid is not None:
            os.chown(d, uid, uid)
        inside = sandbox.bwrap_argv(workdir=d, writable=[d], uid=uid, env={"PATH": "/usr/bin:/bin"},
                                    command=[sys.executable, "-I", "-c", "pass"])
        times = {}
        for name, cmd in (("outside", [sys.executable, "-I", "-c", "pass"]), ("inside", inside)):
            ts = []
            for _ in range(n):
                t = time.perf_counter()
                subprocess.run(cmd, check=True)
                ts.append(time.perf_counter() - t)
            times[name] = statistics.median(ts)
    lease.release()
    return times["outside"], times["inside"]


def _ours(course: Path, chapter: str, subs: Path, out: Path, jobs: int, full_imports: bool = False,
          fork: bool = True, unsafe: bool = False):
    from autograder import grading, nbg

    old = os.environ.get("NN_COURSE_FULL_IMPORTS")
    if full_imports:
        os.environ["NN_COURSE_FULL_IMPORTS"] = "1"
    try:
        t = time.perf_counter()
        result = grading.grade(course, chapter, subs, out, jobs=jobs, timeout=600, feedback=False,
                               progress=False, fork=fork, unsafe_no_sandbox=unsafe)
        seconds = time.perf_counter() - t
    finally:
        if full_imports:
            if old is None:
                del os.environ["NN_COURSE_FULL_IMPORTS"]
            else:
                os.environ["NN_COURSE_FULL_IMPORTS"] = old
    bad = [o for o in result.outcomes if not o.ok]
    assert not bad, [(o.student, o.status) for o in bad]
    return seconds, result, _scores(out / "gradebook.db", chapter, nbg.course_id(course))


def main(argv=None) -> int:
    from autograder import nbg

    nbg.skip_slow_imports()
    default_chapter = "01_activations" if (REPO / "solutions" / "01_activations").is_dir() else "00_tiny"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chapter", default=default_chapter)
    ap.add_argument("--root", type=Path, default=None,
                    help="course root (default: the repo for 01_activations, else the fixture course)")
    ap.add_argument("-n", type=int, default=40, help="submissions (default 40)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--exec-samples", type=int, default=6, help="notebooks timed with nbclient alone")
    ap.add_argument("--ablation", action="store_true",
                    help="also time ours with --no-fork, and with --no-fork and without the import fix")
    args = ap.parse_args(argv)
    root = args.root or (REPO if (REPO / "solutions" / args.chapter).is_dir()
                         else REPO / "tests" / "fixtures" / "course")
    env = nbg.venv_env()
    env.pop("PYTHONPATH", None)  # stock nbgrader: no import fix
    print(f"chapter {args.chapter} from {root}; {args.n} submissions; jobs={args.jobs}; "
          f"cores={os.cpu_count()}; load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="nn-bench-") as tmp:
        work = Path(tmp)
        course, subs = _setup(root.resolve(), args.chapter, args.n, work)
        sample = sorted(subs.glob(f"*/{args.chapter}/*.ipynb"))[: args.exec_samples]
        _exec_alone(sample[:1])  # warm-up (disk caches, first kernel)
        exec_times = _exec_alone(sample)
        exec_mean = statistics.median(exec_times)  # median: nbclient rarely stalls for a whole timeout
        print(f"execution alone (nbclient, {len(sample)} notebooks): median {exec_mean:.2f} s, "
              f"mean {statistics.mean(exec_times):.2f} s", flush=True)

        t_stock, stock_each, stock_scores = _stock(course, args.chapter, subs, work, env)
        med = statistics.median(stock_each)
        stalls = [x for x in stock_each if x > 2 * med]
        print(f"stock `nbgrader autograde` (sequential): {t_stock:.1f} s = {t_stock / args.n:.2f} s/notebook; "
              f"median {med:.2f} s per student; {len(stalls)} student(s) took > 2x the median "
              f"({', '.join(f'{x:.0f} s' for x in stalls) or '-'})", flush=True)
        t_ours, result, our_scores = _ours(course, args.chapter, subs, work / "ours", args.jobs, False)
        print(f"ours `grade --jobs {args.jobs}`: {t_ours:.1f} s = {t_ours / args.n:.2f} s/notebook "
              f"(setup {result.phases['setup']:.1f} s, autograde {result.phases['autograde']:.1f} s)",
              flush=True)
        assert our_scores == stock_scores, "the two gradebooks disagree"
        per_nb = statistics.median(o.seconds for o in result.outcomes)
        t_stock_clean = t_stock - sum(x - med for x in stalls)
        print(f"speed-up: {t_stock / t_ours:.2f}x (target >= 1.7x on 2 cores); scores agree "
              f"({len(our_scores)} students)")
        print(f"speed-up without stock's slow students (each counted at stock's median): "
              f"{t_stock_clean / t_ours:.2f}x")
        print(f"overhead per notebook beyond executing its cells ({exec_mean:.2f} s alone):")
        print(f"  stock: {med - exec_mean:+.2f} s  (median time per student minus execution)")
        print(f"  ours:  {per_nb - exec_mean:+.2f} s  (median per-student time {per_nb:.2f} s, "
              f"{args.jobs} at once, minus execution alone)")
        t_open, r_open, open_scores = _ours(course, args.chapter, subs, work / "ours-unsafe", args.jobs, unsafe=True)
        per_open = statistics.median(o.seconds for o in r_open.outcomes)
        assert open_scores == our_scores, "sandboxed and unsandboxed gradebooks disagree"
        out_t, in_t = _bare_bwrap()
        print(f"ours with --unsafe-no-sandbox: {t_open:.1f} s = {t_open / args.n:.2f} s/notebook")
        print(f"the sandbox's own cost: {(t_ours - t_open) / args.n:+.2f} s per submission in the batch's wall "
              f"time; {per_nb - per_open:+.2f} s on the median per-student time ({per_nb:.2f} s vs "
              f"{per_open:.2f} s); bare python -c pass: {in_t * 1000:.0f} ms in bwrap vs {out_t * 1000:.0f} ms")
        if args.ablation:
            t_exec, _, _ = _ours(course, args.chapter, subs, work / "ours-exec", args.jobs, fork=False)
            print(f"ours with --no-fork (a new nbgrader process per student): {t_exec:.1f} s "
                  f"({t_stock / t_exec:.2f}x stock)", flush=True)
            t_full, _, _ = _ours(course, args.chapter, subs, work / "ours-full", args.jobs, True, fork=False)
            print(f"ours with --no-fork and without the rfc3987_syntax import fix: {t_full:.1f} s "
                  f"({t_stock / t_full:.2f}x stock)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
