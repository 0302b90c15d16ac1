/*
 * tap.h - a small Test Anything Protocol producer for the C unit tests.
 *
 * A unit test is one program that prints TAP on stdout: a plan ("1..N"),
 * one "ok N - name" or "not ok N - name" line per check, and "# ..."
 * diagnostics. automake's tap-driver.sh and prove(1) both read it.
 *
 *	plan(n);		optional: done_testing() can print it
 *	ok(cond, "fmt", ...);	any condition
 *	is_int(got, want, "fmt", ...);	both values shown on failure
 *	is_str(got, want, "fmt", ...);	strings (NULL allowed)
 *	diag("fmt", ...);	a "# " line
 *	skip(n, "reason");	n checks that cannot run here
 *	todo_start("reason"); ... todo_end();	known failures
 *	bail_out("fmt", ...);	setup is broken: stop at once
 *	return done_testing();	the program's exit status
 *
 * done_testing() returns 0 only if every check outside a todo block passed
 * and the number of checks matches the plan; a failed check inside a todo
 * block is reported "# TODO" and does not fail the program (a passing one
 * is an unexpected pass, which automake counts as a failure, so a fixed bug
 * is noticed and its todo block removed).
 *
 * Everything is static: include this file from one translation unit only.
 */
#ifndef COWFS_TAP_H
#define COWFS_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
	int planned;		/* -1: no plan yet */
	int run;		/* checks printed so far */
	int failed;		/* failed checks outside todo blocks */
	const char *todo;	/* reason, while in a todo block */
} tap_state = { -1, 0, 0, NULL };

static inline void tap_vline(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static inline void plan(int n)
{
	tap_state.planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static inline __attribute__((format(printf, 1, 2))) void
diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline("# ", fmt, ap);
	va_end(ap);
}

static inline __attribute__((noreturn, format(printf, 1, 2))) void
bail_out(const char *fmt, ...)
{
	va_list ap;

	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	exit(2);
}

/* Prints one result line; returns @pass so callers can chain detail. */
static inline bool tap_vresult(bool pass, const char *file, int line,
			       const char *fmt, va_list ap)
{
	tap_state.run++;
	printf("%sok %d - ", pass ? "" : "not ", tap_state.run);
	vprintf(fmt, ap);
	if (tap_state.todo)
		printf(" # TODO %s", tap_state.todo);
	fputc('\n', stdout);
	if (!pass) {
		printf("#   Failed %stest at %s line %d.\n",
		       tap_state.todo ? "(TODO) " : "", file, line);
		if (!tap_state.todo)
			tap_state.failed++;
	}
	fflush(stdout);
	return pass;
}

static inline __attribute__((format(printf, 4, 5))) bool
tap_ok(bool pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vresult(pass, file, line, fmt, ap);
	va_end(ap);
	return pass;
}

static inline __attribute__((format(printf, 5, 6))) bool
tap_is_int(long long got, long long want, const char *file, int line,
	   const char *fmt, ...)
{
	bool pass = got == want;
	va_list ap;

	va_start(ap, fmt);
	tap_vresult(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#          got: %lld\n#     expected: %lld\n", got,
		       want);
	fflush(stdout);
	return pass;
}

static inline __attribute__((format(printf, 5, 6))) bool
tap_is_str(const char *got, const char *want, const char *file, int line,
	   const char *fmt, ...)
{
	bool pass = got && want ? strcmp(got, want) == 0 : got == want;
	va_list ap;

	va_start(ap, fmt);
	tap_vresult(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#          got: %s%s%s\n#     expected: %s%s%s\n",
		       got ? "'" : "", got ? got : "NULL", got ? "'" : "",
		       want ? "'" : "", want ? want : "NULL", want ? "'" : "");
	fflush(stdout);
	return pass;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                 \
	tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__,    \
		   __VA_ARGS__)
#define is_str(got, want, ...)                                                 \
	tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)

/* Reports @n checks as skipped, with @reason. */
static inline void skip(int n, const char *reason)
{
	for (int i = 0; i < n; i++) {
		tap_state.run++;
		printf("ok %d # SKIP %s\n", tap_state.run, reason);
	}
	fflush(stdout);
}

static inline void todo_start(const char *reason)
{
	tap_state.todo = reason;
}

static inline void todo_end(void)
{
	tap_state.todo = NULL;
}

/*
 * Ends the test: prints the plan if none was given, says what went wrong,
 * and returns the exit status (0 if all went well, 1 otherwise).
 */
static inline int done_testing(void)
{
	if (tap_state.planned < 0) {
		printf("1..%d\n", tap_state.run);
		tap_state.planned = tap_state.run;
	}
	if (tap_state.run != tap_state.planned)
		printf("# Looks like you planned %d tests but ran %d.\n",
		       tap_state.planned, tap_state.run);
	if (tap_state.failed)
		printf("# Looks like you failed %d test%s of %d.\n",
		       tap_state.failed, tap_state.failed == 1 ? "" : "s",
		       tap_state.run);
	fflush(stdout);
	return tap_state.failed || tap_state.run != tap_state.planned ? 1 : 0;
}

#endif
