"""Train and evaluate MIND, or a RecBole baseline, on a RecBole dataset.

    python run_recbole_mind.py --dataset=ml-100k --epochs=20
    python run_recbole_mind.py --model=SASRec --config_files="my.yaml"
"""

import sys

from recbole_mind.run.cli import main

if __name__ == "__main__":
    sys.exit(main())
