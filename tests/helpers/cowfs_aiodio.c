/*
 * cowfs_aiodio FILE SIZE CYCLES: asynchronous O_DIRECT writes against
 * buffered readers (the case of xfstests' generic/451).
 *
 * FILE is filled with SIZE bytes of 0x00 and synced. Two threads then
 * open, read and close it buffered, over and over, while the main thread
 * overwrites all of it CYCLES times with kernel AIO (io_submit, O_DIRECT),
 * alternating 0x55 and 0xaa. After each write has completed, a fresh
 * buffered open and read must see the new pattern everywhere: a page the
 * readers cached while the write was in flight must not survive it.
 * Prints one line; exit 0 if every cycle read back right, 1 if not, 2 on
 * an error of the test itself.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *path;
static size_t size;
static volatile bool stop;

static void *reader(void *arg)
{
	char *buf = malloc(size);

	while (buf && !stop) {
		int fd = open(path, O_RDONLY);

		if (fd < 0)
			break;
		if (pread(fd, buf, size, 0) < 0)
			break;
		close(fd);
	}
	free(buf);
	return arg;
}

/* The offset of the first byte of @path that is not @want, or -1. */
static long long first_wrong(char *buf, int want)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, size, 0);

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)size)
		return 0;
	for (size_t i = 0; i < size; i++)
		if ((unsigned char)buf[i] != want)
			return (long long)i;
	return -1;
}

int main(int argc, char **argv)
{
	aio_context_t ctx = 0;
	pthread_t r[2];
	char *dbuf, *cbuf;
	long cycles;
	int fd, status = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: cowfs_aiodio FILE SIZE CYCLES\n");
		return 2;
	}
	path = argv[1];
	size = (size_t)strtoul(argv[2], NULL, 0);
	cycles = strtol(argv[3], NULL, 0);
	if (size == 0 || size % 4096 || cycles <= 0 ||
	    posix_memalign((void **)&dbuf, 4096, size) || !(cbuf = malloc(size))) {
		fprintf(stderr, "cowfs_aiodio: bad arguments\n");
		return 2;
	}
	memset(dbuf, 0, size);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || pwrite(fd, dbuf, size, 0) != (ssize_t)size || fsync(fd)) {
		perror("cowfs_aiodio: fill");
		return 2;
	}
	close(fd);
	fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0 || syscall(SYS_io_setup, 1, &ctx) < 0) {
		perror("cowfs_aiodio: O_DIRECT open or io_setup");
		return 2;
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&r[i], NULL, reader, NULL);
	for (long c = 0; c < cycles && !status; c++) {
		int want = c & 1 ? 0xaa : 0x55;
		struct iocb cb = { 0 }, *cbs[1] = { &cb };
		struct io_event ev;
		long long bad;

		memset(dbuf, want, size);
		cb.aio_fildes = (uint32_t)fd;
		cb.aio_lio_opcode = IOCB_CMD_PWRITE;
		cb.aio_buf = (uint64_t)(uintptr_t)dbuf;
		cb.aio_nbytes = size;
		if (syscall(SYS_io_submit, ctx, 1, cbs) != 1 ||
		    syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1) {
			perror("cowfs_aiodio: io_submit");
			status = 2;
			break;
		}
		if (ev.res != (long long)size) {
			fprintf(stderr, "cowfs_aiodio: write returned %lld\n",
				(long long)ev.res);
			status = 2;
			break;
		}
		bad = first_wrong(cbuf, want);
		if (bad >= 0) {
			printf("cycle %ld: a buffered read after the write finds old data at offset %lld\n",
			       c, bad);
			status = 1;
		}
	}
	stop = true;
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	syscall(SYS_io_destroy, ctx);
	close(fd);
	if (!status)
		printf("%ld cycles: buffered reads saw every O_DIRECT write\n",
		       cycles);
	return status;
}
