"""The device's front ends: the click commands, the drawing window, the camera loop, bench and batch.

Each one only wires the core (device/) to files, windows and terminals. Nothing outside device/
imports this package, and the core never does.
"""
