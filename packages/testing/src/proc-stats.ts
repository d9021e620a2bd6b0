/**
 * What a benchmark reads about processes and the machine from Linux /proc, and the Node flags an app
 * is started with, so a benchmark runs a service the way it is deployed.
 */
import { readdirSync, readFileSync } from 'fs';
import path from 'path';

/** The Node flags of an app's `start` script (`node <flags> dist/main.js`) in `<appDir>/package.json`. */
export function startScriptFlags(appDir: string): string[] {
  const pkg = JSON.parse(readFileSync(path.join(appDir, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  return (pkg.scripts.start.match(/^node (.*)dist\/main\.js$/)?.[1] ?? '')
    .split(' ')
    .filter(Boolean);
}

/** CPU seconds (user + system) a process has used so far (clock ticks of 10 ms). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds so far of every process whose command name is `comm` (e.g. `postgres`), by pid. */
export function cpuSecondsByPid(comm: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === comm)
        out.set(Number(entry), cpuSeconds(Number(entry)));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * CPU seconds the processes alive at both readings used between them: short-lived ones (other
 * clients' connections) drop out instead of skewing the sum. With `includeNew`, processes born after
 * the first reading count from their start (connections a service opens once it is busy).
 */
export function cpuSecondsBetween(
  from: Map<number, number>,
  to: Map<number, number>,
  opts: { includeNew?: boolean } = {},
): number {
  let sum = 0;
  for (const [pid, after] of to) {
    const before = from.get(pid);
    if (before !== undefined) sum += after - before;
    else if (opts.includeNew) sum += after;
  }
  return sum;
}

/** CPU seconds (user + system) redis-server has used so far, from its INFO (it may run elsewhere). */
export async function redisCpuSeconds(redis: {
  info(section: 'cpu'): Promise<string>;
}): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) =>
    Number(info.match(new RegExp(`^${name}:([\\d.]+)`, 'm'))?.[1] ?? 0);
  return field('used_cpu_sys') + field('used_cpu_user');
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
export function machineJiffies(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - cpu[3] - cpu[4], total };
}

/** Peak resident set of a process so far, in MB: the kernel's high-water mark, which no sample can miss. */
export function peakRssMb(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}
