/**
 * The web app (web/), built as `npm run build:web` builds it and opened in Chromium, cross-origin isolated (the
 * WASM worker pool): it solves a shipped held-out puzzle through its controls with the same grid and segment
 * count as Node on the same checkpoint, follows the max-thinking-steps slider and the halting toggle, loads the
 * official tiny-rope .pt (with its config.json) through the file input and reproduces the fixture's eval
 * logits, votes on an ARC task's variants in its ARC view as solveArcTask does, labels every control, logs no
 * console error, and leaves a screenshot in dist/tests/.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { decodeNpy, loadModel, solve, solveArcTask, toFloat32 } from "../src/node.js";
import { compare } from "./helpers.js";
import { arcModelCase } from "./support/arc-model.js";
import { browserSkip, launchChromium, serveDir } from "./support/browser.js";
import { OFFICIAL_FIXTURES, TRM_OFFICIAL_FIXTURES } from "./support/fixtures.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TINY = join(OFFICIAL_FIXTURES, "tiny-rope");

/** The ARC model case (support/arc-model.ts) as files in `dir`, for the file inputs. */
function arcCase(dir: string) {
  const c = arcModelCase();
  mkdirSync(dir, { recursive: true });
  const files = {
    model: join(dir, "arc.safetensors"),
    taskFile: join(dir, `${c.task}.json`),
    idsFile: join(dir, "identifiers.json"),
  };
  writeFileSync(files.model, c.modelBytes);
  writeFileSync(files.taskFile, JSON.stringify(c.taskJson));
  writeFileSync(files.idsFile, JSON.stringify(c.identifiers));
  return { ...files, ...c };
}

type AppWindow = {
  hrmApp: {
    ready: Promise<unknown>;
    solve(
      p: unknown,
      max: number,
      halting: string,
    ): Promise<{
      done: { segments: number; answer: unknown };
      segments: { logits: number[]; qHalt: number }[];
    }>;
  };
};

