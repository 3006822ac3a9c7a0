"""The int8 net against its float graph: quality on val, and ms per image under every
ONNX Runtime setting worth trying.

Run from the repository root, after ``nircolor quantize`` (needs the train extra's onnx for
the variants)::

    python benchmarks/bench_quantize.py                          # the shipped default
    python benchmarks/bench_quantize.py --model /path/to/int8    # any quantized folder
    python benchmarks/bench_quantize.py --no-variants --no-write # shipped graphs only

``--model`` is a quantized ONNX colorizer folder (or shipped name): its config names the int8
graph (``onnx``) and the float one (``float_onnx``).

**Quality**: every val pair colorized by ``nircolor.colorize`` with the float graph, the int8
graph as it ships, and (unless ``--no-variants``) two variants quantized here from the same
``fit`` calibration images (the ids in the folder's ``quantization`` record): every node
int8 (with the plain extremes as ranges, and with the mean of the per-image extremes as
shipped), and every node but those reading the NIR image. The ship rule (issue 25): val ΔE00
rises by at most 0.1, the detail ratio and the hue accuracy change by at most 0.01.

**Speed**: ms per run of the net alone (median of ``--runs`` runs, then the median over
``--rounds`` rounds; the settings, graphs and sizes alternate within each round so that a
busy machine weighs on all alike) on the two inputs the net sees most: the colour context
copy of a val image resized to 1024×680 (512×340, padded to 512×352) and a 256×256 val
image; then ``nircolor.colorize`` end to end on the 1024×680 image (net, carry-up and the
model's finish).

Writes the sections "Quantized net: int8 against float on val" and "ONNX Runtime settings:
ms per image" of BENCHMARKS.md.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from _common import Run, base_parser, evaluate, fmt, load_split, markdown_table, publish
from nircolor.api import colorize, get_model
from nircolor.io import read_nir
from nircolor.models.onnx import FLOAT_KEY, OnnxColorizer, session_options
from nircolor.models.quantize import calibration_feeds, calibration_pairs, net_inputs

SIZE = (1024, 680)
TOLERANCE = {"de00": 0.1, "detail_ratio": 0.01, "hue_acc": 0.01}
"""The ship rule: how far each val metric may move from the float graph's."""
COLUMNS = ["de00", "detail_ratio", "hue_acc", "colourfulness_ratio", "psnr", "ssim"]
VARIANTS = {
    "int8, every node, ranges from the extremes": (False, 0, False),
    "int8, every node": (False, 0, True),
    "int8, all but the nodes reading the NIR": (True, 0, True),
}
"""Label → (float_input, float_tail, mean_extremes) of the variants quantized here: every
node int8 with the plain extremes over the calibration images as ranges, then with the mean
of the per-image extremes (as shipped), then the NIR's readers kept float too."""

LEVELS = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def setting(level="all", intra=1, inter=1, parallel=False, spinning=False) -> ort.SessionOptions:
    options = session_options(intra, spinning)
    options.graph_optimization_level = LEVELS[level]
    options.inter_op_num_threads = inter
    if parallel:
        options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    return options


SETTINGS = {
    "optimizations disabled, 1 thread": {"level": "disabled"},
    "basic, 1 thread": {"level": "basic"},
    "extended, 1 thread": {"level": "extended"},
    "all, 1 thread (the service's workers on 2 CPUs)": {},
    "all, 2 spinning threads (the default before issue 25)": {"intra": 2, "spinning": True},
    "all, 2 threads that sleep when idle (the default)": {"intra": 2},
    "all, 1 thread, parallel mode, 2 inter-op": {"parallel": True, "inter": 2},
    "all, 2 threads, parallel mode, 2 inter-op": {"intra": 2, "parallel": True, "inter": 2},
}
CHOSEN = (
    "nircolor's sessions (`nircolor.models.onnx.session_options`): every graph optimization "
    "(the int8 graph is no faster than the float one without the extended level, which fuses "
    "its quantize and dequantize nodes into int8 kernels), sequential execution, 1 inter-op "
    "thread, intra-op threads that sleep when idle; 2 intra-op threads for a single image "
    "(the CLI), `cpus // workers` (1 on 2 CPUs) in the service."
)


