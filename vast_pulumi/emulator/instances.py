"""GPU instances: renting an offer (``PUT /asks/{id}/``), managing and destroying the instance."""

from __future__ import annotations

import secrets
from typing import Any, NoReturn

from vast_pulumi.emulator import catalogue, lifecycle, templates
from vast_pulumi.emulator.errors import ApiError, invalid_args
from vast_pulumi.emulator.models import Account, Instance, JsonDict, State, Template
from vast_pulumi.emulator.schemas import (
    BidBody,
    CreateInstanceBody,
    ManageInstanceBody,
    UpdateTemplateOfInstanceBody,
    env_dict,
    parse,
)

# The bounds of a bid (openapi.yaml:527-532, PUT /instances/bid_price/{id}).
MIN_BID = 0.001
MAX_BID = 32.0
# The error in the status message of a second rent of a machine that is already rented (double
# rents, ``--double-rent``). Not from a source: the sources say only that the launch fails silently.
DOUBLE_RENT_MSG = (
    "Error response from daemon: failed to create task for container: OCI runtime create failed: "
    "the GPUs of machine {machine_id} are held by instance {holder}"
)
# A rent that waits for a busy machine's GPUs: left stopped (cancel_unavail's description, OpenAPI
# 1692-1696: it cancels "if instance cannot start immediately"). The message is ours.
WAITING = {
    "actual_status": "stopped",
    "cur_state": "stopped",
    "status_msg": "Waiting for the machine's GPUs to become available.",
}


def create(
    state: State,
    account: Account,
    offer_id: int,
    body: dict[str, Any],
    now: float,
    *,
    double_rent: bool = False,
) -> JsonDict:
    """Rent the offer; ``{"success": true, "new_contract": id, "instance_api_key": ...}``."""
    try:
        return _create(state, account, offer_id, body, now, double_rent=double_rent)
    except ApiError as error:
        error.extra.setdefault("ask_id", offer_id)  # every create error names the offer
        raise


def _create(
    state: State, account: Account, offer_id: int, body: dict[str, Any], now: float, *, double_rent: bool
) -> JsonDict:
    holder = _holder(state, offer_id) if double_rent and offer_id not in state.offers else None
    if offer_id not in state.offers and holder is None:
        raise catalogue.no_such_ask(offer_id)
    request = parse(CreateInstanceBody, body)
    template = _template(state, account, request)
    config = _configuration(request, template)
    offer = state.offers[offer_id] if holder is None else state.rented_offers[offer_id]["offer"]
    _check_disk(request, offer)
    busy = holder is None and offer["machine_id"] in state.busy_machines
    if busy and _cancels_when_unavailable(request):
        raise _no_longer_available(offer_id)
    instance = Instance(
        id=state.next_id("instance"),
        user_id=account.user_id,
        offer=catalogue.render_offer(offer, storage=request.disk, bid=request.price is not None),
        disk=request.disk,
        label=request.label,
        jupyter_token=secrets.token_hex(32),
        instance_api_key=secrets.token_hex(32),
        start_date=now,
        intended_status=request.target_state or "running",
        phase_started=now,
        price=request.price,
        image_login=request.image_login,
        template_id=template.id if template else None,
        template_hash_id=template.hash_id if template else None,
        template_name=template.content.get("name") if template else None,
        **config,
    )
    if request.price is not None and request.price < offer["min_bid"]:
        _outbid_at_birth(account, instance, offer)
    if holder is not None:
        # The server does not know yet that the machine is taken: cancel_unavail does not apply.
        message = DOUBLE_RENT_MSG.format(machine_id=offer["machine_id"], holder=holder.id)
        instance.unschedulable = {"actual_status": "created", "cur_state": "running", "status_msg": message}
    else:
        catalogue.take_offer(state, offer_id, holder=instance.id)
        instance.unschedulable = dict(WAITING) if busy else None
    account.instances[instance.id] = instance
    return {"success": True, "new_contract": instance.id, "instance_api_key": instance.instance_api_key}


def _outbid_at_birth(account: Account, instance: Instance, offer: JsonDict) -> NoReturn:
    """A bid below the offer's minimum: Vast still creates the interruptible instance, stopped, and
    answers an error that carries its id (dstack ``backends/vastai/api_client.py``,
    ``VastAICreateInstanceError.created_instance_id``, #4036). The status and code are the OpenAPI
    400's (openapi.yaml:1793-1815, ``invalid_price``). The offer stays on the market: the stopped
    instance holds no GPU."""
    instance.intended_status = "stopped"
    account.instances[instance.id] = instance
    raise ApiError(
        400,
        "invalid_price",
        f"Your bid of {instance.price} is below the minimum bid of {offer['min_bid']} for this offer.",
        new_contract=instance.id,
    )


