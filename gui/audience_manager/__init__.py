"""Audience Manager: one change applied to thousands of Kit or HighLevel subscribers, row by row."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("audience-manager")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
