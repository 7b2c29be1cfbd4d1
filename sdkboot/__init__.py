"""sdkboot: make a heavy dependency importable from a private, per-user environment.

Public API: ``Spec``, ``ensure``, ``Result``, ``Outcome`` (and ``activate`` for the
consumer side). Standard library only: this runs before any dependency exists.

Each name loads on first use. ``import sdkboot`` itself costs almost nothing: a host pays for it
on every session, and ``sdkboot hook`` must answer its host even under a memory limit that the
build machinery would not fit in. (No ``typing`` import here either, for the same reason.)
"""

import sys
import types

if sys.version_info < (3, 9):  # this file parses on 3.6+: say so instead of failing further in
    raise ImportError("sdkboot needs Python 3.9 or newer; this is Python %s" % sys.version.split()[0])

from .version import VERSION as __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .activate import Activation, activate
    from .codes import ErrKind, Outcome, Phase
    from .ensure import ensure
    from .result import Result
    from .spec import Spec

# Each public name and the module that defines it.
_HOMES = {
    "Activation": "activate",
    "activate": "activate",
    "ErrKind": "codes",
    "Outcome": "codes",
    "Phase": "codes",
    "ensure": "ensure",
    "Result": "result",
    "Spec": "spec",
}
__all__ = ["Activation", "ErrKind", "Outcome", "Phase", "Result", "Spec", "__version__", "activate", "ensure"]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"sdkboot.{home}"), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """``sdkboot.ensure`` and ``sdkboot.activate`` are the functions, as when they were imported
    eagerly: loading the submodules of the same names must not replace them with modules."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and _HOMES.get(name) == name:
            return  # the function is bound on first use (see __getattr__)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
