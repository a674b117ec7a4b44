/**
 * The one kernel contract of hrm-ts. Types only: every backend (ref, native, later wasm) implements this,
 * and layers/model code import nothing but this file.
 *
 * Dimension letters (used in every shape comment in the project):
 *   B  batch rows            S  sequence length (positions)     T  tokens = B*S (rows of an activation)
 *   D  hidden size           NH attention heads                  HD head dim (D = NH*HD)
 *   F  SwiGLU inner size     V  rows of a table / classes        W  row width of a packed buffer
 *   M, N, K                  GEMM: C[M,N] = A[M,K]·B[K,N]        n  flat element count
 * Every buffer is a flat, row-major (C order) typed array; a shape comment such as `[T,D]` gives its layout.
 *
 * Argument order: outputs, then inputs, then dims, then options (llm.c style).
 *
 * Gradient rule (the only one):
 *   - backward kernels WRITE (=) the gradient of every activation input,
 *   - and ACCUMULATE (+=) the gradient of every parameter (weights, embedding tables),
 *   - `matmul` writes or accumulates as its `accumulate` flag says.
 * Where one activation feeds two consumers, the caller sums their gradients (e.g. with `add`).
 *
 * Aliasing: an output may alias an input only where the kernel says so.
 * Float32Array or Float64Array: every backend accepts Float32Array; `ref` also accepts Float64Array (used
 * for finite-difference checks). All float buffers of one call have the same type, except loss buffers,
 * which may be either.
 */

export type FloatArray = Float32Array | Float64Array;
export type IndexArray = Int32Array;

/**
 * Precision of a matrix product (the official `forward_dtype`). "bfloat16": every element of both operands
 * is rounded to bfloat16 (round to nearest even) before it is multiplied; the products are exact and are
 * summed in float32 (ref: float64). Outputs and gradients stay float32. Omitted means "float32".
 */
export type MatmulPrecision = "float32" | "bfloat16";

/** The label id the official code ignores in its losses (`IGNORE_LABEL_ID`). */
export const IGNORE_LABEL_ID = -100;

export interface Kernels {
  /**
   * C[M,N] = op(A)·op(B), or C += op(A)·op(B) when `accumulate`.
   * op(A) is [M,K]: A is stored [M,K], or [K,M] when `transA`.
   * op(B) is [K,N]: B is stored [K,N], or [N,K] when `transB`.
   */
  matmul(
    C: FloatArray,
    A: FloatArray,
    B: FloatArray,
    M: number,
    N: number,
    K: number,
    transA: boolean,
    transB: boolean,
    accumulate: boolean,
    precision?: MatmulPrecision,
  ): void;

