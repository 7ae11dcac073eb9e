"""The HRTEM workflow of a sample: lamella, image, phase map and its score, in one call.

:func:`run_hrtem` is what ``interphase-sim simulate hrtem`` and the demo do, as a
library function: it builds the sample's cross-section lamella from its ``[hrtem]``
table (keywords override it), images it, drops the vacuum below the lamella's cut,
looks for the fringes of the sample's crystalline phases (:func:`~interphase_sim.hrtem.
phasemap.phase_map`), compares their depth fractions with the sample's and scores the
map against the simulated structure's truth, from which it also calibrates how the map
mislabels (:func:`~interphase_sim.hrtem.fitting.label_confusion`). It returns an
:class:`HRTEMRun`; writing files is the caller's business.

Fitting a sample to a map: calibrate the confusion on runs of the model at its starting
values (other seeds than the image), then fit with
``Objective(StackPhaseFractions(stack, bin, confusion=...), run.depth_fractions,
loss="gaussian")``; the fractions' errors count grains (``correlation_nm`` = the
largest grain size), not windows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.core.settings import MICROSCOPE_KEYS
from interphase_sim.hrtem._spectra import wavelength_A
from interphase_sim.hrtem.fitting import (
    LabelConfusion,
    PhaseMapScore,
    PhaseMapTruth,
    StackPhaseFractions,
    label_confusion,
    phase_map_depth_fractions,
    phase_map_truth,
    score_phase_map,
)
from interphase_sim.hrtem.model import HRTEMModel, Microscope, microscope_from_settings, resolve_hrtem_settings
from interphase_sim.hrtem.phasemap import PhaseMap, candidate_reflections, phase_map

__all__ = ["HRTEMRun", "run_hrtem", "check_phase_map_window", "largest_grain_nm"]

#: Shortest spacing (Å) a phase map looks for, whatever the aperture passes.
MIN_SPACING_A = 1.2


@dataclass(frozen=True, eq=False)
class HRTEMRun:
    """What :func:`run_hrtem` made.

    Attributes
    ----------
    model : HRTEMModel
        The lamella's model (its atoms, grid and cached exit wave).
    image : Measurement
        The image, rows ``depth`` and columns ``lateral`` (nm), without the vacuum below the cut.
    microscope : Microscope
        The microscope of the image.
    settings : dict
        The run's ``[hrtem]`` settings (defaults < the sample's table < keywords).
    candidates : dict
        ``{phase: {"d_A": [...], "weight": [...]}}``: the crystalline phases' spacings
        the aperture passes, weighted by their electron intensity.
    d_min_A : float
        Shortest spacing searched (Å).
    phase_map : PhaseMap or None
        None when no crystalline phase shows fringes at this resolution.
    depth_fractions : Measurement or None
        Labelled-window fractions per phase along depth, in bins of twice the window,
        errors counting grains (None: nothing labelled).
    stack_fractions : ndarray or None
        The sample's fractions at those depths, for comparison.
    score : PhaseMapScore or None
        The map against the structure's truth.
    build_s, image_s : float
        Wall time of the lamella build and of the image (s).
    truth : PhaseMapTruth or None
        The make-up under every window (None without a map).
    confusion : LabelConfusion or None
        This map's labels against its truth (:func:`~interphase_sim.hrtem.fitting.
        label_confusion`); pool several runs' maps and truths for a calibration.
    """

    model: HRTEMModel
    image: Measurement
    microscope: Microscope
    settings: dict[str, Any]
    candidates: dict[str, Any]
    d_min_A: float
    phase_map: PhaseMap | None
    depth_fractions: Measurement | None
    stack_fractions: Any
    score: PhaseMapScore | None
    build_s: float
    image_s: float
    truth: PhaseMapTruth | None = None
    confusion: LabelConfusion | None = None

    def summary(self) -> dict[str, Any]:
        """What the run did, as plain values (for a settings JSON and the console)."""
        m = self.model
        labels = {} if self.phase_map is None else self.phase_map.counts()
        return {"atoms": len(m.atoms), "grid": list(m.gpts), "slices": m.n_slices,
                "thickness_nm": float(m.thicknesses_nm()[-1]), "defocus_A": self.microscope.defocus_A,
                "aperture_mrad": self.microscope.aperture_mrad,
                "windows": 0 if self.phase_map is None else int(np.asarray(self.phase_map.labels).size),
                "labelled_windows": labels, "candidates_A": self.candidates,
                "phase_map_score": None if self.score is None else vars(self.score),
                "seconds_build": self.build_s, "seconds_image": self.image_s}

    def score_text(self) -> str:
        """The phase-map score in words."""
        return "none made (no crystalline phase to look for)" if self.score is None else self.score.text()


def check_phase_map_window(settings: dict[str, Any], where: str = "hrtem.window_nm") -> None:
    """Refuse a phase-map window wider than the image, before anything is built."""
    if settings.get("window_nm") is not None and settings["window_nm"] > settings["lateral_nm"]:
        raise InterphaseInputError(where, f"window_nm = {settings['window_nm']:g} nm is wider than the image "
                                   f"({settings['lateral_nm']:g} nm): lower window_nm or widen lateral_nm")


def _without_vacuum(model: HRTEMModel, image: Measurement) -> Measurement:
    """The image rows above the lamella's cut (the vacuum below it dropped)."""
    depth_nm = model.atoms.cell[1, 1] / 10.0 - float(model.atoms.info.get("vacuum_nm", 0.0))
    keep = image.axis("depth") < model.depth_offset_nm + depth_nm
    return Measurement(values=np.asarray(image.values)[keep],
                       axes=[Axis("depth", "nm", image.axis("depth")[keep]), image.axes[1]],
                       metadata=image.metadata, quantity=image.quantity)


def largest_grain_nm(stack: Any) -> float | None:
    """The largest grain size of the stack's layers (nm), None without grains."""
    sizes = [float(lay.grain_size_nm.value) for lay in stack.layers if lay.grain_size_nm is not None]
    return max(sizes) if sizes else None


def _map_phases(stack: Any, model: HRTEMModel, image: Measurement, s: dict[str, Any], candidates: dict):
    """(phase map, depth fractions, the stack's fractions, score, truth, confusion) of an image."""
    pm = phase_map(image, candidates=candidates, window_nm=s["window_nm"], step_nm=s["step_nm"],
                   tolerance=s["tolerance"], min_peaks=int(s["min_peaks"]), min_probability=s["min_probability"])
    labelled = bool(pm.counts())
    bin_nm = 2.0 * float(s["window_nm"])
    fractions = phase_map_depth_fractions(pm, sorted(candidates), bin_nm=bin_nm,
                                          correlation_nm=largest_grain_nm(stack)) if labelled else None
    stack_fr = StackPhaseFractions(stack, window_nm=bin_nm).expected(fractions) if labelled else None
    # the image is simulated, so the truth under every window is known: score the map
    truth = phase_map_truth(pm, model.atoms, s["window_nm"], model.depth_offset_nm)
    score = score_phase_map(pm, truth, amorphous=[n for n, ph in stack.phases.items() if ph.amorphous])
    confusion = label_confusion(pm, truth, sorted(candidates)) if labelled else None
    return pm, fractions, stack_fr, score, truth, confusion


def run_hrtem(stack: Any, settings: dict[str, Any] | None = None, *, noise: bool = False,
              noise_seed: Any = None, device: str = "cpu", progress: bool = False,
              build_options: dict | None = None) -> HRTEMRun:
    """Image a sample's cross-section and map its phases.

    Parameters
    ----------
    stack : Stack
        The sample; its ``[hrtem]`` table gives the settings.
    settings : dict, optional
        ``[hrtem]`` keys overriding the table (``None`` values leave the table's).
    noise : bool
        Shot noise at ``dose_e_per_A2``.
    noise_seed : int or numpy Generator, optional
        Seed of the noise; default the lamella's ``seed``.
    device : {"cpu", "gpu", "auto"}
        Where abTEM computes.
    progress : bool
        A bar over the stages (lamella, multislice, phase map) on stderr (see
        :func:`interphase_sim.core.progress.shown`).
    build_options : dict, optional
        Further keywords of :func:`interphase_sim.build.atoms_from_stack`.
    """
    from interphase_sim.core.progress import Stages

    s = resolve_hrtem_settings(stack, settings)
    check_phase_map_window(s)
    mic = microscope_from_settings(s)  # microscope fields fail here, before anything is built
    with Stages(["lamella", "multislice", "phase map"], "hrtem", progress) as stages:
        stages.next("building the lamella")
        t0 = time.perf_counter()
        model = HRTEMModel.from_stack(stack, mic, device=device, build_options=build_options,
                                      **{k: v for k, v in s.items() if k not in MICROSCOPE_KEYS})
        build_s = time.perf_counter() - t0
        stages.next(f"multislice, {model.gpts[0]} x {model.gpts[1]} x {model.n_slices} slices")
        t0 = time.perf_counter()
        image = model.image(noise=noise, seed=int(s["seed"]) if noise_seed is None else noise_seed)
        image_s = time.perf_counter() - t0
        image = _without_vacuum(model, image)
        stages.next("phase map")
        crystals = [n for n, ph in stack.phases.items() if not ph.amorphous]
        d_min = max(MIN_SPACING_A, 1.05 * wavelength_A(mic.energy_eV) / (mic.aperture_mrad * 1e-3))
        candidates = candidate_reflections(crystals, d_min_A=d_min, min_intensity=s["min_intensity"])
        pm = fractions = stack_fr = score = truth = confusion = None
        if candidates:  # nothing crystalline shows fringes at this resolution (e.g. LiPON alone)
            pm, fractions, stack_fr, score, truth, confusion = _map_phases(stack, model, image, s, candidates)
    return HRTEMRun(model=model, image=image, microscope=mic, settings=s, candidates=candidates, d_min_A=d_min,
                    phase_map=pm, depth_fractions=fractions, stack_fractions=stack_fr, score=score,
                    build_s=build_s, image_s=image_s, truth=truth, confusion=confusion)
