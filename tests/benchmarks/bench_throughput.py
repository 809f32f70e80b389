"""Benchmark: grading throughput per core of ``autograder.grading.grade``, and the machines a class needs.

    nice python tests/benchmarks/bench_throughput.py -n 8                     # every chapter (about 15 min, 2 cores)
    nice python tests/benchmarks/bench_throughput.py --chapters 01_activations -n 4   # quick check of one chapter
    nice python tests/benchmarks/bench_throughput.py --jobs-list 1 2 --hours 8 --students 300 10000 \\
        --cores-per-machine 2 16 --json /tmp/throughput.json

For each chapter, builds a temporary copy of the course with that chapter, its release and N submissions
(cycling, as in bench_grading.py: the solutions, the untouched release, the solutions with every other
exercise put back to its stub). Then, for each J in ``--jobs-list`` (default: 1 and the number of cores),
times ``grading.grade(..., jobs=J, feedback=False, progress=False)`` sandboxed, the way an instructor runs it,
into a fresh course folder. From its phases it separates:

- the fixed per-batch setup (``phases["setup"]``: the template release and the gradebook), paid once per
  chapter and batch whatever the class size;
- the per-notebook part (``phases["autograde"]``): core-seconds per notebook = autograde wall x J / N,
  notebooks per core-hour, and the scaling efficiency of J=cores against J=1
  (= autograde(J=1) / (J x autograde(J))).

After the last batch of a chapter it times ``grading.generate_feedback`` (one nbgrader process, i.e. one core)
for one student and then for all N: feedback per notebook (all N / N, and the marginal cost of one more
notebook), because a real night run makes feedback too.

Then a capacity table: machines needed to grade, within one night (``--hours``, default 8), a class of 300 and
of 10,000 students, (a) one chapter (the slowest chapter's core-seconds per notebook at J=cores, feedback
included) and (b) every measured chapter at once, on machines of 2 and 16 cores. Per-core throughput is the one
measured at J=cores here (its efficiency against J=1 is printed beside it); for 16 cores it is assumed to stay
the same (not measured). Each machine also pays each chapter's setup once. Machines are rounded up; the
core-hours are those of the work itself. ``grade`` splits feedback among its jobs (``generate_feedback(...,
jobs=J)``), which the first column models; the second counts feedback in one process after the autograde phase,
as ``grade`` ran it before, which on a 16-core machine does not shrink with the cores.

Prints the command line, the machine (cores, load averages before and after, and for each batch how many
cores the whole machine kept busy: the machine is shared, and other work on it makes every number here larger)
and a JSON dump of the raw numbers (``--json PATH`` writes it). Not a test; nothing is written to the repo.

It measures the checkout the venv has installed (editable), as it is during the run: each batch starts
fresh nbgrader processes and kernels that import it anew, and the sandbox clears the environment, so a
copy elsewhere on PYTHONPATH is not what the kernels run (they then score 0, which this script flags).
The header names the commit and the grader files modified in the working tree.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_grading import _setup  # noqa: E402  (the temporary course, its release and the submissions)
from timing import PAUSE  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _busy() -> float:
    """CPU seconds the whole machine has spent busy (every process, ours and others'), from /proc/stat.

    (getrusage cannot count the grading kernels: they run in their own sandboxes, not as children
    this process reaps.)"""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user
    return (total - idle) / os.sysconf("SC_CLK_TCK")


def _code_state() -> str:
    """The commit, and the grader's files that differ from it in the working tree."""
    def git(*a):
        p = subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True)
        return p.stdout.rstrip("\n") if p.returncode == 0 else "?"

    dirty = git("status", "--porcelain", "--", "autograder", "nnlib", "nbgrader_config.py")
    files = [ln[3:] for ln in dirty.splitlines()] if dirty != "?" else ["?"]
    return (f"{REPO} at {git('rev-parse', '--short', 'HEAD')}; grader files modified in the working tree: "
            + (", ".join(files) or "none"))


