/** The ref backend: plain TypeScript, Float32Array or Float64Array, the definition of every kernel. */
import type { Kernels } from "../api.js";
import { attentionBackward, attentionForward, attentionRopeForward } from "./attention.js";
import {
  add,
  addBackward,
  swigluBackward,
  swigluActBackward,
  swigluForward,
  transpose,
} from "./elementwise.js";
import { embeddingBackward, embeddingForward } from "./embedding.js";
import {
  bceWithLogitsBackward,
  bceWithLogitsForward,
  softmaxCrossEntropyBackward,
  softmaxCrossEntropyForward,
  stablemaxCrossEntropyBackward,
  stablemaxCrossEntropyForward,
} from "./losses.js";
import {
  linearBackward,
  linearForward,
  linearForwardPacked,
  linearPackedBytes,
  linearResidualForward,
  linearResidualForwardPacked,
  linearResidualRmsnormForward,
  linearResidualRmsnormForwardPacked,
  linearSwigluForward,
  linearGateUpSwigluForward,
  linearSwigluForwardPacked,
  matmul,
  packLinear,
} from "./matmul.js";
import { adamAtan2 } from "./optim.js";
import { rmsnormBackward, rmsnormForward } from "./rmsnorm.js";
import { ropeBackward, ropeForward } from "./rope.js";

export const refKernels: Kernels = {
  matmul,
  linearForward,
  linearBackward,
  linearPackedBytes,
  packLinear,
  linearForwardPacked,
  linearResidualForward,
  linearResidualForwardPacked,
  linearResidualRmsnormForward,
  linearResidualRmsnormForwardPacked,
  linearSwigluForward,
  linearGateUpSwigluForward,
  linearSwigluForwardPacked,
  embeddingForward,
  embeddingBackward,
  rmsnormForward,
  rmsnormBackward,
  ropeForward,
  ropeBackward,
  attentionForward,
  attentionRopeForward,
  attentionBackward,
  swigluForward,
  swigluBackward,
  swigluActBackward,
  add,
  addBackward,
  transpose,
  softmaxCrossEntropyForward,
  softmaxCrossEntropyBackward,
  stablemaxCrossEntropyForward,
  stablemaxCrossEntropyBackward,
  bceWithLogitsForward,
  bceWithLogitsBackward,
  adamAtan2,
};
