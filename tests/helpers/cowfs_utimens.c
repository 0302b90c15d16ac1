/*
 * cowfs_utimens: utimensat(2) with explicit nanosecond times, UTIME_NOW or
 * UTIME_OMIT for each of atime and mtime, printing "ok" or the errno name.
 *
 *   cowfs_utimens [-h] PATH ATIME MTIME
 *
 * ATIME and MTIME are "now", "omit", or SECONDS[.NANOSECONDS] (nanoseconds
 * written with exactly nine digits). -h acts on a symlink itself
 * (AT_SYMLINK_NOFOLLOW).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/common/helpers.h"

static struct timespec parse_time(const char *s)
{
	struct timespec ts = { 0, 0 };
	const char *dot;
	char *end;

	if (!strcmp(s, "now")) {
		ts.tv_nsec = UTIME_NOW;
		return ts;
	}
	if (!strcmp(s, "omit")) {
		ts.tv_nsec = UTIME_OMIT;
		return ts;
	}
	errno = 0;
	ts.tv_sec = (time_t)strtoll(s, &end, 10);
	if (errno || end == s || (*end && *end != '.'))
		tst_die(0, "bad time \"%s\"", s);
	dot = end;
	if (*dot == '.') {
		if (strlen(dot + 1) != 9)
			tst_die(0, "bad nanoseconds in \"%s\"", s);
		ts.tv_nsec = strtol(dot + 1, &end, 10);
		if (*end)
			tst_die(0, "bad time \"%s\"", s);
	}
	return ts;
}

int main(int argc, char **argv)
{
	struct timespec ts[2];
	int flags = 0, i = 1;

	if (argc > 1 && !strcmp(argv[1], "-h")) {
		flags = AT_SYMLINK_NOFOLLOW;
		i++;
	}
	if (argc - i != 3)
		tst_die(0, "usage: cowfs_utimens [-h] PATH ATIME MTIME");
	ts[0] = parse_time(argv[i + 1]);
	ts[1] = parse_time(argv[i + 2]);
	if (utimensat(AT_FDCWD, argv[i], ts, flags) < 0)
		printf("%s\n", tst_errname(errno));
	else
		printf("ok\n");
	return 0;
}
