"""What convert/ leaves in models/: a JSON sidecar per model, and the parity report."""

from __future__ import annotations

from pathlib import Path

from convert.modes import Mode
from convert.parity import RuntimeParity, as_dict
from device.base.files import write_figure, write_json, write_text


def sidecar(
    tflite: Path,
    mode: Mode,
    source: dict,
    tensors: dict,
    converter: dict,
    parity: list[RuntimeParity] | None = None,
    sha256: str = "",
) -> dict:
    """The model's JSON: its contract, quantisation, provenance, the runtimes that load it, its parity."""
    document = {
        "model": tflite.name,
        "mode": mode.value,
        "sha256": sha256,
        "size_bytes": tflite.stat().st_size,
        "input": source["report"]["input"],
        "labels": source["report"]["input"]["labels"],
        "tensors": tensors,
        "source": {
            "keras": source["keras_name"],
            "keras_sha256": source["keras_sha256"],
            "report": source["report_name"],
            "keras_test_accuracy": source["report"]["test_accuracy"],
            "epochs": source["report"]["epochs"],
            "augment": source["report"].get("augment", False),
        },
        "converter": converter,
    }
    if parity is not None:
        document["runtimes"] = {
            p.runtime: {"version": p.version, "loads": p.loads, **({"reason": p.reason} if p.reason else {})}
            for p in parity
        }
        document["parity"] = {p.runtime: as_dict(p) for p in parity if p.loads}
    return document


def write_parity_report(
    rows: list[dict], keras_accuracy: float, keras_name: str, models: Path, name: str = "dmlp"
) -> list[Path]:
    """The parity report of the modes converted from `keras_name`, in `models`: parity.json, .md and .png
    for the deep MLP (the chapter's), <name>_parity.json, .md and .png for any other recipe."""
    stem = "parity" if name == "dmlp" else f"{name}_parity"
    json_path, md_path, png_path = (models / f"{stem}.{suffix}" for suffix in ("json", "md", "png"))
    write_json(json_path, {"keras": keras_name, "keras_test_accuracy": keras_accuracy, "modes": rows})
    write_text(md_path, parity_markdown(rows, keras_accuracy, keras_name))
    _plot(rows, keras_accuracy, keras_name, png_path)
    return [json_path, md_path, png_path]


def parity_markdown(rows: list[dict], keras_accuracy: float, keras_name: str) -> str:
    lines = [
        f"Keras {keras_name}: {keras_accuracy:.2%} on the 10,000 MNIST test images.",
        "",
        "| mode | size | runtime | TFLite accuracy | Δ vs Keras | agreement | max abs Δp | 5-digit invoke |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for runtime, parity in row["runtimes"].items():
            if not parity["loads"]:
                lines.append(
                    f"| {row['mode']} | {row['size_bytes'] / 1e6:.2f} MB | {runtime} {parity['version']} | "
                    f"does not load: {parity.get('reason', '')} | | | | |"
                )
                continue
            lines.append(
                f"| {row['mode']} | {row['size_bytes'] / 1e6:.2f} MB | {runtime} {parity['version']} | "
                f"{parity['accuracy']:.2%} | {parity['delta_pp']:+.2f} pp | {parity['agreement']:.2%} | "
                f"{parity['max_dp']:.2e} | {parity['invoke_5_ms']:.3f} ms |"
            )
    return "\n".join(lines) + "\n"


def _plot(rows: list[dict], keras_accuracy: float, keras_name: str, path: Path) -> None:
    from matplotlib.figure import Figure  # here, not at import: `python -m convert --help` answers without it

    figure = Figure(figsize=(7, 4.5), dpi=100)
    axes = figure.subplots()
    markers = {"ai_edge_litert": "o", "tflite_runtime": "x"}
    for row in rows:
        for runtime, parity in row["runtimes"].items():
            if parity["loads"]:
                axes.scatter(
                    row["size_bytes"] / 1e6,
                    parity["accuracy"] * 100,
                    marker=markers.get(runtime, "s"),
                    s=70,
                    label=f"{row['mode']} ({runtime})",
                )
        axes.annotate(
            row["mode"], (row["size_bytes"] / 1e6, _best(row) * 100), textcoords="offset points", xytext=(6, 6)
        )
    axes.axhline(keras_accuracy * 100, color="grey", linestyle="--", label=f"Keras {keras_accuracy:.2%}")
    axes.set(title=f"{keras_name}: model size vs MNIST test accuracy", xlabel="size (MB)", ylabel="test accuracy (%)")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    write_figure(path, figure)


def _best(row: dict) -> float:
    return max((p["accuracy"] for p in row["runtimes"].values() if p["loads"]), default=0.0)
