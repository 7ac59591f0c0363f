# mxscan build. Plain GNU Make, header dependency tracking (-MMD), pkg-config.
#   make            build bin/mxscan, bin/mxreport, bin/mxfleet
#   make test       build and run every test suite (what .ci/run calls)
#   make asan       same suites under AddressSanitizer + UBSan (build tree build-asan/)
#   make demo       start the simulated fleet + DNS, scan it, write a report
#   make gen        regenerate scanner/suites_table.c from datasets/suites.csv
#   make format     apply .clang-format
PKGS    := wolfssl libpcap libmaxminddb zlib libcares
CC      ?= cc
BUILD   ?= build
BIN     ?= bin
OPT     ?= -O2
SAN     ?=
FUZZ_SECS ?= 10
CFLAGS  := -std=c17 -Wall -Wextra -g $(OPT) $(SAN) -D_GNU_SOURCE -Iinclude -Itests -DMXSCAN_DATADIR='"$(CURDIR)/datasets"' \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
LDFLAGS := $(SAN)

LIB_SRC   := $(filter-out scanner/main.c,$(wildcard scanner/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libmxscan.a
MAIN_OBJ  := $(BUILD)/scanner/main.o
REPORT_OBJ:= $(patsubst %.c,$(BUILD)/%.o,$(wildcard analysis/*.c))
FLEET_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/fleet/*.c))
UNIT_SRC  := $(wildcard tests/unit/test_*.c tests/sm/test_*.c)
UNIT_BIN  := $(UNIT_SRC:%.c=$(BUILD)/%)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)

TARGETS := $(BIN)/mxscan $(if $(REPORT_OBJ),$(BIN)/mxreport) $(if $(FLEET_OBJ),$(BIN)/mxfleet)

.PHONY: all test test-run unit integration asan demo gen check-gen format check-format fuzz clean
all: $(TARGETS) $(UNIT_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/mxscan: $(MAIN_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/mxreport: $(REPORT_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/mxfleet: $(FLEET_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The benchmark's reference client (scripts/bench.sh): plain C, no library.
.PHONY: refclient
refclient: $(BIN)/refclient
$(BIN)/refclient: scripts/bench/refclient.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -Wall -Wextra -O2 -o $@ $<

# Keep objects of test programs (no intermediate deletion).
.SECONDARY:

# Tests of fleet modules link the fleet object they test.
$(BUILD)/tests/unit/test_tlsresp: $(BUILD)/tests/fleet/tlsresp.o

# Each unit/transcript test is its own program (own process, own exit status).
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit + transcript tests under prove, then the integration scripts (TAP shell).
unit: all
	prove -f $(UNIT_BIN)

integration: all
	prove -f tests/integration/*.t

# The README's test command. Installs missing Debian packages first, then
# re-enters make so pkg-config sees the freshly installed libraries.
test:
	scripts/deps.sh --with-peers
	$(MAKE) test-run

test-run: all check-gen check-format
	scripts/fuzz.sh $(FUZZ_SECS) > $(BUILD)/fuzz.log 2>&1 || { tail -40 $(BUILD)/fuzz.log; exit 1; }
	@grep '^fuzz.sh: fuzz_.*execs' $(BUILD)/fuzz.log; tail -1 $(BUILD)/fuzz.log
	BIN=$(BIN) prove -f $(UNIT_BIN) tests/integration/*.t

asan:
	$(MAKE) BUILD=build-asan BIN=build-asan/bin OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 BIN=build-asan/bin \
	  prove -f $(UNIT_SRC:%.c=build-asan/%) tests/integration/*.t

gen: scanner/suites_table.c
scanner/suites_table.c: datasets/suites.csv scripts/gen_suites.sh
	scripts/gen_suites.sh datasets/suites.csv > $@.tmp && mv $@.tmp $@

fuzz:
	scripts/fuzz.sh $(FUZZ_SECS)

check-gen:
	scripts/gen_suites.sh datasets/suites.csv | cmp - scanner/suites_table.c

demo:
	scripts/deps.sh
	$(MAKE) all
	scripts/demo.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
check-format:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan $(BIN)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
