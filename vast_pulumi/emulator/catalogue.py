"""The offer catalogue: a realistic market seeded from ``--seed``, searched like ``/bundles/``.

Every offer sits on its own machine. Renting an offer removes it (a second rent gets ``no_such_ask``,
see :func:`no_such_ask`; it is kept in ``state.rented_offers`` for double rents) and lists a
like-for-like machine under a new offer id, so the market never runs dry: tests that rent dozens of
RTX 4090s keep finding them. Units are the API's: gpu_ram/cpu_ram MB, disk_space GB.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vast_pulumi.emulator.errors import ApiError, invalid_args
from vast_pulumi.emulator.matching import ALIASES, OPERATORS, FilterError, field_name, matches
from vast_pulumi.emulator.models import JsonDict, State


@dataclass(frozen=True)
class GpuModel:
    name: str
    ram_mb: int
    compute_cap: int
    price: tuple[float, float]  # $/h per GPU, low and high
    tflops: float  # per GPU
    dlperf: float  # per GPU
    mem_bw: float  # GB/s
    max_power: int  # W
    counts: Mapping[int, int]  # num_gpus -> how many offers


GPU_MODELS = (
    GpuModel("RTX 4090", 24564, 890, (0.28, 0.62), 82.6, 60.0, 1008.0, 450, {1: 48, 2: 8, 4: 6, 8: 4}),
    GpuModel("RTX 3090", 24576, 860, (0.13, 0.30), 35.6, 28.0, 936.0, 350, {1: 16, 2: 4, 4: 3, 8: 2}),
    GpuModel("RTX 5090", 32607, 1200, (0.55, 0.95), 104.8, 88.0, 1792.0, 575, {1: 6, 2: 2, 4: 2}),
    GpuModel("RTX A6000", 49140, 860, (0.38, 0.62), 38.7, 32.0, 768.0, 300, {1: 6, 2: 3, 4: 2, 8: 1}),
    GpuModel("L40S", 46068, 890, (0.65, 1.00), 91.6, 70.0, 864.0, 350, {1: 6, 2: 2, 4: 2, 8: 2}),
    GpuModel("A100 PCIE", 40960, 800, (0.75, 1.10), 77.9, 55.0, 1555.0, 250, {1: 4, 2: 2, 4: 2}),
    GpuModel("A100 SXM4", 81920, 800, (1.00, 1.50), 77.9, 62.0, 2039.0, 400, {1: 4, 2: 2, 4: 2, 8: 4}),
    GpuModel("H100 SXM", 81559, 900, (1.85, 2.60), 267.6, 120.0, 3352.0, 700, {1: 4, 2: 2, 4: 2, 8: 4}),
    GpuModel("H100 PCIE", 81559, 900, (1.60, 2.20), 204.9, 100.0, 2039.0, 350, {1: 3, 2: 1}),
)

LOCATIONS = (
    "California, US",
    "Texas, US",
    "Virginia, US",
    "Quebec, CA",
    "Sweden, SE",
    "Norway, NO",
    "Finland, FI",
    "Germany, DE",
    "Netherlands, NL",
    "Poland, PL",
    "Czechia, CZ",
    "Spain, ES",
    "Japan, JP",
    "Taiwan, TW",
    "Australia, AU",
)

CPUS = ("AMD EPYC 7543 32-Core Processor", "AMD Ryzen 9 7950X 16-Core Processor", "Xeon® Gold 6342")
MOBOS = ("ROMED8-2T", "ProArt X670E-CREATOR", "X12DPG-QT6", "H12SSL-i")
DRIVERS = (("550.54.14", 12.4), ("535.183.01", 12.2), ("560.35.03", 12.6), ("570.86.10", 12.8))

HOURS_PER_MONTH = 730.0
SEARCH_TYPES = frozenset({"on-demand", "ondemand", "bid", "interruptible", "reserved"})
# The offer columns a filter may name: the fields the CLI documents for `search offers`
# (vastai/api/query.py, offers_fields), the other columns of an offer row, and the CLI's aliases.
# Any other name is refused: a typo must not silently match every offer.
OFFER_FIELDS = frozenset(
    {
        "bw_nvlink",
        "cluster_id",
        "compute_cap",
        "cpu_arch",
        "cpu_cores",
        "cpu_cores_effective",
        "cpu_ghz",
        "cpu_ram",
        "cuda_max_good",
        "datacenter",
        "direct_port_count",
        "disk_bw",
        "disk_space",
        "dlperf",
        "dlperf_per_dphtotal",
        "dph_total",
        "driver_version",
        "duration",
        "external",
        "flops_per_dphtotal",
        "geolocation",
        "gpu_arch",
        "gpu_display_active",
        "gpu_frac",
        "gpu_max_power",
        "gpu_max_temp",
        "gpu_mem_bw",
        "gpu_name",
        "gpu_ram",
        "gpu_total_ram",
        "has_avx",
        "host_id",
        "id",
        "inet_down",
        "inet_down_cost",
        "inet_up",
        "inet_up_cost",
        "machine_id",
        "min_bid",
        "mobo_name",
        "num_gpus",
        "pci_gen",
        "pcie_bw",
        "reliability",
        "rentable",
        "rented",
        "static_ip",
        "storage_cost",
        "total_flops",
        "ubuntu_version",
        "verification",
        "verified",
        "vms_enabled",
    }
)
_FILTERABLE = (
    OFFER_FIELDS
    | {"reliability2", "score", "dph_base", "bundle_id", "ask_contract_id", "is_bid"}
    | frozenset(ALIASES)
)


def seed_catalogue(state: State) -> None:
    """Fill ``state.offers`` with the market for ``state.seed`` (same seed, same market)."""
    rng = random.Random(state.seed)
    index = 0
    for model in GPU_MODELS:
        for num_gpus, count in model.counts.items():
            for _ in range(count):
                offer = _new_offer(state, rng, model, num_gpus, index)
                state.offers[offer["id"]] = offer
                index += 1


def _new_offer(state: State, rng: random.Random, model: GpuModel, num_gpus: int, index: int) -> JsonDict:
    offer_id = state.next_id("offer")
    per_gpu = round(rng.uniform(*model.price), 3)
    driver, cuda = DRIVERS[rng.randrange(len(DRIVERS))]
    cores = 8 * num_gpus * rng.choice((1, 2))
    offer: JsonDict = {
        "id": offer_id,
        "ask_contract_id": offer_id,
        "bundle_id": offer_id + 500_000_000,
        "num_gpus": num_gpus,
        "gpu_name": model.name,
        "gpu_ram": model.ram_mb,
        "gpu_total_ram": model.ram_mb * num_gpus,
        "gpu_frac": round(num_gpus / max(num_gpus, rng.choice((1, 2, 4, 8))), 3),
        "gpu_arch": "nvidia",
        "gpu_display_active": False,
        "gpu_lanes": 16,
        "gpu_mem_bw": model.mem_bw,
        "gpu_max_power": model.max_power,
        "gpu_max_temp": 83,
        "bw_nvlink": 0.0 if model.name.startswith("RTX") else 600.0,
        "compute_cap": model.compute_cap,
        "cuda_max_good": cuda,
        "driver_version": driver,
        "driver_vers": _driver_number(driver),
        "total_flops": round(model.tflops * num_gpus, 2),
        "dlperf": round(model.dlperf * num_gpus * rng.uniform(0.92, 1.05), 3),
        "cpu_arch": "amd64",
        "cpu_name": CPUS[rng.randrange(len(CPUS))],
        "cpu_cores": cores,
        "cpu_cores_effective": float(cores),
        "cpu_ghz": round(rng.uniform(2.4, 4.5), 2),
        "cpu_ram": 32768 * num_gpus * rng.choice((1, 2)),
        "has_avx": 1,
        "mobo_name": MOBOS[rng.randrange(len(MOBOS))],
        "pci_gen": 4.0 if model.compute_cap < 1200 else 5.0,
        "pcie_bw": round(rng.uniform(11.0, 26.0), 1),
        "disk_space": float(rng.choice((200, 500, 1000, 2000))),
        "disk_bw": round(rng.uniform(800.0, 6500.0), 1),
        "disk_name": "NVMe SSD",
        "inet_up": round(rng.uniform(100.0, 2000.0), 1),
        "inet_down": round(rng.uniform(200.0, 3000.0), 1),
        "inet_up_cost": round(rng.uniform(0.0, 0.02), 4),
        "inet_down_cost": round(rng.uniform(0.0, 0.02), 4),
        "direct_port_count": rng.choice((20, 50, 100, 400)),
        "dph_base": round(per_gpu * num_gpus, 4),
        "min_bid": round(per_gpu * num_gpus * rng.uniform(0.35, 0.6), 4),
        "storage_cost": round(rng.uniform(0.08, 0.3), 3),
        "reliability": 0.0,
        "verification": "verified",
        "verified": True,
        "rentable": True,
        "rented": False,
        "external": False,
        "datacenter": False,
        "hosting_type": 0,
        "static_ip": False,
        "vms_enabled": False,
        "cluster_id": None,
        "geolocation": LOCATIONS[rng.randrange(len(LOCATIONS))],
        "os_version": "22.04",
        "ubuntu_version": "22.04",
        "start_date": 1.7e9,
        "end_date": 2.1e9,
        "duration": 2.1e9 - 1.7e9,
    }
    _place(offer, state, rng, index)
    return offer


def _place(offer: JsonDict, state: State, rng: random.Random, index: int) -> None:
    """The machine-specific fields: a new machine (and host) with its own address and track record."""
    reliability = round(1.0 - rng.uniform(0.0005, 0.06), 4)
    machine_id = state.next_id("machine")
    offer.update(
        machine_id=machine_id,
        host_id=state.next_id("host"),
        public_ipaddr=f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randrange(1, 255)}",
        reliability=reliability,
        reliability2=reliability,
        reliability_mult=round(reliability**2, 4),
        # A tenth of the market is unverified and a few offers are external, so the CLI's default
        # filters visibly matter; the rest is the verified datacenter-and-home mix.
        verified=index % 10 != 9,
        verification="verified" if index % 10 != 9 else "unverified",
        external=index % 25 == 24,
        datacenter=index % 3 == 0,
        static_ip=index % 3 == 0,
    )


def no_such_ask(offer_id: int) -> ApiError:
    """A rent of an offer that is not (or no longer) on the market, as Vast's OpenAPI spec gives it
    (openapi.yaml:1842-1861): 404 with error ``invalid_args`` and the code in the message."""
    return ApiError(
        404,
        "invalid_args",
        f"error 404/3603: no_such_ask Instance type by id {offer_id} is not available.",
        ask_id=offer_id,
    )


def take_offer(state: State, offer_id: int, holder: int) -> JsonDict:
    """Remove the offer from the market (one rent per offer), remember which instance holds it, and
    list a like-for-like replacement."""
    offer = state.offers.pop(offer_id, None)
    if offer is None:
        raise no_such_ask(offer_id)
    state.rented_offers[offer_id] = {"offer": offer, "holder": holder}
    rng = random.Random(state.seed * 1_000_003 + offer_id)
    replacement = dict(offer)
    new_id = state.next_id("offer")
    jitter = rng.uniform(0.95, 1.05)
    replacement.update(
        id=new_id,
        ask_contract_id=new_id,
        bundle_id=new_id + 500_000_000,
        dph_base=round(offer["dph_base"] * jitter, 4),
        min_bid=round(offer["min_bid"] * jitter, 4),
    )
    reliability = offer["reliability"]
    _place(replacement, state, rng, 0)
    # Like-for-like: same standing in the market, so a query that matched before still matches.
    replacement.update(
        reliability=reliability,
        reliability2=reliability,
        verified=offer["verified"],
        verification=offer["verification"],
        external=offer["external"],
        datacenter=offer["datacenter"],
        static_ip=offer["static_ip"],
    )
    state.offers[new_id] = replacement
    return offer


# The columns render_offer adds or changes; every other column of a row is the stored offer's.
RENDERED_FIELDS = frozenset(
    {
        "dph_total",
        "is_bid",
        "dlperf_per_dphtotal",
        "flops_per_dphtotal",
        "score",
        "storage_total_cost",
        "search",
    }
)


def render_offer(offer: Mapping[str, Any], *, storage: float, bid: bool = False) -> JsonDict:
    """An offer as ``/bundles/`` shows it: prices for ``storage`` GB of disk, per the search type."""
    storage_hourly = offer["storage_cost"] * storage / HOURS_PER_MONTH
    base = offer["min_bid"] if bid else offer["dph_base"]
    dph_total = round(base + storage_hourly, 6)
    row = dict(offer)
    row.update(
        dph_total=dph_total,
        is_bid=bid,
        dlperf_per_dphtotal=round(offer["dlperf"] / dph_total, 3),
        flops_per_dphtotal=round(offer["total_flops"] / dph_total, 3),
        score=round(offer["dlperf"] / dph_total * offer["reliability"] ** 4, 3),
        storage_total_cost=round(storage_hourly, 6),
        search={
            "gpuCostPerHour": base,
            "diskHour": round(storage_hourly, 6),
            "totalHour": dph_total,
            "discountTotalHour": 0,
            "discountedTotalPerHour": dph_total,
        },
    )
    return row


def search(state: State, query: Mapping[str, Any]) -> list[JsonDict]:
    """``/bundles/``: filter, order and limit the market as the query dict says."""
    kind = _search_type(query.get("type", "on-demand"))
    storage = _number(query.get("allocated_storage", 8.0), "allocated_storage")
    filters = _filters(query)
    try:
        offers = _candidates(state, filters)
        rows = [render_offer(o, storage=storage, bid=kind == "bid") for o in offers]
        rows = [row for row in rows if matches(row, filters)]
    except FilterError as error:
        raise ApiError(400, "invalid_request", str(error)) from None
    rows = _ordered(rows, query.get("order", [["score", "desc"]]))
    limit = query.get("limit")
    if limit is not None:
        rows = rows[: int(_number(limit, "limit"))]
    return rows


def _candidates(state: State, filters: Mapping[str, Any]) -> list[JsonDict]:
    """The stored offers that can pass ``filters``: those passing its filters on columns
    :func:`render_offer` leaves as stored, so only those are rendered (a search renders a few offers,
    not the market). The rendered rows still pass through every filter: this only drops offers that
    would fail it anyway, as the outcome of a filter with known operators is all ``matches`` gives
    (with an unknown one, which fails the search, every offer goes on as before)."""
    known = all(op in OPERATORS for ops in filters.values() for op in ops)
    stored = {name: ops for name, ops in filters.items() if field_name(name) not in RENDERED_FIELDS}
    if not known or not stored:
        return list(state.offers.values())
    return [offer for offer in state.offers.values() if matches(offer, stored)]


def _search_type(kind: Any) -> str:
    if kind not in SEARCH_TYPES:
        raise invalid_args("type", f"{kind!r} is not one of on-demand, bid, reserved")
    return "bid" if kind in ("bid", "interruptible") else "on-demand"


def _filters(query: Mapping[str, Any]) -> dict[str, Any]:
    filters = {k: v for k, v in query.items() if isinstance(v, Mapping)}
    for name in filters:
        if name not in _FILTERABLE:
            raise ApiError(400, "invalid_request", f"Unknown search field: {name}")
    return filters


def _ordered(rows: list[JsonDict], order: Any) -> list[JsonDict]:
    if not isinstance(order, list) or not all(isinstance(o, list | tuple) and len(o) >= 1 for o in order):
        raise invalid_args("order", "must be a list of [field, direction] pairs")
    # Stable sorts applied from the last key to the first give a multi-key order; missing values last.
    for clause in reversed(order):
        name, direction = str(clause[0]), str(clause[1]) if len(clause) > 1 else "asc"
        descending = direction.lower() == "desc"
        present = [r for r in rows if isinstance(r.get(name), int | float | str)]
        missing = [r for r in rows if not isinstance(r.get(name), int | float | str)]
        present.sort(key=functools.partial(_sort_key, name), reverse=descending)
        rows = present + missing
    return rows


def _sort_key(name: str, row: Mapping[str, Any]) -> tuple[int, float, str]:
    value = row[name]
    return (0, float(value), "") if isinstance(value, int | float) else (1, 0.0, str(value))


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid_args(name, f"{value!r} is not a number")
    try:
        return float(value)
    except ValueError:
        raise invalid_args(name, f"{value!r} is not a number") from None


def _driver_number(version: str) -> int:
    return int("".join(part.zfill(3) for part in version.split(".")))


def gpu_names(state: State) -> list[str]:
    return sorted({str(o["gpu_name"]) for o in state.offers.values()} | {m.name for m in GPU_MODELS})
