/**
 * Node's side of the dataset recipes (src/data/recipes.ts): files through nodeDatasetFs, CSV text, ARC tasks
 * from combined files or folders of task files, and an output directory proved writable before the work.
 * Progress and warnings are the caller's (the CLI prints them).
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ArcTask } from "../data/arc.js";
import { parseCombined, parseTask } from "../data/arc.js";
import { DatasetError } from "../data/format.js";
import type { BuildIO } from "../data/recipes.js";
import { nodeDatasetFs } from "./files.js";
import { ensureWritableDir, readJson, readText } from "./fs.js";

/** Tasks from a combined challenges file (subset from its name) or a folder of subset folders. */
export function readArcTasks(path: string): ArcTask[] {
  if (statSync(path).isDirectory()) {
    const tasks: ArcTask[] = [];
    for (const subset of readdirSync(path).sort()) {
      const dir = join(path, subset);
      if (!statSync(dir).isDirectory()) continue;
      for (const f of readdirSync(dir)
        .sort()
        .filter((n) => n.endsWith(".json")))
        tasks.push(parseTask(readJson(join(dir, f)), f.slice(0, -5), subset, join(dir, f)));
    }
    return tasks;
  }
  const m = /([^/]*?)_challenges\.json$/.exec(path);
  if (!m) throw new DatasetError(`input ${path}: expected a folder or a *_challenges.json file`);
  const subset = m[1].replace(/^arc-agi_/, "").replace(/\d+$/, ""); // evaluation2 -> evaluation
  const solutions = path.replace(/_challenges\.json$/, "_solutions.json");
  return parseCombined(readJson(path), readJson(solutions), subset, path);
}

/** The recipes' IO on Node; `progress` and `warn` report as the caller wants (default: nothing, console.warn). */
export function nodeBuildIO(report: Partial<Pick<BuildIO, "progress" | "warn">> = {}): BuildIO {
  return {
    fs: nodeDatasetFs,
    readText,
    readArcTasks,
    prepareOutput: ensureWritableDir,
    progress: report.progress ?? (() => () => {}),
    warn: report.warn ?? ((m) => console.warn(m)),
  };
}
