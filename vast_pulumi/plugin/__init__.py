"""vast-pulumi as a Pulumi provider plugin, ``pulumi-resource-vast``: the same resources for YAML,
TypeScript and every other Pulumi language, importable with ``pulumi import``, typed by a schema.

The plugin is a second face over the providers the dynamic resources use (see
:mod:`vast_pulumi.plugin._server`); the wheel installs it as a console script beside ``python``.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    from vast_pulumi.plugin._server import main as serve

    serve()
