// `picoseg demo`: the xDS server on a copy of the example policies, demo services on loopback,
// one real Envoy sidecar per workload (ECDS from the server, downstream mTLS), a scripted traffic
// scenario with a table of decisions, a hot policy change, and then — unless --once — a running
// mesh for the user to try things with. Every process started here is stopped on every path.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { envoyBinaryPath, type HostPort } from "../bootstrap/index.js";
import { errorMessage, filterWasmPath, repoRoot, TABLE_WIDTH, wrap, wrapCommand } from "../util/index.js";
import { generateMtls, type MtlsMaterial } from "./pki.js";
import { startXdsServer, type RunningXdsServer } from "../server/index.js";
import { PICOSEG_ECDS_RESOURCE } from "../../../api/resources.js";
import { type ComplianceReport, reportSummary } from "../compliance/index.js";
import type { ResourceStatus } from "../../../api/status.js";
import type { DemoConnection } from "./client.js";
import { ProcessGroup } from "./processes.js";
import { HOT_CHANGE, afterChangeSteps, initialSteps, runStep, type Row, type StepEnv } from "./scenario.js";
import { PAYMENTS_API_WINDOW, insideWindows, localTime } from "./schedule.js";
import { startHttpService, startPaymentsDb, startRespCache, type DemoService } from "./services.js";
import { Sidecar } from "./sidecars.js";
import { renderTable } from "./table.js";
import { LEARNING_WORKLOAD, runLearning } from "./learning.js";
import { DEMO_IPS, ID, WORKLOADS, type WorkloadSpec } from "./topology.js";
import { sleep, waitFor } from "../util/index.js";

export interface DemoOptions {
  /** Run the scenario and return (exit code 0 only if every decision was the expected one). */
  once: boolean;
  /** Where the example policies come from. Default: the checkout's policies/. */
  policiesDir?: string;
  out?: (text: string) => void;
  /** The filter module (default: filter/build/picoseg.wasm of this checkout). */
  wasmPath?: string;
  /** Leave the working directory (policies, certificates, Envoy logs) in place for inspection. */
  keepDir?: boolean;
  /** Every column whole and no line wrapped (`-o wide`); by default the output fits 100 columns. */
  wide?: boolean;
}

/** Fails with a clear message when a demo address cannot be bound (port taken, address not on loopback). */
export async function checkAddressFree(hp: HostPort): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") {
        reject(new Error(`picoseg demo: ${hp.host}:${hp.port} is already in use; stop whatever listens there (e.g. \`ss -ltnp 'sport = :${hp.port}'\`) or a demo that is still running`));
      } else if (err.code === "EADDRNOTAVAIL") {
        reject(new Error(`picoseg demo: cannot bind ${hp.host}: the demo needs 127.0.0.0/8 on the loopback interface (Linux has it; elsewhere add the alias, e.g. \`sudo ifconfig lo0 alias ${hp.host}\`)`));
      } else reject(new Error(`picoseg demo: cannot bind ${hp.host}:${hp.port}: ${err.message}`));
    });
    srv.listen(hp.port, hp.host, () => srv.close(() => resolve()));
  });
}

function picosegResource(server: RunningXdsServer, nodeId: string): ResourceStatus | undefined {
  return server.status().proxies.find((p) => p.nodeId === nodeId)?.resources.find((r) => r.name === PICOSEG_ECDS_RESOURCE);
}

/** Waits until the proxy has ACKed its current version (other than `notVersion`); returns it. */
async function waitAcked(server: RunningXdsServer, nodeId: string, timeoutMs: number, notVersion?: string): Promise<string> {
  return waitFor(`${nodeId} to ACK its picoseg config${notVersion ? ` (other than ${notVersion})` : ""}`, () => {
    const r = picosegResource(server, nodeId);
    if (!r || r.acked === undefined || r.acked !== r.current) return undefined;
    return r.acked !== notVersion ? r.acked : undefined;
  }, timeoutMs, 25);
}

async function startService(w: WorkloadSpec): Promise<DemoService> {
  if (w.service === "resp") return startRespCache(w.name);
  if (w.service === "postgres") return startPaymentsDb(w.name);
  return startHttpService(w.name);
}

const short = (v: string | undefined): string => (v ? v.slice(0, 12) : "-");

