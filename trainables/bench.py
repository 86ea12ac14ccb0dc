"""Alias kept for an open issue whose acceptance runs ``python -m trainables.bench ...``: the
benchmarks live in the top-level ``bench`` package (``python -m bench``, same flags). The
package is named as a string for ``runpy``, so ``trainables`` has no import of ``bench``."""
import runpy


def main() -> None:
    runpy.run_module("bench", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
