"""`make pi-check`: prove device/ on an emulated Raspberry Pi OS 64-bit userland, against the host.

Raspberry Pi OS 64-bit is Debian bookworm for arm64 with Python 3.11 (plus the Pi's kernel and
firmware, which user-mode emulation does not need). This script builds that userland with
debootstrap, installs the aarch64 wheels that device/requirements.txt pins beside it, then runs
`python3.11 -m device recognize` and `evaluate` under qemu-aarch64 and on the host's .venv-device,
and fails unless the zip codes and the MNIST accuracy are identical.

Run it from anywhere with the host's python3: it needs only the standard library and `packaging`,
which pip carries (and pip is needed to fetch the wheels anyway). Host tools: qemu-user-static and
debootstrap (apt), and, when the cache must be built, root and the network to Debian and PyPI.

The root and the wheels are cached in .cache/pi/ (git-ignored): each is rebuilt only when missing
or when its recipe changes (for the wheels, the sha256 of device/requirements.txt).

Environment: MNIST_NPZ, the MNIST file for `evaluate` [default: ../shared/data/mnist.npz beside
the project]; DEBIAN_MIRROR [default: http://deb.debian.org/debian]; PIP_INDEX_URL, read only to
check that the index answers.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CACHE = PROJECT / ".cache" / "pi"
ROOT = CACHE / "root"
SITE = CACHE / "site-packages"
STAMP = ".pi-check-stamp.json"
REQUIREMENTS = PROJECT / "device" / "requirements.txt"
HOST_PYTHON = PROJECT / ".venv-device" / "bin" / "python"
DEFAULT_MNIST = PROJECT.parent / "shared" / "data" / "mnist.npz"
SAMPLES = "device/samples/*.png"
EVALUATE_LIMIT = 1000

SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian").rstrip("/")
# debootstrap's first stage alone leaves these downloaded but not unpacked; we unpack them ourselves,
# since running the second stage would mean running dpkg's maintainer scripts under emulation.
ROOT_PACKAGES = ("python3.11-minimal", "libpython3.11-stdlib", "python3.11")
ROOT_PYTHON = "usr/bin/python3.11"
PIP_INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
# tflite-runtime 2.14 for aarch64 is tagged manylinux_2_34, numpy 1.26 and OpenCV 4.11 manylinux_2_17;
# bookworm's glibc 2.36 satisfies both.
WHEEL_PLATFORMS = ("manylinux_2_34_aarch64", "manylinux_2_17_aarch64")
# opencv-python links the X11 libraries its windows need (the GUI on a real Pi); the emulated root has
# no X and the check never opens a window, so it gets the headless build of the same OpenCV release.
EMULATED_NAMES = {"opencv-python": "opencv-python-headless"}

# What `packaging` reads to evaluate PEP 508 markers, computed by the emulated interpreter itself:
# pip evaluates markers for the host even with --platform/--python-version, so we cannot leave it to pip.
MARKER_ENVIRONMENT_PROBE = """
import json, os, platform, sys
v = sys.implementation.version
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": f"{v.major}.{v.minor}.{v.micro}"
        + ("" if v.releaselevel == "final" else v.releaselevel[0] + str(v.serial)),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
