// Small builders for policy tests: whole PicoSegment documents from the part a test is about.

import { validatePolicyText } from "../../xds-server/src/policy/load.js";
import { type LoadedSegment } from "../../xds-server/src/policy/types.js";
import { formatPolicyError } from "../../api/status.js";

/** Removes the common indentation of a template literal, so YAML can be written indented in tests. */
export function dedent(text: string): string {
  const lines = text.replace(/^\n/, "").replace(/\n\s*$/, "\n").split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent)).join("\n");
}

/**
 * A PicoSegment document whose `spec:` is the given YAML (indented as in a spec block, any
 * indentation accepted). The spec starts on line 6 of the document.
 */
export function segmentDoc(spec: string, name = "seg", namespace = "team-a"): string {
  const body = dedent(spec)
    .split("\n")
    .map((l) => (l === "" ? l : `  ${l}`))
    .join("\n");
  const doc = `apiVersion: picoseg.io/v1alpha1\nkind: PicoSegment\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n${body}`;
  return doc.endsWith("\n") ? doc : `${doc}\n`;
}

/** A segment with one rule (the rule's YAML below `- name: r`), for rule-level checks. */
export function ruleDoc(ruleBody: string): string {
  const body = dedent(ruleBody)
    .split("\n")
    .map((l) => (l === "" ? l : `      ${l}`))
    .join("\n");
  return segmentDoc("rules:\n  - name: r\n") + (body.endsWith("\n") ? body : `${body}\n`);
}

/** Every error of a document as printed by `picoseg validate`, file named t.yaml. */
export function errorsOf(text: string): string[] {
  return validatePolicyText(text, "t.yaml").errors.map(formatPolicyError);
}

/** The single segment of a valid document (throws with the errors otherwise). */
export function loadOne(text: string, file = "t.yaml"): LoadedSegment {
  const result = validatePolicyText(text, file);
  if (result.errors.length > 0 || result.segments.length !== 1) {
    throw new Error(`expected one valid segment, got:\n${result.errors.map(formatPolicyError).join("\n")}`);
  }
  return result.segments[0] as LoadedSegment;
}
