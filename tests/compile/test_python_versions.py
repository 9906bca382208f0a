"""Which interpreters highseas accepts, and how durable-rules 2.0.28 loads on
Python 3.13+ (docs/python-versions.md)."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import pytest

import highseas
from highseas.compile import compat

ON_313 = sys.version_info >= (3, 13)
INIT = Path(highseas.__file__)


@pytest.mark.parametrize("version", [(3, 10), (3, 14), (4, 0)])
def test_an_unsupported_interpreter_is_refused_by_name(
    version: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "version_info", (*version, 0, "final", 0))
    wanted = rf"3\.11, 3\.12 and 3\.13, not {version[0]}\.{version[1]} "
    with pytest.raises(RuntimeError, match=wanted):
        exec(compile(INIT.read_text(), str(INIT), "exec"), {"__name__": "highseas_probe"})


@pytest.mark.parametrize("version", [(3, 11), (3, 12), (3, 13)])
def test_a_supported_interpreter_is_accepted(
    version: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "version_info", (*version, 0, "final", 0))
    exec(compile(INIT.read_text(), str(INIT), "exec"), {"__name__": "highseas_probe"})


def test_the_compatibility_library_is_needed_from_313_on() -> None:
    assert not compat.needed((3, 11))
    assert not compat.needed((3, 12))
    assert compat.needed((3, 13))
    assert compat.needed((3, 14))


def test_durable_rules_loads_in_a_fresh_interpreter() -> None:
    script = (
        "import highseas.compile.durable\n"
        "import durable_rules_engine\n"
        "from durable import engine\n"
        "print('loaded')\n"
    )
    done = subprocess.run([sys.executable, "-W", "error", "-c", script],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "loaded", done.stderr


@pytest.mark.skipif(ON_313, reason="checks that 3.11 and 3.12 do without it")
def test_nothing_is_loaded_before_313() -> None:
    assert compat.load_durable_compat() is None


@pytest.mark.skipif(not ON_313, reason="the library is loaded on Python 3.13+ only")
def test_the_library_defines_the_symbol_and_refuses_the_call() -> None:
    library = compat.load_durable_compat()
    assert library is not None
    assert compat.load_durable_compat() is library  # loaded once
    # Called as a Python API function (GIL held, error checked), it raises
    # instead of returning an object its callers would cut to 32 bits.
    refusing = ctypes.PyDLL(library._name).PyEval_CallObject
    refusing.restype = ctypes.py_object
    refusing.argtypes = [ctypes.py_object, ctypes.py_object]
    with pytest.raises(RuntimeError, match="persistence callbacks"):
        refusing(print, ())
