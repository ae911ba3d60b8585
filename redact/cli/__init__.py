"""The ``redact`` command: a thin Typer layer over the library."""