def _grade(course: Path, chapter: str, subs: Path, out: Path, jobs: int) -> dict:
    """One sandboxed batch without feedback; returns its raw numbers."""
    from autograder import grading

    time.sleep(PAUSE)
    load = _load()
    t, busy = time.perf_counter(), _busy()
    result = grading.grade(course, chapter, subs, out, jobs=jobs, feedback=False, progress=False,
                           log=lambda m: None)
    wall, busy = time.perf_counter() - t, _busy() - busy
    each = [o.seconds for o in result.outcomes]
    med = statistics.median(each)
    return {
        "jobs": jobs,
        "n": len(result.outcomes),
        "wall": wall,
        "machine_busy_cores": busy / wall,  # during the batch, every process on the machine
        "setup": result.phases["setup"],
        "autograde": result.phases["autograde"],
        "student_seconds": each,
        "student_median": med,
        "stalls": [round(x, 1) for x in each if x > 2 * med and x > med + 5],
        "failed": [(o.student, o.status) for o in result.outcomes if not o.ok],
        "scores": {o.student: sum(v[0] or 0 for v in o.scores.values()) for o in result.outcomes},
        "load_before": load,
    }


def _feedback(course: Path, chapter: str, out: Path, students: list[str]) -> dict:
    """generate_feedback for one student, then for all of them (one nbgrader process each time)."""
    from autograder import grading

    times = {}
    for key, who in (("one", students[:1]), ("all", students)):
        time.sleep(PAUSE)
        t = time.perf_counter()
        _, problems = grading.generate_feedback(course, chapter, out, who)
        times[key] = time.perf_counter() - t
        assert not problems, problems
    n = len(students)
    marginal = (times["all"] - times["one"]) / (n - 1) if n > 1 else times["all"]
    return {"one": times["one"], "all": times["all"], "per_notebook": times["all"] / n,
            "marginal": max(marginal, 0.0), "fixed": max(times["one"] - max(marginal, 0.0), 0.0)}


MIXES = {"cycle": ("perfect", "untouched", "partial"), "complete": ("perfect",)}


def measure(root: Path, chapter: str, n: int, jobs_list: list[int], work: Path, mix: str = "cycle") -> dict:
    course, subs = _setup(root, chapter, n, work, MIXES[mix])
    runs = []
    for j in jobs_list:
        r = _grade(course, chapter, subs, work / f"out-j{j}", j)
        r["core_s_per_nb"] = r["autograde"] * j / r["n"]
        r["s_per_nb"] = r["autograde"] / r["n"]
        r["nb_per_core_hour"] = 3600 / r["core_s_per_nb"]
        runs.append(r)
        print(f"  jobs={j}: wall {r['wall']:.1f} s (setup {r['setup']:.1f} s, autograde {r['autograde']:.1f} s); "
              f"{r['s_per_nb']:.2f} s/notebook, {r['core_s_per_nb']:.2f} core-s/notebook; machine busy "
              f"{r['machine_busy_cores']:.2f} of {os.cpu_count()} cores (all processes); per student median "
              f"{r['student_median']:.1f} s; load before {r['load_before'][0]:.2f}"
              + (f"; STALLS {r['stalls']}" if r["stalls"] else "")
              + (f"; FAILED {r['failed']}" if r["failed"] else ""), flush=True)
    for r in runs[1:]:
        if r["scores"] != runs[0]["scores"]:
            print(f"  WARNING: scores at jobs={r['jobs']} differ from jobs={runs[0]['jobs']}: "
                  f"{r['scores']} vs {runs[0]['scores']}", flush=True)
    last = runs[-1]
    students = sorted(last["scores"])
    fb = _feedback(course, chapter, work / f"out-j{last['jobs']}", students)
    print(f"  feedback: 1 student {fb['one']:.1f} s, {len(students)} students {fb['all']:.1f} s = "
          f"{fb['per_notebook']:.2f} s/notebook (marginal {fb['marginal']:.2f} s, fixed {fb['fixed']:.1f} s)",
          flush=True)
    scores = [v for _, v in sorted(last["scores"].items())]
    print(f"  scores at jobs={last['jobs']} (cycle: {', '.join(MIXES[mix])}): "
          + " ".join(f"{v:g}" for v in scores), flush=True)
    if not scores[0]:
        print("  WARNING: the perfect submission scored 0: the kernels did not run the course's code, "
              "so these are not grading times", flush=True)
    return {"runs": runs, "feedback": fb}


