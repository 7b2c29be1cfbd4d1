"""The consumer's entry for a ``--target`` env, passed by ``sdkboot run`` with ``-c``.

``python -c <this source> DIR (-- SCRIPT | -m MODULE) ARGS...`` puts DIR first on
``sys.path`` the way activate() does (``site.addsitedir``, so its .pth files run), then
runs the consumer as ``python SCRIPT`` / ``python -m MODULE`` would. Nothing goes into
the environment, so the consumer's own child processes never inherit the target dir.
"""

import os
import runpy
import site
import sys


def _main() -> None:
    target, mode, name = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.argv = [name, *sys.argv[4:]]
    # What the interpreter itself would have put first: the script's dir, or the cwd for -m.
    sys.path[0] = os.getcwd() if mode == "-m" else os.path.dirname(os.path.abspath(name))
    before = len(sys.path)
    site.addsitedir(target)
    sys.path[:] = sys.path[before:] + sys.path[:before]
    if mode == "-m":
        runpy.run_module(name, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(name, run_name="__main__")


if __name__ == "__main__":
    _main()
