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

/** Per-source identity: the principal, else the source IP (without port), else "?". */
export function identity(): string {
  if (principal.length > 0) return principal;
  if (sourceText.length == 0) return "?";
  // Admission asks twice per connection (quarantine key, per-source slots): the IP is cut once
  // per readFacts. Holding the address keeps it alive, so an equal address is the same text.
  if (changetype<usize>(ipFrom) != changetype<usize>(sourceText)) {
    ipFrom = sourceText;
    ipText = ipOf(sourceText);
  }
  return ipText;
}

var ipFrom: string | null = null;
var ipText: string = "";

export function readPluginName(): string {
  let name = "";
  if (hostGetProperty(P_PLUGIN_NAME)) {
    if (hostLen > 0 && hostLen <= MAX_TEXT) name = String.UTF8.decodeUnsafe(hostPtr, hostLen);
    releaseHost();
  }
  return name;
}
