#!/usr/bin/env python3
"""bert_embed.py - encoder-only embedding models (bert, nomic-bert) end to end.

Writes small synthetic GGUF models with random weights and the real WordPiece vocabulary of
$OSR_TESTDATA/ggml-vocab-bert-bge.gguf (bert F32 with mean pooling, bert F16 with CLS pooling,
bert Q8_0 with mean pooling, nomic-bert F32 with mean pooling), starts the real `osaurus serve` on a temporary home with
them in models/, and checks:
  - /v1/embeddings and /api/embed against a float64 numpy forward pass written here from the
    definitions (cosine > 0.9999 for F32 weights, > 0.999 for F16 and Q8_0 weights: the
    reference uses the rounded weights of the file, so what remains is the engine's F32
    arithmetic and, for Q8_0, its 8-bit quantization of the activations), for several inputs
    of different lengths in one request, and that each vector has unit length;
  - the tokenization (`osaurus tokenize --add-special`) starts with [CLS] and ends with [SEP];
  - /api/show lists the capability "embedding"; a chat request to the model is a clear 400;
    an input longer than the context is a 400;
  - a bert file with a wrongly shaped tensor is refused with a message naming the tensor.
The GGUF reader/writer helpers come from the shared tools folder next to OSR_TESTDATA.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np

TESTDATA = os.environ.get("OSR_TESTDATA", "")
BINARY = os.environ.get("OSR_BINARY", "")
VOCAB = os.path.join(TESTDATA, "ggml-vocab-bert-bge.gguf")
TOOLS = os.path.join(TESTDATA, "..", "tools")

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL: " + what, flush=True)
    return cond


def skip(why):
    print("skipping: " + why)
    sys.exit(0)


if not BINARY or not os.access(BINARY, os.X_OK):
    sys.exit("OSR_BINARY must name the built osaurus")
if not os.path.isfile(VOCAB):
    skip("no ggml-vocab-bert-bge.gguf in OSR_TESTDATA")
if not os.path.isfile(os.path.join(TOOLS, "make_synth_gguf.py")):
    skip("the shared tools folder (make_synth_gguf.py) is not next to OSR_TESTDATA")
sys.path.insert(0, TOOLS)
import make_synth_gguf as msg  # noqa: E402

E, N_HEAD, N_LAYER, N_FF, N_CTX = 64, 4, 2, 128, 64
ALIGN = 32


# ---- writing a model ------------------------------------------------------------------------

def make_weights(arch, seed):
    """Returns an ordered list of (name, float64 array in numpy row-major [rows, cols])."""
    rng = np.random.default_rng(seed)
    n_vocab = len(msg.GGUFReader(VOCAB).kv["tokenizer.ggml.tokens"][1])
    t = []

    def mat(name, rows, cols, std):
        t.append((name, rng.standard_normal((rows, cols)) * std))

    def vec(name, n, mean, std):
        t.append((name, mean + rng.standard_normal(n) * std))

    mat("token_embd.weight", n_vocab, E, 0.5)
    mat("token_types.weight", 2, E, 0.5)
    if arch == "bert":
        mat("position_embd.weight", N_CTX, E, 0.5)
    vec("token_embd_norm.weight", E, 1.0, 0.1)
    vec("token_embd_norm.bias", E, 0.0, 0.1)
    for il in range(N_LAYER):
        p = "blk.%d." % il
        if arch == "bert":
            for w in ("attn_q", "attn_k", "attn_v"):
                mat(p + w + ".weight", E, E, 0.25)
                vec(p + w + ".bias", E, 0.0, 0.1)
        else:
            mat(p + "attn_qkv.weight", 3 * E, E, 0.25)
        mat(p + "attn_output.weight", E, E, 0.15)
        if arch == "bert":
            vec(p + "attn_output.bias", E, 0.0, 0.1)
        vec(p + "attn_output_norm.weight", E, 1.0, 0.1)
        vec(p + "attn_output_norm.bias", E, 0.0, 0.1)
        mat(p + "ffn_up.weight", N_FF, E, 0.15)
        if arch == "bert":
            vec(p + "ffn_up.bias", N_FF, 0.0, 0.1)
        else:
            mat(p + "ffn_gate.weight", N_FF, E, 0.15)
        mat(p + "ffn_down.weight", E, N_FF, 0.1)
        if arch == "bert":
            vec(p + "ffn_down.bias", E, 0.0, 0.1)
        vec(p + "layer_output_norm.weight", E, 1.0, 0.1)
        vec(p + "layer_output_norm.bias", E, 0.0, 0.1)
    return t


def dequant_q8_0(raw):
    """Q8_0 blocks (an F16 scale, then 32 int8 values) back to float64."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 34)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float64)
    return (blocks[:, 2:].copy().view(np.int8).astype(np.float64) * scale).ravel()


