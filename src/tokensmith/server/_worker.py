"""``python -m tokensmith.server._worker OPTIONS``: one worker process of ``serve --workers N``,
started by the supervisor (``_supervisor``); see :func:`tokensmith.server._serve.run_worker`."""

import sys

from ._serve import run_worker

if __name__ == "__main__":
    run_worker(sys.argv[1:])
