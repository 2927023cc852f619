"""Before a running machine is replaced: can the new one be rented now?

An ``Instance`` replacement destroys the old instance first (unless ``create_before_delete``), so a
replacement whose create then fails (a typo in ``offer_query``, or a market with no matching offer
at that moment) loses a running machine and its disk for nothing. A ``Fleet`` rollout of new machine
fields fails the same way, after its planning. So when a diff plans either, it makes ONE offer search
for the new inputs: none rentable fails the diff, at preview and again at ``up`` before anything is
deleted, naming the query and why; one found is shown on the resource's row (id, GPU, $/h), as the
offer the replacement would rent if nobody takes it first. A diff without a replacement calls
nothing: a no-change preview stays free of API calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vast_pulumi import _row_log
from vast_pulumi._dynamic import is_unknown
from vast_pulumi.client import VastClient
from vast_pulumi.errors import OfferUnavailableError, VastConfigError
from vast_pulumi.offers import DEFAULT_DISK_GB, DEFAULT_LIMIT, DEFAULT_ORDER, Offer, rentable_offers

__all__ = ["check_rentable"]

# The inputs a search needs: any of them unknown at preview (an output of another resource) and the
# search cannot be made; the up's own diff, where they are known, makes it.
_SEARCH_INPUTS = ("offer_id", "offer_query", "order", "disk", "price")


def check_rentable(connect: Callable[[], VastClient], news: Mapping[str, Any], *, what: str) -> Offer | None:
    """The offer the new inputs ``news`` would rent now, shown on the resource's row; raises
    :class:`~vast_pulumi.errors.OfferUnavailableError` when there is none. ``what`` is the machine at
    stake ("instance 20000012"). None when the search cannot be made yet: unknown inputs, or no API
    key (a preview run without credentials; the ``up``, which has them, checks)."""
    if any(is_unknown(news.get(key)) for key in _SEARCH_INPUTS) or news.get("adopt_id") is not None:
        return None
    try:
        client = connect()
    except VastConfigError as error:
        _row_log.warn(f"could not check that the replacement of {what} can be rented: {error}")
        return None
    offer_id, query = news.get("offer_id"), news.get("offer_query")
    if offer_id is None and not isinstance(query, str):
        return None
    search = f"id={int(offer_id)}" if offer_id is not None else str(query)
    try:
        offers = rentable_offers(
            client,
            search,
            order=str(news.get("order") or DEFAULT_ORDER),
            limit=DEFAULT_LIMIT,
            disk=float(news.get("disk") or DEFAULT_DISK_GB),
            price=float(news["price"]) if news.get("price") is not None else None,
        )
    except OfferUnavailableError as error:
        raise OfferUnavailableError(
            f"{error} (so the replacement could not be rented: nothing was changed, {what} keeps running)"
        ) from None
    best = offers[0]
    _row_log.warn(f"the replacement of {what} would rent {_describe(best)} (the best offer right now)")
    return best


def _describe(offer: Offer) -> str:
    gpus = f"{offer.num_gpus or 1}x {offer.gpu_name}" if offer.gpu_name else "a machine"
    price = f", ${offer.dph_total:.4f}/h" if offer.dph_total is not None else ""
    return f"offer {offer.id} ({gpus}{price})"