def write_gguf(path, name, arch, weights, wtype, pooling, bad_tensor=None):
    """Writes the model; 2-D tensors as wtype ('f32', 'f16' or 'q8_0'), 1-D as F32.  Returns
    the weights as the file holds them (rounded where stored as F16 / Q8_0), in float64."""
    vocab = msg.GGUFReader(VOCAB)
    kv = msg.KVWriter()
    kv.add("general.architecture", msg.T_STRING, arch)
    kv.add("general.name", msg.T_STRING, name)
    kv.add("general.alignment", msg.T_UINT32, ALIGN)
    kv.add(arch + ".context_length", msg.T_UINT32, N_CTX)
    kv.add(arch + ".embedding_length", msg.T_UINT32, E)
    kv.add(arch + ".block_count", msg.T_UINT32, N_LAYER)
    kv.add(arch + ".feed_forward_length", msg.T_UINT32, N_FF)
    kv.add(arch + ".attention.head_count", msg.T_UINT32, N_HEAD)
    kv.add(arch + ".attention.layer_norm_epsilon", msg.T_FLOAT32, 1e-12)
    kv.add(arch + ".attention.causal", msg.T_BOOL, False)
    kv.add(arch + ".pooling_type", msg.T_UINT32, pooling)
    if arch == "nomic-bert":
        kv.add(arch + ".rope.freq_base", msg.T_FLOAT32, 1000.0)
    for key, (vtype, value, etype) in vocab.kv.items():
        if key.startswith("tokenizer."):
            kv.add(key, vtype, value, etype)
    infos, blobs, stored, offset = [], [], [], 0
    for name, a in weights:
        dims = list(reversed(a.shape))  # ggml order: dims[0] = columns
        if name == bad_tensor:
            dims[0] += 1  # a wrong shape: the data is sized to match, the loader must refuse
            a = np.concatenate([a, np.zeros(a.shape[:-1] + (1,))], axis=-1)
        if a.ndim == 2 and wtype == "q8_0":
            raw = msg.quant_q8_0(np, a.astype(np.float32).ravel())
            stored.append((name, dequant_q8_0(raw).reshape(a.shape)))
            tid = msg.GGML_Q8_0
        else:
            data = a.astype(np.float16 if a.ndim == 2 and wtype == "f16" else np.float32)
            tid = msg.GGML_F16 if data.dtype == np.float16 else msg.GGML_F32
            stored.append((name, data.astype(np.float64)))
            raw = data.tobytes()
        nb = name.encode()
        infos.append(struct.pack("<Q", len(nb)) + nb + struct.pack("<I", len(dims)) +
                     struct.pack("<%dQ" % len(dims), *dims) + struct.pack("<IQ", tid, offset))
        blobs.append(raw + b"\0" * ((-len(raw)) % ALIGN))
        offset += len(blobs[-1])
    head = msg.GGUF_MAGIC + struct.pack("<IQQ", 3, len(weights), len(kv.items))
    head += kv.bytes() + b"".join(infos)
    head += b"\0" * ((-len(head)) % ALIGN)
    with open(path, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)
    return dict(stored)


# ---- the float64 reference ------------------------------------------------------------------

