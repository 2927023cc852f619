"""An instance's state machine, computed from timestamps whenever it is read.

Created (or started again) at ``phase_started``, a running instance has ``actual_status`` null
while the host provisions it (first boot only), then ``loading`` while the image is pulled, then
``running`` once ``boot_seconds`` have passed. Stopping is immediate. A status the host reported out
of band (control plane: ``exited``, ``offline``, ...) holds until the user starts or stops it.

Three states no start gets an instance out of:

- being destroyed (:data:`DESTROYING`): after a DELETE, for the backend's ``destroy_seconds``;
- outbid: an interruptible instance whose bid is below its machine's ``min_bid`` is stopped, with
  ``intended_status``, ``cur_state`` and ``next_state`` all ``stopped`` as dstack observed it
  (dstack ``backends/vastai/compute.py``, #4037);
- unschedulable, while its machine cannot run it: a second rent of an already rented machine
  (``--double-rent``) shows ``created`` with an error in ``status_msg``, the state dstack checks for
  a container that never started; a rent on a machine whose GPUs are busy waits, ``stopped``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vast_pulumi.emulator.models import Instance, JsonDict

# No source shows a row while it is being destroyed; this rendering is ours, the worse case for a
# client: it looks like a live stopped instance (label and all), only ``next_state`` "unloaded" and
# the message tell otherwise (the docs put "unloaded" in ``cur_state``; the provider reads both).
DESTROYING_MSG = "Destroying instance."
# How long a destroyed instance lingers in the list by default. Destroy is asynchronous on the real
# service (Max19970/easy-server#125: the list still held the instance for a while, while the single
# GET answered a non-object at once: reading ``destroying_get``); how long is not documented, "a few
# seconds" is our choice.
DESTROY_SECONDS = 5.0
# Not from a source: what a stopped interruptible says when its bid is too low.
OUTBID_MSG = "Stopped: outbid. Your bid of {bid} $/h is below the current minimum bid of {min_bid} $/h."
# The share of the boot spent with actual_status null (scheduling on the host) before "loading".
PROVISIONING_SHARE = 0.2
SSH_BASE_PORT = 10000
# Offer columns an instance row carries over from the machine it runs on.
MACHINE_FIELDS = (
    "machine_id",
    "host_id",
    "bundle_id",
    "gpu_name",
    "num_gpus",
    "gpu_ram",
    "gpu_arch",
    "gpu_frac",
    "gpu_lanes",
    "gpu_mem_bw",
    "bw_nvlink",
    "compute_cap",
    "cuda_max_good",
    "driver_version",
    "total_flops",
    "dlperf",
    "dlperf_per_dphtotal",
    "flops_per_dphtotal",
    "cpu_arch",
    "cpu_name",
    "cpu_cores",
    "cpu_cores_effective",
    "cpu_ram",
    "mobo_name",
    "pci_gen",
    "pcie_bw",
    "disk_bw",
    "disk_name",
    "inet_up",
    "inet_down",
    "inet_up_cost",
    "inet_down_cost",
    "direct_port_count",
    "dph_base",
    "min_bid",
    "storage_cost",
    "verification",
    "geolocation",
    "public_ipaddr",
    "static_ip",
    "external",
    "os_version",
    "end_date",
)


@dataclass(frozen=True)
class Status:
    actual_status: str | None
    cur_state: str
    status_msg: str | None


def outbid(instance: Instance) -> bool:
    return instance.price is not None and instance.price < instance.offer["min_bid"]


def status(instance: Instance, now: float, boot_seconds: float) -> Status:
    if instance.destroying_since is not None:
        return Status("stopped", "stopped", DESTROYING_MSG)
    if instance.status_override is not None:
        override = instance.status_override
        actual = override.get("actual_status")
        return Status(actual, str(override.get("cur_state", "running")), override.get("status_msg"))
    if outbid(instance):
        return Status(
            "stopped", "stopped", OUTBID_MSG.format(bid=instance.price, min_bid=instance.offer["min_bid"])
        )
    if instance.intended_status == "stopped":
        return Status("stopped", "stopped", "Stopped.")
    if instance.unschedulable is not None:
        held = instance.unschedulable
        return Status(held["actual_status"], held["cur_state"], held["status_msg"])
    elapsed = now - instance.phase_started
    if elapsed >= boot_seconds:
        return Status("running", "running", f"success, running {instance.image or 'template image'}/ssh")
    if instance.first_boot and elapsed < boot_seconds * PROVISIONING_SHARE:
        return Status(None, "running", None)
    return Status("loading", "running", f"Pulling image {instance.image or 'template image'}")


def render(instance: Instance, now: float, boot_seconds: float, *, search_listing: bool = False) -> JsonDict:
    """The instance as ``GET /instances/{id}/`` and ``/api/v1/instances/`` show it. ``search_listing``
    (reading ``bid_field=listing``): ``search`` shows the listing's price, not the bid."""
    state = status(instance, now, boot_seconds)
    row: JsonDict = {key: instance.offer.get(key) for key in MACHINE_FIELDS}
    row.update(
        id=instance.id,
        label=instance.label,
        actual_status=state.actual_status,
        intended_status="stopped" if instance.destroying_since is not None else instance.intended_status,
        cur_state=state.cur_state,
        next_state=_next_state(instance),
        status_msg=state.status_msg,
        image_uuid=instance.image,
        image_args=list(instance.args or []),
        image_runtype=instance.runtype,
        extra_env=[[k, v] for k, v in instance.env.items()],
        onstart=instance.onstart,
        jupyter_token=instance.jupyter_token,
        template_id=instance.template_id,
        template_hash_id=instance.template_hash_id,
        template_name=instance.template_name,
        **_connectivity(instance, running=state.actual_status == "running"),
        **_pricing(instance, running=state.cur_state == "running", search_listing=search_listing),
        disk_space=instance.disk,
        gpu_totalram=instance.offer.get("gpu_total_ram"),
        reliability2=instance.offer.get("reliability2"),
        start_date=instance.start_date,
        uptime_mins=_uptime_minutes(instance, now, state),
        gpu_util=0.0 if state.actual_status == "running" else None,
        gpu_temp=None,
        rentable=True,
        volume_info=[dict(v) for v in instance.volume_info],
    )
    row.update(instance.overrides)
    return row


