// Who a proxy is: its xDS node id and the workload it stands for. An Istio sidecar sends the
// workload in its node metadata (LABELS, NAMESPACE, SERVICE_ACCOUNT, WORKLOAD_NAME,
// ANNOTATIONS), so the server selects segments without asking the Kubernetes API.
import type { Workload } from "../../../api/workload.js";
import { structToJson, type ProtoNode } from "./server/messages.js";

export interface NodeInfo {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
  workload: Workload;
}

export function nodeInfo(node: ProtoNode): NodeInfo {
  const metadata = structToJson(node.metadata);
  const id = node.id ?? "";
  return { id, cluster: node.cluster ?? "", metadata, workload: workloadFromMetadata(id, metadata) };
}

export function workloadFromMetadata(nodeId: string, md: Record<string, unknown>): Workload {
  const namespace = str(md["NAMESPACE"]) ?? namespaceFromIstioNodeId(nodeId) ?? "default";
  const workload: Workload = {
    namespace,
    labels: stringMap(md["LABELS"]),
    annotations: stringMap(md["ANNOTATIONS"]),
  };
  const sa = str(md["SERVICE_ACCOUNT"]);
  if (sa) workload.serviceAccount = sa;
  const name = str(md["WORKLOAD_NAME"]);
  if (name) workload.name = name;
  return workload;
}

// Istio sidecar ids look like `sidecar~10.1.2.3~pod-name.namespace~namespace.svc.cluster.local`.
function namespaceFromIstioNodeId(id: string): string | undefined {
  const parts = id.split("~");
  if (parts.length !== 4) return undefined;
  const podDotNs = parts[2] ?? "";
  const dot = podDotNs.lastIndexOf(".");
  return dot > 0 ? podDotNs.slice(dot + 1) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

// Labels and annotations are string maps; Istio sends them as Structs of strings. A value of
// another JSON type is kept as its JSON text rather than silently dropped.
function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[k] = typeof x === "string" ? x : JSON.stringify(x);
    }
  }
  return out;
}
