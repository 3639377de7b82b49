"""Typed errors that say where: each carries a one-line message naming the file, entry or field at fault."""


class TrailhoundError(Exception):
    """Base of trailhound's own errors; str() is the one-line message shown to users."""


class ConfigError(TrailhoundError):
    """A configuration, allowlist or option problem, found before any scan starts (exit code 2)."""


class InputError(TrailhoundError):
    """An input that cannot be read at all (the run goes on with the rest; exit code 1)."""
