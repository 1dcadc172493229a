// Writes istio-manifests/crd.yaml from the PicoSegment JSON Schema (test/manifests checks it is current).
import { readFileSync, writeFileSync } from "node:fs";
import { picoSegmentCrdYaml } from "../api/crd.js";

const schema = JSON.parse(readFileSync("api/picosegment.schema.json", "utf8")) as Record<string, unknown>;
writeFileSync("istio-manifests/crd.yaml", picoSegmentCrdYaml(schema));
console.log("wrote istio-manifests/crd.yaml");
