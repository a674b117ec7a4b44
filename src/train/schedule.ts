/** The official learning-rate schedule (pretrain.py): linear warm-up, then cosine decay to lr_min_ratio. */

export function cosineScheduleWithWarmup(
  step: number,
  baseLr: number,
  warmupSteps: number,
  totalSteps: number,
  minRatio: number,
): number {
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return baseLr * (minRatio + Math.max(0, (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress))));
}

/** Official estimate of optimiser steps: epochs x groups x mean examples per puzzle / global batch size. */
export function estimateTotalSteps(
  epochs: number,
  totalGroups: number,
  meanPuzzleExamples: number,
  globalBatchSize: number,
): number {
  return Math.floor((epochs * totalGroups * meanPuzzleExamples) / globalBatchSize);
}
