# ngx_http_gateway_module
#
#   make            build the module against Debian's nginx (nginx-dev)
#   make run        build, then start the demo gateway in the foreground
#                   (Ctrl-C, or "make stop" from another shell, stops it)
#   make test       lint, unit tests (cmocka) and the Test::Nginx suite
#   make fuzz       libFuzzer on the parsers of outside input (FUZZ_TIME=s)
#   make bench      the gateway against bare proxy_pass (wrk, callgrind)
#   make check-reload   the Test::Nginx suite with a reload between blocks
#   make check-asan     the suite on nginx and module built with ASan+UBSan
#   make check-valgrind the suite under valgrind memcheck (leaks, bad access)
#   make check-soak     minutes of clients against a misbehaving function
#   make deb        the Debian package libnginx-mod-http-gateway (build/deb/)
#   make check-deb  that package installed into the system nginx, tried,
#                   and purged again
#
#   NGINX_SRC=DIR   build against (and test with) an nginx source tree: a
#                   release tarball or a checkout of nginx's repository
#
# On Debian 12 every target installs the packages it misses (as root).

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c

BUILD        := $(CURDIR)/build
NGINX_SRC    ?=
PROVE_JOBS   ?= 2

DEB_PACKAGES := gcc make libc6-dev libjansson-dev libssl-dev libpcre2-dev \
                zlib1g-dev nginx nginx-dev libcmocka-dev perl openssl curl \
                python3-botocore libhiredis-dev redis-server \
                libio-socket-ssl-perl

# Debian's nginx, with the module built against its nginx-dev headers;
# or an nginx built from NGINX_SRC with the module beside it.  All that
# is built from an NGINX_SRC tree goes to a directory of its own
# (VARIANT), so that builds against different nginx never mix.

ifeq ($(NGINX_SRC),)
NGINX_BUILD  := $(BUILD)/nginx-dev
NGINX_OBJS   := $(NGINX_BUILD)/objs
NGINX_BIN    := /usr/sbin/nginx
VARIANT      := $(BUILD)
else
NGINX_BUILD  := $(abspath $(NGINX_SRC))
VARIANT      := $(BUILD)/src-$(notdir $(NGINX_BUILD))
NGINX_OBJS   := $(VARIANT)/nginx
NGINX_BIN    := $(NGINX_OBJS)/nginx
endif

