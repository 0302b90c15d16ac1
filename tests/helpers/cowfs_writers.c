/*
 * cowfs_writers: several processes, each with several threads, write one
 * file at once; afterwards every byte must be what its last writer wrote.
 *
 *   cowfs_writers MODE [-p PROCS] [-t THREADS] [-n COUNT] [-r RECSIZE]
 *                 [-s SEED] [-f] FILE
 *
 * MODE disjoint: the file is cut into PROCS * THREADS * COUNT records of
 *   RECSIZE bytes (default 3000, so records straddle pages and blocks and
 *   neighbouring records belong to different writers). Writer w owns the
 *   records k with k % W == w and writes them in a seeded random order,
 *   each first with wrong bytes and then with the right ones. The right
 *   bytes depend only on the offset, so the finished file must equal one
 *   seeded stream: any lost or reordered update shows as a bad record.
 * MODE append: every writer appends COUNT records of RECSIZE bytes with
 *   O_APPEND through its own descriptor. Each record names its writer and
 *   sequence number; the file must hold every record exactly once, whole,
 *   at a multiple of RECSIZE, and each writer's records in order.
 * MODE verify-disjoint / verify-append: only the check, with the same
 *   parameters (for use after a remount).
 * -f: each writer calls fdatasync after every 64 records, so commits race
 *   with writes.
 *
 * Prints one summary line; exits 0 even when the check fails (the golden
 * output tells), 2 when the helper itself cannot run.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/helpers.h"

struct params {
	const char *path;
	unsigned int procs, threads, count;
	size_t recsize;
	uint64_t seed;
	int fsync;
};

struct writer {
	const struct params *p;
	unsigned int id; /* 0 .. procs * threads - 1 */
	int failed;
};

static unsigned int nwriters(const struct params *p)
{
	return p->procs * p->threads;
}

static void append_record(char *rec, const struct params *p, unsigned int w,
			  unsigned int s)
{
	int n = snprintf(rec, p->recsize, "w%04u s%08u|", w, s);

	tst_fill_pattern(rec + n, p->recsize - (size_t)n - 1,
			 p->seed ^ ((uint64_t)w << 32 | s), 0);
	rec[p->recsize - 1] = '\n';
}

static void *disjoint_writer(void *arg)
{
	struct writer *wr = arg;
	const struct params *p = wr->p;
	unsigned int w = nwriters(p), i;
	unsigned int *order = malloc(p->count * sizeof(*order));
	char *buf = malloc(p->recsize);
	uint64_t st = p->seed + wr->id;
	int fd = open(p->path, O_RDWR);

	if (!order || !buf || fd < 0) {
		perror("cowfs_writers: setup");
		wr->failed = 1;
		goto out;
	}
	for (i = 0; i < p->count; i++)
		order[i] = i;
	for (i = p->count; i > 1; i--) {
		unsigned int j = (unsigned int)(tst_rand_next(&st) % i);
		unsigned int t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	for (i = 0; i < p->count; i++) {
		uint64_t rec = (uint64_t)order[i] * w + wr->id;
		uint64_t off = rec * p->recsize;
		int rc;

		tst_fill_pattern(buf, p->recsize, ~p->seed, off);
		rc = tst_pwrite_full(fd, buf, p->recsize, off);
		if (!rc) {
			tst_fill_pattern(buf, p->recsize, p->seed, off);
			rc = tst_pwrite_full(fd, buf, p->recsize, off);
		}
		if (!rc && p->fsync && i % 64 == 63 && fdatasync(fd) < 0)
			rc = -errno;
		if (rc) {
			fprintf(stderr, "cowfs_writers: write: %s\n",
				tst_errname(-rc));
			wr->failed = 1;
			break;
		}
	}
	if (close(fd) < 0)
		wr->failed = 1;
out:
	free(order);
	free(buf);
	return NULL;
}

static void *append_writer(void *arg)
{
	struct writer *wr = arg;
	const struct params *p = wr->p;
	char *rec = malloc(p->recsize);
	int fd = open(p->path, O_WRONLY | O_APPEND);
	unsigned int s;

	if (!rec || fd < 0) {
		perror("cowfs_writers: setup");
		wr->failed = 1;
		goto out;
	}
	for (s = 0; s < p->count; s++) {
		ssize_t n;

		append_record(rec, p, wr->id, s);
		n = write(fd, rec, p->recsize);
		if (n != (ssize_t)p->recsize) {
			fprintf(stderr, "cowfs_writers: append: %s\n",
				n < 0 ? tst_errname(errno) : "short write");
			wr->failed = 1;
			break;
		}
		if (p->fsync && s % 64 == 63 && fdatasync(fd) < 0) {
			wr->failed = 1;
			break;
		}
	}
	if (close(fd) < 0)
		wr->failed = 1;
out:
	free(rec);
	return NULL;
}

/* Runs the threads of process number proc; returns 0 if all succeeded. */
static int run_process(const struct params *p, unsigned int proc,
		       void *(*fn)(void *))
{
	pthread_t *tids = calloc(p->threads, sizeof(*tids));
	struct writer *ws = calloc(p->threads, sizeof(*ws));
	unsigned int t;
	int failed = 0;

	if (!tids || !ws)
		tst_die(1, "calloc");
	for (t = 0; t < p->threads; t++) {
		ws[t].p = p;
		ws[t].id = proc * p->threads + t;
		if (pthread_create(&tids[t], NULL, fn, &ws[t]))
			tst_die(0, "pthread_create failed");
	}
	for (t = 0; t < p->threads; t++) {
		pthread_join(tids[t], NULL);
		failed |= ws[t].failed;
	}
	free(tids);
	free(ws);
	return failed;
}

static int run_all(const struct params *p, void *(*fn)(void *))
{
	unsigned int i;
	int failed = 0;

	fflush(stdout);
	for (i = 0; i < p->procs; i++) {
		pid_t pid = fork();

		if (pid < 0)
			tst_die(1, "fork");
		if (pid == 0)
			_exit(run_process(p, i, fn));
	}
	for (i = 0; i < p->procs; i++) {
		int status;

		if (wait(&status) < 0)
			tst_die(1, "wait");
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	}
	return failed;
}

static char *read_whole(const char *path, uint64_t *size)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		tst_die(1, "open %s", path);
	*size = (uint64_t)st.st_size;
	buf = malloc(*size ? *size : 1);
	if (!buf)
		tst_die(1, "malloc");
	if (*size && tst_pread_full(fd, buf, *size, 0) < 0)
		tst_die(1, "read %s", path);
	close(fd);
	return buf;
}