"""
IMPORT_PROBE = """
import json, cv2, click, numpy, tflite_runtime, tflite_runtime.interpreter
print(json.dumps({"tflite_runtime": tflite_runtime.__version__, "numpy": numpy.__version__, "cv2": cv2.__version__}))
"""


class CheckFailed(Exception):
    """The check cannot run or found a difference. The message is the one line the user sees."""


# ---------------------------------------------------------------- what the host must have


def require_tool(name: str, apt_package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise CheckFailed(f"`{name}` not found: install it with `apt-get install {apt_package}`")
    return path


def require_network(url: str, what: str) -> None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=20):
            pass
    except (urllib.error.URLError, OSError) as error:
        raise CheckFailed(f"no network to {what} ({url}: {error}); it is needed to build {CACHE}") from None


def require_file(path: Path, what: str, hint: str) -> Path:
    if not path.is_file():
        raise CheckFailed(f"{what} not found at {path}: {hint}")
    return path


def mnist_path() -> Path:
    if os.environ.get("MNIST_NPZ"):
        return require_file(Path(os.environ["MNIST_NPZ"]).resolve(), "MNIST_NPZ", "point MNIST_NPZ at mnist.npz")
    return require_file(DEFAULT_MNIST, "MNIST (MNIST_NPZ is not set)", "set MNIST_NPZ to an mnist.npz")


def sample_images() -> list[str]:
    # Relative paths, so that host and emulated runs print the same `file` for each image.
    samples = sorted(str(p.relative_to(PROJECT)) for p in PROJECT.glob(SAMPLES))
    if not samples:
        raise CheckFailed(f"no sample canvases match {SAMPLES}")
    return samples


# ---------------------------------------------------------------- the cache


def read_stamp(folder: Path) -> dict | None:
    try:
        return json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return None


def build_atomically(final: Path, recipe: dict, build) -> None:
    """Run `build(folder)` on a fresh folder beside `final`, stamp it with `recipe`, then swap it in.

    The stamp is written last and the folder renamed only then, so a build that is interrupted
    leaves a `*.building-*` folder (removed by the next build), never a `final` that looks complete.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in [*CACHE.glob(f"{final.name}.building-*"), *CACHE.glob(f"{final.name}.old-*")]:
        shutil.rmtree(stale, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{final.name}.building-", dir=CACHE))
    folder.chmod(0o755)  # mkdtemp's 0700 would hide the cache from a non-root user who runs the check later
    try:
        build(folder)
        (folder / STAMP).write_text(json.dumps(recipe, indent=1) + "\n")
        if final.exists():
            old = final.with_name(f"{final.name}.old-{os.getpid()}")
            final.rename(old)
            shutil.rmtree(old)
        folder.rename(final)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def run_logged(command: list, log: Path, what: str) -> None:
    """Run a build command with its output in `log`; on failure say so in one line naming the log."""
    with log.open("w") as out:
        status = subprocess.run([str(c) for c in command], stdout=out, stderr=subprocess.STDOUT).returncode
    if status != 0:
        lines = log.read_text(errors="replace").strip().splitlines() or ["(no output)"]
        raise CheckFailed(f"{what} failed (exit {status}): {lines[-1].strip()} [full log: {log}]")


def root_recipe() -> dict:
    return {"suite": SUITE, "arch": "arm64", "variant": "minbase", "packages": list(ROOT_PACKAGES)}


def ensure_root() -> str:
    """Build the bookworm arm64 root unless the cached one has the same recipe. Returns 'cached' or 'built'."""
    if read_stamp(ROOT) == root_recipe() and (ROOT / ROOT_PYTHON).is_file():
        return "cached"
    require_tool("debootstrap", "debootstrap")
    require_tool("dpkg-deb", "dpkg")
    if os.geteuid() != 0:
        raise CheckFailed(f"building {ROOT} runs debootstrap, which needs root: run `make pi-check` as root once")
    require_network(f"{DEBIAN_MIRROR}/dists/{SUITE}/Release", "the Debian mirror")
    build_atomically(ROOT, root_recipe(), build_root)
    return "built"


def build_root(folder: Path) -> None:
    # --foreign only downloads and unpacks, so no arm64 code runs (binfmt_misc may not be available).
    run_logged(
        [
            "debootstrap",
            "--foreign",
            "--arch=arm64",
            "--variant=minbase",
            f"--include={','.join(ROOT_PACKAGES)}",
            SUITE,
            folder,
            DEBIAN_MIRROR,
        ],
        CACHE / "debootstrap.log",
        "debootstrap",
    )
    archives = folder / "var" / "cache" / "apt" / "archives"
    debs = sorted(archives.glob("*.deb"))
    for deb in debs:
        run_logged(["dpkg-deb", "--extract", deb, folder], CACHE / "dpkg-deb.log", f"dpkg-deb --extract {deb.name}")
        deb.unlink()  # 38 MB we never read again
    if not (folder / ROOT_PYTHON).is_file():
        raise CheckFailed(f"the arm64 root has no {ROOT_PYTHON} after unpacking {len(debs)} packages")


def emulated_command(qemu: str, args: list[str], site: Path = SITE) -> list[str]:
    """argv that runs the root's python3.11 under qemu, with the aarch64 wheels in `site` on its path.

    Running the root's interpreter by its full path makes Python find its standard library inside
    the root; `-L` makes qemu load the dynamic linker and shared libraries from there too.
    """
    return [qemu, "-L", str(ROOT), "-E", f"PYTHONPATH={site}", str(ROOT / ROOT_PYTHON), *args]


def emulated_versions(qemu: str, site: Path = SITE) -> dict:
    """Import every wheel under emulation. Returns the versions they report."""
    return run_json(emulated_command(qemu, ["-c", IMPORT_PROBE], site), "emulated import of the aarch64 wheels")[0]


def read_packaging_requirement():
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip vendors the same library, and pip is needed to fetch the wheels anyway
        from pip._vendor.packaging.requirements import Requirement
    return Requirement


def emulated_pins(requirements: str, environment: dict) -> list[str]:
    """The `name==version` pins of `requirements` whose markers hold in `environment`, named for the root.

    Raises:
        CheckFailed: a line is not an exact pin, or two pins of one package both apply.
    """
    Requirement = read_packaging_requirement()
    pins = {}
    for number, line in enumerate(requirements.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        if not line:
            continue
        try:
            requirement = Requirement(line)
        except ValueError as error:  # InvalidRequirement; also pip options such as -r, which we don't follow
            raise CheckFailed(f"{REQUIREMENTS.name} line {number}: `{line}` is not a requirement: {error}") from None
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            raise CheckFailed(f"{REQUIREMENTS.name} line {number}: `{line}` is not an exact `==` pin")
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in pins:
            raise CheckFailed(f"{REQUIREMENTS.name} line {number}: a second pin of {name} applies on the Pi")
        pins[name] = specifiers[0].version
    return [f"{EMULATED_NAMES.get(name, name)}=={version}" for name, version in pins.items()]


def wheels_recipe(environment: dict) -> dict:
    requirements = REQUIREMENTS.read_bytes()
    return {
        "requirements_sha256": hashlib.sha256(requirements).hexdigest(),
        "pins": emulated_pins(requirements.decode(), environment),
        "platforms": list(WHEEL_PLATFORMS),
        "python_version": environment["python_version"],
    }


def ensure_wheels(qemu: str, environment: dict) -> str:
    """Install the aarch64 wheels unless the cached ones have the same recipe. Returns 'cached' or 'built'."""
    recipe = wheels_recipe(environment)
    if read_stamp(SITE) == recipe:
        return "cached"
    require_network(f"{PIP_INDEX}/tflite-runtime/", "the Python package index")
    build_atomically(SITE, recipe, lambda folder: install_wheels(qemu, folder, recipe))
    return "built"


def install_wheels(qemu: str, folder: Path, recipe: dict) -> None:
    # --no-deps: the pins are the whole set (as on the host's .venv-device), so nothing unpinned sneaks in.
    platforms = [flag for platform in recipe["platforms"] for flag in ("--platform", platform)]
    run_logged(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--only-binary=:all:",
            "--target",
            folder,
            *platforms,
            "--implementation",
            "cp",
            "--python-version",
            recipe["python_version"],
            "--disable-pip-version-check",
            "--root-user-action=ignore",
            *recipe["pins"],
        ],
        CACHE / "pip.log",
        "pip install of the aarch64 wheels",
    )
    emulated_versions(qemu, folder)  # validate what we built before it is stamped


# ---------------------------------------------------------------- running device/


def run_json(command: list[str], what: str) -> list[dict]:
    """Run `command` in the project root and parse each stdout line as JSON.

    Raises:
        CheckFailed: on a non-zero exit (after copying the command's stderr) or a line that is not JSON.
    """
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True)
    if done.returncode != 0:
        if len(done.stderr.strip().splitlines()) > 1:  # a traceback: show it; a one-line error is repeated below
            sys.stderr.write(done.stderr[-4000:])
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["(no output)"])[-1]
        raise CheckFailed(f"{what} exited {done.returncode}: {last.strip()}")
    try:
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    except ValueError:
        raise CheckFailed(f"{what} printed a line that is not JSON: {done.stdout.strip()[:200]}") from None


