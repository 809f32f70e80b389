"""``release``: regenerate ``chapters/`` from ``solutions/`` with nbgrader, and check it.

Generation runs in a temporary course folder with a throwaway gradebook, so no ``gradebook.db`` or
log is ever left in the repository. Notebooks are rewritten in nbformat's canonical form, so two runs
give byte-identical files. Every generated chapter is checked for leaks: no solution or hidden-test
marker, and no line from inside a solution or hidden-test region (unless that line also appears
outside every region of the source, e.g. ``return out``).
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder import nbg

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_REGIONS = (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))


@dataclass
class ReleaseResult:
    chapter: str
    changed: list[str] = field(default_factory=list)  # relative paths that differ / were written
    leaks: list[str] = field(default_factory=list)


def canonical_notebook_bytes(path: Path) -> bytes:
    """The notebook as nbformat writes it (sorted keys, indent 1, trailing newline)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    return (nbformat.writes(nb) + "\n").encode("utf-8")


def _secret_lines(source_nb) -> set[str]:
    """Stripped lines inside solution / hidden-test regions that never appear outside them."""
    inside, outside = set(), set()
    for cell in source_nb.cells:
        region = None
        for line in cell.source.splitlines():
            s = line.strip()
            if region is None:
                for begin, end in _REGIONS:
                    if begin in s:
                        region = end
                        break
                else:
                    outside.add(s)
                continue
            if region in s:
                region = None
                continue
            inside.add(s)
    trivial = {"", "pass", "return", "raise NotImplementedError()", "# YOUR CODE HERE", "...", "else:",
               "try:", "except:", "finally:", ")", "]", "}", "break", "continue"}
    return {s for s in inside - outside if s not in trivial and len(s) > 2}


def find_leaks(source_dir: Path, release_dir: Path) -> list[str]:
    """Solution or hidden-test text found in ``release_dir`` (one message per problem)."""
    import nbformat

    problems = []
    secrets: set[str] = set()
    for nb_path in sorted(Path(source_dir).glob("*.ipynb")):
        secrets |= _secret_lines(nbformat.read(str(nb_path), as_version=4))
    for path in sorted(p for p in Path(release_dir).rglob("*") if p.is_file()):
        rel = path.relative_to(release_dir)
        try:
            if path.suffix == ".ipynb":
                nb = nbformat.read(str(path), as_version=4)
                texts = [c.source for c in nb.cells]
                texts += [o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
                          if isinstance(o.get("text", ""), str)]
            else:
                texts = [path.read_text(encoding="utf-8")]
        except UnicodeDecodeError:
            continue  # binary data file
        text = "\n".join(texts)
        for marker in MARKERS:
            if marker in text:
                problems.append(f"{rel}: contains the marker '### {marker}'")
        lines = {ln.strip() for ln in text.splitlines()}
        for s in sorted(secrets & lines):
            problems.append(f"{rel}: contains solution/hidden-test text: {s!r}")
    return problems


def generate(root: Path, chapter: str, dest: Path, tmp: Path) -> Path:
    """Generate the release of ``chapter`` into ``dest/<chapter>`` (canonical notebooks)."""
    out = nbg.generate_assignment(root, chapter, Path(tmp) / f"gen-{chapter}")
    target = Path(dest) / chapter
    if target.exists():
        shutil.rmtree(target)
    nbg.copy_tree(out, target)
    for nb_path in target.rglob("*.ipynb"):
        nb_path.write_bytes(canonical_notebook_bytes(nb_path))
    return target


def diff_trees(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between folders ``a`` and ``b`` (missing on either side too)."""
    def files(d):
        if not d.is_dir():
            return set()
        return {p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file()
                and not any(part in (".ipynb_checkpoints", "__pycache__") for part in p.parts)}
    fa, fb = files(Path(a)), files(Path(b))
    out = sorted((fa ^ fb))
    out += sorted(f for f in fa & fb if not filecmp.cmp(Path(a) / f, Path(b) / f, shallow=False))
    return sorted(out)


def release(root: Path, chapters: list[str] | None = None, *, check: bool = False,
            log=print) -> int:
    """Regenerate (or with ``check`` compare) ``chapters/`` for ``chapters``. Returns an exit code."""
    root = Path(root)
    known = nbg.chapters_in(root)
    wanted = list(chapters) if chapters else known
    unknown = [c for c in wanted if c not in known]
    if unknown:
        log(f"error: no source notebook solutions/<chapter>/<chapter>.ipynb for: {', '.join(unknown)}")
        return 2
    release_root = root / nbg.RELEASE_DIR
    status = 0
    with tempfile.TemporaryDirectory(prefix="nn-release-") as tmp:
        tmp = Path(tmp)
        fresh = tmp / "release"
        for chapter in wanted:
            try:
                target = generate(root, chapter, fresh, tmp)
            except nbg.NbgraderError as exc:
                log(f"{chapter}: {exc}")
                status = 1
                continue
            leaks = find_leaks(root / nbg.SOURCE_DIR / chapter, target)
            for leak in leaks:
                log(f"{chapter}: LEAK {leak}")
            if leaks:
                status = 1
                continue
            differing = diff_trees(release_root / chapter, target)
            if check:
                if differing:
                    status = 1
                    log(f"{chapter}: chapters/{chapter} is out of date; differing files:")
                    for rel in differing:
                        log(f"  chapters/{chapter}/{rel}")
                else:
                    log(f"{chapter}: up to date")
            else:
                dest = release_root / chapter
                if dest.exists():
                    shutil.rmtree(dest)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(target, dest)
                log(f"{chapter}: wrote chapters/{chapter} "
                    + (f"({len(differing)} file(s) changed)" if differing else "(unchanged)"))
        if not chapters and release_root.is_dir():
            orphans = sorted(p.name for p in release_root.iterdir() if p.is_dir() and p.name not in known)
            for name in orphans:
                if check:
                    status = 1
                    log(f"{name}: chapters/{name} has no source in solutions/ (stale)")
                else:
                    shutil.rmtree(release_root / name)
                    log(f"{name}: removed chapters/{name} (no source in solutions/)")
    return status
