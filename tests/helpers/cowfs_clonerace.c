/*
 * cowfs_clonerace: clone a file over and over while other threads write to
 * it and read the clones; every clone must hold exactly what the source
 * held where it was cloned.
 *
 *   cowfs_clonerace [-w WRITERS] [-R READERS] [-n ITERATIONS]
 *                   [-r REGION] [-k KEEP] [-s SEED] DIR
 *
 * DIR/src is cut into 2 * WRITERS regions of REGION bytes (default 200003,
 * so that regions, blocks and pages do not line up). In iteration i every
 * writer thread t rewrites region 2t + i % 2 (first with wrong bytes, then
 * with the right ones, in pieces of random length), while the cloner
 * thread clones each region of the other parity, which nobody writes in
 * that iteration, with copy_file_range into a new file DIR/clone.i at the
 * same offset (every third iteration 1000 bytes further, so that nothing
 * is block aligned and the edges are copied). Meanwhile the reader threads
 * check the clones of the two previous iterations and the source's stable
 * regions. A pthread barrier ends each iteration, so what every region
 * holds at any time is known: the bytes of seed (SEED, iteration that last
 * wrote it, region). No lock serializes the file system calls themselves.
 *
 * The cloner deletes each clone three iterations later, except every
 * KEEP-th (default 8), which stays and is checked once more at the end,
 * after many more writes to the source; so are the source and the last
 * clone. Writers call fdatasync now and then, so commits race with the
 * clones and the copy-on-write.
 *
 * Prints one summary line, the same on every correct run; the first
 * mismatches found go to standard error. Exits 0 even when a check fails
 * (the golden output tells), 2 when the helper itself cannot run.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "tests/common/helpers.h"

#define MAX_THREADS 16
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define SHIFT 1000 /* where an unaligned clone puts its regions */

static struct {
	const char *dir;
	unsigned writers, readers, iterations, keep;
	size_t region;
	uint64_t seed;
	int src_rd, src_wr;	/* the source: readers' and writers' fds */
	pthread_barrier_t barrier;
	pthread_mutex_t lock;	/* protects the counters below */
	unsigned long mismatches, checks, clones;
	int error;		/* first errno a system call failed with */
} g = {
	.writers = 3,
	.readers = 2,
	.iterations = 40,
	.keep = 8,
	.region = 200003,
	.seed = 1,
};

static unsigned nregions(void)
{
	return 2 * g.writers;
}

/* The seed of region @r's bytes once iteration @it has written it. */
static uint64_t region_seed(long it, unsigned r)
{
	return g.seed * 1000003 + (uint64_t)(it + 1) * 1009 + r;
}

/* The iteration that last wrote region @r before iteration @i ran (-1:
 * the initial contents). Regions of parity p are written when i % 2 == p. */
static long last_written(long i, unsigned r)
{
	long it = i - 1;

	while (it >= 0 && (unsigned long)it % 2 != r % 2)
		it--;
	return it;
}

/* The offset of region @r in the clone of iteration @i. */
static uint64_t clone_shift(long i)
{
	return i % 3 == 2 ? SHIFT : 0;
}

static void clone_path(char *buf, size_t len, long i)
{
	snprintf(buf, len, "%s/clone.%ld", g.dir, i);
}

static void fail_errno(const char *what)
{
	int err = errno;

	pthread_mutex_lock(&g.lock);
	if (!g.error) {
		g.error = err;
		fprintf(stderr, "cowfs_clonerace: %s: %s\n", what,
			strerror(err));
	}
	pthread_mutex_unlock(&g.lock);
}

