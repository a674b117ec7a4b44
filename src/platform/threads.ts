/**
 * The default number of kernel threads on Linux: one per physical core this process may run on, and no more
 * than its cgroup CPU quota allows. The addon's own default is every logical CPU in its affinity mask, which
 * is too many in two common cases:
 * - SMT (hyper-threading): two threads on one core share its FMA units, L1 and L2. The GEMMs run at the FMA
 *   peak with one thread per core, so a second one only adds cache pressure and a thread to wait for (PyTorch
 *   and llama.cpp default to physical cores for the same reason).
 * - A container with a CPU quota (docker --cpus=2, a Kubernetes limit) on a many-core host: the affinity mask
 *   still lists every core, and a pool of 64 threads under a 2-CPU quota is descheduled mid-product, so each
 *   parallel region waits for its slowest thread to get CPU time again.
 * HRM_NUM_THREADS (read by the addon) overrides this. Elsewhere (no /sys, /proc), the addon's default stands.
 */
import { readFileSync } from "node:fs";

/** Reads a text file, or null when it is absent or unreadable. */
export type ReadText = (path: string) => string | null;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
};

/** CPU numbers of a Linux CPU list ("0-3,8,10-11"); null when it does not parse. */
export function parseCpuList(list: string): number[] | null {
  const cpus: number[] = [];
  for (const part of list.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi - lo > 65536) return null;
    for (let c = lo; c <= hi; c++) cpus.push(c);
  }
  return cpus;
}

/** CPUs of a cgroup quota, rounded up (1.5 CPUs allow 2 threads some of the time): cgroup v2's cpu.max
 * ("150000 100000", or "max 100000" for none) or v1's quota and period (quota -1 for none). null: no limit. */
export function quotaCpus(quota: number, period: number): number | null {
  if (!(quota > 0) || !(period > 0)) return null;
  return Math.max(1, Math.ceil(quota / period));
}

function cpuMaxLimit(text: string | null): number | null {
  if (!text) return null;
  const [q, p] = text.trim().split(/\s+/);
  return q === "max" ? null : quotaCpus(Number(q), Number(p));
}

const minLimit = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

/** The tightest CPU quota on this process's cgroup and its ancestors (v2), or of its v1 cpu controller. */
export function cgroupCpuLimit(read: ReadText = readText): number | null {
  const own = read("/proc/self/cgroup") ?? "";
  let limit: number | null = null;
  const v2 = /^0::(\/.*)$/m.exec(own);
  if (v2) {
    // Inside a container the namespace root is the container's own cgroup; its path here is then "/".
    for (let path = v2[1].replace(/\/$/, ""); ; path = path.slice(0, path.lastIndexOf("/"))) {
      limit = minLimit(limit, cpuMaxLimit(read(`/sys/fs/cgroup${path}/cpu.max`)));
      if (path === "") break;
    }
  }
  const v1 = /^\d+:[^:]*\bcpu\b[^:]*:(\/.*)$/m.exec(own);
  if (v1) {
    for (const dir of ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]) {
      for (const path of new Set([v1[1].replace(/\/$/, ""), ""])) {
        const quota = Number(read(`${dir}${path}/cpu.cfs_quota_us`) ?? NaN);
        const period = Number(read(`${dir}${path}/cpu.cfs_period_us`) ?? NaN);
        limit = minLimit(limit, quotaCpus(quota, period));
      }
    }
  }
  return limit;
}

/** Physical cores among `cpus`: distinct (package, core) pairs of their sysfs topology. null when a CPU's
 * topology cannot be read. */
export function physicalCores(cpus: number[], read: ReadText = readText): number | null {
  const cores = new Set<string>();
  for (const c of cpus) {
    const dir = `/sys/devices/system/cpu/cpu${c}/topology`;
    const core = read(`${dir}/core_id`);
    const pkg = read(`${dir}/physical_package_id`);
    if (core === null || pkg === null) return null;
    cores.add(`${pkg.trim()}:${core.trim()}`);
  }
  return cores.size;
}

/** The default kernel thread count and why, or null to leave the addon's (all CPUs in its affinity mask). */
export function defaultKernelThreads(read: ReadText = readText): { threads: number; why: string } | null {
  const status = read("/proc/self/status");
  const allowed = status ? /^Cpus_allowed_list:\s*(\S+)/m.exec(status) : null;
  const cpus = allowed ? parseCpuList(allowed[1]) : null;
  if (!cpus || cpus.length === 0) return null;
  const cores = physicalCores(cpus, read) ?? cpus.length;
  const quota = cgroupCpuLimit(read);
  if (quota !== null && quota < cores)
    return { threads: quota, why: `the cgroup CPU quota allows ${quota} of ${cpus.length} CPUs` };
  if (cores < cpus.length)
    return { threads: cores, why: `one per physical core (${cores} cores, ${cpus.length} logical CPUs)` };
  return null;
}
