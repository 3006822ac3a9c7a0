"""L3 — Local, Linear, Learned colorization of a monochrome NIR image.

After Jiang, Tian, Farrell and Wandell, "Learning the image processing pipeline", IEEE TIP
26(10), 2017, and the isetL3 toolbox, specialised to a single-channel NIR sensor:

* every pixel is described by the ``P × P`` patch around it (reflect padding, so the output
  has the size of the input);
* the patch falls into a *class* given by its mean level and its contrast (population
  standard deviation), each cut into bins (``n_levels × n_contrasts`` classes);
* every class has its own affine map ``[1, patch pixels] → RGB`` of the centre pixel, learned
  by ridge regression with the ridge strength chosen per class and per colour channel by
  generalised cross-validation (GCV), from the accumulated normal equations only. The
  features and classes depend on the NIR patch only, so this multi-output fit is exactly
  three independent one-output ridge fits, one per channel, each with its own λ;
  ``shared_lambda=True`` instead ties the channels to one λ per class (the GCV scores of
  R, G and B summed).

Design choices:

* **Cut points.** ``cuts="quantile"`` (default) puts the level cuts at quantiles of the
  training patches' levels and the contrast cuts at quantiles of their contrasts — global
  quantiles by default, or quantiles within every level bin (``contrast_per_level=True``) —
  so that classes hold similar numbers of training patches. ``cuts="log"`` uses fixed
  log-spaced cut points (see :func:`log_cuts`) and needs no statistics pass.
* **Intercept.** Not penalised: the normal equations are centred per class (exactly, in
  float64, from the raw sums), the ridge acts on the patch weights only, and GCV counts the
  intercept as one more degree of freedom. The λ grid is relative to the mean eigenvalue of
  the class's centred ``XᵀX``, so it does not depend on the amount of data.
* **Streaming.** Training keeps, per class, the sums of ``z zᵀ`` for
  ``z = [1, features, r, g, b]`` (float64) however much data it sees. Quantile cut points
  need a first pass that keeps a bounded (weighted bottom-k) sample of (level, contrast)
  values; pixels are subsampled per image with a seeded generator.
* **Sparse classes** (fewer than ``min_class_samples`` training patches) take the weights of
  the nearest level bin with enough samples in the same contrast bin, else of the nearest
  class overall. When no class at all has enough (tiny training sets), the contrast bins of
  each level are pooled, and failing that all the data make one fit.
* **Symmetric kernels** (``symmetric=True``): the weights of patch positions related by
  horizontal and vertical flips are tied (features are sums over the flip orbits); the saved
  kernels are expanded back to the full ``P × P`` layout.

Defaults (5×5 patches, 16 level × 16 contrast bins, global contrast quantiles, 25 % of the
pixels of every image, plain least-squares weighting) were chosen by 4-fold cross-validation
over scene-disjoint folds of the ``split == train`` rows of the project data (mean per-image
PSNR per collection): more contrast bins helped most (5 → 8 → 16 bins: +0.09, +0.05 dB),
the number of level bins (12–48), 3×3 vs 5×5 patches and symmetric kernels mattered little
(±0.015 dB), per-level contrast quantiles were no better than global ones (−0.05 dB with 5
bins, equal with 16), 7×7 / 9×9 patches were worse, sampling 10 % or 100 % of the pixels
instead of 25 % changed nothing, and ``weighting="images"`` / ``"psnr"`` trade one
collection against the other.

Rendering classifies every pixel, then, in blocks of rows, sorts the block's pixels by class,
gathers their patches (``cv2.merge`` of the shifted views), applies one small GEMM per class
and scatters the results back; blocks run on a few threads.
"""

from .cfa import CFA_KIND, L3CFAModel, fit_l3_cfa
from .config import L3Config
from .fit import (
    BottomK,
    Pair,
    PairSource,
    Progress,
    fill_sparse,
    fit_l3,
    gcv_solve,
    quantile_cut_points,
    sample_pixels,
)
from .model import FORMAT_VERSION, KIND, WEIGHTS_NAME, L3Model, load
from .patches import classify, log_cuts, patch_stats
from .reverse import ReverseL3, fit_reverse_l3, luma, pseudo_nir

__all__ = [
    "CFA_KIND",
    "L3CFAModel",
    "fit_l3_cfa",
    "FORMAT_VERSION",
    "KIND",
    "WEIGHTS_NAME",
    "BottomK",
    "L3Config",
    "L3Model",
    "Pair",
    "PairSource",
    "Progress",
    "ReverseL3",
    "classify",
    "fill_sparse",
    "fit_l3",
    "fit_reverse_l3",
    "gcv_solve",
    "load",
    "log_cuts",
    "luma",
    "patch_stats",
    "pseudo_nir",
    "quantile_cut_points",
    "sample_pixels",
]
