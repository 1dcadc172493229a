// Envoy's API protos, loaded once from the copy that @grpc/grpc-js-xds ships.
// proto-loader gives grpc-js the service definitions (ADS, ECDS); protobufjs encodes the
// messages that travel inside `google.protobuf.Any` (proto-loader passes an Any through as
// {type_url, value: bytes}, so the inner message is ours to marshal — once, then cached).
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import path from "node:path";
import * as protoLoader from "@grpc/proto-loader";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";

const require = createRequire(import.meta.url);

/** Include directories: the Envoy API and the protos it imports. */
export function envoyProtoIncludeDirs(): string[] {
  const deps = path.join(path.dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
  return ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => path.join(deps, d));
}

const SERVICE_FILES = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/service/extension/v3/config_discovery.proto",
];

const MESSAGE_FILES = [
  "envoy/config/core/v3/extension.proto",
  "envoy/extensions/filters/network/wasm/v3/wasm.proto",
  "google/protobuf/wrappers.proto",
];

// Field names stay snake_case as in the .proto files (and as Envoy's docs spell them).
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [],
};

let services: grpc.GrpcObject | undefined;

/** grpc-js service definitions of ADS and standalone ECDS. */
export function loadServices(): {
  ads: grpc.ServiceDefinition;
  ecds: grpc.ServiceDefinition;
  clients: { ads: grpc.ServiceClientConstructor; ecds: grpc.ServiceClientConstructor };
} {
  if (!services) {
    const def = protoLoader.loadSync(SERVICE_FILES, { ...LOADER_OPTIONS, includeDirs: envoyProtoIncludeDirs() });
    services = grpc.loadPackageDefinition(def);
  }
  const ads = lookup(services, "envoy.service.discovery.v3.AggregatedDiscoveryService");
  const ecds = lookup(services, "envoy.service.extension.v3.ExtensionConfigDiscoveryService");
  return { ads: ads.service, ecds: ecds.service, clients: { ads, ecds } };
}

function lookup(root: grpc.GrpcObject, dotted: string): grpc.ServiceClientConstructor {
  let node: unknown = root;
  for (const part of dotted.split(".")) {
    node = (node as Record<string, unknown>)[part];
  }
  if (typeof node !== "function" || !("service" in node)) throw new Error(`proto service ${dotted} not found`);
  return node as grpc.ServiceClientConstructor;
}

const roots = new Map<string, protobuf.Root>();

/**
 * protobufjs root with the given Envoy API files; by default TypedExtensionConfig, the Wasm
 * network filter and the wrappers (what the server marshals itself).
 */
export function messageRoot(files: readonly string[] = MESSAGE_FILES): protobuf.Root {
  const key = files.join("\0");
  let root = roots.get(key);
  if (!root) {
    const dirs = envoyProtoIncludeDirs();
    root = new protobuf.Root();
    root.resolvePath = (_origin: string, target: string): string => {
      if (path.isAbsolute(target)) return target;
      for (const d of dirs) {
        const full = path.join(d, target);
        if (existsSync(full)) return full;
      }
      return target;
    };
    root.loadSync([...files], { keepCase: true });
    root.resolveAll();
    roots.set(key, root);
  }
  return root;
}

export function messageType(fullName: string): protobuf.Type {
  return messageRoot().lookupType(fullName);
}
