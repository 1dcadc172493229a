// The scenario's own view of a schedule window, computed with Intl (independently of the
// compiler's time-zone tables), so that a schedule-dependent row states what it expects now.

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;
export type Day = (typeof DAYS)[number];

export interface LocalTime {
  day: Day;
  /** Minutes since local midnight. */
  minutes: number;
  /** e.g. "Fri 21:04 Europe/Berlin". */
  text: string;
}

export function localTime(now: Date, timeZone: string): LocalTime {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(now);
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? "";
  const day = get("weekday") as Day;
  if (!DAYS.includes(day)) throw new Error(`schedule: unexpected weekday "${day}"`);
  const hh = Number(get("hour"));
  const mm = Number(get("minute"));
  return { day, minutes: hh * 60 + mm, text: `${day} ${get("hour")}:${get("minute")} ${timeZone}` };
}

export interface Window {
  days: readonly Day[];
  start: string;
  end: string;
}

const toMinutes = (hhmm: string): number => {
  const [h, m] = hhmm.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

/** Whether now is inside one of the windows (a window belongs to the day it starts; end < start runs past midnight). */
export function insideWindows(now: Date, timeZone: string, windows: readonly Window[]): boolean {
  const t = localTime(now, timeZone);
  const today = DAYS.indexOf(t.day);
  const yesterday = DAYS[(today + 6) % 7] as Day;
  return windows.some((w) => {
    const s = toMinutes(w.start);
    const e = toMinutes(w.end);
    if (e > s) return w.days.includes(t.day) && t.minutes >= s && t.minutes < e;
    // Wraps midnight: the evening part belongs to today, the morning part to yesterday's window.
    return (w.days.includes(t.day) && t.minutes >= s) || (w.days.includes(yesterday) && t.minutes < e);
  });
}

/** payments-db's api-to-db rule (policies/payments-db.yaml): Mon–Fri 07:00–20:00 Europe/Berlin. */
export const PAYMENTS_API_WINDOW = {
  timeZone: "Europe/Berlin",
  windows: [{ days: ["Mon", "Tue", "Wed", "Thu", "Fri"], start: "07:00", end: "20:00" }] as Window[],
};
