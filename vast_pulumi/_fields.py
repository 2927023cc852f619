"""What each input of a resource does, in one table per resource.

Every provider declares ``fields``: for each input of its model, what a change does (:class:`OnChange`),
whether a refresh reads it back from the API, whether it is secret, and whether left unset it takes the
API's value. ``VastProvider.diff`` and ``read_result`` (:mod:`vast_pulumi._dynamic`) and the reference
(:mod:`vast_pulumi._docs`) read that table, so the docs cannot say "updates" where a change replaces, nor
a refresh show drift in a field it does not read.

A provider's table must name every input of its model, and nothing else: a provider class that does not
fails at import (:func:`table`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace

from pydantic import BaseModel

__all__ = [
    "CREATE_ONLY",
    "NEXT_RENT",
    "NO_EFFECT",
    "RENTS",
    "REPLACES",
    "UPDATES",
    "Field",
    "OnChange",
    "table",
]


class OnChange(enum.Enum):
    """What changing an input does, as the reference says it."""

    UPDATES = "updates"
    REPLACES = "replaces"
    # Price of an instance: a new bid is changed in place; given or removed, the instance is replaced
    # (an on-demand instance cannot become interruptible in place, nor the other way round).
    BID = "updates the bid; replaces between on-demand and interruptible"
    # Fleet: the fleet stays, its members are replaced by new ones in batches (``rollout``).
    RENTS = "rents new machines"
    # Read by create alone (and where noted, by a later rent or restart): a change alone does nothing.
    CREATE_ONLY = "create only"
    # Fleet: read when members are rented (a scale-up, a rollout, a lost member replaced); a change
    # alone changes no running member.
    NEXT_RENT = "applies to members rented later"
    # Accepted for compatibility and never sent.
    NO_EFFECT = "no effect"

    @property
    def diffed(self) -> bool:
        """Whether a change of the input is a change of the resource."""
        return self not in (OnChange.CREATE_ONLY, OnChange.NEXT_RENT, OnChange.NO_EFFECT)


@dataclass(frozen=True)
class Field:
    """What one input does. ``refresh``: a refresh reads it back from the API (a change made elsewhere
    shows as drift); ``server_default``: left unset, the API's value holds, so unset is never a change."""

    on_change: OnChange = OnChange.UPDATES
    refresh: bool = False
    secret: bool = False
    server_default: bool = False

    def read_back(self) -> Field:
        return replace(self, refresh=True)

    def secret_(self) -> Field:
        return replace(self, secret=True)

    def api_default(self) -> Field:
        return replace(self, server_default=True)


UPDATES = Field()
REPLACES = Field(OnChange.REPLACES)
RENTS = Field(OnChange.RENTS)
CREATE_ONLY = Field(OnChange.CREATE_ONLY)
NO_EFFECT = Field(OnChange.NO_EFFECT)
NEXT_RENT = Field(OnChange.NEXT_RENT)


def table(model: type[BaseModel], fields: Mapping[str, Field]) -> Mapping[str, Field]:
    """``fields``, checked to name exactly the inputs of ``model``."""
    missing = [name for name in model.model_fields if name not in fields]
    extra = [name for name in fields if name not in model.model_fields]
    if missing or extra:
        raise TypeError(
            f"{model.__name__}: the field table must name every input once "
            f"(missing: {', '.join(missing) or '-'}; not inputs: {', '.join(extra) or '-'})"
        )
    return dict(fields)