MODULE_SO    := $(NGINX_OBJS)/ngx_http_gateway_module.so
MODULE_SRCS  := $(wildcard $(CURDIR)/module/*.[ch]) $(CURDIR)/config

# in an nginx tree: a release tarball has ./configure, a checkout of
# nginx's repository auto/configure (both run from the tree's top)
CONFIGURE    := $$([ -f configure ] && echo ./configure || echo auto/configure)

# unit tests link real nginx core objects, from NGINX_SRC or from
# Debian's nginx source package

ifeq ($(NGINX_SRC),)
CORE_SRC     := $(BUILD)/debian-src/nginx
else
CORE_SRC     := $(NGINX_BUILD)
endif

CORE_OBJS_DIR := $(VARIANT)/core
CORE_OBJS    := $(addprefix $(CORE_OBJS_DIR)/src/, \
                  core/ngx_palloc.o core/ngx_string.o core/ngx_array.o \
                  core/ngx_list.o core/ngx_hash.o core/ngx_slab.o \
                  core/ngx_rbtree.o core/ngx_queue.o core/ngx_crc32.o \
                  core/ngx_parse_time.o os/unix/ngx_alloc.o)
# nginx's headers want _GNU_SOURCE (ngx_linux_config.h defines it, too
# late when a test includes system headers first: mainline needs it for
# struct in6_pktinfo)
CORE_INCS    := -D_GNU_SOURCE \
                -I $(CORE_SRC)/src/core -I $(CORE_SRC)/src/event \
                -I $(CORE_SRC)/src/event/modules -I $(CORE_SRC)/src/os/unix \
                -I $(CORE_OBJS_DIR) -I $(CORE_SRC)/src/http \
                -I $(CORE_SRC)/src/http/modules -I $(CURDIR)/module
# every pool allocation a malloc of its own, so that ASan sees overruns
SANITIZE     := -fsanitize=address,undefined -fno-omit-frame-pointer
CORE_CC_OPT  := -g -O1 -DNGX_DEBUG_PALLOC=1 $(SANITIZE)
TEST_CFLAGS  := -g -O1 -W -Wall -Wpointer-arith -Wno-unused-parameter \
                -Werror -DNGX_DEBUG_PALLOC=1 $(SANITIZE)
UNIT_TESTS   := $(patsubst tests/%.c,$(VARIANT)/tests/%, \
                  $(wildcard tests/test_*.c))
# tests/test_X.c tests the core module/ngx_gateway_X.c, with these
UNIT_COMMON  := module/ngx_gateway_parse.c module/ngx_gateway_http.c \
                tests/gateway_test_stubs.c
UNIT_LIBS    := -lcmocka -lcrypto -ljansson -lhiredis

APT_SRC_LIST := /etc/apt/sources.list.d/ngx-gateway-src.list

# deb-src twins of the machine's deb entries, in one-line format
MAKE_DEB_SRC_LIST := { \
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list 2>/dev/null || true; \
    f=/etc/apt/sources.list.d/debian.sources; [ -e $$f ] \
    && awk '/^Types:/ { t = $$0 ~ /deb( |$$)/ } \
            /^URIs:/ { u = $$2 } /^Suites:/ { $$1 = ""; s = $$0 } \
            /^Components:/ { $$1 = ""; c = $$0 } \
            /^Signed-By:/ { k = $$2 } \
            /^$$/ { if (t && u) for (i = split(s, a, " "); i; i--) \
                        print "deb-src [signed-by=" k "] " u, a[i] c; \
                    t = u = k = "" } \
            END { if (t && u) for (i = split(s, a, " "); i; i--) \
                        print "deb-src [signed-by=" k "] " u, a[i] c }' $$f; \
    true; }

# the real Test::Nginx when installed, else our compatible runner
PROVE_LIB    := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                  || echo "-I $(CURDIR)/t/lib")


.PHONY: all build deps run stop test unit integration lint fuzz bench-jwt \
        bench check-reload check-asan check-valgrind deb check-deb clean

all: build

build: $(MODULE_SO)


# the Debian packages of the list $(1) that are missing, installed (as root)
install_missing = missing=""; \
	for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "missing Debian packages:$$missing"; \
	        echo "run 'make' as root, or apt-get install them"; \
	        exit 1; \
	    fi; \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $$missing >/dev/null; \
	fi

deps:
	@$(call install_missing,$(DEB_PACKAGES))


ifeq ($(NGINX_SRC),)

$(NGINX_BUILD)/.configured: config | deps
	rm -rf $(NGINX_BUILD)
	mkdir -p $(BUILD)
	cp -a /usr/share/nginx/src $(NGINX_BUILD)
	cd $(NGINX_BUILD) && . ./conf_flags \
	    && ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --add-dynamic-module=$(CURDIR) > $(BUILD)/configure.log 2>&1 \
	    || { cat $(BUILD)/configure.log; exit 1; }
	touch $@

$(MODULE_SO): $(NGINX_BUILD)/.configured $(MODULE_SRCS)
	$(MAKE) -C $(NGINX_BUILD) -f objs/Makefile modules

else

$(NGINX_OBJS)/.configured: config | deps
	mkdir -p $(NGINX_OBJS)
	cd $(NGINX_BUILD) && $(CONFIGURE) \
	    --builddir=$(NGINX_OBJS) \
	    --with-compat --with-debug --with-http_ssl_module \
	    --with-http_realip_module \
	    --add-dynamic-module=$(CURDIR) > $(VARIANT)/configure.log 2>&1 \
	    || { cat $(VARIANT)/configure.log; exit 1; }
	touch $@

$(MODULE_SO): $(NGINX_OBJS)/.configured $(MODULE_SRCS)
	$(MAKE) -C $(NGINX_BUILD) -f $(NGINX_OBJS)/Makefile binary modules

endif


# Debian's nginx source: the upstream tarball of the source package

$(BUILD)/debian-src/nginx/.unpacked: | deps
	mkdir -p $(BUILD)/debian-src
	if ! ls $(BUILD)/debian-src/nginx_*.orig.tar.gz >/dev/null 2>&1; then \
	    if [ ! -e $(APT_SRC_LIST) ] && [ "$$(id -u)" = 0 ]; then \
	        $(MAKE_DEB_SRC_LIST) > $(APT_SRC_LIST); \
	        apt-get update -qq; \
	    fi; \
	    cd $(BUILD)/debian-src && apt-get source --download-only nginx \
	        >/dev/null 2>&1 || true; \
	fi
	ls $(BUILD)/debian-src/nginx_*.orig.tar.gz >/dev/null 2>&1 \
	    || { echo "cannot get Debian's nginx source (apt-get source" \
	              "nginx): add a deb-src entry"; exit 1; }
	rm -rf $(BUILD)/debian-src/nginx
	mkdir -p $(BUILD)/debian-src/nginx
	tar xzf $(BUILD)/debian-src/nginx_*.orig.tar.gz --strip-components=1 \
	    -C $(BUILD)/debian-src/nginx
	touch $@

ifeq ($(NGINX_SRC),)
$(CORE_OBJS_DIR)/.configured: $(BUILD)/debian-src/nginx/.unpacked
else
$(CORE_OBJS_DIR)/.configured: | deps
endif
	mkdir -p $(CORE_OBJS_DIR)
	cd $(CORE_SRC) && $(CONFIGURE) \
	    --builddir=$(CORE_OBJS_DIR) --with-debug --with-http_ssl_module \
	    --with-cc-opt='$(CORE_CC_OPT)' \
	    --with-ld-opt='$(SANITIZE)' > $(VARIANT)/core-configure.log 2>&1 \
	    || { cat $(VARIANT)/core-configure.log; exit 1; }
	touch $@

$(CORE_OBJS): $(CORE_OBJS_DIR)/.configured
	$(MAKE) -C $(CORE_SRC) -f $(CORE_OBJS_DIR)/Makefile $@

# the core a unit test tests: module/ngx_gateway_X.c, or the glue
# module/ngx_http_gateway_X.c for the zone, which has no core
unit_src = $(firstword $(wildcard module/ngx_gateway_$(1).c) \
                       module/ngx_http_gateway_$(1).c)

# cores that use another core: UNIT_EXTRA_X for tests/test_X.c
UNIT_EXTRA_cluster := module/ngx_gateway_limit.c
UNIT_EXTRA_keys    := module/ngx_gateway_jwt.c
UNIT_EXTRA_zone    := module/ngx_gateway_cluster.c

.SECONDEXPANSION:
$(VARIANT)/tests/test_%: tests/test_%.c $$(call unit_src,$$*) \
                       $$(UNIT_EXTRA_$$*) \
                       $(UNIT_COMMON) tests/gateway_test.h \
                       $(wildcard module/*.h) $(CORE_OBJS)
	mkdir -p $(VARIANT)/tests
	cc $(TEST_CFLAGS) $(CORE_INCS) -o $@ $< \
	    $(sort $(call unit_src,$*) $(UNIT_COMMON) $(UNIT_EXTRA_$*)) \
	    $(CORE_OBJS) $(UNIT_LIBS)

# libFuzzer harnesses, built with clang; nginx core sources compiled in.
# tests/fuzz/fuzz_NAME.c links the module sources listed for it below
# and starts from the seeds in tests/fuzz/seeds/NAME ("_token" dropped);
# each runs for FUZZ_TIME seconds.
FUZZ_TIME    ?= 60
FUZZERS      := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%, \
                  $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CORE    := $(addprefix $(CORE_SRC)/src/, core/ngx_palloc.c \
                  core/ngx_string.c core/ngx_array.c core/ngx_crc32.c \
                  core/ngx_parse_time.c os/unix/ngx_alloc.c)

$(BUILD)/fuzz/fuzz_jwt_token: module/ngx_gateway_jwt.c
$(BUILD)/fuzz/fuzz_jwks: module/ngx_gateway_jwt.c
$(BUILD)/fuzz/fuzz_consumers: module/ngx_gateway_consumers.c \
                              module/ngx_gateway_parse.c
$(BUILD)/fuzz/fuzz_parse: module/ngx_gateway_parse.c
$(BUILD)/fuzz/fuzz_routes: module/ngx_gateway_routes.c module/ngx_gateway_parse.c
$(BUILD)/fuzz/fuzz_retry_after: module/ngx_gateway_retry.c
$(BUILD)/fuzz/fuzz_sigv4: module/ngx_gateway_sigv4.c
$(BUILD)/fuzz/fuzz_grpc_timeout: module/ngx_gateway_bulkhead.c
$(BUILD)/fuzz/fuzz_discovery: module/ngx_gateway_keys.c \
                              module/ngx_gateway_http.c \
                              module/ngx_gateway_jwt.c
$(BUILD)/fuzz/fuzz_http: module/ngx_gateway_http.c

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/nginx_stubs.c \
                      $(wildcard module/*.h tests/fuzz/*.h) \
                      $(CORE_OBJS_DIR)/.configured
	command -v clang >/dev/null || { apt-get update -qq; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang; }
	mkdir -p $(BUILD)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -fno-omit-frame-pointer \
	    -DNGX_DEBUG_PALLOC=1 $(CORE_INCS) -o $@ $< \
	    tests/fuzz/nginx_stubs.c $(filter module/%.c,$^) $(FUZZ_CORE) \
	    -lcrypto -ljansson

fuzz: $(FUZZERS)
	for f in $(FUZZERS); do \
	    name=$${f##*/fuzz_}; seeds=tests/fuzz/seeds/$${name%_token}; \
	    mkdir -p $(BUILD)/fuzz/corpus-$$name; \
	    $$f -max_total_time=$(FUZZ_TIME) -max_len=8192 \
	        $(BUILD)/fuzz/corpus-$$name $$seeds || exit 1; \
	done

