"""What to bootstrap and where: the frozen ``Spec``."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

from .index import IndexSettings

DEFAULT_REQUIREMENTS: tuple[str, ...] = ("claude-agent-sdk",)
DEFAULT_IMPORT_NAME = "claude_agent_sdk"
DEFAULT_MIN_PYTHON: tuple[int, int] = (3, 10)
DEFAULT_STEP_TIMEOUT = 300.0
DEFAULT_COOLDOWN = 24 * 3600.0

Strings = Union[str, Sequence[str]]


def user_state_root() -> str:
    """The platform's per-user state directory."""
    if sys.platform == "win32":
        return os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Application Support")
    return os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")


def default_state_dir(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The state dir when none is given. The one place that decides it, in this order:

    1. ``$SDKBOOT_STATE_DIR``, used as it is;
    2. ``$CLAUDE_PLUGIN_DATA/sdkboot/<name>``: a Claude Code plugin's own data dir, which
       survives plugin updates;
    3. ``<per-user state>/sdkboot/<name>`` (see ``user_state_root``).

    An explicit ``Spec(state_dir=...)`` or ``--state-dir`` comes before all of them.
    """
    environ = os.environ if environ is None else environ
    override = environ.get("SDKBOOT_STATE_DIR")
    if override:
        return os.path.abspath(os.path.expanduser(override))
    plugin_data = environ.get("CLAUDE_PLUGIN_DATA")
    if plugin_data:
        return os.path.join(os.path.abspath(os.path.expanduser(plugin_data)), "sdkboot", name)
    return os.path.join(user_state_root(), "sdkboot", name)


def _strings(value: Strings) -> tuple[str, ...]:
    # A lone string is one item, not a sequence of characters.
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class Spec:
    """Everything ``ensure()`` needs. Sequences are normalized to tuples."""

    requirements: Sequence[str] = DEFAULT_REQUIREMENTS
    import_name: str = DEFAULT_IMPORT_NAME
    min_python: tuple[int, int] = DEFAULT_MIN_PYTHON
    python: str = field(default_factory=lambda: sys.executable)
    state_dir: str | None = None
    index_url: str | None = None
    find_links: Strings = ()
    no_index: bool = False
    pip_args: Strings = ()
    step_timeout: float = DEFAULT_STEP_TIMEOUT
    cooldown_seconds: float = DEFAULT_COOLDOWN
    # Build strategies to try, by label, in order; empty: every registered one, in its order.
    strategies: Strings = ()
    extra_index_urls: Strings = ()
    # Who uses the env. False: this interpreter, in process (activate()), so the env must be for
    # its X.Y. True: ``sdkboot run``, which execs the env's own interpreter, so any discovered
    # Python >= min_python may build it when this one is too old or cannot build.
    for_run: bool = False
    # Keep build steps in the caller's process group, for a host that kills its own group to stop
    # its tools. Honoured elsewhere than Linux; on Linux a supervisor always guards the steps.
    share_process_group: bool = False
    # Before a build, compare the memory limits with the strategies' measured floors and skip
    # (SKIP_LOW_MEMORY) when none fits. Off: benchmarks and the repro measure the real floors.
    preflight: bool = True
    # The explicit index fields merged over pip's environment variables, once, at construction:
    # what every strategy reads, whether or not it runs pip.
    index: IndexSettings = field(init=False, default=IndexSettings())

    def __post_init__(self) -> None:
        # Frozen: normalize through object.__setattr__, once, at construction.
        state = self.state_dir or default_state_dir(self.import_name)
        object.__setattr__(self, "state_dir", os.path.abspath(os.path.expanduser(state)))
        object.__setattr__(self, "requirements", _strings(self.requirements))
        object.__setattr__(self, "find_links", _strings(self.find_links))
        object.__setattr__(self, "extra_index_urls", _strings(self.extra_index_urls))
        object.__setattr__(self, "pip_args", _strings(self.pip_args))
        object.__setattr__(self, "strategies", _strings(self.strategies))
        object.__setattr__(self, "min_python", tuple(self.min_python))
        explicit = IndexSettings(
            self.index_url,
            tuple(map(str, self.extra_index_urls)),
            tuple(map(str, self.find_links)),
            bool(self.no_index),
        )
        object.__setattr__(self, "index", explicit.over(IndexSettings.from_environ(os.environ)))

    @property
    def root(self) -> str:
        """``state_dir`` as a plain ``str`` (always set after construction)."""
        return str(self.state_dir)

    def index_options(self) -> tuple[str, ...]:
        """pip's index flags for ``index`` (flags and environment merged), in a stable order."""
        return self.index.pip_options()
