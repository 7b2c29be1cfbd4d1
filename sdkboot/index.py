"""Where packages come from: one typed value every strategy reads, pip or not.

A hook line carries no index flags, so the settings also come from pip's own
environment variables, merged the way pip merges them: a flag replaces
``PIP_INDEX_URL``, list flags add to ``PIP_EXTRA_INDEX_URL`` / ``PIP_FIND_LINKS``
(whitespace-separated, as pip splits them), and ``--no-index`` or a true
``PIP_NO_INDEX`` turns the index off. pip's config files are pip's own business:
only strategies that run pip see them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The variables this module owns: strategies get them as options, so a child pip must not see
# them a second time (a list would be doubled).
ENV_VARS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX")
_TRUE = frozenset(("1", "true", "yes", "on", "y", "t"))
_FALSE = frozenset(("", "0", "false", "no", "off", "n", "f"))


def env_bool(value: str | None) -> bool | None:
    """pip's reading of a boolean variable; None for a value pip would reject."""
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    return False if text in _FALSE else None


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    # Order matters to pip (first match wins among equal candidates); duplicates do not.
    return tuple(dict.fromkeys(item for item in items if item))


@dataclass(frozen=True)
class IndexSettings:
    """The resolved index settings: explicit values merged over the environment."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> IndexSettings:
        return cls(
            index_url=environ.get("PIP_INDEX_URL", "").strip() or None,
            extra_index_urls=_unique(environ.get("PIP_EXTRA_INDEX_URL", "").split()),
            find_links=_unique(environ.get("PIP_FIND_LINKS", "").split()),
            no_index=bool(env_bool(environ.get("PIP_NO_INDEX"))),
        )

    def over(self, base: IndexSettings) -> IndexSettings:
        """These (explicit) settings on top of ``base`` (the environment), as pip combines them."""
        return IndexSettings(
            index_url=self.index_url or base.index_url,
            extra_index_urls=_unique(base.extra_index_urls + self.extra_index_urls),
            find_links=_unique(base.find_links + self.find_links),
            no_index=self.no_index or base.no_index,
        )

    def pip_options(self) -> tuple[str, ...]:
        """pip's index flags, in a stable order."""
        options: tuple[str, ...] = ()
        if self.index_url:
            options += ("--index-url", self.index_url)
        for url in self.extra_index_urls:
            options += ("--extra-index-url", url)
        for link in self.find_links:
            options += ("--find-links", link)
        if self.no_index:
            options += ("--no-index",)
        return options


def child_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the index variables: a child gets the resolved settings as options."""
    return {key: value for key, value in environ.items() if key not in ENV_VARS}
