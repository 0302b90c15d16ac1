/*
 * cowfs_fsx: a small file-operations exerciser in the manner of fsx. It
 * runs a seeded random sequence of writes, reads, truncates, hole punches,
 * zero ranges, preallocations and mmap reads and writes on one file, keeps
 * the expected contents in memory, and checks every read (and the whole
 * file at the end) against it.
 *
 *   cowfs_fsx [-N OPS] [-S SEED] [-l MAXLEN] [-s MAXSIZE] [-M] [-F]
 *             [-o MODEL] FILE
 *
 *   -M  no mmap operations        -F  no fallocate operations
 *   -o  write the expected final contents to MODEL (to compare the file
 *       with after a remount)
 *
 * Prints "fsx: N ops ok" or "fsx: FAILED ..." followed by the last
 * operations; exits 0 either way (the golden output decides), 2 when it
 * cannot run at all.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/common/helpers.h"

enum op {
	OP_WRITE, OP_READ, OP_TRUNCATE, OP_PUNCH, OP_ZERO, OP_FALLOC,
	OP_MAPREAD, OP_MAPWRITE, OP_FSYNC, OP_REOPEN, OP_NR
};

static const char *const op_names[OP_NR] = {
	"write", "read", "truncate", "punch", "zero", "falloc",
	"mapread", "mapwrite", "fsync", "reopen",
};

/* Relative frequency of each operation. */
static const unsigned int op_weight[OP_NR] = {
	30, 25, 6, 6, 5, 4, 8, 8, 2, 2,
};

#define LOG_SIZE 32

static struct {
	unsigned long n;
	enum op op;
	uint64_t off, len, size_after;
} oplog[LOG_SIZE];

static const char *path;
static unsigned char *model;
static uint64_t model_size, maxsize, maxlen;
static int fd;
static uint64_t rng;
static unsigned long opno;

static void log_op(enum op op, uint64_t off, uint64_t len)
{
	unsigned int i = (unsigned int)(opno % LOG_SIZE);

	oplog[i].n = opno;
	oplog[i].op = op;
	oplog[i].off = off;
	oplog[i].len = len;
	oplog[i].size_after = model_size;
}

static void fail(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;
	unsigned long i;

	printf("fsx: FAILED at op %lu: ", opno);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	fprintf(stderr, "last operations (op off len size-after):\n");
	for (i = opno >= LOG_SIZE ? opno - LOG_SIZE + 1 : 0; i <= opno; i++) {
		unsigned int k = (unsigned int)(i % LOG_SIZE);

		if (oplog[k].n != i)
			continue;
		fprintf(stderr, "  %6lu %-8s %10llu %8llu %10llu\n", i,
			op_names[oplog[k].op],
			(unsigned long long)oplog[k].off,
			(unsigned long long)oplog[k].len,
			(unsigned long long)oplog[k].size_after);
	}
	exit(0);
}

static uint64_t rnd(uint64_t n)
{
	return n ? tst_rand_next(&rng) % n : 0;
}

static void compare(const unsigned char *got, uint64_t off, uint64_t len,
		    const char *how)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		if (got[i] != model[off + i])
			fail("%s at %llu: byte is 0x%02x, expected 0x%02x", how,
			     (unsigned long long)(off + i), got[i],
			     model[off + i]);
}

static void check_size(void)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		fail("fstat: %s", tst_errname(errno));
	if ((uint64_t)st.st_size != model_size)
		fail("size is %lld, expected %llu", (long long)st.st_size,
		     (unsigned long long)model_size);
}

static void do_read(uint64_t off, uint64_t len)
{
	unsigned char *buf;
	ssize_t n;

	if (off >= model_size)
		return;
	if (off + len > model_size)
		len = model_size - off;
	buf = malloc(len);
	if (!buf)
		tst_die(1, "malloc");
	n = pread(fd, buf, len, (off_t)off);
	if (n != (ssize_t)len)
		fail("pread returned %zd (%s), expected %llu", n,
		     n < 0 ? tst_errname(errno) : "short",
		     (unsigned long long)len);
	compare(buf, off, len, "read");
	free(buf);
}

static void do_write(uint64_t off, uint64_t len)
{
	unsigned char *buf = malloc(len);
	uint64_t i;
	int rc;

	if (!buf)
		tst_die(1, "malloc");
	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(rnd(255) + 1);
	rc = tst_pwrite_full(fd, buf, len, off);
	if (rc)
		fail("pwrite: %s", tst_errname(-rc));
	if (off > model_size)
		memset(model + model_size, 0, off - model_size);
	memcpy(model + off, buf, len);
	if (off + len > model_size)
		model_size = off + len;
	free(buf);
}

static void set_size(uint64_t size)
{
	if (size > model_size)
		memset(model + model_size, 0, size - model_size);
	model_size = size;
}

static void do_truncate(uint64_t size)
{
	if (ftruncate(fd, (off_t)size) < 0)
		fail("ftruncate: %s", tst_errname(errno));
	set_size(size);
}

static void do_fallocate(int mode, uint64_t off, uint64_t len)
{
	if (fallocate(fd, mode, (off_t)off, (off_t)len) < 0)
		fail("fallocate mode 0x%x: %s", mode, tst_errname(errno));
	if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > model_size)
		set_size(off + len);
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		uint64_t end = off + len < model_size ? off + len : model_size;

		if (off < end)
			memset(model + off, 0, end - off);
	}
}