  /** Bias-free linear layer (official `CastedLinear`): out[T,O] = inp[T,I]·weight[O,I]ᵀ. */
  linearForward(
    out: FloatArray,
    inp: FloatArray,
    weight: FloatArray,
    T: number,
    I: number,
    O: number,
    precision?: MatmulPrecision,
  ): void;
  /**
   * Pre-packed weights, for a weight used by many linearForward calls while it does not change (the
   * blocks' weights across a forward pass): packing is then done once instead of per call, which is most of
   * the cost when T is small (one puzzle). The packed bytes belong to the backend that wrote them (another
   * backend rejects them) and hold a copy: after the weight changes, pack again.
   */
  linearPackedBytes(I: number, O: number, precision?: MatmulPrecision): number;
  /** Packs weight[O,I] into `packed` (at least linearPackedBytes(I, O, precision) bytes). */
  packLinear(packed: Uint8Array, weight: FloatArray, I: number, O: number, precision?: MatmulPrecision): void;
  /** out[T,O] = inp[T,I]·weightᵀ, from packLinear's bytes for the same I, O and precision. */
  linearForwardPacked(
    out: FloatArray,
    inp: FloatArray,
    packed: Uint8Array,
    T: number,
    I: number,
    O: number,
    precision?: MatmulPrecision,
  ): void;
  /**
   * A linear layer and the residual add after it in one call: out[T,O] = res[T,O] + inp[T,I]·weight[O,I]ᵀ,
   * i.e. linearForward then add, without the product in between. out may alias res.
   */
  linearResidualForward(
    out: FloatArray,
    res: FloatArray,
    inp: FloatArray,
    weight: FloatArray,
    T: number,
    I: number,
    O: number,
    precision?: MatmulPrecision,
  ): void;
  /** linearResidualForward from packLinear's bytes for the same I, O and precision. */
  linearResidualForwardPacked(
    out: FloatArray,
    res: FloatArray,
    inp: FloatArray,
    packed: Uint8Array,
    T: number,
    I: number,
    O: number,
    precision?: MatmulPrecision,
  ): void;
  /**
   * The block's residual projection and the RMSNorm after it in one call: linearResidualForward(out, res, inp,
   * weight, ...) then rmsnormForward(out, rstd, out, T, O, eps), so a backend may normalise each block of rows
   * while it is still in cache instead of in a pass of its own. out may alias res.
   */
  linearResidualRmsnormForward(
    out: FloatArray,
    rstd: FloatArray,
    res: FloatArray,
    inp: FloatArray,
    weight: FloatArray,
    T: number,
    I: number,
    O: number,
    eps: number,
    precision?: MatmulPrecision,
  ): void;
  /** linearResidualRmsnormForward from packLinear's bytes for the same I, O and precision. */
  linearResidualRmsnormForwardPacked(
    out: FloatArray,
    rstd: FloatArray,
    res: FloatArray,
    inp: FloatArray,
    packed: Uint8Array,
    T: number,
    I: number,
    O: number,
    eps: number,
    precision?: MatmulPrecision,
  ): void;
  /**
   * The MLP's gate_up projection and SwiGLU in one call: out[T,F] = swigluForward(inp[T,I]·weight[2F,I]ᵀ),
   * i.e. linearForward into (gate | up) then swigluForward, without the [T,2F] product in between (a backend
   * may keep it out of memory).
   */
  linearSwigluForward(
    out: FloatArray,
    inp: FloatArray,
    weight: FloatArray,
    T: number,
    I: number,
    F: number,
    precision?: MatmulPrecision,
  ): void;
  /**
   * linearSwigluForward that also writes the product: gateUp[T,2F] = inp·weightᵀ (what swigluBackward reads),
   * out[T,F] = swigluForward(gateUp). For a forward whose activations a backward keeps: one pass instead of
   * linearForward then swigluForward over the [T,2F] buffer. out and gateUp must not overlap.
   */
  linearGateUpSwigluForward(
    out: FloatArray,
    gateUp: FloatArray,
    inp: FloatArray,
    weight: FloatArray,
    T: number,
    I: number,
    F: number,
    precision?: MatmulPrecision,
  ): void;
  /** linearSwigluForward from packLinear's bytes for weight [2F, I] (O = 2F) and the same precision. */
  linearSwigluForwardPacked(
    out: FloatArray,
    inp: FloatArray,
    packed: Uint8Array,
    T: number,
    I: number,
    F: number,
    precision?: MatmulPrecision,
  ): void;
  /** dinp[T,I] = dout·weight; dweight[O,I] += doutᵀ·inp. */
  linearBackward(
    dinp: FloatArray,
    dweight: FloatArray,
    dout: FloatArray,
    inp: FloatArray,
    weight: FloatArray,
    T: number,
    I: number,
    O: number,
    precision?: MatmulPrecision,
  ): void;

  /** out[T,D] = table[ids[t], :]. Ids outside [0,V) throw (ref) or are checked before the call (native). */
  embeddingForward(
    out: FloatArray,
    ids: IndexArray,
    table: FloatArray,
    T: number,
    D: number,
    V: number,
  ): void;
  /** dtable[V,D] += scatter-add of dout[T,D] at ids (repeated ids sum). */
  embeddingBackward(
    dtable: FloatArray,
    dout: FloatArray,
    ids: IndexArray,
    T: number,
    D: number,
    V: number,
  ): void;

  /**
   * Weightless RMSNorm (official `rms_norm`): out[T,D] = inp * rsqrt(mean(inp²) + eps).
   * rstd[T] saves rsqrt(mean + eps) for the backward. out may alias inp.
   */
  rmsnormForward(out: FloatArray, rstd: FloatArray, inp: FloatArray, T: number, D: number, eps: number): void;
  /** dinp[T,D] = rstd * (dout - out * mean(dout*out)), from the forward's out and rstd. dinp may alias dout. */
  rmsnormBackward(
    dinp: FloatArray,
    dout: FloatArray,
    out: FloatArray,
    rstd: FloatArray,
    T: number,
    D: number,
  ): void;

