// Bounds on what one policy file may cost the server. A 10 MB file once took 13 s of event loop
// and 1.3 GB of memory, and a compiled config past a gRPC client's 4 MB limit was refused by the
// proxy with nothing said on the server. Each bound is a refusal naming the file.
export const MAX_FILE_BYTES = 1024 * 1024;
export const MAX_DOCUMENTS_PER_FILE = 1000;
export const MAX_RULES_PER_SEGMENT = 1000;
/** One workload's compiled filter configuration (filter/CONFIG.md): far below gRPC's 4 MB default. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

export function fileTooLarge(bytes: number): string {
  return `file is ${sizeText(bytes)}; a policy file may be at most ${sizeText(MAX_FILE_BYTES)} (split it into several files)`;
}
