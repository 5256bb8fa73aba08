"""The library's version, in a module of its own so that any module can read it without
importing the package (``multiexpect/__init__.py`` imports every layer)."""

__version__ = "0.1.0"
