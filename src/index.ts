/** Public API of hrm-ts (platform-neutral). Re-exports only. */
export type { Backend, FloatArray, IndexArray, KernelName, Kernels, SelectedKernels } from "./kernels/api.js";
export { IGNORE_LABEL_ID, KERNEL_NAMES } from "./kernels/api.js";
export { refKernels } from "./kernels/ref/index.js";
export { makeNativeBackend } from "./kernels/native/index.js";
export type { NativeAddon } from "./kernels/native/index.js";
export { selectKernels } from "./kernels/select.js";
