"""The platform team's stack: owns the serverless endpoint and exports how to reach it."""

import pulumi

from vast_pulumi import Endpoint

endpoint = Endpoint("shared-inference", max_workers=8, cold_workers=0, min_load=0, inactivity_timeout=300)

pulumi.export("endpoint_id", endpoint.id)
pulumi.export("endpoint_name", endpoint.endpoint_name)
