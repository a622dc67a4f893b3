# loom: the two set-up commands are `make demo` and `make test`; both install what is
# missing first (scripts/install-deps.sh, apt, idempotent).

BUILD      ?= build
BUILD_SAN  ?= build-san
JOBS       ?= $(shell nproc)
SHARED     ?= $(abspath ../shared)
DEMO_OUT   ?= runs/demo
DEMO_DATA  ?= /usr/share/games/fortunes
IMAGE_DATA ?= /usr/share/datasets/fashion-mnist

.PHONY: all deps build test test-san demo demo-code demo-image bench bench-code bench-image soak clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

# The whole suite: the optimised build, then again under AddressSanitizer + UBSan.
test: deps
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && LOOM_SHARED=$(SHARED) ctest --output-on-failure
	$(MAKE) test-san

test-san:
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DLOOM_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_SAN) -j $(JOBS)
	cd $(BUILD_SAN) && LOOM_SHARED=$(SHARED) ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LOOM_SANITIZED=1 ctest --output-on-failure

demo: deps
	@$(MAKE) --no-print-directory build
	bash scripts/demo.sh $(BUILD)/loom $(DEMO_DATA) $(DEMO_OUT)

# A code model on the Python standard library, then a completion of a held-out function.
demo-code: deps
	@$(MAKE) --no-print-directory build
	bash scripts/demo_code.sh $(BUILD)/loom runs/demo-code

# A class-conditional diffusion model on Fashion-MNIST (DEMO_MINUTES of training, 10 by
# default), then pictures of a few labels drawn with loom imagine.
demo-image: deps
	@$(MAKE) --no-print-directory build
	bash scripts/demo_image.sh $(BUILD)/loom $(IMAGE_DATA) runs/demo-image

# Issue 6's measured run: the standard library less held-out modules, <= 60 minutes, then eval-code.
bench-code: deps
	@$(MAKE) --no-print-directory build
	bash scripts/code_eval.sh $(BUILD)/loom runs/code-eval

# Issue 5's measured run: Fashion-MNIST, <= 60 minutes of training, then eval-image.
bench-image: deps
	@$(MAKE) --no-print-directory build
	bash scripts/image_eval.sh $(BUILD)/loom runs/image-eval

bench: deps
	@$(MAKE) --no-print-directory build
	bash bench/bench.sh $(BUILD)/loom $(SHARED)
	bash bench/bench_generate.sh $(BUILD) $(SHARED)
	bash bench/bench_bpe.sh $(BUILD) $(SHARED)
	bash bench/bench_image.sh $(BUILD) runs/image-eval

# fuzz/soak.sh: 50 kill -9 interruptions of train and train-image, each resumed to the end and
# compared with an uninterrupted run (about 5 minutes; not part of `make test`).
soak: deps
	@$(MAKE) --no-print-directory build
	LOOM_SHARED=$(SHARED) bash fuzz/soak.sh $(BUILD)/loom

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