def recognize_args(samples: list[str], model: list[str]) -> list[str]:
    return ["-m", "device", "recognize", *samples, "--json", *model]


def evaluate_args(mnist: Path, model: list[str]) -> list[str]:
    return ["-m", "device", "evaluate", "--data", str(mnist), "--limit", str(EVALUATE_LIMIT), "--json", *model]


def zip_codes(rows: list[dict], where: str) -> dict[str, str]:
    if any("zip" not in row for row in rows):
        raise CheckFailed(f"{where} recognize printed a row without a zip: {rows}")
    return {row["file"]: row["zip"] for row in rows}


def require_tflite_runtime(row: dict, where: str) -> None:
    # The claim is "tflite_runtime gives the same answers on arm64 as on the host": a fallback to
    # another runtime on either side would compare something else, so it is a failure.
    if row.get("runtime") != "tflite_runtime":
        raise CheckFailed(f"device/ on the {where} ran on {row.get('runtime')!r}, not tflite_runtime")


def compare_zip_codes(host: dict[str, str], emulated: dict[str, str]) -> int:
    if host.keys() != emulated.keys():
        raise CheckFailed(f"recognize read different files: host {sorted(host)}, emulated {sorted(emulated)}")
    for file, code in host.items():
        if emulated[file] != code:
            raise CheckFailed(f"zip code differs for {file}: host {code}, emulated arm64 {emulated[file]}")
    return len(host)


