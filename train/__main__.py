from device.base.errors import run_program
from train.cli import main

run_program(main, "python -m train")