def _connectivity(instance: Instance, *, running: bool) -> dict[str, Any]:
    ssh_port = SSH_BASE_PORT + instance.id % 50000
    direct_start = 20000 + (instance.id % 400) * 100
    return {
        "ssh_host": f"ssh{instance.id % 9 + 1}.vast.ai",
        "ssh_port": ssh_port,
        "ssh_idx": str(instance.id % 9 + 1),
        "machine_dir_ssh_port": direct_start,
        "direct_port_start": direct_start,
        "direct_port_end": direct_start + 99,
        "local_ipaddrs": "10.0.0.5 172.17.0.2",
        "ports": _ports(instance, direct_start) if running else {},
    }


def _ports(instance: Instance, direct_start: int) -> dict[str, list[dict[str, str]]]:
    """Docker's port map: 22 always, plus every ``-p A:B`` the env asked for."""
    container_ports = ["22/tcp"]
    for key in instance.env:
        if key.startswith("-p "):
            inner = key[3:].split(":")[-1]
            container_ports.append(inner if "/" in inner else f"{inner}/tcp")
    return {
        port: [{"HostIp": "0.0.0.0", "HostPort": str(direct_start + n)}]
        for n, port in enumerate(dict.fromkeys(container_ports))
    }


def _next_state(instance: Instance) -> str:
    if instance.destroying_since is not None:
        return "unloaded"
    return "stopped" if outbid(instance) else instance.intended_status


def _pricing(instance: Instance, *, running: bool, search_listing: bool) -> dict[str, Any]:
    """Prices as Vast's OpenAPI spec's Instance schema has them (openapi.yaml:9906-9925, 9987-10005):
    ``is_bid``; ``min_bid``, the machine's current minimum (from the offer columns); ``dph_total``,
    the rented price (the bid, for an interruptible) plus storage; ``search``, "Search pricing
    details"; ``instance``, what it costs now (storage only while the GPU is not held). The spec
    names no field for the bid. Whether ``search.gpuCostPerHour`` is the bid or the listing's
    ``dph_base`` (the spec's example) is the reading ``bid_field`` (audit I1)."""
    storage_hourly = round(instance.offer["storage_cost"] * instance.disk / 730.0, 6)
    base = instance.price if instance.price is not None else instance.offer["dph_base"]
    searched = instance.offer["dph_base"] if search_listing else base
    gpu_now = base if running else 0.0
    return {
        "is_bid": instance.price is not None,
        "dph_total": round(base + storage_hourly, 6),
        "storage_total_cost": storage_hourly,
        "search": _breakdown(searched, storage_hourly),
        "instance": _breakdown(gpu_now, storage_hourly),
    }


def _breakdown(gpu_hourly: float, storage_hourly: float) -> dict[str, float]:
    total = round(gpu_hourly + storage_hourly, 6)
    return {
        "gpuCostPerHour": gpu_hourly,
        "diskHour": storage_hourly,
        "totalHour": total,
        "discountTotalHour": 0,
        "discountedTotalPerHour": total,
    }


def _uptime_minutes(instance: Instance, now: float, state: Status) -> float | None:
    if state.actual_status != "running":
        return None
    return round((now - instance.phase_started) / 60.0, 2)
