"""A model team's stack: recruits workers for the endpoint the `platform` stack exports.

Config `platformStack` names the platform stack (default: the same stack name as this one);
on a self-managed backend the organization is literally `organization`.
"""

import pulumi

from vast_pulumi import Workergroup

config = pulumi.Config()
platform_stack = config.get("platformStack") or pulumi.get_stack()
platform = pulumi.StackReference(f"organization/platform/{platform_stack}")

workers = Workergroup(
    "llm-workers",
    endpoint_name=platform.require_output("endpoint_name"),
    search_params="gpu_name=RTX_4090 num_gpus=1",
    launch_args="--image vllm/vllm-openai:latest --disk 64",
    gpu_ram=24,
)

pulumi.export("workergroup_id", workers.id)
pulumi.export("endpoint_id", workers.endpoint_id)