static void verify_disjoint(const struct params *p)
{
	uint64_t nrec = (uint64_t)nwriters(p) * p->count, size, k, bad = 0;
	char *got = read_whole(p->path, &size), *want = malloc(p->recsize);

	if (!want)
		tst_die(1, "malloc");
	if (size != nrec * p->recsize) {
		printf("disjoint: size %llu, expected %llu\n",
		       (unsigned long long)size,
		       (unsigned long long)(nrec * p->recsize));
		goto out;
	}
	for (k = 0; k < nrec; k++) {
		uint64_t off = k * p->recsize;

		tst_fill_pattern(want, p->recsize, p->seed, off);
		if (memcmp(got + off, want, p->recsize)) {
			if (!bad)
				fprintf(stderr,
					"first bad record %llu at offset %llu\n",
					(unsigned long long)k,
					(unsigned long long)off);
			bad++;
		}
	}
	if (bad)
		printf("disjoint: %llu of %llu records bad\n",
		       (unsigned long long)bad, (unsigned long long)nrec);
	else
		printf("disjoint: all records ok\n");
out:
	free(got);
	free(want);
}

static void verify_append(const struct params *p)
{
	unsigned int w = nwriters(p), i;
	uint64_t nrec = (uint64_t)w * p->count, size, k, bad = 0;
	char *got = read_whole(p->path, &size), *want = malloc(p->recsize);
	long long *next = calloc(w, sizeof(*next));
	long long *seen = calloc(w, sizeof(*seen));

	if (!want || !next || !seen)
		tst_die(1, "malloc");
	if (size != nrec * p->recsize) {
		printf("append: size %llu, expected %llu\n",
		       (unsigned long long)size,
		       (unsigned long long)(nrec * p->recsize));
		goto out;
	}
	for (k = 0; k < nrec; k++) {
		const char *rec = got + k * p->recsize;
		unsigned int rw, rs;

		if (sscanf(rec, "w%4u s%8u|", &rw, &rs) != 2 || rw >= w) {
			bad++;
			continue;
		}
		/* Out of order (or repeated), or damaged; then resync. */
		if (rs != next[rw])
			bad++;
		append_record(want, p, rw, rs);
		if (memcmp(rec, want, p->recsize))
			bad++;
		next[rw] = rs + 1;
		seen[rw]++;
	}
	for (i = 0; i < w; i++)
		if (seen[i] != p->count || next[i] != p->count)
			bad++;
	if (bad)
		printf("append: %llu problems in %llu records\n",
		       (unsigned long long)bad, (unsigned long long)nrec);
	else
		printf("append: all records ok\n");
out:
	free(got);
	free(want);
	free(next);
	free(seen);
}

int main(int argc, char **argv)
{
	struct params p = { NULL, 2, 2, 256, 3000, 1, 0 };
	const char *mode;
	int opt, fd;

	if (argc < 2)
		tst_die(0, "usage: cowfs_writers MODE [options] FILE");
	mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "p:t:n:r:s:f")) != -1) {
		switch (opt) {
		case 'p': p.procs = (unsigned int)tst_parse_size(optarg); break;
		case 't': p.threads = (unsigned int)tst_parse_size(optarg); break;
		case 'n': p.count = (unsigned int)tst_parse_size(optarg); break;
		case 'r': p.recsize = (size_t)tst_parse_size(optarg); break;
		case 's': p.seed = tst_parse_size(optarg); break;
		case 'f': p.fsync = 1; break;
		default: tst_die(0, "bad option");
		}
	}
	if (optind != argc - 1 || !p.procs || !p.threads || p.recsize < 32)
		tst_die(0, "bad arguments");
	p.path = argv[optind];

	if (!strcmp(mode, "disjoint") || !strcmp(mode, "append")) {
		int app = !strcmp(mode, "append");

		fd = open(p.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || close(fd) < 0)
			tst_die(1, "create %s", p.path);
		if (run_all(&p, app ? append_writer : disjoint_writer))
			printf("%s: a writer failed\n", mode);
		if (app)
			verify_append(&p);
		else
			verify_disjoint(&p);
	} else if (!strcmp(mode, "verify-disjoint")) {
		verify_disjoint(&p);
	} else if (!strcmp(mode, "verify-append")) {
		verify_append(&p);
	} else {
		tst_die(0, "unknown mode \"%s\"", mode);
	}
	return 0;
}
