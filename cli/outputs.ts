/** Saved evaluation outputs (.npy per key): the run directory's writer, for hrm eval. */
export { saveOutputs } from "../src/platform/train-run.js";
