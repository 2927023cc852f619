"""Multi-cloud: a serverless inference service on Vast.ai and its HTTP gateway on Kubernetes.

Vast side: a vLLM template, an endpoint and the workergroup that recruits its workers. Kubernetes side:
the gateway (gateway.py beside this file) as a Deployment and a Service; the endpoint's name in a
ConfigMap, its key in a Secret, both mounted into the gateway's pods.

By default nothing talks to a cluster: the Kubernetes provider renders the manifests into `renderDir`
(default `rendered/`), for `kubectl apply -f` or a GitOps repository. Set `kubeContext` to a context of
your kubeconfig and the same resources are applied to that cluster instead.

Configuration: `vast:apiKey` (secret); optional `kubeContext`, `renderDir`, `namespace`, `model`,
`endpointName`, `gatewayReplicas`, `routeUrl`, and `vast:apiUrl` for the emulator.
"""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from vast_pulumi import Endpoint, Template, Workergroup

config = pulumi.Config()
model = config.get("model") or "Qwen/Qwen3-8B"
namespace = config.get("namespace") or "default"
replicas = config.get_int("gatewayReplicas")

# --- Vast.ai: the inference service ----------------------------------------------------------------
vllm = Template(
    "vllm-worker",
    image="vllm/vllm-openai",
    tag="v0.9.2",
    env={"MODEL_NAME": model, "HF_HOME": "/workspace/hf"},
    ports=["8000"],
    onstart="vllm serve $MODEL_NAME --port 8000 --max-model-len 8192 > /var/log/vllm.log 2>&1 &",
    extra_filters="gpu_ram>=24 num_gpus=1 reliability>0.98",
    disk=64,
)
# Renaming the endpoint (config `endpointName`) replaces it on Vast; the new name reaches the ConfigMap.
endpoint = Endpoint(
    "inference",
    endpoint_name=config.get("endpointName"),
    max_workers=4,
    cold_workers=1,
    inactivity_timeout=600,
)
workers = Workergroup("vllm-workers", endpoint_id=endpoint.id, template_hash=vllm.hash_id)

# --- Kubernetes: the gateway -----------------------------------------------------------------------
# One config value picks where the manifests go. ConfigMaps and Secrets are updated in place (the
# provider's default replaces them under a new name, which would also roll the Deployment): the pods
# mount both, and Kubernetes refreshes mounted files in running pods.
kube_context = config.get("kubeContext")
cluster = k8s.Provider(
    "gateway-cluster",
    context=kube_context,
    render_yaml_to_directory=None if kube_context else config.get("renderDir") or "rendered",
    enable_config_map_mutable=True,
    enable_secret_mutable=True,
)
on_cluster = pulumi.ResourceOptions(provider=cluster)
labels = {"app": "inference-gateway"}
meta = {"namespace": namespace, "labels": labels}

settings = k8s.core.v1.ConfigMap(
    "gateway-config",
    metadata={**meta, "name": "inference-gateway"},
    data={
        "endpoint_name": endpoint.endpoint_name,
        "route_url": config.get("routeUrl") or "https://run.vast.ai",
        "gateway.py": (Path(__file__).parent / "gateway.py").read_text(),
    },
    opts=on_cluster,
)
# The key is a secret output of the endpoint: Pulumi keeps it encrypted in state and masks it in
# output. Rendered manifests are another matter: see the README.
key = k8s.core.v1.Secret(
    "gateway-key",
    metadata={**meta, "name": "inference-gateway-key"},
    string_data={"api_key": endpoint.api_key},
    opts=on_cluster,
)
gateway = k8s.apps.v1.Deployment(
    "gateway",
    metadata={**meta, "name": "inference-gateway"},
    spec={
        "replicas": 2 if replicas is None else replicas,
        "selector": {"match_labels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": "gateway",
                        "image": "python:3.12-slim",
                        "command": ["python", "/etc/gateway/gateway.py"],
                        "ports": [{"container_port": 8080, "name": "http"}],
                        "readiness_probe": {"http_get": {"path": "/healthz", "port": "http"}},
                        "volume_mounts": [
                            {"name": "config", "mount_path": "/etc/gateway", "read_only": True},
                            {"name": "key", "mount_path": "/etc/gateway-key", "read_only": True},
                        ],
                    }
                ],
                "volumes": [
                    {"name": "config", "config_map": {"name": settings.metadata.name}},
                    {"name": "key", "secret": {"secret_name": key.metadata.name}},
                ],
            },
        },
    },
    opts=on_cluster,
)
service = k8s.core.v1.Service(
    "gateway",
    metadata={**meta, "name": "inference-gateway"},
    spec={"selector": labels, "ports": [{"port": 80, "target_port": "http", "name": "http"}]},
    opts=on_cluster,
)

pulumi.export("endpoint_name", endpoint.endpoint_name)
pulumi.export("workergroup_id", workers.id)
pulumi.export("gateway_service", service.metadata.name)
pulumi.export("manifests", "applied to " + kube_context if kube_context else "rendered")
