/**
 * Fixes for @tensorflow/tfjs-backend-wasm 4.22.0 that training needs (pinned: these touch backend internals).
 *
 * 1. UnsortedSegmentSum is not registered for wasm. It is the gradient of every gather, so an embedding
 *    layer cannot be trained at all without it. We add it, computed on views of the wasm heap.
 * 2. BatchMatMul with transposeA/transposeB leaves XNNPACK's fast path for a naive loop. Every matmul
 *    gradient uses a transposed operand, so we transpose explicitly (the wasm Transpose kernel is fast)
 *    and call the original kernel without the flags.
 * 3. Slice (and SplitV/Unpack, which call it once per piece) reads the input with readSync, which copies
 *    the whole input out of the heap on every slice: unstacking T timesteps costs T full copies. We read a
 *    view of the heap instead.
 *
 * Upstream: (1) a C++ kernel like the cpu backend's; (2) pass the transposes to xnn_create_fully_connected
 * or transpose inside batch_mat_mul.cc; (3) use typedArrayFromHeap in slice.ts. Each is a small patch.
 */
import * as tf from '@tensorflow/tfjs';

type WasmBackend = {
  dataIdMap: { get(id: object): { memoryOffset: number; id: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
};
type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: unknown; attrs?: Record<string, unknown> };

export const PATCHED_KERNELS = ['UnsortedSegmentSum', 'BatchMatMul', 'Slice', 'SplitV', 'Unpack'] as const;

let applied = false;

function replaceKernel(name: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]) {
  const original = tf.getKernel(name, 'wasm');
  if (original) tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    setupFunc: original?.setupFunc,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  });
}

function heapView(backend: WasmBackend, t: tf.TensorInfo) {
  return backend.typedArrayFromHeap(t);
}

/** Slice that reads the input through a heap view instead of a full copy. */
function slice({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackend;
  const x = inputs.x!;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs!.begin as number[], attrs!.size as number[]) as [number[], number[]];
  if (x.dtype === 'string') throw new Error('Slice of string tensors is not supported on wasm');
  const out = b.makeOutput(size, x.dtype);
  // Views are taken after makeOutput: allocating may grow (and detach) the heap.
  const xVals = heapView(b, x);
  const outVals = heapView(b, out);
  const strides = tf.util.computeStrides(x.shape);
  if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
    const offset = tf.slice_util.computeFlatOffset(begin, strides);
    outVals.set(xVals.subarray(offset, offset + tf.util.sizeFromShape(size)));
    return out;
  }
  // General case: copy contiguous runs along the last axis.
  const rank = x.shape.length;
  const run = size[rank - 1]!;
  const outer = tf.util.sizeFromShape(size.slice(0, -1));
  const index = new Array<number>(rank - 1).fill(0);
  for (let r = 0; r < outer; r++) {
    let offset = begin[rank - 1]!;
    for (let d = 0; d < rank - 1; d++) offset += (begin[d]! + index[d]!) * strides[d]!;
    outVals.set(xVals.subarray(offset, offset + run), r * run);
    for (let d = rank - 2; d >= 0; d--) {
      if (++index[d]! < size[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

function splitV({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const x = inputs.x!;
  const axis = tf.util.parseAxisParam(attrs!.axis as number, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs!.numOrSizeSplits as number[], axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const piece = slice({ inputs: { x }, backend, attrs: { begin: begin.slice(), size } });
    begin[axis]! += s;
    return piece;
  });
}

function unpack({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const value = inputs.value!;
  let axis = attrs!.axis as number;
  if (axis < 0) axis += value.shape.length;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const size = value.shape.slice();
  size[axis] = 1;
  const begin = new Array<number>(value.shape.length).fill(0);
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]!; i++) {
    begin[axis] = i;
    const piece = slice({ inputs: { x: value }, backend, attrs: { begin: begin.slice(), size } });
    outs.push({ dataId: piece.dataId, dtype: piece.dtype, shape: outShape });
  }
  return outs;
}

function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackend;
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = attrs!.numSegments as number;
  const inner = tf.util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
  const out = b.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  const xVals = heapView(b, x);
  const ids = heapView(b, segmentIds);
  const outVals = heapView(b, out);
  outVals.fill(0);
  for (let row = 0; row < ids.length; row++) {
    const seg = ids[row]!;
    if (seg < 0 || seg >= numSegments) continue; // as TensorFlow: out-of-range ids are dropped
    const src = row * inner;
    const dst = seg * inner;
    for (let k = 0; k < inner; k++) outVals[dst + k]! += xVals[src + k]!;
  }
  return out;
}

export function applyWasmFixes(): void {
  if (applied) return;
  const originalMatMul = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!originalMatMul || !transpose) {
    throw new Error('applyWasmFixes: import @tensorflow/tfjs-backend-wasm before applying the fixes');
  }
  const matMul = originalMatMul.kernelFunc as unknown as (args: KernelArgs) => tf.TensorInfo;
  const transposeFunc = transpose.kernelFunc as unknown as (args: KernelArgs) => tf.TensorInfo;
  const swapLastTwo = (t: tf.TensorInfo, backend: unknown) => {
    const perm = t.shape.map((_, i) => i);
    const r = perm.length;
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return transposeFunc({ inputs: { x: t }, backend, attrs: { perm } });
  };
  replaceKernel('BatchMatMul', ({ inputs, backend, attrs }) => {
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return matMul({ inputs, backend, attrs });
    const wasm = backend as WasmBackend;
    if (transposeA && !transposeB) {
      // Aᵀ·B = (Bᵀ·A)ᵀ: transposing B beats having XNNPACK pack a large B as weights (bench/output-layer.ts;
      // the weight gradients here are all of this shape)
      const bT = swapLastTwo(inputs.b!, backend);
      const product = matMul({ inputs: { a: bT, b: inputs.a! }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      const out = swapLastTwo(product, backend);
      wasm.disposeData(bT.dataId);
      wasm.disposeData(product.dataId);
      return out;
    }
    const a = transposeA ? swapLastTwo(inputs.a!, backend) : inputs.a!;
    const bb = transposeB ? swapLastTwo(inputs.b!, backend) : inputs.b!;
    const out = matMul({ inputs: { a, b: bb }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    if (transposeA) wasm.disposeData(a.dataId);
    if (transposeB) wasm.disposeData(bb.dataId);
    return out;
  });
  replaceKernel('Slice', slice);
  replaceKernel('SplitV', splitV);
  replaceKernel('Unpack', unpack);
  replaceKernel('UnsortedSegmentSum', unsortedSegmentSum);
  applied = true;
}
