"""A local emulator of the Vast.ai console API, faithful enough that the official ``vastai``
client cannot tell it from the real service.

>>> from vast_pulumi.emulator import Emulator
>>> with Emulator(api_keys=["k1"], boot_seconds=0.5, seed=1) as emu:
...     emu.url  # http://127.0.0.1:PORT, for vast:apiUrl / VAST_URL / vastai --url

Command line: ``python -m vast_pulumi.emulator --help``. Pytest fixtures: ``vast_emulator`` and
``vast_emulator_factory`` (see :mod:`vast_pulumi.emulator.pytest_plugin`). Control plane for tests:
see :mod:`vast_pulumi.emulator.control`.
"""

from vast_pulumi.emulator.backend import Backend
from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.faults import FaultSpec, FaultSpecError
from vast_pulumi.emulator.runtime import DEFAULT_API_KEY, Runtime, Settings
from vast_pulumi.emulator.server import Emulator

__all__ = [
    "DEFAULT_API_KEY",
    "ApiError",
    "Backend",
    "Emulator",
    "FaultSpec",
    "FaultSpecError",
    "Runtime",
    "Settings",
]
