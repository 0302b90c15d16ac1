/*
 * cowfs_limits: one system call at a limit of the filesystem, with the
 * result in a stable form ("ok", "ok N" or the errno name), for the tests
 * of names, paths and file sizes (tests/cowfs/083, 085).
 *
 *   cowfs_limits create PATH            open(O_CREAT|O_WRONLY), close
 *   cowfs_limits mkdir PATH
 *   cowfs_limits symlink LEN PATH       a target of LEN bytes ('t');
 *                                       prints "ok N" with readlink's N
 *   cowfs_limits link OLD NEW
 *   cowfs_limits rename OLD NEW
 *   cowfs_limits lstat PATH
 *   cowfs_limits pwrite PATH OFF LEN [direct]
 *                                       pwrite LEN bytes at OFF, then
 *                                       fsync: "write: ok N, fsync: ok"
 *   cowfs_limits truncate PATH SIZE
 *   cowfs_limits fallocate PATH OFF LEN [keep]
 *   cowfs_limits copy SRC DST OFF_OUT LEN
 *                                       copy_file_range from offset 0
 *
 * Sizes take the suffixes of tst_parse_size (k, m, g, t). Paths are
 * passed as given: what the kernel and the filesystem make of a long one
 * is what is tested.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/common/helpers.h"

static void result(int rc, int err)
{
	if (rc < 0)
		printf("%s\n", tst_errname(err));
	else
		printf("ok\n");
}

static int do_pwrite(const char *path, uint64_t off, size_t len, bool direct)
{
	int fd = open(path, O_WRONLY | O_CREAT | (direct ? O_DIRECT : 0), 0644);
	void *buf;
	ssize_t n;
	int rc;

	if (fd < 0) {
		printf("open: %s\n", tst_errname(errno));
		return 0;
	}
	if (posix_memalign(&buf, 4096, len ? len : 1))
		tst_die(0, "out of memory");
	memset(buf, 'w', len);
	n = pwrite(fd, buf, len, (off_t)off);
	if (n < 0)
		printf("write: %s, ", tst_errname(errno));
	else
		printf("write: ok %zd, ", n);
	rc = fsync(fd);
	printf("fsync: %s\n", rc < 0 ? tst_errname(errno) : "ok");
	close(fd);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";
	int rc, fd;

	if (!strcmp(op, "create") && argc == 3) {
		fd = open(argv[2], O_CREAT | O_WRONLY, 0644);
		result(fd, errno);
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(op, "mkdir") && argc == 3) {
		rc = mkdir(argv[2], 0755);
		result(rc, errno);
	} else if (!strcmp(op, "symlink") && argc == 4) {
		size_t len = (size_t)tst_parse_size(argv[2]);
		char *target = malloc(len + 1), *back = malloc(len + 2);
		ssize_t n;

		if (!target || !back)
			tst_die(0, "out of memory");
		memset(target, 't', len);
		target[len] = '\0';
		rc = symlink(target, argv[3]);
		if (rc < 0) {
			result(rc, errno);
		} else {
			n = readlink(argv[3], back, len + 2);
			if (n < 0)
				printf("readlink: %s\n", tst_errname(errno));
			else if ((size_t)n != len || memcmp(back, target, len))
				printf("readlink: wrong target (%zd bytes)\n",
				       n);
			else
				printf("ok %zd\n", n);
		}
		free(target);
		free(back);
	} else if (!strcmp(op, "link") && argc == 4) {
		rc = link(argv[2], argv[3]);
		result(rc, errno);
	} else if (!strcmp(op, "rename") && argc == 4) {
		rc = rename(argv[2], argv[3]);
		result(rc, errno);
	} else if (!strcmp(op, "lstat") && argc == 3) {
		struct stat sb;

		rc = lstat(argv[2], &sb);
		result(rc, errno);
	} else if (!strcmp(op, "pwrite") && (argc == 5 || argc == 6)) {
		do_pwrite(argv[2], tst_parse_size(argv[3]),
			  (size_t)tst_parse_size(argv[4]),
			  argc == 6 && !strcmp(argv[5], "direct"));
	} else if (!strcmp(op, "truncate") && argc == 4) {
		rc = truncate(argv[2], (off_t)tst_parse_size(argv[3]));
		result(rc, errno);
	} else if (!strcmp(op, "fallocate") && (argc == 5 || argc == 6)) {
		fd = open(argv[2], O_WRONLY | O_CREAT, 0644);
		if (fd < 0)
			tst_die(1, "open %s", argv[2]);
		rc = fallocate(fd,
			       argc == 6 && !strcmp(argv[5], "keep")
				       ? FALLOC_FL_KEEP_SIZE
				       : 0,
			       (off_t)tst_parse_size(argv[3]),
			       (off_t)tst_parse_size(argv[4]));
		result(rc, errno);
		close(fd);
	} else if (!strcmp(op, "copy") && argc == 6) {
		int in = open(argv[2], O_RDONLY);
		int out = open(argv[3], O_WRONLY | O_CREAT, 0644);
		loff_t off_in = 0, off_out = (loff_t)tst_parse_size(argv[4]);
		ssize_t n;

		if (in < 0 || out < 0)
			tst_die(1, "open");
		n = copy_file_range(in, &off_in, out, &off_out,
				    (size_t)tst_parse_size(argv[5]), 0);
		if (n < 0)
			printf("%s\n", tst_errname(errno));
		else
			printf("ok %zd\n", n);
		close(in);
		close(out);
	} else {
		tst_die(0, "usage: cowfs_limits create|mkdir|symlink|link|rename|lstat|pwrite|truncate|fallocate|copy ARGS (see the source)");
	}
	return 0;
}
