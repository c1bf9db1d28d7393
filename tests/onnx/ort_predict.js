// Runs an ONNX model with ONNX Runtime (onnxruntime-node) on an Open Inference Protocol request
// body and writes one prediction per line, as `crank predict` does.
//
//   node ort_predict.js MODEL.onnx REQUEST.json OUT.txt [THREADS]
//
// onnxruntime-node is found through NODE_PATH (make test installs it under the build tree).
// Exit code 1 with one line on stderr when the runtime rejects the model or the request.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

// The feeds of a request body: {"inputs": [{name, shape, datatype, data}]}.
function feedsOf(body) {
  const feeds = {};
  for (const t of body.inputs) {
    if (t.datatype === 'FP32') {
      feeds[t.name] = new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
    } else if (t.datatype === 'INT64') {
      feeds[t.name] = new ort.Tensor('int64', BigInt64Array.from(t.data, BigInt), t.shape);
    } else {
      throw new Error(`input '${t.name}': unsupported datatype ${t.datatype}`);
    }
  }
  return feeds;
}

async function main() {
  const [model, request, out, threads = '1'] = process.argv.slice(2);
  if (!out) throw new Error('usage: node ort_predict.js MODEL.onnx REQUEST.json OUT.txt [THREADS]');
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const body = JSON.parse(fs.readFileSync(request, 'utf8'));
  const result = await session.run(feedsOf(body));
  const p = result.predictions.data;
  const lines = Array.from(p, (v) => v.toPrecision(9));
  fs.writeFileSync(out, lines.join('\n') + (lines.length ? '\n' : ''));
}

main().catch((e) => {
  console.error(`ort_predict: ${e.message}`);
  process.exit(1);
});