def efficiency(m: dict) -> float | None:
    """autograde(J=1) / (J x autograde(J)) for the largest J measured, if J=1 was measured too."""
    by_j = {r["jobs"]: r for r in m["runs"]}
    top = max(by_j)
    if 1 not in by_j or top == 1:
        return None
    return by_j[1]["autograde"] / (top * by_j[top]["autograde"])


def machines(students: int, per_nb_parallel: float, per_nb_serial: float, setup: float, cores: int,
             hours: float) -> tuple[int | None, float]:
    """Machines of ``cores`` cores for ``students`` notebooks each costing ``per_nb_parallel`` core-seconds
    (spread over the cores) plus ``per_nb_serial`` seconds on one core, after ``setup`` seconds per machine.
    Returns (machines or None if the setup alone fills the night, wall hours on each)."""
    night = hours * 3600 - setup
    per_student_wall = per_nb_parallel / cores + per_nb_serial
    if night <= 0:
        return None, float("inf")
    capacity = night / per_student_wall  # students one machine grades in one night
    m = math.ceil(students / capacity)
    each = math.ceil(students / m)
    return m, (setup + each * per_student_wall) / 3600


def capacity_table(results: dict, top_j: int, hours: float, classes: list[int], cores_list: list[int]) -> dict:
    rows = {}
    per_ch = {}
    for ch, m in results.items():
        r = next(r for r in m["runs"] if r["jobs"] == top_j)
        per_ch[ch] = {"grade": r["core_s_per_nb"], "feedback": m["feedback"]["per_notebook"],
                      "setup": r["setup"] + m["feedback"]["fixed"]}
    slowest = max(per_ch, key=lambda c: per_ch[c]["grade"] + per_ch[c]["feedback"])
    cases = {f"(a) 1 chapter, slowest: {slowest}": [slowest],
             f"(b) all {len(per_ch)} chapters measured": list(per_ch)}
    print(f"\nCapacity: one night = {hours:g} h; per-core throughput as measured at jobs={top_j} "
          f"(efficiency vs jobs=1 printed above), assumed to hold on machines of more cores")
    print("  core-s/nb = grading (autograde at jobs=cores) + feedback, per notebook; setup = per chapter and "
          "machine, once")
    print("  'fb parallel': feedback spread over the cores like grading; 'fb serial': feedback in one process "
          "after grading, as grade ran it before it split feedback among its jobs")
    head = (f"  {'case':<40} {'class':>6} {'cores':>5} {'core-s/nb':>9} {'core-h':>8} "
            f"{'machines (fb parallel)':>22} {'machines (fb serial)':>20}")
    print(head)
    print("  " + "-" * (len(head) - 2))
    for name, chs in cases.items():
        g = sum(per_ch[c]["grade"] for c in chs)
        f = sum(per_ch[c]["feedback"] for c in chs)
        setup = sum(per_ch[c]["setup"] for c in chs)
        for students in classes:
            for cores in cores_list:
                core_h = students * (g + f) / 3600
                m_par, h_par = machines(students, g + f, 0.0, setup, cores, hours)
                m_ser, h_ser = machines(students, g, f, setup, cores, hours)
                rows[f"{name} | {students} | {cores}"] = {
                    "chapters": chs, "students": students, "cores": cores, "core_s_per_nb": g + f,
                    "grade_core_s_per_nb": g, "feedback_s_per_nb": f, "setup_s": setup, "core_hours": core_h,
                    "machines_feedback_parallel": m_par, "hours_each_parallel": h_par,
                    "machines_feedback_serial": m_ser, "hours_each_serial": h_ser}
                print(f"  {name:<40} {students:>6} {cores:>5} {g + f:>9.2f} {core_h:>8.1f} "
                      f"{(str(m_par) + f' ({h_par:.2f} h each)'):>22} {(str(m_ser) + f' ({h_ser:.2f} h each)'):>20}")
    return {"per_chapter": per_ch, "slowest": slowest, "rows": rows}


