// The filter's protocol framings, signatures and TLS server name (filter/assembly/wire/),
// tested over plain memory through filter/testing/stages.ts (built by
// test/filter/stages/stages-wasm.ts): reads go through framing.ts wireFrame and a ByteView
// that counts the bytes asked for, as in the filter.
import { readFileSync } from "node:fs";
import { stagesWasmPath } from "../filter/stages/stages-wasm.js";

/** Framing kinds (filter/assembly/wire/*.ts KIND_*). */
export const KIND = { postgres: 1, mqtt: 2, kafka: 3 } as const;
/** Outcomes of framing.ts wireFrame (cursor.ts WIRE_*). */
export const WIRE = { ok: 0, tooBig: 1, malformed: 2, publishTooBig: 3 } as const;
/** Sniff answers (signatures.ts SNIFF_*). */
export const SNIFF = { no: 0, match: 1, more: 2 } as const;
/** MQTT client id states (mqtt.ts ID_*). */
export const MQTT_ID = { none: 0, read: 1, absent: 2, tooLong: 3 } as const;
export const NO_LIMIT = 0xffffffffffffffffn;

interface Exports {
  memory: WebAssembly.Memory;
  bytes(n: number): number;
  freeBytes(p: number): void;
  bytesAskedCount(): bigint;
  wireNew(kind: number, fromServer: number, maxMessage: bigint, maxPublish: bigint): number;
  wireLink(client: number, server: number): void;
  wireFeed(st: number, p: number, len: number): number;
  mqttIdState(st: number): number;
  mqttIdPtr(st: number): number;
  mqttIdLen(st: number): number;
  mqttLevel(st: number): number;
  sniffAs(kind: number, p: number, len: number): number;
  sni(p: number, len: number): number;
  sniAt(): number;
  nameMatches(pat: number, patLen: number, name: number, nameLen: number): number;
}

/** One direction of a framed stream. */
export interface WireStream {
  /** Feeds bytes (one read); the WIRE outcome. */
  feed(bytes: Uint8Array): number;
  readonly state: number;
}

export class WireModule {
  private constructor(private readonly x: Exports) {}

  static async load(): Promise<WireModule> {
    const { instance } = await WebAssembly.instantiate(readFileSync(stagesWasmPath()), {
      env: {
        abort(_msg: number, _file: number, line: number, column: number): never {
          throw new Error(`the stages module aborted at ${line}:${column}`);
        },
      },
    });
    return new WireModule(instance.exports as unknown as Exports);
  }

  /** Bytes the framings asked the view for since the last call (header bytes only). */
  bytesAsked(): number {
    return Number(this.x.bytesAskedCount());
  }

  private withBytes<T>(bytes: Uint8Array, f: (p: number) => T): T {
    const p = this.x.bytes(Math.max(1, bytes.length));
    new Uint8Array(this.x.memory.buffer, p, bytes.length).set(bytes);
    try {
      return f(p);
    } finally {
      this.x.freeBytes(p);
    }
  }

  /** Client and server directions of one connection framed as `kind`. */
  connection(kind: keyof typeof KIND, maxMessage: number, maxPublish?: number): { client: WireStream; server: WireStream } {
    const limit = (n: number | undefined): bigint => (n === undefined ? NO_LIMIT : BigInt(n));
    const stream = (fromServer: boolean): WireStream => {
      const state = this.x.wireNew(KIND[kind], fromServer ? 1 : 0, limit(maxMessage), limit(maxPublish));
      return { state, feed: (bytes) => this.withBytes(bytes, (p) => this.x.wireFeed(state, p, bytes.length)) };
    };
    const client = stream(false);
    const server = stream(true);
    this.x.wireLink(client.state, server.state);
    return { client, server };
  }

  /** What the client state knows of the MQTT client id. */
  mqttClientId(client: WireStream): { state: number; id: string | undefined; level: number } {
    const state = this.x.mqttIdState(client.state);
    const level = this.x.mqttLevel(client.state);
    if (state !== MQTT_ID.read) return { state, id: undefined, level };
    const p = this.x.mqttIdPtr(client.state);
    const id = Buffer.from(new Uint8Array(this.x.memory.buffer, p, this.x.mqttIdLen(client.state))).toString("utf8");
    return { state, id, level };
  }

  sniff(proto: "mqtt" | "kafka" | "amqp" | "nats", bytes: Uint8Array): number {
    const kind = { mqtt: 0, kafka: 1, amqp: 2, nats: 3 }[proto];
    return this.withBytes(bytes, (p) => this.x.sniffAs(kind, p, bytes.length));
  }

  /** The ClientHello's server name, or "more" / "none" / "malformed". */
  serverName(bytes: Uint8Array): string {
    return this.withBytes(bytes, (p) => {
      const n = this.x.sni(p, bytes.length);
      if (n === -1) return "more";
      if (n === -2) return "none";
      if (n < 0) return "malformed";
      return Buffer.from(new Uint8Array(this.x.memory.buffer, p + this.x.sniAt(), n)).toString("latin1");
    });
  }

  serverNameMatches(pattern: string, name: string): boolean {
    const pat = Buffer.from(pattern);
    const nm = Buffer.from(name);
    return this.withBytes(pat, (pp) => this.withBytes(nm, (np) => this.x.nameMatches(pp, pat.length, np, nm.length) !== 0));
  }
}
