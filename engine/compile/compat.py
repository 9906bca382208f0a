"""Make durable-rules 2.0.28's extension module load on Python 3.13+.

Its ``durable_rules_engine`` refers to ``PyEval_CallObject``, which Python
3.13 removed from the C API. highseas builds a tiny library of its own
(``_compat313.c``) that defines the symbol, and loads it into the process's
global symbol table before durable-rules is imported. See
docs/python-versions.md for why it refuses the call instead of forwarding it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys

COMPAT_MODULE = "highseas.compile._compat313"

_LOADED: ctypes.CDLL | None = None


def needed(version: tuple[int, int] = (sys.version_info.major, sys.version_info.minor)) -> bool:
    """Whether this interpreter's C API lacks ``PyEval_CallObject``."""
    return version >= (3, 13)


def load_durable_compat() -> ctypes.CDLL | None:
    """Load the compatibility library with RTLD_GLOBAL (once) where it is
    needed; None where it is not. Call it before ``import durable``."""
    global _LOADED
    if not needed():
        return None
    if _LOADED is None:
        spec = importlib.util.find_spec(COMPAT_MODULE)
        if spec is None or not spec.origin:
            raise ImportError(
                f"{COMPAT_MODULE} is missing, so durable-rules cannot load on Python "
                f"{sys.version_info.major}.{sys.version_info.minor}: reinstall highseas "
                "from its source with a C compiler (docs/python-versions.md)"
            )
        _LOADED = ctypes.CDLL(spec.origin, mode=ctypes.RTLD_GLOBAL)
    return _LOADED
