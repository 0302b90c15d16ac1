/*
 * cowfs_crashload: a workload to kill cowfs under, and its checker.
 *
 *	cowfs_crashload run DIR LOG SEED
 *	cowfs_crashload check DIR LOG
 *
 * run works on files DIR/f0 .. DIR/f7 in rounds until it is killed or the
 * mount goes away. A round picks one file and, before touching it, appends
 * "B <n>" to LOG (outside the mount) and makes that line durable; then it
 * writes, truncates, punches a hole, clones a range of another file into
 * it (copy_file_range) or replaces it by a renamed temporary file; then it
 * fsyncs the file (or the directory, after a rename), reads the file back
 * and appends "R <n> <size> <hash>". A file whose last line is "R" was
 * idle when the daemon died: its content was made durable by fsync and
 * must be exactly what the line says. A file whose last line is "B" was
 * in flight: any content is allowed, but it must be readable.
 *
 * run starts by recording every file as it is ("R" lines), so each run
 * continues from whatever the previous crash left.
 *
 * check prints "checked N idle files, M in flight" and exits 0, or names
 * each mismatch and exits 1.
 *
 * For the diagnosis of a mismatch, run also keeps the content of each
 * file as last recorded in LOG.fN (not synced: the host does not crash);
 * check then says which byte ranges differ and whether the file holds
 * zeros or another file's recorded data there.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/common/helpers.h"

#define NFILES 8
#define MAXSIZE (2u << 20)
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static char dir[4096];
static const char *logname;
static int logfd = -1;

static void path_of(char *buf, size_t len, int n)
{
	snprintf(buf, len, "%s/f%d", dir, n);
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(logfd, line, (size_t)len) != len || fdatasync(logfd) < 0)
		tst_die(1, "write log");
}

/* FNV-1a of the file's content; -errno if it cannot be read. */
static int hash_file(const char *path, uint64_t *size, uint64_t *hash)
{
	static unsigned char buf[1 << 16];
	uint64_t h = 0xcbf29ce484222325ull, total = 0;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
		total += (uint64_t)n;
	}
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	*size = total;
	*hash = h;
	return 0;
}

/* Ends the run quietly once the mount is gone (the daemon was killed). */
static void check_io(int rc, const char *what)
{
	if (rc >= 0)
		return;
	if (errno == ENOTCONN || errno == ECONNABORTED || errno == EIO ||
	    errno == ENODEV)
		exit(0);
	tst_die(1, "%s", what);
}

/* Reads all of @path into a new buffer; its length in *@len. */
static unsigned char *slurp(const char *path, size_t *len)
{
	unsigned char *buf = malloc(MAXSIZE + (1 << 20));
	int fd = open(path, O_RDONLY);
	ssize_t n;

	*len = 0;
	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + *len, MAXSIZE + (1 << 20) - *len)) > 0)
		*len += (size_t)n;
	close(fd);
	return buf;
}

/* Keeps the recorded content of file @n beside the log (LOG.fN). */
static void keep_copy(int n, const char *path)
{
	char copy[4200], tmp[4300];
	size_t len;
	unsigned char *buf = slurp(path, &len);
	int fd;

	if (!buf)
		return;
	snprintf(copy, sizeof(copy), "%s.f%d", logname, n);
	snprintf(tmp, sizeof(tmp), "%s.tmp", copy);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0 && write(fd, buf, len) == (ssize_t)len)
		rename(tmp, copy);
	if (fd >= 0)
		close(fd);
	free(buf);
}

static void record(int n)
{
	char path[4200];
	uint64_t size, hash;
	int rc;

	path_of(path, sizeof(path), n);
	rc = hash_file(path, &size, &hash);
	if (rc < 0) {
		errno = -rc;
		check_io(-1, path);
	}
	keep_copy(n, path);
	log_line("R %d %llu %llx\n", n, (unsigned long long)size,
		 (unsigned long long)hash);
}

