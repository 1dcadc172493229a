// Weekly windows ("Mon–Fri 08:00–18:00") as minutes of the local week, Monday 00:00 = 0,
// the form CONFIG.md's `window START END` lines carry.

import { DAYS, type Day, type Window } from "../../../api/picosegment.js";
import type { Parsed } from "./quantity.js";

export const MINUTES_PER_DAY = 1440;
export const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;

/** Minutes after local midnight from "HH:MM" (00:00–23:59); "24:00" only where `allowEndOfDay`. */
export function parseClock(text: unknown, allowEndOfDay: boolean): Parsed<number> {
  const hint = allowEndOfDay ? `"HH:MM" from 00:00 to 24:00` : `"HH:MM" from 00:00 to 23:59`;
  if (typeof text !== "string") return { ok: false, message: `must be a time ${hint}` };
  if (allowEndOfDay && text === "24:00") return { ok: true, value: MINUTES_PER_DAY };
  const m = /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(text);
  if (!m) return { ok: false, message: `${JSON.stringify(text)} is not a time ${hint}` };
  return { ok: true, value: Number(m[1]) * 60 + Number(m[2]) };
}

/** One `window START END` line: START in [0, 10080), START < END <= START + 10080. */
export interface WeekInterval {
  start: number;
  end: number;
}

/**
 * The week intervals of one window, one per day, in Monday-to-Sunday order (duplicated days
 * once). A window belongs to the day it starts on; an end at or before the start runs past
 * midnight into the next day, so a Sunday window that does so ends after 10080 (next Monday).
 * The window must already be valid (see semantic.ts).
 */
export function windowIntervals(window: Window): WeekInterval[] {
  const start = parseClock(window.start, false);
  const end = parseClock(window.end, true);
  if (!start.ok || !end.ok) throw new Error(`invalid window ${window.start}-${window.end}`);
  const length = end.value > start.value ? end.value - start.value : end.value + MINUTES_PER_DAY - start.value;
  const days = new Set<Day>(window.days);
  return DAYS.flatMap((day, index) => {
    if (!days.has(day)) return [];
    const s = index * MINUTES_PER_DAY + start.value;
    return [{ start: s, end: s + length }];
  });
}
