// The stable reason strings of docs/design.md, by number.
export const R_NO_CONFIG: i32 = 0;
export const R_NO_RULE: i32 = 1;
export const R_SOURCE: i32 = 2;
export const R_PORT: i32 = 3;
export const R_PROTOCOL: i32 = 4;
export const R_SCHEDULE: i32 = 5;
export const R_BYTES_IN: i32 = 6;
export const R_BYTES_OUT: i32 = 7;
export const R_MESSAGE_SIZE: i32 = 8;
export const R_DURATION: i32 = 9;
export const R_SOURCE_BYTES: i32 = 10;
export const R_SOURCE_CONNECTIONS: i32 = 11;
export const R_SOURCE_PORTS: i32 = 12;
export const R_QUARANTINED: i32 = 13;
export const R_REVOKED: i32 = 14;
export const REASON_COUNT: i32 = 15;

export const REASONS: StaticArray<string> = [
  "no-config", "no-rule", "source", "port", "protocol", "schedule", "bytes-in", "bytes-out",
  "message-size", "duration", "source-bytes", "source-connections", "source-ports", "quarantined", "revoked",
];

/** Violations that count as a quarantine strike: misbehaviour of the source, not the clock or the operator. */
export function isStrike(reason: i32): bool {
  return reason == R_PORT || reason == R_PROTOCOL || reason == R_BYTES_IN || reason == R_BYTES_OUT ||
    reason == R_MESSAGE_SIZE || reason == R_SOURCE_BYTES || reason == R_SOURCE_CONNECTIONS || reason == R_SOURCE_PORTS;
}
