"""The one place the version is written: ``pyproject.toml`` reads it, the package exports it, and the
client's User-Agent carries it (from here, so that the client never imports the package's facade)."""

__version__ = "0.3.0"
