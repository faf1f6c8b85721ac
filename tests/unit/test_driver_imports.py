"""The scoring driver builds the Ray pipelines but never runs a network: it must not import torch.

torch + timm cost a process ~370 MB of private memory (measured with smaps_rollup), which at
10,000 patients is the difference between meeting the 4 GB budget of a nightly run and missing it.
"""

import subprocess
import sys


def test_scoring_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import sonorisk.cli.risk, sonorisk.risk.scoring, sonorisk.risk.scores, sonorisk.deep.batch_scoring\n"
        "import sonorisk.deep.model_io, sonorisk.deep.predictor\n"
        "print(sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