static void do_mapread(uint64_t off, uint64_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t moff, mlen;
	unsigned char *p;

	if (off >= model_size)
		return;
	if (off + len > model_size)
		len = model_size - off;
	moff = off & ~(uint64_t)(pg - 1);
	mlen = off + len - moff;
	p = mmap(NULL, mlen, PROT_READ, MAP_SHARED, fd, (off_t)moff);
	if (p == MAP_FAILED)
		fail("mmap read: %s", tst_errname(errno));
	compare(p + (off - moff), off, len, "mapread");
	if (munmap(p, mlen) < 0)
		fail("munmap: %s", tst_errname(errno));
}

static void do_mapwrite(uint64_t off, uint64_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t moff, mlen, i;
	unsigned char *p;

	if (off + len > model_size)
		do_truncate(off + len);
	moff = off & ~(uint64_t)(pg - 1);
	mlen = off + len - moff;
	p = mmap(NULL, mlen, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)moff);
	if (p == MAP_FAILED)
		fail("mmap write: %s", tst_errname(errno));
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)(rnd(255) + 1);

		p[off - moff + i] = c;
		model[off + i] = c;
	}
	if (rnd(2) && msync(p, mlen, MS_SYNC) < 0)
		fail("msync: %s", tst_errname(errno));
	if (munmap(p, mlen) < 0)
		fail("munmap: %s", tst_errname(errno));
}

static void reopen(void)
{
	if (close(fd) < 0)
		fail("close: %s", tst_errname(errno));
	fd = open(path, O_RDWR);
	if (fd < 0)
		fail("reopen: %s", tst_errname(errno));
}

static enum op pick_op(int no_mmap, int no_falloc)
{
	unsigned int total = 0, r, i;

	for (i = 0; i < OP_NR; i++)
		total += op_weight[i];
	for (;;) {
		r = (unsigned int)rnd(total);
		for (i = 0; r >= op_weight[i]; i++)
			r -= op_weight[i];
		if (no_mmap && (i == OP_MAPREAD || i == OP_MAPWRITE))
			continue;
		if (no_falloc &&
		    (i == OP_PUNCH || i == OP_ZERO || i == OP_FALLOC))
			continue;
		return (enum op)i;
	}
}

int main(int argc, char **argv)
{
	unsigned long nops = 2000;
	const char *model_path = NULL;
	int no_mmap = 0, no_falloc = 0, opt;

	rng = 1;
	maxlen = 256 * 1024;
	maxsize = 4 << 20;
	while ((opt = getopt(argc, argv, "N:S:l:s:MFo:")) != -1) {
		switch (opt) {
		case 'N': nops = (unsigned long)tst_parse_size(optarg); break;
		case 'S': rng = tst_parse_size(optarg); break;
		case 'l': maxlen = tst_parse_size(optarg); break;
		case 's': maxsize = tst_parse_size(optarg); break;
		case 'M': no_mmap = 1; break;
		case 'F': no_falloc = 1; break;
		case 'o': model_path = optarg; break;
		default: tst_die(0, "bad option");
		}
	}
	if (optind != argc - 1 || !maxlen || maxlen > maxsize)
		tst_die(0, "usage: cowfs_fsx [-N OPS] [-S SEED] [-l MAXLEN] "
			   "[-s MAXSIZE] [-M] [-F] [-o MODEL] FILE");
	path = argv[optind];
	model = calloc(1, maxsize);
	if (!model)
		tst_die(1, "calloc");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		tst_die(1, "open %s", path);

	for (opno = 0; opno < nops; opno++) {
		enum op op = pick_op(no_mmap, no_falloc);
		uint64_t off = rnd(maxsize);
		uint64_t len = rnd(maxlen) + 1;

		if (off + len > maxsize)
			len = maxsize - off;
		if (!len)
			continue;
		if (op == OP_TRUNCATE) {
			off = rnd(maxsize + 1);
			len = 0;
		}
		log_op(op, off, len);
		switch (op) {
		case OP_WRITE: do_write(off, len); break;
		case OP_READ: do_read(off, len); break;
		case OP_TRUNCATE: do_truncate(off); break;
		case OP_PUNCH:
			do_fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     off, len);
			break;
		case OP_ZERO:
			do_fallocate(FALLOC_FL_ZERO_RANGE |
				     (rnd(2) ? FALLOC_FL_KEEP_SIZE : 0),
				     off, len);
			break;
		case OP_FALLOC:
			do_fallocate(rnd(2) ? FALLOC_FL_KEEP_SIZE : 0, off, len);
			break;
		case OP_MAPREAD: do_mapread(off, len); break;
		case OP_MAPWRITE: do_mapwrite(off, len); break;
		case OP_FSYNC:
			if (fsync(fd) < 0)
				fail("fsync: %s", tst_errname(errno));
			break;
		case OP_REOPEN: reopen(); break;
		case OP_NR: break;
		}
		oplog[opno % LOG_SIZE].size_after = model_size;
		check_size();
	}
	opno = nops;
	do_read(0, model_size);
	if (close(fd) < 0)
		fail("close: %s", tst_errname(errno));
	if (model_path) {
		int mfd = open(model_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (mfd < 0 || tst_pwrite_full(mfd, model, model_size, 0) < 0 ||
		    close(mfd) < 0)
			tst_die(1, "write %s", model_path);
	}
	printf("fsx: %lu ops ok\n", nops);
	free(model);
	return 0;
}
