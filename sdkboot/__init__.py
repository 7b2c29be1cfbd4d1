"""sdkboot: make a heavy dependency importable from a private, per-user environment.

Public API: ``Spec``, ``ensure``, ``Result``, ``Outcome`` (and ``activate`` for the
consumer side). Standard library only: this runs before any dependency exists.
"""
from __future__ import annotations

from .activate import Activation, activate
from .codes import ErrKind, Outcome, Phase
from .ensure import ensure
from .result import Result
from .spec import Spec
from .version import VERSION as __version__

__all__ = ["Activation", "activate", "ErrKind", "Outcome", "Phase", "Result", "Spec", "ensure", "__version__"]
