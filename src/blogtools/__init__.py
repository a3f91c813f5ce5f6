"""blogtools: essays from feeds into a static site whose code examples are extracted, run and tested."""

__version__ = "0.1.0"
