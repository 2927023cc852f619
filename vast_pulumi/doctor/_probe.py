"""The doctor's calls: reads only, through the provider's own client, every answer kept on a tape.

Only these, each once (the instance list pages as the provider pages it):

* ``GET /api/v0/users/current/`` (first: a key or URL that does not work stops here);
* ``GET /api/v1/instances/``, ``GET /api/v0/endptjobs/``, ``GET /api/v0/workergroups/`` (worker rows
  are instance rows), ``GET /api/v0/ssh/``, ``GET /api/v0/secrets/`` (the report uses the answer's
  shape only; its values are redacted from a recording), ``GET /api/v0/template/`` (the account's
  own), ``GET /api/v0/volumes/``;
* one offer search, ``POST /api/v0/bundles/`` with ``limit`` 3: the documented form of a search, which
  changes nothing;
* ``GET /api/v0/instances/{id}/`` of one instance the list shows on its way out, if any: which reading
  of a destroying instance's single read this account gives.

Pacing and retries are the client's (the published per-route intervals, learnt as the provider learns
them); nothing here writes, rents or deletes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vast_pulumi._instance_rows import is_live
from vast_pulumi._transport import session_send
from vast_pulumi.client import RetryPolicy, VastClient
from vast_pulumi.doctor._exchanges import Exchange, Tape
from vast_pulumi.errors import VastApiError, VastAuthError, VastConnectionError
from vast_pulumi.settings import ProviderSettings

__all__ = ["OFFER_SEARCH", "probe"]

# The smallest useful search: three offers, the cheapest first (the official client's body form).
OFFER_SEARCH: dict[str, Any] = {"limit": 3, "rentable": {"eq": True}, "order": [["dph_total", "asc"]]}


# The provider's backoff, over a shorter span: a doctor run should end within a minute, and a URL that
# does not answer should say so in seconds, not after the provider's five minutes of retrying.
RETRY = RetryPolicy(max_attempts=6, base_delay=0.25, max_delay=4.0, max_total=20.0)


def client_for(settings: ProviderSettings, tape: Tape) -> VastClient:
    import requests

    return VastClient(settings, retry=RETRY, send=tape.wrap(session_send(requests.Session())))


def probe(settings: ProviderSettings) -> list[Exchange]:
    """Every exchange of one doctor run against the account ``settings`` name."""
    tape = Tape()
    client = client_for(settings, tape)
    user = _read(tape, "GET", "/api/v0/users/current/", client.current_user)
    if not isinstance(user, dict):
        return tape.exchanges()  # the key or the URL does not work: nothing else would either
    account = user.get("id")
    instances = _read(tape, "GET", "/api/v1/instances/", client.list_instances) or []
    _read(tape, "GET", "/api/v0/endptjobs/", client.list_endpoints)
    _read(tape, "GET", "/api/v0/workergroups/", client.list_workergroups)
    _read(tape, "GET", "/api/v0/ssh/", client.list_ssh_keys)
    _read(tape, "GET", "/api/v0/secrets/", client.list_env_vars)
    _read(tape, "GET", "/api/v0/template/", lambda: client.search_templates({"creator_id": {"eq": account}}))
    _read(tape, "GET", "/api/v0/volumes/", client.list_volumes)
    _read(tape, "POST", "/api/v0/bundles/", lambda: client.search_offers(OFFER_SEARCH))
    going = next((row for row in instances if isinstance(row, dict) and not is_live(row)), None)
    if going is not None and isinstance(going.get("id"), int):
        _read(tape, "GET", "/api/v0/instances/{id}/", lambda: client.get_instance(int(going["id"])))
    return tape.exchanges()


def _read(tape: Tape, method: str, route: str, call: Callable[[], Any]) -> Any:
    """The call's result; ``None`` when it failed (its answer is on the tape; a connection that
    failed is put there as an exchange without a status)."""
    try:
        return call()
    except VastConnectionError as error:
        tape.add(Exchange(method, route, route, None, {}, error.reason))
    except (VastAuthError, VastApiError):
        pass  # the answer is on the tape
    return None
