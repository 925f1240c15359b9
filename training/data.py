"""Training data for the recognizer: weighted, curriculum-scheduled mixing of line sources, generated on the fly.

Sources (names used in configs):
- ``synth_ink`` / ``synth_font``: ledger field lines from the synthesizer (training writers only);
- ``vnondb``: real VNOnDB lines of training writers, re-rendered with a fresh style every time;
- ``cinnamon``: real Cinnamon training scans with light scan augmentation;
- ``synth_print``: printed register lines with text drawn at random (:mod:`data.print_lines`);
- ``manifest:PATH``: any line manifest (e.g. corrections from Label Studio), lightly augmented.

Everything is driven by one ``numpy`` generator whose state goes into checkpoints, so a resumed run draws
the same lines it would have drawn.
"""
from __future__ import annotations

from dataclasses import dataclass

import albumentations as A
import numpy as np
from PIL import Image

from data.degrade import ScanNoise, SlantRotate, fit_height, reseed
from data.manifest import LineRecord, read_manifest


def scan_augmentation() -> A.Compose:
    """Light augmentation for real scans: the geometry and optics of another scanner, not another hand."""
    return A.Compose([
        SlantRotate(rotate=1.0, shear=6.0, p=0.5),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 3), sigma_limit=(0.3, 1.0)), A.MotionBlur(blur_limit=(3, 5))], p=0.3),
        A.RandomBrightnessContrast(brightness_limit=0.15, contrast_limit=0.25, p=0.5),
        A.HueSaturationValue(hue_shift_limit=15, sat_shift_limit=20, val_shift_limit=10, p=0.3),
        ScanNoise(std_range=(2.0, 8.0), p=0.2),
        A.ImageCompression(quality_range=(40, 95), p=0.4),
    ])


class RecordSource:
    """Real line images (manifest records), resized once to ``height`` and kept in memory."""

    def __init__(self, records: list[LineRecord], height: int, name: str):
        if not records:
            raise ValueError(f"source {name!r} has no lines")
        self.name = name
        self.height = height
        self.images = [fit_height(np.asarray(Image.open(r.image).convert("RGB")), height) for r in records]
        self.texts = [r.text for r in records]
        self.augment = scan_augmentation()

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        i = int(rng.integers(len(self.images)))
        reseed(self.augment, int(rng.integers(2**62)))
        return fit_height(self.augment(image=self.images[i])["image"], self.height), self.texts[i]


class SynthSource:
    def __init__(self, synth, kind: str):
        self.synth, self.kind, self.name = synth, kind, f"synth_{kind}"

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        line = self.synth.sample(int(rng.integers(2**40)), source=self.kind)
        return line.image, line.text


class PrintSource:
    name = "synth_print"

    def __init__(self, height: int):
        from data.print_lines import PrintLineSynthesizer

        self.synth = PrintLineSynthesizer(height)

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        line = self.synth.sample(int(rng.integers(2**40)))
        return line.image, line.text


class VnondbSource:
    """Real VNOnDB lines of the given writers, each drawing re-rendered with a new style."""

    name = "vnondb"

    def __init__(self, synth, corpus, writers: list[str], max_chars: int = 120):
        self.synth = synth
        self.lines = [line for line in corpus.lines(writers=writers) if 0 < len(line.text) <= max_chars]

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        line = self.lines[int(rng.integers(len(self.lines)))]
        rendered = self.synth.render_real(line, int(rng.integers(2**40)))
        return rendered.image, rendered.text


@dataclass
class Phase:
    """One curriculum phase: from ``start_step`` on, sources are drawn with these weights."""

    start_step: int
    weights: dict[str, float]


class MixedLineStream:
    """Draws training lines from weighted sources following a curriculum of phases.

    Args:
        phases: list of ``{"start_step": int, "weights": {source: weight}}``, sorted by start.
        height: synthesized line height (the processor resizes to the model's height afterwards).
        seed: seed of the stream's generator.
    """

    #: The sources known by name; any line manifest is a source too, as ``manifest:PATH``.
    NAMED_SOURCES = ("synth_font", "synth_ink", "synth_print", "vnondb", "cinnamon")

    def __init__(self, phases: list[dict], height: int = 64, seed: int = 0):
        self.phases = sorted((Phase(p["start_step"], dict(p["weights"])) for p in phases), key=lambda p: p.start_step)
        if not self.phases or self.phases[0].start_step != 0:
            raise ValueError("the curriculum needs a phase starting at step 0")
        self.height = height
        self.rng = np.random.default_rng(seed)
        names = {name for phase in self.phases for name, w in phase.weights.items() if w > 0}
        self.sources = self._build_sources(names)

    def _build_sources(self, names: set[str]) -> dict:
        from data.synth import LineSynthesizer

        sources: dict = {}
        synth = corpus = writers = None
        if names & {"synth_ink", "vnondb"}:
            from data.ink import load_corpus, load_writer_split

            corpus = load_corpus(progress=True)
            writers = load_writer_split()["train"]
        synth = LineSynthesizer(height=self.height, writers=writers, ink_corpus=corpus)
        for name in sorted(names):
            if name == "synth_print":
                sources[name] = PrintSource(self.height)
            elif name in ("synth_ink", "synth_font"):
                sources[name] = SynthSource(synth, name.split("_", 1)[1])
            elif name == "vnondb":
                sources[name] = VnondbSource(synth, corpus, writers)
            elif name == "cinnamon":
                from data.datasets import cinnamon_records

                sources[name] = RecordSource(cinnamon_records("train"), self.height, name)
            elif name.startswith("manifest:"):
                sources[name] = RecordSource(read_manifest(name.split(":", 1)[1], check_images=True), self.height, name)
            else:
                raise ValueError(f"unknown data source {name!r}")
        return sources

    def phase(self, step: int) -> Phase:
        return [p for p in self.phases if p.start_step <= step][-1]

    def draw(self, step: int) -> tuple[np.ndarray, str, str]:
        weights = self.phase(step).weights
        names = [n for n, w in weights.items() if w > 0]
        p = np.array([weights[n] for n in names], dtype=np.float64)
        name = names[int(self.rng.choice(len(names), p=p / p.sum()))]
        image, text = self.sources[name].draw(self.rng)
        return image, text, name

    def batches(self, step: int, batch_size: int, pool: int = 4) -> list[list[tuple[np.ndarray, str, str]]]:
        """``pool`` batches at once, grouped by image width so that padding wastes little compute."""
        lines = [self.draw(step) for _ in range(batch_size * pool)]
        lines.sort(key=lambda item: item[0].shape[1])
        groups = [lines[i:i + batch_size] for i in range(0, len(lines), batch_size)]
        order = self.rng.permutation(len(groups))
        return [groups[i] for i in order]

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state
