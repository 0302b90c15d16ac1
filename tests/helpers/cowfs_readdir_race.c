/*
 * cowfs_readdir_race: list a large directory again and again while other
 * threads create and remove entries in it.
 *
 *   cowfs_readdir_race DIR [STABLE [SECONDS [CHURNERS]]]
 *
 * Creates STABLE files (default 5000) named s00000.., which stay put, then
 * starts CHURNERS threads (default 2) that create and unlink files named
 * c<thread>_<n> as fast as they can, and meanwhile lists DIR with
 * getdents64 through a small buffer (so a listing takes many calls and
 * resumes from offsets) for SECONDS seconds (default 3), at least 3 times.
 * Every listing must name no entry twice and must name every stable file;
 * "." and ".." must appear once each. After the churners stop and clean up,
 * one more listing must hold exactly the stable files.
 *
 * Prints a summary line per property; the number of listings and churned
 * files varies from run to run and goes to stderr only when a check fails.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tests/common/helpers.h"

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static const char *dir;
static atomic_int stop;
static atomic_long churned;

static void *churn(void *arg)
{
	long id = (long)arg, n = 0;
	char path[4096];

	while (!atomic_load(&stop)) {
		int fd;

		snprintf(path, sizeof(path), "%s/c%ld_%ld", dir, id, n);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			fprintf(stderr, "churn create %s: %s\n", path,
				tst_errname(errno));
			break;
		}
		close(fd);
		/* Remove an older one so the directory keeps changing in the
		 * middle as well as at the end. */
		if (n >= 8) {
			snprintf(path, sizeof(path), "%s/c%ld_%ld", dir, id,
				 n - 8);
			if (unlink(path) < 0) {
				fprintf(stderr, "churn unlink %s: %s\n", path,
					tst_errname(errno));
				break;
			}
		}
		n++;
		atomic_fetch_add(&churned, 1);
	}
	/* Clean up what is left of ours. */
	for (long k = n > 8 ? n - 8 : 0; k < n; k++) {
		snprintf(path, sizeof(path), "%s/c%ld_%ld", dir, id, k);
		unlink(path);
	}
	return NULL;
}

struct listing {
	unsigned int stable_seen_twice, other_seen_twice;
	unsigned int stable_missing, dots_wrong, unexpected;
	unsigned int others, total;
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Lists dir once. seen[] counts sightings of each stable file; other names
 * are checked for duplicates with a simple sorted array.
 */
static int list_once(unsigned int nstable, struct listing *l)
{
	char buf[2048];
	unsigned char *seen = calloc(nstable, 1);
	char **others = NULL;
	size_t nothers = 0, cap = 0, i;
	unsigned int dot = 0, dotdot = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0 || !seen)
		tst_die(1, "open %s", dir);
	memset(l, 0, sizeof(*l));
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		long pos;

		if (n < 0)
			tst_die(1, "getdents64");
		if (n == 0)
			break;
		for (pos = 0; pos < n;) {
			struct linux_dirent64 *d = (void *)(buf + pos);
			const char *name = d->d_name;
			char *end;

			pos += d->d_reclen;
			l->total++;
			if (!strcmp(name, ".")) {
				dot++;
			} else if (!strcmp(name, "..")) {
				dotdot++;
			} else if (name[0] == 's') {
				unsigned long k = strtoul(name + 1, &end, 10);

				if (*end || k >= nstable)
					l->unexpected++;
				else if (seen[k]++)
					l->stable_seen_twice++;
			} else if (name[0] == 'c') {
				if (nothers == cap) {
					cap = cap ? 2 * cap : 1024;
					others = realloc(others,
							 cap * sizeof(*others));
					if (!others)
						tst_die(1, "realloc");
				}
				others[nothers] = strdup(name);
				if (!others[nothers++])
					tst_die(1, "strdup");
			} else {
				l->unexpected++;
			}
		}
	}
	close(fd);
	for (i = 0; i < nstable; i++)
		if (!seen[i])
			l->stable_missing++;
	if (nothers)
		qsort(others, nothers, sizeof(*others), cmp_name);
	l->others = (unsigned int)nothers;
	for (i = 1; i < nothers; i++)
		if (!strcmp(others[i - 1], others[i]))
			l->other_seen_twice++;
	for (i = 0; i < nothers; i++)
		free(others[i]);
	free(others);
	free(seen);
	l->dots_wrong = (dot != 1) + (dotdot != 1);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int nstable = argc > 2 ? (unsigned int)atoi(argv[2]) : 5000;
	unsigned int seconds = argc > 3 ? (unsigned int)atoi(argv[3]) : 3;
	long nchurn = argc > 4 ? atol(argv[4]) : 2, t;
	pthread_t tids[64];
	struct listing l, sum = { 0 };
	unsigned int passes = 0, i;
	uint64_t deadline;
	char path[4096];

	if (argc < 2 || argc > 5 || nchurn < 0 || nchurn > 64)
		tst_die(0, "usage: cowfs_readdir_race DIR [STABLE [SECONDS [CHURNERS]]]");
	dir = argv[1];
	for (i = 0; i < nstable; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/s%05u", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || close(fd) < 0)
			tst_die(1, "create %s", path);
	}
	for (t = 0; t < nchurn; t++)
		if (pthread_create(&tids[t], NULL, churn, (void *)t))
			tst_die(0, "pthread_create failed");
	deadline = tst_now_ms() + 1000ULL * seconds;
	while (passes < 3 || tst_now_ms() < deadline) {
		list_once(nstable, &l);
		sum.stable_seen_twice += l.stable_seen_twice;
		sum.other_seen_twice += l.other_seen_twice;
		sum.stable_missing += l.stable_missing;
		sum.dots_wrong += l.dots_wrong;
		sum.unexpected += l.unexpected;
		passes++;
	}
	atomic_store(&stop, 1);
	for (t = 0; t < nchurn; t++)
		pthread_join(tids[t], NULL);

	if (sum.stable_seen_twice || sum.other_seen_twice ||
	    sum.stable_missing || sum.dots_wrong || sum.unexpected || !churned)
		fprintf(stderr,
			"%u listings, %ld files churned: %u stable seen twice, "
			"%u churned seen twice, %u stable missing, %u dot "
			"errors, %u unexpected names\n",
			passes, (long)churned, sum.stable_seen_twice,
			sum.other_seen_twice, sum.stable_missing,
			sum.dots_wrong, sum.unexpected);
	printf("duplicates during churn: %u\n",
	       sum.stable_seen_twice + sum.other_seen_twice);
	printf("stable entries missed during churn: %u\n", sum.stable_missing);
	printf("dot entries wrong during churn: %u\n", sum.dots_wrong);
	printf("churn ran: %s\n", churned ? "yes" : "no");

	list_once(nstable, &l);
	printf("final listing: %u entries, %u missing, %u duplicates, "
	       "%u unexpected, %u churned left\n", l.total, l.stable_missing,
	       l.stable_seen_twice + l.other_seen_twice, l.unexpected,
	       l.others);
	return 0;
}
