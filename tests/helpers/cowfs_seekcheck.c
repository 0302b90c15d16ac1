/*
 * cowfs_seekcheck: SEEK_DATA / SEEK_HOLE must never call written data a
 * hole.
 *
 *   cowfs_seekcheck [-w SIZE [-m]] FILE OFF:LEN ...
 *
 * Each OFF:LEN names a range of FILE that holds non-zero data. A
 * filesystem may report any range as data (reporting no holes at all is
 * correct), so the checks are one-sided:
 *   - SEEK_DATA from the start of each written range returns that start;
 *   - SEEK_HOLE from every 4 KiB step inside a written range returns an
 *     offset at or past the range's end;
 *   - walking the file by SEEK_DATA / SEEK_HOLE, every range reported as a
 *     hole reads as zeros, and the walk ends at the file size;
 *   - SEEK_DATA and SEEK_HOLE at the end of the file fail with ENXIO.
 *
 * With -w, the helper first creates FILE with size SIZE and writes the
 * ranges itself (seeded data with no zero bytes), with pwrite or, with -m,
 * through a shared writable mapping that stays in place. It then checks,
 * with no fsync, no close and no msync in between, first through the
 * descriptor it wrote with and then from a child process that opens the
 * file anew while the parent still holds it open: this is what cp or tar
 * does to a file another program is still writing.
 *
 * Prints one line per check, prefixed with where it ran; the first
 * violation of each check goes to stderr.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/helpers.h"

#define STEP 4096

struct range {
	uint64_t off, len;
};

static int zeros(int fd, uint64_t off, uint64_t len)
{
	static char buf[1 << 16];

	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		size_t i;

		if (tst_pread_full(fd, buf, n, off) < 0)
			return 0;
		for (i = 0; i < n; i++)
			if (buf[i])
				return 0;
		off += n;
		len -= n;
	}
	return 1;
}

static void check(int fd, const struct range *r, int nr, const char *where)
{
	struct stat st;
	uint64_t size, pos;
	int i, ok;

	if (fstat(fd, &st) < 0)
		tst_die(1, "fstat");
	size = (uint64_t)st.st_size;

	ok = 1;
	for (i = 0; i < nr && ok; i++) {
		off_t d = lseek(fd, (off_t)r[i].off, SEEK_DATA);

		if (d != (off_t)r[i].off) {
			fprintf(stderr, "%s: SEEK_DATA(%llu) = %lld (%s)\n",
				where, (unsigned long long)r[i].off,
				(long long)d,
				d < 0 ? tst_errname(errno) : "not the start");
			ok = 0;
		}
	}
	printf("%s: SEEK_DATA finds each written range: %s\n", where,
	       ok ? "ok" : "FAILED");

	ok = 1;
	for (i = 0; i < nr && ok; i++) {
		uint64_t end = r[i].off + r[i].len;

		for (pos = r[i].off; pos < end && ok; pos += STEP) {
			off_t h = lseek(fd, (off_t)pos, SEEK_HOLE);

			if (h < 0 || (uint64_t)h < end) {
				fprintf(stderr,
					"%s: SEEK_HOLE(%llu) = %lld (%s) inside "
					"data written up to %llu\n",
					where, (unsigned long long)pos,
					(long long)h,
					h < 0 ? tst_errname(errno) : "hole",
					(unsigned long long)end);
				ok = 0;
			}
		}
	}
	printf("%s: no hole reported inside written data: %s\n", where,
	       ok ? "ok" : "FAILED");

	/* Walk: [pos, data) is a hole, [data, hole) is data. */
	ok = 1;
	pos = 0;
	while (pos < size) {
		off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
		off_t h;

		if (d < 0 && errno == ENXIO)
			d = (off_t)size;
		if (d < 0 || (uint64_t)d < pos || (uint64_t)d > size) {
			fprintf(stderr, "%s: walk: SEEK_DATA(%llu) = %lld\n",
				where, (unsigned long long)pos, (long long)d);
			ok = 0;
			break;
		}
		if (!zeros(fd, pos, (uint64_t)d - pos)) {
			fprintf(stderr,
				"%s: walk: hole [%llu, %lld) has data\n",
				where, (unsigned long long)pos, (long long)d);
			ok = 0;
			break;
		}
		if ((uint64_t)d == size)
			break;
		h = lseek(fd, d, SEEK_HOLE);
		if (h <= d || (uint64_t)h > size) {
			fprintf(stderr, "%s: walk: SEEK_HOLE(%lld) = %lld\n",
				where, (long long)d, (long long)h);
			ok = 0;
			break;
		}
		pos = (uint64_t)h;
	}
	printf("%s: holes read as zeros, walk ends at EOF: %s\n", where,
	       ok ? "ok" : "FAILED");

	errno = 0;
	ok = lseek(fd, (off_t)size, SEEK_DATA) < 0 && errno == ENXIO;
	errno = 0;
	ok = ok && lseek(fd, (off_t)size, SEEK_HOLE) < 0 && errno == ENXIO;
	printf("%s: SEEK_DATA/SEEK_HOLE at EOF fail ENXIO: %s\n", where,
	       ok ? "ok" : "FAILED");
}

