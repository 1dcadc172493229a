// Runs policy validation off the server's event loop (validator-pool.ts): parsing a large policy
// file takes hundreds of milliseconds, during which /healthz and the xDS streams must still answer.
import { parentPort } from "node:worker_threads";
import { validatePolicyText } from "./load.js";
import { errorMessage } from "../util/index.js";

export interface ValidateRequest {
  id: number;
  file: string;
  text: string;
}

parentPort?.on("message", (req: ValidateRequest) => {
  try {
    // JSON text, not an object graph: the main thread parses a string faster than it deserializes
    // thousands of cloned objects, and that time is spent on the loop this worker exists to spare.
    parentPort!.postMessage({ id: req.id, json: JSON.stringify(validatePolicyText(req.text, req.file)) });
  } catch (err) {
    parentPort!.postMessage({ id: req.id, failure: errorMessage(err) });
  }
});