def _holder(state: State, offer_id: int) -> Instance | None:
    """The instance (any account's) holding a rented offer's machine, while it exists."""
    rented = state.rented_offers.get(offer_id)
    if rented is None:
        return None
    holder = int(rented["holder"])
    return next((a.instances[holder] for a in state.accounts.values() if holder in a.instances), None)


def _cancels_when_unavailable(request: CreateInstanceBody) -> bool:
    """``cancel_unavail`` as sent, else its default: false for interruptibles, true for on-demand
    with target_state running (openapi.yaml:1692-1696)."""
    if request.cancel_unavail is not None:
        return request.cancel_unavail
    return request.price is None and (request.target_state or "running") == "running"


def _no_longer_available(offer_id: int) -> ApiError:
    """The 410 of a rent that ``cancel_unavail`` cancels because the machine's GPUs are busy
    (openapi.yaml:1862-1878)."""
    return ApiError(
        410, "no_such_ask", f"error 410/3907: no_such_ask Instance type {offer_id} is no longer available."
    )


def _check_disk(request: CreateInstanceBody, offer: JsonDict) -> None:
    """A disk larger than the machine has. The sources give no error for it; a 400 ``invalid_args``
    naming the field, as the API answers other bad arguments."""
    if request.disk > offer["disk_space"]:
        raise invalid_args(
            "disk", f"{request.disk:g} GB is more than the offer's disk_space of {offer['disk_space']:g} GB"
        )


def _template(state: State, account: Account, request: CreateInstanceBody) -> Template | None:
    if request.template_hash_id is None and request.template_id is None:
        if request.image is None:
            raise ApiError(
                400, "invalid_args", "Invalid args: image: an image or a template_hash_id is required"
            )
        return None
    try:
        return templates.resolve(
            state, account, hash_id=request.template_hash_id, template_id=request.template_id
        )
    except ApiError as error:
        raise ApiError(400, "invalid_args", error.msg.replace("template_hash", "template_hash_id")) from None


def _configuration(request: CreateInstanceBody, template: Template | None) -> dict[str, Any]:
    """Image, env, onstart, args and runtype: the request's, over the template's."""
    base = template.content if template else {}
    image = request.image or _template_image(base)
    env = {**env_dict(base.get("env"), "template.env"), **env_dict(request.env)}
    args = request.args if request.args is not None else _split(request.args_str or base.get("args_str"))
    runtype = request.runtype or _template_runtype(base) or ("args" if args is not None else "ssh")
    return {
        "image": image,
        "env": env,
        "onstart": request.onstart if request.onstart is not None else base.get("onstart"),
        "args": args,
        "runtype": runtype,
    }


def _template_image(content: dict[str, Any]) -> str | None:
    image, tag = content.get("image"), content.get("tag")
    return f"{image}:{tag}" if image and tag else image


def _template_runtype(content: dict[str, Any]) -> str | None:
    runtype = content.get("runtype")
    if runtype == "ssh":
        return "ssh_direc ssh_proxy" if content.get("ssh_direct") else "ssh_proxy"
    if runtype == "jupyter":
        return "jupyter_direc ssh_direc ssh_proxy" if content.get("jup_direct") else "jupyter_proxy ssh_proxy"
    return str(runtype) if runtype else None


def _split(args_str: str | None) -> list[str] | None:
    return args_str.split() if args_str else None


def find(account: Account, instance_id: int) -> Instance:
    """The instance to act on. One being destroyed is gone for every change but a repeated DELETE
    (sources silent; this way a start or label sent meanwhile fails loudly)."""
    instance = account.instances.get(instance_id)
    if instance is None or instance.destroying_since is not None:
        raise ApiError(404, "not_found", f"Instance {instance_id} not found.")
    return instance


def manage(account: Account, instance_id: int, body: dict[str, Any], now: float) -> None:
    """``PUT /instances/{id}/``: start, stop and/or label."""
    instance = find(account, instance_id)
    request = parse(ManageInstanceBody, body)
    if request.label is not None:
        instance.label = request.label
    if request.state is not None:
        set_state(instance, request.state, now)


def set_state(instance: Instance, wanted: str, now: float) -> None:
    already = instance.intended_status == wanted and instance.status_override is None
    if already:
        return
    instance.intended_status = wanted
    instance.status_override = None
    if wanted == "running":
        restart(instance, now)


