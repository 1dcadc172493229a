// One proxy's ECDS stream seen the same way over either transport, so that a rule both protocols
// keep (a NACKed version is not resent, a reconnecting proxy that is current gets nothing…) is one
// test run over sotw and delta. What truly differs between them stays with the raw clients
// (SotwEnvoy, DeltaEnvoy) in the tests that show it.
import type { DecodedFilterResource } from "../../xds-server/src/push/resources.js";
import { DeltaEnvoy, SotwEnvoy, deltaConfigs, sotwConfigs, type FakeNode } from "./fake-envoy.js";

export type Transport = "sotw" | "delta";
export type Service = "ads" | "ecds";

/** What a proxy holds after an answer, and brings back when it reconnects. */
export type Held =
  | { transport: "sotw"; versionInfo: string }
  | { transport: "delta"; versions: Record<string, string> };

export interface Answer {
  /** The filter resources, decoded; `version` is the resource's own (delta only: sotw versions the whole view). */
  configs: Array<DecodedFilterResource & { version?: string }>;
  /** The version of the whole view: sotw `version_info`, delta `system_version_info`. */
  version: string;
  held: Held;
  nonce: string;
}

export interface FakeProxy {
  readonly transport: Transport;
  /** The first request: these names (none: wildcard), optionally holding what an earlier stream got. */
  subscribe(names: string[], held?: Held): void;
  next(): Promise<Answer>;
  ack(a: Answer): void;
  nack(a: Answer, message: string): void;
  nothingWithin(ms: number): Promise<boolean>;
  /** Answers received and not read yet. */
  readonly pending: number;
  close(): void;
}

export function fakeProxy(transport: Transport, address: string, service: Service, node: FakeNode): FakeProxy {
  return transport === "sotw" ? sotwProxy(new SotwEnvoy(address, service, node)) : deltaProxy(new DeltaEnvoy(address, service, node));
}

function sotwProxy(e: SotwEnvoy): FakeProxy {
  let names: string[] = [];
  let accepted = ""; // a NACK echoes the last version accepted
  return {
    transport: "sotw",
    subscribe(n, held) {
      names = n;
      e.subscribe(n, held?.transport === "sotw" ? held.versionInfo : "");
    },
    async next() {
      const r = await e.inbox.next();
      return { configs: sotwConfigs(r), version: r.version_info, held: { transport: "sotw", versionInfo: r.version_info }, nonce: r.nonce };
    },
    ack(a) {
      accepted = a.version;
      e.ack({ version_info: a.version, nonce: a.nonce }, names);
    },
    nack(a, message) {
      e.nack(a, names, accepted, message);
    },
    nothingWithin: (ms) => e.inbox.nothingWithin(ms),
    get pending() {
      return e.inbox.pending;
    },
    close: () => e.close(),
  };
}

function deltaProxy(e: DeltaEnvoy): FakeProxy {
  return {
    transport: "delta",
    subscribe(n, held) {
      e.subscribe(n, held?.transport === "delta" ? held.versions : {});
    },
    async next() {
      const r = await e.inbox.next();
      const configs = deltaConfigs(r);
      return {
        configs,
        version: r.system_version_info,
        held: { transport: "delta", versions: Object.fromEntries(configs.map((c) => [c.name, c.version])) },
        nonce: r.nonce,
      };
    },
    ack: (a) => e.ack(a),
    nack: (a, message) => e.nack(a, message),
    nothingWithin: (ms) => e.inbox.nothingWithin(ms),
    get pending() {
      return e.inbox.pending;
    },
    close: () => e.close(),
  };
}
