"""The package's exceptions: one tree, rooted at :class:`VastError`.

Every error vast-pulumi raises on purpose is a :class:`VastError`, and its ``str()`` is a single line fit
for the Pulumi CLI (which prints these without a traceback): what failed, what was (not) changed, and
what to do. Errors that input checks raise also derive from ``ValueError``, and those of a run from
``RuntimeError``, as they did before the tree existed, so ``except ValueError`` keeps working::

    VastError
    ├── VastConfigError (ValueError)          settings unusable: no API key, an insecure URL
    ├── VastInputError (ValueError)           an argument breaks a rule: a query, an order, a key line
    │   ├── QueryError                        an offer query the CLI grammar cannot parse
    │   └── LaunchArgsError                   launch_args the server would not read as meant
    ├── AdoptError (ValueError)               adopt_id names nothing that can be taken under management
    ├── VastNotFoundError (ValueError)        an input names an object the account does not have
    ├── VastConflictError (ValueError)        a create would take over an object the stack did not make
    ├── VastAccountError (RuntimeError)       the key is of another account than the managed object's
    ├── VastApiError                          an API call failed
    │   ├── VastAuthError                     the API rejected the key
    │   └── VastConnectionError               no usable answer (outcome_unknown: may have been applied)
    ├── OutcomeUnknown                        a create step cannot tell whether its object was made
    ├── CreateOutcomeUnknownError (RuntimeError)  a create's outcome stayed unknown
    ├── CreateFailedError (RuntimeError)      a refused create left objects behind (deleted)
    ├── OfferUnavailableError (RuntimeError)  no offer could be rented
    ├── InstanceNotReadyError (RuntimeError)  an instance did not reach its target state
    │   └── MachineNeverStartedError          its machine never started it (destroyed; next offer)
    ├── TemplateInUseError (RuntimeError)     a template still used by a workergroup cannot be deleted
    ├── VanishedError (RuntimeError)          an object just written is not where the API lists it
    ├── DeleteTimeoutError (RuntimeError)     a deleted object is still listed after the wait
    │   └── NotGoneError                      a delete's instances are not all gone (named)
    ├── FleetError (RuntimeError)             a fleet could not be brought to its inputs
    │   └── FleetBudgetError                  it would cost more than max_dph_total
    ├── StateError (RuntimeError)             `vast-pulumi orphans` could not read a stack's state
    ├── KeptError (RuntimeError)              an orphan left alone on purpose
    ├── PulumiNotFoundError (RuntimeError)    local_pulumi found no Pulumi CLI
    └── PulumiCommandError (RuntimeError)     a pulumi command local_pulumi ran failed

Every failed Vast.ai API call surfaces as a :class:`VastApiError` (or one of its two subclasses), whose
message gives method, path (never the query string, which is where keys used to leak), HTTP status, the
API's error code and its message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# What a rejected key or a foreign account adds: the fix just made may not be in use yet.
STALE_CONFIG_NOTE = (
    "A `pulumi refresh` or `pulumi destroy` uses the vast:apiKey and vast:apiUrl of the last "
    "`pulumi up`: after changing them, run `pulumi up` (or `pulumi refresh --run-program`) first"
)

# Error codes and messages the API uses for "there is no such thing". Not-found comes back as 404, as
# 410 for offers that are gone, and as 400 with a "... not found for user" message on the serverless
# routes (the 400/404 examples in Vast's OpenAPI spec for DELETE endptjobs and workergroups).
_NOT_FOUND_CODES = frozenset({"no_such_ask", "no_such_workergroup", "not_found", "no_such_instance"})
_NOT_FOUND_PHRASES = (
    "not found",
    "not available",
    "no longer available",
    "does not exist",
    "invalid autojob id",
)
# How the API says "this key is not valid" besides 401: 403, and a 404 on some routes (OpenAPI's
# POST /bundles/ "Invalid user key"; the official CLI's "Session expired" for a 2FA session key).
_AUTH_ERROR_CODE = "auth_error"
_AUTH_MESSAGE_PREFIXES = ("invalid user key", "session expired")


def is_auth_failure(status: int | None, error: str | None, msg: str) -> bool:
    """Whether an answer rejects the API key. Such an answer never means "not found"."""
    if status in (401, 403):
        return True
    lowered = msg.strip().lower()
    return status == 404 and (error == _AUTH_ERROR_CODE or lowered.startswith(_AUTH_MESSAGE_PREFIXES))


class VastError(Exception):
    """The root of every error vast-pulumi raises on purpose; its message says everything needed (the
    providers' errors in one line)."""


class VastConfigError(VastError, ValueError):
    """The provider settings are unusable: raised when the client is first needed (no API key, an
    ``http://`` URL to a remote host, a malformed URL) and by the ``orphans`` command for unusable
    arguments (an empty key file, no stacks named, no ``pulumi`` CLI)."""


class VastInputError(VastError, ValueError):
    """An argument breaks a rule: an offer query the CLI grammar cannot parse, an ``order`` that names no
    field, a ``launch_args`` string the server would misread, a line that is no OpenSSH public key, an
    id that is not a number. Raised by lookups and helpers; inside an inputs model, pydantic turns it
    into a check failure at ``pulumi preview``, naming the field."""


class AdoptError(VastError, ValueError):
    """``adopt_id`` names nothing the resource can take under management: no such object on this
    account, or one that cannot become this resource (a workergroup of another endpoint). Raised by
    create; nothing was changed."""


class VastNotFoundError(VastError, ValueError):
    """An input names an object this account does not have (an ``Instance``'s ``ssh_key_ids`` entry).
    Raised at create or update, before the object is changed."""


class VastApiError(VastError):
    """A Vast.ai API call failed: raised by any call the API answers with an error status or a
    ``{"success": false}`` body, or with a reply that lacks what the call needs.

    ``status`` is the HTTP status (``200`` for a ``{"success": false}`` body, ``None`` when no response
    arrived), ``error`` the API's error code (``no_such_ask``), ``msg`` its human-readable message.
    ``made_id`` is an object the failed call made all the same: a rent with a bid below the offer's
    minimum still creates the (stopped) instance and names it as ``new_contract`` in the error.
    """

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status: int | None,
        error: str | None = None,
        msg: str = "",
        made_id: int | None = None,
    ) -> None:
        self.method = method
        self.path = path.split("?", 1)[0]
        self.status = status
        self.error = error
        self.msg = msg
        self.made_id = made_id
        super().__init__(self._describe())

    def _describe(self) -> str:
        detail = " ".join(part for part in (str(self.status or ""), self.error or "") if part)
        message = f"{detail}: {self.msg}" if detail and self.msg else detail or self.msg
        return f"Vast API {self.method} {self.path} failed: {message}"

    @property
    def is_not_found(self) -> bool:
        """Whether the API says the addressed object does not exist (any of its several spellings).

        Never for a rejected key: with a revoked key, every object would look gone.
        """
        if is_auth_failure(self.status, self.error, self.msg):
            return False
        if self.status == 404 or self.error in _NOT_FOUND_CODES:
            return True
        lowered = self.msg.lower()
        return self.status in (400, 410) and any(phrase in lowered for phrase in _NOT_FOUND_PHRASES)


