// The configuration the filter enforces (filter/CONFIG.md, schema version 1): what
// configparse.ts builds from the configuration string and every stage reads.
import { Cidr } from "./cidr";

/** An absent limit. */
export const NONE: u64 = u64.MAX_VALUE;

export const FRAMING_CHUNK: i32 = 0;
export const FRAMING_LENGTH_PREFIXED: i32 = 1;
export const FRAMING_DELIMITED: i32 = 2;
/** The wire framings (wire/*.ts): their numbers are the wire KIND_* of the same protocol + 2. */
export const FRAMING_POSTGRES: i32 = 3;
export const FRAMING_MQTT: i32 = 4;
export const FRAMING_KAFKA: i32 = 5;

/** UTC offsets of one time zone: `base` before the first transition, then offs[i] from ats[i] (Unix s) on. */
export class Tz {
  base: i32 = 0;
  ats: Array<i64> = new Array<i64>();
  offs: Array<i32> = new Array<i32>();
}

export class Segment {
  name: string = "";
  audit: bool = false;
  quarantineStrikes: u64 = 0; // 0: no quarantine
  quarantineWindowS: u64 = 0;
  quarantineDurationS: u64 = 0;
}

/** Per-source slots when `perSource` names no MAXSOURCES: room for 65,536 sources. */
export const DEFAULT_SOURCE_SLOTS: u32 = 262144;
const MAX_SOURCE_SLOTS: u32 = 16777216;

/**
 * Slots for `maxSources` sources: four times as many, as a power of two, so that a new source
 * rarely finds all four of its choices holding other live sources (at a quarter full: 0.4%).
 */
export function sourceSlots(maxSources: u64): u32 {
  let slots: u32 = 4;
  while (<u64>slots < maxSources * 4 && slots < MAX_SOURCE_SLOTS) slots <<= 1;
  return slots;
}

/** Like Envoy's listener-filter timeout, but short: a first message this slow is judged as it stands. */
export const DEFAULT_SNIFF_TIMEOUT_MS: u64 = 1000;

export class Rule {
  segment: i32 = 0;
  name: string = "";
  principals: Array<string> = new Array<string>();
  ipBlocks: Array<Cidr> = new Array<Cidr>();
  notIpBlocks: Array<Cidr> = new Array<Cidr>();
  ports: Array<u32> = new Array<u32>(); // lo, hi pairs
  protocols: u32 = 0; // bit per protocol; 0 = any
  /** How long after accept an undecided protocol may hold the first bytes (datapath.ts sniffExpired). */
  sniffTimeoutMs: u64 = DEFAULT_SNIFF_TIMEOUT_MS;
  tz: i32 = -1; // -1: no schedule
  windows: Array<i32> = new Array<i32>(); // start, end pairs in minutes of the local week
  maxBytesIn: u64 = NONE;
  maxBytesOut: u64 = NONE;
  maxMessageBytes: u64 = NONE;
  framing: i32 = FRAMING_CHUNK;
  /** TLS server name patterns (`serverName`): exact or `*.suffix`, as Envoy's server_names. */
  serverNames: Array<string> = new Array<string>();
  /** MQTT CONNECT client id patterns (`mqttClientId`): exact, `prefix*` or `*`. */
  mqttClientIds: Array<string> = new Array<string>();
  /** Largest MQTT PUBLISH payload (`maxPublishBytes`). */
  maxPublishBytes: u64 = NONE;
  /** Connections under this rule are framed: a message limit, or MQTT fields read from the framing. */
  frames: bool = false;
  lpOffset: u64 = 0;
  lpWidth: u32 = 0;
  lpBig: bool = true;
  lpAdjustment: i64 = 0;
  delimiter: u32 = 0; // big-endian packed bytes
  delimiterLen: u32 = 0;
  /** Learning mode: its framing as a report names it (learning.ts framingName), "" until first asked. */
  framingName: string = "";
  maxDurationS: u64 = NONE;
  hasPerSource: bool = false;
  psWindowS: u64 = 0;
  psMaxBytes: u64 = NONE;
  psMaxConnections: u64 = NONE;
  psMaxPorts: u64 = NONE;
  /**
   * Per-source records live in a table of slots (sharedrecords.ts): 4 × maxSources rounded up to
   * a power of two, at most 2^24. psSlotMask is its size - 1.
   */
  psSlotMask: u32 = DEFAULT_SOURCE_SLOTS - 1;
  /** UTF-8 of "picoseg/ps/SEGMENT/RULE/#", the keys' common start (sharedrecords.ts fills it on first use). */
  psKeyPrefix: ArrayBuffer = new ArrayBuffer(0);
  /** Schedule verdict cached by the root context on each tick. */
  inWindow: bool = true;
}

export class Config {
  id: u32 = 0;
  valid: bool = false;
  error: string = "";
  generation: u64 = 0;
  tzs: Array<Tz | null> = new Array<Tz | null>();
  segments: Array<Segment> = new Array<Segment>();
  rules: Array<Rule> = new Array<Rule>();
  /** Every segment is in audit mode (and there is one): selection failures are audit too. */
  allAudit: bool = false;
  /** Some rule matches on principals: admission must wait for the TLS handshake. */
  hasPrincipalRules: bool = false;
  /** Some rule matches on TLS server names: admission waits for the client's ClientHello. */
  hasServerNameRules: bool = false;
  /** Learning mode (`observe` line): the cluster reports go to ("" = off), their interval, the table's size. */
  observeCluster: string = "";
  observeIntervalMs: u64 = 0;
  observeCapacity: u64 = 0;
  /** `observe … denials`: report the denials only, observe no connection. */
  observeDenialsOnly: bool = false;
}
