"""``python -m study.compact --results DIR [--study S]``: the command DESIGN.md documents for
:mod:`study.results.compact` (merge a study's per-trial files into parts); nothing else."""
from study.results.compact import main

if __name__ == "__main__":
    raise SystemExit(main())
