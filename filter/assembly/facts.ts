// What the filter learns about the current connection from Envoy's attributes.
// Every property may be absent or malformed; absent facts match nothing that
// requires them (fail closed).
import { addrHi, addrLo, addrV4, ipOf, parseSocketAddress } from "./cidr";
import { Conn } from "./connection";
import { hostGetProperty, hostLen, hostPtr, releaseHost } from "./hostcalls";

function path(a: string, b: string): ArrayBuffer {
  return String.UTF8.encode(a + String.fromCharCode(0) + b);
}

const P_SOURCE = path("source", "address");
const P_PORT = path("destination", "port");
const P_MTLS = path("connection", "mtls");
const P_SAN = path("connection", "uri_san_peer_certificate");
const P_TLS_VERSION = path("connection", "tls_version");
const P_PLUGIN_NAME = String.UTF8.encode("plugin_name");

const MAX_TEXT: usize = 1024;

/** Facts of the connection read by the last readFacts(). */
export var sourceText: string = "";
export var sourceOk: bool = false;
export var sourceV4: bool = false;
export var sourceHi: u64 = 0;
export var sourceLo: u64 = 0;
export var destPort: i32 = -1;
export var principal: string = "";
/** The downstream connection is TLS (Envoy knows a TLS version), handshake done or not. */
export var tlsPresent: bool = false;

/**
 * The server name of the connection being judged: not a host property (picoseg reads it from
 * the ClientHello itself, datapath.ts), so readFacts() forgets it and the caller that judges a
 * connection names it again (useServerNameOf): a stale one can only be absent, never another's.
 */
export var sniPtr: usize = 0;
export var sniLen: usize = 0;

export function useServerNameOf(c: Conn): void {
  sniPtr = 0;
  sniLen = 0;
  if (c.sni == 0) return;
  sniLen = <usize>load<u32>(c.sni);
  sniPtr = c.sni + 4;
}

export function readFacts(): void {
  sniPtr = 0;
  sniLen = 0;
  sourceText = "";
  sourceOk = false;
  if (hostGetProperty(P_SOURCE)) {
    if (hostLen > 0 && hostLen <= MAX_TEXT) {
      sourceText = String.UTF8.decodeUnsafe(hostPtr, hostLen);
      sourceOk = parseSocketAddress(hostPtr, hostLen);
      sourceV4 = addrV4;
      sourceHi = addrHi;
      sourceLo = addrLo;
    }
    releaseHost();
  }
  destPort = -1;
  if (hostGetProperty(P_PORT)) {
    if (hostLen == 8) {
      let v = load<i64>(hostPtr);
      if (v >= 0 && v <= 65535) destPort = <i32>v;
    }
    releaseHost();
  }
  // Envoy answers `connection.tls_version` (possibly empty before the handshake) only for TLS connections.
  tlsPresent = false;
  if (hostGetProperty(P_TLS_VERSION)) {
    tlsPresent = true;
    releaseHost();
  }
  // mTLS needs TLS: a plaintext connection is spared the host call (each new one costs Envoy
  // a property lookup; bench/dataplane prices new connections).
  let mtls = false;
  if (tlsPresent && hostGetProperty(P_MTLS)) {
    mtls = hostLen >= 1 && load<u8>(hostPtr) != 0;
    releaseHost();
  }
  principal = "";
  if (mtls && hostGetProperty(P_SAN)) {
    if (hostLen > 0 && hostLen <= MAX_TEXT) principal = String.UTF8.decodeUnsafe(hostPtr, hostLen);
    releaseHost();
  }
}

/**
 * The per-source identity as UTF-8, at the returned address (identityLen bytes) until the next
 * call: the principal, else the source IP (without port), else "?". Admission asks twice per
 * connection (quarantine key, per-source slots): it is cut and encoded once per readFacts.
 */
export function identityUtf8(): usize {
  let from = "?";
  let address = false;
  if (principal.length > 0) {
    from = principal;
  } else if (sourceText.length > 0) {
    from = sourceText;
    address = true;
  }
  // Holding the text keeps it alive, so an equal address is the same text, never a reused one.
  if (changetype<usize>(idFrom) == changetype<usize>(from)) return idBytes;
  idFrom = from;
  let id = from;
  if (address) id = ipOf(from);
  let n = <usize>String.UTF8.byteLength(id);
  if (n > idCap) {
    idCap = n;
    idBytes = heap.realloc(idBytes, n);
  }
  String.UTF8.encodeUnsafe(changetype<usize>(id), id.length, idBytes);
  identityLen = n;
  return idBytes;
}

/** The length of identityUtf8()'s bytes. */
export var identityLen: usize = 0;
var idFrom: string | null = null;
var idBytes: usize = heap.alloc(64);
var idCap: usize = 64;

export function readPluginName(): string {
  let name = "";
  if (hostGetProperty(P_PLUGIN_NAME)) {
    if (hostLen > 0 && hostLen <= MAX_TEXT) name = String.UTF8.decodeUnsafe(hostPtr, hostLen);
    releaseHost();
  }
  return name;
}
