// Per-connection state and the registry of live connections. Imports nothing: every stage
// reads a Conn, and what other modules hang on one (learning mode's stash) is theirs to free.
// Connections live outside the managed heap: no refcounting on the hot path,
// no cycle buffer to grow, a fixed ~170 bytes each. The registry is an
// intrusive hash table (the chain link is in the connection), so adding a
// connection allocates nothing but the connection itself; each root context
// keeps its connections on an intrusive list for the tick.

export const F_CLOSED: u32 = 1;      // we closed it (or it was denied at connect)
export const F_ENDED: u32 = 2;       // the host reported a close
export const F_AUDIT: u32 = 4;       // governed by an audit-mode segment
export const F_SNIFF_UP: u32 = 8;    // the upstream spoke first
export const F_SNIFF_SET: u32 = 16;  // the first direction is known
export const F_DECIDED: u32 = 32;    // admission was decided
export const F_PENDING: u32 = 64;    // admission waits for the TLS handshake (the peer principal)
export const F_SNIFF_LATE: u32 = 128; // the sniff deadline passed: decide on the bytes held now
export const F_MQTT_ID_SEEN: u32 = 256; // the MQTT client id was judged (rule's mqttClientIds)
export const F_PENDING_SNI: u32 = 512;  // admission waits for the ClientHello's server name (rules' serverNames)
export const F_WIRE: u32 = 1024;        // frameIn/frameOut hold WireStates (wire/cursor.ts), not FrameStates

@unmanaged
export class Conn {
  id: u32;
  root: u32;        // slot of the root context
  cfgId: u32;       // configuration the rule index refers to
  rule: i32;        // governing rule, -1 none
  flags: u32;
  auditLogged: u32; // bit per reason already logged in audit mode
  port: i32;        // destination port, -1 unknown
  protocol: i32;    // sniffed protocol, -1 undecided
  heldIn: u32;      // bytes held back by our last StopIteration, per direction
  heldOut: u32;
  waitingOut: u32;  // server bytes held, not yet counted, while admission waits for the handshake
  nudges: u32;      // attempts to have Envoy re-deliver them after admission
  bytesIn: u64;
  bytesOut: u64;
  startMs: i64;
  frameIn: usize;   // FrameState, or WireState under F_WIRE, or 0
  frameOut: usize;
  psKey: usize;     // the source's per-source place (sharedrecords.ts keepSourcePlace; only with perSource maxBytes) or 0
  psKeyLen: u32;
  sni: usize;       // the ClientHello's server name: u32 length then bytes (heap), or 0; fills psKeyLen's padding
  lease: u64;       // per-source bytes reserved for this connection and not yet spent
  leaseWindow: i64; // the per-source window the lease belongs to
  obs: usize;       // learning mode: its largest message (or read), principal, IP, framing (learning.ts learnStash), or 0
  hashNext: usize;
  prev: usize;
  next: usize;
}

export const CONN_SIZE: usize = offsetof<Conn>();

var buckets: StaticArray<usize> = new StaticArray<usize>(16384);
var mask: u32 = 16383;
var count: u32 = 0;

function hash(id: u32): u32 {
  let h = id * 0x9e3779b1;
  return (h ^ (h >> 15)) & mask;
}

export function connCount(): u32 {
  return count;
}

export function connNew(id: u32): Conn {
  let p = heap.alloc(CONN_SIZE);
  memory.fill(p, 0, CONN_SIZE);
  let c = changetype<Conn>(p);
  c.id = id;
  c.rule = -1;
  c.port = -1;
  c.protocol = -1;
  return c;
}

export function connFind(id: u32): usize {
  let p = unchecked(buckets[hash(id)]);
  while (p != 0) {
    let c = changetype<Conn>(p);
    if (c.id == id) return p;
    p = c.hashNext;
  }
  return 0;
}

export function connInsert(c: Conn): void {
  if (count >= (mask + 1) * 4) grow();
  let b = hash(c.id);
  c.hashNext = unchecked(buckets[b]);
  unchecked(buckets[b] = changetype<usize>(c));
  count++;
}

/**
 * Unlinks from the registry (the root list is the caller's) and frees the connection with its
 * framing states, server name and per-source place; learning mode's stash (c.obs) is the caller's.
 */
export function connRemove(c: Conn): void {
  let b = hash(c.id);
  let p = unchecked(buckets[b]);
  let prev: usize = 0;
  let self = changetype<usize>(c);
  while (p != 0) {
    if (p == self) {
      if (prev == 0) unchecked(buckets[b] = c.hashNext);
      else changetype<Conn>(prev).hashNext = c.hashNext;
      count--;
      break;
    }
    prev = p;
    p = changetype<Conn>(p).hashNext;
  }
  if (c.frameIn != 0) heap.free(c.frameIn);
  if (c.frameOut != 0) heap.free(c.frameOut);
  if (c.sni != 0) heap.free(c.sni);
  if (c.psKey != 0) heap.free(c.psKey);
  heap.free(self);
}

// Doubling is amortised over the connections that filled the table (rare: past 65,536 live).
function grow(): void {
  let old = buckets;
  let n = old.length * 2;
  buckets = new StaticArray<usize>(n);
  mask = <u32>n - 1;
  for (let i = 0; i < old.length; i++) {
    let p = old[i];
    while (p != 0) {
      let c = changetype<Conn>(p);
      let next = c.hashNext;
      let b = hash(c.id);
      c.hashNext = buckets[b];
      buckets[b] = p;
      p = next;
    }
  }
}
