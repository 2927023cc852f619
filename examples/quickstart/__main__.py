"""Quickstart: a serverless endpoint, a workergroup that recruits RTX 4090 workers for it from a
template, and a GPU instance rented from the cheapest offer matching a query.

Configuration: `vast:apiKey` (secret) and, to use the emulator, `vast:apiUrl`.
"""

import pulumi

from vast_pulumi import Endpoint, Instance, Template, Workergroup

endpoint = Endpoint(
    "inference",
    max_workers=4,
    cold_workers=1,
    target_util=0.9,
    inactivity_timeout=600,
)

# The workers' image and machines: Vast's SDK and CLI require a workergroup to name a template.
vllm = Template(
    "vllm",
    image="vllm/vllm-openai",
    tag="latest",
    extra_filters="gpu_name=RTX_4090 num_gpus=1 reliability>0.95",
    disk=64,
)

workers = Workergroup(
    "rtx-4090-workers",
    endpoint_id=endpoint.id,
    template_hash=vllm.hash_id,
    gpu_ram=24,
)

dev_box = Instance(
    "dev-box",
    offer_query="gpu_name=RTX_4090 num_gpus=1 reliability>0.95",
    order="dph_total",
    image="pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
    disk=32,
    label="quickstart-dev-box",
)

pulumi.export("endpoint_id", endpoint.id)
pulumi.export("endpoint_name", endpoint.endpoint_name)
pulumi.export("workergroup_id", workers.id)
pulumi.export("instance_id", dev_box.id)
pulumi.export("gpu", pulumi.Output.concat(dev_box.num_gpus.apply(str), "x ", dev_box.gpu_name))
pulumi.export("dph_total", dev_box.dph_total)
pulumi.export("ssh", dev_box.ssh_command)
