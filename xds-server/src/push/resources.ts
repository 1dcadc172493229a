// The one kind of resource picoseg serves: an ECDS `TypedExtensionConfig` wrapping the Wasm
// network filter (docs/design.md "Loading the filter into Envoy"). Built and marshaled once per
// distinct content; its version is a hash of those bytes, so identical inputs give identical
// versions across proxies and across server restarts.
import { createHash } from "node:crypto";
import { messageType, contentVersion, type MarshaledResource } from "../xds/index.js";
import { PICOSEG_ROOT_ID, TYPED_EXTENSION_CONFIG_TYPE, WASM_NETWORK_FILTER_TYPE, WASM_RUNTIME } from "../../../api/resources.js";

const STRING_VALUE_TYPE = "type.googleapis.com/google.protobuf.StringValue";

/** Where Envoy gets the filter's module from. */
export type WasmModuleSource =
  | { kind: "local"; filename: string }
  /**
   * The module's bytes in the resource itself: nothing to fetch, nothing on the proxy's disk. What a
   * mesh uses: Envoy builds a remotely fetched module only if it is already in its code cache when
   * the config arrives, and otherwise fails closed until a later push (source/extensions/common/
   * wasm/wasm.cc, "xDS currently does not support failing asynchronously").
   */
  | { kind: "inline"; bytes: Uint8Array; sha256: string }
  | {
      kind: "remote";
      /** URL of the module on this server's HTTP side. */
      uri: string;
      /** Name of the Envoy cluster (in the sidecar bootstrap) that reaches that URL. */
      cluster: string;
      sha256: string;
    };

/** Marshals one picoseg ECDS resource: `name` is the ECDS resource name Envoy asked for. */
export function buildFilterResource(name: string, filterConfig: string, module: WasmModuleSource): MarshaledResource {
  const code =
    module.kind === "local"
      ? { local: { filename: module.filename } }
      : module.kind === "inline"
        ? { local: { inline_bytes: module.bytes } }
        : {
            remote: {
              http_uri: { uri: module.uri, cluster: module.cluster, timeout: { seconds: 10 } },
              sha256: module.sha256,
            },
          };
  const stringValue = messageType("google.protobuf.StringValue");
  const wasm = messageType("envoy.extensions.filters.network.wasm.v3.Wasm");
  const typed = messageType("envoy.config.core.v3.TypedExtensionConfig");
  const wasmMessage = wasm.fromObject({
    config: {
      name,
      root_id: PICOSEG_ROOT_ID,
      // One VM per module, shared by every picoseg filter config on the proxy (as in xds-server/src/bootstrap/bootstrap.ts).
      vm_config: { vm_id: PICOSEG_ROOT_ID, runtime: WASM_RUNTIME, code },
      configuration: {
        type_url: STRING_VALUE_TYPE,
        value: stringValue.encode(stringValue.fromObject({ value: filterConfig })).finish(),
      },
    },
  });
  const value = typed
    .encode(
      typed.fromObject({
        name,
        typed_config: { type_url: WASM_NETWORK_FILTER_TYPE, value: wasm.encode(wasmMessage).finish() },
      }),
    )
    .finish();
  return { name, typeUrl: TYPED_EXTENSION_CONFIG_TYPE, version: contentVersion(value), value };
}

/** What a picoseg resource says, decoded (for tests, fake clients and `status`). */
export interface DecodedFilterResource {
  name: string;
  rootId: string;
  runtime: string;
  module: { local?: string; inline?: { sha256: string; size: number }; remote?: { uri: string; cluster: string; sha256: string } };
  configuration: string;
}

export function decodeFilterResource(value: Uint8Array): DecodedFilterResource {
  const typed = messageType("envoy.config.core.v3.TypedExtensionConfig").decode(value) as unknown as {
    name: string;
    typed_config?: { type_url: string; value: Uint8Array };
  };
  if (typed.typed_config?.type_url !== WASM_NETWORK_FILTER_TYPE) {
    throw new Error(`unexpected typed_config ${typed.typed_config?.type_url ?? "(none)"}`);
  }
  const wasm = messageType("envoy.extensions.filters.network.wasm.v3.Wasm").decode(typed.typed_config.value) as unknown as {
    config?: {
      root_id?: string;
      vm_config?: {
        runtime?: string;
        code?: {
          local?: { filename?: string; inline_bytes?: Uint8Array };
          remote?: { http_uri?: { uri?: string; cluster?: string }; sha256?: string };
        };
      };
      configuration?: { type_url: string; value: Uint8Array };
    };
  };
  const cfg = wasm.config;
  const conf = cfg?.configuration;
  const configuration = conf
    ? (messageType("google.protobuf.StringValue").decode(conf.value) as unknown as { value?: string }).value ?? ""
    : "";
  const code = cfg?.vm_config?.code;
  return {
    name: typed.name,
    rootId: cfg?.root_id ?? "",
    runtime: cfg?.vm_config?.runtime ?? "",
    module: {
      ...(code?.local?.filename !== undefined && code.local.filename !== "" ? { local: code.local.filename } : {}),
      ...(code?.local?.inline_bytes?.length
        ? { inline: { sha256: createHash("sha256").update(code.local.inline_bytes).digest("hex"), size: code.local.inline_bytes.length } }
        : {}),
      ...(code?.remote
        ? {
            remote: {
              uri: code.remote.http_uri?.uri ?? "",
              cluster: code.remote.http_uri?.cluster ?? "",
              sha256: code.remote.sha256 ?? "",
            },
          }
        : {}),
    },
    configuration,
  };
}
