# tests/local.mk: the test suite, included by the top Makefile.am
# (non-recursive; every path is relative to the top of the tree).
#
# `make check` builds the helpers below and runs two kinds of test through
# automake's TAP driver:
#   - UNIT_TESTS: C unit test programs that print TAP themselves;
#   - tests/suite.sh: the numbered scripts tests/cowfs/NNN, run by
#     tests/check against the programs in this build directory.
# Pass arguments to tests/check with e.g. `make check COWFS_CHECK_ARGS="-g
# quick"`; read results in tests/suite.sh.log and tests/results/.

# --- C unit tests: add programs here (they are built by `make check`). ---
UNIT_TESTS = tests/unit/test_meta tests/unit/test_store

COWFS_UNIT_COMMON = tests/unit/tap.h tests/unit/scratch.h tests/unit/sql.h
tests_unit_test_meta_SOURCES = tests/unit/test_meta.c $(COWFS_UNIT_COMMON)
tests_unit_test_meta_LDADD = libcowfs.a $(SQLITE_LIBS)
tests_unit_test_store_SOURCES = tests/unit/test_store.c \
	fs/map.c fs/inode.c fs/fs.h $(COWFS_UNIT_COMMON)
tests_unit_test_store_LDADD = libcowfs.a $(SQLITE_LIBS)

# --- Helpers the numbered tests call for what no shell tool does. ---
COWFS_TEST_HELPERS = \
	tests/helpers/cowfs_aiodio \
	tests/helpers/cowfs_checkstore \
	tests/helpers/cowfs_clonerace \
	tests/helpers/cowfs_copyrange \
	tests/helpers/cowfs_crashload \
	tests/helpers/cowfs_datarace \
	tests/helpers/cowfs_fsx \
	tests/helpers/cowfs_gen \
	tests/helpers/cowfs_handle \
	tests/helpers/cowfs_limits \
	tests/helpers/cowfs_mknod \
	tests/helpers/cowfs_mmap \
	tests/helpers/cowfs_open \
	tests/helpers/cowfs_readdir_race \
	tests/helpers/cowfs_rename2 \
	tests/helpers/cowfs_seekcheck \
	tests/helpers/cowfs_unlink_open \
	tests/helpers/cowfs_utimens \
	tests/helpers/cowfs_writers \
	tests/helpers/cowfs_xattr

check_PROGRAMS = $(COWFS_TEST_HELPERS) $(UNIT_TESTS)

COWFS_TEST_COMMON = tests/common/helpers.c tests/common/helpers.h
tests_helpers_cowfs_aiodio_SOURCES = tests/helpers/cowfs_aiodio.c
tests_helpers_cowfs_checkstore_SOURCES = tests/helpers/cowfs_checkstore.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_checkstore_LDADD = $(SQLITE_LIBS)
tests_helpers_cowfs_clonerace_SOURCES = tests/helpers/cowfs_clonerace.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_copyrange_SOURCES = tests/helpers/cowfs_copyrange.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_crashload_SOURCES = tests/helpers/cowfs_crashload.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_datarace_SOURCES = tests/helpers/cowfs_datarace.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_fsx_SOURCES = tests/helpers/cowfs_fsx.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_gen_SOURCES = tests/helpers/cowfs_gen.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_handle_SOURCES = tests/helpers/cowfs_handle.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_limits_SOURCES = tests/helpers/cowfs_limits.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_mknod_SOURCES = tests/helpers/cowfs_mknod.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_mmap_SOURCES = tests/helpers/cowfs_mmap.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_open_SOURCES = tests/helpers/cowfs_open.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_readdir_race_SOURCES = tests/helpers/cowfs_readdir_race.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_rename2_SOURCES = tests/helpers/cowfs_rename2.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_seekcheck_SOURCES = tests/helpers/cowfs_seekcheck.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_unlink_open_SOURCES = tests/helpers/cowfs_unlink_open.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_utimens_SOURCES = tests/helpers/cowfs_utimens.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_writers_SOURCES = tests/helpers/cowfs_writers.c \
	$(COWFS_TEST_COMMON)