/* Seeded bytes with no zeros, so a range can never look like a hole. */
static void fill_nonzero(unsigned char *p, uint64_t len, uint64_t off)
{
	uint64_t i;

	tst_fill_pattern(p, len, 0xda7a, off);
	for (i = 0; i < len; i++)
		p[i] |= 1;
}

static void write_ranges(int fd, uint64_t size, const struct range *r,
			 int nr, int use_mmap)
{
	unsigned char *map = NULL;
	int i;

	if (ftruncate(fd, (off_t)size) < 0)
		tst_die(1, "ftruncate");
	if (use_mmap) {
		map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			   0);
		if (map == MAP_FAILED)
			tst_die(1, "mmap");
	}
	for (i = 0; i < nr; i++) {
		unsigned char *buf;

		if (map) {
			fill_nonzero(map + r[i].off, r[i].len, r[i].off);
			continue;
		}
		buf = malloc(r[i].len);
		if (!buf)
			tst_die(1, "malloc");
		fill_nonzero(buf, r[i].len, r[i].off);
		if (tst_pwrite_full(fd, buf, r[i].len, r[i].off) < 0)
			tst_die(1, "pwrite");
		free(buf);
	}
	/* The mapping stays until exit: dirty, shared and writable. */
}

int main(int argc, char **argv)
{
	uint64_t wsize = 0, size;
	int use_mmap = 0, do_write = 0, opt, fd, i, nr;
	struct range *r;
	struct stat st;

	while ((opt = getopt(argc, argv, "w:m")) != -1) {
		switch (opt) {
		case 'w': wsize = tst_parse_size(optarg); do_write = 1; break;
		case 'm': use_mmap = 1; break;
		default: tst_die(0, "bad option");
		}
	}
	if (optind >= argc || (use_mmap && !do_write))
		tst_die(0, "usage: cowfs_seekcheck [-w SIZE [-m]] FILE OFF:LEN ...");
	nr = argc - optind - 1;
	r = calloc((size_t)(nr > 0 ? nr : 1), sizeof(*r));
	if (!r)
		tst_die(1, "calloc");
	for (i = 0; i < nr; i++) {
		char *arg = argv[optind + 1 + i], *colon = strchr(arg, ':');

		if (!colon)
			tst_die(0, "bad range \"%s\"", arg);
		*colon = '\0';
		r[i].off = tst_parse_size(arg);
		r[i].len = tst_parse_size(colon + 1);
	}

	fd = open(argv[optind],
		  do_write ? O_RDWR | O_CREAT | O_TRUNC : O_RDONLY, 0644);
	if (fd < 0)
		tst_die(1, "open %s", argv[optind]);
	if (do_write)
		write_ranges(fd, wsize, r, nr, use_mmap);
	if (fstat(fd, &st) < 0)
		tst_die(1, "fstat");
	size = (uint64_t)st.st_size;
	for (i = 0; i < nr; i++)
		if (r[i].off + r[i].len > size)
			tst_die(0, "range %d lies past the end of the file", i);

	check(fd, r, nr, do_write ? "writer" : "reader");
	if (do_write) {
		pid_t pid;
		int status;

		fflush(stdout);
		pid = fork();
		if (pid < 0)
			tst_die(1, "fork");
		if (pid == 0) {
			int cfd = open(argv[optind], O_RDONLY);

			if (cfd < 0)
				tst_die(1, "open %s in child", argv[optind]);
			check(cfd, r, nr, "other process");
			fflush(stdout);
			_exit(0);
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			tst_die(0, "child failed");
	}
	close(fd);
	free(r);
	return 0;
}
