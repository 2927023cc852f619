"""What the emulated service stores: plain dataclasses, serialisable with ``dataclasses.asdict``.

Fields named like the API's row fields hold exactly what the API shows; anything derived (an
instance's status, its ports) is computed when a row is rendered (see ``lifecycle``). ``overrides``
holds out-of-band edits made through the control plane (drift) and wins over every stored field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]


@dataclass
class Endpoint:
    id: int
    endpoint_name: str
    api_key: str
    user_id: int
    created_at: float
    # Defaults as the OpenAPI create body gives them (openapi.yaml:1104-1127); where Vast's docs
    # (UI) disagree (min_load 1, cold_mult 3, max_workers 16) the API's own contract wins.
    min_load: float = 10.0
    min_cold_load: float = 0.0
    target_util: float = 0.9
    cold_mult: float = 2.5
    cold_workers: int = 5
    max_workers: int = 20
    max_queue_time: float = 30.0
    target_queue_time: float = 10.0
    inactivity_timeout: int | None = None
    endpoint_state: str = "active"
    auto_delete_in_seconds: float | None = None
    auto_delete_due_24h: bool = False
    overrides: JsonDict = field(default_factory=dict)
    # The traffic the control plane says the endpoint serves, in workers' worth (see ``autoscaler``);
    # never part of the API's row.
    load: float = 0.0
    # Requests routed through ``/route/`` as ``[time, cost]`` (the last ``autoscaler.LOAD_WINDOW``
    # seconds' worth), the last request number handed out, and when the endpoint last had load
    # (``inactivity_timeout`` counts from it). None of these is part of the API's row.
    routed: list[list[float]] = field(default_factory=list)
    reqnum: int = 0
    last_activity: float | None = None


@dataclass
class Workergroup:
    id: int
    endpoint_id: int
    endpoint_name: str
    user_id: int
    created_at: float
    api_key: str
    search_query: JsonDict
    template_hash: str | None = None
    template_id: int | None = None
    launch_args: str | None = None
    gpu_ram: float = 24.0
    cold_workers: int = 3
    max_workers: int = 20
    test_workers: int = 3
    min_load: float = 1.0
    target_util: float = 0.9
    cold_mult: float = 3.0
    overrides: JsonDict = field(default_factory=dict)


@dataclass
class Template:
    id: int
    hash_id: str
    creator_id: int
    created_at: float
    content: JsonDict
    # Edits make a new hash even when the content is unchanged (the API's hash_id is a version).
    revision: int = 0


@dataclass
class Instance:
    id: int
    user_id: int
    offer: JsonDict  # the accepted offer, as it was rendered for the disk asked for
    image: str | None
    disk: float
    runtype: str
    env: dict[str, str]
    onstart: str | None
    args: list[str] | None
    label: str | None
    jupyter_token: str
    instance_api_key: str
    start_date: float
    intended_status: str  # "running" | "stopped"
    # When the current (re)start began, and whether it is the first one: the lifecycle is
    # computed from these, so no background thread moves instances along.
    phase_started: float
    first_boot: bool = True
    price: float | None = None  # bid ($/h) for an interruptible instance
    template_id: int | None = None
    template_hash_id: str | None = None
    template_name: str | None = None
    image_login: str | None = None
    status_override: JsonDict | None = None  # {"actual_status", "status_msg"} set by the host
    overrides: JsonDict = field(default_factory=dict)
    # SSH keys on the box, [{"id", "public_key"}] (``/instances/{id}/ssh/``), and mounted volumes,
    # [{"id", "mount_path", "total_space", "avail_space"}] as the row's ``volume_info`` shows them.
    ssh_keys: list[JsonDict] = field(default_factory=list)
    volume_info: list[JsonDict] = field(default_factory=list)
    # A serverless worker, recruited by the autoscaler: its group and endpoint while attached, both
    # None once the group is deleted (the instance stays, detached and billing).
    worker: bool = False
    workergroup_id: int | None = None
    endpoint_id: int | None = None

    # When DELETE was accepted: the instance lingers, being destroyed, for the backend's destroy_seconds.
    destroying_since: float | None = None
    # The status it shows however often it is started, while its machine cannot run it
    # ({"actual_status", "cur_state", "status_msg"}): a double rent, or a wait for busy GPUs.
    unschedulable: JsonDict | None = None


@dataclass
class SshKey:
    id: int
    user_id: int
    public_key: str
    created_at: float


@dataclass
class Volume:
    """A local volume: disk rented on one machine (``PUT /volumes/``), mounted by instances."""

    id: int  # a contract id, shown as the volume name ``V.<id>``
    user_id: int
    offer_id: int
    offer: JsonDict  # the volume offer it was rented from, as it was then
    size: int  # GB
    label: str | None
    start_date: float


@dataclass
class Account:
    label: str  # non-secret name used in logs and the inventory, e.g. "account-1"
    key_digest: str  # sha256 of the API key: the key itself is never stored
    user_id: int
    endpoints: dict[int, Endpoint] = field(default_factory=dict)
    workergroups: dict[int, Workergroup] = field(default_factory=dict)
    instances: dict[int, Instance] = field(default_factory=dict)
    ssh_keys: dict[int, SshKey] = field(default_factory=dict)
    env_vars: dict[str, str] = field(default_factory=dict)  # account env vars (``/secrets/``)
    volumes: dict[int, Volume] = field(default_factory=dict)
    # More keys of the same account (control plane), and keys that no longer work, by digest.
    other_key_digests: list[str] = field(default_factory=list)
    dead_keys: dict[str, str] = field(default_factory=dict)  # digest -> "revoked" | "expired"
    # Worker rents the autoscaler has decided on but not yet made (reading ``worker_recruit=late``):
    # ``{"due", "group_id", "endpoint_id", "search_query", "template_hash", "launch_args"}``.
    recruits: list[JsonDict] = field(default_factory=list)


@dataclass
class State:
    """Everything the service knows. Ids are global, as on the real service."""

    seed: int
    accounts: dict[str, Account] = field(default_factory=dict)  # by label
    templates: dict[int, Template] = field(default_factory=dict)
    offers: dict[int, JsonDict] = field(default_factory=dict)  # the live catalogue, by offer id
    volume_offers: dict[int, JsonDict] = field(default_factory=dict)  # disk for rent, by offer id
    counters: dict[str, int] = field(default_factory=dict)
    # Offers taken from the market, by offer id: {"offer": the offer, "holder": the instance id}.
    rented_offers: dict[int, JsonDict] = field(default_factory=dict)
    # Machines whose GPUs cannot start a new instance now (control plane), by machine id.
    busy_machines: list[int] = field(default_factory=list)

    def next_id(self, kind: str) -> int:
        self.counters[kind] = self.counters.get(kind, FIRST_IDS[kind] - 1) + 1
        return self.counters[kind]


# Distinct ranges per kind, so an id used for the wrong kind of resource never finds anything.
FIRST_IDS = {
    "endpoint": 4001,
    "workergroup": 12001,
    "template": 200001,
    "instance": 20000001,
    "offer": 30000001,
    "machine": 40001,
    "host": 100001,
    "user": 210001,
    "ssh_key": 7001,
    "volume_offer": 36000001,
}


def state_from_dict(data: JsonDict) -> State:
    """Inverse of ``dataclasses.asdict(state)`` (JSON turned the int keys into strings)."""
    return State(
        seed=int(data["seed"]),
        accounts={label: _account(raw) for label, raw in data["accounts"].items()},
        templates={int(k): Template(**v) for k, v in data["templates"].items()},
        offers={int(k): v for k, v in data["offers"].items()},
        counters={str(k): int(v) for k, v in data["counters"].items()},
        volume_offers={int(k): v for k, v in data.get("volume_offers", {}).items()},
        rented_offers={int(k): v for k, v in data.get("rented_offers", {}).items()},
        busy_machines=[int(m) for m in data.get("busy_machines", [])],
    )


def _account(raw: JsonDict) -> Account:
    return Account(
        label=raw["label"],
        key_digest=raw["key_digest"],
        user_id=int(raw["user_id"]),
        endpoints={int(k): Endpoint(**v) for k, v in raw["endpoints"].items()},
        workergroups={int(k): Workergroup(**v) for k, v in raw["workergroups"].items()},
        instances={int(k): Instance(**v) for k, v in raw["instances"].items()},
        ssh_keys={int(k): SshKey(**v) for k, v in raw.get("ssh_keys", {}).items()},
        env_vars={str(k): str(v) for k, v in raw.get("env_vars", {}).items()},
        volumes={int(k): Volume(**v) for k, v in raw.get("volumes", {}).items()},
        other_key_digests=list(raw.get("other_key_digests", [])),
        dead_keys=dict(raw.get("dead_keys", {})),
        recruits=list(raw.get("recruits", [])),
    )
