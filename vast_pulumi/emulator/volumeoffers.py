"""The volume market (``POST /volumes/search/``): disk space for rent on machines of the GPU market.

Seeded from ``--seed`` after the GPU catalogue: every fifth GPU machine also lists its spare disk, so a
volume offer's ``machine_id`` is one the offer search knows. Fields as OpenAPI ``VolumeOffer`` and the
``vastai`` client's ``vol_offers_fields`` name them; ``storage_cost`` is $/GB/month and
``storage_total_cost`` the hourly price of ``allocated_storage`` GB (default 1, as the client sends).

An offer is not used up by one rent: "Each offer ID can be used to create multiple volumes, provided the
size of all volumes does not exceed the size of the offer" (``vastai create volume --help``). Renting
takes the size off the offer's ``disk_space``; deleting the volume gives it back.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from vast_pulumi.emulator.catalogue import HOURS_PER_MONTH
from vast_pulumi.emulator.catalogue import _number as number
from vast_pulumi.emulator.catalogue import _ordered as ordered
from vast_pulumi.emulator.errors import ApiError, invalid_args
from vast_pulumi.emulator.matching import FilterError, matches
from vast_pulumi.emulator.models import JsonDict, State

EVERY_NTH_MACHINE = 5
DISK_SIZES = (250.0, 500.0, 1000.0, 2000.0, 4000.0)
DISK_NAMES = ("Samsung SSD 990 PRO 4TB", "WD_BLACK SN850X 2000GB", "FIKWOT FN955 4TB", "Micron 7450 3.84TB")
# Machine columns a volume offer shares with the GPU offer of its machine.
MACHINE_FIELDS = (
    "machine_id",
    "host_id",
    "cpu_arch",
    "cpu_name",
    "cpu_ghz",
    "mobo_name",
    "cuda_max_good",
    "driver_version",
    "driver_vers",
    "gpu_arch",
    "has_avx",
    "pci_gen",
    "pcie_bw",
    "total_flops",
    "disk_bw",
    "inet_up",
    "inet_down",
    "public_ipaddr",
    "reliability",
    "reliability2",
    "reliability_mult",
    "verified",
    "verification",
    "external",
    "datacenter",
    "static_ip",
    "vms_enabled",
    "geolocation",
    "os_version",
    "ubuntu_version",
    "start_date",
    "end_date",
    "duration",
)
# vastai/api/query.py::vol_offers_fields, plus the columns the API filters besides them.
FILTERABLE = frozenset(
    {
        "cpu_arch",
        "cuda_vers",
        "cluster_id",
        "nw_disk_min_bw",
        "nw_disk_avg_bw",
        "nw_disk_max_bw",
        "datacenter",
        "disk_bw",
        "disk_space",
        "driver_version",
        "duration",
        "geolocation",
        "gpu_arch",
        "has_avx",
        "host_id",
        "id",
        "inet_down",
        "inet_up",
        "machine_id",
        "pci_gen",
        "pcie_bw",
        "reliability",
        "storage_cost",
        "static_ip",
        "total_flops",
        "ubuntu_version",
        "verified",
        "external",
        "reliability2",
        "verification",
        "storage_total_cost",
        "score",
    }
)


def seed_volume_market(state: State) -> None:
    """Fill ``state.volume_offers`` from the seeded GPU market (same seed, same volume market)."""
    rng = random.Random(state.seed * 7919 + 17)
    machines = sorted(state.offers.values(), key=lambda o: o["id"])[::EVERY_NTH_MACHINE]
    for machine in machines:
        offer_id = state.next_id("volume_offer")
        offer: JsonDict = {key: machine.get(key) for key in MACHINE_FIELDS}
        offer.update(
            id=offer_id,
            ask_contract_id=offer_id,
            bundle_id=offer_id + 500_000_000,
            disk_space=rng.choice(DISK_SIZES),
            disk_name=DISK_NAMES[rng.randrange(len(DISK_NAMES))],
            storage_cost=round(rng.uniform(0.05, 0.35), 3),
            cluster_id=None,
            geolocode=None,
            vericode=None,
        )
        state.volume_offers[offer_id] = offer


def render(offer: Mapping[str, Any], storage: float) -> JsonDict:
    """An offer as the search shows it: priced for ``storage`` GB."""
    hourly = offer["storage_cost"] * storage / HOURS_PER_MONTH
    row = dict(offer)
    row.update(
        storage_total_cost=round(hourly, 9),
        score=round(offer["reliability"] * offer["disk_bw"] / max(offer["storage_cost"], 0.001), 3),
    )
    return row


def search(state: State, query: Mapping[str, Any]) -> list[JsonDict]:
    """Filter, order and limit the volume market. Filters come at the top level, or under ``q``."""
    nested = query.get("q")
    filters_source = {**query, **nested} if isinstance(nested, Mapping) else dict(query)
    storage = number(query.get("allocated_storage", 1.0), "allocated_storage")
    filters = {k: v for k, v in filters_source.items() if isinstance(v, Mapping)}
    for name in filters:
        if name not in FILTERABLE:
            raise ApiError(400, "invalid_request", f"Unknown search field: {name}")
    rows = [render(o, storage) for o in state.volume_offers.values()]
    try:
        rows = [row for row in rows if matches(row, filters)]
    except FilterError as error:
        raise ApiError(400, "invalid_request", str(error)) from None
    rows = ordered(rows, query.get("order", [["score", "desc"]]))
    limit = query.get("limit", 64)  # the spec's default
    return rows[: int(number(limit, "limit"))]


def take(state: State, offer_id: int, size: int) -> JsonDict:
    """Reserve ``size`` GB of the offer; the offer as it was before."""
    offer = state.volume_offers.get(offer_id)
    if offer is None:
        raise ApiError(404, "no_such_ask", f"Volume offer {offer_id} is not available.")
    if size > offer["disk_space"]:
        left = f"{offer['disk_space']:.0f} GB"
        raise invalid_args("size", f"{size} GB is more than the {left} offer {offer_id} has left")
    before = dict(offer)
    offer["disk_space"] = float(offer["disk_space"] - size)
    return before


def give_back(state: State, offer_id: int, size: int) -> None:
    offer = state.volume_offers.get(offer_id)
    if offer is not None:
        offer["disk_space"] = float(offer["disk_space"] + size)
