/**
 * A small runnable example until the training command lands: the paper-size HRM (hidden 512, 8 heads,
 * 4+4 layers, H_cycles = L_cycles = 2, Sudoku shape) doing official training steps on random Sudoku-shaped
 * data with the kernels chosen for this machine, timed; then the same step on a tiny config with native and
 * ref kernels, compared.
 *   npm start            (or: node dist/examples/demo.js [batch])
 */
import type { Kernels } from "../src/index.js";
import {
  HRMInner,
  HRMParams,
  initialCarry,
  makeConfig,
  Rng,
  selectKernels,
  TrainStep,
} from "../src/index.js";
import { getKernels } from "../src/node.js";

const B = Number(process.argv[2] ?? 8);

function batch(n: number, rng: Rng) {
  const inputs = Int32Array.from({ length: n * 81 }, () => 1 + rng.int(0, 10));
  const labels = Int32Array.from({ length: n * 81 }, () => 2 + rng.int(0, 9));
  return { inputs, labels, puzzle_identifiers: new Int32Array(n) };
}

function trainSteps(k: Kernels, overrides: Parameters<typeof makeConfig>[0], steps: number, n: number) {
  const config = makeConfig({ ...overrides, batch_size: n, forward_dtype: "float32" });
  const inner = new HRMInner(HRMParams.init(config, 0), k);
  const step = new TrainStep(inner, {
    adam: { lr: 1e-4, beta1: 0.9, beta2: 0.95, weightDecay: 0.1 },
    puzzleEmbLr: 1e-2,
    puzzleEmbWeightDecay: 0.1,
    lossScale: 1 / n,
  });
  const carry = initialCarry(inner, n);
  const rng = new Rng(1);
  const b = batch(n, rng);
  const times: number[] = [];
  let loss = 0;
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    loss = step.run(carry, b, rng).loss.total;
    times.push(performance.now() - t0);
  }
  return { params: inner.params, times, loss };
}

const kernels = getKernels();
console.log(`hrm-ts demo: backend ${kernels.backendName}`);
const paper = { hidden_size: 512, num_heads: 8, H_layers: 4, L_layers: 4, num_puzzle_identifiers: 1 };
const full = trainSteps(kernels, paper, 4, B);
const ms = Math.min(...full.times.slice(1)); // the first step allocates the workspaces
console.log(`paper-size HRM (${(full.params.count() / 1e6).toFixed(1)}M values), batch ${B} x 82 positions:`);
console.log(
  `  one training step (ACT segment + Q-target forward + 1-step-gradient backward + optimisers): ${ms.toFixed(0)} ms, ${((1000 * B) / ms).toFixed(1)} examples/s`,
);

const tiny = { hidden_size: 64, num_heads: 4, H_layers: 2, L_layers: 2, num_puzzle_identifiers: 1 };
const a = trainSteps(kernels, tiny, 3, 4);
const r = trainSteps(selectKernels(null), tiny, 3, 4);
let diff = 0;
for (let i = 0; i < a.params.data.length; i++)
  diff = Math.max(diff, Math.abs(a.params.data[i] - r.params.data[i]));
console.log(
  `tiny config, 3 training steps: loss ${a.loss.toFixed(6)} (${kernels.backendName}) vs ${r.loss.toFixed(6)} (ref); max parameter difference ${diff.toExponential(2)}`,
);
