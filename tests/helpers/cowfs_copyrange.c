/*
 * cowfs_copyrange: copy_file_range(2) between two files (or within one),
 * printing what the calls return, for the clone tests.
 *
 *   cowfs_copyrange [-1] SRC SRC_OFF DST DST_OFF LEN
 *
 * SRC is opened read-only, DST write-only and created (mode 0644) if it
 * does not exist; when both name the same path the file is opened once,
 * read-write, and that descriptor is used on both sides. Offsets and LEN
 * take k, m, g suffixes (powers of 1024).
 *
 * By default the call is repeated, as cp does, until LEN bytes are done,
 * a call returns 0 or one fails; prints "copied N" or "copied N, then
 * ERRNO". With -1 it is called once; prints "returned N" or "returned
 * ERRNO". Exits 0 either way (the golden output tells), 2 when the files
 * cannot be opened.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "tests/common/helpers.h"

int main(int argc, char **argv)
{
	int once = 0, in, out;
	uint64_t len, done = 0;
	loff_t off_in, off_out;
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "-1")) {
		once = 1;
		argc--;
		argv++;
	}
	if (argc != 6)
		tst_die(0, "usage: cowfs_copyrange [-1] SRC SRC_OFF DST DST_OFF"
			   " LEN");
	off_in = (loff_t)tst_parse_size(argv[2]);
	off_out = (loff_t)tst_parse_size(argv[4]);
	len = tst_parse_size(argv[5]);
	if (!strcmp(argv[1], argv[3])) {
		in = out = open(argv[1], O_RDWR);
	} else {
		in = open(argv[1], O_RDONLY);
		out = in < 0 ? -1 : open(argv[3], O_WRONLY | O_CREAT, 0644);
	}
	if (in < 0 || out < 0)
		tst_die(1, "open %s", in < 0 ? argv[1] : argv[3]);

	if (once) {
		n = copy_file_range(in, &off_in, out, &off_out, (size_t)len, 0);
		if (n < 0)
			printf("returned %s\n", tst_errname(errno));
		else
			printf("returned %zd\n", n);
		return 0;
	}
	while (done < len) {
		n = copy_file_range(in, &off_in, out, &off_out,
				    (size_t)(len - done), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			printf("copied %llu, then %s\n",
			       (unsigned long long)done, tst_errname(errno));
			return 0;
		}
		if (n == 0)
			break;
		done += (uint64_t)n;
	}
	printf("copied %llu\n", (unsigned long long)done);
	return 0;
}
