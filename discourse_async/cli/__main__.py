"""``python -m discourse_async.cli``: the same as the ``discourse-async`` console script."""

from discourse_async.cli import main

main()
