// IPv4/IPv6 addresses and prefix blocks, parsed from bytes without allocation.
// An address is two u64 halves; IPv4 lives in the low 32 bits of `lo`.

/** Result of the last parseAddress() call (module globals: no allocation per connection). */
export var addrV4: bool = false;
export var addrHi: u64 = 0;
export var addrLo: u64 = 0;

/** Value of an ASCII hex digit, -1 when c is not one. */
export function hexVal(c: u32): i32 {
  if (c >= 48 && c <= 57) return <i32>(c - 48);
  if (c >= 97 && c <= 102) return <i32>(c - 87);
  if (c >= 65 && c <= 70) return <i32>(c - 55);
  return -1;
}

/** Parses dotted IPv4 at [p, end) into a u32; -1 on error. */
function parseV4(p: usize, end: usize): i64 {
  let val: u64 = 0;
  let parts = 0;
  let digits = 0;
  let cur: u32 = 0;
  for (let q = p; q < end; q++) {
    let c = <u32>load<u8>(q);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && cur == 0) return -1; // no leading zeros
      cur = cur * 10 + (c - 48);
      digits++;
      if (digits > 3 || cur > 255) return -1;
    } else if (c == 46) {
      if (digits == 0 || parts >= 3) return -1;
      val = (val << 8) | cur;
      parts++;
      cur = 0;
      digits = 0;
    } else return -1;
  }
  if (digits == 0 || parts != 3) return -1;
  return <i64>((val << 8) | cur);
}

/** Parses an IPv4 or IPv6 address at [p, p+len) into addrV4/addrHi/addrLo. */
export function parseAddress(p: usize, len: usize): bool {
  let end = p + len;
  if (len == 0 || len > 45) return false;
  let hasColon = false;
  for (let q = p; q < end; q++) if (load<u8>(q) == 58) { hasColon = true; break; }
  if (!hasColon) {
    let v = parseV4(p, end);
    if (v < 0) return false;
    addrV4 = true;
    addrHi = 0;
    addrLo = <u64>v;
    return true;
  }
  // IPv6: up to 8 groups, one "::", an optional trailing dotted IPv4.
  let groups = new StaticArray<u32>(8); // small, freed right away; parsing is off the data path
  let n = 0;
  let gap = -1;
  let q = p;
  if (len >= 2 && load<u8>(q) == 58 && load<u8>(q + 1) == 58) {
    gap = 0;
    q += 2;
    if (q == end) { return finishV6(groups, 0, 0); }
  } else if (load<u8>(q) == 58) return false;
  while (q < end) {
    // find the token end
    let t = q;
    let hasDot = false;
    while (t < end && load<u8>(t) != 58) { if (load<u8>(t) == 46) hasDot = true; t++; }
    if (t == q) return false;
    if (hasDot) {
      if (t != end || n > 6) return false;
      let v = parseV4(q, t);
      if (v < 0) return false;
      groups[n++] = <u32>((v >> 16) & 0xffff);
      groups[n++] = <u32>(v & 0xffff);
      q = t;
      break;
    }
    if (t - q > 4 || n >= 8) return false;
    let g: u32 = 0;
    for (let r = q; r < t; r++) {
      let h = hexVal(<u32>load<u8>(r));
      if (h < 0) return false;
      g = (g << 4) | <u32>h;
    }
    groups[n++] = g;
    q = t;
    if (q < end) {
      // at ':'
      q++;
      if (q < end && load<u8>(q) == 58) {
        if (gap >= 0) return false;
        gap = n;
        q++;
      } else if (q == end) return false; // trailing single ':'
    }
  }
  return finishV6(groups, n, gap);
}

function finishV6(groups: StaticArray<u32>, n: i32, gap: i32): bool {
  if (gap < 0 && n != 8) return false;
  if (gap >= 0 && n > 7) return false;
  let full = new StaticArray<u32>(8);
  if (gap < 0) {
    for (let i = 0; i < 8; i++) full[i] = groups[i];
  } else {
    let tail = n - gap;
    for (let i = 0; i < gap; i++) full[i] = groups[i];
    for (let i = 0; i < tail; i++) full[8 - tail + i] = groups[gap + i];
  }
  let hi: u64 = 0;
  let lo: u64 = 0;
  for (let i = 0; i < 4; i++) hi = (hi << 16) | <u64>full[i];
  for (let i = 4; i < 8; i++) lo = (lo << 16) | <u64>full[i];
  // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 address.
  if (hi == 0 && (lo >> 32) == 0xffff) {
    addrV4 = true;
    addrHi = 0;
    addrLo = lo & 0xffffffff;
    return true;
  }
  addrV4 = false;
  addrHi = hi;
  addrLo = lo;
  return true;
}

