# dockyard: `make run` sets everything up and runs the demo; `make test` runs the whole suite.
PYTHON ?= /usr/bin/python3
VENV   := .venv
BIN    := $(VENV)/bin
# System packages the project needs: busybox-static (the base image), runc (second runtime),
# iproute2 (netns tooling in tests), python3-venv, bsdutils (`script` for pty tests), hyperfine (bench),
# tini (its static build is `--init`'s /sbin/docker-init), debootstrap (`bootstrap debian:bookworm`, `python:3.11-slim`),
# nftables (libnftables.so.1: bridge networks' NAT/filter table, applied in-process), iptables (adds ACCEPTs
# to an iptables FORWARD chain that dockerd left with policy DROP).
# gcc + libc6-dev: the UDP publish test compiles a static echo server (busybox has no UDP server).
# skopeo + umoci: the save/load tests check that other implementations read dockyard's image archives.
SYSTEM_PACKAGES := busybox-static runc iproute2 python3-venv bsdutils psmisc hyperfine curl tini debootstrap \
                   nftables iptables gcc libc6-dev skopeo umoci

.PHONY: install run test lint bench clean
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/install-system-packages Makefile
	scripts/install-system-packages $(SYSTEM_PACKAGES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
	$(BIN)/python -m compileall -q src >/dev/null   # the CLI's start time: no recompiling per call
	touch $@

run: install
	scripts/demo

lint: install
	$(BIN)/ruff check src tests bench

test: install lint
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

bench: install
	bench/start_latency

clean:
	rm -rf $(VENV) build src/*.egg-info