def quantized_model(name: str) -> OnnxColorizer:
    model = get_model(name)
    if not isinstance(model, OnnxColorizer) or not model.quantized:
        raise SystemExit(
            f"{name} is not a quantized ONNX colorizer: run 'nircolor quantize {name} -o OUT "
            "--data ../shared/data' and give OUT with --model"
        )
    return model


# --------------------------------------------------------------------------- quality


def variant_models(model: OnnxColorizer, data: Path, folder: Path) -> dict[str, OnnxColorizer]:
    """The variants of :data:`VARIANTS`, quantized from the float graph on the calibration
    images of the model's record."""
    from nircolor.models.quantize import quantize_graph

    record = model.config["quantization"]["calibration"]
    pairs = calibration_pairs(data, record["images"], record["seed"])
    if [pair.id for pair in pairs] != record["ids"]:
        raise SystemExit(f"{data}: its fit rows are not those the model was calibrated on")
    net = model.float32()
    feeds = calibration_feeds(net, pairs)
    found = {}
    for index, (label, (float_input, float_tail, mean_extremes)) in enumerate(VARIANTS.items()):
        name = f"variant{index}.onnx"
        quantize_graph(net.path, folder / name, feeds, float_input, float_tail, mean_extremes)
        config = {k: v for k, v in model.config.items() if k != FLOAT_KEY} | {"onnx": name}
        found[label] = OnnxColorizer(folder, config)
    return found


def quality(models: dict[str, OnnxColorizer], data: Path) -> tuple[str, str]:
    val = load_split(data, "val")
    summaries = {}
    for label, model in models.items():
        summaries[label] = evaluate(model, val, f"val: {label}").summary
    base = summaries["float"]
    header = ["graph", "ΔE00", "Δ", "detail ratio", "Δ", "hue acc", "Δ", "colour ratio"]
    header += ["PSNR", "SSIM", "within the ship rule"]
    rows, verdicts = [], {}
    for label, summary in summaries.items():
        change = {name: summary[name] - base[name] for name in TOLERANCE}
        within = all(
            (change[name] if name == "de00" else abs(change[name])) <= limit
            for name, limit in TOLERANCE.items()
        )
        verdicts[label] = within
        rows.append(
            [
                label,
                fmt(summary["de00"], 3),
                fmt(change["de00"], 3, signed=True),
                fmt(summary["detail_ratio"], 3),
                fmt(change["detail_ratio"], 3, signed=True),
                fmt(summary["hue_acc"], 3),
                fmt(change["hue_acc"], 3, signed=True),
                fmt(summary["colourfulness_ratio"], 3),
                fmt(summary["psnr"], 2),
                fmt(summary["ssim"], 4),
                "—" if label == "float" else ("yes" if within else "**no**"),
            ]
        )
    table = markdown_table(header, rows)
    return table, ("yes" if verdicts["int8 as shipped"] else "no")


# --------------------------------------------------------------------------- speed