  /**
   * RoPE with the official half-split rotation: for each row t of inp[T,W] the first NR heads of HD values
   * (columns 0..NR*HD) become x*cos + rotate_half(x)*sin, rotate_half(x) = concat(-x2, x1), with
   * cos/sin[S,HD] at position t % S. Columns past NR*HD are copied. out may alias inp (in place).
   * Used on the packed qkv buffer (W = 3*D, NR = 2*NH: queries and keys).
   */
  ropeForward(
    out: FloatArray,
    inp: FloatArray,
    cos: FloatArray,
    sin: FloatArray,
    T: number,
    W: number,
    S: number,
    NR: number,
    HD: number,
  ): void;
  /** The transpose rotation: dinp = dout*cos + rotate_halfᵀ(dout*sin). dinp may alias dout. */
  ropeBackward(
    dinp: FloatArray,
    dout: FloatArray,
    cos: FloatArray,
    sin: FloatArray,
    T: number,
    W: number,
    S: number,
    NR: number,
    HD: number,
  ): void;

  /**
   * Non-causal multi-head softmax attention, scale HD^-0.5.
   * qkv[B,S,3,NH,HD] (queries, keys, values packed per token as the official qkv_proj emits them);
   * out[B,S,NH,HD]; probs[B,NH,S,S] saves the softmax for the backward. A zero-length probs means no
   * backward will follow (no-grad forwards): nothing is saved.
   */
  attentionForward(
    out: FloatArray,
    probs: FloatArray,
    qkv: FloatArray,
    B: number,
    S: number,
    NH: number,
    HD: number,
  ): void;
  /**
   * attentionForward with no probs (a no-grad forward) of the qkv that ropeForward(W = 3*NH*HD, NR = 2*NH,
   * cos/sin [S,HD]) would produce, without writing it: queries and keys are rotated as they are read, and
   * qkv is left as it is. HD even.
   */
  attentionRopeForward(
    out: FloatArray,
    qkv: FloatArray,
    cos: FloatArray,
    sin: FloatArray,
    B: number,
    S: number,
    NH: number,
    HD: number,
  ): void;
  /** dqkv[B,S,3,NH,HD] written from dout[B,S,NH,HD], the forward's qkv and probs. */
  attentionBackward(
    dqkv: FloatArray,
    dout: FloatArray,
    qkv: FloatArray,
    probs: FloatArray,
    B: number,
    S: number,
    NH: number,
    HD: number,
  ): void;

  /** SwiGLU gate: gateUp[T,2F] holds (gate | up) as official `chunk(2)`; out[T,F] = silu(gate) * up. */
  swigluForward(out: FloatArray, gateUp: FloatArray, T: number, F: number): void;
  /** dgateUp[T,2F] written: d gate = dout*up*silu'(gate), d up = dout*silu(gate). dgateUp may alias gateUp. */
  swigluBackward(dgateUp: FloatArray, dout: FloatArray, gateUp: FloatArray, T: number, F: number): void;
  /**
   * swigluBackward that also writes act[T,F] = swigluForward(gateUp), in the same pass: for a backward that
   * did not keep the activation (the down projection's weight gradient reads it). dgateUp may alias gateUp.
   */
  swigluActBackward(
    dgateUp: FloatArray,
    act: FloatArray,
    dout: FloatArray,
    gateUp: FloatArray,
    T: number,
    F: number,
  ): void;

  /** Residual add / scale: out[n] = alpha*a + beta*b. out may alias a or b. */
  add(out: FloatArray, a: FloatArray, b: FloatArray, alpha: number, beta: number, n: number): void;
  /** da = alpha*dout, db = beta*dout (written). */
  addBackward(da: FloatArray, db: FloatArray, dout: FloatArray, alpha: number, beta: number, n: number): void;
  /** out[b] = inp[b]ᵀ for B matrices inp[b] [R, C] (out[b] is [C, R]); out must not overlap inp. */
  transpose(out: FloatArray, inp: FloatArray, B: number, R: number, C: number): void;

