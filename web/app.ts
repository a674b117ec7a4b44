/**
 * The web app's page: puzzle input (Sudoku, maze, ARC), the thinking controls, and every segment drawn as the
 * model thread (solver-worker.ts) reports it: the grid with changed cells highlighted, sigmoid(q_halt), the time
 * and whether the answer is valid. window.hrmApp exposes the same calls for tests and the console.
 */
type Grid = (number | string)[][];
interface SegmentMsg {
  segment: number;
  answer: Grid | null;
  changed: number[];
  haltProbability: number;
  qHalt: number;
  qContinue: number;
  halted: boolean;
  valid: boolean;
  elapsedMs: number;
  logits: number[];
}
interface DoneMsg {
  answer: Grid | null;
  segments: number;
  valid: boolean;
  elapsedMs: number;
  qHalt: number[];
  tokens: number[];
}
interface ModelInfo {
  name: string;
  format: string;
  architecture: string;
  parameters: number;
  kinds: string[];
  seq_len: number;
  halt_max_steps: number;
  backend: string;
}
type Puzzle = { kind: string; puzzle: unknown; puzzleId?: number };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker("solver-worker.js", { type: "module" });
let info: ModelInfo | null = null;
let kind = "sudoku";
let nextId = 1;
let puzzles: string[] = [];
let arcTests: unknown[] = [];
let arcTask = "";
let arcIdentifiers: unknown = null;
interface ArcDone {
  task: string;
  variants: number;
  candidates: { grid: number[][]; votes: number; meanQ: number }[];
  segments: number[];
  elapsedMs: number;
}
const arcPending = new Map<number, { resolve: (d: ArcDone) => void; reject: (e: Error) => void }>();
const pending = new Map<
  number,
  { onSegment: (s: SegmentMsg) => void; resolve: (d: DoneMsg) => void; reject: (e: Error) => void }
>();
let loaded: { resolve: (i: ModelInfo) => void; reject: (e: Error) => void } | null = null;

const status = (text: string) => ($("status").textContent = text);

worker.onmessage = (e: MessageEvent) => {
  const m = e.data;
  if (m.type === "loaded") {
    info = m.info as ModelInfo;
    $("model-info").textContent =
      `${info.name}: ${info.format}, ${info.architecture.toUpperCase()}, ${info.parameters.toLocaleString("en")} parameters, solves ${info.kinds.join(", ") || "raw tokens only"} (sequence ${info.seq_len}); kernels: ${info.backend}`;
    $<HTMLButtonElement>("solve").disabled = false;
    status("Ready.");
    loaded?.resolve(info);
  } else if (m.type === "arc-done") {
    arcPending.get(m.id)?.resolve(m.result);
    arcPending.delete(m.id);
  } else if (m.type === "segment") pending.get(m.id)?.onSegment(m.event);
  else if (m.type === "done") {
    pending.get(m.id)?.resolve(m.result);
    pending.delete(m.id);
  } else if (m.type === "error") {
    const err = new Error(m.message);
    if (m.id < 0) loaded?.reject(err);
    else (pending.get(m.id) ?? arcPending.get(m.id))?.reject(err);
    pending.delete(m.id);
    arcPending.delete(m.id);
    status(`Error${m.field ? ` (${m.field})` : ""}: ${m.message}`);
  }
};

function loadFiles(files: { name: string; bytes: Uint8Array }[]): Promise<ModelInfo> {
  status(`Loading ${files.map((f) => f.name).join(", ")}…`);
  return new Promise((resolve, reject) => {
    loaded = { resolve, reject };
    worker.postMessage({ type: "load", files });
  });
}

function solveRaw(
  puzzle: Puzzle,
  maxThinkSteps: number,
  halting: string,
  onSegment: (s: SegmentMsg) => void,
) {
  const id = nextId++;
  for (const old of pending.keys()) pending.delete(old); // a new solve replaces the running one
  return new Promise<DoneMsg>((resolve, reject) => {
    pending.set(id, { onSegment, resolve, reject });
    worker.postMessage({ type: "solve", id, puzzle, maxThinkSteps, halting });
  });
}

function cellText(v: number | string): string {
  return typeof v === "number" ? (v === 0 ? "." : String(v)) : v === " " ? "\u00a0" : v;
}

