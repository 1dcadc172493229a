// The bytes of one connection buffer as the pure stages (framing, sniffing) read them.
// The stages ask for the few bytes they need; the view's owner decides where they come
// from: the filter copies just those bytes out of the host's buffer (datapath.ts), tests
// point into plain memory. No closures in AssemblyScript 0.17: two function fields.

/** Makes [start, start+len) of the buffer readable at view.ptr; view.len may come back shorter. False on a host error. */
export type FillBytes = (view: ByteView, start: u32, len: u32) => bool;
/** Ends the last fill (the filter gives the host's copy back). */
export type ReleaseBytes = (view: ByteView) => void;

/** Kept outside the managed heap: one per direction, built once, no refcounting on the hot path. */
@unmanaged
export class ByteView {
  fill: FillBytes;
  release: ReleaseBytes;
  /** What the owner reads from: a host buffer type (filter), or the base address of the bytes (tests). */
  source: usize;
  /** Bytes in the buffer, for owners that know it (tests). */
  size: u32;
  /** Result of the last fill: its bytes, valid until the next fill or release. */
  ptr: usize;
  len: usize;
}

export function newByteView(fill: FillBytes, release: ReleaseBytes, source: usize): ByteView {
  let v = changetype<ByteView>(heap.alloc(offsetof<ByteView>()));
  v.fill = fill;
  v.release = release;
  v.source = source;
  v.size = 0;
  v.ptr = 0;
  v.len = 0;
  return v;
}
