/*
 * cowfs_xattr: the extended attribute calls with the details that
 * getfattr/setfattr hide: the XATTR_CREATE / XATTR_REPLACE flags and the
 * size argument (0 asks for the needed size; a short buffer must give
 * ERANGE).
 *
 *   cowfs_xattr set PATH NAME VALUE [create|replace]
 *   cowfs_xattr get PATH NAME [SIZE]     prints the value, or its length
 *                                        when SIZE is 0
 *   cowfs_xattr list PATH [SIZE]         prints the names sorted, one a
 *                                        line, or the needed length when
 *                                        SIZE is 0
 *   cowfs_xattr remove PATH NAME
 *
 * Without SIZE, get and list use a buffer of 64 KiB. A failing call prints
 * "ERRNAME" alone.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "tests/common/helpers.h"

#define BIG (64 * 1024)

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void do_list(const char *path, size_t size)
{
	char *buf = malloc(size ? size : 1);
	char *names[BIG / 2];
	ssize_t n, off;
	size_t count = 0, i;

	if (!buf)
		tst_die(1, "malloc");
	n = listxattr(path, size ? buf : NULL, size);
	if (n < 0) {
		printf("%s\n", tst_errname(errno));
	} else if (size == 0) {
		printf("%zd\n", n);
	} else {
		for (off = 0; off < n && count < BIG / 2;
		     off += (ssize_t)strlen(buf + off) + 1)
			names[count++] = buf + off;
		qsort(names, count, sizeof(names[0]), cmp_str);
		for (i = 0; i < count; i++)
			printf("%s\n", names[i]);
		if (!count)
			printf("(none)\n");
	}
	free(buf);
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 3)
		tst_die(0, "usage: cowfs_xattr set|get|list|remove PATH ...");
	if (!strcmp(argv[1], "set") && (argc == 5 || argc == 6)) {
		int flags = 0;

		if (argc == 6 && !strcmp(argv[5], "create"))
			flags = XATTR_CREATE;
		else if (argc == 6 && !strcmp(argv[5], "replace"))
			flags = XATTR_REPLACE;
		else if (argc == 6)
			tst_die(0, "unknown flag \"%s\"", argv[5]);
		rc = setxattr(argv[2], argv[3], argv[4], strlen(argv[4]),
			      flags);
		printf("%s\n", rc < 0 ? tst_errname(errno) : "ok");
	} else if (!strcmp(argv[1], "get") && (argc == 4 || argc == 5)) {
		size_t size = argc == 5 ? (size_t)tst_parse_size(argv[4]) : BIG;
		char *buf = malloc(size ? size : 1);
		ssize_t n;

		if (!buf)
			tst_die(1, "malloc");
		n = getxattr(argv[2], argv[3], size ? buf : NULL, size);
		if (n < 0)
			printf("%s\n", tst_errname(errno));
		else if (size == 0)
			printf("%zd\n", n);
		else
			printf("\"%.*s\"\n", (int)n, buf);
		free(buf);
	} else if (!strcmp(argv[1], "list") && (argc == 3 || argc == 4)) {
		do_list(argv[2],
			argc == 4 ? (size_t)tst_parse_size(argv[3]) : BIG);
	} else if (!strcmp(argv[1], "remove") && argc == 4) {
		rc = removexattr(argv[2], argv[3]);
		printf("%s\n", rc < 0 ? tst_errname(errno) : "ok");
	} else {
		tst_die(0, "bad arguments; see the comment in cowfs_xattr.c");
	}
	return 0;
}
