"""The reconciling create: how every resource makes its object on Vast.ai without ever making two.

Each object a resource creates carries the resource's *marker* (a hash of stack and resource name;
where it rides depends on the object: an environment variable, a launch argument, the generated
name). A create then goes:

1. **Look first.** A live object carrying the marker (left by a ``pulumi up`` killed before it could
   record it) is adopted instead of making another.
2. **Create.** When the answer is lost or is a 5xx, the create may or may not have been applied: it is
   never repeated blindly. The resource looks again by marker; only when nothing carries it is the
   create sent again (a bounded number of times).
3. **Sweep.** After a create, the objects carrying the marker are listed once more: the oldest is
   kept, every other one (the one just made included) is deleted, so an earlier attempt whose outcome
   was unknown cannot leave a second object billing.
4. **Converge.** The survivor is brought to the inputs (an adopted one may have been made from older
   ones).

A create the API refuses may still have made its object (a rent with a bid below the offer's
minimum leaves a stopped instance, named in the error), and an earlier attempt whose outcome was
unknown may show up late: before the refusal is raised, whatever carries the marker, and the object
the error names, is deleted, so a failed create leaves nothing billing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from vast_pulumi.client import Row
from vast_pulumi.errors import (
    CreateFailedError,
    CreateOutcomeUnknownError,
    OutcomeUnknown,
    VastApiError,
    VastAuthError,
    VastConnectionError,
)

__all__ = [
    "CreateFailedError",
    "CreateOutcomeUnknownError",
    "CreateSteps",
    "OutcomeUnknown",
    "is_outcome_unknown",
    "reconciling_create",
]

_log = logging.getLogger("vast_pulumi")

# Creates sent for one resource, each after a look that found nothing, before giving up.
CREATE_ATTEMPTS = 5


@dataclass(frozen=True)
class CreateSteps:
    """What the reconciling create needs to know about one resource's object.

    ``find`` lists the *live* objects that carry this resource's marker, within its parent (the
    endpoint of a workergroup); ``create`` makes one and returns its id; ``delete`` removes a
    duplicate; ``converge`` brings the kept object (``row`` is ``None`` when the list does not show
    it yet) to the inputs and returns its row. ``findable`` is false when the object carries no
    marker: then an unknown outcome cannot be resolved and is reported instead.
    """

    noun: str
    find: Callable[[], list[Row]]
    create: Callable[[], int]
    delete: Callable[[int], object]
    converge: Callable[[int, Row | None, bool], Row]
    findable: bool = True


def is_outcome_unknown(error: BaseException) -> bool:
    """Whether a failed create may have been applied."""
    if isinstance(error, OutcomeUnknown):
        return True
    if isinstance(error, VastConnectionError):
        return error.outcome_unknown
    return isinstance(error, VastApiError) and error.status is not None and error.status >= 500


def reconciling_create(steps: CreateSteps) -> Row:
    """The object for this resource, adopted or made, with no duplicate left; see the module doc."""
    found = steps.find() if steps.findable else []
    if found:
        return _keep_oldest(steps, found, just_made=None)
    for _ in range(CREATE_ATTEMPTS):
        try:
            made = steps.create()
        except (VastApiError, OutcomeUnknown) as error:
            if not is_outcome_unknown(error):
                _clear_leftovers(steps, error)
                raise
            if not steps.findable:
                raise CreateOutcomeUnknownError(
                    f"the outcome of a {steps.noun} create is unknown ({error}) and it carries no marker "
                    "to find it by; check the account before running again"
                ) from error
            found = steps.find()
            if found:
                return _keep_oldest(steps, found, just_made=None)
            _log.warning(
                "vast: %s; no %s carries this resource's marker, so it was not applied: creating again",
                error,
                steps.noun,
            )
            continue
        return _keep_oldest(steps, steps.find() if steps.findable else [], just_made=made)
    raise CreateOutcomeUnknownError(
        f"{CREATE_ATTEMPTS} {steps.noun} creates in a row ended with an unknown outcome and no "
        f"{steps.noun} carries this resource's marker yet; run `pulumi up` again: it looks for the "
        "marker first and adopts what it finds"
    )


def _keep_oldest(steps: CreateSteps, found: list[Row], just_made: int | None) -> Row:
    """Keep the oldest of the marked objects (and the one just made), delete the others, converge."""
    rows = {int(row["id"]): row for row in found}
    ids = sorted(set(rows) | ({just_made} if just_made is not None else set()))
    kept, duplicates = ids[0], ids[1:]
    if kept != just_made:
        _log.info(
            "vast: adopting %s %s, which carries this resource's marker (made by an earlier attempt)",
            steps.noun,
            kept,
        )
    for duplicate in duplicates:
        _log.warning("vast: deleting %s %s, a duplicate of %s for this resource", steps.noun, duplicate, kept)
        steps.delete(duplicate)
    return steps.converge(kept, rows.get(kept), kept == just_made)


def _clear_leftovers(steps: CreateSteps, error: VastApiError | OutcomeUnknown) -> None:
    """Delete what a refused create left (see the module doc); raise the refusal, saying so, if it left
    anything. Returns when it left nothing."""
    if isinstance(error, VastAuthError):
        return  # the key cannot list or delete either; and an auth failure made nothing
    made = getattr(error, "made_id", None)
    try:
        found = {int(row["id"]) for row in steps.find()} if steps.findable else set()
    except Exception as lookup_error:
        if made is None:
            return  # nothing named; the lookup's failure must not hide the refusal
        _log.warning("vast: listing %ss after a refused create failed: %s", steps.noun, lookup_error)
        found = set()
    leftovers = sorted(found | ({made} if made is not None else set()))
    if not leftovers:
        return
    kept: list[str] = []
    for leftover in leftovers:
        _log.warning("vast: deleting %s %s, left by a refused create (%s)", steps.noun, leftover, error)
        try:
            steps.delete(leftover)
        except Exception as delete_error:
            kept.append(f"{steps.noun} {leftover} ({delete_error})")
    names = ", ".join(f"{steps.noun} {leftover}" for leftover in leftovers)
    if kept:
        raise CreateFailedError(
            f"{error}. The refused create still made {names}; deleting it failed for {'; '.join(kept)}: "
            "it may still be billing, delete it yourself"
        ) from error
    raise CreateFailedError(
        f"{error}. The refused create still made {names}; it was deleted, so nothing is left billing"
    ) from error
