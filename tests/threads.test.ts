/** The default kernel thread count (src/platform/threads.ts): physical cores within the cgroup CPU quota. */
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { test } from "node:test";
import {
  cgroupCpuLimit,
  defaultKernelThreads,
  parseCpuList,
  physicalCores,
  quotaCpus,
  type ReadText,
} from "../src/platform/threads.js";
import { kernelThreadsNote, loadNativeAddon } from "../src/platform/node.js";

/** A fake file system: path -> contents; anything else is absent. */
const fs =
  (files: Record<string, string>): ReadText =>
  (path) =>
    files[path] ?? null;

/** sysfs topology of `cpus`, cpu c on core coreOf(c) of package pkgOf(c). */
function topology(cpus: number[], coreOf: (c: number) => number, pkgOf = (_c: number) => 0) {
  const files: Record<string, string> = {};
  for (const c of cpus) {
    files[`/sys/devices/system/cpu/cpu${c}/topology/core_id`] = `${coreOf(c)}\n`;
    files[`/sys/devices/system/cpu/cpu${c}/topology/physical_package_id`] = `${pkgOf(c)}\n`;
  }
  return files;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test("CPU lists parse as Linux writes them, and malformed ones are refused", () => {
  assert.deepEqual(parseCpuList("0-3,8,10-11\n"), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList("5"), [5]);
  for (const bad of ["", "a-b", "3-1", "0-3,", "1;2"]) assert.equal(parseCpuList(bad), null, bad);
});

test("quotas round up to whole CPUs; none, zero or negative is no limit", () => {
  assert.equal(quotaCpus(150000, 100000), 2);
  assert.equal(quotaCpus(200000, 100000), 2);
  assert.equal(quotaCpus(50000, 100000), 1);
  assert.equal(quotaCpus(-1, 100000), null);
  assert.equal(quotaCpus(NaN, 100000), null);
});

test("SMT siblings count once, on every package", () => {
  // 8 logical CPUs: cpu c and c + 4 are siblings on core c % 4 (Linux numbers siblings this way on Intel).
  assert.equal(physicalCores(range(8), fs(topology(range(8), (c) => c % 4))), 4);
  // Two packages with the same core ids: 2 x 2 cores.
  const two = topology(
    range(4),
    (c) => c % 2,
    (c) => (c < 2 ? 0 : 1),
  );
  assert.equal(physicalCores(range(4), fs(two)), 4);
  assert.equal(physicalCores([0, 1, 9], fs(topology(range(4), (c) => c))), null); // cpu9 unreadable
});

test("cgroup v2 quotas are read up the hierarchy, the tightest wins; v1 from the cpu controller", () => {
  const v2 = fs({
    "/proc/self/cgroup": "0::/kubepods/pod1/c1\n",
    "/sys/fs/cgroup/kubepods/pod1/c1/cpu.max": "max 100000\n",
    "/sys/fs/cgroup/kubepods/pod1/cpu.max": "250000 100000\n",
    "/sys/fs/cgroup/kubepods/cpu.max": "800000 100000\n",
    "/sys/fs/cgroup/cpu.max": "max 100000\n",
  });
  assert.equal(cgroupCpuLimit(v2), 3);
  const container = fs({ "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/cpu.max": "200000 100000\n" });
  assert.equal(cgroupCpuLimit(container), 2);
  const v1 = fs({
    "/proc/self/cgroup": "5:cpuset:/\n4:cpu,cpuacct:/docker/abc\n",
    "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "400000\n",
    "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
  });
  assert.equal(cgroupCpuLimit(v1), 4);
  const none = fs({ "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/cpu.max": "max 100000\n" });
  assert.equal(cgroupCpuLimit(none), null);
  assert.equal(cgroupCpuLimit(fs({})), null);
});

test("the default: physical cores of the affinity mask, capped by the quota; else the addon's own", () => {
  const smt = topology(range(16), (c) => c % 8);
  const status = (list: string) => `Name:\tnode\nCpus_allowed_list:\t${list}\nMems_allowed:\t1\n`;
  const files = { ...smt, "/proc/self/status": status("0-15"), "/proc/self/cgroup": "0::/\n" };
  assert.deepEqual(defaultKernelThreads(fs(files))?.threads, 8);
  // Pinned to one sibling of each of 4 cores (taskset -c 0-3): nothing to lower.
  assert.equal(defaultKernelThreads(fs({ ...files, "/proc/self/status": status("0-3") })), null);
  // Pinned to both siblings of cores 0 and 1: 2.
  assert.equal(defaultKernelThreads(fs({ ...files, "/proc/self/status": status("0-1,8-9") }))?.threads, 2);
  // A 3-CPU quota on the 16-CPU host: 3.
  const quota = { ...files, "/sys/fs/cgroup/cpu.max": "300000 100000" };
  const q = defaultKernelThreads(fs(quota));
  assert.equal(q?.threads, 3);
  assert.match(q!.why, /quota/);
  // No SMT, no quota (this CI machine's kind), or no /proc at all: the addon's default stands.
  const flat = { ...topology(range(4), (c) => c), "/proc/self/status": status("0-3") };
  assert.equal(defaultKernelThreads(fs(flat)), null);
  assert.equal(defaultKernelThreads(fs({})), null);
});

test("the loaded addon runs the default thread count (HRM_NUM_THREADS unset) or HRM_NUM_THREADS", (t) => {
  const addon = loadNativeAddon();
  if (!addon) return t.skip("no native addon");
  const env = parseInt(process.env.HRM_NUM_THREADS ?? "", 10);
  const fewer = env > 0 ? null : defaultKernelThreads();
  assert.equal(addon.info().threads, env > 0 ? env : (fewer?.threads ?? availableParallelism()));
  // The note the CLI prints says why, exactly when the default lowered the count.
  if (fewer) assert.match(kernelThreadsNote() ?? "", new RegExp(`^${fewer.threads} \\(`));
  else assert.equal(kernelThreadsNote(), null);
});