def layernorm(x, w, b, eps=1e-12):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def rope_neox(x, base):
    """x: [n, heads, hd]; rotates pairs (i, i + hd/2) by pos * base^(-2i/hd)."""
    n, _, hd = x.shape
    half = hd // 2
    inv = base ** (-np.arange(half) * 2.0 / hd)
    ang = np.arange(n)[:, None] * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def reference(arch, w, ids, pooling):
    n = len(ids)
    hd = E // N_HEAD
    x = w["token_embd.weight"][ids] + w["token_types.weight"][0]
    if arch == "bert":
        x = x + w["position_embd.weight"][:n]
    x = layernorm(x, w["token_embd_norm.weight"], w["token_embd_norm.bias"])
    for il in range(N_LAYER):
        p = "blk.%d." % il
        if arch == "bert":
            q = x @ w[p + "attn_q.weight"].T + w[p + "attn_q.bias"]
            k = x @ w[p + "attn_k.weight"].T + w[p + "attn_k.bias"]
            v = x @ w[p + "attn_v.weight"].T + w[p + "attn_v.bias"]
        else:
            qkv = x @ w[p + "attn_qkv.weight"].T
            q, k, v = qkv[:, :E], qkv[:, E:2 * E], qkv[:, 2 * E:]
        q, k, v = (t.reshape(n, N_HEAD, hd) for t in (q, k, v))
        if arch == "nomic-bert":
            q, k = rope_neox(q, 1000.0), rope_neox(k, 1000.0)
        s = np.einsum("ihd,jhd->hij", q, k) / np.sqrt(hd)
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        s /= s.sum(axis=-1, keepdims=True)
        att = np.einsum("hij,jhd->ihd", s, v).reshape(n, E)
        o = att @ w[p + "attn_output.weight"].T
        if arch == "bert":
            o = o + w[p + "attn_output.bias"]
        x = layernorm(x + o, w[p + "attn_output_norm.weight"], w[p + "attn_output_norm.bias"])
        up = x @ w[p + "ffn_up.weight"].T
        if arch == "bert":
            h = gelu_tanh(up + w[p + "ffn_up.bias"])
        else:
            g = x @ w[p + "ffn_gate.weight"].T
            h = g / (1.0 + np.exp(-g)) * up
        d = h @ w[p + "ffn_down.weight"].T
        if arch == "bert":
            d = d + w[p + "ffn_down.bias"]
        x = layernorm(x + d, w[p + "layer_output_norm.weight"], w[p + "layer_output_norm.bias"])
    pooled = x[0] if pooling == 2 else x.mean(axis=0)
    return pooled / np.linalg.norm(pooled)


# ---- talking to osaurus -----------------------------------------------------------------------

