// What learn, what-if and the server's /proposals read from their caller (flags or a query): one
// parser, so that `picoseg learn` and the console propose from the same options the same way.
// `field` names an option as the caller wrote it ("picoseg learn: --margin", or "margin").
import { parseDuration, checkTimeZone } from "../policy/index.js";
import type { ProposeOptions } from "./propose.js";

export const LEARN_DEFAULTS = { since: "24h", margin: "1.5", timezone: "UTC" } as const;

/** Bad option text: the message names the option (an HTTP caller gets 400 with it). */
export class LearnOptionError extends Error {}

export type FieldName = (option: string) => string;

/** NS/NAME. */
export function parseWorkload(text: string, field: FieldName): string {
  if (!/^[^/]+\/[^/]+$/.test(text)) throw new LearnOptionError(`${field("workload")}: expected NS/NAME, got "${text}"`);
  return text;
}

/** A duration such as 24h: the Unix ms it reaches back to from `now`. */
export function parseSince(text: string, field: FieldName, now = Date.now()): number {
  const since = parseDuration(text);
  if (!since.ok) throw new LearnOptionError(`${field("since")}: ${since.message}`);
  return now - since.value * 1000;
}

/** The margin (a factor >= 1) and the schedule's IANA time zone. */
export function parseProposeOptions(o: { margin: string; timezone: string }, field: FieldName): Omit<ProposeOptions, "workload"> {
  const margin = Number(o.margin);
  if (!(margin >= 1) || !Number.isFinite(margin)) throw new LearnOptionError(`${field("margin")}: a factor >= 1, got "${o.margin}"`);
  const zone = checkTimeZone(o.timezone);
  if (!zone.ok) throw new LearnOptionError(`${field("timezone")}: ${zone.message}`);
  return { margin, timezone: zone.value };
}
