/** `hrm report <run dir>`: training curves as SVG files plus a self-contained report.html, from metrics.jsonl. */
export { writeReport } from "../src/platform/train-run.js";
