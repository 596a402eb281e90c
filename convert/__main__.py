from convert.cli import main
from device.base.errors import run_program

run_program(main, "python -m convert")
