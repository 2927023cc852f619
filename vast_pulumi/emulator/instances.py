"""GPU instances: renting an offer (``PUT /asks/{id}/``), managing and destroying the instance."""

from __future__ import annotations

import secrets
from typing import Any

from vast_pulumi.emulator import catalogue, templates
from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.models import Account, Instance, JsonDict, State, Template
from vast_pulumi.emulator.schemas import (
    BidBody,
    CreateInstanceBody,
    ManageInstanceBody,
    UpdateTemplateOfInstanceBody,
    env_dict,
    parse,
)


def create(state: State, account: Account, offer_id: int, body: dict[str, Any], now: float) -> JsonDict:
    """Rent the offer; ``{"success": true, "new_contract": id, "instance_api_key": ...}``."""
    try:
        return _create(state, account, offer_id, body, now)
    except ApiError as error:
        error.extra.setdefault("ask_id", offer_id)  # every create error names the offer
        raise


def _create(state: State, account: Account, offer_id: int, body: dict[str, Any], now: float) -> JsonDict:
    if offer_id not in state.offers:
        raise ApiError(404, "no_such_ask", f"Instance type by id {offer_id} is not available.")
    request = parse(CreateInstanceBody, body)
    template = _template(state, account, request)
    config = _configuration(request, template)
    offer = state.offers[offer_id]
    if request.price is not None and request.price < offer["min_bid"]:
        raise ApiError(
            400,
            "invalid_price",
            f"Your bid of {request.price} is below the minimum bid of {offer['min_bid']} for this offer.",
        )
    catalogue.take_offer(state, offer_id)
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
    account.instances[instance.id] = instance
    return {"success": True, "new_contract": instance.id, "instance_api_key": instance.instance_api_key}


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
    instance = account.instances.get(instance_id)
    if instance is None:
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


def change_bid(account: Account, instance_id: int, body: dict[str, Any]) -> None:
    instance = find(account, instance_id)
    price = parse(BidBody, body).price
    instance.price = price if price is not None else instance.offer["min_bid"]


def destroy(account: Account, instance_id: int) -> None:
    find(account, instance_id)
    del account.instances[instance_id]
