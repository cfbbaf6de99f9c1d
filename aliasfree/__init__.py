"""The ``aliasfree`` command-line front end (see ``aliasfree.cli``)."""

__version__ = "0.1.0"