class VastAuthError(VastApiError):
    """The API rejected the API key (401, 403, or a 404 that says so; see :func:`is_auth_failure`).
    Raised by any call; never taken for "not found", so a revoked key never makes state forget a
    resource."""

    def __init__(self, *, key_source: str = "", **details: Any) -> None:
        self.key_source = key_source  # where the key came from ("the stack config vast:apiKey")
        super().__init__(**details)

    def _describe(self) -> str:
        reason = " ".join(part for part in (str(self.status or ""), self.msg or "Invalid user key") if part)
        source = f" from {self.key_source}" if self.key_source else ""
        return (
            f"Vast API rejected the API key{source} ({reason}); set vast:apiKey or VAST_API_KEY. "
            f"{STALE_CONFIG_NOTE}"
        )

    @property
    def is_not_found(self) -> bool:
        return False


class VastConflictError(VastError, ValueError):
    """Creating would take over an object the stack did not make: an endpoint name already in use, an
    env var the account already has, a template of identical content. Raised by create; nothing was
    changed, and the message names the ``adopt_id`` or the other name to use."""


class VastAccountError(VastError, RuntimeError):
    """The configured key belongs to another account than the one that owns a managed object. Raised by
    read, update and delete before any call that could change it; the stack keeps the object."""


class VastConnectionError(VastApiError):
    """No usable response arrived: the connection failed, dropped or timed out, or a create was
    answered with a 5xx (``status`` set), which the server may send after applying it.

    ``outcome_unknown`` is true when the request may have reached the server and been applied (the
    connection dropped after sending, or the read timed out). Callers making non-idempotent writes must
    then look for the object they tried to create instead of blindly repeating the write.
    """

    def __init__(
        self,
        *,
        method: str,
        path: str,
        reason: str,
        outcome_unknown: bool,
        status: int | None = None,
        url: str = "",
        url_source: str = "",
        unreachable: bool = False,
        fix: str = "",
    ) -> None:
        self.reason = reason
        self.outcome_unknown = outcome_unknown
        self.url = url  # the API URL called, and where it came from ("the stack config vast:apiUrl")
        self.url_source = url_source
        # Nothing answers at that URL (refused, or no such host) and nothing ever did: not retried.
        self.unreachable = unreachable
        self.fix = fix
        super().__init__(method=method, path=path, status=status, msg=reason)

    def _describe(self) -> str:
        fate = "the request may have been applied" if self.outcome_unknown else "the request was not sent"
        source = f"; URL from {self.url_source}" if self.url_source else ""
        where = f" from {self.url}" if self.url else ""
        if self.status is not None:
            answer = f"answered {self.reason}"
        else:
            answer = f"no response{where} ({self.reason}{source})"
        fix = f": {self.fix}" if self.fix and self.unreachable else ""
        return f"Vast API {self.method} {self.path} failed: {answer}; {fate}{fix}"


