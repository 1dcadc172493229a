// The configuration string's tokenizer: one line at a time, tokens separated by spaces,
// numbers checked as they are read (numbersOk() reports the first bad one of a line).
import { NONE } from "./config";

const MAX_NUMBER: u64 = 9007199254740992; // 2^53

var tokStart = new Array<i32>(16);
var tokEnd = new Array<i32>(16);
var ntok: i32 = 0;
var base: usize = 0;

export function tokenize(lineStart: i32, lineEnd: i32): void {
  ntok = 0;
  let i = lineStart;
  while (i < lineEnd) {
    while (i < lineEnd && load<u8>(base + i) == 32) i++;
    if (i >= lineEnd) break;
    let s = i;
    while (i < lineEnd && load<u8>(base + i) != 32) i++;
    if (ntok >= tokStart.length) {
      tokStart.push(0);
      tokEnd.push(0);
    }
    tokStart[ntok] = s;
    tokEnd[ntok] = i;
    ntok++;
  }
}

export function tokLen(i: i32): usize {
  return <usize>(tokEnd[i] - tokStart[i]);
}

export function tokIs(i: i32, s: string): bool {
  let n = tokEnd[i] - tokStart[i];
  if (n != s.length) return false;
  for (let k = 0; k < n; k++) if (<i32>load<u8>(base + tokStart[i] + k) != s.charCodeAt(k)) return false;
  return true;
}

export function tokStr(i: i32): string {
  return String.UTF8.decodeUnsafe(base + tokStart[i], tokLen(i));
}

var numOk: bool = true;

/** Unsigned decimal, at most 2^53; sets numOk=false on error. */
export function tokU64(i: i32): u64 {
  let n = tokLen(i);
  if (n == 0 || n > 16) { numOk = false; return 0; }
  let v: u64 = 0;
  for (let k: usize = 0; k < n; k++) {
    let c = <u64>load<u8>(base + tokStart[i] + k);
    if (c < 48 || c > 57) { numOk = false; return 0; }
    v = v * 10 + (c - 48);
  }
  if (v > MAX_NUMBER) { numOk = false; return 0; }
  return v;
}

/** Optionally negative decimal. */
export function tokI64(i: i32): i64 {
  let n = tokLen(i);
  if (n >= 2 && load<u8>(base + tokStart[i]) == 45) {
    tokStart[i]++;
    let v = tokU64(i);
    tokStart[i]--;
    return -<i64>v;
  }
  return <i64>tokU64(i);
}

/** A limit or `-`. */
export function tokLimit(i: i32): u64 {
  if (tokIs(i, "-")) return NONE;
  return tokU64(i);
}

/** Starts reading the configuration at `ptr`. */
export function tokSource(ptr: usize): void {
  base = ptr;
}

/** Tokens on the line last tokenized. */
export function tokCount(): i32 {
  return ntok;
}

/** Address of token i's bytes. */
export function tokPtr(i: i32): usize {
  return base + tokStart[i];
}

/** Starts a line with no number error. */
export function clearNumberError(): void {
  numOk = true;
}

export function numbersOk(): bool {
  return numOk;
}

/** A number the caller found out of its range. */
export function markNumberError(): void {
  numOk = false;
}
