/*
 * scratch.h - a private scratch directory for a unit test program.
 *
 * scratch_init() makes a fresh directory under ${TMPDIR:-/tmp} (bailing out
 * if it cannot); scratch_path() and scratch_path_into() build a path inside
 * it; scratch_cleanup() removes it and everything in it (unless
 * COWFS_UNIT_KEEP is set). Include from one translation unit.
 */
#ifndef COWFS_SCRATCH_H
#define COWFS_SCRATCH_H

#include <ftw.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/tap.h"

static char scratch_dir[PATH_MAX];

static inline void scratch_init(const char *prog)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(scratch_dir, sizeof(scratch_dir), "%s/cowfs-%s.XXXXXX", tmp,
		 prog);
	if (!mkdtemp(scratch_dir))
		bail_out("mkdtemp %s: %m", scratch_dir);
}

static inline void scratch_vpath(char *buf, const char *fmt, va_list ap)
{
	size_t len = strlen(scratch_dir);

	memcpy(buf, scratch_dir, len);
	buf[len++] = '/';
	vsnprintf(buf + len, PATH_MAX - len, fmt, ap);
}

/* Writes the path into @buf (PATH_MAX bytes) and returns @buf. */
static inline __attribute__((format(printf, 2, 3))) const char *
scratch_path_into(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	scratch_vpath(buf, fmt, ap);
	va_end(ap);
	return buf;
}

/*
 * Returns the path in one of four static buffers: for passing straight to a
 * call (a call can take two), never for keeping; use scratch_path_into().
 */
static inline __attribute__((format(printf, 1, 2))) const char *
scratch_path(const char *fmt, ...)
{
	static char bufs[4][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 4];
	va_list ap;

	va_start(ap, fmt);
	scratch_vpath(b, fmt, ap);
	va_end(ap);
	return b;
}

static inline int scratch_rm_one(const char *path, const struct stat *sb,
				 int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

static inline void scratch_cleanup(void)
{
	if (scratch_dir[0] && !getenv("COWFS_UNIT_KEEP"))
		nftw(scratch_dir, scratch_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	else if (scratch_dir[0])
		diag("kept scratch directory %s", scratch_dir);
}

#endif
