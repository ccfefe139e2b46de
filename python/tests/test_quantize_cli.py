"""`tokenmill quantize` end to end, checked with the PyPI gguf package as the independent oracle:
its GGUFReader reads the output, its dequantizers define the bit layouts, its quantizers give
the expected bytes of the 32-element block types, and the mixture rules are restated here.
"""
import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
Q = gguf.GGMLQuantizationType

N_LAYERS, DIM, FFN, VOCAB = 8, 256, 512, 96

# Relative RMS error bounds of the formats on Gaussian weights (tests/kernels/
# quant_formats_test.cpp measures them; docs/quantization.md lists them).
ERROR_BOUND = {
    Q.Q8_0: 0.006, Q.Q6_K: 0.019, Q.Q5_1: 0.042, Q.Q5_K: 0.040, Q.Q5_0: 0.048,
    Q.Q4_K: 0.079, Q.Q4_1: 0.086, Q.Q4_0: 0.095, Q.Q3_K: 0.158, Q.Q2_K: 0.295,
    Q.F16: 0.001, Q.F32: 0.0,
}

FILE_TYPE = {"Q8_0": 7, "Q4_0": 2, "Q4_K_M": 15, "Q6_K": 18, "F16": 1}


def write_model(path, *, with_output=True):
    """A llama-shaped GGUF with Gaussian weights: rows of 256/512 (whole K-quant super-blocks),
    F16 and F32 matrices, plus two odd-width matrices that force the fallbacks."""
    rng = np.random.default_rng(7)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(N_LAYERS)
    w.add_embedding_length(DIM)
    w.add_feed_forward_length(FFN)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_context_length(128)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_string("test.marker", "kept")
    w.add_uint32("general.file_type", 1)
    tensors = {}

    def add(name, shape, dtype=np.float16, scale=0.02):
        data = (rng.standard_normal(shape) * scale).astype(np.float32)
        if dtype == np.float16:
            data = data.astype(np.float16)
        tensors[name] = data
        w.add_tensor(name, data)

    add("token_embd.weight", (VOCAB, DIM))
    for i in range(N_LAYERS):
        p = f"blk.{i}."
        add(p + "attn_norm.weight", (DIM,), np.float32, 1.0)
        add(p + "attn_q.weight", (DIM, DIM), np.float32 if i % 2 else np.float16)
        add(p + "attn_k.weight", (DIM // 2, DIM))
        add(p + "attn_v.weight", (DIM // 2, DIM))
        add(p + "attn_output.weight", (DIM, DIM))
        add(p + "ffn_norm.weight", (DIM,), np.float32, 1.0)
        add(p + "ffn_gate.weight", (FFN, DIM))
        add(p + "ffn_up.weight", (FFN, DIM))
        add(p + "ffn_down.weight", (DIM, FFN))
    add("output_norm.weight", (DIM,), np.float32, 1.0)
    if with_output:
        add("output.weight", (VOCAB, DIM))
    add("extra_96.weight", (8, 96))  # rows of 96: whole 32-blocks, not whole super-blocks
    add("extra_40.weight", (8, 40))  # rows of 40: no block type fits
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return tensors


def use_more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def expected_type(name, scheme, n_cols):
    """llama-quantize's choice for this test model (dense, GQA 2, not Falcon)."""
    if name.endswith("_norm.weight"):
        return Q.F32
    default = {"Q8_0": Q.Q8_0, "Q4_0": Q.Q4_0, "Q4_K_M": Q.Q4_K, "Q6_K": Q.Q6_K, "F16": Q.F16}[scheme]
    t = default
    if scheme == "F16":
        return t
    if name == "output.weight":
        t = Q.Q8_0 if default == Q.Q8_0 else Q.Q6_K
    elif scheme == "Q4_K_M" and (name.endswith("attn_v.weight") or name.endswith("ffn_down.weight")):
        layer = int(name.split(".")[1])
        if use_more_bits(layer, N_LAYERS):
            t = Q.Q6_K
    block = gguf.GGML_QUANT_SIZES[t][0]
    if n_cols % block:
        t = {Q.Q4_K: Q.Q5_0, Q.Q6_K: Q.Q8_0}.get(t, Q.F16)
        if n_cols % gguf.GGML_QUANT_SIZES[t][0]:
            t = Q.F16
    return t


def read_tensors(path):
    return {t.name: t for t in gguf.GGUFReader(str(path)).tensors}


def as_f32(t):
    return np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)


@pytest.mark.parametrize("scheme", ["Q8_0", "Q4_0", "Q4_K_M", "Q6_K", "F16"])
def test_quantize_types_layouts_and_error(run_cli, tmp_path, scheme):
    src = tmp_path / "model.gguf"
    original = write_model(src)
    out = tmp_path / f"model-{scheme}.gguf"
    r = run_cli("quantize", src, out, scheme.lower(), "--threads", "2")
    assert r.returncode == 0, r.stderr
    assert "bits per weight" in r.stdout

    reader = gguf.GGUFReader(str(out))
    fields = reader.fields
    assert int(fields["general.file_type"].parts[-1][0]) == FILE_TYPE[scheme]
    assert int(fields["general.quantization_version"].parts[-1][0]) == 2
    assert fields["test.marker"].contents() == "kept"
    assert int(fields["llama.block_count"].parts[-1][0]) == N_LAYERS

    got = {t.name: t for t in reader.tensors}
    assert list(got) == list(original)  # same tensors, same order
    for name, want in original.items():
        t = got[name]
        assert tuple(int(d) for d in reversed(t.shape)) == want.shape, name
        n_cols = want.shape[-1]
        assert t.tensor_type == expected_type(name, scheme, n_cols), (name, t.tensor_type.name)
        if name.endswith("_norm.weight"):
            np.testing.assert_array_equal(as_f32(t).reshape(want.shape), want)
            continue
        x = want.astype(np.float32)
        y = as_f32(t).reshape(want.shape)
        rel = np.sqrt(np.mean((y - x) ** 2) / np.mean(x ** 2))
        assert rel <= ERROR_BOUND[t.tensor_type], (name, t.tensor_type.name, rel)
        if t.tensor_type in (Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1):
            # ggml's reference bytes, from gguf's quantizer on the same f32 values
            ref = gguf.quants.quantize(x, t.tensor_type)
            np.testing.assert_array_equal(np.asarray(t.data).reshape(ref.shape), ref, err_msg=name)
    if scheme != "F16":
        assert "extra_40.weight" in r.stderr and "using F16" in r.stderr


def test_tied_embeddings_take_the_output_type(run_cli, tmp_path):
    src = tmp_path / "tied.gguf"
    write_model(src, with_output=False)
    out = tmp_path / "tied-q4km.gguf"
    r = run_cli("quantize", src, out, "Q4_K_M")
    assert r.returncode == 0, r.stderr
    assert read_tensors(out)["token_embd.weight"].tensor_type == Q.Q6_K


def test_requantize_needs_the_flag(run_cli, tmp_path):
    src = tmp_path / "model.gguf"
    write_model(src)
    q8 = tmp_path / "q8.gguf"
    assert run_cli("quantize", src, q8, "Q8_0").returncode == 0
    refused = run_cli("quantize", q8, tmp_path / "q4.gguf", "Q4_0")
    assert refused.returncode == 1
    assert "--allow-requantize" in refused.stderr and "already quantized" in refused.stderr
    assert not (tmp_path / "q4.gguf").exists()
    ok = run_cli("quantize", q8, tmp_path / "q4.gguf", "Q4_0", "--allow-requantize")
    assert ok.returncode == 0, ok.stderr
    assert read_tensors(tmp_path / "q4.gguf")["blk.0.ffn_up.weight"].tensor_type == Q.Q4_0
    # Same type in and out: copied, no requantization needed.
    same = run_cli("quantize", q8, tmp_path / "q8b.gguf", "Q8_0")
    assert same.returncode == 0, same.stderr


@pytest.mark.parametrize("args, needle", [
    (["{src}", "{out}", "Q7_Z"], "valid types: F32, F16, BF16, Q8_0"),
    (["{missing}", "{out}", "Q8_0"], "cannot open"),
    (["{src}", "{unwritable}", "Q8_0"], "cannot write"),
    (["{src}", "{src}", "Q8_0"], "must not be the input"),
])
def test_clear_errors(run_cli, tmp_path, args, needle):
    src = tmp_path / "model.gguf"
    write_model(src)
    paths = {"src": src, "out": tmp_path / "o.gguf", "missing": tmp_path / "missing.gguf",
             "unwritable": tmp_path / "no" / "such" / "dir" / "o.gguf"}
    r = run_cli("quantize", *[a.format(**paths) for a in args])
    assert r.returncode == 1, r
    assert needle in r.stderr, r.stderr
    assert r.stderr.startswith("error: ")
