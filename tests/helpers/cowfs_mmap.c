/*
 * cowfs_mmap: write or read a range of a file through a shared mapping.
 *
 *   cowfs_mmap write [-n] FILE OFF LEN SEED
 *   cowfs_mmap read FILE OFF LEN
 *
 * write maps the pages holding [OFF, OFF + LEN) of FILE with MAP_SHARED
 * and PROT_WRITE, stores LEN bytes there (the bytes of `cowfs_gen LEN
 * SEED`, so a reference file can be written with cowfs_gen and dd), then
 * calls msync(MS_SYNC) on the range (not with -n) before unmapping and
 * closing. read maps the range read-only and copies it to standard
 * output. The range must lie inside the file (a store past the end would
 * be SIGBUS). OFF and LEN take k, m, g suffixes (powers of 1024).
 *
 * Prints nothing but the data; a failing call is told on standard error
 * by its errno name, with exit status 1; bad usage exits 2.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/common/helpers.h"

static int fail(const char *what)
{
	fprintf(stderr, "cowfs_mmap: %s: %s\n", what, tst_errname(errno));
	return 1;
}

int main(int argc, char **argv)
{
	int writing, sync = 1, fd;
	uint64_t off, len, seed = 0, start;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), maplen;
	unsigned char *map;

	if (argc > 2 && !strcmp(argv[1], "write") && !strcmp(argv[2], "-n")) {
		sync = 0;
		argv[2] = argv[1];
		argv++;
		argc--;
	}
	writing = argc == 6 && !strcmp(argv[1], "write");
	if (!writing && !(argc == 5 && !strcmp(argv[1], "read")))
		tst_die(0, "usage: cowfs_mmap write [-n] FILE OFF LEN SEED\n"
			   "       cowfs_mmap read FILE OFF LEN");
	off = tst_parse_size(argv[3]);
	len = tst_parse_size(argv[4]);
	if (writing)
		seed = tst_parse_size(argv[5]);
	if (len == 0)
		return 0;

	fd = open(argv[2], writing ? O_RDWR : O_RDONLY);
	if (fd < 0)
		return fail("open");
	start = off / page * page;
	maplen = (size_t)(off + len - start);
	map = mmap(NULL, maplen, writing ? PROT_READ | PROT_WRITE : PROT_READ,
		   MAP_SHARED, fd, (off_t)start);
	if (map == MAP_FAILED)
		return fail("mmap");
	if (writing) {
		tst_fill_pattern(map + (off - start), (size_t)len, seed, 0);
		if (sync && msync(map, maplen, MS_SYNC) < 0)
			return fail("msync");
	} else if (fwrite(map + (off - start), 1, (size_t)len, stdout) != len) {
		return fail("write to standard output");
	}
	if (munmap(map, maplen) < 0)
		return fail("munmap");
	if (close(fd) < 0)
		return fail("close");
	return 0;
}