function drawGrid(grid: Grid, changed: Set<number>, givens: Set<number>, colours: boolean): HTMLTableElement {
  const table = document.createElement("table");
  table.className = "grid";
  grid.forEach((row, r) => {
    const tr = table.insertRow();
    const cells = typeof row === "string" ? [...(row as string)] : row;
    cells.forEach((v, c) => {
      const td = tr.insertCell();
      const i = r * cells.length + c;
      td.textContent = colours ? "" : cellText(v);
      if (colours) td.className = `c${v}`;
      if (changed.has(i)) td.classList.add("changed");
      if (givens.has(i)) td.classList.add("given");
    });
  });
  return table;
}

function currentPuzzle(): Puzzle {
  if (kind === "sudoku") return { kind, puzzle: $<HTMLTextAreaElement>("sudoku-text").value };
  if (kind === "maze") return { kind, puzzle: $<HTMLTextAreaElement>("maze-text").value };
  const test = arcTests[Number($<HTMLSelectElement>("arc-test").value)] as { input: number[][] } | undefined;
  return { kind, puzzle: test?.input ?? [], puzzleId: Number($<HTMLInputElement>("arc-id").value) };
}

function solveArcVote(
  task: string,
  input: unknown,
  identifiers: unknown,
  maxThinkSteps: number,
  halting: string,
) {
  const id = nextId++;
  return new Promise<ArcDone>((resolve, reject) => {
    arcPending.set(id, { resolve, reject });
    worker.postMessage({ type: "arc", id, task, input, identifiers, maxThinkSteps, halting });
  });
}

/** ARC with identifiers.json: the test input, then every voted candidate with its votes. */
async function arcVoteFromUi(): Promise<null> {
  const test = arcTests[Number($<HTMLSelectElement>("arc-test").value)] as { input: number[][] } | undefined;
  const list = $("segments");
  list.replaceChildren();
  status("Solving every variant of the task…");
  try {
    const max = Number($<HTMLInputElement>("max-steps").value);
    const halting = $<HTMLInputElement>("adaptive").checked ? "adaptive" : "fixed";
    const r = await solveArcVote(arcTask, test?.input ?? [], arcIdentifiers, max, halting);
    const item = (title: string, grid: number[][]) => {
      const li = document.createElement("li");
      const p = document.createElement("p");
      p.textContent = title;
      li.append(p, drawGrid(grid, new Set(), new Set(), true));
      list.append(li);
    };
    item("Test input", test?.input ?? []);
    r.candidates.forEach((c, i) =>
      item(
        `Candidate ${i + 1}: ${c.votes} of ${r.variants} votes, mean halt ${(100 * c.meanQ).toFixed(1)}%`,
        c.grid,
      ),
    );
    $("summary").textContent =
      `${r.variants} variants voted (${r.elapsedMs.toFixed(0)} ms); attempts 1 and 2 are the first two candidates`;
    status("Done.");
  } catch (e) {
    $("summary").textContent = (e as Error).message;
  }
  return null;
}

async function solveFromUi(): Promise<DoneMsg | null> {
  if (kind === "arc" && arcIdentifiers) return arcVoteFromUi();
  const puzzle = currentPuzzle();
  const maxThinkSteps = Number($<HTMLInputElement>("max-steps").value);
  const halting = $<HTMLInputElement>("adaptive").checked ? "adaptive" : "fixed";
  const list = $("segments");
  list.replaceChildren();
  $("summary").textContent = "";
  const givens = new Set<number>();
  if (kind === "sudoku")
    [...(puzzle.puzzle as string).replace(/[\s|+-]/g, "")].forEach(
      (ch, i) => ch !== "." && ch !== "0" && givens.add(i),
    );
  status("Thinking…");
  try {
    const done = await solveRaw(puzzle, maxThinkSteps, halting, (s) => {
      const li = document.createElement("li");
      const head = document.createElement("p");
      head.innerHTML = `Segment ${s.segment}: halt ${(100 * s.haltProbability).toFixed(1)}%, ${s.elapsedMs.toFixed(1)} ms, <span class="${s.valid ? "valid" : "invalid"}">${s.valid ? "valid" : "not valid"}</span>${s.halted ? " (stops here)" : ""}`;
      li.append(head);
      if (s.answer)
        li.append(drawGrid(s.answer, new Set(s.segment > 1 ? s.changed : []), givens, kind === "arc"));
      list.append(li);
    });
    $("summary").innerHTML =
      `Answer after ${done.segments} segment${done.segments === 1 ? "" : "s"} (${done.elapsedMs.toFixed(0)} ms): <span class="${done.valid ? "valid" : "invalid"}">${done.valid ? "valid" : "not valid"}</span>`;
    status("Done.");
    return done;
  } catch (e) {
    $("summary").textContent = (e as Error).message;
    return null;
  }
}

