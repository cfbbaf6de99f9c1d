"""Subcommands of ``aliasfree``; see ``aliasfree.cli``."""
