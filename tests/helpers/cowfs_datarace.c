/*
 * cowfs_datarace: threads reading one file while others write or truncate
 * it; every byte a read returns must be one the file could hold at that
 * moment, never garbage.
 *
 *   cowfs_datarace rw [-w WRITERS] [-R READERS] [-n WRITES] [-S SIZE]
 *                  [-s SEED] [-d] [-f] FILE
 *   cowfs_datarace verify-rw [same options] FILE
 *   cowfs_datarace trunc [-R READERS] [-n TRUNCATES] [-S SIZE] [-s SEED]
 *                  [-d] FILE OTHER
 *   cowfs_datarace verify-trunc [same options] FILE
 *
 * MODE rw: FILE is made SIZE bytes long (default 1 MiB, whole 4 KiB
 * records) and every record is written with generation 0 of its pattern.
 * Writer w owns the w-th of WRITERS equal runs of records (their edges
 * fall inside 64 KiB blocks) and does WRITES buffered writes of 1 to 16
 * records at seeded random places in its run, each record with its next
 * generation. Each record's pattern depends on (SEED, generation, offset),
 * so a byte tells which generation it belongs to. Before a write, the
 * writer publishes the generations it is about to write ("started"), after
 * it those it has written ("done"). Readers meanwhile make single pread
 * calls at random unaligned offsets and lengths (up to 256 KiB, so across
 * blocks; with -d O_DIRECT reads of whole 4 KiB pages): for every record
 * a read covers, each byte must belong to a generation between "done"
 * before the read and "started" after it: neither older than a finished
 * write nor anything never written there. A record mixing two such
 * generations is allowed (a read may overlap a write) and only counted.
 * A read inside the file must not come back short or fail. At the end the
 * file must hold the last generation of every record. -f: writers call
 * fdatasync now and then, so commits race with the reads.
 * MODE verify-rw: only the final check (the writers' choices depend only
 * on the seed), e.g. after a remount.
 *
 * MODE trunc: FILE is written with one pattern over SIZE bytes (default
 * 1 MiB + 12345). One thread truncates it TRUNCATES times to seeded
 * sizes, down and up, unaligned, from SIZE / 4 to SIZE + 256 KiB, with an
 * fdatasync every 8 (so freed blocks are released); another thread
 * rewrites OTHER with different bytes, with O_DIRECT (so its blocks are
 * allocated at once, not at write-back), and fdatasyncs it, so that freed
 * blocks are reused while the readers read FILE. A read may be short,
 * and may return zeros where a truncate has cut the file, but it must not
 * fail, and every byte must be the pattern's or zero; below the lowest
 * size cut to so far it must be the pattern's. At the end FILE must be
 * the last size, the pattern below the lowest size ever cut to and zeros
 * above it.
 * MODE verify-trunc: only the final check.
 *
 * Prints one summary line per mode, the same on every correct run; counts
 * and the first mismatches go to standard error. Exits 0 even when a check
 * fails (the output tells), 2 when the helper itself cannot run.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/common/helpers.h"

#define REC 4096u			/* a record: one page */
#define MAX_WRITE_RECS 16u		/* a write covers 1..16 records */
#define MAX_READ (256u * 1024)		/* longest read */
#define TRUNC_EXTRA (256u * 1024)	/* truncate up to SIZE + this */
#define MAX_REPORTS 5			/* mismatches told on stderr */

struct params {
	const char *path, *other;
	unsigned int writers, readers, count;
	uint64_t size, seed;
	int direct, fsync;
};

