/**
 * CPU time per OS thread of this process, from Linux's /proc/self/task (clock ticks of user + system time):
 * where a benchmark's cores went, thread by thread. Elsewhere (no /proc) it reads nothing.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** /proc counts in USER_HZ, 100 a second on Linux whatever the kernel's own tick */
const TICKS_PER_SECOND = 100;

/** CPU milliseconds used so far by each thread of this process, by its OS thread id */
export function threadCpuMs(): Map<number, number> {
  const used = new Map<number, number>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return used;
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // fields after the command name's closing parenthesis: utime and stime are the 12th and 13th
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      used.set(Number(tid), ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND);
    } catch {
      // the thread ended meanwhile
    }
  }
  return used;
}

/** the calling thread's OS id (Linux), for telling the threads apart in threadCpuMs */
export function osThreadId(): number | undefined {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined;
  }
}