function randomPuzzle() {
  if (!puzzles.length) return;
  const p = puzzles[Math.floor(Math.random() * puzzles.length)];
  const n = Math.round(Math.sqrt(p.length));
  $<HTMLTextAreaElement>("sudoku-text").value = Array.from({ length: n }, (_, r) =>
    p.slice(r * n, r * n + n),
  ).join("\n");
}

async function readFiles(list: FileList | File[]): Promise<{ name: string; bytes: Uint8Array }[]> {
  return Promise.all(
    Array.from(list).map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })),
  );
}

function selectKind(k: string) {
  kind = k;
  for (const t of ["sudoku", "maze", "arc"]) {
    $(`tab-${t}`).setAttribute("aria-selected", String(t === k));
    $(`pane-${t}`).hidden = t !== k;
  }
}

for (const t of ["sudoku", "maze", "arc"]) $(`tab-${t}`).addEventListener("click", () => selectKind(t));
$("solve").addEventListener("click", () => void solveFromUi());
$("random-puzzle").addEventListener("click", randomPuzzle);
$<HTMLInputElement>("max-steps").addEventListener("input", (e) => {
  $("max-steps-out").textContent = (e.target as HTMLInputElement).value;
});
$<HTMLInputElement>("model-file").addEventListener("change", async (e) => {
  const files = (e.target as HTMLInputElement).files;
  if (files?.length) await loadFiles(await readFiles(files)).catch(() => {});
});
$<HTMLInputElement>("maze-file").addEventListener("change", async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) $<HTMLTextAreaElement>("maze-text").value = await f.text();
});
$<HTMLInputElement>("arc-file").addEventListener("change", async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (!f) return;
  try {
    const task = JSON.parse(await f.text()) as { test?: unknown[] };
    arcTests = Array.isArray(task.test) ? task.test : [];
    arcTask = f.name.replace(/\.json$/i, "");
    $("arc-test").replaceChildren(...arcTests.map((_, i) => new Option(`test ${i}`, String(i))));
    status(`${f.name}: ${arcTests.length} test input(s)`);
  } catch (err) {
    status(`${f.name}: not an ARC task (${(err as Error).message})`);
  }
});
$<HTMLInputElement>("arc-ids").addEventListener("change", async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (!f) return;
  try {
    arcIdentifiers = JSON.parse(await f.text());
    status(`${f.name}: ${Array.isArray(arcIdentifiers) ? arcIdentifiers.length : 0} identifiers`);
  } catch (err) {
    status(`${f.name}: not JSON (${(err as Error).message})`);
  }
});
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", async (e) => {
  e.preventDefault();
  if (e.dataTransfer?.files.length) await loadFiles(await readFiles(e.dataTransfer.files)).catch(() => {});
});

async function start() {
  const [model, list] = await Promise.all([
    fetch("models/sudoku-4x4.safetensors").then((r) => r.arrayBuffer()),
    fetch("puzzles-4x4.json").then((r) => r.json() as Promise<string[]>),
  ]);
  puzzles = list;
  randomPuzzle();
  await loadFiles([{ name: "sudoku-4x4.safetensors", bytes: new Uint8Array(model) }]);
}

(window as unknown as { hrmApp: unknown }).hrmApp = {
  loadFiles,
  solve: (p: Puzzle, maxThinkSteps: number, halting: string) => {
    const segments: SegmentMsg[] = [];
    return solveRaw(p, maxThinkSteps, halting, (s) => segments.push(s)).then((done) => ({ done, segments }));
  },
  solveFromUi,
  ready: start(),
};
