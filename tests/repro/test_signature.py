"""Signatures: what counts as the same failure."""

from __future__ import annotations

from repro.limits import Run
from repro.signature import Sample, Signature, normalise


def _run(rc: int | None, stdout: str = "", stderr: str = "", **extra: object) -> Run:
    fields = {"oom_kills": 0, "timed_out": False, "error": None, **extra}
    return Run(("x",), "as 5000 KiB", rc, stdout, stderr, 0.01, 12000, **fields)  # type: ignore[arg-type]


def test_empty_streams_signal_kill() -> None:
    sig = Signature.of(_run(-11))
    assert (sig.rc, sig.stdout_empty, sig.stderr_empty, sig.first_stderr_line) == (-11, True, True, "")
    assert sig.short() == "-11 / E / E"
    assert not sig.ok


def test_first_and_last_lines_skip_blank_ones() -> None:
    sig = Signature.of(_run(1, stderr="\n  Traceback (most recent call last):\n  x\nMemoryError\n\n"))
    assert (sig.first_stderr_line, sig.last_stderr_line) == ("Traceback (most recent call last):", "MemoryError")


def test_library_names_paths_and_numbers_do_not_split_a_failure() -> None:
    a = "/usr/bin/python3: error while loading shared libraries: libm.so.6: failed to map segment"
    b = "/opt/py/bin/python3.11: error while loading shared libraries: libc.so.6: failed to map segment"
    assert normalise(a) == normalise(b)
    assert Signature.of(_run(127, stderr=a)).key() == Signature.of(_run(127, stderr=b)).key()


def test_streams_rc_and_oom_do_split_a_failure() -> None:
    base = Signature.of(_run(-9)).key()
    assert base != Signature.of(_run(-9, stdout="Looking in links: /w")).key()
    assert base != Signature.of(_run(-9, oom_kills=1)).key()
    assert base != Signature.of(_run(-9, timed_out=True)).key()
    assert (
        Signature.of(_run(1, stderr="Error: died with SIGKILL")).key()
        != Signature.of(_run(1, stderr="Error: returned non-zero exit status 1")).key()
    )


def test_labels_for_timeouts_and_commands_that_never_started() -> None:
    assert Signature.of(_run(-9, timed_out=True)).rc_label == "timeout"
    assert Signature.of(_run(None, error="FileNotFoundError: x")).rc_label == "no start"
    assert Signature.of(_run(-9, oom_kills=2)).short() == "-9 / E / E / oom 2"


def test_sample_json_carries_the_signature() -> None:
    data = Sample.of(5000, _run(-11)).to_json()
    assert (data["kib"], data["rc"], data["rc_label"], data["stdout_empty"]) == (5000, -11, "-11", True)
