from device.app.cli import main

main(prog_name="python -m device")
