"""The platform team's stack: owns the serverless endpoint and exports how to reach it."""

import pulumi

from vast_pulumi import Endpoint

endpoint = Endpoint("shared-inference", max_workers=8, cold_workers=0, min_load=0, inactivity_timeout=300)

pulumi.export("endpoint_id", endpoint.id)
pulumi.export("endpoint_name", endpoint.endpoint_name)
# The endpoint's own key: what a caller of the endpoint needs, and nothing of the account. A secret
# output stays a secret in every stack that reads it.
pulumi.export("endpoint_api_key", endpoint.api_key)
