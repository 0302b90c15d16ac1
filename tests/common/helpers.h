/*
 * Shared support for the test helpers in tests/helpers/.
 *
 * The helpers print results that end up in golden output files, so
 * everything here is about stable text: errno values are printed by their
 * symbolic names (EEXIST, not "File exists" and not 17), and a failure of
 * the helper's own setup exits with status 2 and a message on stderr, which
 * the runner shows in the test's diff.
 */
#ifndef COWFS_TEST_HELPERS_H
#define COWFS_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

/* The symbolic name of errno value err ("ENOENT"), or "E<number>". */
const char *tst_errname(int err);

/* Prints "LABEL: ok" if rc >= 0, else "LABEL: <errname(err)>". */
void tst_report(const char *label, int rc, int err);

/* Prints "PROG: MSG: <strerror(errno)>" (or without the errno part when
 * with_errno is 0) on stderr and exits with status 2. */
void tst_die(int with_errno, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/*
 * Parses a non-negative integer with an optional binary suffix (k, m, g, t:
 * powers of 1024). Exits through tst_die on anything else.
 */
uint64_t tst_parse_size(const char *s);

/* Reads/writes exactly len bytes at off, retrying short transfers; returns 0
 * or -errno. A read hitting end of file early returns -EIO. */
int tst_pread_full(int fd, void *buf, size_t len, uint64_t off);
int tst_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/*
 * A small deterministic generator (splitmix64), so that data written by a
 * helper can be recomputed by the same helper later for verification.
 */
uint64_t tst_rand_next(uint64_t *state);
/* Fills buf with bytes that depend only on (seed, off + i). */
void tst_fill_pattern(void *buf, size_t len, uint64_t seed, uint64_t off);

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t tst_now_ms(void);

#endif