/* State shared by the threads of one run. */
static struct params P;
static uint64_t nrec;			/* records in FILE (mode rw) */
static _Atomic uint32_t *started;	/* per record: newest gen begun */
static _Atomic uint32_t *done;		/* per record: newest gen written */
static atomic_int stop;			/* writers/truncater finished */
static atomic_uint_fast64_t floor_size;	/* lowest size cut to (trunc) */
static atomic_uint_fast64_t nreads, ntorn, nshort, nbad;
static atomic_int failed;		/* some check or call failed */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static int reports;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A failure: counted, and the first few told on stderr. */
static void report(const char *fmt, ...)
{
	va_list ap;

	atomic_store(&failed, 1);
	pthread_mutex_lock(&report_lock);
	if (reports++ < MAX_REPORTS) {
		va_start(ap, fmt);
		fputs("cowfs_datarace: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	pthread_mutex_unlock(&report_lock);
}

/* The seed of generation gen of the rw pattern. */
static uint64_t gen_seed(uint32_t gen)
{
	return P.seed + (uint64_t)gen * 0x9e3779b97f4a7c15ULL + 1;
}

/* The byte of generation gen at file offset pos. */
static unsigned char gen_byte(uint32_t gen, uint64_t pos)
{
	unsigned char b;

	tst_fill_pattern(&b, 1, gen_seed(gen), pos);
	return b;
}

static void *xmalloc(size_t n)
{
	void *p;

	/* Aligned for O_DIRECT. */
	if (posix_memalign(&p, REC, n ? n : 1))
		tst_die(0, "out of memory");
	return p;
}

static int open_file(const char *path, int flags)
{
	int fd = open(path, flags | (P.direct && !(flags & O_WRONLY) &&
				     !(flags & O_RDWR) ? O_DIRECT : 0));

	if (fd < 0)
		tst_die(1, "open %s", path);
	return fd;
}

/*
 * Mode rw.
 */

/* One writer's choices, the same in rw and verify-rw: the next write's
 * first record and length. */
static void pick_write(uint64_t *st, unsigned int w, uint64_t *first,
		       unsigned int *n)
{
	uint64_t lo = nrec * w / P.writers, hi = nrec * (w + 1) / P.writers;
	uint64_t max;

	*first = lo + tst_rand_next(st) % (hi - lo);
	max = hi - *first < MAX_WRITE_RECS ? hi - *first : MAX_WRITE_RECS;
	*n = 1 + (unsigned int)(tst_rand_next(st) % max);
}

static uint64_t writer_state(unsigned int w)
{
	return P.seed * 31 + w + 7;
}

static void *rw_writer(void *arg)
{
	unsigned int w = (unsigned int)(uintptr_t)arg, i, k, n;
	uint64_t st = writer_state(w), first;
	unsigned char *buf = xmalloc(MAX_WRITE_RECS * REC);
	int fd = open(P.path, O_WRONLY);
	int rc;

	if (fd < 0)
		tst_die(1, "open %s", P.path);
	for (i = 0; i < P.count; i++) {
		pick_write(&st, w, &first, &n);
		for (k = 0; k < n; k++) {
			uint64_t r = first + k;
			uint32_t g = atomic_load(&done[r]) + 1;

			tst_fill_pattern(buf + (size_t)k * REC, REC,
					 gen_seed(g), r * REC);
			atomic_store(&started[r], g);
		}
		rc = tst_pwrite_full(fd, buf, (size_t)n * REC, first * REC);
		if (rc) {
			report("write at %llu: %s",
			       (unsigned long long)(first * REC),
			       tst_errname(-rc));
			break;
		}
		for (k = 0; k < n; k++)
			atomic_store(&done[first + k],
				     atomic_load(&started[first + k]));
		if (P.fsync && i % 32 == 31 && fdatasync(fd) < 0)
			report("fdatasync: %s", tst_errname(errno));
	}
	close(fd);
	free(buf);
	return NULL;
}

/* Checks the bytes of record r that a read returned (got, at file offset
 * pos, len bytes, all inside r) against generations lo..hi. */
static void check_record(uint64_t r, const unsigned char *got, uint64_t pos,
			 size_t len, uint32_t lo, uint32_t hi)
{
	uint32_t g, first_gen = 0;
	int mixed = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		for (g = lo; g <= hi; g++)
			if (got[i] == gen_byte(g, pos + i))
				break;
		if (g > hi) {
			report("record %llu: byte at %llu is 0x%02x, of no "
			       "generation %u..%u",
			       (unsigned long long)r,
			       (unsigned long long)(pos + i), got[i], lo, hi);
			atomic_fetch_add(&nbad, 1);
			return;
		}
		if (i == 0)
			first_gen = g;
		else if (g != first_gen && lo != hi)
			mixed = 1;
	}
	if (mixed)
		atomic_fetch_add(&ntorn, 1);
}

static void *rw_reader(void *arg)
{
	uint64_t st = P.seed ^ (0xabcdefULL + (uintptr_t)arg);
	unsigned char *buf = xmalloc(MAX_READ);
	uint32_t *lo = malloc((MAX_READ / REC + 2) * sizeof(*lo));
	int fd = open_file(P.path, O_RDONLY);

	if (!lo)
		tst_die(0, "out of memory");
	while (!atomic_load(&stop)) {
		uint64_t off, len, r0, r1, r;
		ssize_t n;

		if (P.direct) {
			off = tst_rand_next(&st) % nrec * REC;
			len = (1 + tst_rand_next(&st) % (MAX_READ / REC)) * REC;
		} else {
			off = tst_rand_next(&st) % P.size;
			len = 1 + tst_rand_next(&st) % MAX_READ;
		}
		if (off + len > P.size)
			len = P.size - off;
		r0 = off / REC;
		r1 = (off + len - 1) / REC;
		for (r = r0; r <= r1; r++)
			lo[r - r0] = atomic_load(&done[r]);
		n = pread(fd, buf, len, (off_t)off);
		atomic_fetch_add(&nreads, 1);
		if (n < 0) {
			report("read of %llu at %llu: %s",
			       (unsigned long long)len,
			       (unsigned long long)off, tst_errname(errno));
			break;
		}
		if ((uint64_t)n != len) {
			report("read of %llu at %llu inside the file returned "
			       "%zd", (unsigned long long)len,
			       (unsigned long long)off, n);
			atomic_fetch_add(&nshort, 1);
		}
		for (r = r0; r <= r1; r++) {
			uint64_t a = r * REC > off ? r * REC : off;
			uint64_t b = (r + 1) * REC < off + (uint64_t)n ?
					     (r + 1) * REC : off + (uint64_t)n;

			if (a >= b)
				break;
			check_record(r, buf + (a - off), a, (size_t)(b - a),
				     lo[r - r0], atomic_load(&started[r]));
		}
	}
	close(fd);
	free(lo);
	free(buf);
	return NULL;
}

/* The generation every record ends with: the writers' choices replayed. */
static uint32_t *final_gens(void)
{
	uint32_t *gen = calloc(nrec, sizeof(*gen));
	unsigned int w, i, k, n;

	if (!gen)
		tst_die(0, "out of memory");
	for (w = 0; w < P.writers; w++) {
		uint64_t st = writer_state(w), first;

		for (i = 0; i < P.count; i++) {
			pick_write(&st, w, &first, &n);
			for (k = 0; k < n; k++)
				gen[first + k]++;
		}
	}
	return gen;
}

/* Compares FILE with the final generations; prints the verdict. */
static void verify_rw(const char *what)
{
	uint32_t *gen = final_gens();
	unsigned char *got = xmalloc(REC), *want = xmalloc(REC);
	uint64_t r, bad = 0;
	struct stat stb;
	int fd = open(P.path, O_RDONLY), rc;

	if (fd < 0 || fstat(fd, &stb) < 0)
		tst_die(1, "open %s", P.path);
	if ((uint64_t)stb.st_size != P.size) {
		printf("%s: size %llu, expected %llu\n", what,
		       (unsigned long long)stb.st_size,
		       (unsigned long long)P.size);
		goto out;
	}
	for (r = 0; r < nrec; r++) {
		rc = tst_pread_full(fd, got, REC, r * REC);
		if (rc)
			tst_die(0, "read %s: %s", P.path, tst_errname(-rc));
		tst_fill_pattern(want, REC, gen_seed(gen[r]), r * REC);
		if (memcmp(got, want, REC)) {
			if (!bad)
				fprintf(stderr, "cowfs_datarace: record %llu "
					"is not generation %u\n",
					(unsigned long long)r, gen[r]);
			bad++;
		}
	}
	if (bad)
		printf("%s: %llu of %llu records wrong\n", what,
		       (unsigned long long)bad, (unsigned long long)nrec);
	else
		printf("%s: every record has its last generation\n", what);
out:
	close(fd);
	free(got);
	free(want);
	free(gen);
}

static void run_rw(void)
{
	pthread_t *tw = calloc(P.writers, sizeof(*tw));
	pthread_t *tr = calloc(P.readers, sizeof(*tr));
	unsigned char *buf = xmalloc(REC);
	unsigned int i;
	uint64_t r;
	int fd;

	if (!tw || !tr)
		tst_die(0, "out of memory");
	fd = open(P.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		tst_die(1, "create %s", P.path);
	for (r = 0; r < nrec; r++) {
		tst_fill_pattern(buf, REC, gen_seed(0), r * REC);
		if (tst_pwrite_full(fd, buf, REC, r * REC))
			tst_die(1, "write %s", P.path);
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		tst_die(1, "fsync %s", P.path);

	for (i = 0; i < P.readers; i++)
		if (pthread_create(&tr[i], NULL, rw_reader,
				   (void *)(uintptr_t)i))
			tst_die(0, "pthread_create failed");
	for (i = 0; i < P.writers; i++)
		if (pthread_create(&tw[i], NULL, rw_writer,
				   (void *)(uintptr_t)i))
			tst_die(0, "pthread_create failed");
	for (i = 0; i < P.writers; i++)
		pthread_join(tw[i], NULL);
	atomic_store(&stop, 1);
	for (i = 0; i < P.readers; i++)
		pthread_join(tr[i], NULL);
	fprintf(stderr, "cowfs_datarace rw: %llu reads, %llu with a record "
		"mixing two generations, %llu short, %llu with bad bytes\n",
		(unsigned long long)atomic_load(&nreads),
		(unsigned long long)atomic_load(&ntorn),
		(unsigned long long)atomic_load(&nshort),
		(unsigned long long)atomic_load(&nbad));
	if (atomic_load(&failed))
		printf("rw: reads returned wrong data or failed\n");
	else
		printf("rw: every read returned an old or a new generation\n");
	verify_rw("rw");
	free(buf);
	free(tw);
	free(tr);
}

/*
 * Mode trunc.
 */

/* The size of truncate number i (0-based), from the seed alone, not
 * aligned: even steps go to anywhere from SIZE / 4 to the top (so the
 * lowest quarter always holds the pattern), odd ones to the top quarter. */
static uint64_t trunc_size(uint64_t *st, unsigned int i)
{
	uint64_t top = P.size + TRUNC_EXTRA, low = P.size / 4;

	if (i % 2 == 0)
		return low + tst_rand_next(st) % (top - low + 1);
	return top - tst_rand_next(st) % (top / 4 + 1);
}

static void *truncater(void *arg)
{
	uint64_t st = P.seed * 17 + 3;
	unsigned int i;
	int fd = open(P.path, O_WRONLY);

	(void)arg;
	if (fd < 0)
		tst_die(1, "open %s", P.path);
	for (i = 0; i < P.count; i++) {
		uint64_t s = trunc_size(&st, i);

		if (s < atomic_load(&floor_size))
			atomic_store(&floor_size, s);
		if (ftruncate(fd, (off_t)s) < 0) {
			report("ftruncate to %llu: %s", (unsigned long long)s,
			       tst_errname(errno));
			break;
		}
		if (i % 8 == 7 && fdatasync(fd) < 0)
			report("fdatasync: %s", tst_errname(errno));
	}
	close(fd);
	atomic_store(&stop, 1);
	return NULL;
}

/* Rewrites OTHER again and again with bytes FILE never holds, so that
 * blocks FILE frees are soon reused: a read that still used a block
 * after a truncate freed it would return these bytes. */
static void *other_writer(void *arg)
{
	size_t len = 512 * 1024;
	unsigned char *buf = xmalloc(len);
	int fd = open(P.other, O_WRONLY | O_CREAT | O_DIRECT, 0644);
	unsigned int i = 0;

	(void)arg;
	if (fd < 0)
		tst_die(1, "create %s", P.other);
	tst_fill_pattern(buf, len, ~P.seed, 0);
	while (!atomic_load(&stop)) {
		int rc;

		if (ftruncate(fd, 0) < 0) {
			report("ftruncate %s: %s", P.other, tst_errname(errno));
			break;
		}
		rc = tst_pwrite_full(fd, buf, len, (i++ % 4) * 65536);
		if (!rc && fdatasync(fd) < 0)
			rc = -errno;
		if (rc) {
			report("write %s: %s", P.other, tst_errname(-rc));
			break;
		}
	}
	close(fd);
	free(buf);
	return NULL;
}

static void *trunc_reader(void *arg)
{
	uint64_t st = P.seed ^ (0x5151ULL + (uintptr_t)arg);
	uint64_t top = P.size + TRUNC_EXTRA;
	unsigned char *buf = xmalloc(MAX_READ), *want = xmalloc(MAX_READ);
	int fd = open_file(P.path, O_RDONLY);

	while (!atomic_load(&stop)) {
		uint64_t off, len, fl, i;
		ssize_t n;

		if (P.direct) {
			off = tst_rand_next(&st) % (top / REC) * REC;
			len = (1 + tst_rand_next(&st) % (MAX_READ / REC)) * REC;
		} else {
			off = tst_rand_next(&st) % top;
			len = 1 + tst_rand_next(&st) % MAX_READ;
		}
		n = pread(fd, buf, len, (off_t)off);
		fl = atomic_load(&floor_size);
		atomic_fetch_add(&nreads, 1);
		if (n < 0) {
			report("read of %llu at %llu: %s",
			       (unsigned long long)len,
			       (unsigned long long)off, tst_errname(errno));
			break;
		}
		if ((uint64_t)n < len)
			atomic_fetch_add(&nshort, 1);
		tst_fill_pattern(want, (size_t)n, P.seed, off);
		for (i = 0; i < (uint64_t)n; i++) {
			if (buf[i] == want[i])
				continue;
			if (buf[i] == 0 && off + i >= fl)
				continue;
			report("read of %llu at %llu: byte at %llu is 0x%02x, "
			       "expected 0x%02x%s", (unsigned long long)len,
			       (unsigned long long)off,
			       (unsigned long long)(off + i), buf[i], want[i],
			       off + i >= fl ? " or 0" : "");
			atomic_fetch_add(&nbad, 1);
			break;
		}
	}
	close(fd);
	free(buf);
	free(want);
	return NULL;
}

/* Compares FILE with its final state: the pattern below the lowest size
 * cut to, zeros above, the last size. */
static void verify_trunc(const char *what)
{
	uint64_t st = P.seed * 17 + 3, fl = P.size, last = P.size, pos;
	unsigned char *got = xmalloc(REC), *want = xmalloc(REC);
	unsigned int i;
	struct stat stb;
	int fd = open(P.path, O_RDONLY), rc, bad = 0;

	for (i = 0; i < P.count; i++) {
		last = trunc_size(&st, i);
		if (last < fl)
			fl = last;
	}
	if (fd < 0 || fstat(fd, &stb) < 0)
		tst_die(1, "open %s", P.path);
	if ((uint64_t)stb.st_size != last) {
		printf("%s: size %llu, expected %llu\n", what,
		       (unsigned long long)stb.st_size,
		       (unsigned long long)last);
		goto out;
	}
	for (pos = 0; pos < last && !bad; pos += REC) {
		size_t len = last - pos < REC ? (size_t)(last - pos) : REC;
		size_t k;

		rc = tst_pread_full(fd, got, len, pos);
		if (rc)
			tst_die(0, "read %s: %s", P.path, tst_errname(-rc));
		tst_fill_pattern(want, len, P.seed, pos);
		for (k = 0; k < len; k++)
			if (got[k] != (pos + k < fl ? want[k] : 0)) {
				fprintf(stderr, "cowfs_datarace: byte at %llu "
					"is 0x%02x\n",
					(unsigned long long)(pos + k), got[k]);
				bad = 1;
				break;
			}
	}
	if (bad)
		printf("%s: the file is not the pattern up to the lowest size "
		       "and zeros after it\n", what);
	else
		printf("%s: the last size, the pattern up to the lowest size, "
		       "zeros after it\n", what);
out:
	close(fd);
	free(got);
	free(want);
}

static void run_trunc(void)
{
	pthread_t *tr = calloc(P.readers, sizeof(*tr)), tt, to;
	size_t len = 1 << 20;
	unsigned char *buf = xmalloc(len);
	uint64_t pos;
	unsigned int i;
	int fd;

	if (!tr)
		tst_die(0, "out of memory");
	fd = open(P.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		tst_die(1, "create %s", P.path);
	for (pos = 0; pos < P.size; pos += len) {
		size_t n = P.size - pos < len ? (size_t)(P.size - pos) : len;

		tst_fill_pattern(buf, n, P.seed, pos);
		if (tst_pwrite_full(fd, buf, n, pos))
			tst_die(1, "write %s", P.path);
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		tst_die(1, "fsync %s", P.path);
	atomic_store(&floor_size, P.size);

	for (i = 0; i < P.readers; i++)
		if (pthread_create(&tr[i], NULL, trunc_reader,
				   (void *)(uintptr_t)i))
			tst_die(0, "pthread_create failed");
	if (pthread_create(&to, NULL, other_writer, NULL) ||
	    pthread_create(&tt, NULL, truncater, NULL))
		tst_die(0, "pthread_create failed");
	pthread_join(tt, NULL);
	pthread_join(to, NULL);
	for (i = 0; i < P.readers; i++)
		pthread_join(tr[i], NULL);
	fprintf(stderr, "cowfs_datarace trunc: %llu reads, %llu short, "
		"%llu with bad bytes\n",
		(unsigned long long)atomic_load(&nreads),
		(unsigned long long)atomic_load(&nshort),
		(unsigned long long)atomic_load(&nbad));
	if (atomic_load(&failed))
		printf("trunc: reads returned wrong data or failed\n");
	else
		printf("trunc: every read returned data, zeros or less\n");
	verify_trunc("trunc");
	free(buf);
	free(tr);
}

static void usage(void)
{
	tst_die(0, "usage: cowfs_datarace rw|verify-rw [-w WRITERS] "
		   "[-R READERS] [-n WRITES] [-S SIZE] [-s SEED] [-d] [-f] "
		   "FILE\n"
		   "       cowfs_datarace trunc|verify-trunc [-R READERS] "
		   "[-n TRUNCATES] [-S SIZE] [-s SEED] [-d] FILE [OTHER]");
}

int main(int argc, char **argv)
{
	const char *mode;
	int opt, trunc;

	if (argc < 2)
		usage();
	mode = argv[1];
	trunc = !strncmp(mode, "trunc", 5) || !strcmp(mode, "verify-trunc");
	P.writers = 4;
	P.readers = 3;
	P.count = trunc ? 400 : 300;
	P.size = trunc ? (1 << 20) + 12345 : 1 << 20;
	P.seed = 1;
	argv++;
	argc--;
	while ((opt = getopt(argc, argv, "w:R:n:S:s:df")) != -1) {
		switch (opt) {
		case 'w':
			P.writers = (unsigned int)tst_parse_size(optarg);
			break;
		case 'R':
			P.readers = (unsigned int)tst_parse_size(optarg);
			break;
		case 'n': P.count = (unsigned int)tst_parse_size(optarg); break;
		case 'S': P.size = tst_parse_size(optarg); break;
		case 's': P.seed = tst_parse_size(optarg); break;
		case 'd': P.direct = 1; break;
		case 'f': P.fsync = 1; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	P.path = argv[optind];
	P.other = optind + 1 < argc ? argv[optind + 1] : NULL;

	if (!trunc) {
		if (P.size % REC || P.size < REC || P.writers == 0 ||
		    P.size / REC < P.writers)
			tst_die(0, "SIZE must be whole 4 KiB records, at least "
				   "one per writer");
		nrec = P.size / REC;
		started = calloc(nrec, sizeof(*started));
		done = calloc(nrec, sizeof(*done));
		if (!started || !done)
			tst_die(0, "out of memory");
	}
	if (!strcmp(mode, "rw"))
		run_rw();
	else if (!strcmp(mode, "verify-rw"))
		verify_rw("rw");
	else if (!strcmp(mode, "trunc") && P.other)
		run_trunc();
	else if (!strcmp(mode, "verify-trunc"))
		verify_trunc("trunc");
	else
		usage();
	return 0;
}
