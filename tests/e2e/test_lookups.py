"""The lookups answer at ``pulumi preview``, through the real CLI against the emulator."""

from __future__ import annotations

import re

from tests.e2e.conftest import ProjectFactory
from tests.e2e.lifecycle import API_KEY, emulator, make_stack
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

__all__ = ["emulator"]  # the fixture, imported


LOOKUP_PROGRAM = """
import pulumi
from vast_pulumi import get_instances, get_templates, get_user, get_volume_offers

user = get_user()
pulumi.export("account", user.id)
pulumi.export("credit", user.credit)
pulumi.export("templates", len(get_templates("name=anything")))
pulumi.export("instances", len(get_instances(label="dev")))
pulumi.export("cheapest_volume_cost", get_volume_offers("reliability>0.9", size=100)[0]["storage_cost"])
"""


def test_lookups_answer_at_preview(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator
) -> None:
    stack = make_stack(local_backend, make_project, emulator, "lookups", LOOKUP_PROGRAM, {})
    before = len(emulator.request_log())
    printed = stack.preview().stdout
    account = emulator.backend.authenticate(API_KEY)
    cheapest = min(
        o["storage_cost"]
        for o in emulator.backend.state.volume_offers.values()
        if o["reliability"] > 0.9 and o["disk_space"] >= 100 and o["verified"] and not o["external"]
    )
    assert re.search(rf"account\s*:\s*{account.user_id}\b", printed), printed
    assert re.search(rf"cheapest_volume_cost\s*:\s*{cheapest}\b", printed), printed
    routes = {(r["method"], r["route"]) for r in emulator.request_log()[before:]}
    assert ("POST", "/api/v0/volumes/search/") in routes and ("GET", "/api/v0/template/") in routes


# -- bad input, at preview ----------------------------------------------------------------------------------