static void mismatch(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void mismatch(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&g.lock);
	if (g.mismatches++ < 10) {
		va_start(ap, fmt);
		fputs("cowfs_clonerace: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	pthread_mutex_unlock(&g.lock);
}

static void count_check(void)
{
	pthread_mutex_lock(&g.lock);
	g.checks++;
	pthread_mutex_unlock(&g.lock);
}

/* Compares @buf with @len bytes of pattern @seed at @off; the first bad
 * byte's index, or -1. A seed of 0 means zeros. */
static long first_diff(const unsigned char *buf, size_t len, uint64_t seed,
		       uint64_t off, unsigned char *scratch)
{
	if (seed)
		tst_fill_pattern(scratch, len, seed, off);
	else
		memset(scratch, 0, len);
	if (!memcmp(buf, scratch, len))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != scratch[i])
			return (long)i;
	return -1;
}

/*
 * Checks the clone of iteration @i: the regions cloned then hold what the
 * source held, everything else is zeros, and the size is the end of the
 * last region cloned.
 */
static void check_clone(long i, const char *when)
{
	size_t total = nregions() * g.region + SHIFT, shift = clone_shift(i);
	unsigned char *buf = malloc(total), *want = malloc(total);
	unsigned last = nregions() - 1;
	char path[PATH_MAX];
	uint64_t expect_size;
	ssize_t n;
	int fd;

	if (!buf || !want)
		tst_die(0, "out of memory");
	/* The last region of the parity cloned in iteration i. */
	if (last % 2 == (unsigned long)i % 2)
		last--;
	expect_size = (last + 1) * g.region + shift;
	clone_path(path, sizeof(path), i);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		fail_errno(path);
		goto out;
	}
	memset(buf, 0xa5, total);
	n = pread(fd, buf, total, 0);
	close(fd);
	if (n < 0) {
		fail_errno(path);
		goto out;
	}
	if ((uint64_t)n != expect_size)
		mismatch("%s clone.%ld: %zd bytes, not %llu", when, i, n,
			 (unsigned long long)expect_size);
	for (unsigned r = 0; r < nregions(); r++) {
		bool cloned = r % 2 != (unsigned long)i % 2;
		uint64_t off = r * g.region;
		long it = last_written(i, r), d;

		if (off + shift >= (uint64_t)n)
			break;
		d = first_diff(buf + off + shift,
			       MIN(g.region, (size_t)n - off - shift),
			       cloned ? region_seed(it, r) : 0, off, want);
		if (d >= 0)
			mismatch("%s clone.%ld: region %u (%s) wrong at byte"
				 " %ld",
				 when, i, r, cloned ? "cloned" : "hole", d);
	}
	if (shift && first_diff(buf, MIN(shift, (size_t)n), 0, 0, want) >= 0)
		mismatch("%s clone.%ld: not zeros before the first region",
			 when, i);
	count_check();
out:
	free(buf);
	free(want);
}

/* Checks region @r of the source, last written by iteration @it. */
static void check_source_region(unsigned r, long it, const char *when)
{
	unsigned char *buf = malloc(g.region), *want = malloc(g.region);
	int rc;
	long d;

	if (!buf || !want)
		tst_die(0, "out of memory");
	rc = tst_pread_full(g.src_rd, buf, g.region, r * g.region);
	if (rc) {
		errno = -rc;
		fail_errno("read the source");
	} else if ((d = first_diff(buf, g.region, region_seed(it, r),
				   r * g.region, want)) >= 0) {
		mismatch("%s source region %u (written in iteration %ld)"
			 " wrong at byte %ld",
			 when, r, it, d);
	}
	count_check();
	free(buf);
	free(want);
}

/* Writes region @r with the bytes of @seed in pieces of random length. */
static void write_region(unsigned r, uint64_t seed, uint64_t *rng)
{
	unsigned char *buf = malloc(g.region);
	uint64_t base = r * g.region;
	size_t pos = 0;

	if (!buf)
		tst_die(0, "out of memory");
	tst_fill_pattern(buf, g.region, seed, base);
	while (pos < g.region) {
		size_t n = 1 + tst_rand_next(rng) % 90000;

		n = MIN(n, g.region - pos);
		if (tst_rand_next(rng) % 4 == 0) {
			/* Wrong bytes first: only the right ones may stay. */
			unsigned char junk[4096];

			memset(junk, 0xee, sizeof(junk));
			if (pwrite(g.src_wr, junk, MIN(n, sizeof(junk)),
				   (off_t)(base + pos)) < 0)
				fail_errno("write the source");
		}
		if (tst_pwrite_full(g.src_wr, buf + pos, n, base + pos) < 0)
			fail_errno("write the source");
		pos += n;
	}
	free(buf);
}

static void *writer(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	uint64_t rng = g.seed * 7919 + t;

	for (long i = 0; i < (long)g.iterations; i++) {
		unsigned r = 2 * t + (unsigned)(i % 2);

		write_region(r, region_seed(i, r), &rng);
		if ((i + t) % 5 == 4 && fdatasync(g.src_wr) < 0)
			fail_errno("fdatasync the source");
		pthread_barrier_wait(&g.barrier);
	}
	return NULL;
}

/* Clones region @r of the source into @fd at its offset plus @shift. */
static void clone_region(int fd, unsigned r, uint64_t shift)
{
	loff_t in = (loff_t)(r * g.region), out = (loff_t)(in + shift);
	size_t left = g.region;

	while (left > 0) {
		ssize_t n = copy_file_range(g.src_rd, &in, fd, &out, left, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			fail_errno("copy_file_range");
			return;
		}
		left -= (size_t)n;
	}
}

