"""The test suite's own rule: a missing capability skips on a laptop and fails in CI."""

from __future__ import annotations

import pytest
from _pytest.outcomes import Failed, Skipped

from tests.conftest import require_capability


def test_a_missing_capability_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SDKBOOT_REQUIRE_CAPABILITIES", raising=False)
    with pytest.raises(Skipped, match="no engine"):
        require_capability("no engine")


def test_a_missing_capability_fails_where_ci_requires_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDKBOOT_REQUIRE_CAPABILITIES", "1")
    with pytest.raises(Failed, match="CI must provide it: no engine"):
        require_capability("no engine")