  /**
   * Per-token softmax cross-entropy (official `softmax_cross_entropy`, reduction none):
   * losses[T] = logsumexp(logits[t]) - logits[t, labels[t]], 0 where labels[t] == ignoreLabel.
   */
  softmaxCrossEntropyForward(
    losses: FloatArray,
    logits: FloatArray,
    labels: IndexArray,
    T: number,
    V: number,
    ignoreLabel: number,
  ): void;
  /** dlogits[T,V] = dlosses[t] * (softmax(logits[t]) - onehot(label)), 0 rows where ignored. */
  softmaxCrossEntropyBackward(
    dlogits: FloatArray,
    dlosses: FloatArray,
    logits: FloatArray,
    labels: IndexArray,
    T: number,
    V: number,
    ignoreLabel: number,
  ): void;

  /**
   * Per-token stablemax cross-entropy (official `stablemax_cross_entropy`), computed in float64 whatever
   * the buffer type: s(x) = x<0 ? 1/(1-x+1e-30) : x+1; losses[t] = -log(s(x_y) / Σ s(x)); 0 where ignored.
   */
  stablemaxCrossEntropyForward(
    losses: FloatArray,
    logits: FloatArray,
    labels: IndexArray,
    T: number,
    V: number,
    ignoreLabel: number,
  ): void;
  /** dlogits[T,V] = dlosses[t] * (s'(x_i)/Σs - [i==y] s'(x_y)/s(x_y)), in float64; 0 rows where ignored. */
  stablemaxCrossEntropyBackward(
    dlogits: FloatArray,
    dlosses: FloatArray,
    logits: FloatArray,
    labels: IndexArray,
    T: number,
    V: number,
    ignoreLabel: number,
  ): void;

  /** Binary cross-entropy with logits, per element: losses[n] = max(x,0) - x*y + log(1 + exp(-|x|)). */
  bceWithLogitsForward(losses: FloatArray, logits: FloatArray, targets: FloatArray, n: number): void;
  /**
   * AdamATan2 update of n elements in place (see optim/adam-atan2.ts), in float64 arithmetic per element:
   * p *= 1 - lr*wd; m += (1-b1)(g - m); v += (1-b2)(g² - v); p -= stepSize * atan2(m, sqrt(v) / bc2),
   * with stepSize = lr / (1 - b1^t) and bc2 = sqrt(1 - b2^t) computed by the caller.
   */
  adamAtan2(
    param: FloatArray,
    grad: FloatArray,
    m: FloatArray,
    v: FloatArray,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    weightDecay: number,
    stepSize: number,
    bc2: number,
  ): void;

  /** dlogits[n] = dlosses * (sigmoid(x) - y). */
  bceWithLogitsBackward(
    dlogits: FloatArray,
    dlosses: FloatArray,
    logits: FloatArray,
    targets: FloatArray,
    n: number,
  ): void;
}

export type KernelName = keyof Kernels;

/** Every kernel name, in contract order (used by the selector and the conformance tests). */
export const KERNEL_NAMES: readonly KernelName[] = [
  "matmul",
  "linearForward",
  "linearBackward",
  "linearPackedBytes",
  "packLinear",
  "linearForwardPacked",
  "linearResidualForward",
  "linearResidualForwardPacked",
  "linearResidualRmsnormForward",
  "linearResidualRmsnormForwardPacked",
  "linearSwigluForward",
  "linearSwigluForwardPacked",
  "linearGateUpSwigluForward",
  "embeddingForward",
  "embeddingBackward",
  "rmsnormForward",
  "rmsnormBackward",
  "ropeForward",
  "ropeBackward",
  "attentionForward",
  "attentionRopeForward",
  "attentionBackward",
  "swigluForward",
  "swigluBackward",
  "swigluActBackward",
  "add",
  "addBackward",
  "transpose",
  "softmaxCrossEntropyForward",
  "softmaxCrossEntropyBackward",
  "stablemaxCrossEntropyForward",
  "stablemaxCrossEntropyBackward",
  "bceWithLogitsForward",
  "bceWithLogitsBackward",
  "adamAtan2",
];

/**
 * A backend: any subset of the kernels, plus `supports`, which says whether it can run one call with these
 * arguments (e.g. the native backend takes only Float32Array). The selector sends every other call to ref.
 */
export type Backend = Partial<Kernels> & {
  readonly name: string;
  supports(kernel: KernelName, args: readonly unknown[]): boolean;
};

/** The kernels a model runs on, with the name of the backend that serves them. */
export type SelectedKernels = Kernels & { readonly backendName: string };
