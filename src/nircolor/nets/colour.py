"""A net's output in sRGB, in torch and differentiable (for losses that look at colour).

The same conversion as :func:`nircolor.colorspace.to_srgb` (CIELAB D65/2° to sRGB, as
:func:`skimage.color.lab2rgb`), written with torch operations so that gradients flow from an
sRGB image back to a net that predicts ``lab`` or ``lab_ab``. Out-of-gamut values are clipped
as there (their gradient is then zero).
"""

from __future__ import annotations

import torch

from ..colorspace import LAB_SCALE, check_space

D65_WHITE = (0.95047, 1.0, 1.08883)  # XYZ of the D65 2° white, as skimage
RGB_FROM_XYZ = (  # linear sRGB from XYZ, skimage.color.colorconv.rgb_from_xyz
    (3.24048134, -1.53715152, -0.49853633),
    (-0.96925495, 1.87599, 0.04155593),
    (0.05564664, -0.20404134, 1.05731107),
)
XYZ_FROM_RGB = (  # XYZ from linear sRGB, skimage.color.colorconv.xyz_from_rgb
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
LINEAR_LIMIT = 0.0031308  # the sRGB curve is linear below this
ENCODED_LIMIT = 0.04045  # the same limit on the encoded sRGB values
CUBE_LIMIT = 0.2068966  # 6 / 29: the CIELAB f⁻¹ is a cube above this
ROOT_LIMIT = 0.008856  # (6 / 29)³: the CIELAB f is a cube root above this


def lab_to_srgb(lab: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` CIELAB ``(L, a, b)`` (unscaled: L in [0, 100]) to sRGB in [0, 1]."""
    lightness, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    fy = (lightness + 16.0) / 116.0
    f = torch.stack([a / 500.0 + fy, fy, (fy - b / 200.0).clamp(min=0.0)], dim=1)
    linear_f = (f - 16.0 / 116.0) / 7.787
    xyz = torch.where(f > CUBE_LIMIT, f**3, linear_f)
    xyz = xyz * torch.tensor(D65_WHITE, dtype=lab.dtype, device=lab.device).view(1, 3, 1, 1)
    matrix = torch.tensor(RGB_FROM_XYZ, dtype=lab.dtype, device=lab.device)
    linear = torch.einsum("ij,njhw->nihw", matrix, xyz)
    # The power's base is kept positive in both branches: torch.where passes the gradient of
    # the branch not taken as zero times its value, NaN for a negative base.
    curve = 1.055 * linear.clamp(min=LINEAR_LIMIT) ** (1 / 2.4) - 0.055
    srgb = torch.where(linear > LINEAR_LIMIT, curve, 12.92 * linear)
    return srgb.clamp(0.0, 1.0)


def srgb_to_lab(srgb: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` sRGB in [0, 1] to CIELAB D65/2° (L in [0, 100]), as
    :func:`skimage.color.rgb2lab`; the inverse of :func:`lab_to_srgb`."""
    # The bases of both powers are kept inside their branch's domain, as in lab_to_srgb.
    curve = ((srgb.clamp(min=ENCODED_LIMIT) + 0.055) / 1.055) ** 2.4
    linear = torch.where(srgb > ENCODED_LIMIT, curve, srgb / 12.92)
    matrix = torch.tensor(XYZ_FROM_RGB, dtype=srgb.dtype, device=srgb.device)
    xyz = torch.einsum("ij,njhw->nihw", matrix, linear)
    xyz = xyz / torch.tensor(D65_WHITE, dtype=srgb.dtype, device=srgb.device).view(1, 3, 1, 1)
    root = xyz.clamp(min=ROOT_LIMIT) ** (1 / 3)
    f = torch.where(xyz > ROOT_LIMIT, root, 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f.unbind(dim=1)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def output_to_srgb(output: torch.Tensor, nir: torch.Tensor, space: str) -> torch.Tensor:
    """A net's ``(N, C, H, W)`` output as ``(N, 3, H, W)`` sRGB, as colorspace.to_srgb.

    ``rgb`` is returned as it is (the residual head may leave [0, 1]: a discriminator sees
    that); ``lab`` and ``lab_ab`` are converted (``lab_ab`` takes ``L = 100 · nir``, ``nir``
    of shape ``(N, 1, H, W)``).
    """
    check_space(space)
    if space == "rgb":
        return output
    if space == "lab_ab":
        output = torch.cat([nir, output], dim=1)
    scale = torch.as_tensor(LAB_SCALE, dtype=output.dtype, device=output.device)
    lab = output * scale.view(1, 3, 1, 1)
    lab = torch.cat([lab[:, :1].clamp(0.0, 100.0), lab[:, 1:]], dim=1)
    return lab_to_srgb(lab)
