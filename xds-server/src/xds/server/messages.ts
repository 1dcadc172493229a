// The discovery messages as @grpc/proto-loader hands them over (keepCase, defaults on, Any as
// {type_url, value}); only the fields picoseg reads or writes are typed.

export interface ProtoValue {
  kind?: "nullValue" | "numberValue" | "stringValue" | "boolValue" | "structValue" | "listValue";
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: ProtoStruct;
  listValue?: { values?: ProtoValue[] };
}
export interface ProtoStruct {
  fields?: Record<string, ProtoValue>;
}

export interface ProtoNode {
  id?: string;
  cluster?: string;
  metadata?: ProtoStruct | null;
  user_agent_name?: string;
}

export interface RpcStatus {
  code?: number;
  message?: string;
}

export interface ProtoAny {
  type_url: string;
  value: Uint8Array;
}

export interface DiscoveryRequest {
  version_info?: string;
  node?: ProtoNode | null;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: RpcStatus | null;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: ProtoAny[];
  type_url: string;
  nonce: string;
  control_plane?: { identifier: string };
}

export interface DeltaDiscoveryRequest {
  node?: ProtoNode | null;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: RpcStatus | null;
}

export interface DeltaResource {
  name: string;
  version: string;
  resource: ProtoAny;
}

export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: DeltaResource[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
  control_plane?: { identifier: string };
}

/** Plain JSON from a protobuf Struct (node metadata). */
export function structToJson(s: ProtoStruct | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: ProtoValue): unknown {
  switch (v.kind) {
    case "stringValue":
      return v.stringValue ?? "";
    case "numberValue":
      return v.numberValue ?? 0;
    case "boolValue":
      return v.boolValue ?? false;
    case "structValue":
      return structToJson(v.structValue);
    case "listValue":
      return (v.listValue?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

/** A protobuf Struct from plain JSON (for test clients playing Envoy). */
export function jsonToStruct(obj: Record<string, unknown>): ProtoStruct {
  const fields: Record<string, ProtoValue> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = jsonToValue(v);
  return { fields };
}

function jsonToValue(v: unknown): ProtoValue {
  if (typeof v === "string") return { kind: "stringValue", stringValue: v };
  if (typeof v === "number") return { kind: "numberValue", numberValue: v };
  if (typeof v === "boolean") return { kind: "boolValue", boolValue: v };
  if (Array.isArray(v)) return { kind: "listValue", listValue: { values: v.map(jsonToValue) } };
  if (v && typeof v === "object") return { kind: "structValue", structValue: jsonToStruct(v as Record<string, unknown>) };
  return { kind: "nullValue", nullValue: 0 };
}
