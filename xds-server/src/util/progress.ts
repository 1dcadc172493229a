// A line of progress on a terminal while something slow runs (a server computing a proposal over
// a large store, an install): a spinner with the seconds elapsed, on stderr, erased when done.
// Nothing at all when the stream is not a TTY, so pipes and logs stay clean.

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** Resolves as `work` does; after `delayMs` without an answer, shows `label` with a spinner. */
export async function withProgress<T>(label: string, work: Promise<T>, stream: ProgressStream = process.stderr, delayMs = 300): Promise<T> {
  if (stream.isTTY !== true) return work;
  const started = Date.now();
  let frame = 0;
  let shown = false;
  const tick = (): void => {
    shown = true;
    const seconds = Math.floor((Date.now() - started) / 1000);
    stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label} ${seconds}s\x1b[K`);
  };
  let timer: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    tick();
    timer = setInterval(tick, 100);
  }, delayMs);
  try {
    return await work;
  } finally {
    clearTimeout(first);
    clearInterval(timer);
    if (shown) stream.write("\r\x1b[K");
  }
}
