import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Command, Option } from "commander";
import { addOutputOption, serialized } from "../output.js";
import { defined, freeLoopbackPort } from "../../util/index.js";
import {
  envoyBinaryPath,
  parseHostPort,
  readAdminAddress,
  runEnvoyForeground,
  sidecarBootstrap,
  toYaml,
  type Bootstrap,
  type XdsApiType,
} from "../../bootstrap/index.js";

interface SidecarFlags {
  xds: string;
  listen: string;
  upstream: string;
  namespace: string;
  labels: string;
  annotations?: string;
  serviceAccount?: string;
  workloadName?: string;
  nodeId?: string;
  admin: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  xdsCa?: string;
  xdsCert?: string;
  xdsKey?: string;
  xdsServerName?: string;
  api: string;
  ads?: boolean;
  initialFetchTimeout?: string;
  concurrency?: string;
  logLevel: string;
  print?: boolean;
  format?: string;
  output?: string;
}

/** "k=v,k=v" → record; an empty string is an empty record. */
export function parseKeyValues(text: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw new Error(`${flag}: expected k=v[,k=v…], got "${part}"`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** The bootstrap `picoseg sidecar` runs (or prints), from its flags. Exported for tests. */
export function sidecarBootstrapFromFlags(f: SidecarFlags): Bootstrap {
  const admin = parseHostPort(f.admin);
  const listen = parseHostPort(f.listen);
  const labels = parseKeyValues(f.labels, "--labels");
  const annotations = f.annotations !== undefined ? parseKeyValues(f.annotations, "--annotations") : {};
  const tlsGiven = [f.tlsCert, f.tlsKey, f.tlsCa].filter((x) => x !== undefined).length;
  if (tlsGiven !== 0 && tlsGiven !== 3) throw new Error("--tls-cert, --tls-key and --tls-ca go together");
  if ((f.xdsCert === undefined) !== (f.xdsKey === undefined)) throw new Error("--xds-cert and --xds-key go together");
  if (f.xdsCert !== undefined && f.xdsCa === undefined) throw new Error("--xds-cert needs --xds-ca (TLS to the xDS server)");
  const api = f.api.toUpperCase();
  if (api !== "GRPC" && api !== "DELTA_GRPC") throw new Error(`--api: GRPC or DELTA_GRPC, got "${f.api}"`);
  const workload = f.workloadName ?? labels["app"] ?? "workload";
  const timeout = f.initialFetchTimeout !== undefined ? Number(f.initialFetchTimeout) : undefined;
  if (timeout !== undefined && !(timeout >= 0)) throw new Error("--initial-fetch-timeout: seconds, >= 0");
  return sidecarBootstrap({
    admin,
    xds: parseHostPort(f.xds),
    api: api as XdsApiType,
    ads: f.ads === true,
    ...defined({ initialFetchTimeoutSeconds: timeout }),
    ...(f.xdsCa !== undefined
      ? {
          xdsTls: {
            caFile: f.xdsCa,
            ...(f.xdsCert !== undefined && f.xdsKey !== undefined ? { certFile: f.xdsCert, keyFile: f.xdsKey } : {}),
            ...defined({ serverName: f.xdsServerName }),
          },
        }
      : {}),
    listener: {
      listen,
      upstream: parseHostPort(f.upstream),
      ...(tlsGiven === 3 ? { tls: { certFile: f.tlsCert!, keyFile: f.tlsKey!, caFile: f.tlsCa! } } : {}),
    },
    node: {
      // Istio's shape: sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local
      id: f.nodeId ?? `sidecar~${listen.host}~${workload}-${listen.port}.${f.namespace}~${f.namespace}.svc.cluster.local`,
      cluster: `${workload}.${f.namespace}`,
      namespace: f.namespace,
      labels,
      annotations,
      workloadName: workload,
      ...defined({ serviceAccount: f.serviceAccount }),
      // A known loopback admin port is announced, so that the server can read the decision counters.
      ...(admin.port !== 0 && /^(127\.|localhost$)/.test(admin.host) ? { adminAddress: `${admin.host}:${admin.port}` } : {}),
    },
  });
}

// `picoseg sidecar`: a local Envoy as one workload's inbound sidecar, its picoseg filter fed by ECDS.
export function registerSidecar(program: Command): void {
  const command = program
    .command("sidecar")
    .description("run the installed Envoy as a workload's inbound sidecar (tcp_proxy + picoseg filter fed by ECDS)")
    .requiredOption("--xds <host:port>", "the picoseg xDS server (gRPC)")
    .requiredOption("--listen <host:port>", "inbound listener address")
    .requiredOption("--upstream <host:port>", "the workload the sidecar fronts")
    .requiredOption("--namespace <ns>", "the workload's namespace (node metadata NAMESPACE)")
    .requiredOption("--labels <k=v,...>", "the workload's labels (node metadata LABELS)")
    .option("--annotations <k=v,...>", "the workload's annotations (node metadata ANNOTATIONS)")
    .option("--service-account <sa>", "node metadata SERVICE_ACCOUNT")
    .option("--workload-name <name>", "node metadata WORKLOAD_NAME (default: label app)")
    .option("--node-id <id>", "xDS node id (default: Istio-style sidecar~IP~NAME.NS~NS.svc.cluster.local)")
    .option("--admin <host:port>", "Envoy admin address", "127.0.0.1:0")
    .option("--tls-cert <file>", "server certificate (PEM) for downstream mTLS")
    .option("--tls-key <file>", "its private key (PEM)")
    .option("--tls-ca <file>", "CA (PEM) that client certificates must chain to")
    .option("--xds-ca <file>", "TLS to the xDS server: the CA (PEM) its certificate must chain to")
    .option("--xds-cert <file>", "with --xds-ca: client certificate (PEM) for mTLS to the xDS server (its SPIFFE ID must match --namespace and --service-account)")
    .option("--xds-key <file>", "its private key (PEM)")
    .option("--xds-server-name <name>", "with --xds-ca: SNI, and the DNS name the server's certificate must carry")
    .option("--api <type>", "GRPC (state of the world) or DELTA_GRPC", "GRPC")
    .option("--ads", "ask for the filter over ADS instead of the standalone ECDS service")
    .option("--initial-fetch-timeout <seconds>", "how long the listener waits for its first filter config")
    .option("--concurrency <n>", "Envoy worker threads")
    .option("--log-level <level>", "Envoy log level", "info")
    .option("--print", "print the bootstrap instead of running Envoy (-o: yaml or json)");
  addOutputOption(command, { formats: ["yaml", "json"], fallback: "yaml" })
    .addOption(new Option("--format <yaml|json>", "same as -o").choices(["yaml", "json"]).hideHelp())
    .action(async (flags: SidecarFlags) => {
      // Envoy would pick an admin port itself, but the node metadata must name it beforehand.
      if (!flags.print && /^127\.[\d.]+:0$/.test(flags.admin)) flags.admin = flags.admin.replace(/:0$/, `:${await freeLoopbackPort()}`);
      const bootstrap = sidecarBootstrapFromFlags(flags);
      const yaml = toYaml(bootstrap);
      if (flags.print) {
        process.stdout.write((flags.format ?? flags.output) === "json" ? serialized("json", bootstrap)! : yaml);
        return;
      }
      const binary = envoyBinaryPath();
      const dir = mkdtempSync(join(tmpdir(), "picoseg-sidecar-"));
      try {
        const config = join(dir, "bootstrap.yaml");
        const adminPath = join(dir, "admin-address");
        writeFileSync(config, yaml);
        const args = ["-c", config, "--disable-hot-restart", "-l", flags.logLevel, "--admin-address-path", adminPath];
        if (flags.concurrency !== undefined) args.push("--concurrency", flags.concurrency);
        // Envoy picks the admin port when --admin ends in :0; say where it went.
        const announce = setInterval(() => {
          const addr = readAdminAddress(adminPath);
          if (addr) {
            process.stderr.write(`picoseg sidecar: Envoy admin at http://${addr}/\n`);
            clearInterval(announce);
          }
        }, 100);
        setTimeout(() => clearInterval(announce), 30_000).unref();
        try {
          process.exitCode = await runEnvoyForeground(args, binary);
        } finally {
          clearInterval(announce);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
}