static void one_round(uint64_t *rs)
{
	static unsigned char buf[256 << 10];
	char path[4200], other[4200], tmp[4200];
	int n = (int)(tst_rand_next(rs) % NFILES), m, fd, src, dfd, op;
	uint64_t off, len;

	path_of(path, sizeof(path), n);
	log_line("B %d\n", n);
	op = (int)(tst_rand_next(rs) % 10);
	if (op == 9) {
		/* Replace the file: a new one renamed over it. */
		snprintf(tmp, sizeof(tmp), "%s/tmp%d", dir, n);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		check_io(fd, tmp);
		len = tst_rand_next(rs) % sizeof(buf);
		tst_fill_pattern(buf, len, tst_rand_next(rs), 0);
		check_io((int)write(fd, buf, len), "write tmp");
		check_io(fsync(fd), "fsync tmp");
		close(fd);
		check_io(rename(tmp, path), "rename");
		dfd = open(dir, O_RDONLY | O_DIRECTORY);
		check_io(dfd, dir);
		check_io(fsync(dfd), "fsync dir");
		close(dfd);
		record(n);
		return;
	}
	fd = open(path, O_RDWR);
	check_io(fd, path);
	off = tst_rand_next(rs) % MAXSIZE;
	len = 1 + tst_rand_next(rs) % sizeof(buf);
	if (off + len > MAXSIZE)
		len = MAXSIZE - off;
	switch (op) {
	case 0: case 1: case 2: case 3:
		tst_fill_pattern(buf, len, tst_rand_next(rs), off);
		check_io(tst_pwrite_full(fd, buf, len, off) < 0 ? -1 : 0,
			 "pwrite");
		break;
	case 4:
		check_io(ftruncate(fd, (off_t)off), "ftruncate");
		break;
	case 5:
		check_io(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   (off_t)off, (off_t)len), "punch");
		break;
	default: {
		/* Clone a range of another (idle) file into this one. */
		loff_t in, out;

		m = (n + 1 + (int)(tst_rand_next(rs) % (NFILES - 1))) % NFILES;
		path_of(other, sizeof(other), m);
		src = open(other, O_RDONLY);
		check_io(src, other);
		in = (loff_t)(tst_rand_next(rs) % MAXSIZE);
		out = (loff_t)off;
		if (tst_rand_next(rs) & 1) { /* block-aligned: shares */
			in &= ~(loff_t)65535;
			out &= ~(loff_t)65535;
			len = (len + 65535) & ~65535ull;
		}
		if (copy_file_range(src, &in, fd, &out, len, 0) < 0)
			check_io(-1, "copy_file_range");
		close(src);
	}
	}
	check_io(fsync(fd), "fsync");
	close(fd);
	record(n);
}