# signature verifications per second, one core (not a test)
$(BUILD)/bench_jwt: tests/bench_jwt.c module/ngx_gateway_jwt.c \
                    tests/fuzz/nginx_stubs.c $(CORE_OBJS_DIR)/.configured
	cc -O2 $(CORE_INCS) -I tests -o $@ $< module/ngx_gateway_jwt.c \
	    tests/fuzz/nginx_stubs.c $(FUZZ_CORE) -lcrypto -ljansson

# BENCH_JWT_BASELINE=REV: then the same with the JWT code (and the bench)
# of git revision REV, a before/after on the same machine at the same time
BENCH_JWT_BASELINE ?=
BENCH_JWT_BASE     := $(BUILD)/bench-jwt-base

bench-jwt: $(BUILD)/bench_jwt
	$(BUILD)/bench_jwt 20000
	@if [ -n "$(BENCH_JWT_BASELINE)" ]; then \
	    rm -rf $(BENCH_JWT_BASE) && mkdir -p $(BENCH_JWT_BASE); \
	    jwt=ngx_gateway_jwt; \
	    git cat-file -e $(BENCH_JWT_BASELINE):module/$$jwt.c 2>/dev/null \
	        || jwt=ngx_http_gateway_jwt; \
	    for f in module/$$jwt.c module/$$jwt.h tests/bench_jwt.c; do \
	        git show $(BENCH_JWT_BASELINE):$$f \
	            > $(BENCH_JWT_BASE)/$${f##*/}; \
	    done; \
	    cc -O2 -I $(BENCH_JWT_BASE) $(CORE_INCS) -I tests \
	        -o $(BENCH_JWT_BASE)/bench_jwt $(BENCH_JWT_BASE)/bench_jwt.c \
	        $(BENCH_JWT_BASE)/$$jwt.c \
	        tests/fuzz/nginx_stubs.c $(FUZZ_CORE) -lcrypto -ljansson; \
	    echo "before, at $(BENCH_JWT_BASELINE):"; \
	    $(BENCH_JWT_BASE)/bench_jwt 20000; \
	fi

unit: $(UNIT_TESTS)
	rc=0; for t in $(UNIT_TESTS); do $$t || rc=1; done; exit $$rc


integration: build
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES=$(MODULE_SO) \
	TEST_NGINX_RANDOMIZE=1 \
	    prove $(PROVE_LIB) -j$(PROVE_JOBS) -r t/


# not a test: a few minutes of wrk, callgrind and gdb on loopback, with
# HAProxy as a peer; then cluster limits on a Redis (tests/bench/cluster.sh:
# their cost, and three gateways' accuracy at 2x and 10x the limit);
# BENCH_BASELINE_MODULE=SO also measures another build
bench: build
	@$(call install_missing,redis-server)
	@missing=""; for p in wrk valgrind curl gdb haproxy; do \
	    command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    apt-get update -qq; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	bash tests/bench/run.sh $(NGINX_BIN) $(MODULE_SO) $(BUILD)
	bash tests/bench/cluster.sh $(NGINX_BIN) $(MODULE_SO) $(BUILD)


# the suite with a HUP reload instead of a restart between blocks
check-reload: build
	TEST_NGINX_USE_HUP=1 \
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES=$(MODULE_SO) \
	TEST_NGINX_RANDOMIZE=1 \
	    prove $(PROVE_LIB) -j$(PROVE_JOBS) -r t/


# nginx from the unit tests' source tree and the module, with nginx's own
# ASan flags plus UBSan; reports go to files, as workers' stderr is their
# error log.  ODR: nginx defines ngx_module_names in every dynamic module.
ASAN_BUILD   := $(VARIANT)/asan
ASAN_OPTS    := detect_leaks=0:detect_odr_violation=0
ASAN_OPTS    := $(ASAN_OPTS):log_path=$(ASAN_BUILD)/logs/report

$(ASAN_BUILD)/.built: $(CORE_OBJS_DIR)/.configured $(MODULE_SRCS)
	mkdir -p $(ASAN_BUILD)
	cd $(CORE_SRC) && $(CONFIGURE) \
	    --builddir=$(ASAN_BUILD) --with-compat \
	    --with-debug --with-http_ssl_module --with-http_realip_module \
	    --add-dynamic-module=$(CURDIR) \
	    --with-cc-opt='-g -O1 -DNGX_DEBUG_PALLOC=1 $(SANITIZE)' \
	    --with-ld-opt='$(SANITIZE)' > $(VARIANT)/asan-configure.log 2>&1 \
	    || { cat $(VARIANT)/asan-configure.log; exit 1; }
	$(MAKE) -C $(CORE_SRC) -f $(ASAN_BUILD)/Makefile binary modules
	touch $@

check-asan: $(ASAN_BUILD)/.built
	rm -rf $(ASAN_BUILD)/logs && mkdir -p $(ASAN_BUILD)/logs
	ASAN_OPTIONS=$(ASAN_OPTS) \
	TEST_NGINX_BINARY=$(ASAN_BUILD)/nginx \
	TEST_NGINX_LOAD_MODULES=$(ASAN_BUILD)/ngx_http_gateway_module.so \
	TEST_NGINX_RANDOMIZE=1 \
	    prove $(PROVE_LIB) -j$(PROVE_JOBS) -r t/
	@if ls $(ASAN_BUILD)/logs/* >/dev/null 2>&1; then \
	    cat $(ASAN_BUILD)/logs/*; echo "sanitizer reports above"; exit 1; \
	fi


# the suite under valgrind's memcheck; a report per process goes to a
# file, and any report fails the target.  t/valgrind.suppress holds only
# what nginx and its libraries leave behind, never the module's.
VG_LOGS      := $(BUILD)/valgrind
VG_OPTS      := --tool=memcheck --leak-check=full --show-possibly-lost=no \
                --keep-debuginfo=yes --num-callers=100 --gen-suppressions=all \
                --suppressions=$(CURDIR)/t/valgrind.suppress \
                --log-file=$(VG_LOGS)/report.%p

check-valgrind: build
	command -v valgrind >/dev/null || { apt-get update -qq; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; }
	rm -rf $(VG_LOGS) && mkdir -p $(VG_LOGS)
	TEST_NGINX_USE_VALGRIND='$(VG_OPTS)' \
	TEST_NGINX_TIMEOUT=10 \
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES=$(MODULE_SO) \
	TEST_NGINX_RANDOMIZE=1 \
	    prove $(PROVE_LIB) -j$(PROVE_JOBS) -r t/
	@if [ -n "$$(find $(VG_LOGS) -type f -size +0)" ]; then \
	    find $(VG_LOGS) -type f -size +0 -exec cat {} +; \
	    echo "valgrind reports above"; exit 1; \
	fi


# not part of make test: SOAK_TIME seconds of 200 keep-alive clients
# against a randomly misbehaving chaos function, through two workers with
# retries and a breaker; on Debian's nginx, then on the ASan build.
# t/soak.pl fails on a request without exactly one response and one
# access-log line, a CLOSE-WAIT, a retry left in flight or an [alert].
SOAK_TIME    ?= 60

.PHONY: check-soak
check-soak: build $(ASAN_BUILD)/.built
	perl t/soak.pl --nginx $(NGINX_BIN) --module $(MODULE_SO) \
	    --dir $(BUILD)/soak --time $(SOAK_TIME)
	rm -rf $(ASAN_BUILD)/logs && mkdir -p $(ASAN_BUILD)/logs
	ASAN_OPTIONS=$(ASAN_OPTS) perl t/soak.pl --nginx $(ASAN_BUILD)/nginx \
	    --module $(ASAN_BUILD)/ngx_http_gateway_module.so \
	    --dir $(BUILD)/soak-asan --time $(SOAK_TIME)
	@if ls $(ASAN_BUILD)/logs/* >/dev/null 2>&1; then \
	    cat $(ASAN_BUILD)/logs/*; echo "sanitizer reports above"; exit 1; \
	fi


lint:
	@bad=0; \
	for f in module/*.[ch]; do \
	    awk -v f=$$f 'length > 80 { print f ":" NR ": over 80 columns"; \
	                                b = 1 } \
	                  /\t/ { print f ":" NR ": tab"; b = 1 } \
	                  / $$/ { print f ":" NR ": trailing space"; b = 1 } \
	                  { l = $$0; gsub(/"([^"\\]|\\.)*"/, "", l) } \
	                  l ~ /(^|[^:])\/\// { \
	                      print f ":" NR ": // comment"; b = 1 } \
	                  END { exit b }' $$f || bad=1; \
	done; \
	exit $$bad

test: lint unit integration check-asan


run: build
	mkdir -p $(BUILD)/run/logs
	printf 'load_module %s;\ninclude %s;\n' $(MODULE_SO) \
	    $(CURDIR)/examples/gateway.conf > $(BUILD)/run/nginx.conf
	cp examples/consumers.json examples/jwks.json $(BUILD)/run/
	perl examples/demo-token.pl examples/jwks.json \
	    > $(BUILD)/run/demo-token.jwt
	$(NGINX_BIN) -t -q -p $(BUILD)/run/ -c $(BUILD)/run/nginx.conf
	@cat examples/try.txt
	exec $(NGINX_BIN) -p $(BUILD)/run/ -c $(BUILD)/run/nginx.conf \
	    -g 'daemon off;'

stop:
	if [ -s $(BUILD)/run/logs/nginx.pid ]; then \
	    $(NGINX_BIN) -p $(BUILD)/run/ -c $(BUILD)/run/nginx.conf -s quit; \
	fi


# libnginx-mod-http-gateway, built as Debian builds nginx modules: dh with
# the dh_nginx addon of nginx-dev (Debian's nginx configure flags, the .so
# in /usr/lib/nginx/modules/, mod-http-gateway.conf enabled through
# /etc/nginx/modules-enabled/, a dependency on the exact nginx ABI).  The
# packaging, examples/debian/, is laid over a copy of the sources in
# build/deb/.  dh_auto_configure runs configure in /usr/share/nginx/src,
# which leaves a Makefile there: removed unless it was there before.
DEB_DIR      := $(BUILD)/deb
DEB_SRC      := $(DEB_DIR)/libnginx-mod-http-gateway
DEB_TOOLS    := build-essential debhelper dpkg-dev

deb: | deps
	@$(call install_missing,$(DEB_TOOLS))
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SRC)
	cp -a module config LICENSE README.md $(DEB_SRC)/
	cp -a examples/debian $(DEB_SRC)/debian
	sed -n '/^Redistribution/,$$ { s/^$$/./; s/^/ /; p }' LICENSE \
	    >> $(DEB_SRC)/debian/copyright
	mf=/usr/share/nginx/src/Makefile; had=; [ ! -e $$mf ] || had=1; \
	rc=0; (cd $(DEB_SRC) && dpkg-buildpackage -b -us -uc) \
	    > $(DEB_DIR)/build.log 2>&1 || rc=$$?; \
	[ -n "$$had" ] || rm -f $$mf; \
	[ $$rc = 0 ] || { cat $(DEB_DIR)/build.log; exit $$rc; }
	@ls $(DEB_DIR)/*.deb

# the package installed into the system nginx, a gateway started with it
# and asked, then the package purged: the system as it was found
check-deb: deb
	bash tests/deb/check.sh $(DEB_DIR)/libnginx-mod-http-gateway_*.deb


clean:
	rm -rf $(BUILD)
