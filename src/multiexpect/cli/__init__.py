"""The ``multiexpect`` command line: study files, commands, the HTML report, the demo.

See ``docs/cli.md``. The library never imports this package.
"""

__all__: list[str] = []
