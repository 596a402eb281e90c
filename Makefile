# ziplite's front door. Two environments: .venv (TensorFlow: train/, convert/) and
# .venv-device (tflite-runtime, numpy, OpenCV and nothing else: device/, as on a Raspberry Pi).
PYTHON ?= python3.11
VENV := .venv
DEVICE_VENV := .venv-device
PY := $(VENV)/bin/python
DEVICE_PY := $(DEVICE_VENV)/bin/python
EPOCHS ?=
# convert/ quantises the robust dmlp when it has been trained (make train-robust), else the chapter's.
SOURCE ?= $(firstword $(wildcard models/dmlp_aug.keras) models/dmlp.keras)
# MNIST: set MNIST_NPZ to Keras' mnist.npz; on the team's machines it lies beside the project.
MNIST_NPZ ?= $(wildcard $(CURDIR)/../shared/data/mnist.npz)
export MNIST_NPZ
# The pip cap some machines carry in /etc/xdg/pip is for PyTorch, which ziplite does not use.
PIP_INSTALL = bin/pip install --disable-pip-version-check --no-input -q

.PHONY: setup train train-robust train-cnn convert convert-cnn run demo bench test test-all test-device test-pipeline lint pi-check clean

setup: $(VENV)/.installed $(DEVICE_VENV)/.installed

$(VENV)/.installed: requirements.txt requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/$(PIP_INSTALL) -r requirements.txt -c requirements.lock
	touch $@

$(DEVICE_VENV)/.installed: device/requirements.txt device/requirements-test.txt
	$(PYTHON) -m venv $(DEVICE_VENV)
	$(DEVICE_VENV)/$(PIP_INSTALL) -r device/requirements.txt -r device/requirements-test.txt
	touch $@

train: setup
	$(PY) -m train $(if $(EPOCHS),--epochs $(EPOCHS))

train-robust: setup
	$(PY) -m train dmlp --augment $(if $(EPOCHS),--epochs $(EPOCHS))

convert: setup
	$(PY) -m convert --source $(SOURCE)

# The small CNN (train/recipes.py), trained on fresh augmented digits every epoch.
train-cnn: setup
	$(PY) -m train cnn $(if $(EPOCHS),--epochs $(EPOCHS))

# Converts and verifies it as convert does the MLP; writes models/cnn_*.tflite and models/cnn_parity.*.
convert-cnn: setup
	$(PY) -m convert --source models/cnn.keras

# The recogniser needs only the device environment (no TensorFlow to install first).
run: $(DEVICE_VENV)/.installed
	$(DEVICE_PY) -m device gui

demo: $(DEVICE_VENV)/.installed
	$(DEVICE_PY) -m device demo

bench: setup
	$(DEVICE_PY) -m device bench
	$(PY) -m bench.book_path --threads 1 --model models/dmlp_int8.tflite  # the book's network against its own int8 file
	$(DEVICE_PY) -m bench

# make test: day-to-day, every test not marked slow (a few minutes on 2 cores).
# make test-all: the whole suite, as CI runs it (the slow ones train on all of MNIST, convert, fuzz).
test: setup
	$(DEVICE_PY) -m pytest -m "not slow" tests/device
	$(PY) -m pytest -m "not slow" tests/pipeline

test-all: test-device test-pipeline

test-device: setup
	$(DEVICE_PY) -m pytest tests/device

test-pipeline: setup
	$(PY) -m pytest tests/pipeline

# ruff (pinned in device/requirements-test.txt; settings in pyproject.toml).
lint: $(DEVICE_VENV)/.installed
	$(DEVICE_VENV)/bin/ruff check .
	$(DEVICE_VENV)/bin/ruff format --check .

# Proves device/ on an emulated Raspberry Pi OS 64-bit (Debian bookworm arm64, Python 3.11) with qemu.
# Needs qemu-user-static and debootstrap (apt). Builds .cache/pi/ once (~40 s), then ~20 s a run.
pi-check: setup
	$(PYTHON) pi/pi_check.py

clean:
	rm -rf $(VENV) $(DEVICE_VENV) $(CLUSTER_VENV) .pytest_cache .hypothesis models/.checkpoints models/.convert-staging
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# The host environment for `batch --engine ray` (Ray Data, LiteRT, numpy 2), never the Pi's: docs/batch.md.
CLUSTER_VENV := .venv-cluster
CLUSTER_PY := $(CLUSTER_VENV)/bin/python
.PHONY: setup-cluster test-cluster bench-batch

setup-cluster: $(CLUSTER_VENV)/.installed

$(CLUSTER_VENV)/.installed: requirements-cluster.txt
	$(PYTHON) -m venv $(CLUSTER_VENV)
	$(CLUSTER_VENV)/$(PIP_INSTALL) -r requirements-cluster.txt
	touch $@

test-cluster: setup-cluster
	$(CLUSTER_PY) -m pytest tests/cluster

# 5,000 rendered canvases through one process, --jobs 2 and Ray on 2 CPUs; pages/s and peak RSS per worker.
bench-batch: setup setup-cluster
	$(DEVICE_PY) -m bench.batch --cluster-python $(CLUSTER_PY)
