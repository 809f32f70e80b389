"""``python -m autograder._limits --memory MB -- CMD ...``: exec CMD under resource limits.

Used instead of ``preprocess_fn`` (which is unsafe with threads): the grader starts this launcher in
a new session; it sets the limits, which every child (nbgrader, then the kernel) inherits, and execs.
"""

import argparse
import os
import resource
import sys


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m autograder._limits")
    p.add_argument("--memory", type=int, default=0, help="address-space limit per process, MB (0: none)")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        p.error("no command")
    if args.memory > 0:
        limit = args.memory * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dumps from a crashing kernel
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
