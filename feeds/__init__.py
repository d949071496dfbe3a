"""Publish RSS 2.0, Atom 1.0 and JSON Feed 1.1 feeds from a folder of article files."""

__version__ = "0.1.0"
