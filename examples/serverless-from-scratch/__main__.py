"""Serverless from scratch: a whole vLLM inference service on Vast.ai in one program.

Your SSH key and a Hugging Face token go on the account; a template says how a vLLM worker runs; an
endpoint and its workergroup serve requests with workers made from that template; a dev box made from
the same template, with your key on it, is there to try things by hand.

Configuration: `vast:apiKey` (secret), `sshPublicKey` (your `~/.ssh/id_ed25519.pub` line), `hfToken`
(secret), optionally `model` and, to use the emulator, `vast:apiUrl`.
"""

import pulumi

from vast_pulumi import Endpoint, EnvVar, Instance, SshKey, Template, Workergroup

config = pulumi.Config()
model = config.get("model") or "Qwen/Qwen3-8B"
machines = "gpu_ram>=24 num_gpus=1 reliability>0.98"

key = SshKey("my-key", public_key=config.require("sshPublicKey"))

# An account env var: every instance of the account can read $HF_TOKEN; the value stays secret.
hf_token = EnvVar("hf-token", name="HF_TOKEN", value=config.require_secret("hfToken"))

vllm = Template(
    "vllm-worker",
    image="vllm/vllm-openai",
    tag="v0.9.2",
    env={"MODEL_NAME": model, "HF_HOME": "/workspace/hf"},
    ports=["8000"],
    onstart="vllm serve $MODEL_NAME --port 8000 --max-model-len 8192 > /var/log/vllm.log 2>&1 &",
    runtype="ssh",  # the container runs the on-start script, and is reachable over SSH
    extra_filters=machines,
    disk=64,
    readme="vLLM OpenAI-compatible server for $MODEL_NAME on port 8000.",
)

endpoint = Endpoint("inference", max_workers=4, cold_workers=1, inactivity_timeout=600)

# Workers need the token when they start: make it before the group recruits any.
needs_token = pulumi.ResourceOptions(depends_on=[hf_token])

workers = Workergroup("vllm-workers", endpoint_id=endpoint.id, template_hash=vllm.hash_id, opts=needs_token)

dev_box = Instance(
    "dev-box",
    offer_query=machines,
    template_hash_id=vllm.hash_id,
    disk=64,
    label="vllm-dev-box",
    ssh_key_ids=[key.key_id],
    opts=needs_token,
)

pulumi.export("endpoint_name", endpoint.endpoint_name)
pulumi.export("template_hash", vllm.hash_id)
pulumi.export("ssh_key_fingerprint", key.fingerprint)
pulumi.export("dev_box_id", dev_box.id)
pulumi.export(
    "ssh_command",
    pulumi.Output.all(dev_box.ssh_host, dev_box.ssh_port).apply(lambda hp: f"ssh -p {hp[1]} root@{hp[0]}"),
)
