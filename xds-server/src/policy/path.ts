// Field paths as operators read them in errors: `spec.rules[0].limits.maxBytesIn`.

/** One step into a document: a mapping key or a sequence index. */
export type PathStep = string | number;
export type FieldPath = readonly PathStep[];

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `["spec","rules",0,"name"]` → `spec.rules[0].name`; odd keys (label keys with dots) are quoted. */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const step of path) {
    if (typeof step === "number") out += `[${step}]`;
    else if (IDENTIFIER.test(step)) out += out === "" ? step : `.${step}`;
    else out += `[${JSON.stringify(step)}]`;
  }
  return out;
}

/** Ajv's instancePath (a JSON pointer, `/spec/rules/0`) as path steps; digits become indexes. */
export function pointerToPath(pointer: string): PathStep[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((raw) => raw.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((step) => (/^(0|[1-9][0-9]*)$/.test(step) ? Number(step) : step));
}