test(
  "the web app solves, follows its controls and loads an official .pt, in Chromium",
  { skip: browserSkip() },
  async () => {
    const { buildWeb } = (await import(join(ROOT, "scripts", "build-web.mjs"))) as {
      buildWeb(out: string): Promise<string>;
    };
    const dir = await buildWeb(join(ROOT, "dist", "tests", "web-app"));
    const puzzles = JSON.parse(readFileSync(join(ROOT, "web", "puzzles-4x4.json"), "utf8")) as string[];
    const model = await loadModel(readFileSync(join(ROOT, "web", "models", "sudoku-4x4.safetensors")));
    const server = await serveDir(dir, true);
    const browser = await launchChromium();
    const errors: string[] = [];
    try {
      const page = await browser.newPage();
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(server.url);
      await page.evaluate(() => (window as unknown as AppWindow).hrmApp.ready);
      assert.match((await page.textContent("#model-info")) ?? "", /wasm \(wasm-\S+, \d+ threads?\)/);
      assert.equal(await page.evaluate(() => crossOriginIsolated), true);

      // Every control has a label (inputs, the textarea, the select).
      const unlabelled = await page.evaluate(() =>
        Array.from(document.querySelectorAll("input, textarea, select"))
          .filter((e) => !(e as HTMLInputElement).labels?.length)
          .map((e) => e.id),
      );
      assert.deepEqual(unlabelled, []);

      // Through the controls: a shipped held-out puzzle, the slider and the toggle, against Node's answers.
      const puzzle = puzzles[0];
      for (const [steps, adaptive] of [
        [8, true],
        [1, false],
        [3, false],
      ] as const) {
        const want = await solve(
          model,
          { kind: "sudoku", puzzle },
          {
            maxThinkSteps: steps,
            halting: adaptive ? "adaptive" : "fixed",
          },
        );
        await page.fill("#sudoku-text", puzzle);
        await page.focus("#max-steps"); // the slider by keyboard: Home, then ArrowRight up to the limit
        await page.keyboard.press("Home");
        for (let i = 1; i < steps; i++) await page.keyboard.press("ArrowRight");
        assert.equal(await page.textContent("#max-steps-out"), String(steps));
        if ((await page.isChecked("#adaptive")) !== adaptive) await page.click("#adaptive");
        await page.focus("#solve");
        await page.keyboard.press("Enter"); // keyboard: the button takes Enter
        await page.waitForFunction(() =>
          /^Answer after/.test(document.getElementById("summary")?.textContent ?? ""),
        );
        const shown = await page.$$eval("#segments > li", (lis) => lis.length);
        assert.equal(shown, want.segments, `max ${steps}, adaptive ${adaptive}: segments shown`);
        const grid = await page.$$eval("#segments > li:last-child td", (tds) =>
          tds.map((t) => t.textContent).join(""),
        );
        const wantGrid = (want.answer as number[][])
          .flat()
          .map((v) => (v === 0 ? "." : String(v)))
          .join("");
        assert.equal(grid, wantGrid, `max ${steps}, adaptive ${adaptive}: the final grid`);
        assert.match((await page.textContent("#summary")) ?? "", want.valid ? /: valid/ : /not valid/);
        if (!adaptive) assert.equal(want.segments, steps);
      }
      await page.screenshot({ path: join(ROOT, "dist", "tests", "web-app.png"), fullPage: true });

      // The official tiny-rope .pt with its config.json, through the file input; then the fixture batch's rows as
      // raw tokens: every segment's logits as the fixture has them.
      await page.setInputFiles("#model-file", [join(TINY, "model.pt"), join(TINY, "config.json")]);
      await page.waitForFunction(() =>
        /model\.pt: pt/.test(document.getElementById("model-info")?.textContent ?? ""),
      );
      const inputs = decodeNpy(readFileSync(join(TINY, "batch/inputs.npy")));
      const ids = decodeNpy(readFileSync(join(TINY, "batch/puzzle_identifiers.npy")));
      const logits = toFloat32(decodeNpy(readFileSync(join(TINY, "eval/logits.npy"))), "logits");
      const [S, B, L, V] = decodeNpy(readFileSync(join(TINY, "eval/logits.npy"))).shape;
      const row = 1;
      const tokens = Array.from((inputs.data as Int32Array).subarray(row * L, (row + 1) * L));
      const got = await page.evaluate(
        ([t, id, s]) =>
          (window as unknown as AppWindow).hrmApp.solve(
            { kind: "tokens", puzzle: t, puzzleId: id },
            s,
            "fixed",
          ),
        [tokens, Number(ids.data[row]), S] as const,
      );
      assert.equal(got.segments.length, S);
      got.segments.forEach((seg, s) => {
        const want = logits.subarray((s * B + row) * L * V, (s * B + row + 1) * L * V);
        const c = compare(seg.logits, want, 1e-4, 1e-4); // the fixture README's eval tolerance
        assert.ok(c.ok, `segment ${s + 1}: ${c.report}`);
      });
      // An official TRM .pt (the trm-att fixture) with its config.json: the app recognises TRM from the tensors and
      // reproduces the official TRM code's eval logits, segment by segment.
      const TRM = join(TRM_OFFICIAL_FIXTURES, "trm-att");
      await page.setInputFiles("#model-file", [join(TRM, "model.pt"), join(TRM, "config.json")]);
      await page.waitForFunction(
        () =>
          /model\.pt: pt/.test(document.getElementById("model-info")?.textContent ?? "") &&
          /TRM/i.test(document.getElementById("model-info")?.textContent ?? ""),
      );
      const tIn = decodeNpy(readFileSync(join(TRM, "batch/inputs.npy")));
      const tIds = decodeNpy(readFileSync(join(TRM, "batch/puzzle_identifiers.npy")));
      const tLogits = toFloat32(decodeNpy(readFileSync(join(TRM, "eval/logits.npy"))), "logits");
      const [TS, TB, TL, TV] = decodeNpy(readFileSync(join(TRM, "eval/logits.npy"))).shape;
      const trm = await page.evaluate(
        ([t, id, s]) =>
          (window as unknown as AppWindow).hrmApp.solve(
            { kind: "tokens", puzzle: t, puzzleId: id },
            s,
            "fixed",
          ),
        [
          Array.from((tIn.data as Int32Array).subarray(row * TL, (row + 1) * TL)),
          Number(tIds.data[row]),
          TS,
        ] as const,
      );
      assert.equal(trm.segments.length, TS);
      trm.segments.forEach((seg, s) => {
        const want = tLogits.subarray((s * TB + row) * TL * TV, (s * TB + row + 1) * TL * TV);
        const c = compare(seg.logits, want, 1e-4, 1e-4);
        assert.ok(c.ok, `TRM segment ${s + 1}: ${c.report}`);
      });
      // ARC: a task file and the dataset's identifiers.json through the ARC view: every variant solved and voted on,
      // as solveArcTask does in Node (a small random ARC model).
      const arc = arcCase(join(ROOT, "dist", "tests", "web-app-arc"));
      await page.setInputFiles("#model-file", arc.model);
      await page.waitForFunction(() =>
        /solves arc/.test(document.getElementById("model-info")?.textContent ?? ""),
      );
      await page.click("#tab-arc");
      await page.setInputFiles("#arc-file", arc.taskFile);
      await page.setInputFiles("#arc-ids", arc.idsFile);
      await page.waitForFunction(() =>
        /identifiers/.test(document.getElementById("status")?.textContent ?? ""),
      );
      await page.focus("#max-steps");
      await page.keyboard.press("Home");
      await page.keyboard.press("ArrowRight");
      if (await page.isChecked("#adaptive")) await page.click("#adaptive");
      await page.click("#solve");
      await page.waitForFunction(() =>
        /variants voted/.test(document.getElementById("summary")?.textContent ?? ""),
      );
      const arcModel = await loadModel(readFileSync(arc.model));
      const wantArc = solveArcTask(arcModel, arc.task, arc.input, arc.identifiers, {
        maxThinkSteps: 2,
        halting: "fixed",
      });
      const titles = await page.$$eval("#segments > li > p", (ps) => ps.map((p) => p.textContent ?? ""));
      assert.equal(titles.length, 1 + wantArc.candidates.length, "the test input, then every candidate");
      wantArc.candidates.forEach((c, i) =>
        assert.match(
          titles[i + 1],
          new RegExp(`^Candidate ${i + 1}: ${c.votes} of ${wantArc.variants} votes`),
        ),
      );
      assert.deepEqual(errors, [], "console errors");
    } finally {
      await browser.close();
      await server.close();
    }
  },
);
