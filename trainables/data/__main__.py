"""``python -m trainables.data``: the dataset command line (``trainables.data.cli``)."""
from trainables.data.cli import main

raise SystemExit(main())
