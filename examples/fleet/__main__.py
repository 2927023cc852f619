"""A fleet of GPU machines: ``count`` members on distinct machines, within a budget per hour.

Config (all optional): ``count`` (default 4), ``image``, ``budget`` ($/h for the whole fleet).
"""

import pulumi

from vast_pulumi import Fleet

config = pulumi.Config()

trainers = Fleet(
    "trainers",
    count=config.get_int("count") or 4,
    offer_query="gpu_name=RTX_4090 num_gpus=1 reliability>0.95",
    image=config.get("image") or "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
    disk=32,
    spread="machine",
    max_dph_total=config.get_float("budget") or 4.0,
    # An image change rents up to 2 new machines beyond count at once, and keeps count - 1 running.
    rollout={"max_unavailable": 1, "max_surge": 2},
    label_prefix="trainer",
)

pulumi.export("ssh", trainers.ssh_commands)
pulumi.export("instance_ids", trainers.instance_ids)
pulumi.export("ready", trainers.ready_count)
pulumi.export("dph_total", trainers.dph_total)
