"""The B-mode simulator against physics that does not depend on our code."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sonorisk.synthetic.bmode import ScannerSettings, log_compress, speckle_envelope

# Fully developed speckle has a Rayleigh envelope, whose mean / standard deviation is
# sqrt(pi / (4 - pi)) = 1.913 whatever the PSF (Burckhardt 1978; Wagner et al. 1983).
RAYLEIGH_SNR = np.sqrt(np.pi / (4 - np.pi))

QUIET = ScannerSettings(noise_db=-200.0, attenuation_db_cm_mhz=0.0, tgc_error_db_per_cm=0.0)


def test_uniform_tissue_gives_rayleigh_speckle() -> None:
    envelope = speckle_envelope(np.ones((400, 400), np.float32), 0.1, QUIET, np.random.default_rng(0))
    snr = envelope.mean() / envelope.std()
    assert snr == pytest.approx(RAYLEIGH_SNR, rel=0.03)


def test_envelope_intensity_tracks_echogenicity() -> None:
    echo = np.ones((300, 300), np.float32)
    echo[:, 150:] = 0.1  # a -10 dB region
    envelope = speckle_envelope(echo, 0.1, QUIET, np.random.default_rng(1))
    ratio_db = 10 * np.log10((envelope[:, 200:280] ** 2).mean() / (envelope[:, 20:100] ** 2).mean())
    assert ratio_db == pytest.approx(-10.0, abs=0.6)


def _lateral_correlation_length(envelope: np.ndarray) -> float:
    """Lag (pixels) at which the lateral autocorrelation of the envelope drops below 0.5."""
    centred = envelope - envelope.mean()
    spectrum = np.abs(np.fft.rfft(centred, axis=1)) ** 2
    acf = np.fft.irfft(spectrum, axis=1).mean(axis=0)
    acf /= acf[0]
    return float(np.argmax(acf < 0.5))


def test_lower_probe_frequency_gives_coarser_speckle() -> None:
    echo = np.ones((256, 256), np.float32)
    fine = speckle_envelope(echo, 0.1, dataclasses.replace(QUIET, probe_mhz=14.0), np.random.default_rng(2))
    coarse = speckle_envelope(echo, 0.1, dataclasses.replace(QUIET, probe_mhz=7.0), np.random.default_rng(2))
    assert _lateral_correlation_length(coarse) > 1.6 * _lateral_correlation_length(fine)


def test_attenuation_without_tgc_darkens_depth() -> None:
    lossy = dataclasses.replace(QUIET, attenuation_db_cm_mhz=0.5, tgc_max_db=0.0)
    envelope = speckle_envelope(np.ones((400, 200), np.float32), 0.1, lossy, np.random.default_rng(4))
    # Round trip at 12 MHz: 2 x 0.5 x 12 = 12 dB per cm; rows 300-399 vs 0-99 are 3 cm apart.
    drop_db = 10 * np.log10((envelope[300:] ** 2).mean() / (envelope[:100] ** 2).mean())
    assert drop_db == pytest.approx(-36.0, abs=1.5)


def test_log_compression_maps_the_dynamic_range_onto_8_bit() -> None:
    # Hand calculation: the display ceiling is 24 dB above the parenchyma level (envelope 1); a
    # 60 dB range puts 1.0 at (0 - (24 - 60)) / 60 * 255 = 153, the ceiling (10^(24/20)) at 255,
    # and anything 60 dB below the ceiling at 0.
    levels = np.array([1.0, 10 ** (24 / 20), 10 ** (-36 / 20), 1e-6])
    assert log_compress(levels, 0.0, 60.0).tolist() == [153, 255, 0, 0]
    # 6 dB of gain moves the parenchyma up by 6 / 60 x 255 = 25.5 grey levels.
    assert int(log_compress(np.array([1.0]), 6.0, 60.0)[0]) == 178
