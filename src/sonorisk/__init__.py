"""SonoRisk: brain-metastasis risk after breast-cancer surgery from ultrasound and clinical data."""

__version__ = "0.1.0"
