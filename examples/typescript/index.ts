// The provider plugin from TypeScript: the SDK is generated from vast_pulumi/plugin/schema.json
// (`gen-nodejs-sdk schema.json sdk`, see tests/e2e/test_typescript.py) and compiled with tsc.
import * as vast from "@vast-pulumi/vast";

const endpoint = new vast.Endpoint("inference", { maxWorkers: 4, coldWorkers: 1 });
const box = new vast.Instance("devBox", {
    offerQuery: "gpu_name=RTX_4090 num_gpus=1",
    image: "pytorch/pytorch:latest",
    disk: 32,
});

export const endpointName = endpoint.endpointName;
export const instanceId = box.id;
export const gpu = box.gpuName;
