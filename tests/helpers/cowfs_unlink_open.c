/*
 * cowfs_unlink_open: a file that is unlinked while open keeps its data
 * until the last close.
 *
 *   cowfs_unlink_open DIR [SIZE]
 *
 * Creates DIR/victim with SIZE bytes (default 1 MiB) of seeded data, opens
 * a second descriptor on it, unlinks it, and then checks through both
 * descriptors and through a child process that inherited one of them:
 * the name is gone, nlink is 0, the data reads back intact, it can still be
 * written and extended and truncated, and a new file created under the
 * same name is a different file. Each check prints one line; a mismatch
 * prints what differed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/helpers.h"

#define SEED 0x5eed0001ULL

static int check_data(int fd, uint64_t off, uint64_t len, uint64_t seed,
		      uint64_t seed_off)
{
	char *got = malloc(len), *want = malloc(len);
	int rc;

	if (!got || !want)
		tst_die(1, "malloc");
	rc = tst_pread_full(fd, got, len, off);
	if (rc < 0) {
		printf("read error %s\n", tst_errname(-rc));
	} else {
		tst_fill_pattern(want, len, seed, seed_off);
		rc = memcmp(got, want, len) ? -1 : 0;
	}
	free(got);
	free(want);
	return rc;
}

static void say(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAILED");
}

int main(int argc, char **argv)
{
	uint64_t size = argc > 2 ? tst_parse_size(argv[2]) : 1 << 20;
	char path[4096], *buf;
	struct stat st;
	int fd1, fd2, fd3, status;
	pid_t pid;

	if (argc < 2 || argc > 3)
		tst_die(0, "usage: cowfs_unlink_open DIR [SIZE]");
	snprintf(path, sizeof(path), "%s/victim", argv[1]);

	buf = malloc(size);
	if (!buf)
		tst_die(1, "malloc");
	tst_fill_pattern(buf, size, SEED, 0);
	fd1 = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd1 < 0)
		tst_die(1, "create %s", path);
	if (tst_pwrite_full(fd1, buf, size, 0) < 0)
		tst_die(1, "write %s", path);
	fd2 = open(path, O_RDONLY);
	if (fd2 < 0)
		tst_die(1, "open %s", path);

	say("unlink", unlink(path) == 0);
	errno = 0;
	printf("stat after unlink: %s\n",
	       stat(path, &st) < 0 ? tst_errname(errno) : "exists");
	if (fstat(fd2, &st) < 0)
		tst_die(1, "fstat");
	printf("fstat: nlink %lu, size %s\n", (unsigned long)st.st_nlink,
	       (uint64_t)st.st_size == size ? "as written" : "WRONG");
	say("read through second fd", check_data(fd2, 0, size, SEED, 0) == 0);

	/* Extend through fd1; the same seeded stream continues. */
	tst_fill_pattern(buf, size, SEED, size);
	say("extend through first fd",
	    tst_pwrite_full(fd1, buf, size, size) == 0);
	say("read extension through second fd",
	    check_data(fd2, size, size, SEED, size) == 0);

	/* A child that inherited fd2 reads the whole thing. */
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		tst_die(1, "fork");
	if (pid == 0) {
		close(fd1);
		_exit(check_data(fd2, 0, 2 * size, SEED, 0) == 0 ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) < 0)
		tst_die(1, "waitpid");
	say("read in child",
	    WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* A new file under the old name is a different file. */
	fd3 = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	say("create same name", fd3 >= 0);
	if (fd3 >= 0) {
		struct stat st3;

		if (write(fd3, "new", 3) != 3)
			tst_die(1, "write new file");
		if (fstat(fd3, &st3) < 0)
			tst_die(1, "fstat new file");
		say("new file is another inode", st3.st_ino != st.st_ino);
		say("new file has its own size", st3.st_size == 3);
		close(fd3);
	}
	say("old data unaffected by new file",
	    check_data(fd2, 0, 2 * size, SEED, 0) == 0);

	/* Truncate the orphan down; the tail reads as zeros when extended. */
	say("ftruncate orphan", ftruncate(fd1, (off_t)(size / 2)) == 0);
	say("ftruncate orphan up", ftruncate(fd1, (off_t)size) == 0);
	{
		char *z = calloc(1, size / 2), *got = malloc(size / 2);

		if (!z || !got)
			tst_die(1, "malloc");
		say("orphan tail reads zeros",
		    tst_pread_full(fd2, got, size / 2, size / 2) == 0 &&
		    !memcmp(got, z, size / 2));
		free(z);
		free(got);
	}
	say("orphan head intact", check_data(fd2, 0, size / 2, SEED, 0) == 0);

	say("close first fd", close(fd1) == 0);
	say("read after first close",
	    check_data(fd2, 0, size / 2, SEED, 0) == 0);
	say("close second fd", close(fd2) == 0);
	say("unlink new file", unlink(path) == 0);
	free(buf);
	return 0;
}
