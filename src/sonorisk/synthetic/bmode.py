"""The scanner: echogenicity map -> 8-bit B-mode image.

An echogenicity map holds the mean backscattered intensity of the tissue at each pixel (the
fibroglandular parenchyma is 1). Turning it into a B-mode image follows the physics of a linear
array, in complex baseband (IQ):

1. **Scatterers.** Each pixel holds a circular complex Gaussian amplitude whose variance is the
   echogenicity: the limit of many random scatterers per resolution cell, i.e. *fully developed
   speckle* with a Rayleigh-distributed envelope.
2. **Point-spread function.** The amplitudes are convolved with a separable Gaussian PSF whose
   axial width follows the pulse length (wavelength / fractional bandwidth) and whose lateral width
   follows the beam width (wavelengths x F-number). Higher probe frequency -> finer speckle.
3. **Attenuation, noise and TGC.** The echo weakens with depth (dB/cm/MHz, round trip); electronic
   noise is added at the receiver; time-gain compensation amplifies with depth, imperfectly.
4. **Envelope detection** is the modulus of the IQ signal (what the Hilbert transform of the RF
   line gives once the carrier is removed), then **log compression** maps ``dynamic_range_db``
   below the display ceiling onto 0..255, shifted by the overall gain.

Example:
    >>> import numpy as np
    >>> echo = np.ones((64, 80), dtype=np.float32)
    >>> image = simulate_bmode(echo, 0.1, ScannerSettings(), np.random.default_rng(1))
    >>> image.dtype.name, image.shape
    ('uint8', (64, 80))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

SPEED_OF_SOUND_MM_PER_US = 1.54
# FWHM of a Gaussian in units of its standard deviation.
_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


@dataclass(frozen=True)
class ScannerSettings:
    """What differs between hospitals' machines and presets.

    Attributes:
        probe_mhz: centre frequency; sets the wavelength, hence speckle size and attenuation.
        fractional_bandwidth: pulse bandwidth / centre frequency; a shorter pulse is finer axially.
        f_number: focal depth / aperture; the lateral beam width in wavelengths.
        gain_db: overall receive gain; brightens everything.
        dynamic_range_db: span of echo levels shown between black and white.
        noise_db: electronic noise level relative to the parenchyma's mean echo.
        attenuation_db_cm_mhz: tissue attenuation (one way).
        tgc_error_db_per_cm: how much the TGC over- (+) or under- (-) compensates attenuation.
        speckle_reduction_px: width of the scanner's own smoothing of the log image (0 = off).
        tgc_max_db: the most gain the TGC can add at depth.
    """

    probe_mhz: float = 12.0
    fractional_bandwidth: float = 0.65
    f_number: float = 1.8
    gain_db: float = 0.0
    dynamic_range_db: float = 50.0
    noise_db: float = -50.0
    attenuation_db_cm_mhz: float = 0.35
    tgc_error_db_per_cm: float = -1.5
    speckle_reduction_px: float = 0.7
    tgc_max_db: float = 40.0

    @property
    def wavelength_mm(self) -> float:
        return SPEED_OF_SOUND_MM_PER_US / self.probe_mhz

    def psf_sigma_mm(self) -> tuple[float, float]:
        """(axial, lateral) standard deviation of the PSF envelope in millimetres."""
        # Pulse FWHM ~ wavelength / fractional bandwidth; beam FWHM ~ wavelength x F-number,
        # widened x2.5 for the elevation slice and the apodisation real linear arrays use.
        axial_fwhm = self.wavelength_mm / self.fractional_bandwidth
        lateral_fwhm = 3.0 * self.wavelength_mm * self.f_number
        return axial_fwhm / _FWHM_PER_SIGMA, lateral_fwhm / _FWHM_PER_SIGMA


# The parenchyma (echogenicity 1) is shown this far below the display ceiling at zero gain.
_PARENCHYMA_BELOW_CEILING_DB = 24.0


def _psf_energy(sigma_px: tuple[float, float]) -> float:
    """Sum of squared PSF weights: the factor by which the PSF scales speckle intensity."""
    size = int(8 * max(sigma_px) + 3) | 1
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    return float((gaussian_filter(delta, sigma_px, mode="constant") ** 2).sum())


def speckle_envelope(
    echogenicity: np.ndarray,
    spacing_mm: float,
    scanner: ScannerSettings,
    rng: np.random.Generator,
) -> np.ndarray:
    """The detected echo envelope (after TGC, before log compression) of an echogenicity map.

    Args:
        echogenicity: (rows = depth, columns = lateral) mean backscattered intensity, >= 0.
        spacing_mm: isotropic pixel spacing.
        scanner: probe, beam and receiver settings.
        rng: the generator for scatterers and noise.
    """
    n_rows, n_cols = echogenicity.shape
    sigma_mm = scanner.psf_sigma_mm()
    sigma_px = (sigma_mm[0] / spacing_mm, sigma_mm[1] / spacing_mm)

    amplitude = np.sqrt(np.maximum(echogenicity, 0.0) / 2.0).astype(np.float32)
    scatter_re = rng.standard_normal((n_rows, n_cols), dtype=np.float32) * amplitude
    scatter_im = rng.standard_normal((n_rows, n_cols), dtype=np.float32) * amplitude
    iq_norm = np.float32(1.0 / np.sqrt(_psf_energy(sigma_px)))
    iq_re = gaussian_filter(scatter_re, sigma_px) * iq_norm
    iq_im = gaussian_filter(scatter_im, sigma_px) * iq_norm

    # Attenuation happens before the receiver adds noise; TGC amplifies both afterwards.
    depth_cm = (np.arange(n_rows, dtype=np.float32) + 0.5) * spacing_mm / 10.0
    attenuation_db = 2.0 * scanner.attenuation_db_cm_mhz * scanner.probe_mhz * depth_cm
    attenuate = (10.0 ** (-attenuation_db / 20.0))[:, None].astype(np.float32)
    noise_amp = np.float32(10.0 ** (scanner.noise_db / 20.0) / np.sqrt(2.0))
    iq_re = iq_re * attenuate + noise_amp * rng.standard_normal((n_rows, n_cols), dtype=np.float32)
    iq_im = iq_im * attenuate + noise_amp * rng.standard_normal((n_rows, n_cols), dtype=np.float32)
    # TGC amplifiers have a finite range: beyond it deep echoes fade instead of noise blooming.
    tgc_db = np.minimum(attenuation_db + scanner.tgc_error_db_per_cm * depth_cm, scanner.tgc_max_db)
    return np.hypot(iq_re, iq_im) * (10.0 ** (tgc_db / 20.0))[:, None].astype(np.float32)


def simulate_bmode(
    echogenicity: np.ndarray,
    spacing_mm: float,
    scanner: ScannerSettings,
    rng: np.random.Generator,
) -> np.ndarray:
    """Simulate the 8-bit B-mode image a scanner would show for an echogenicity map.

    Envelope (``speckle_envelope``) -> the scanner's mild smoothing of the log image ->
    log compression. Returns a uint8 array of the map's shape.
    """
    envelope = speckle_envelope(echogenicity, spacing_mm, scanner, rng)
    level_db = 20.0 * np.log10(np.maximum(envelope, 1e-9))
    if scanner.speckle_reduction_px > 0:
        level_db = gaussian_filter(level_db, scanner.speckle_reduction_px)
    return log_compress(10.0 ** (level_db / 20.0), scanner.gain_db, scanner.dynamic_range_db)


def log_compress(envelope: np.ndarray, gain_db: float, dynamic_range_db: float) -> np.ndarray:
    """Map an envelope to 8 bit: ``dynamic_range_db`` below the display ceiling -> 0..255.

    Example:
        >>> log_compress(np.array([1.0]), 0.0, 60.0)  # parenchyma level: 24 dB below the ceiling
        array([153], dtype=uint8)
    """
    level_db = 20.0 * np.log10(np.maximum(envelope, 1e-9)) + gain_db
    ceiling_db = _PARENCHYMA_BELOW_CEILING_DB
    grey = (level_db - (ceiling_db - dynamic_range_db)) / dynamic_range_db * 255.0
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)