def time_runs(session: ort.InferenceSession, feed: dict, runs: int) -> float:
    session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def speed(model: OnnxColorizer, data: Path, runs: int, rounds: int) -> tuple[str, str]:
    val = load_split(data, "val")
    large = next(p for p in val if p.collection == "nirscene")
    small = next(p for p in val if p.collection != "nirscene")
    image = cv2.resize(read_nir(large.nir), SIZE, interpolation=cv2.INTER_AREA)
    float_net = model.float32()
    sizes = {
        "512×352": net_inputs(float_net, image)[0],
        "256×256": net_inputs(float_net, read_nir(small.nir))[0],
    }
    graphs = {"float": float_net, "int8": model}
    sessions = {
        (label, graph): ort.InferenceSession(
            str(net.path), setting(**options), providers=["CPUExecutionProvider"]
        )
        for label, options in SETTINGS.items()
        for graph, net in graphs.items()
    }
    times: dict[tuple, list[float]] = {}
    for index in range(rounds):
        for (label, graph), session in sessions.items():
            for size, batch in sizes.items():
                feed = {graphs[graph].input_name: batch} | graphs[graph].extra_feeds()
                times.setdefault((label, graph, size), []).append(time_runs(session, feed, runs))
        print(f"round {index + 1} of {rounds} done", flush=True)
    rows = []
    for label in SETTINGS:
        cells = [label]
        for size in sizes:
            base = statistics.median(times[(label, "float", size)])
            quick = statistics.median(times[(label, "int8", size)])
            cells += [fmt(base, 1), fmt(quick, 1), f"{base / quick:.2f}×"]
        rows.append(cells)
    header = ["setting"]
    for size in sizes:
        header += [f"float ms {size}", f"int8 ms {size}", "float ÷ int8"]
    end_to_end = []
    for threads in (1, 2):
        cells = [f"`nircolor.colorize` 1024×680, {threads} thread(s)"]
        cells += [_colorize_ms(net, image, threads, runs) for net in graphs.values()]
        end_to_end.append(cells)
    extra = markdown_table(
        ["end to end", "float ms", "int8 ms"],
        [[c[0], fmt(c[1], 1), fmt(c[2], 1)] for c in end_to_end],
    )
    note = (
        f"Inputs: the context copy of `{large.id}` (val) resized to 1024×680, and `{small.id}` "
        f"(val); median of {runs} runs per cell and round, median of {rounds} rounds."
    )
    return markdown_table(header, rows), f"{note}\n\n{extra}"


def _colorize_ms(model: OnnxColorizer, image: np.ndarray, threads: int, runs: int) -> float:
    from nircolor.serve.budget import Budgeted

    budgeted = Budgeted(model, threads, float("inf"))
    colorize(image, model=budgeted)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        colorize(image, model=budgeted)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--model", default="default", help="a quantized model (name or folder)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-variants", action="store_true", help="score the shipped graphs only")
    parser.add_argument("--no-speed", action="store_true", help="skip the ORT settings table")
    args = parser.parse_args()
    run = Run()
    model = quantized_model(args.model)
    record = model.config["quantization"]
    sections = {}
    with tempfile.TemporaryDirectory(prefix="bench-quantize-") as temp:
        models = {"float": model.float32(), "int8 as shipped": model}
        if not args.no_variants:
            models |= variant_models(model, args.data, Path(temp))
        table, ships = quality(models, args.data)
    kept = ", ".join(f"`{name}`" for name in record["float_nodes"]) or "none"
    sections["## Quantized net: int8 against float on val"] = (
        f"Model `{args.model}` ({model.arch}, {model.path.name} beside {model.float_path.name}); "
        f"calibrated on {record['calibration']['images']} `fit` images (seed "
        f"{record['calibration']['seed']}), {record['calibration']['method']}; "
        f"{record['format']}. Nodes kept float in the shipped graph: {kept}. Every val pair "
        "through `nircolor.colorize` (the model's context and finish); the net's speed is "
        'in "ONNX Runtime settings".\n\n'
        f"{table}\n\n"
        "Ship rule (issue 25): ΔE00 rises by at most 0.1, the detail ratio and the hue "
        f"accuracy move by at most 0.01. **The int8 graph as shipped is within it: {ships}.**"
    )
    if not args.no_speed:
        table, extra = speed(model, args.data, args.runs, args.rounds)
        sections["## ONNX Runtime settings: ms per image"] = (
            f"ms per run of the net alone (`{args.model}`), float and int8 graphs, under "
            "ONNX Runtime's graph optimization levels, intra-op threads, inter-op threads and "
            f"execution modes; {os.cpu_count()} CPUs, sharing them with whatever else ran (the "
            f"load average above).\n\n{table}\n\n{extra}\n\nChosen: {CHOSEN}"
        )
    publish(run, sections, write=not args.no_write)


if __name__ == "__main__":
    main()