def main(argv=None) -> int:
    from autograder import nbg

    nbg.skip_slow_imports()
    cores = os.cpu_count() or 1
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chapters", nargs="+", default=None, help="default: every chapter in solutions/")
    ap.add_argument("--root", type=Path, default=REPO, help="course root (default: the repo)")
    ap.add_argument("-n", type=int, default=8, help="submissions per chapter (default 8)")
    ap.add_argument("--jobs-list", type=int, nargs="+", default=sorted({1, cores}),
                    help=f"jobs values to time (default: 1 and the cores, here {sorted({1, cores})})")
    ap.add_argument("--hours", type=float, default=8.0, help="length of the night (default 8)")
    ap.add_argument("--students", type=int, nargs="+", default=[300, 10000], help="class sizes")
    ap.add_argument("--cores-per-machine", type=int, nargs="+", default=[2, 16])
    ap.add_argument("--json", type=Path, default=None, help="also write the raw numbers there")
    ap.add_argument("--mix", choices=sorted(MIXES), default="cycle",
                    help="submissions: 'cycle' (perfect, untouched, partial) or 'complete' (every one the solution: "
                         "a class that finished, the costliest case)")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    chapters = args.chapters or nbg.chapters_in(root)
    missing = [c for c in chapters if c not in nbg.chapters_in(root)]
    if missing:
        ap.error(f"no such chapter(s): {missing}")
    jobs_list = sorted(set(args.jobs_list))
    load_before = _load()
    print("command: " + " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print(f"code: {_code_state()}")
    print(f"machine: {cores} cores; niceness {os.nice(0)}; load average before {load_before} (1, 5, 15 min); "
          f"{len(chapters)} chapter(s), {args.n} submissions each, jobs {jobs_list}", flush=True)
    t0 = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory(prefix="nn-bench-throughput-") as tmp:
        for ch in chapters:
            print(f"{ch}:", flush=True)
            results[ch] = measure(root, ch, args.n, jobs_list, Path(tmp) / ch, args.mix)
    top_j = max(jobs_list)

    print(f"\nPer chapter ({args.n} notebooks per batch; core-s/nb = autograde wall x jobs / n, setup apart; "
          f"busy = cores the whole machine kept busy during the batch, ours and other people's)")
    head = (f"  {'chapter':<18} {'jobs':>4} {'wall s':>7} {'setup s':>7} {'autogr s':>8} {'s/nb':>6} "
            f"{'core-s/nb':>9} {'nb/core-h':>9} {'busy':>5} {'eff':>5} {'feedback s/nb':>13}")
    print(head)
    print("  " + "-" * (len(head) - 2))
    for ch, m in results.items():
        eff = efficiency(m)
        m["efficiency"] = eff
        for r in m["runs"]:
            e = f"{eff:.2f}" if (eff is not None and r["jobs"] == top_j) else ""
            fb = f"{m['feedback']['per_notebook']:.2f}" if r["jobs"] == top_j else ""
            print(f"  {ch:<18} {r['jobs']:>4} {r['wall']:>7.1f} {r['setup']:>7.1f} {r['autograde']:>8.1f} "
                  f"{r['s_per_nb']:>6.2f} {r['core_s_per_nb']:>9.2f} {r['nb_per_core_hour']:>9.0f} "
                  f"{r['machine_busy_cores']:>5.2f} {e:>5} {fb:>13}")
    effs = [m["efficiency"] for m in results.values() if m["efficiency"] is not None]
    if effs:
        print(f"  scaling efficiency jobs={top_j} vs jobs=1: median {statistics.median(effs):.2f} "
              f"(min {min(effs):.2f}, max {max(effs):.2f})")

    cap = capacity_table(results, top_j, args.hours, args.students, args.cores_per_machine)
    load_after = _load()
    total = time.perf_counter() - t0
    print(f"\nmachine: {cores} cores; load average before {load_before}, after {load_after} (1, 5, 15 min); "
          f"benchmark took {total / 60:.1f} min")
    dump = {"command": sys.argv, "cores": cores, "load_before": load_before, "load_after": load_after,
            "n": args.n, "jobs_list": jobs_list, "hours": args.hours, "seconds": total,
            "chapters": results, "capacity": cap}
    text = json.dumps(dump, indent=1, default=str)
    print("\nraw numbers (JSON):")
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
