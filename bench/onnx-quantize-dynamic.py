#!/usr/bin/env python3
"""onnx-quantize-dynamic.py IN.onnx OUT.onnx: the int8 peer of `electra quantize` for onnxruntime, made with the
onnx package alone (python3-onnx; onnxruntime's own quantize_dynamic needs the onnxruntime Python package, which
Debian does not have). Each MatMul of the encoder whose B is a weight (an initializer [K, N]: the attention
projections, the feed-forward layers, embeddings_project) becomes what quantize_dynamic writes for it:
DynamicQuantizeLinear (activations uint8, asymmetric, one scale per tensor) -> MatMulInteger with int8
weights, symmetric, one scale per output column (as electra-ts's per output channel) -> Cast -> Mul by the
two scales; onnxruntime fuses these into its MatMulIntegerToFloat / DynamicQuantizeMatMul kernels. The
head (Gemm), the attention products of activations, LayerNorm, softmax and GELU stay float32, as in electra-ts.
"""
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

src, dst = sys.argv[1], sys.argv[2]
m = onnx.load(src)
g = m.graph
inits = {i.name: i for i in g.initializer}
nodes, quantized = [], 0
for n in g.node:
    w = inits.get(n.input[1]) if n.op_type == "MatMul" and len(n.input) == 2 else None
    if w is None or len(w.dims) != 2 or not ("/layer." in n.name or "embeddings_project" in n.name):
        nodes.append(n)
        continue
    W = numpy_helper.to_array(w).astype(np.float32)  # [K, N]
    scale = np.abs(W).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    Wq = np.clip(np.round(W / scale), -127, 127).astype(np.int8)
    p = f"{n.name}_q"
    g.initializer.extend([
        numpy_helper.from_array(Wq, p + "_W"),
        numpy_helper.from_array(scale.astype(np.float32), p + "_Wscale"),
        numpy_helper.from_array(np.zeros(W.shape[1], np.int8), p + "_Wzp"),
    ])
    a = n.input[0]
    nodes += [
        helper.make_node("DynamicQuantizeLinear", [a], [p + "_A", p + "_Ascale", p + "_Azp"], name=p + "_dql"),
        helper.make_node("MatMulInteger", [p + "_A", p + "_W", p + "_Azp", p + "_Wzp"], [p + "_Y"], name=p + "_mmi"),
        helper.make_node("Cast", [p + "_Y"], [p + "_Yf"], to=TensorProto.FLOAT, name=p + "_cast"),
        helper.make_node("Mul", [p + "_Ascale", p + "_Wscale"], [p + "_S"], name=p + "_scale"),
        helper.make_node("Mul", [p + "_Yf", p + "_S"], [n.output[0]], name=p + "_mul"),
    ]
    quantized += 1
del g.node[:]
g.node.extend(nodes)
used = {i for n in g.node for i in n.input}
keep = [i for i in g.initializer if i.name in used]
del g.initializer[:]
g.initializer.extend(keep)
onnx.checker.check_model(m)
onnx.save(m, dst)
print(f"{quantized} MatMuls quantized -> {dst}")
