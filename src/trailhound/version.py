"""The package version, on its own so that any stage can name it without importing the library surface."""

__version__ = "0.1.0"