def restart(instance: Instance, now: float) -> None:
    """Reboot, recycle, a start after a stop, a new template: load the image again."""
    instance.phase_started = now
    instance.first_boot = False
    instance.status_override = None


def update_template(
    state: State, account: Account, instance_id: int, body: dict[str, Any], now: float
) -> None:
    instance = find(account, instance_id)
    request = parse(UpdateTemplateOfInstanceBody, body)
    if request.template_hash_id is not None or request.template_id is not None:
        template = templates.resolve(
            state, account, hash_id=request.template_hash_id, template_id=request.template_id
        )
        instance.template_id, instance.template_hash_id = template.id, template.hash_id
        instance.template_name = template.content.get("name")
        instance.image = _template_image(template.content) or instance.image
    if request.image is not None:
        instance.image = request.image
    if request.env is not None:
        instance.env = env_dict(request.env)
    if request.onstart is not None:
        instance.onstart = request.onstart
    if request.args is not None:
        instance.args = request.args.split() if isinstance(request.args, str) else request.args
    restart(instance, now)


def change_bid(account: Account, instance_id: int, body: dict[str, Any], now: float) -> None:
    """``PUT /instances/bid_price/{id}/`` ``{"client_id": "me", "price": P}`` (openapi.yaml:497-588).
    No price (the CLI sends null when ``--price`` is not given) bids the current minimum. An instance
    that was outbid and is meant to run starts again once its bid is high enough."""
    instance = account.instances.get(instance_id)
    if instance is None or instance.destroying_since is not None:
        raise ApiError(404, "no_such_instance", "Instance with that ID does not exist.")
    price = parse(BidBody, body).price
    if price is not None and not MIN_BID <= price <= MAX_BID:
        # The spec's example message for the lower bound; the upper bound's wording is ours.
        bound = f">= {MIN_BID}" if price < MIN_BID else f"<= {MAX_BID}"
        raise ApiError(400, "invalid_args", f"Please set a bid price {bound}.")
    was_outbid = lifecycle.outbid(instance)
    instance.price = price if price is not None else instance.offer["min_bid"]
    if was_outbid and not lifecycle.outbid(instance) and instance.intended_status == "running":
        restart(instance, now)


def outbid(instance: Instance, min_bid: float | None) -> None:
    """The market outbids an interruptible instance: its machine's minimum bid rises above the bid
    (to ``min_bid`` if given), and the instance stops with ``intended_status`` stopped."""
    if instance.price is None:
        raise invalid_args(
            "instance", f"{instance.id} is on-demand; only an interruptible instance can be outbid"
        )
    new_minimum = min_bid if min_bid is not None else round(instance.price * 1.1 + 0.01, 4)
    if new_minimum <= instance.price:
        raise invalid_args("min_bid", f"{new_minimum} does not outbid the instance's bid of {instance.price}")
    instance.offer["min_bid"] = new_minimum
    instance.intended_status = "stopped"
    instance.status_override = None


def set_machine_busy(state: State, machine_id: int, busy: bool, now: float) -> None:
    """The machine's GPUs are busy (rents cannot start on it) or free again: the rents that waited
    for them start."""
    known = {o["machine_id"] for o in state.offers.values()} | {
        i.offer["machine_id"] for a in state.accounts.values() for i in a.instances.values()
    }
    if machine_id not in known:
        raise ApiError(404, "not_found", f"No machine {machine_id}")
    if busy:
        state.busy_machines = sorted({*state.busy_machines, machine_id})
        return
    state.busy_machines = [m for m in state.busy_machines if m != machine_id]
    for account in state.accounts.values():
        for instance in account.instances.values():
            if instance.offer["machine_id"] == machine_id and instance.unschedulable == WAITING:
                instance.unschedulable = None
                restart(instance, now)


def destroy(
    account: Account, instance_id: int, now: float, *, linger: bool, gone_error: str = "not_found"
) -> None:
    """DELETE: with ``linger``, the instance is only marked; the backend removes it later. An instance
    that is gone answers 404 with ``gone_error`` (reading ``delete_gone_error``, audit D3)."""
    instance = account.instances.get(instance_id)
    if instance is None:
        if gone_error == "no_such_instance":  # openapi.yaml:568-577's words for it
            raise ApiError(404, "no_such_instance", "Instance with that ID does not exist.")
        raise ApiError(404, "not_found", f"Instance {instance_id} not found.")
    if not linger:
        del account.instances[instance_id]
    elif instance.destroying_since is None:
        instance.destroying_since = now
