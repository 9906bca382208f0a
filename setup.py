"""The one thing pyproject.toml cannot declare: a C extension.

highseas.compile._compat313 defines PyEval_CallObject, which Python 3.13
removed and durable-rules 2.0.28's extension still refers to (see
engine/compile/compat.py and docs/python-versions.md). On Python 3.11 and
3.12 it compiles to an empty module.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("highseas.compile._compat313", sources=["engine/compile/_compat313.c"]),
    ],
)
