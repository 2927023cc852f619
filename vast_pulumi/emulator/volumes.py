"""Local volumes (``/volumes/``): rented from a volume offer, listed, mounted by instances, deleted.

As the ``vastai`` client calls them (vastai/api/storage.py): ``PUT /volumes/`` ``{id, size, name?}``
rents (answer ``{"success": true, "volume_name": "V.<id>"}``, OpenAPI ``rentVolume``),
``GET /volumes?owner=me&type=local_volume|network_volume|all_volume`` lists ``{"volumes": [...]}``, and
``DELETE /volumes/?id=N`` deletes. The spec puts the delete's ``id`` in a JSON body; the client sends a
query parameter: both are accepted, the client's first. Errors: 400 ``invalid_args`` "Please provide a
valid volume ID.", 404 ``no_such_volume`` "Volume with that ID does not exist." (OpenAPI
``deleteVolume``).

A volume in use cannot be deleted: "All instances using the volume must be destroyed before deletion"
(vastai/api/storage.py:298); the error's shape is not documented, the emulator answers 400
``invalid_args`` naming the instances. An instance create's ``volume_info`` (OpenAPI ``createInstance``)
makes a new volume from an offer (``create_new: true``) or links one of the account's
(``create_new: false``); the instance row's ``volume_info`` lists its volumes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vast_pulumi.emulator import volumeoffers
from vast_pulumi.emulator.catalogue import HOURS_PER_MONTH
from vast_pulumi.emulator.errors import ApiError, invalid_args
from vast_pulumi.emulator.models import Account, Instance, JsonDict, State, Volume
from vast_pulumi.emulator.schemas import CreateVolumeBody, VolumeInfoBody, VolumeOfCreateBody, parse

TYPES = frozenset({"local_volume", "network_volume", "all_volume"})
DEFAULT_SIZE = 15
# Columns a volume row carries over from the offer's machine (OpenAPI ``Volume``).
MACHINE_FIELDS = (
    "machine_id",
    "host_id",
    "driver_version",
    "cuda_max_good",
    "public_ipaddr",
    "reliability2",
    "cpu_name",
    "cpu_arch",
    "mobo_name",
    "disk_name",
    "inet_up",
    "inet_down",
    "os_version",
    "verification",
    "static_ip",
    "geolocation",
)


# Reading ``volume_name=strict`` (audit V2): "alphanumeric with underscores, with a max length of 64"
# (docs guides/instances/storage/volumes.mdx:125); ASCII, the narrower reading of "alphanumeric".
NAME_RULE = re.compile(r"[A-Za-z0-9_]{1,64}")


@dataclass(frozen=True)
class Rules:
    """The readings a volume request is checked under (see ``readings``)."""

    strict_name: bool = False  # volume_name=strict
    machine_id: int | None = None  # volume_machine=same_machine: the machine the instance rents on


def _check_name(name: str | None, field: str, rules: Rules) -> None:
    if name is not None and rules.strict_name and not NAME_RULE.fullmatch(name):
        raise invalid_args(field, f"{name!r}: a volume name is 1 to 64 letters, digits or underscores")


def _check_machine(volume_machine: int, what: str, rules: Rules) -> None:
    """A local volume "can only be attached to instances running on the same physical machine"
    (docs guides/instances/storage/volumes.mdx:13-15, reading ``volume_machine=same_machine``, V1)."""
    if rules.machine_id is not None and volume_machine != rules.machine_id:
        raise invalid_args(
            "volume_info.volume_id",
            f"{what} is on machine {volume_machine}, the offer on machine {rules.machine_id}: "
            "a local volume mounts only on its own machine",
        )


def name_of(volume: Volume) -> str:
    return f"V.{volume.id}"


def users(account: Account, volume_id: int) -> list[int]:
    """The account's instances that mount the volume."""
    return sorted(i.id for i in account.instances.values() if volume_id in {v["id"] for v in i.volume_info})


def row(account: Account, volume: Volume) -> JsonDict:
    result: JsonDict = {key: volume.offer.get(key) for key in MACHINE_FIELDS}
    result.update(
        id=volume.id,
        cluster_id=None,
        label=volume.label,
        disk_space=float(volume.size),
        status="running",
        start_date=volume.start_date,
        storage_total_cost=round(volume.offer["storage_cost"] * volume.size / HOURS_PER_MONTH, 9),
        instances=users(account, volume.id),
    )
    return result


def listed(account: Account, params: Mapping[str, str]) -> list[JsonDict]:
    kind = params.get("type", "all_volume")
    if kind not in TYPES:
        raise invalid_args("type", f"{kind!r} is not one of {', '.join(sorted(TYPES))}")
    if kind == "network_volume":
        return []  # network volumes are not modelled: the account has none
    return [row(account, v) for v in sorted(account.volumes.values(), key=lambda v: v.id)]


def create(state: State, account: Account, body: dict[str, Any], now: float, rules: Rules) -> JsonDict:
    request = parse(CreateVolumeBody, body)
    _check_name(request.name, "name", rules)
    volume = _rent(state, account, request.id, request.size, request.name, now)
    return {"success": True, "volume_name": name_of(volume)}


def _rent(state: State, account: Account, offer_id: int, size: int, label: str | None, now: float) -> Volume:
    offer = volumeoffers.take(state, offer_id, size)
    volume = Volume(state.next_id("instance"), account.user_id, offer_id, offer, size, label, now)
    account.volumes[volume.id] = volume
    return volume


def delete(state: State, account: Account, volume_id: int) -> None:
    volume = account.volumes.get(volume_id)
    if volume is None:
        raise ApiError(404, "no_such_volume", "Volume with that ID does not exist.")
    in_use = users(account, volume_id)
    if in_use:
        raise invalid_args("id", f"volume {volume_id} is in use by instances {in_use}; destroy them first")
    del account.volumes[volume_id]
    volumeoffers.give_back(state, volume.offer_id, volume.size)


# Volumes of an instance create.


def mount_request(state: State, account: Account, raw: Any, rules: Rules) -> VolumeInfoBody | None:
    """The create's ``volume_info``, checked before anything is rented (a bad one creates nothing)."""
    request = parse(VolumeOfCreateBody, {"volume_info": raw}).volume_info
    if request is None:
        return None
    _check_name(request.name, "volume_info.name", rules)
    if request.create_new:
        offer = state.volume_offers.get(request.volume_id)
        if offer is None:
            raise invalid_args("volume_info.volume_id", f"no volume offer {request.volume_id}")
        if (request.size or DEFAULT_SIZE) > offer["disk_space"]:
            left = f"{offer['disk_space']:.0f} GB"
            raise invalid_args("volume_info.size", f"more than the {left} the offer has left")
        _check_machine(int(offer["machine_id"]), f"volume offer {request.volume_id}", rules)
    else:
        if request.size is not None:
            raise invalid_args("volume_info.size", "only with create_new (a linked volume keeps its size)")
        volume = account.volumes.get(request.volume_id)
        if volume is None:
            raise invalid_args("volume_info.volume_id", f"no volume {request.volume_id} on this account")
        _check_machine(int(volume.offer["machine_id"]), f"volume {volume.id}", rules)
    return request


def mount(state: State, account: Account, instance: Instance, request: VolumeInfoBody, now: float) -> None:
    if request.create_new:
        size = request.size or DEFAULT_SIZE
        volume = _rent(state, account, request.volume_id, size, request.name, now)
    else:
        volume = account.volumes[request.volume_id]
    instance.volume_info.append(
        {
            "id": volume.id,
            "mount_path": request.mount_path,
            "total_space": float(volume.size),
            "avail_space": float(volume.size),
        }
    )
