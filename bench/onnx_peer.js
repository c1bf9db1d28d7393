// ONNX Runtime (onnxruntime-node) side of bench/onnx_peer.sh: rows/s of session.run on the
// rows of an Open Inference Protocol request body, cut into batches of one size.
//
//   node onnx_peer.js MODEL.onnx REQUEST.json BATCH THREADS [MIN_SECONDS]
//
// The request's rows are cut into batches of BATCH (model-space layout: "dense" [B, D], a
// single-hot N [B], a multi-hot N [nnz] with N.lengths [B] and optional N.weights [nnz]); at most
// 64 distinct batches, cycled. One session with intraOpNumThreads = THREADS, sequential
// execution, all graph optimisations. Prints one JSON line like predict_throughput.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function sliceFeeds(inputs, begin, n) {
  const byName = new Map(inputs.map((t) => [t.name, t]));
  const feeds = {};
  for (const t of inputs) {
    if (t.name.endsWith('.lengths') || t.name.endsWith('.weights')) continue;
    const lengths = byName.get(t.name + '.lengths');
    if (t.name === 'dense') {
      const d = t.shape[1];
      feeds[t.name] = new ort.Tensor('float32', Float32Array.from(t.data.slice(begin * d, (begin + n) * d)), [n, d]);
    } else if (!lengths) {
      feeds[t.name] = new ort.Tensor('int64', BigInt64Array.from(t.data.slice(begin, begin + n), BigInt), [n]);
    } else {
      let lo = 0;
      for (let i = 0; i < begin; ++i) lo += lengths.data[i];
      const lens = lengths.data.slice(begin, begin + n);
      const hi = lo + lens.reduce((a, b) => a + b, 0);
      feeds[t.name] = new ort.Tensor('int64', BigInt64Array.from(t.data.slice(lo, hi), BigInt), [hi - lo]);
      feeds[t.name + '.lengths'] = new ort.Tensor('int64', BigInt64Array.from(lens, BigInt), [n]);
      const w = byName.get(t.name + '.weights');
      if (w) feeds[w.name] = new ort.Tensor('float32', Float32Array.from(w.data.slice(lo, hi)), [hi - lo]);
    }
  }
  return feeds;
}

async function main() {
  const [model, request, batchText, threadsText, secondsText = '2'] = process.argv.slice(2);
  const batch = Number(batchText), threads = Number(threadsText), minSeconds = Number(secondsText);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const inputs = JSON.parse(fs.readFileSync(request, 'utf8')).inputs;
  const rows = inputs.find((t) => t.name === 'dense').shape[0];
  if (rows < batch) throw new Error('the request has fewer rows than BATCH');
  const feeds = [];
  for (let begin = 0; begin + batch <= rows && feeds.length < 64; begin += batch) {
    feeds.push(sliceFeeds(inputs, begin, batch));
  }
  for (let i = 0; i < Math.max(20, 2 * feeds.length); ++i) await session.run(feeds[i % feeds.length]);
  let calls = 0;
  const start = process.hrtime.bigint();
  let seconds = 0;
  while (seconds < minSeconds) {
    for (let k = 0; k < 16; ++k, ++calls) await session.run(feeds[calls % feeds.length]);
    seconds = Number(process.hrtime.bigint() - start) / 1e9;
  }
  console.log(JSON.stringify({
    engine: 'onnxruntime', batch, threads,
    rows_per_s: Number((calls * batch / seconds).toFixed(1)),
    us_per_batch: Number((seconds * 1e6 / calls).toFixed(2)),
  }));
}

main().catch((e) => {
  console.error(`onnx_peer: ${e.message}`);
  process.exit(1);
});
