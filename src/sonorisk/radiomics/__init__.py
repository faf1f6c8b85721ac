"""Radiomics: pyradiomics extraction (serial and Ray fan-out), robustness, screening, Rad Score."""
