/** Public API of hrm-ts (platform-neutral). Re-exports only. */
export type {
  Backend,
  FloatArray,
  IndexArray,
  KernelName,
  Kernels,
  MatmulPrecision,
  SelectedKernels,
} from "./kernels/api.js";
export { IGNORE_LABEL_ID, KERNEL_NAMES } from "./kernels/api.js";
export { refKernels } from "./kernels/ref/index.js";
export { makeNativeBackend } from "./kernels/native/index.js";
export type { NativeAddon } from "./kernels/native/index.js";
export { selectKernels } from "./kernels/select.js";
export type { DType, HostTensor } from "./tensor.js";
export { toFloat32 } from "./tensor.js";
export { decodeNpy, encodeNpy } from "./io/npy.js";
export { readTorchCheckpoint } from "./io/torch.js";
export { encodeTorchCheckpoint } from "./io/torch-write.js";
export { decodeSafetensors, encodeSafetensors } from "./io/safetensors.js";
export type { Architecture, HRMConfig } from "./model/config.js";
export { DEFAULT_CONFIG, defaultConfig, derive, makeConfig, TRM_DEFAULT_CONFIG } from "./model/config.js";
export type { FlopCounts } from "./model/flops.js";
export { evalFlops, modelFlops } from "./model/flops.js";
export { HRMParams } from "./model/params.js";
export {
  loadStateDict,
  encodeModelSafetensors,
  decodeModelSafetensors,
  officialStateDict,
  RUNTIME_KEYS,
} from "./model/checkpoint.js";
// Datasets: the official format, builders and readers, the sampler.
export type { DatasetMetadata, PuzzleSet, SetWriter } from "./data/format.js";
export {
  DatasetError,
  decodeSet,
  encodeSet,
  SetBuilder,
  validateMetadata,
  validateSet,
  validateSplit,
} from "./data/format.js";
export type { SudokuRow } from "./data/sudoku.js";
export { buildSudokuSet, parseSudokuCsv, selectSudokuRows, sudokuMetadata } from "./data/sudoku.js";
export type { BoxShape } from "./data/sudoku-box.js";
export {
  boxShapeFor,
  buildBoxSudokuDataset,
  generateBoxSudoku,
  givensClash,
  isValidBoxSolution,
  solveBoxSudoku,
} from "./data/sudoku-box.js";
export type { Maze, MazeGenOptions } from "./data/maze.js";
export {
  buildMazeSet,
  generateMaze,
  isSolvedMaze,
  mazeTokens,
  parseMazeCsv,
  parseMazeText,
} from "./data/maze.js";
export type { ArcBuildOptions, ArcDataset, ArcTask, Grid } from "./data/arc.js";
export { buildArcDataset, parseCombined, parseTask, writeArcDataset } from "./data/arc.js";
export type { DatasetFs, FileStream, SplitData } from "./data/dir.js";
export {
  memoryDatasetFs,
  readIdentifiersFrom,
  readSplitFrom,
  StreamingSetWriter,
  writeIdentifiersTo,
  writeSplitTo,
} from "./data/dir.js";
export type { ArcOptions, BuildIO, MazeOptions, SudokuOptions } from "./data/recipes.js";
export {
  ARC_OPTIONS,
  buildArcDir,
  buildMazeDir,
  buildSudokuDir,
  MAZE_OPTIONS,
  SUDOKU_OPTIONS,
} from "./data/recipes.js";
export type { SampledBatch } from "./data/sampler.js";
export { testBatches, trainBatches } from "./data/sampler.js";
export { HRMInner } from "./model/inner.js";
export { SAVE_RECOMPUTABLE_MAX_BYTES } from "./model/workspace.js";
export type { ActOutputs, Batch, Carry } from "./model/act.js";
export { actForward, initialCarry, qHalts } from "./model/act.js";
export { actLoss } from "./model/loss.js";
export type { LossResult, Metrics } from "./model/loss.js";
export { GradTable, HRMBackward } from "./model/backward.js";
export type { GradientSink } from "./model/backward.js";
export { AdamATan2 } from "./optim/adam-atan2.js";
export { signSgdUpdate } from "./optim/sign-sgd.js";
export { TrainStep } from "./train/step.js";
// Training and evaluation (the official loop's pieces) and the run config with the official names.
export type { TrainConfig } from "./train/trainer.js";
export { Trainer } from "./train/trainer.js";
export { Ema } from "./train/ema.js";
export type { DatasetSplit, TrainHooks, TrainOptions, TrainOutcome } from "./train/loop.js";
export { newTrainer, NonFiniteError, train } from "./train/loop.js";
export { evaluate, evaluateSweep } from "./eval/evaluate.js";
export type { AdaptiveResult } from "./eval/adaptive.js";
export { evaluateAdaptive } from "./eval/adaptive.js";
export type { SegmentView, SolveResult } from "./eval/solve.js";
export { solveRows } from "./eval/solve.js";
export type { RowBatcherOptions, RowJob, RowSegment } from "./eval/rows.js";
export { RowBatcher } from "./eval/rows.js";
export type { RunConfig } from "./train/config.js";
export {
  archConfig,
  archOptionSpecs,
  architectureOf,
  nestConfig,
  makeRunConfig,
  resolveRunConfig,
  RUN_SPEC,
  RunConfigError,
  runConfigForModel,
  trainConfig,
} from "./train/config.js";
export type { OptionKind, OptionSpec, OptionsOf, OptionValue, Schema } from "./util/options.js";
export { fromText, fromYaml, opt, OptionError, parseOptions } from "./util/options.js";
export type { YamlValue } from "./util/yaml.js";
export { dumpYaml, parseYaml, YamlError } from "./util/yaml.js";
export { Rng } from "./util/rng.js";
// Apps: a model from checkpoint bytes, and solving one puzzle asynchronously, segment by segment.
export type { HRMModel, LoadModelOptions } from "./app/model.js";
export { defaultKernels, loadModel, setDefaultKernelsFactory } from "./app/model.js";
export type { Answer, EncodedPuzzle, PuzzleInput, PuzzleKind } from "./app/puzzles.js";
export {
  decodeAnswer,
  encodePuzzle,
  formatAnswer,
  isValidAnswer,
  PUZZLE_KINDS,
  PuzzleError,
} from "./app/puzzles.js";
export type { Halting, SegmentEvent, SolveAnswer, SolveOptions } from "./app/solve.js";
export { preparePuzzle, solve, solveStream } from "./app/solve.js";
export type { ApiReply, ApiRequest, ServeConfig } from "./serve/api.js";
export { DEFAULT_SERVE_CONFIG, ServeApi } from "./serve/api.js";
export { ApiError } from "./serve/protocol.js";
export type { ArcAnswer, ArcCandidate } from "./app/arc.js";
export { solveArcTask } from "./app/arc.js";
// The WASM backend (platform-neutral part; the entries for Node and browsers load it).
export type { WasmBackend, WasmExports } from "./kernels/wasm/index.js";
export { makeWasmBackend, relaxedSimdSupported, wasmFileName } from "./kernels/wasm/index.js";
