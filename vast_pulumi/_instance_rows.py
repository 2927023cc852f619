"""Reading an instance as the API lists it: its status and why it will not get there, its marker, its
bid, how to reach it.

Pure functions of one row (``GET /instances/`` or ``GET /instances/{id}/``), shared by the machine
engine (:mod:`vast_pulumi._instances`, for an Instance and a Fleet's members), a Fleet's health and the
orphan finder; rows come as the API sends them, so every field may be missing or of another type.
"""

from __future__ import annotations

from typing import Any

from vast_pulumi.client import Row

__all__ = [
    "MARKER_ENV",
    "actual_status",
    "bid_of",
    "describe_status",
    "env_of",
    "host_ports",
    "instance_failure",
    "int_or_none",
    "is_live",
    "machine_never_started",
    "marker_of",
    "ssh_command",
    "ssh_key_words",
]

# The environment variable in which each instance carries its resource's marker.
MARKER_ENV = "VAST_PULUMI_MARKER"
# status_msg words that mean the container failed (those the official client's wait looks for).
_ERROR_WORDS = ("error", "failed", "failure", "exception", "traceback", "oci runtime", "permission denied")
# States of an instance on its way out (the official client's and the API's spellings): it no longer
# counts as this resource's instance, even while the list still shows it.
_GOING_STATES = frozenset({"destroyed", "destroying", "deleted", "deleting", "terminated", "unloaded"})


# -- status ---------------------------------------------------------------------------------------------


def actual_status(row: Row) -> str | None:
    status = row.get("actual_status")
    return str(status) if status is not None else None


def describe_status(row: Row) -> str:
    actual = actual_status(row)
    status = "not started yet" if actual is None else f"status {actual!r}"
    return f"{status}: {row.get('status_msg')}" if row.get("status_msg") else status


def instance_failure(row: Row, target: str, *, starting: bool = False) -> str | None:
    """Why waiting longer for ``target`` is pointless (exited, offline, an error, outbid), or None.

    ``starting``: the instance may begin stopped or exited (adopted, or restarted by an update), so
    those states are not failures.
    """
    message = str(row.get("status_msg") or "")
    actual = actual_status(row)
    if target == "running":
        outbid = _outbid(row)
        if outbid:
            return outbid
        if actual in ("offline", "unknown") or (actual == "exited" and not starting):
            return describe_status(row)
        if any(word in message.lower() for word in _ERROR_WORDS):
            return describe_status(row)
    if row.get("intended_status") not in (None, target) and not starting:
        return f"the API says it is meant to be {row.get('intended_status')!r}"
    return None


def machine_never_started(row: Row | None) -> bool:
    """Whether the machine, not the container, failed the instance: it never left ``created`` and
    reports an error (a double rent of a machine another renter holds: "OCI runtime create failed").
    Another offer may then work; a container that started and failed (a wrong image, onstart) would
    fail on every machine, and an offline machine may come back."""
    if row is None:
        return False
    message = str(row.get("status_msg") or "").lower()
    return actual_status(row) == "created" and any(word in message for word in _ERROR_WORDS)


def is_live(row: Row) -> bool:
    """Not on its way out, as far as the row says (see :meth:`vast_pulumi._instances.InstanceOps.is_live`
    for what this process destroyed)."""
    states = (row.get(key) for key in ("actual_status", "intended_status", "cur_state", "next_state"))
    return not any(str(state).lower() in _GOING_STATES for state in states if state is not None)


# -- the bid --------------------------------------------------------------------------------------------


def bid_of(row: Row) -> float | None:
    """An interruptible instance's bid ($/hour): the API names no field for it; the rented price's
    ``search.gpuCostPerHour`` is it (openapi.yaml Instance schema)."""
    search = row.get("search")
    value = search.get("gpuCostPerHour") if isinstance(search, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _outbid(row: Row) -> str | None:
    """Why an interruptible instance is stopped by the market, or None: its bid is below the
    machine's current minimum, and it will not start until ``price`` is raised."""
    bid, minimum = bid_of(row), row.get("min_bid")
    if row.get("is_bid") is not True or bid is None or not isinstance(minimum, int | float):
        return None
    if bid >= minimum:
        return None
    return (
        f"outbid: its bid of {bid:g} $/h is below the machine's current minimum bid of {minimum:g} $/h; "
        "raise price to run it again"
    )


# -- environment and marker -----------------------------------------------------------------------------


def env_of(row: Row) -> dict[str, str]:
    """``extra_env`` comes as ``[[key, value], ...]`` (sometimes as a dict)."""
    env = row.get("extra_env")
    if isinstance(env, dict):
        return {str(k): str(v) for k, v in env.items()}
    if isinstance(env, list):
        return {
            str(pair[0]): str(pair[1]) for pair in env if isinstance(pair, list | tuple) and len(pair) == 2
        }
    return {}


def marker_of(row: Row) -> str | None:
    """The vast-pulumi marker an instance row carries in its environment, if any."""
    return env_of(row).get(MARKER_ENV)


# -- reaching it ----------------------------------------------------------------------------------------


def host_ports(ports: Any) -> dict[str, str]:
    """``{"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": "41022"}, ...]}`` -> ``{"22/tcp": "41022"}``."""
    if not isinstance(ports, dict):
        return {}
    mapped = {}
    for container_port, bindings in ports.items():
        if not isinstance(bindings, list) or not bindings:
            continue
        ipv4 = [b for b in bindings if isinstance(b, dict) and ":" not in str(b.get("HostIp", ""))]
        chosen = (ipv4 or bindings)[0]
        if isinstance(chosen, dict) and chosen.get("HostPort") is not None:
            mapped[str(container_port)] = str(chosen["HostPort"])
    return mapped


def ssh_command(row: Row) -> str | None:
    """``ssh -p PORT root@HOST``, by the official client's rule (``vastai ssh-url``): with a ``22/tcp``
    port mapping, the machine's ``public_ipaddr`` on its host port; else ``ssh_host`` on ``ssh_port``,
    one higher for jupyter runtypes. None when the row does not say."""
    ports = row.get("ports")
    mapping = ports.get("22/tcp") if isinstance(ports, dict) else None
    if mapping is not None:
        host, port = row.get("public_ipaddr"), int_or_none(_host_port(mapping))
    else:
        host, port = row.get("ssh_host"), int_or_none(row.get("ssh_port"))
        if port is not None and "jupyter" in str(row.get("image_runtype") or ""):
            port += 1
    if not host or port is None or port <= 0:
        return None
    return f"ssh -p {port} root@{host}"


def _host_port(bindings: Any) -> Any:
    first = bindings[0] if isinstance(bindings, list) and bindings else None
    return first.get("HostPort") if isinstance(first, dict) else None


def ssh_key_words(row: Row) -> list[str]:
    """An SSH key row's text as words (account lists name it ``key``, instance lists ``public_key``)."""
    return str(row.get("key") or row.get("public_key") or "").split()


def int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
