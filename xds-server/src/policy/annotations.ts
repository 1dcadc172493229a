// App-team annotations on a workload: they may only tighten what the operator's segments allow
// (docs/design.md). This module reads them; compile.ts applies them.

import { parsePositiveIntegerText, parseQuantity, type Parsed } from "./quantity.js";

export const ANNOTATION_PREFIX = "picoseg.io/";
export const MODE_ANNOTATION = "picoseg.io/mode";
export const LEARN_ANNOTATION = "picoseg.io/learn";

/** The limits annotations may lower, by annotation name, and how each value is read. */
export const LIMIT_ANNOTATIONS = {
  "picoseg.io/max-bytes-in": { limit: "maxBytesIn", parse: (v: string) => parseQuantity(v) },
  "picoseg.io/max-bytes-out": { limit: "maxBytesOut", parse: (v: string) => parseQuantity(v) },
  "picoseg.io/max-message-bytes": { limit: "maxMessageBytes", parse: (v: string) => parseQuantity(v) },
  "picoseg.io/max-duration-seconds": { limit: "maxDurationSeconds", parse: (v: string) => parsePositiveIntegerText(v) },
} as const satisfies Record<string, { limit: string; parse: (v: string) => Parsed<number> }>;

export type LimitName = (typeof LIMIT_ANNOTATIONS)[keyof typeof LIMIT_ANNOTATIONS]["limit"];

/** What a workload's annotations ask for, once read. */
export interface Tightening {
  /** `picoseg.io/mode: enforce`: audit segments enforce for this workload. */
  enforce: boolean;
  /** `picoseg.io/mode: audit`: a request to loosen, ignored (and reported where it would matter). */
  auditRequested: boolean;
  /** `picoseg.io/learn: "true"`: the workload's filter observes and reports (changes no decision). */
  learn: boolean;
  /** Upper bounds for every rule's limits (bytes, or seconds for maxDurationSeconds). */
  limits: Partial<Record<LimitName, number>>;
}

/** Reads the picoseg.io/ annotations; anything that does not parse is a warning and ignored. */
export function readAnnotations(annotations: Readonly<Record<string, string>>): { tightening: Tightening; warnings: string[] } {
  const tightening: Tightening = { enforce: false, auditRequested: false, learn: false, limits: {} };
  const warnings: string[] = [];
  const names = Object.keys(annotations).filter((k) => k.startsWith(ANNOTATION_PREFIX)).sort();
  for (const name of names) {
    const value = (annotations[name] ?? "").trim();
    if (name === MODE_ANNOTATION) {
      if (value === "enforce") tightening.enforce = true;
      else if (value === "audit") tightening.auditRequested = true;
      else warnings.push(`annotation ${name}: ${JSON.stringify(value)} is not enforce or audit; ignored`);
      continue;
    }
    if (name === LEARN_ANNOTATION) {
      if (value === "true") tightening.learn = true;
      else if (value !== "false") warnings.push(`annotation ${name}: ${JSON.stringify(value)} is not "true" or "false"; ignored`);
      continue;
    }
    const known = (LIMIT_ANNOTATIONS as Record<string, { limit: LimitName; parse: (v: string) => Parsed<number> }>)[name];
    if (!known) {
      warnings.push(`annotation ${name}: unknown picoseg annotation; ignored`);
      continue;
    }
    const parsed = known.parse(value);
    if (parsed.ok) tightening.limits[known.limit] = parsed.value;
    else warnings.push(`annotation ${name}: ${parsed.message}; ignored`);
  }
  return { tightening, warnings };
}

/** The tighter of a rule's limit and the annotation's; either may be absent. */
export function tighter(rule: number | undefined, annotation: number | undefined): number | undefined {
  if (rule === undefined) return annotation;
  if (annotation === undefined) return rule;
  return Math.min(rule, annotation);
}
