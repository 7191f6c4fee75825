#!/usr/bin/env node
/**
 * Sets up native TensorFlow for TensorFlow.js (`@tensorflow/tfjs-node`, and `@tensorflow/tfjs-node-gpu`
 * where a GPU is), run by `npm install` / `npm ci` (postinstall) or by hand: `node scripts/setup-native.mjs`.
 *
 * The packages' own install scripts are off in package.json (allowScripts): offline they fail, and npm would
 * then drop the package. This script runs them itself and, when they cannot download, builds the binding
 * against another libtensorflow. Sources, first that works:
 *   1. TANGSHI_LIBTENSORFLOW_DIR (TANGSHI_LIBTENSORFLOW_GPU_DIR for the GPU package): a directory the user
 *      names, holding libtensorflow (libtensorflow.so.2 or libtensorflow_cc.so.2, and
 *      libtensorflow_framework.so.2) and the C API headers, in DIR, DIR/lib + DIR/include, or an unpacked
 *      TensorFlow wheel (DIR/tensorflow/…);
 *   2. the package's own install, which downloads libtensorflow 2.9.1 (needs the internet);
 *   3. the libraries inside a TensorFlow Python wheel that pip can fetch (tensorflow-cpu; tensorflow for
 *      the GPU), unpacked once per machine into a cache outside the checkout (TANGSHI_CACHE_DIR, default
 *      ~/.cache/tangshi-bot), so a second clone or `npm ci` only links and builds (about 10 s).
 * Nothing here can fail the install: when no source works it prints one line saying that the model will
 * run on WebAssembly and why, and exits 0. TANGSHI_NATIVE=off skips it all.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const WHEEL_VERSION = '2.21.0';
/** the file name tfjs-node's install script looks for to decide that libtensorflow is there */
const TFJS_LIB_VERSION = '2.9.1';
/** headers the binding includes (its C API and what that pulls in), measured with g++ -M */
const HEADER_PREFIXES = ['tensorflow/c/', 'tensorflow/core/platform/ctstring', 'tsl/platform/ctstring', 'xla/tsl/c/'];
const say = (line) => console.log(`tangshi native TensorFlow: ${line}`);

const TARGETS = [
  { pkg: '@tensorflow/tfjs-node', wheel: 'tensorflow-cpu', dirEnv: 'TANGSHI_LIBTENSORFLOW_DIR' },
  { pkg: '@tensorflow/tfjs-node-gpu', wheel: 'tensorflow', dirEnv: 'TANGSHI_LIBTENSORFLOW_GPU_DIR', gpu: true },
];

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  const lastLine = (r.error?.message ?? output.split('\n').filter(Boolean).pop() ?? '').slice(0, 300);
  return { ok: r.status === 0, output, lastLine, timedOut: r.error?.code === 'ETIMEDOUT' || r.signal === 'SIGTERM' };
}

/** Loads the package in a child process (a bad library can crash the loader) and returns TensorFlow's version. */
function probe(pkg) {
  const code = `const tf = require(${JSON.stringify(pkg)}); console.log('TF_VERSION=' + tf.backend().binding.TF_Version)`;
  const r = run(process.execPath, ['-e', code], { timeout: 120_000, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } });
  const version = /TF_VERSION=(\S+)/.exec(r.output)?.[1];
  return version ? { ok: true, version } : { ok: false, why: r.lastLine || 'the binding did not load' };
}

function hasGpu() {
  if (process.env.TANGSHI_NATIVE_GPU === '1') return true;
  if (process.env.TANGSHI_NATIVE_GPU === '0') return false;
  return existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl');
}

/** libtensorflow + headers in a directory the user named, in any of the layouts listed above */
function findLibDir(root) {
  for (const dir of [root, join(root, 'lib'), join(root, 'tensorflow')]) {
    const main = ['libtensorflow.so.2', 'libtensorflow_cc.so.2'].find((f) => existsSync(join(dir, f)));
    if (!main || !existsSync(join(dir, 'libtensorflow_framework.so.2'))) continue;
    const include = [join(root, 'include'), join(dir, 'include'), join(root, 'tensorflow', 'include')].find((d) =>
      existsSync(join(d, 'tensorflow', 'c', 'c_api.h')),
    );
    if (include) return { lib: dir, main, include };
  }
  return undefined;
}

function cacheRoot() {
  return process.env.TANGSHI_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tangshi-bot');
}