tests_helpers_cowfs_xattr_SOURCES = tests/helpers/cowfs_xattr.c \
	$(COWFS_TEST_COMMON)

# --- The numbered tests and their golden output; list new ones here. ---
COWFS_NUMBERED_TESTS = \
	tests/cowfs/001 tests/cowfs/002 tests/cowfs/003 tests/cowfs/004 \
	tests/cowfs/005 tests/cowfs/006 tests/cowfs/007 tests/cowfs/008 \
	tests/cowfs/009 tests/cowfs/010 tests/cowfs/011 tests/cowfs/012 \
	tests/cowfs/013 tests/cowfs/014 tests/cowfs/015 tests/cowfs/016 \
	tests/cowfs/017 tests/cowfs/018 tests/cowfs/019 tests/cowfs/020 \
	tests/cowfs/021 tests/cowfs/022 tests/cowfs/023 tests/cowfs/024 \
	tests/cowfs/025 tests/cowfs/026 tests/cowfs/027 tests/cowfs/028 \
	tests/cowfs/029 tests/cowfs/030 \
	tests/cowfs/031 tests/cowfs/032 tests/cowfs/033 tests/cowfs/034 \
	tests/cowfs/035 tests/cowfs/036 tests/cowfs/037 tests/cowfs/038 \
	tests/cowfs/039 tests/cowfs/040 tests/cowfs/041 tests/cowfs/042 \
	tests/cowfs/043 tests/cowfs/044 tests/cowfs/045 \
	tests/cowfs/050 \
	tests/cowfs/060 tests/cowfs/061 tests/cowfs/062 tests/cowfs/063 \
	tests/cowfs/064 tests/cowfs/065 tests/cowfs/066 tests/cowfs/067 \
	tests/cowfs/068 \
	tests/cowfs/070 tests/cowfs/071 tests/cowfs/072 tests/cowfs/073 \
	tests/cowfs/074 tests/cowfs/075 tests/cowfs/076 tests/cowfs/079 \
	tests/cowfs/080 tests/cowfs/081 tests/cowfs/082 tests/cowfs/083 \
	tests/cowfs/084 tests/cowfs/085 tests/cowfs/086 tests/cowfs/087 \
	tests/cowfs/088 \
	tests/cowfs/100 tests/cowfs/110 tests/cowfs/111 tests/cowfs/112 \
	tests/cowfs/113 \
	tests/cowfs/114 tests/cowfs/115 tests/cowfs/116 tests/cowfs/117 \
	tests/cowfs/118 tests/cowfs/119 tests/cowfs/120 tests/cowfs/121
COWFS_GOLDEN_OUTPUT = $(COWFS_NUMBERED_TESTS:=.out)

# GNU make has a built-in rule "%.out: %" that would copy a script over its
# golden output whenever the script is newer. The golden files are sources,
# never made: an explicit rule without prerequisites overrides it.
$(COWFS_GOLDEN_OUTPUT):
	@:

EXTRA_DIST += \
	tests/README \
	tests/check \
	tests/common/rc \
	tests/suite.sh \
	$(COWFS_NUMBERED_TESTS) $(COWFS_GOLDEN_OUTPUT)

# --- Running. ---
TESTS = $(UNIT_TESTS) tests/suite.sh
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) \
	$(top_srcdir)/build-aux/tap-driver.sh
AM_TESTS_ENVIRONMENT = \
	COWFS_BUILDDIR='$(abs_top_builddir)'; export COWFS_BUILDDIR; \
	COWFS_CHECK_ARGS='$(COWFS_CHECK_ARGS)'; export COWFS_CHECK_ARGS;

# The scripts write their logs here; the .log/.trs files are automake's.
clean-local: clean-local-cowfs-tests
clean-local-cowfs-tests:
	-rm -rf tests/results
.PHONY: clean-local-cowfs-tests