export async function runDemo(opts: DemoOptions): Promise<number> {
  const write = opts.out ?? ((t: string) => process.stdout.write(t + "\n"));
  const wide = opts.wide === true;
  const out = (t: string): void => write(wide ? t : wrap(t).replace(/\n$/, ""));
  const root = repoRoot();
  const cwdRel = (p: string): string => {
    const r = relative(process.cwd(), p);
    return r && !r.startsWith("..") ? r : p;
  };
  // In the checkout, the README's command (npm ci links it, so npx runs it at once); elsewhere its path.
  const cli = resolve(process.cwd()) === root ? "npx picoseg" : `node ${cwdRel(join(root, "bin", "picoseg.js"))}`;
  /** One of the commands to try, wrapped (with a continuation backslash) to fit the width. */
  const tryLine = (label: string, command: string): void => out(wide ? `  ${label.padEnd(10)} ${command}` : wrapCommand(`  ${label.padEnd(10)} ${command}`, TABLE_WIDTH, "             "));

  // Prerequisites first, with the fix in the message.
  const envoyBinary = envoyBinaryPath(root);
  const wasm = opts.wasmPath !== undefined ? resolve(opts.wasmPath) : filterWasmPath(root);
  if (!existsSync(wasm)) throw new Error(`picoseg demo: no filter module at ${wasm}; run \`npm run build\``);
  for (const w of WORKLOADS) {
    for (const port of [w.listen.port, ...(w.extraPorts ?? [])]) await checkAddressFree({ host: w.listen.host, port });
  }

  const dir = mkdtempSync(join(tmpdir(), "picoseg-demo-"));
  const policies = join(dir, "policies");
  const processes = new ProcessGroup();
  const services: DemoService[] = [];
  const sidecars: Sidecar[] = [];
  const kept = new Map<string, DemoConnection>();
  let server: RunningXdsServer | undefined;
  let certs: MtlsMaterial | undefined;

  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      for (const c of kept.values()) c.destroy();
      await Promise.allSettled(sidecars.map((s) => s.stop()));
      await processes.stopAll(); // anything that did not get as far as a Sidecar
      processes.dispose();
      await Promise.allSettled(services.map((s) => s.close()));
      await server?.close().catch(() => undefined);
      if (opts.keepDir) out(`picoseg demo: left ${dir} in place (--keep)`);
      else rmSync(dir, { recursive: true, force: true });
    })());
  // Ctrl-C or a kill at any moment: stop everything, then exit as a shell expects.
  let stopRequested: (() => void) | undefined;
  const stopped = new Promise<void>((r) => (stopRequested = r));
  const onSignal = (sig: NodeJS.Signals): void => {
    out(`\npicoseg demo: ${sig}, stopping the sidecars, the services and the xDS server…`);
    stopRequested?.();
    void cleanup().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);

  try {
    cpSync(opts.policiesDir ?? join(root, "policies"), policies, { recursive: true });
    mkdirSync(join(dir, "envoy"));

    out(`picoseg demo — working directory ${dir}`);
    server = await startXdsServer({
      policies,
      host: "127.0.0.1",
      xdsPort: 0,
      httpPort: 0,
      wasmPath: wasm,
      controlPlaneId: "picoseg-demo",
      log: (line) => out(`  xds | ${line}`),
      audit: { file: join(dir, "audit.jsonl"), summaryIntervalMs: 10_000 },
      // Learning mode reports every second: the demo's chapter 5 waits for them.
      observations: { report: { intervalMs: 1000 } },
    });

    certs = generateMtls(Object.values(ID), { dir: join(dir, "certs"), serverIps: DEMO_IPS });
    for (const w of WORKLOADS) services.push(await startService(w));

    const xds = { host: "127.0.0.1", port: server.xdsPort };
    const ctx = { xds, tls: certs.listenerTls, dir: join(dir, "envoy"), envoyBinary, processes };
    out(`starting ${WORKLOADS.length} Envoy sidecars (${envoyBinary})…`);
    const started = await Promise.allSettled(
      WORKLOADS.map((w, i) => {
        const svc = services[i];
        if (!svc) throw new Error(`no service for ${w.name}`);
        return Sidecar.start(
          { name: w.name, namespace: w.namespace, labels: w.labels, listen: w.listen, upstream: { host: svc.host, port: svc.port },
            ...(w.annotations ? { annotations: w.annotations } : {}), ...(w.extraPorts ? { extraPorts: w.extraPorts } : {}) },
          ctx,
        );
      }),
    );
    for (const s of started) if (s.status === "fulfilled") sidecars.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    await Promise.all(sidecars.map((s) => s.waitReady(30_000)));
    const srv = server;
    const versions = await Promise.all(sidecars.map((s) => waitAcked(srv, s.nodeId, 15_000)));

    out("");
    out(`xDS server  ${server.xdsAddress} (gRPC: ADS + ECDS)   ${server.httpUrl}/status`);
    out(`console     ${server.httpUrl}/ui   (read-only: proxies, segments, decisions, denied attempts, proposals, compliance)`);
    sidecars.forEach((s, i) => {
      const w = WORKLOADS[i];
      out(`sidecar     ${s.spec.name.padEnd(17)} ${s.ports.map((p) => `${s.spec.listen.host}:${p}`).join(", ").padEnd(34)} config ${short(versions[i])} ACKed`);
      if (w) out(`            ${"".padEnd(17)} ${w.about}`);
    });
    const now = new Date();
    const berlin = localTime(now, PAYMENTS_API_WINDOW.timeZone);
    out(`clock       ${now.toISOString()} = ${berlin.text}: payments office hours are ${insideWindows(now, PAYMENTS_API_WINDOW.timeZone, PAYMENTS_API_WINDOW.windows) ? "open" : "closed"}`);
    out("");

    const mtls = certs;
    const env: StepEnv = {
      sidecar: (name) => {
        const s = sidecars.find((x) => x.spec.name === name);
        if (!s) throw new Error(`no sidecar ${name}`);
        return s;
      },
      identity: (principal) => mtls.clientTls(principal),
      kept,
    };

    const rows: Row[] = [];
    const problems: string[] = [];
    out("1. traffic (real mTLS connections through the sidecars; decision and reason from each sidecar's picoseg log):");
    out("");
    const first: Row[] = [];
    for (const step of initialSteps()) first.push(await runStep(step, env));
    rows.push(...first);
    out(renderTable(first, wide));

    // 2. The hot change: edit the copy of the policy, wait for the cache's sidecar to ACK.
    out("");
    out(`2. hot policy change: ${HOT_CHANGE.description} (${cwdRel(join(policies, HOT_CHANGE.file))})`);
    const cache = env.sidecar("cart-cache");
    const before = picosegResource(server, cache.nodeId)?.acked;
    const others = sidecars.filter((s) => s !== cache).map((s) => [s, picosegResource(srv, s.nodeId)?.acked] as const);
    // Evidence for "no restart, no drain": the same Envoy process, listener manager counters unchanged.
    const LISTENER_STATS = "^listener_manager\\.(listener_modified|listener_removed|total_listeners_draining)$";
    const listenerBefore = await cache.stats(LISTENER_STATS);
    const file = join(policies, HOT_CHANGE.file);
    const changedAt = Date.now();
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, HOT_CHANGE.apply(readFileSync(file, "utf8")));
    renameSync(tmp, file); // as editors do: the watcher sees one complete file
    let ackedAt: number | undefined;
    try {
      const after = await waitAcked(server, cache.nodeId, 10_000, before);
      ackedAt = Date.now();
      const listenerAfter = await cache.stats(LISTENER_STATS);
      const same = [...listenerAfter].every(([k, v]) => listenerBefore.get(k) === v) && listenerAfter.size > 0;
      const detail = [...listenerAfter].map(([k, v]) => `${k.replace("listener_manager.", "")}=${v}`).join(" ");
      out(`   cart-cache sidecar ACKed ${short(after)} (was ${short(before)}) ${Date.now() - changedAt} ms after the edit`);
      out(`   same Envoy process (pid ${cache.pid ?? "?"}, ${cache.isRunning() ? "running" : "EXITED"}); listeners ${same ? "untouched" : "CHANGED"}: ${detail}`);
      if (!same || !cache.isRunning()) problems.push("the hot change restarted Envoy or modified/drained its listeners");
    } catch (err) {
      const msg = `the cart-cache sidecar did not ACK a new config: ${(err as Error).message}`;
      problems.push(msg);
      out(`   ${msg}`);
    }
    const untouched = others.filter(([s, v]) => picosegResource(srv, s.nodeId)?.acked === v).map(([s]) => s.spec.name);
    if (untouched.length > 0) out(`   ${untouched.join(", ")}: not selected by the changed segment, still on their version`);
    out("");
    const second: Row[] = [];
    for (const step of afterChangeSteps()) second.push(await runStep(step, env));
    rows.push(...second);
    out(renderTable(second, wide));
    const revokedConn = kept.get("checkout");
    if (ackedAt !== undefined && revokedConn?.endedAt !== undefined) {
      out(`   checkout's live connection (step 2) ended ${revokedConn.endedAt - ackedAt} ms after the ACK (the design allows one second)`);
    }

    // 3. Counters, straight from each Envoy's /stats.
    out("");
    out("3. picoseg counters in each sidecar's Envoy stats (/stats?filter=picoseg, non-zero):");
    for (const s of sidecars) {
      const counters = await s.counters().catch(() => new Map<string, number>());
      const nz = [...counters].filter(([, v]) => v > 0).map(([k, v]) => `${k.replace(/^picoseg\./, "")}=${v}`);
      out(`   ${s.spec.name.padEnd(17)} ${nz.length > 0 ? nz.join("  ") : "(none)"}`);
    }

    // 4. What an assessor would see: the compliance report's summary (the server reads the
    // sidecars' counters once more first, so that the denials above are in it).
    out("");
    out(`4. compliance (${cli} report --server ${server.httpUrl}; -o json|yaml|html for the full report):`);
    await server.decisions.readAll();
    try {
      const res = await fetch(`${server.httpUrl}/report`, { signal: AbortSignal.timeout(5000) });
      for (const line of reportSummary((await res.json()) as ComplianceReport)) out(`   ${line}`);
    } catch (err) {
      problems.push(`compliance report: ${errorMessage(err)}`);
    }

    // 5. Learning mode: observe → propose → what-if → enforce, on a workload with no segment yet.
    out("");
    out(`5. learning mode on ${LEARNING_WORKLOAD} (no segment yet): observe → propose → what-if → enforce`);
    try {
      const learned = await runLearning({ server, policies, steps: env, out: (t) => out(t) });
      rows.push(...learned.rows);
      problems.push(...learned.problems);
    } catch (err) {
      problems.push(`learning mode: ${errorMessage(err)}`);
      out(`   ${problems[problems.length - 1]}`);
    }

    const mismatches = rows.filter((r) => !r.ok);
    out("");
    if (mismatches.length === 0 && problems.length === 0) {
      out(`every decision was the expected one (${rows.length} connections).`);
    } else {
      out(`${mismatches.length} of ${rows.length} decisions were not the expected ones:`);
      for (const r of mismatches) out(`   step ${r.label}: ${r.client} -> ${r.target}: got ${r.decision} ${r.reason.startsWith("(") ? r.reason : `(${r.reason})`}, expected ${r.expected}`);
      for (const p of problems) out(`   ${p}`);
    }
    const code = mismatches.length === 0 && problems.length === 0 ? 0 : 1;
    if (opts.once) return code;

    // Keep running for the user (the scenario's live connections are done).
    for (const c of kept.values()) c.destroy();
    kept.clear();
    const cart = certs.clients.get(ID.cart);
    const dash = certs.clients.get(ID.dashboard);
    const rel = cwdRel;
    out("");
    out("The demo keeps running (Ctrl-C stops everything). Try:");
    tryLine("console", `${server.httpUrl}/ui`);
    tryLine("status", `${cli} status --server ${server.httpUrl}`);
    tryLine("describe", `${cli} describe pod cart-cache -n shop --server ${server.httpUrl}`);
    tryLine("config", `${cli} proxy-config ${env.sidecar("cart-cache").nodeId} --server ${server.httpUrl}`);
    tryLine("report", `${cli} report --server ${server.httpUrl} --compliance pci-dss`);
    tryLine("audit", `${cli} audit verify ${rel(join(dir, "audit.jsonl"))}`);
    tryLine("learn", `${cli} learn --server ${server.httpUrl} --workload ${LEARNING_WORKLOAD} --since 1h`);
    tryLine("what-if", `${cli} what-if --policies DIR --workload ${LEARNING_WORKLOAD} --server ${server.httpUrl}`);
    out(`  policies   edit ${rel(policies)}/*.yaml — sidecars enforce the change within a second or two`);
    tryLine("decisions", `tail -f ${rel(join(dir, "envoy"))}/*.envoy.log | grep '"picoseg"'`);
    for (const s of sidecars) tryLine("counters", `curl -s '${s.adminUrl}/stats?filter=picoseg'   (${s.spec.name})`);
    if (cart) {
      tryLine("cache", `printf '*1\\r\\n$4\\r\\nPING\\r\\n' | openssl s_client -quiet -connect 127.0.0.2:6379 -CAfile ${rel(certs.caFile)} -cert ${rel(cart.certFile)} -key ${rel(cart.keyFile)}`);
    }
    if (dash) {
      tryLine("reports", `curl -s --cacert ${rel(certs.caFile)} --cert ${rel(dash.certFile)} --key ${rel(dash.keyFile)} https://127.0.0.4:8080/reports`);
    }
    out(`  identities ${rel(join(certs.dir, "clients"))}/ (shop-cart, shop-checkout, shop-intruder, payments-payments-api, analytics-dashboard)`);
    await stopped;
    return code;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    // With a signal, onSignal runs the cleanup and exits; otherwise clean up here.
    await cleanup();
    await sleep(0);
  }
}
