"""wikivis: Wikimedia visual resources as a living visual-recommendation dataset.

Importing the package is cheap on purpose: no torch, pandas, pyarrow or network here, so
DAG files and the CLI start fast.  Heavy libraries are imported inside the functions that
use them.
"""

__version__ = "0.1.0"

from wikivis import logsafe as _logsafe

_logsafe.install()  # every log record of the process has URL passwords masked
