from train.quiet import import_tensorflow_quietly

import_tensorflow_quietly()

from convert.cli import main  # noqa: E402

main(prog_name="python -m convert")
