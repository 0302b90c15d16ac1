/*
 * cowfs_gen: write SIZE bytes of reproducible pseudo-random data to
 * standard output, the bytes of the stream with the given SEED starting at
 * OFFSET (so a part of a file can be regenerated on its own).
 *
 *   cowfs_gen SIZE SEED [OFFSET]
 *
 * SIZE and OFFSET take k, m, g suffixes (powers of 1024).
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "tests/common/helpers.h"

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	uint64_t size, seed, off;

	if (argc < 3 || argc > 4)
		tst_die(0, "usage: cowfs_gen SIZE SEED [OFFSET]");
	size = tst_parse_size(argv[1]);
	seed = tst_parse_size(argv[2]);
	off = argc > 3 ? tst_parse_size(argv[3]) : 0;
	while (size) {
		size_t n = size < sizeof(buf) ? (size_t)size : sizeof(buf);
		size_t done = 0;

		tst_fill_pattern(buf, n, seed, off);
		while (done < n) {
			ssize_t w = write(1, buf + done, n - done);

			if (w < 0)
				tst_die(1, "write");
			done += (size_t)w;
		}
		off += n;
		size -= n;
	}
	return 0;
}