class CreateOutcomeUnknownError(VastError, RuntimeError):
    """Creates kept ending with an unknown outcome (a dropped connection, a 5xx), and nothing carrying
    the resource's marker could be found; or the object carries no marker to look for. Raised by the
    reconciling create (:mod:`vast_pulumi._reconcile`); the next ``pulumi up`` looks for the marker
    first."""


class CreateFailedError(VastError, RuntimeError):
    """The API refused a create that still left objects behind (a bid below the minimum leaves a
    stopped instance); they were deleted, or the message names those that could not be."""


class OfferUnavailableError(VastError, RuntimeError):
    """No offer could be rented: none matches the query right now, or every one tried was taken or
    refused meanwhile. Raised by an ``Instance`` or ``Volume`` create; nothing was rented."""


class InstanceNotReadyError(VastError, RuntimeError):
    """The instance did not reach its target state (it failed, went offline, disappeared, or the
    ``ready_timeout`` passed), or its SSH keys could not be put on it. Raised by create and update; an
    instance the create rented is destroyed first, and the message says so."""


class MachineNeverStartedError(InstanceNotReadyError):
    """The machine never started a rented instance (a double rent stays ``created`` with an OCI error),
    which was destroyed: the create rents the next offer (:mod:`vast_pulumi._instances`)."""


class TemplateInUseError(VastError, RuntimeError):
    """A template cannot be deleted while a workergroup recruits with it. Raised by delete, naming the
    workergroups; nothing was deleted."""


class VanishedError(VastError, RuntimeError):
    """An object the provider has just written, or is updating, is not where the API lists it (deleted
    elsewhere meanwhile, or a list that lags). Raised by create and update."""


class DeleteTimeoutError(VastError, RuntimeError):
    """A deleted object was still listed when the delete's wait ended. Raised by delete; run
    ``pulumi destroy`` (or ``up``) again once the API has caught up."""


class NotGoneError(DeleteTimeoutError):
    """A delete destroyed instances that are not all gone (the wait ended, or a DELETE was refused):
    they may still be billing, and the stack keeps the resource."""


class QueryError(VastInputError):
    """A query the CLI grammar cannot parse, or a filter that names no offer field."""


class LaunchArgsError(VastInputError):
    """``launch_args`` that the server's argument parser would not read as meant."""


class OutcomeUnknown(VastError):
    """Raised by a create step that cannot tell whether its object was made (beyond the API's own
    unknown outcomes: a dropped connection, a 5xx)."""


class StateError(VastError, RuntimeError):
    """A stack's state could not be read (``vast-pulumi orphans``): never taken for an empty state."""


class KeptError(VastError, RuntimeError):
    """An orphan ``vast-pulumi orphans --destroy`` left alone on purpose (an endpoint that still serves
    a workergroup no orphan), or could not fully destroy."""


class PulumiNotFoundError(VastError, RuntimeError):
    """No usable Pulumi CLI next to this Python or on PATH (:mod:`vast_pulumi.local_pulumi`)."""


class PulumiCommandError(VastError, RuntimeError):
    """A pulumi command run by :mod:`vast_pulumi.local_pulumi` exited non-zero; carries everything it
    printed (stdout and stderr)."""

    def __init__(self, args: Sequence[str], returncode: int, output: str) -> None:
        self.args_ = list(args)
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.splitlines()[-40:])
        super().__init__(f"`pulumi {' '.join(args)}` exited with {returncode}:\n{tail}")


class FleetError(VastError, RuntimeError):
    """A fleet could not be brought to its inputs (the message says what was cleaned up). Raised by a
    ``Fleet`` create or update; a delete's members still listed raise :class:`NotGoneError`."""


class FleetBudgetError(FleetError):
    """The fleet would cost more per hour than ``max_dph_total``; checked before renting (nothing was
    rented) and after (what this run rented was destroyed)."""
