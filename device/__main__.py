from device.cli import main

main(prog_name="python -m device")
