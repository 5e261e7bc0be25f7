# The README's two commands: `make demo` and `make test`. Both set up .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint bench clean constraints docs

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -c constraints.txt -e '.[dev,farm,ssh,compare,docs]'
	touch $(STAMP)

# Re-pin constraints.txt to the current .venv (after `make test` passed with a newer set).
constraints: $(STAMP)
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

demo: $(STAMP)
	$(BIN)/edgelat demo

test: $(STAMP)
	$(BIN)/ruff check .
	@# The documentation site, strict: a broken link or a docstring mkdocstrings cannot load fails the build
	@# (`python -m mkdocs`, not $(BIN)/mkdocs: mkdocs.yml's first comment says why).
	$(BIN)/python -m mkdocs build --strict --site-dir $(VENV)/site
	@# AOSP adbd for the ADB tests (cached; exit code 77: cannot build here, those tests then skip)
	bash tests/adbd/build.sh >/dev/null || [ $$? -eq 77 ]
	@# OpenSSH's sshd for the SSH tests (Debian's openssh-server, where apt-get runs as root; else they skip)
	bash tests/sshd/install.sh || [ $$? -eq 77 ]
	@# Fashion-MNIST for the dataset tests (Debian's dataset-fashion-mnist, where apt-get runs as root; else they skip)
	bash data/install_fashion_mnist.sh || [ $$? -eq 77 ]
	$(BIN)/python -m pytest -q tests

# The fast tier, for a change to one module: ruff and every test not marked slow (CONTRIBUTING.md).
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow" tests

# Serve the documentation site on http://127.0.0.1:8000, rebuilt on every change.
docs: $(STAMP)
	$(BIN)/python -m mkdocs serve

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/profile_throughput.py
	$(BIN)/python benchmarks/memory_1000.py
	$(BIN)/python benchmarks/repeatability.py
	$(BIN)/python benchmarks/farm.py
	$(BIN)/python benchmarks/search.py
	$(BIN)/python benchmarks/whole_network.py
	$(BIN)/python benchmarks/search_quality.py --networks 300
	$(BIN)/python benchmarks/trust.py
	$(BIN)/python benchmarks/adb_overhead.py
	$(BIN)/python benchmarks/interference.py
	$(BIN)/python benchmarks/soak.py
	$(BIN)/python benchmarks/mcu_model.py
	$(BIN)/python benchmarks/predictors.py
	$(BIN)/python benchmarks/host_devices.py
	$(BIN)/python benchmarks/any_device.py
	$(BIN)/python benchmarks/any_device_blocks.py
	$(BIN)/python benchmarks/any_model.py
	$(BIN)/python benchmarks/any_model_float_io.py
	$(BIN)/python benchmarks/zero_cost_proxies.py
	$(BIN)/python benchmarks/pareto.py
	$(BIN)/python benchmarks/ray_trainings.py
	$(BIN)/python benchmarks/fashion_mnist_search.py
	$(BIN)/python benchmarks/fmnist_truth.py
	$(BIN)/python benchmarks/fmnist_signals.py --signals params flops synflow naswot supernet train1 train2 train4

clean:
	rm -rf $(VENV) runs