static void *cloner(void *arg)
{
	char path[PATH_MAX];

	(void)arg;
	for (long i = 0; i < (long)g.iterations; i++) {
		int fd;

		if (i >= 3 && (i - 3) % g.keep != 0) {
			clone_path(path, sizeof(path), i - 3);
			if (unlink(path) < 0)
				fail_errno("unlink an old clone");
		}
		clone_path(path, sizeof(path), i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			fail_errno(path);
		} else {
			for (unsigned r = 0; r < nregions(); r++)
				if (r % 2 != (unsigned long)i % 2)
					clone_region(fd, r, clone_shift(i));
			if (close(fd) < 0)
				fail_errno("close a clone");
			pthread_mutex_lock(&g.lock);
			g.clones++;
			pthread_mutex_unlock(&g.lock);
		}
		pthread_barrier_wait(&g.barrier);
	}
	return NULL;
}

static void *reader(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;

	for (long i = 0; i < (long)g.iterations; i++) {
		/* A clone of the last two iterations (the cloner deletes
		 * the one before those). */
		long j = i - 1 - (long)(id % 2);

		if (j >= 0)
			check_clone(j, "during the run:");
		/* The source regions nobody writes in this iteration. */
		for (unsigned r = id; r < nregions(); r += g.readers)
			if (r % 2 != (unsigned long)i % 2)
				check_source_region(r, last_written(i, r),
						    "during the run:");
		pthread_barrier_wait(&g.barrier);
	}
	return NULL;
}

static void usage(void)
{
	tst_die(0, "usage: cowfs_clonerace [-w WRITERS] [-R READERS]"
		   " [-n ITERATIONS] [-r REGION] [-k KEEP] [-s SEED] DIR");
}

int main(int argc, char **argv)
{
	pthread_t tid[MAX_THREADS * 2 + 1];
	char path[PATH_MAX];
	unsigned nthreads = 0;
	uint64_t rng;
	int c, fd;

	while ((c = getopt(argc, argv, "w:R:n:r:k:s:")) != -1) {
		switch (c) {
		case 'w': g.writers = (unsigned)tst_parse_size(optarg); break;
		case 'R': g.readers = (unsigned)tst_parse_size(optarg); break;
		case 'n': g.iterations = (unsigned)tst_parse_size(optarg); break;
		case 'r': g.region = (size_t)tst_parse_size(optarg); break;
		case 'k': g.keep = (unsigned)tst_parse_size(optarg); break;
		case 's': g.seed = tst_parse_size(optarg); break;
		default: usage();
		}
	}
	if (argc - optind != 1 || !g.writers || g.writers > MAX_THREADS ||
	    !g.readers || g.readers > MAX_THREADS || !g.keep ||
	    g.region < 1)
		usage();
	g.dir = argv[optind];
	pthread_mutex_init(&g.lock, NULL);

	snprintf(path, sizeof(path), "%s/src", g.dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		tst_die(1, "create %s", path);
	g.src_wr = fd;
	g.src_rd = open(path, O_RDONLY);
	if (g.src_rd < 0)
		tst_die(1, "open %s", path);
	rng = g.seed;
	for (unsigned r = 0; r < nregions(); r++)
		write_region(r, region_seed(-1, r), &rng);
	if (fsync(fd) < 0)
		tst_die(1, "fsync %s", path);

	pthread_barrier_init(&g.barrier, NULL,
			     g.writers + g.readers + 1);
	for (unsigned t = 0; t < g.writers; t++)
		if (pthread_create(&tid[nthreads++], NULL, writer,
				   (void *)(uintptr_t)t))
			tst_die(0, "pthread_create");
	for (unsigned t = 0; t < g.readers; t++)
		if (pthread_create(&tid[nthreads++], NULL, reader,
				   (void *)(uintptr_t)t))
			tst_die(0, "pthread_create");
	if (pthread_create(&tid[nthreads++], NULL, cloner, NULL))
		tst_die(0, "pthread_create");
	for (unsigned t = 0; t < nthreads; t++)
		pthread_join(tid[t], NULL);

	/* What stays: every KEEP-th clone, the last three, the source. */
	for (long i = 0; i < (long)g.iterations; i++)
		if (i % g.keep == 0 || i >= (long)g.iterations - 3)
			check_clone(i, "at the end:");
	for (unsigned r = 0; r < nregions(); r++)
		check_source_region(r, last_written(g.iterations, r),
				    "at the end:");
	close(g.src_rd);
	if (close(g.src_wr) < 0)
		fail_errno("close the source");

	if (g.error)
		printf("clonerace: stopped by an error (%s)\n",
		       tst_errname(g.error));
	else if (g.mismatches)
		printf("clonerace: %lu mismatches in %lu checks\n", g.mismatches,
		       g.checks);
	else
		printf("clonerace: %u iterations, %u writers, %u readers, %lu"
		       " clones: every clone and the source correct\n",
		       g.iterations, g.writers, g.readers, g.clones);
	return 0;
}
