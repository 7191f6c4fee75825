/**
 * build/native-kernels.node, the one native addon `npm install` compiles (scripts/build-native-kernels.mjs):
 * the poem and training kernels (kernels/x86/) and quiet-stderr.c. Loaded once per thread; any failure
 * (missing, built for another Node, a damaged file) is a reason in one line, never a crash.
 * `TANGSHI_NATIVE_KERNELS_FILE` names another build.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NATIVE_KERNELS_FILE = fileURLToPath(new URL('../../../build/native-kernels.node', import.meta.url));
const addonFile = () => (process.env.TANGSHI_NATIVE_KERNELS_FILE ? resolve(process.env.TANGSHI_NATIVE_KERNELS_FILE) : NATIVE_KERNELS_FILE); // (relative to the working directory)

type Stderr = { stderrOff?: () => number; stderrOn?: (saved: number) => void };
let required: { addon: Record<string, unknown> & Stderr } | { why: string } | undefined;

/** the addon, or why it did not load */
export function nativeAddon(): { addon: Record<string, unknown> & Stderr } | { why: string } {
  try {
    required ??= { addon: createRequire(import.meta.url)(addonFile()) };
  } catch (error) {
    required = {
      why: `${addonFile()} did not load (${String((error as Error).message ?? error).split('\n')[0]}); \`npm run build:native-kernels\` builds it`,
    };
  }
  return required;
}

/**
 * Runs `load` with standard error sent to /dev/null (quiet-stderr.c), unless TF_CPP_MIN_LOG_LEVEL asks for
 * TensorFlow's notes (0 or 1): libtensorflow prints its start-up notes to file descriptor 2 as it loads, before
 * it reads that setting. Where the addon is missing, they are printed.
 */
export function quietlyLoading<T>(load: () => T): T {
  const level = Number(process.env.TF_CPP_MIN_LOG_LEVEL ?? 2);
  const r = level >= 2 ? nativeAddon() : undefined;
  const addon = r && 'addon' in r ? r.addon : undefined;
  const saved = addon?.stderrOff?.() ?? -1;
  try {
    return load();
  } finally {
    if (saved >= 0) addon!.stderrOn!(saved);
  }
}
