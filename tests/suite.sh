#!/bin/sh
# The numbered tests as one TAP test program for `make check`: runs
# tests/check against the build directory automake names (see
# tests/local.mk), passing on COWFS_CHECK_ARGS (e.g. "-g quick").
here=$(cd "$(dirname "$0")" && pwd)
: "${COWFS_BUILDDIR:=$(pwd)}"
export COWFS_BUILDDIR
# shellcheck disable=SC2086 # COWFS_CHECK_ARGS is a list of words
exec "$here/check" $COWFS_CHECK_ARGS
