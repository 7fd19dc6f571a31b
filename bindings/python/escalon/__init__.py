"""Escalon: workflows, deadlines and escalations for contact centers (docs/python.md).

The engine is the compiled module ``escalon._escalon``; this package re-exports it, so that
``import escalon`` gives the whole API and type checkers find its stubs (``__init__.pyi``,
``py.typed``).
"""
from . import _escalon
from ._escalon import *  # noqa: F401,F403
from ._escalon import __version__  # noqa: F401

# Classes and exceptions say `escalon.Engine`, not `escalon._escalon.Engine`, in reprs,
# tracebacks and pickles.
for _name in dir(_escalon):
    _obj = getattr(_escalon, _name)
    if isinstance(_obj, type) and getattr(_obj, "__module__", "") == "escalon._escalon":
        try:
            _obj.__module__ = "escalon"
        except (AttributeError, TypeError):
            pass
del _name, _obj
