// Who a proxy is, from what its Envoy sends in the xDS node.
import { describe, expect, it } from "vitest";
import { nodeInfo, workloadFromMetadata } from "../../xds-server/src/xds/node.js";
import { jsonToStruct } from "../../xds-server/src/xds/server/messages.js";

describe("the workload of a proxy", () => {
  it("comes from Istio's node metadata: LABELS, NAMESPACE, SERVICE_ACCOUNT, WORKLOAD_NAME, ANNOTATIONS", () => {
    const info = nodeInfo({
      id: "sidecar~10.1.2.3~db-7f9c.payments~payments.svc.cluster.local",
      cluster: "payments-db.payments",
      metadata: jsonToStruct({
        NAMESPACE: "payments",
        LABELS: { app: "payments-db", version: "v2" },
        SERVICE_ACCOUNT: "db",
        WORKLOAD_NAME: "payments-db",
        ANNOTATIONS: { "picoseg.io/max-bytes-in": "1Mi" },
        ISTIO_VERSION: "1.24.0",
      }),
    });
    expect(info.workload).toEqual({
      namespace: "payments",
      labels: { app: "payments-db", version: "v2" },
      annotations: { "picoseg.io/max-bytes-in": "1Mi" },
      serviceAccount: "db",
      name: "payments-db",
    });
    expect(info.metadata["ISTIO_VERSION"]).toBe("1.24.0");
  });

  it("takes the namespace from an Istio sidecar id when NAMESPACE is missing, else `default`", () => {
    expect(workloadFromMetadata("sidecar~10.1.2.3~api-1.shop~shop.svc.cluster.local", {}).namespace).toBe("shop");
    expect(workloadFromMetadata("plain-node", {}).namespace).toBe("default");
  });

  it("keeps a label whose value is not a string as its JSON text rather than dropping it", () => {
    expect(workloadFromMetadata("n", { LABELS: { replicas: 3, canary: true } }).labels).toEqual({ replicas: "3", canary: "true" });
  });
});
