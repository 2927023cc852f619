"""The emulated service: per-account state behind one lock, one method per API operation.

Like a ``moto`` backend it knows nothing of HTTP: methods take an :class:`Account` (from
:meth:`Backend.authenticate`) and plain dicts, return plain dicts, and raise :class:`ApiError`.
Every mutation runs under the lock and, when a state file is configured, is saved before the
lock is released, so the file never holds a half-applied change.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from vast_pulumi.emulator import (
    autoscaler,
    catalogue,
    endpoints,
    envvars,
    instances,
    lifecycle,
    listing,
    route,
    sshkeys,
    templates,
    volumeoffers,
    volumes,
    workergroups,
)
from vast_pulumi.emulator.auth import EXPIRED, REVOKED, KeyRejected
from vast_pulumi.emulator.errors import ApiError, invalid_args
from vast_pulumi.emulator.models import Account, Endpoint, Instance, JsonDict, State, Workergroup
from vast_pulumi.emulator.readings import Readings
from vast_pulumi.emulator.schemas import VolumeInfoBody

Clock = Callable[[], float]
Saver = Callable[[State], None]


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def fresh_state(seed: int) -> State:
    """A new service for ``seed``: its seeded GPU and volume markets, no accounts.

    Seeding draws a few thousand random numbers (about 2 ms); test suites start an emulator per test,
    mostly with the same seeds, so each seed's market is built once per process and copied. The
    copy is a new dict per offer: an offer's values are scalars, and the service changes offers
    only by replacing or updating those (a rent pops one, a volume rent lowers ``disk_space``)."""
    seeded = _seeded_market(seed)
    return State(
        seed=seed,
        offers={offer_id: dict(offer) for offer_id, offer in seeded.offers.items()},
        volume_offers={offer_id: dict(offer) for offer_id, offer in seeded.volume_offers.items()},
        counters=dict(seeded.counters),
    )


@functools.lru_cache(maxsize=16)
def _seeded_market(seed: int) -> State:
    """Only ever copied (``fresh_state``), never handed out."""
    state = State(seed=seed)
    catalogue.seed_catalogue(state)
    volumeoffers.seed_volume_market(state)
    return state


class Backend:
    """All accounts, templates and the offer market of one emulated Vast.ai."""

    def __init__(
        self,
        api_keys: Sequence[str],
        *,
        seed: int = 0,
        boot_seconds: float = 5.0,
        destroy_seconds: float = lifecycle.DESTROY_SECONDS,
        double_rent: bool = False,
        no_endpoints_error: bool = True,
        clock: Clock = time.time,
        state: State | None = None,
        saver: Saver | None = None,
        workers: bool = True,
        readings: Readings | None = None,
    ) -> None:
        # Where the sources disagree or are silent: which reading this emulator models (readings.py).
        self.readings = readings if readings is not None else Readings()
        self.api_keys = list(dict.fromkeys(api_keys))
        # Serverless workers (``autoscaler``): on, as the real service always recruits them.
        self.workers = workers
        self.seed = seed
        self.boot_seconds = boot_seconds
        # How long a destroyed instance lingers (0: gone at once); see lifecycle.
        self.destroy_seconds = destroy_seconds
        # Whether a rent of an offer whose machine is already rented is accepted (and never starts).
        self.double_rent = double_rent
        # Whether listing endpoints on an account with none answers 400 (the HTTP layer asks).
        self.no_endpoints_error = no_endpoints_error
        self.clock = clock
        # Signs the route API's grants; routed workers (``workerecho``) check it.
        self.route_secret = secrets.token_bytes(32)
        self._saver = saver
        self._lock = threading.RLock()
        self.state = state if state is not None else self._fresh_state()
        self._ensure_accounts()
        if not self.state.volume_offers:  # a state file written before volumes were modelled
            volumeoffers.seed_volume_market(self.state)

    # Accounts and transactions.

    def _fresh_state(self) -> State:
        return fresh_state(self.seed)

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
        """The key's account; :class:`KeyRejected` for a missing, unknown, revoked or expired key."""
        if not api_key:
            raise KeyRejected()
        digest = key_digest(api_key)
        with self._lock:
            for account in self.state.accounts.values():
                if digest in account.dead_keys:
                    raise KeyRejected(expired=account.dead_keys[digest] == EXPIRED)
                primary = account.key_digest == digest and api_key in self.api_keys
                if primary or digest in account.other_key_digests:
                    return account
        raise KeyRejected()

    # Keys (control plane): the account and its resources outlive any one key.

    def add_key(self, label: str, api_key: str) -> None:
        """Another key for an existing account (a rotated key)."""
        digest = key_digest(api_key)
        with self._mutating():
            account = self._labelled(label)
            if self._key_owner(digest) is not None:
                raise invalid_args("api_key", "already a key of an account")
            account.other_key_digests.append(digest)

    def revoke_key(self, api_key: str) -> None:
        """The key is deleted: it answers as a key that matches no user."""
        self._kill_key(api_key, REVOKED)

    def expire_session(self, api_key: str) -> None:
        """The key is an expired 2FA session key: it answers 404 "Session expired"."""
        self._kill_key(api_key, EXPIRED)

    def _kill_key(self, api_key: str, how: str) -> None:
        digest = key_digest(api_key)
        with self._mutating():
            account = self._key_owner(digest)
            if account is None:
                raise ApiError(404, "not_found", "No account has that key")
            account.dead_keys[digest] = how

    def _key_owner(self, digest: str) -> Account | None:
        for account in self.state.accounts.values():
            if digest == account.key_digest or digest in account.other_key_digests:
                return account
        return None

    def _labelled(self, label: str) -> Account:
        if label not in self.state.accounts:
            raise ApiError(404, "not_found", f"No account {label!r}")
        return self.state.accounts[label]

    def account(self, label: str) -> Account:
        """The account by its label (``account-1`` is the first key's); 404 if there is none."""
        with self._lock:
            return self._labelled(label)

    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            if self._sweep() | self._reconcile():
                self.save()
            yield

    @contextmanager
    def _mutating(self) -> Iterator[None]:
        """Saved even when the operation fails: a few failures leave something behind on purpose
        (a too-low bid leaves a stopped instance); the others change nothing before they fail."""
        with self._lock:
            self._sweep()
            self._reconcile()
            try:
                yield
                self._reconcile()
            finally:
                self.save()

    def _sweep(self) -> bool:
        """Remove the instances whose destroy has finished (computed, like the boot, from time)."""
        done = self.clock() - self.destroy_seconds
        swept = False
        for account in self.state.accounts.values():
            for instance_id in [
                i.id
                for i in account.instances.values()
                if i.destroying_since is not None and i.destroying_since <= done
            ]:
                del account.instances[instance_id]
                swept = True
        return swept

    def _reconcile(self) -> bool:
        """The autoscaler's work up to now, done at each call (no background thread races a test)."""
        return self.workers and autoscaler.reconcile(
            self.state,
            self.clock(),
            boot_seconds=self.boot_seconds,
            linger=self.destroy_seconds > 0,
            late=self.readings.is_("worker_recruit", "late"),
        )

    def save(self) -> None:
        if self._saver is not None:
            with self._lock:
                self._saver(self.state)

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
            return endpoints.delete(account, endpoint_id, self.clock(), linger=self.destroy_seconds > 0)

    # Workergroups.

    def list_workergroups(self, account: Account) -> list[JsonDict]:
        with self._reading():
            return [workergroups.row(g) for g in sorted(account.workergroups.values(), key=lambda g: g.id)]

    def create_workergroup(self, account: Account, body: JsonDict) -> int:
        with self._mutating():
            return workergroups.create(
                self.state,
                account,
                body,
                self.clock(),
                require_template=self.readings.is_("templateless_workergroup", "400"),
            )

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
                mount = volumes.mount_request(
                    self.state, account, body.get("volume_info"), self._volume_rules(offer_id)
                )
            except ApiError as error:
                error.extra.setdefault("ask_id", offer_id)  # every create error names the offer
                raise
            result = instances.create(
                self.state, account, offer_id, body, self.clock(), double_rent=self.double_rent
            )
            self._equip(account, account.instances[result["new_contract"]], mount)
            return result

    def _volume_rules(self, offer_id: int | None) -> volumes.Rules:
        """The readings a volume request is checked under: its name rule, and the machine it must be on
        (the offer's; none when the offer is unknown, which the rent itself then refuses)."""
        machine = None
        if offer_id is not None and self.readings.is_("volume_machine", "same_machine"):
            offer = self.state.offers.get(offer_id) or self.state.rented_offers.get(offer_id, {}).get("offer")
            machine = None if offer is None else int(offer["machine_id"])
        return volumes.Rules(strict_name=self.readings.is_("volume_name", "strict"), machine_id=machine)

    def _equip(self, account: Account, instance: Instance, mount: VolumeInfoBody | None) -> None:
        """What a new instance gets besides the offer: the account's SSH keys, its volume."""
        sshkeys.add_account_keys(account, instance)
        if mount is not None:
            volumes.mount(self.state, account, instance, mount, self.clock())

    def render_instance(self, instance: Instance) -> JsonDict:
        listing_price = self.readings.is_("bid_field", "listing")
        row = lifecycle.render(instance, self.clock(), self.boot_seconds, search_listing=listing_price)
        ties = autoscaler.tie(instance, tied=self.readings.is_("worker_ties", "tied"))
        row.update({k: v for k, v in ties.items() if k not in instance.overrides})
        return row

    def get_instance(self, account: Account, instance_id: int) -> JsonDict | None:
        with self._reading():
            instance = account.instances.get(instance_id)
            if instance is None:
                return None
            if instance.destroying_since is not None and self.readings.is_("destroying_get", "gone"):
                return None  # gone at once on the single GET; the list still lingers (audit D1)
            return self.render_instance(instance)

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
            instances.change_bid(account, instance_id, body, self.clock())

    def destroy_instance(self, account: Account, instance_id: int) -> None:
        with self._mutating():
            instances.destroy(
                account,
                instance_id,
                self.clock(),
                linger=self.destroy_seconds > 0,
                gone_error=self.readings.value("delete_gone_error"),
            )

    def destroy_instances(self, account: Account, ids: Sequence[int]) -> None:
        with self._mutating():
            for instance_id in ids:
                if instance_id in account.instances:
                    instances.destroy(account, instance_id, self.clock(), linger=self.destroy_seconds > 0)

    # Serverless workers (the autoscaler's routes on run.vast.ai).

    def endpoint_workers(self, key: str | None, endpoint_id: int) -> list[JsonDict] | None:
        """``/get_endpoint_workers/``: the endpoint's workers (those being destroyed too, shown
        DESTROYING); None when the key is neither the account's nor the endpoint's own, or there
        is no such endpoint (the route answers that in-band)."""
        with self._reading():
            account = self._serverless_account(key, "endpoints", endpoint_id)
            if account is None:
                return None
            return self._worker_rows(autoscaler.listed(account, endpoint_id=endpoint_id))

    def workergroup_workers(self, key: str | None, group_id: int) -> list[JsonDict] | None:
        """``/get_workergroup_workers/``: the group's workers; None as for :meth:`endpoint_workers`."""
        with self._reading():
            account = self._serverless_account(key, "workergroups", group_id)
            if account is None:
                return None
            return self._worker_rows(autoscaler.listed(account, group_id=group_id))

    def _worker_rows(self, found: Sequence[Instance]) -> list[JsonDict]:
        pairs = [(i, self.render_instance(i)) for i in found]
        return autoscaler.worker_rows(pairs, self.clock(), self.boot_seconds)

    def _serverless_account(self, key: str | None, kind: str, resource_id: int) -> Account | None:
        """The account owning endpoint/workergroup ``resource_id``, if ``key`` is that account's key
        or the resource's own ``api_key``."""
        try:
            account: Account | None = self.authenticate(key)
        except KeyRejected:
            account = None
        if account is not None and resource_id in getattr(account, kind):
            return account
        for owner in self.state.accounts.values():
            resource = getattr(owner, kind).get(resource_id)
            if resource is not None and key and secrets.compare_digest(resource.api_key, key):
                return owner
        return None

    def route(self, body: JsonDict, key: str | None, base_url: str) -> tuple[int, JsonDict]:
        """``POST /route/``: a ready worker of the endpoint, or the waiting answer (see ``route``)."""
        if not key and isinstance(body.get("api_key"), str):
            key = body["api_key"]
        if not key:
            return route.AUTH_FAILED
        request = route.parse(body)
        if request is None:
            return route.BAD_REQUEST
        with self._mutating():
            found = route.find(self.state, request.endpoint, key)
            if isinstance(found[0], int):
                return found
            account, endpoint = found
            reqnum = route.count(endpoint, request, self.clock())
            self._reconcile()  # the new load recruits or starts workers before the answer
            states = self._worker_states(account, endpoint.id)
            return 200, route.answer(account, endpoint, request, reqnum, states, base_url, self.route_secret)

    def _worker_states(self, account: Account, endpoint_id: int) -> dict[int, str]:
        now = self.clock()
        return {
            i.id: autoscaler.worker_state(i, now, self.boot_seconds)
            for i in autoscaler.listed(account, endpoint_id=endpoint_id)
        }

    def routed_worker(self, worker_id: int, grant: Any) -> tuple[int, JsonDict]:
        """A request at a routed worker's address: 200 if it carries a grant signed for this worker
        (the route answer, as the SDK forwards it in ``auth_data``) and the worker is ready."""
        with self._reading():
            worker = next(
                (a.instances[worker_id] for a in self.state.accounts.values() if worker_id in a.instances),
                None,
            )
            if worker is None or not worker.worker:
                return 404, {"error": f"no worker {worker_id}"}
            if not isinstance(grant, dict) or not _signed_for(grant, worker_id, self.route_secret):
                return 401, {"error": "auth_data: not a grant of the route API for this worker"}
            state = autoscaler.worker_state(worker, self.clock(), self.boot_seconds)
            if state != autoscaler.READY:
                return 503, {"error": f"worker {worker_id} is {state}"}
            return 200, {"worker_id": worker_id, "reqnum": grant["reqnum"]}

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
            keys = sshkeys.listed(account)
        if not keys and self.readings.is_("ssh_list_empty", "404"):
            raise sshkeys.NO_KEYS_FOUND  # openapi.yaml:2038-2039 (audit K3)
        return keys

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
            return volumes.create(self.state, account, body, self.clock(), self._volume_rules(None))

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

    def set_machine_busy(self, machine_id: int, busy: bool) -> None:
        """The machine's GPUs are busy or free (see :func:`instances.set_machine_busy`)."""
        with self._mutating():
            instances.set_machine_busy(self.state, machine_id, busy, self.clock())

    def outbid_instance(self, instance_id: int, min_bid: float | None = None) -> None:
        """The market outbids an interruptible instance (see :func:`instances.outbid`)."""
        with self._mutating():
            instances.outbid(self._owned_instance(instance_id)[1], min_bid)

    def host_set_status(self, instance_id: int, actual_status: str | None, status_msg: str | None) -> None:
        with self._mutating():
            _, instance = self._owned_instance(instance_id)
            instance.status_override = {"actual_status": actual_status, "status_msg": status_msg}

    def set_endpoint_load(self, endpoint_id: int, load: float) -> JsonDict:
        """The traffic an endpoint serves (workers' worth); its workers follow at once."""
        with self._mutating():
            endpoint = self._find_any("endpoints", endpoint_id)
            assert isinstance(endpoint, Endpoint)
            now = self.clock()
            if endpoint.load > 0:  # the load ends now: inactivity counts from here
                endpoint.last_activity = now
            endpoint.load = float(load)
            autoscaler.note_activity(endpoint, now)
            goal = autoscaler.targets(endpoint, now)
            return {
                "endpoint_id": endpoint_id,
                "load": endpoint.load,
                "wanted_workers": goal.total,
                "active_workers": goal.active,
            }

    def set_workers(self, enabled: bool) -> None:
        """Turn the autoscaler on or off; workers already recruited stay (they are instances)."""
        with self._mutating():
            self.workers = enabled

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


def _signed_for(grant: JsonDict, worker_id: int, secret: bytes) -> bool:
    signature, url = grant.get("signature"), grant.get("url")
    if not isinstance(signature, str) or not isinstance(url, str):
        return False
    mine = url.endswith(route.WORKER_PATH.format(id=worker_id))
    return mine and secrets.compare_digest(route.sign(secret, grant), signature)