def tokenize(model, text):
    r = subprocess.run([BINARY, "tokenize", "--model", model, "--add-special"], input=text.encode(),
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("tokenize failed: " + r.stderr.decode(errors="replace"))
    return [int(t) for t in r.stdout.split()]


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def cosine(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


INPUTS = ["hello world", "The quick brown fox jumps over the lazy dog.",
          "Embeddings: encoder-only BERT models, WordPiece tokens [and] punctuation!", "a"]


def main():
    home = tempfile.mkdtemp(prefix="osr-bert-")
    serve = None
    try:
        models = os.path.join(home, "models")
        os.makedirs(models)
        specs = [  # file stem, arch, weight type, pooling, min cosine
            ("synth-bert-f32", "bert", "f32", 1, 0.9999),
            ("synth-bert-f16", "bert", "f16", 2, 0.999),
            ("synth-bert-q8_0", "bert", "q8_0", 1, 0.999),
            ("synth-nomic-f32", "nomic-bert", "f32", 1, 0.9999),
        ]
        stored = {}
        for stem, arch, wt, pooling, _ in specs:
            weights = make_weights(arch, seed=len(stem) * 7 + pooling)
            stored[stem] = write_gguf(os.path.join(models, stem + ".gguf"), stem, arch, weights, wt,
                                      pooling)
        bad_dir = os.path.join(home, "bad")
        os.makedirs(bad_dir)
        bad = os.path.join(bad_dir, "bad-bert.gguf")
        write_gguf(bad, "bad-bert", "bert", make_weights("bert", 5), "f32", 1,
                   bad_tensor="blk.1.ffn_up.weight")

        # The tokenizer wraps inputs in [CLS] ... [SEP].
        ids = {t: tokenize(os.path.join(models, "synth-bert-f32.gguf"), t) for t in INPUTS}
        toks = msg.GGUFReader(VOCAB).kv["tokenizer.ggml.tokens"][1]
        for t, v in ids.items():
            check(len(v) >= 3 and toks[v[0]] == "[CLS]" and toks[v[-1]] == "[SEP]",
                  "%r tokenizes as %r: not [CLS] ... [SEP]" % (t, v))
        check(len({len(v) for v in ids.values()}) == len(INPUTS),
              "the inputs should have different token counts")

        # A malformed model is refused, naming the tensor.
        r = subprocess.run([BINARY, "bench", "--model", bad, "-p", "4", "-n", "1"],
                           capture_output=True, timeout=60)
        err = (r.stdout + r.stderr).decode(errors="replace")
        check(r.returncode != 0 and "blk.1.ffn_up.weight" in err,
              "a wrongly shaped tensor must be refused by name, got: " + err[-300:])

        env = dict(os.environ, HOME=home, OSU_PORT="")
        out_path = os.path.join(home, "serve.out")
        with open(out_path, "wb") as out, open(os.path.join(home, "serve.err"), "wb") as err_f:
            serve = subprocess.Popen([BINARY, "serve", "--port", "0", "--home", home,
                                      "--log-level", "warn"], stdout=out, stderr=err_f, env=env)
        url = None
        for _ in range(300):
            with open(out_path) as f:
                for line in f:
                    if line.startswith("listening on "):
                        url = line.split()[2]
            if url or serve.poll() is not None:
                break
            time.sleep(0.1)
        if not url:
            with open(os.path.join(home, "serve.err")) as f:
                sys.exit("osaurus serve did not start: " + f.read()[-2000:])

        listed = [m["id"] for m in get(url + "/v1/models")["data"]]
        for stem, arch, wt, pooling, min_cos in specs:
            mid = next((m for m in listed if m == stem), None)
            if not check(mid is not None, "model %s not listed in %r" % (stem, listed)):
                continue
            status, body = post(url + "/v1/embeddings", {"model": mid, "input": INPUTS})
            if not check(status == 200, "%s: /v1/embeddings answered %d %r" % (mid, status, body)):
                continue
            data = sorted(body["data"], key=lambda d: d["index"])
            check(len(data) == len(INPUTS), "%s: %d vectors for %d inputs" % (mid, len(data),
                                                                              len(INPUTS)))
            for text, d in zip(INPUTS, data):
                want = reference(arch, stored[stem], ids[text], pooling)
                got = np.asarray(d["embedding"], dtype=np.float64)
                check(got.shape == (E,), "%s: dimension %r" % (mid, got.shape))
                c = cosine(got, want)
                print("%s %-3d tokens: 1 - cosine = %.2e (need < %.0e)" %
                      (mid, len(ids[text]), 1 - c, 1 - min_cos))
                check(c > min_cos, "%s %r: cosine %.7f <= %g" % (mid, text, c, min_cos))
                check(abs(np.linalg.norm(got) - 1.0) < 1e-4, "%s: not unit length" % mid)
            want_tokens = sum(len(v) for v in ids.values())
            check(body.get("usage", {}).get("prompt_tokens") == want_tokens,
                  "%s: usage %r, want %d prompt tokens" % (mid, body.get("usage"), want_tokens))

            # Ollama's /api/embed gives the same vectors.
            status, ob = post(url + "/api/embed", {"model": mid, "input": INPUTS[:2]})
            if check(status == 200, "%s: /api/embed answered %d %r" % (mid, status, ob)):
                for i in range(2):
                    c = cosine(ob["embeddings"][i], data[i]["embedding"])
                    check(c > 0.999999, "%s: /api/embed differs from /v1/embeddings (%g)" %
                          (mid, c))

            # An input longer than the position table is refused, not truncated.
            status, lb = post(url + "/v1/embeddings", {"model": mid, "input": "word " * N_CTX})
            check(status == 400 and "embeds at most" in json.dumps(lb),
                  "%s: an overlong input answered %d %r" % (mid, status, lb))

            # Capabilities and a refused chat.
            status, show = post(url + "/api/show", {"model": mid})
            check(status == 200 and show.get("capabilities") == ["embedding"],
                  "%s: /api/show capabilities %r" % (mid, show.get("capabilities")))
            status, cb = post(url + "/v1/chat/completions",
                              {"model": mid, "messages": [{"role": "user", "content": "hi"}]})
            text = json.dumps(cb)
            check(status == 400 and "embedding model" in text,
                  "%s: chat answered %d %s" % (mid, status, text[:300]))
    finally:
        if serve is not None:
            serve.terminate()
            try:
                serve.wait(timeout=20)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
        shutil.rmtree(home, ignore_errors=True)
    if failures:
        sys.exit("%d check(s) failed" % failures)
    print("bert_embed: all checks passed")


main()