/** Unpacks libtensorflow and its C headers from a TensorFlow wheel into the machine's cache (once). */
function libFromWheel(wheel) {
  const dest = join(cacheRoot(), 'libtensorflow', `${wheel}-${WHEEL_VERSION}`);
  const found = existsSync(dest) && findLibDir(dest);
  if (found) return { ...found, note: `cached ${dest}` };
  const python = ['python3', 'python'].find((p) => run(p, ['-m', 'pip', '--version']).ok);
  if (!python) throw new Error('no python3 with pip to fetch a TensorFlow wheel');
  const work = mkdtempSync(join(tmpdir(), 'tangshi-tf-'));
  try {
    const dl = run(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary', ':all:', '--quiet', '-d', work, `${wheel}==${WHEEL_VERSION}`], {
      timeout: 900_000,
    });
    const file = readdirSync(work).find((f) => f.endsWith('.whl'));
    if (!dl.ok || !file) throw new Error(`pip could not fetch ${wheel}==${WHEEL_VERSION} (${dl.lastLine})`);
    const staging = `${dest}.partial-${process.pid}`;
    const unzip = `
import sys, zipfile, os
wheel, out, prefixes = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
z = zipfile.ZipFile(wheel)
for info in z.infolist():
    n = info.filename
    if n in ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'):
        target = os.path.join(out, 'lib', os.path.basename(n))
    elif n.startswith('tensorflow/include/') and any(n[len('tensorflow/include/'):].startswith(p) for p in prefixes) and not n.endswith('/'):
        target = os.path.join(out, 'include', n[len('tensorflow/include/'):])
    else:
        continue
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with z.open(info) as src, open(target, 'wb') as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
`;
    const x = run(python, ['-c', unzip, join(work, file), staging, HEADER_PREFIXES.join(',')], { timeout: 900_000 });
    if (!x.ok) throw new Error(`could not unpack ${file} (${x.lastLine})`);
    mkdirSync(dirname(dest), { recursive: true });
    rmSync(dest, { recursive: true, force: true });
    renameSync(staging, dest); // atomic: a second install at the same time sees all of it or none
    writeFileSync(join(dest, 'SOURCE'), `${file}\n`);
    const ready = findLibDir(dest);
    if (!ready) throw new Error(`${file} holds no libtensorflow`);
    return { ...ready, note: `unpacked ${file} into ${dest}` };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The binding keeps one process-wide std::set of attribute names and inserts into it on every op without a
 * lock: two worker threads running ops at once crashed it (SIGSEGV in AssignOpAttr, about one run in four
 * with two training workers). A mutex around the insert fixes it; the marker file says the built binding has
 * it, and the trainer runs native data-parallel workers only then.
 */
const PATCH_MARKER = 'tangshi-thread-safe-binding';
function patchBinding(pkgDir) {
  const file = join(pkgDir, 'binding', 'tfjs_backend.cc');
  let source = readFileSync(file, 'utf8');
  if (source.includes('ATTR_NAME_SET_MUTEX')) return;
  const declaration = 'static std::set<std::string> ATTR_NAME_SET;';
  const insert = '  const char *attr_name =\n      ATTR_NAME_SET.insert(attr_name_string.c_str()).first->c_str();';
  if (!source.includes(declaration) || !source.includes(insert)) throw new Error('the binding source is not the one the thread-safety patch was written for');
  source = source
    .replace('#include <algorithm>', '#include <algorithm>\n#include <mutex>')
    .replace(declaration, `${declaration}\n// patched by tangshi-bot: worker threads insert at once\nstatic std::mutex ATTR_NAME_SET_MUTEX;`)
    .replace(
      insert,
      '  const char *attr_name;\n  {\n    std::lock_guard<std::mutex> lock(ATTR_NAME_SET_MUTEX);\n    attr_name = ATTR_NAME_SET.insert(attr_name_string.c_str()).first->c_str();\n  }',
    );
  writeFileSync(file, source);
}

function buildFromSource(pkgDir) {
  patchBinding(pkgDir);
  const nodePreGyp = require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp', { paths: [pkgDir] });
  const env = { ...process.env };
  // outside npm (a run by hand) node-pre-gyp needs to be told where npm's node-gyp and Node's headers are
  env.npm_config_node_gyp ??= [join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')].find(
    existsSync,
  );
  if (!env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
  if (!env.npm_config_node_gyp) delete env.npm_config_node_gyp;
  rmSync(join(pkgDir, PATCH_MARKER), { force: true });
  const r = run(process.execPath, [nodePreGyp, 'install', '--build-from-source'], { cwd: pkgDir, env, timeout: 600_000 });
  if (!r.ok) throw new Error(`building the binding failed (${r.lastLine})`);
  writeFileSync(join(pkgDir, PATCH_MARKER), 'the binding was built from binding/tfjs_backend.cc with the attribute-name lock\n');
}

/** Points the package's deps/ at a libtensorflow (symlinks: the cache is shared) and builds its binding. */
function buildAgainst(pkgDir, source) {
  const deps = join(pkgDir, 'deps');
  rmSync(deps, { recursive: true, force: true });
  mkdirSync(join(deps, 'lib'), { recursive: true });
  const main = join(source.lib, source.main);
  const framework = join(source.lib, 'libtensorflow_framework.so.2');
  // binding.gyp links -ltensorflow -ltensorflow_framework; the built binding then asks for the libraries'
  // sonames (libtensorflow*.so.2, or libtensorflow_cc.so.2 for a wheel's), found through its rpath deps/lib
  const links = {
    'libtensorflow.so': main,
    'libtensorflow.so.2': main,
    [source.main]: main,
    [`libtensorflow.so.${TFJS_LIB_VERSION}`]: main,
    'libtensorflow_framework.so': framework,
    'libtensorflow_framework.so.2': framework,
    [`libtensorflow_framework.so.${TFJS_LIB_VERSION}`]: framework,
  };
  for (const [name, target] of Object.entries(links)) if (!existsSync(join(deps, 'lib', name))) symlinkSync(target, join(deps, 'lib', name));
  symlinkSync(source.include, join(deps, 'include'));
  buildFromSource(pkgDir);
}

/**
 * The package's own install: downloads libtensorflow 2.9.1 and a prebuilt binding (needs the internet); the
 * binding is then rebuilt from source with the thread-safety patch where a compiler is (else the prebuilt
 * one stays, without the marker).
 */
function ownInstall(pkgDir) {
  const timeout = Number(process.env.TANGSHI_NATIVE_DOWNLOAD_TIMEOUT ?? 180) * 1000;
  const env = { ...process.env, PATH: `${join(pkgDir, '..', '..', '.bin')}:${process.env.PATH}` };
  rmSync(join(pkgDir, 'deps'), { recursive: true, force: true }); // else it skips the download and builds against whatever deps/ holds
  const r = run(process.execPath, ['scripts/install.js'], { cwd: pkgDir, timeout, env });
  if (!r.ok) throw new Error(r.timedOut ? `its download did not finish in ${timeout / 1000} s` : `its download failed (${r.lastLine})`);
  try {
    buildFromSource(pkgDir);
  } catch {
    run(process.execPath, ['scripts/install.js'], { cwd: pkgDir, timeout, env }); // back to its prebuilt binding
  }
}

function setUp({ pkg, wheel, dirEnv, gpu }) {
  let pkgDir;
  try {
    pkgDir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return { ok: false, why: `${pkg} is not installed (an optional dependency npm skipped)` };
  }
  const before = probe(pkg);
  if (before.ok && existsSync(join(pkgDir, PATCH_MARKER))) return { ok: true, version: before.version, how: 'already built' };
  const attempts = [];
  const sources = [
    [
      'named directory',
      () => {
        if (!process.env[dirEnv]) return undefined;
        const found = findLibDir(process.env[dirEnv]);
        if (!found)
          throw new Error(`${dirEnv}=${process.env[dirEnv]} holds no libtensorflow*.so.2 + libtensorflow_framework.so.2 + include/tensorflow/c/c_api.h`);
        buildAgainst(pkgDir, found);
        return `${dirEnv}=${process.env[dirEnv]}`;
      },
    ],
    [
      'its own download',
      () => {
        ownInstall(pkgDir);
        return 'libtensorflow downloaded by its install script';
      },
    ],
    [
      `the ${wheel} wheel`,
      () => {
        const found = libFromWheel(wheel);
        buildAgainst(pkgDir, found);
        return `built against ${wheel} ${WHEEL_VERSION} (${found.note})`;
      },
    ],
  ];
  for (const [name, attempt] of sources) {
    if (gpu && name === 'its own download' && process.env.TANGSHI_NATIVE_GPU_DOWNLOAD === '0') continue;
    const t0 = Date.now();
    try {
      const how = attempt();
      if (how === undefined) continue;
      const after = probe(pkg);
      if (after.ok) return { ok: true, version: after.version, how: `${how}, ${((Date.now() - t0) / 1000).toFixed(0)} s` };
      attempts.push(`${name}: built but does not load (${after.why})`);
    } catch (e) {
      attempts.push(`${name}: ${e.message}`);
    }
  }
  return { ok: false, why: attempts.join('; ') };
}

function main() {
  if (['off', '0', 'false'].includes(String(process.env.TANGSHI_NATIVE).toLowerCase())) {
    say('skipped (TANGSHI_NATIVE=off); the model will run on WebAssembly.');
    return;
  }
  for (const target of TARGETS) {
    if (target.gpu && !hasGpu()) continue; // no GPU visible: nothing to gain, and its wheel is large
    // both when a GPU is: the CPU package is the fallback if CUDA cannot start at run time
    const r = setUp(target);
    if (r.ok) say(`${target.pkg} ready on TensorFlow ${r.version} (${r.how}).`);
    else if (target.gpu) say(`${target.pkg} not set up (${r.why}).`);
    else say(`not set up (${r.why}); the model will run on WebAssembly.`);
  }
}

try {
  main();
} catch (e) {
  say(`not set up (${e.message}); the model will run on WebAssembly.`);
}
process.exit(0);
