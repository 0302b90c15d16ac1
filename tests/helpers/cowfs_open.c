/*
 * cowfs_open: open a file with exactly the flags asked for, then run a few
 * operations on the descriptor, printing each result in a stable form.
 *
 *   cowfs_open PATH FLAGS [MODE] [OP ...]
 *
 * FLAGS is a comma list of rdonly, wronly, rdwr, creat, excl, trunc,
 * append, directory, nofollow, noatime (at least one of the first three).
 * MODE is octal, used with creat (default 0666, the process umask applies).
 * Each OP is one of
 *   w=TEXT      write(2) TEXT at the current offset; prints "write: N"
 *   p=OFF:TEXT  pwrite(2) TEXT at OFF
 *   s=OFF       lseek(OFF, SEEK_SET); prints the new offset
 *   r=N         read(2) up to N bytes; prints them with C-style escapes
 *   size        fstat(2); prints st_size
 * Results that fail print the errno name instead ("open: EEXIST"), and the
 * remaining operations are skipped after a failed open.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/common/helpers.h"

static int parse_flags(const char *spec)
{
	static const struct {
		const char *name;
		int flag;
	} names[] = {
		{ "rdonly", O_RDONLY }, { "wronly", O_WRONLY },
		{ "rdwr", O_RDWR }, { "creat", O_CREAT }, { "excl", O_EXCL },
		{ "trunc", O_TRUNC }, { "append", O_APPEND },
		{ "directory", O_DIRECTORY }, { "nofollow", O_NOFOLLOW },
		{ "noatime", O_NOATIME },
	};
	char *copy = strdup(spec), *save = NULL, *tok;
	int flags = 0;

	if (!copy)
		tst_die(1, "strdup");
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(tok, names[i].name))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			tst_die(0, "unknown open flag \"%s\"", tok);
		flags |= names[i].flag;
	}
	free(copy);
	return flags;
}

static void print_escaped(const char *buf, ssize_t n)
{
	ssize_t i;

	putchar('"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\\' || c == '"')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c >= 0x20 && c < 0x7f)
			putchar(c);
		else
			printf("\\%03o", c);
	}
	putchar('"');
}

static void run_op(int fd, const char *op)
{
	ssize_t n;

	if (!strncmp(op, "w=", 2)) {
		n = write(fd, op + 2, strlen(op + 2));
		if (n < 0)
			printf("write: %s\n", tst_errname(errno));
		else
			printf("write: %zd\n", n);
	} else if (!strncmp(op, "p=", 2)) {
		const char *colon = strchr(op + 2, ':');
		char num[32];

		if (!colon || (size_t)(colon - op - 2) >= sizeof(num))
			tst_die(0, "bad op \"%s\"", op);
		memcpy(num, op + 2, (size_t)(colon - op - 2));
		num[colon - op - 2] = '\0';
		n = pwrite(fd, colon + 1, strlen(colon + 1),
			   (off_t)tst_parse_size(num));
		if (n < 0)
			printf("pwrite: %s\n", tst_errname(errno));
		else
			printf("pwrite: %zd\n", n);
	} else if (!strncmp(op, "s=", 2)) {
		off_t off = lseek(fd, (off_t)tst_parse_size(op + 2), SEEK_SET);

		if (off < 0)
			printf("seek: %s\n", tst_errname(errno));
		else
			printf("seek: %lld\n", (long long)off);
	} else if (!strncmp(op, "r=", 2)) {
		size_t len = (size_t)tst_parse_size(op + 2);
		char *buf = malloc(len ? len : 1);

		if (!buf)
			tst_die(1, "malloc");
		n = read(fd, buf, len);
		if (n < 0) {
			printf("read: %s\n", tst_errname(errno));
		} else {
			printf("read: %zd ", n);
			print_escaped(buf, n);
			putchar('\n');
		}
		free(buf);
	} else if (!strcmp(op, "size")) {
		struct stat st;

		if (fstat(fd, &st) < 0)
			printf("size: %s\n", tst_errname(errno));
		else
			printf("size: %lld\n", (long long)st.st_size);
	} else {
		tst_die(0, "unknown op \"%s\"", op);
	}
}

int main(int argc, char **argv)
{
	mode_t mode = 0666;
	int flags, fd, i = 3;

	if (argc < 3)
		tst_die(0, "usage: cowfs_open PATH FLAGS [MODE] [OP ...]");
	flags = parse_flags(argv[2]);
	if (argc > 3 && argv[3][0] >= '0' && argv[3][0] <= '7') {
		mode = (mode_t)strtoul(argv[3], NULL, 8);
		i = 4;
	}
	fd = open(argv[1], flags, mode);
	tst_report("open", fd, errno);
	if (fd < 0)
		return 0;
	for (; i < argc; i++)
		run_op(fd, argv[i]);
	if (close(fd) < 0)
		printf("close: %s\n", tst_errname(errno));
	return 0;
}