/**
 * Parses Envoy's `source.address` ("ip:port", "[v6]:port", or a bare ip) into
 * addrV4/addrHi/addrLo.
 */
export function parseSocketAddress(p: usize, len: usize): bool {
  if (len == 0) return false;
  let end = p + len;
  if (load<u8>(p) == 91) { // '['
    let q = p + 1;
    while (q < end && load<u8>(q) != 93) q++;
    if (q >= end) return false;
    return parseAddress(p + 1, q - p - 1);
  }
  let colons = 0;
  let last: usize = 0;
  for (let q = p; q < end; q++) if (load<u8>(q) == 58) { colons++; last = q; }
  if (colons == 1) return parseAddress(p, last - p);
  return parseAddress(p, len); // bare IPv4 or bare IPv6
}

/** A prefix block: `ip 10.0.0.0/8`. */
export class Cidr {
  v4: bool = false;
  hi: u64 = 0;
  lo: u64 = 0;
  bits: i32 = 0;

  contains(v4: bool, hi: u64, lo: u64): bool {
    if (v4 != this.v4) return false;
    let b = this.bits;
    if (v4) {
      let m = maskV4(b);
      return (lo & m) == (this.lo & m);
    }
    let mh = maskHi(b);
    let ml = maskLo(b);
    return (hi & mh) == (this.hi & mh) && (lo & ml) == (this.lo & ml);
  }
}

/** The mask of an IPv4 prefix of `bits` (0..32), in the low 32 bits. */
function maskV4(bits: i32): u64 {
  return bits == 0 ? 0 : (<u64>0xffffffff << (32 - <u64>bits)) & 0xffffffff;
}

/** The high and low halves of the mask of an IPv6 prefix of `bits` (0..128). */
function maskHi(bits: i32): u64 {
  return bits >= 64 ? <u64>-1 : (bits == 0 ? 0 : (<u64>-1) << (64 - <u64>bits));
}
function maskLo(bits: i32): u64 {
  return bits <= 64 ? 0 : (bits >= 128 ? <u64>-1 : (<u64>-1) << (128 - <u64>bits));
}

/** Parses "ADDR/LEN"; null when malformed. Host bits must be zero (canonical form). */
export function parseCidr(p: usize, len: usize): Cidr | null {
  let end = p + len;
  let slash: usize = 0;
  for (let q = p; q < end; q++) if (load<u8>(q) == 47) { slash = q; break; }
  if (slash == 0 || slash == p || slash + 1 >= end || end - slash - 1 > 3) return null;
  let bits = 0;
  for (let q = slash + 1; q < end; q++) {
    let c = <i32>load<u8>(q);
    if (c < 48 || c > 57) return null;
    bits = bits * 10 + (c - 48);
  }
  if (!parseAddress(p, slash - p)) return null;
  let c = new Cidr();
  c.v4 = addrV4;
  c.hi = addrHi;
  c.lo = addrLo;
  // "::ffff:a.b.c.d/len" was mapped to IPv4 by parseAddress: shift its length.
  let isMappedText = addrV4 && hasColonIn(p, slash);
  if (isMappedText) bits -= 96;
  if (bits < 0 || bits > (c.v4 ? 32 : 128)) return null;
  c.bits = bits;
  // host bits zero: the masked address equals itself
  if (c.v4) {
    if ((c.lo & maskV4(bits)) != c.lo) return null;
  } else if ((c.hi & maskHi(bits)) != c.hi || (c.lo & maskLo(bits)) != c.lo) {
    return null;
  }
  return c;
}

function hasColonIn(p: usize, end: usize): bool {
  for (let q = p; q < end; q++) if (load<u8>(q) == 58) return true;
  return false;
}

/** The source IP of Envoy's `source.address` ("IP:PORT", "[IPv6]:PORT"), without the port. */
export function ipOf(address: string): string {
  if (address.length == 0) return "";
  if (address.charCodeAt(0) == 91) {
    let close = address.indexOf("]");
    return close > 0 ? address.substring(1, close) : address;
  }
  let first = address.indexOf(":");
  let last = address.lastIndexOf(":");
  if (first >= 0 && first == last) return address.substring(0, first);
  return address;
}
