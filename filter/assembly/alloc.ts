// The allocator Envoy calls (`malloc`) to hand us every value it returns:
// properties, buffer bytes, shared data. The filter always releases such a
// value before its next host call, so small requests reuse one scratch block
// and the data path allocates nothing.
const SCRATCH_SIZE: usize = 4096;
const MAX_ALLOC: usize = 1 << 29; // larger requests fail (0) rather than abort the VM

const scratch: usize = heap.alloc(SCRATCH_SIZE);
var scratchBusy: bool = false;

export function malloc(size: i32): usize {
  if (size < 0 || <usize>size > MAX_ALLOC) return 0;
  if (<usize>size <= SCRATCH_SIZE && !scratchBusy) {
    scratchBusy = true;
    return scratch;
  }
  return heap.alloc(<usize>size);
}

export function free(ptr: usize): void {
  if (ptr == scratch) {
    scratchBusy = false;
    return;
  }
  if (ptr != 0) heap.free(ptr);
}