static int run(const char *seed) __attribute__((noreturn));
static int run(const char *seed)
{
	uint64_t rs = strtoull(seed, NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
	char path[4200];

	for (int n = 0; n < NFILES; n++) {
		int fd;

		path_of(path, sizeof(path), n);
		fd = open(path, O_WRONLY | O_CREAT, 0644);
		check_io(fd, path);
		check_io(fsync(fd), "fsync");
		close(fd);
		record(n);
	}
	for (;;)
		one_round(&rs);
}

struct expect {
	char state;	/* 0 never seen, 'B' in flight, 'R' recorded */
	uint64_t size, hash;
};

/*
 * Says how file @n differs from its kept copy: each run of differing
 * 4 KiB pages, and what the file holds there (zeros, or the kept data of
 * another file at the same offset).
 */
static void explain(int n, const char *path)
{
	char copy[4200];
	size_t glen, wlen, olen[NFILES];
	unsigned char *got = slurp(path, &glen), *want, *other[NFILES];

	snprintf(copy, sizeof(copy), "%s.f%d", logname, n);
	want = slurp(copy, &wlen);
	if (!got || !want) {
		printf("  (no kept copy to compare with)\n");
		free(got);
		free(want);
		return;
	}
	for (int m = 0; m < NFILES; m++) {
		snprintf(copy, sizeof(copy), "%s.f%d", logname, m);
		other[m] = m == n ? NULL : slurp(copy, &olen[m]);
	}
	for (size_t p = 0; p < MIN(glen, wlen); p += 4096) {
		size_t k = MIN(4096, MIN(glen, wlen) - p), q = p;
		bool zero = true;
		int from = -1;

		if (!memcmp(got + p, want + p, k))
			continue;
		while (q + 4096 < MIN(glen, wlen) &&
		       memcmp(got + q + 4096, want + q + 4096,
			      MIN(4096, MIN(glen, wlen) - q - 4096)))
			q += 4096;
		for (size_t i = p; i < q + 4096 && i < glen; i++)
			zero &= got[i] == 0;
		for (int m = 0; m < NFILES && !zero; m++)
			if (other[m] && olen[m] >= p + k &&
			    !memcmp(got + p, other[m] + p, k))
				from = m;
		printf("  bytes %zu-%zu differ: %s\n", p,
		       MIN(q + 4096, MIN(glen, wlen)) - 1,
		       zero ? "zeros" : from >= 0 ? "another file's data" : "other data");
		if (from >= 0)
			printf("  (the kept copy of f%d has them at the same offset)\n", from);
		p = q;
	}
	for (int m = 0; m < NFILES; m++)
		free(other[m]);
	free(got);
	free(want);
}

static int check(const char *logpath)
{
	struct expect ex[NFILES] = { { 0 } };
	char line[256], path[4200];
	int idle = 0, busy = 0, bad = 0;
	FILE *f = fopen(logpath, "r");

	if (!f)
		tst_die(1, "%s", logpath);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long size, hash;
		int n;

		if (sscanf(line, "R %d %llu %llx", &n, &size, &hash) == 3 &&
		    n >= 0 && n < NFILES) {
			ex[n].state = 'R';
			ex[n].size = size;
			ex[n].hash = hash;
		} else if (sscanf(line, "B %d", &n) == 1 && n >= 0 &&
			   n < NFILES) {
			ex[n].state = 'B';
		}
		/* A torn last line (the writer was killed) is ignored. */
	}
	fclose(f);
	for (int n = 0; n < NFILES; n++) {
		uint64_t size, hash;
		int rc;

		if (!ex[n].state)
			continue;
		path_of(path, sizeof(path), n);
		rc = hash_file(path, &size, &hash);
		if (ex[n].state == 'B') {
			busy++;
			if (rc < 0 && rc != -ENOENT) {
				printf("f%d (in flight): unreadable: %s\n", n,
				       tst_errname(-rc));
				bad++;
			}
			continue;
		}
		idle++;
		if (rc < 0) {
			printf("f%d: %s\n", n, tst_errname(-rc));
			bad++;
		} else if (size != ex[n].size || hash != ex[n].hash) {
			printf("f%d: fsynced state lost: size %llu hash %llx, expected size %llu hash %llx\n",
			       n, (unsigned long long)size,
			       (unsigned long long)hash,
			       (unsigned long long)ex[n].size,
			       (unsigned long long)ex[n].hash);
			explain(n, path);
			bad++;
		}
	}
	printf("checked %d idle files, %d in flight\n", idle, busy);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "run")) {
		snprintf(dir, sizeof(dir), "%s", argv[2]);
		logname = argv[3];
		logfd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (logfd < 0)
			tst_die(1, "%s", argv[3]);
		return run(argv[4]);
	}
	if (argc == 4 && !strcmp(argv[1], "check")) {
		snprintf(dir, sizeof(dir), "%s", argv[2]);
		logname = argv[3];
		return check(argv[3]);
	}
	fprintf(stderr, "usage: cowfs_crashload run DIR LOG SEED | check DIR LOG\n");
	return 2;
}
