"""Templates (``/api/v0/template/``): content-addressed, deduplicated, re-hashed on every edit.

``id`` is a stable key; ``hash_id`` names a version. Creating a template whose content equals one
of the caller's own returns that template. Public templates (``private: false``) are visible to
every account; private ones only to their creator.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from vast_pulumi.emulator.errors import ApiError, invalid_args
from vast_pulumi.emulator.matching import FilterError, matches
from vast_pulumi.emulator.models import Account, JsonDict, State, Template
from vast_pulumi.emulator.schemas import DeleteTemplateBody, TemplateBody, parse

# Never shown in a row: registry credentials.
SECRET_FIELDS = ("docker_login_user", "docker_login_pass")
DEFAULTS: JsonDict = {
    "name": None,
    "image": None,
    "tag": None,
    "env": None,
    "onstart": None,
    "runtype": "args",
    "args_str": None,
    "ssh_direct": False,
    "jup_direct": False,
    "use_ssh": False,
    "use_jupyter_lab": False,
    "jupyter_dir": None,
    "docker_login_repo": None,
    "extra_filters": {},
    "recommended_disk_space": None,
    "readme": None,
    "readme_visible": True,
    "desc": None,
    "href": None,
    "repo": None,
    "private": True,
}


def row(template: Template) -> JsonDict:
    content = {k: v for k, v in template.content.items() if k not in SECRET_FIELDS}
    return {
        **content,
        "id": template.id,
        "hash_id": template.hash_id,
        "creator_id": template.creator_id,
        "created_at": template.created_at,
        "default_tag": content.get("tag"),
        "count_created": 0,
        "recent_create_date": None,
        "recommended": False,
    }


def _hash(content: Mapping[str, Any], revision: int) -> str:
    canonical = json.dumps({"content": content, "revision": revision}, sort_keys=True, default=str)
    return hashlib.md5(canonical.encode()).hexdigest()


def _content(body: dict[str, Any], base: Mapping[str, Any]) -> JsonDict:
    given = parse(TemplateBody, body).given()
    given.pop("id", None)
    given.pop("hash_id", None)
    return {**base, **given}


def create(state: State, account: Account, body: dict[str, Any], now: float) -> tuple[JsonDict, bool]:
    """The new (or identical existing) template's row, and whether it was new."""
    content = _content(body, DEFAULTS)
    if not content.get("image"):
        raise invalid_args("image", "a template needs an image")
    digest = _hash(content, 0)
    for template in state.templates.values():
        if template.creator_id == account.user_id and template.hash_id == digest:
            return row(template), False
    template = Template(state.next_id("template"), digest, account.user_id, now, content)
    state.templates[template.id] = template
    return row(template), True


def visible(state: State, account: Account) -> list[Template]:
    return [
        t
        for t in sorted(state.templates.values(), key=lambda t: t.id)
        if t.creator_id == account.user_id or not t.content.get("private", True)
    ]


def search(state: State, account: Account, filters: Mapping[str, Any]) -> list[JsonDict]:
    rows = [row(t) for t in visible(state, account)]
    try:
        return [r for r in rows if matches(r, filters)]
    except FilterError as error:
        raise ApiError(400, "invalid_request", str(error)) from None


def resolve(state: State, account: Account, *, hash_id: str | None, template_id: int | None) -> Template:
    """The visible template named by hash or id (the caller's own first), else 400."""
    candidates = visible(state, account)
    candidates.sort(key=lambda t: t.creator_id != account.user_id)
    for template in candidates:
        if (hash_id is not None and template.hash_id == hash_id) or (
            hash_id is None and template_id is not None and template.id == template_id
        ):
            return template
    field, value = ("template_hash", hash_id) if hash_id is not None else ("template_id", template_id)
    raise invalid_args(field, f"no template {value!r} is visible to this account")


def _own(state: State, account: Account, *, hash_id: Any, template_id: Any) -> Template:
    for template in state.templates.values():
        if template.creator_id == account.user_id and (
            (hash_id is not None and template.hash_id == hash_id)
            or (template_id is not None and template.id == template_id)
        ):
            return template
    raise ApiError(404, "not_found", "Template not found")


def edit(state: State, account: Account, body: dict[str, Any]) -> JsonDict:
    template = _own(state, account, hash_id=body.get("hash_id"), template_id=body.get("id"))
    content = _content(body, template.content)
    template.revision += 1
    template.content = content
    template.hash_id = _hash(content, template.revision)
    return row(template)


def delete(state: State, account: Account, body: dict[str, Any]) -> None:
    names = parse(DeleteTemplateBody, body)
    if names.hash_id is None and names.template_id is None:
        raise invalid_args("template_id", "name the template by template_id or hash_id")
    template = _own(state, account, hash_id=names.hash_id, template_id=names.template_id)
    del state.templates[template.id]