def compare_accuracy(host: dict, emulated: dict) -> None:
    if (host["n"], host["accuracy"]) != (emulated["n"], emulated["accuracy"]):
        raise CheckFailed(
            f"MNIST accuracy differs: host {host['accuracy']} on {host['n']}, "
            f"emulated arm64 {emulated['accuracy']} on {emulated['n']}"
        )


@contextlib.contextmanager
def step(name: str):
    """Print how long the step took, so slow emulation shows where it is spent.

    Yields a list: words appended to it (such as 'cached' or 'built') are printed after the name.
    """
    start, notes = time.monotonic(), []
    yield notes
    print(f"pi-check: {' '.join([name, *notes])}: {time.monotonic() - start:.1f} s", flush=True)


# ---------------------------------------------------------------- the check


def prepare(qemu: str) -> dict:
    """Build or reuse the root and the wheels. Returns the emulated interpreter's marker environment."""
    with step(f"arm64 root {ROOT.relative_to(PROJECT)}") as notes:
        notes.append(ensure_root())
    with step("emulated python start-up"):
        environment = run_json(emulated_command(qemu, ["-c", MARKER_ENVIRONMENT_PROBE]), "emulated python3.11")[0]
    print(f"pi-check: emulated python {environment['python_full_version']} on {environment['platform_machine']}")
    with step(f"aarch64 wheels {SITE.relative_to(PROJECT)}") as notes:
        notes.append(ensure_wheels(qemu, environment))
    print(f"pi-check: aarch64 wheels: {' '.join(read_stamp(SITE)['pins'])}")
    return environment


def run_device(where: str, python: list[str], samples: list[str], mnist: Path, model: list[str]) -> tuple[dict, dict]:
    """Run recognize and evaluate with `python` (an argv prefix). Returns (zip code per file, evaluate's report)."""
    with step(f"{where} recognize {len(samples)} images"):
        rows = run_json([*python, *recognize_args(samples, model)], f"{where} recognize")
    with step(f"{where} evaluate {EVALUATE_LIMIT}"):
        report = run_json([*python, *evaluate_args(mnist, model)], f"{where} evaluate")[0]
    for row in [*rows, report]:
        require_tflite_runtime(row, where)
    return zip_codes(rows, where), report


def check(qemu: str, environment: dict, samples: list[str], mnist: Path, model: Path | None) -> str:
    """Run device/ on the host and emulated, compare the two, and return the summary line."""
    model_args = ["--model", str(model.resolve())] if model else []  # else device/'s default model
    host_zips, host_eval = run_device("host", [str(HOST_PYTHON)], samples, mnist, model_args)
    emulated_zips, emulated_eval = run_device("emulated", emulated_command(qemu, []), samples, mnist, model_args)
    matched = compare_zip_codes(host_zips, emulated_zips)
    compare_accuracy(host_eval, emulated_eval)
    return (
        f"pi-check: arm64 (qemu) tflite_runtime {emulated_eval.get('runtime_version', '?')} "
        f"python {environment['python_full_version']}: {matched}/{len(samples)} zip codes match host, "
        f"MNIST {emulated_eval['n']}: {emulated_eval['accuracy']:.4f} = host {host_eval['accuracy']:.4f} [ok]"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--build-only", action="store_true", help="only build (or reuse) .cache/pi and check the emulated imports"
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a .tflite with its JSON beside it [default: device/'s, models/cnn_int8.tflite]",
    )
    args = parser.parse_args(argv)
    try:
        qemu = require_tool("qemu-aarch64-static", "qemu-user-static")
        if not args.build_only:
            require_file(HOST_PYTHON, "the host device venv", "create .venv-device from device/requirements.txt")
            mnist, samples = mnist_path(), sample_images()
        environment = prepare(qemu)
        if args.build_only:
            with step("emulated imports"):
                versions = emulated_versions(qemu)
            print(f"pi-check: emulated imports ok: {json.dumps(versions)}")
        else:
            print(check(qemu, environment, samples, mnist, args.model))
    except CheckFailed as error:
        print(f"pi-check: FAIL: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
