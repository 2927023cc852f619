"""The emulated service: per-account state behind one lock, one method per API operation.

Like a ``moto`` backend it knows nothing of HTTP: methods take an :class:`Account` (from
:meth:`Backend.authenticate`) and plain dicts, return plain dicts, and raise :class:`ApiError`.
Every mutation runs under the lock and, when a state file is configured, is saved before the
lock is released, so the file never holds a half-applied change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from vast_pulumi.emulator import (
    catalogue,
    endpoints,
    envvars,
    instances,
    lifecycle,
    listing,
    sshkeys,
    templates,
    volumeoffers,
    volumes,
    workergroups,
)
from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.models import Account, Endpoint, Instance, JsonDict, State, Workergroup
from vast_pulumi.emulator.schemas import VolumeInfoBody

Clock = Callable[[], float]
Saver = Callable[[JsonDict], None]
AUTH_ERROR = ApiError(401, "auth_error", "Invalid user key")


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class Backend:
    """All accounts, templates and the offer market of one emulated Vast.ai."""

    def __init__(
        self,
        api_keys: Sequence[str],
        *,
        seed: int = 0,
        boot_seconds: float = 5.0,
        clock: Clock = time.time,
        state: State | None = None,
        saver: Saver | None = None,
    ) -> None:
        self.api_keys = list(dict.fromkeys(api_keys))
        self.seed = seed
        self.boot_seconds = boot_seconds
        self.clock = clock
        self._saver = saver
        self._lock = threading.RLock()
        self.state = state if state is not None else self._fresh_state()
        self._ensure_accounts()
        if not self.state.volume_offers:  # a state file written before volumes were modelled
            volumeoffers.seed_volume_market(self.state)

    # Accounts and transactions.

    def _fresh_state(self) -> State:
        state = State(seed=self.seed)
        catalogue.seed_catalogue(state)
        volumeoffers.seed_volume_market(state)
        return state

    def _ensure_accounts(self) -> None:
        """One account per key; a loaded state keeps its accounts (matched by key digest)."""
        known = {a.key_digest for a in self.state.accounts.values()}
        for key in self.api_keys:
            digest = key_digest(key)
            if digest not in known:
                label = f"account-{len(self.state.accounts) + 1}"
                self.state.accounts[label] = Account(label, digest, self.state.next_id("user"))
                known.add(digest)

    def authenticate(self, api_key: str | None) -> Account:
        if not api_key:
            raise AUTH_ERROR
        digest = key_digest(api_key)
        with self._lock:
            for account in self.state.accounts.values():
                if account.key_digest == digest and api_key in self.api_keys:
                    return account
        raise AUTH_ERROR

    def account(self, label: str) -> Account:
        """The account by its label (``account-1`` is the first key's)."""
        with self._lock:
            return self.state.accounts[label]

    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            yield

    @contextmanager
    def _mutating(self) -> Iterator[None]:
        with self._lock:
            yield
            self.save()

    def save(self) -> None:
        if self._saver is not None:
            with self._lock:
                self._saver(dataclasses.asdict(self.state))

    def reset(self) -> None:
        """Back to a fresh market and empty accounts (same keys, same labels)."""
        with self._mutating():
            self.state = self._fresh_state()
            self._ensure_accounts()

    # Endpoints.

    def list_endpoints(self, account: Account) -> list[JsonDict]:
        with self._reading():
            return [endpoints.row(e) for e in sorted(account.endpoints.values(), key=lambda e: e.id)]

    def create_endpoint(self, account: Account, body: JsonDict) -> int:
        with self._mutating():
            return endpoints.create(self.state, account, body, self.clock())

    def get_endpoint(self, account: Account, endpoint_id: int) -> JsonDict:
        with self._reading():
            return endpoints.row(endpoints.find(account, endpoint_id))

    def update_endpoint(self, account: Account, endpoint_id: int, body: JsonDict) -> None:
        with self._mutating():
            endpoints.update(account, endpoint_id, body)

    def delete_endpoint(self, account: Account, endpoint_id: int) -> JsonDict:
        with self._mutating():
            return endpoints.delete(account, endpoint_id)

    # Workergroups.

    def list_workergroups(self, account: Account) -> list[JsonDict]:
        with self._reading():
            return [workergroups.row(g) for g in sorted(account.workergroups.values(), key=lambda g: g.id)]

    def create_workergroup(self, account: Account, body: JsonDict) -> int:
        with self._mutating():
            return workergroups.create(self.state, account, body, self.clock())

    def update_workergroup(self, account: Account, group_id: int, body: JsonDict) -> None:
        with self._mutating():
            workergroups.update(self.state, account, group_id, body)

    def delete_workergroup(self, account: Account, group_id: int) -> JsonDict:
        with self._mutating():
            return workergroups.delete(account, group_id)

    # Offers.

    def search_offers(self, query: Mapping[str, Any]) -> list[JsonDict]:
        with self._reading():
            return catalogue.search(self.state, query)

    def gpu_names(self) -> list[str]:
        with self._reading():
            return catalogue.gpu_names(self.state)

    # Instances.

    def create_instance(self, account: Account, offer_id: int, body: JsonDict) -> JsonDict:
        with self._mutating():
            try:
                mount = volumes.mount_request(self.state, account, body.get("volume_info"))
            except ApiError as error:
                error.extra.setdefault("ask_id", offer_id)  # every create error names the offer
                raise
            result = instances.create(self.state, account, offer_id, body, self.clock())
            self._equip(account, account.instances[result["new_contract"]], mount)
            return result

    def _equip(self, account: Account, instance: Instance, mount: VolumeInfoBody | None) -> None:
        """What a new instance gets besides the offer: the account's SSH keys, its volume."""
        sshkeys.add_account_keys(account, instance)
        if mount is not None:
            volumes.mount(self.state, account, instance, mount, self.clock())

    def render_instance(self, instance: Instance) -> JsonDict:
        return lifecycle.render(instance, self.clock(), self.boot_seconds)

    def get_instance(self, account: Account, instance_id: int) -> JsonDict | None:
        with self._reading():
            instance = account.instances.get(instance_id)
            return None if instance is None else self.render_instance(instance)

    def list_instances(self, account: Account, params: Mapping[str, str]) -> JsonDict:
        request = listing.page_request(params)
        with self._reading():
            rows = [self.render_instance(i) for i in account.instances.values()]
        return listing.page(rows, request)

    def instance_filters(self, account: Account) -> list[JsonDict]:
        with self._reading():
            rows = [self.render_instance(i) for i in account.instances.values()]
        combos = {(r["actual_status"], r["verification"], r["gpu_name"]) for r in rows}
        return [{"actual_status": a, "verification": v, "gpu_name": g} for a, v, g in sorted(combos, key=str)]

    def manage_instance(self, account: Account, instance_id: int, body: JsonDict) -> None:
        with self._mutating():
            instances.manage(account, instance_id, body, self.clock())

    def manage_instances(self, account: Account, ids: Sequence[int], body: JsonDict) -> None:
        with self._mutating():
            for instance_id in ids:
                instances.manage(account, instance_id, body, self.clock())

    def restart_instance(self, account: Account, instance_id: int) -> None:
        with self._mutating():
            instances.restart(instances.find(account, instance_id), self.clock())

    def update_instance_template(self, account: Account, instance_id: int, body: JsonDict) -> JsonDict:
        with self._mutating():
            instances.update_template(self.state, account, instance_id, body, self.clock())
            return self.render_instance(account.instances[instance_id])

    def change_bid(self, account: Account, instance_id: int, body: JsonDict) -> None:
        with self._mutating():
            instances.change_bid(account, instance_id, body)

    def destroy_instance(self, account: Account, instance_id: int) -> None:
        with self._mutating():
            instances.destroy(account, instance_id)

    def destroy_instances(self, account: Account, ids: Sequence[int]) -> None:
        with self._mutating():
            for instance_id in ids:
                if instance_id in account.instances:
                    instances.destroy(account, instance_id)

    # Templates.

    def create_template(self, account: Account, body: JsonDict) -> tuple[JsonDict, bool]:
        with self._mutating():
            return templates.create(self.state, account, body, self.clock())

    def search_templates(self, account: Account, filters: Mapping[str, Any]) -> list[JsonDict]:
        with self._reading():
            return templates.search(self.state, account, filters)

    def edit_template(self, account: Account, body: JsonDict) -> JsonDict:
        with self._mutating():
            return templates.edit(self.state, account, body)

    def delete_template(self, account: Account, body: JsonDict) -> None:
        with self._mutating():
            templates.delete(self.state, account, body)

    # SSH keys.

    def list_ssh_keys(self, account: Account) -> list[JsonDict]:
        with self._reading():
            return sshkeys.listed(account)

    def create_ssh_key(self, account: Account, body: JsonDict) -> JsonDict:
        with self._mutating():
            return sshkeys.create(self.state, account, body, self.clock())

    def update_ssh_key(self, account: Account, key_id: int, body: JsonDict) -> JsonDict:
        with self._mutating():
            return sshkeys.update(account, key_id, body)

    def delete_ssh_key(self, account: Account, key_id: int) -> None:
        with self._mutating():
            sshkeys.delete(account, key_id)

    def instance_ssh_keys(self, account: Account, instance_id: int) -> str:
        with self._reading():
            return sshkeys.on_instance(account, instance_id)

    def attach_ssh_key(self, account: Account, instance_id: int, body: JsonDict) -> None:
        with self._mutating():
            sshkeys.attach(self.state, account, instance_id, body)

    def detach_ssh_key(self, account: Account, instance_id: int, key_id: str) -> None:
        with self._mutating():
            sshkeys.detach(account, instance_id, key_id)

    # Account env vars.

    def list_env_vars(self, account: Account) -> dict[str, str]:
        with self._reading():
            return envvars.listed(account)

    def create_env_var(self, account: Account, body: JsonDict) -> None:
        with self._mutating():
            envvars.create(account, body)

    def update_env_var(self, account: Account, body: JsonDict) -> None:
        with self._mutating():
            envvars.update(account, body)

    def delete_env_var(self, account: Account, body: JsonDict) -> None:
        with self._mutating():
            envvars.delete(account, body)

    # Volumes.

    def search_volume_offers(self, query: Mapping[str, Any]) -> list[JsonDict]:
        with self._reading():
            return volumeoffers.search(self.state, query)

    def list_volumes(self, account: Account, params: Mapping[str, str]) -> list[JsonDict]:
        with self._reading():
            return volumes.listed(account, params)

    def create_volume(self, account: Account, body: JsonDict) -> JsonDict:
        with self._mutating():
            return volumes.create(self.state, account, body, self.clock())

    def delete_volume(self, account: Account, volume_id: int) -> None:
        with self._mutating():
            volumes.delete(self.state, account, volume_id)

    # Out of band: what the host or Vast does on its own (control plane).

    def _owned_instance(self, instance_id: int) -> tuple[Account, Instance]:
        for account in self.state.accounts.values():
            if instance_id in account.instances:
                return account, account.instances[instance_id]
        raise ApiError(404, "not_found", f"Instance {instance_id} not found.")

    def host_destroy_instance(self, instance_id: int) -> None:
        with self._mutating():
            account, _ = self._owned_instance(instance_id)
            del account.instances[instance_id]

    def host_set_status(self, instance_id: int, actual_status: str | None, status_msg: str | None) -> None:
        with self._mutating():
            _, instance = self._owned_instance(instance_id)
            instance.status_override = {"actual_status": actual_status, "status_msg": status_msg}

    def instance_row(self, instance_id: int) -> JsonDict:
        """Any account's instance, rendered (control plane and tests)."""
        with self._reading():
            return self.render_instance(self._owned_instance(instance_id)[1])

    def instance_api_key(self, instance_id: int) -> str:
        with self._reading():
            return self._owned_instance(instance_id)[1].instance_api_key

    def drift(self, kind: str, resource_id: int, changes: Mapping[str, Any]) -> JsonDict:
        """Edit a resource behind the client's back; known fields are set, others shown as given."""
        with self._mutating():
            resource = self._find_any(kind, resource_id)
            names = {f.name for f in dataclasses.fields(resource)} - {"id", "overrides"}
            for key, value in changes.items():
                if key in names:
                    setattr(resource, key, value)
                elif key != "id":
                    resource.overrides[key] = value
            return self._row(resource)

    def _find_any(self, kind: str, resource_id: int) -> Endpoint | Workergroup | Instance:
        collections = {"endpoints": "endpoints", "workergroups": "workergroups", "instances": "instances"}
        if kind not in collections:
            raise ApiError(
                404, "not_found", f"Unknown kind {kind!r}: use endpoints, workergroups or instances"
            )
        for account in self.state.accounts.values():
            found: Any = getattr(account, collections[kind]).get(resource_id)
            if found is not None:
                assert isinstance(found, Endpoint | Workergroup | Instance)
                return found
        raise ApiError(404, "not_found", f"No {kind[:-1]} {resource_id}")

    def _row(self, resource: Endpoint | Workergroup | Instance) -> JsonDict:
        if isinstance(resource, Endpoint):
            return endpoints.row(resource)
        if isinstance(resource, Workergroup):
            return workergroups.row(resource)
        return self.render_instance(resource)

    def inventory(self) -> list[JsonDict]:
        """Every account's live resources as the API shows them (never the account's key)."""
        with self._reading():
            return [
                {
                    "account": account.label,
                    "user_id": account.user_id,
                    "endpoints": self.list_endpoints(account),
                    "workergroups": self.list_workergroups(account),
                    "instances": [self.render_instance(i) for i in account.instances.values()],
                    "ssh_keys": sshkeys.listed(account),
                    "env_vars": sorted(account.env_vars),  # names only: the values are secrets
                    "volumes": volumes.listed(account, {}),
                    "templates": [
                        templates.row(t)
                        for t in sorted(self.state.templates.values(), key=lambda t: t.id)
                        if t.creator_id == account.user_id
                    ],
                }
                for account in self.state.accounts.values()
            ]
