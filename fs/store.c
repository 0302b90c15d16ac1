/*
 * store.c - the store directory, its lock, the pack file and the slot
 * allocator.
 *
 * How allocation works. refs[] holds, for every slot below nslots, its
 * reference count and three flags (store.h). A slot is free when its word
 * is 0. store_alloc() first tries the caller's hint (the slot after the
 * file's previous block), then appends at the end of the pack when the hint
 * is the end, then looks for a free slot from a moving cursor, and appends
 * otherwise. Appending keeps sequentially written files contiguous, so a
 * read of them is one splice.
 *
 * When a count falls to zero the slot becomes pending (invariant 5): it is
 * neither used nor free until the transaction that dropped the reference
 * has committed, because until then the committed state still points at it
 * and a crash would bring that state back. store_post_commit() then frees
 * it and punches its space, and cuts a free tail off the pack.
 *
 * The counts are never stored (store format 3): they are the number of
 * chunk map entries naming each slot (invariant 2), counted from the maps
 * when the store is opened. A crash therefore brings back exactly the
 * counts of the committed maps, and a slot allocated or freed in a
 * transaction that did not commit is free again by construction. What
 * meta.db keeps per slot is only its checksum, if it has one.
 *
 * Known limit: the search for a free slot is a linear scan from the cursor;
 * it is amortised over the allocations that follow, but a nearly full pack
 * with a few scattered holes scans far. A free-extent tree would fix that.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <endian.h>
#include <xxhash.h>

#include "fs/store.h"
#include "fs/util.h"

struct pack_header {
	char magic[8];
	uint32_t version;	/* little-endian */
	uint32_t block_size;	/* little-endian */
	uint8_t uuid[16];
};

static const char *const store_files[] = { STORE_META_NAME, "meta.db-wal",
					   "meta.db-shm", STORE_PACK_NAME };

/* Returns 1 if the directory has entries other than . and .., 0 if not. */
static int dir_has_entries(int dirfd, bool *has_store)
{
	int fd = dup(dirfd);
	DIR *d;
	struct dirent *de;
	int any = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	*has_store = false;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		any = 1;
		if (!strcmp(de->d_name, STORE_META_NAME) ||
		    !strcmp(de->d_name, STORE_PACK_NAME))
			*has_store = true;
	}
	closedir(d);
	return any;
}

/*
 * Finds where the store at @path is mounted, from /proc/self/mountinfo.
 * Returns true and the mount point in @mnt if a cowfs mount of it exists.
 */
static bool find_mount(const char *path, char *mnt, size_t mntlen)
{
	char real[PATH_MAX], line[2 * PATH_MAX + 512];
	bool found = false;
	FILE *f;

	if (!realpath(path, real))
		return false;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char point[PATH_MAX + 1], type[64], source[PATH_MAX + 1];
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %" STR(PATH_MAX) "s",
				   point) != 1 ||
		    sscanf(sep + 3, "%63s %" STR(PATH_MAX) "s", type,
			   source) != 2)
			continue;
		if (!strcmp(type, "fuse.cowfs") && !strcmp(source, real)) {
			size_t n = strnlen(point, mntlen - 1);

			memcpy(mnt, point, n);
			mnt[n] = '\0';
			found = true;
		}
	}
	fclose(f);
	return found;
}

/*
 * Takes the store's lock on an open pack fd. If another process holds it
 * and the store is still mounted, fails at once with -EBUSY and the mount
 * point in @mnt. If it is not mounted, the holder is a daemon finishing
 * its last commit after an unmount (fusermount3 -u does not wait for it):
 * wait up to LOCK_WAIT_MS for it to exit.
 */
#define LOCK_WAIT_MS 30000

/* The process holding a flock on @fd's file, from /proc/locks; 0 if unknown. */
static pid_t flock_holder(int fd)
{
	struct stat sb;
	char line[256];
	pid_t pid = 0;
	FILE *f;

	if (fstat(fd, &sb) < 0)
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		char type[16];
		long p;
		unsigned int maj, min;
		unsigned long ino;

		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", type, &p,
			   &maj, &min, &ino) == 5 &&
		    !strcmp(type, "FLOCK") && ino == sb.st_ino &&
		    makedev(maj, min) == sb.st_dev)
			pid = (pid_t)p;
	}
	fclose(f);
	return pid;
}

int store_lock(int fd, const char *path, char *mnt, size_t mntlen)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	mnt[0] = '\0';
	for (int waited = 0;; waited += 10) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (waited >= LOCK_WAIT_MS || find_mount(path, mnt, mntlen) ||
		    flock_holder(fd) == getpid())
			return -EBUSY;
		nanosleep(&tick, NULL);
	}
}

int store_create(const char *path, uint32_t block_size, bool force,
		 uint32_t uid, uint32_t gid, char *err, size_t errlen)
{
	struct pack_header h = { 0 };
	struct meta_super sb = { 0 };
	struct meta_inode root = { 0 };
	char metapath[4096];
	bool has_store = false;
	int dirfd, packfd = -1, rc;

	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create \"%s\": %s", path,
			 strerror(errno));
		return rc;
	}
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open \"%s\": %s", path,
			 strerror(errno));
		return rc;
	}
	rc = dir_has_entries(dirfd, &has_store);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read \"%s\": %s", path,
			 strerror(-rc));
		goto out;
	}
	if (rc > 0 && !force) {
		snprintf(err, errlen,
			 has_store ? "\"%s\" already holds a cowfs store (use --force to replace it)"
				   : "\"%s\" is not empty (use --force to use it anyway)",
			 path);
		rc = -EEXIST;
		goto out;
	}
	if (has_store) {
		/* Never replace a store that a daemon is using. */
		char mnt[PATH_MAX];

		packfd = openat(dirfd, STORE_PACK_NAME,
				O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (packfd >= 0 &&
		    store_lock(packfd, path, mnt, sizeof(mnt)) == -EBUSY) {
			snprintf(err, errlen,
				 mnt[0] ? "store \"%s\" is mounted on \"%s\""
					: "store \"%s\" is in use by another process%s",
				 path, mnt);
			rc = -EBUSY;
			goto out;
		}
		for (size_t i = 0; i < ARRAY_SIZE(store_files); i++)
			unlinkat(dirfd, store_files[i], 0);
		if (packfd >= 0)
			close(packfd);
	}
	fchmod(dirfd, 0700);

	packfd = openat(dirfd, STORE_PACK_NAME,
			O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0600);
	if (packfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create \"%s/%s\": %s", path,
			 STORE_PACK_NAME, strerror(errno));
		goto out;
	}
	if (getrandom(sb.uuid, sizeof(sb.uuid), 0) != sizeof(sb.uuid)) {
		rc = -EIO;
		snprintf(err, errlen, "cannot get random bytes for the uuid");
		goto out;
	}
	memcpy(h.magic, STORE_PACK_MAGIC, sizeof(STORE_PACK_MAGIC));
	h.version = htole32(STORE_PACK_VERSION);
	h.block_size = htole32(block_size);
	memcpy(h.uuid, sb.uuid, sizeof(h.uuid));
	if (pwrite(packfd, &h, sizeof(h), 0) != sizeof(h) ||
	    ftruncate(packfd, STORE_HEADER_SIZE) < 0 || fsync(packfd) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot write \"%s/%s\": %s", path,
			 STORE_PACK_NAME, strerror(errno));
		goto out;
	}

	sb.format_version = META_FORMAT_VERSION;
	sb.block_size = block_size;
	sb.chunk_blocks = STORE_DEFAULT_CHUNK_BLOCKS;
	sb.next_ino = META_ROOT_INO + 1;
	root.ino = META_ROOT_INO;
	root.mode = 040755;
	root.uid = uid;
	root.gid = gid;
	root.nlink = 2;
	root.atime_ns = root.mtime_ns = root.ctime_ns = root.btime_ns =
		now_ns();
	snprintf(metapath, sizeof(metapath), "%s/%s", path, STORE_META_NAME);
	rc = meta_create(metapath, &sb, &root, err, errlen);
	if (rc)
		goto out;
	fsync(dirfd);
	rc = 0;
out:
	if (packfd >= 0)
		close(packfd);
	close(dirfd);
	return rc;
}

/* One file of the store, by its stat: 0, or -errno and the reason. */
static int check_one(const struct stat *sb, const char *path,
		     const char *name, bool readonly, char *err,
		     size_t errlen)
{
	const char *sep = name[0] ? "/" : "";
	uid_t me = geteuid();

	if ((sb->st_mode & S_IFMT) != (name[0] ? S_IFREG : S_IFDIR)) {
		snprintf(err, errlen,
			 S_ISLNK(sb->st_mode)
				 ? "\"%s%s%s\" is a symbolic link: a store holds only its own files"
				 : "\"%s%s%s\" is not a regular file",
			 path, sep, name);
		return -EINVAL;
	}
	if (sb->st_mode & 022) {
		snprintf(err, errlen,
			 "\"%s%s%s\" is writable by other users (mode %04o): make it %s",
			 path, sep, name, (unsigned)(sb->st_mode & 07777),
			 name[0] ? "0600" : "0700");
		return -EPERM;
	}
	if (me != 0 && sb->st_uid != me) {
		snprintf(err, errlen,
			 "\"%s%s%s\" belongs to uid %u, not to you (uid %u)",
			 path, sep, name, (unsigned)sb->st_uid, (unsigned)me);
		return -EPERM;
	}
	if (!readonly && !(sb->st_mode & S_IWUSR)) {
		snprintf(err, errlen,
			 "store \"%s\" is read-only (\"%s%s%s\" has mode %04o)",
			 path, path, sep, name, (unsigned)(sb->st_mode & 07777));
		return -EROFS;
	}
	return 0;
}

int store_check_files(int dirfd, const char *path, bool readonly, char *err,
		      size_t errlen)
{
	struct stat sb;
	int rc;

	if (fstat(dirfd, &sb) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot stat \"%s\": %s", path,
			 strerror(errno));
		return rc;
	}
	rc = check_one(&sb, path, "", readonly, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(store_files); i++) {
		if (fstatat(dirfd, store_files[i], &sb,
			    AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* meta.db, blocks: said later */
			rc = -errno;
			snprintf(err, errlen, "cannot stat \"%s/%s\": %s", path,
				 store_files[i], strerror(errno));
			return rc;
		}
		rc = check_one(&sb, path, store_files[i], readonly, err,
			       errlen);
		if (rc)
			return rc;
	}
	/* Root passes any mode: a read-only mount still says no. */
	if (!readonly && faccessat(dirfd, ".", W_OK, AT_EACCESS) < 0) {
		rc = -errno;
		snprintf(err, errlen,
			 errno == EROFS || errno == EACCES
				 ? "store \"%s\" is read-only (%s)"
				 : "store \"%s\": %s",
			 path, strerror(errno));
		return rc;
	}
	return 0;
}

uint64_t store_reserve(struct store *st)
{
	struct statvfs v;

	if (st->reserve == 0 && fstatvfs(st->dirfd, &v) == 0) {
		uint64_t total = (uint64_t)v.f_blocks * v.f_frsize;

		st->reserve = MIN(MAX(total / 16, 8ull << 20), 256ull << 20);
	}
	return st->reserve;
}

/* Below this much room, statvfs is asked at every request. */
#define ROOM_RECHECK (64ull << 20)

int store_room(struct store *st, uint64_t need, bool meta)
{
	struct statvfs v;
	uint64_t avail, keep;

	if (st->room >= need + ROOM_RECHECK)
		return 0;
	if (fstatvfs(st->dirfd, &v) < 0)
		return 0; /* unknown: the write itself will tell */
	avail = (uint64_t)v.f_bavail * v.f_frsize;
	avail -= MIN(avail, st->pending);
	keep = store_reserve(st);
	st->room = avail > keep ? avail - keep : 0;
	if (meta)
		keep /= 2;
	return avail < keep || avail - keep < need ? -ENOSPC : 0;
}

static int grow_refs(struct store *st, uint64_t need)
{
	uint64_t cap = st->cap ? st->cap : 1024;
	uint16_t *stamp;
	uint32_t *p;

	if (need <= st->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	p = realloc(st->refs, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + st->cap, 0, (cap - st->cap) * sizeof(*p));
	st->refs = p;
	stamp = realloc(st->stamp, cap * sizeof(*stamp));
	if (!stamp)
		return -ENOMEM;
	memset(stamp + st->cap, 0, (cap - st->cap) * sizeof(*stamp));
	st->stamp = stamp;
	st->cap = cap;
	return 0;
}

/* Seconds on a monotonic clock, wrapping at 16 bits (stamp[]). */
static uint16_t store_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint16_t)ts.tv_sec;
}

/*
 * Appends @slot to one of the slot lists. If even that fails there is no
 * way to keep the store's state right, so the daemon stops before it
 * commits anything wrong.
 */
static void list_push(struct store *st, uint64_t **list, size_t *n,
		      size_t *cap, uint64_t slot)
{
	uint64_t *p = grow_array(*list, cap, *n, sizeof(*p));

	if (!p) {
		log_msg("store \"%s\": out of memory for a slot list",
			st->path);
		abort();
	}
	*list = p;
	p[(*n)++] = slot;
}

/*
 * Adds @slot to the hot list (it has SLOT_HOT set, or is about to), as
 * written long ago: a slot written now also has SLOT_WRITTEN, and the next
 * commit stamps it.
 */
static void hot_push(struct store *st, uint64_t slot)
{
	list_push(st, &st->hot, &st->nhot, &st->hot_cap, slot);
	st->stamp[slot] = (uint16_t)(store_clock() - HOT_AGE_MAX);
}

void store_mark_written(struct store *st, uint64_t slot)
{
	list_push(st, &st->written, &st->nwritten, &st->written_cap, slot);
	st->refs[slot] |= SLOT_WRITTEN;
}

/*
 * Drops from the hot list the slots that are no longer hot and the second
 * entries of slots that came back, once they are half of it: a commit
 * costs what it wrote, not what is waiting for its sum. Sorted, so that
 * the summer reads the pack in order.
 */
static void hot_compact(struct store *st)
{
	size_t k = 0;

	if (st->hot_dead * 2 < st->nhot)
		return;
	qsort(st->hot, st->nhot, sizeof(*st->hot), cmp_u64);
	for (size_t i = 0; i < st->nhot; i++) {
		uint64_t s = st->hot[i];
		uint32_t r = st->refs[s];

		if ((r & SLOT_HOT) && (r & SLOT_COUNT_MASK) > 0 &&
		    (k == 0 || st->hot[k - 1] != s))
			st->hot[k++] = s;
	}
	st->nhot = k;
	st->hot_dead = 0;
}

/* One chunk map entry naming @slot: one reference (invariant 2). */
static int count_ref(void *ctx, uint64_t slot)
{
	struct store *st = ctx;

	if (slot > (1ull << 48)) {
		log_msg("store \"%s\": a chunk map names slot %llu, which no pack can hold: run fsck.cowfs",
			st->path, (unsigned long long)slot);
		return -EIO;
	}
	if (grow_refs(st, slot + 1))
		return -ENOMEM;
	if ((st->refs[slot] & SLOT_COUNT_MASK) == SLOT_COUNT_MASK) {
		log_msg("store \"%s\": slot %llu is named by more than %u chunk map entries",
			st->path, (unsigned long long)slot, SLOT_COUNT_MASK);
		return -EIO;
	}
	st->refs[slot]++;
	if (slot >= st->nslots)
		st->nslots = slot + 1;
	return 0;
}

/* Deletes the sum rows of the sorted slots @p: one statement per run. */
static int clear_sum_runs(struct store *st, const uint64_t *p, size_t n)
{
	int rc = 0;

	for (size_t i = 0, j; i < n && !rc; i = j) {
		for (j = i + 1; j < n && p[j] == p[i] + (j - i); j++)
			;
		rc = meta_slot_clear_sums(st->meta, p[i], j - i);
	}
	return rc;
}

/* The slot table being loaded, and checksum rows that no chunk names. */
struct load {
	struct store *st;
	uint64_t *stale;
	size_t nstale, stale_cap;
};

/* A slot with a checksum row is not hot; a row no chunk names is stale. */
static int load_sum(void *ctx, uint64_t slot)
{
	struct load *l = ctx;
	struct store *st = l->st;
	uint64_t *p;

	if (slot > 0 && slot < st->nslots &&
	    (st->refs[slot] & SLOT_COUNT_MASK)) {
		st->refs[slot] &= ~SLOT_HOT;
		return 0;
	}
	p = grow_array(l->stale, &l->stale_cap, l->nstale, sizeof(*p));
	if (!p)
		return -ENOMEM;
	l->stale = p;
	l->stale[l->nstale++] = slot;
	return 0;
}

/*
 * Loads the slot table: the counts from the chunk maps (one pass over
 * every map, streamed), then which used slots have a checksum. A
 * checksum row of a slot no chunk names is stale (it is damage, or a bug:
 * the daemon deletes the sum of every slot it frees): fsck.cowfs reports
 * it. A read-write open deletes such rows in the open transaction, which
 * commits with the first change, so that a slot reused before then never
 * inherits a sum (invariant 7); a read-only one never reuses a slot.
 */
static int load_slots(struct store *st)
{
	struct load l = { .st = st };
	int rc;

	st->nslots = 1;
	rc = meta_slot_refs(st->meta, count_ref, st);
	if (rc)
		return rc;
	rc = grow_refs(st, st->nslots + 1);
	if (rc)
		return rc;
	for (uint64_t s = 1; s < st->nslots; s++) {
		uint32_t n = st->refs[s];

		if (n == 0)
			continue;
		st->refs[s] |= SLOT_HOT | (n > 1 ? SLOT_CSHARED : 0);
		st->used++;
	}
	rc = meta_slot_summed(st->meta, load_sum, &l);
	for (uint64_t s = 1; !rc && s < st->nslots; s++)
		if (st->refs[s] & SLOT_HOT)
			hot_push(st, s);
	if (!rc && l.nstale) {
		log_msg("store \"%s\": %zu checksum row%s of slots that no file uses (slot %llu%s)%s",
			st->path, l.nstale, l.nstale == 1 ? "" : "s",
			(unsigned long long)l.stale[0],
			l.nstale > 1 ? " and others" : "",
			st->readonly ? ": run fsck.cowfs"
				     : " deleted: run fsck.cowfs to check the store");
		/* Listed in slot order. */
		if (!st->readonly)
			rc = clear_sum_runs(st, l.stale, l.nstale);
	}
	free(l.stale);
	return rc;
}

static int open_pack(struct store *st, char *err, size_t errlen)
{
	struct pack_header h;
	const struct meta_super *sb;
	char metapath[4096], mnt[PATH_MAX], why[384];
	struct stat sbuf;
	int rc;

	st->packfd = openat(st->dirfd, STORE_PACK_NAME,
			    (st->readonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW |
				    O_CLOEXEC);
	if (st->packfd < 0) {
		rc = -errno;
		if (errno == ENOENT)
			snprintf(err, errlen,
				 "\"%s\" is not a cowfs store (no %s file)",
				 st->path, STORE_PACK_NAME);
		else if (errno == ELOOP)
			snprintf(err, errlen,
				 "\"%s/%s\" is a symbolic link: a store holds only its own files",
				 st->path, STORE_PACK_NAME);
		else if (!st->readonly && (errno == EROFS || errno == EACCES))
			snprintf(err, errlen,
				 "store \"%s\" is read-only (%s): mount it with -o ro",
				 st->path, strerror(errno));
		else
			snprintf(err, errlen, "cannot open \"%s/%s\": %s",
				 st->path, STORE_PACK_NAME, strerror(errno));
		return rc == -ELOOP ? -EINVAL : rc;
	}
	/*
	 * Page-aligned writes go to the pack with O_DIRECT: spliced pages then
	 * go to the disk without a copy into the host's page cache. O_DIRECT
	 * reads of whole pages come from it too, read-only stores included.
	 */
	st->packfd_direct = openat(st->dirfd, STORE_PACK_NAME,
				   (st->readonly ? O_RDONLY : O_RDWR) |
					   O_DIRECT | O_NOFOLLOW | O_CLOEXEC);
	rc = store_lock(st->packfd, st->path, mnt, sizeof(mnt));
	if (rc == -EBUSY && mnt[0])
		/* root makes a second mount point a bind mount (fs/bind.c) */
		snprintf(err, errlen, "store \"%s\" is already mounted on \"%s\"%s",
			 st->path, mnt,
			 geteuid() ? " (root can mount it on a second mount point)"
				   : "");
	else if (rc == -EBUSY)
		snprintf(err, errlen, "store \"%s\" is in use by another process",
			 st->path);
	else if (rc)
		snprintf(err, errlen, "cannot lock store \"%s\": %s", st->path,
			 strerror(-rc));
	if (rc)
		return rc;
	if (pread(st->packfd, &h, sizeof(h), 0) != sizeof(h) ||
	    memcmp(h.magic, STORE_PACK_MAGIC, sizeof(STORE_PACK_MAGIC))) {
		snprintf(err, errlen,
			 "\"%s\" is not a cowfs store (bad pack header)",
			 st->path);
		return -EINVAL;
	}
	if (le32toh(h.version) != STORE_PACK_VERSION) {
		snprintf(err, errlen,
			 "store \"%s\" has format version %u; this cowfs reads version %d",
			 st->path, le32toh(h.version), STORE_PACK_VERSION);
		return -EPROTONOSUPPORT;
	}

	snprintf(metapath, sizeof(metapath), "%s/%s", st->path,
		 STORE_META_NAME);
	rc = meta_open(metapath, st->readonly, &st->meta, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "store \"%s\": %s", st->path, why);
		return rc;
	}
	sb = meta_super(st->meta);
	if (memcmp(sb->uuid, h.uuid, sizeof(h.uuid)) ||
	    sb->block_size != le32toh(h.block_size)) {
		snprintf(err, errlen,
			 "store \"%s\": %s and %s belong to different stores",
			 st->path, STORE_META_NAME, STORE_PACK_NAME);
		return -EINVAL;
	}
	st->block_size = sb->block_size;
	st->block_shift = (uint32_t)__builtin_ctz(sb->block_size);
	st->chunk_blocks = sb->chunk_blocks;

	if (fstat(st->packfd, &sbuf) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot stat \"%s/%s\": %s", st->path,
			 STORE_PACK_NAME, strerror(errno));
		return rc;
	}
	rc = load_slots(st);
	if (rc) {
		snprintf(err, errlen, "store \"%s\": cannot load slot table: %s",
			 st->path, strerror(-rc));
		return rc;
	}
	st->refs[0] = SLOT_PENDING; /* the header: never allocated */
	st->pack_len = ((uint64_t)sbuf.st_size + st->block_size - 1) >>
		       st->block_shift;
	if (st->pack_len < st->nslots && !st->readonly) {
		/*
		 * Growing the pack would cover the lost slots, which would
		 * then read as zeros and look whole to fsck.cowfs: write
		 * nothing before fsck.cowfs has repaired the store.
		 */
		snprintf(err, errlen,
			 "store \"%s\": the pack file is shorter than its slot table (%llu < %llu slots): data was lost; run fsck.cowfs, or mount with -o ro to read the rest",
			 st->path, (unsigned long long)st->pack_len,
			 (unsigned long long)st->nslots);
		return -EIO;
	}
	if (st->pack_len < st->nslots) {
		/* Reads of those slots fail with EIO; fsck.cowfs names them. */
		log_msg("store \"%s\": pack file is shorter than its slot table (%llu < %llu slots): data lost, run fsck.cowfs",
			st->path, (unsigned long long)st->pack_len,
			(unsigned long long)st->nslots);
		st->lost_from = MAX(st->pack_len, 1);
		st->lost_to = st->nslots;
	}
	st->fresh = MAX(st->pack_len, st->nslots);
	st->nfree = st->nslots - 1 - st->used;
	st->cursor = 1;
	return 0;
}

int store_open(struct store *st, const char *path, bool readonly, char *err,
	       size_t errlen)
{
	struct stat sbuf;
	int rc;

	memset(st, 0, sizeof(*st));
	st->packfd = st->packfd_direct = -1;
	st->readonly = readonly;
	st->path = strdup(path);
	if (!st->path) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		rc = -errno;
		if (errno == ENOTDIR)
			snprintf(err, errlen, "\"%s\" is not a directory",
				 path);
		else
			snprintf(err, errlen, "cannot open store \"%s\": %s",
				 path, strerror(errno));
		goto fail;
	}
	if (fstat(st->dirfd, &sbuf) == 0 && (sbuf.st_mode & 077))
		log_debug("store \"%s\" is accessible to others (mode %o)",
			  path, sbuf.st_mode & 07777);
	rc = store_check_files(st->dirfd, path, readonly, err, errlen);
	if (rc == -EROFS || rc == -EACCES) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, ": mount it with -o ro");
	}
	if (rc)
		goto fail;
	rc = open_pack(st, err, errlen);
	if (rc)
		goto fail;
	return 0;
fail:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	meta_close(st->meta);
	st->meta = NULL;
	if (st->packfd >= 0)
		close(st->packfd);
	if (st->packfd_direct >= 0)
		close(st->packfd_direct);
	if (st->dirfd >= 0)
		close(st->dirfd);
	st->packfd = st->packfd_direct = st->dirfd = -1;
	free(st->refs);
	free(st->stamp);
	free(st->dirty);
	free(st->hot);
	free(st->written);
	free(st->permit);
	free(st->path);
	st->refs = NULL;
	st->stamp = NULL;
	st->dirty = NULL;
	st->hot = NULL;
	st->written = NULL;
	st->path = NULL;
}

/* Records that a slot's count changed in the open transaction. */
static void mark_dirty(struct store *st, uint64_t slot)
{
	if (st->refs[slot] & SLOT_DIRTY)
		return;
	list_push(st, &st->dirty, &st->ndirty, &st->dirty_cap, slot);
	st->refs[slot] |= SLOT_DIRTY;
}

/* How far the pack grows past a new last slot: an eighth, at most 64 MiB. */
static uint64_t grow_ahead(const struct store *st, uint64_t slot)
{
	return MIN(slot / 8, (64ull << 20) >> st->block_shift);
}

int store_alloc(struct store *st, uint64_t hint, uint64_t *out, bool *zeroed)
{
	uint64_t slot = 0;
	int rc;

	/* Lost slots (store_slot_lost) are not reused before a remount. */
	if (hint > 0 && hint < st->nslots && st->refs[hint] == 0 &&
	    !store_slot_lost(st, hint)) {
		slot = hint;
	} else if ((hint == 0 || hint != st->nslots) && st->nfree > 0) {
		for (uint64_t i = 0; i < st->nslots; i++) {
			uint64_t s = st->cursor + i;

			if (s >= st->nslots)
				s -= st->nslots - 1;
			if (s > 0 && s < st->nslots && st->refs[s] == 0 &&
			    !store_slot_lost(st, s)) {
				slot = s;
				break;
			}
		}
	}
	/* A slot the host has not backed yet (a hole) takes its space. */
	rc = store_room(st, st->block_size, false);
	if (rc)
		return rc;
	st->room -= MIN(st->room, st->block_size);
	if (slot == 0) {
		rc = grow_refs(st, st->nslots + 1);
		if (rc)
			return rc;
		slot = st->nslots;
	}
	if (slot >= st->pack_len) {
		/*
		 * Grow the pack past the new slot, so that no read of a slot
		 * is ever short, and allocate what it grows by: to the host a
		 * write into allocated space is an overwrite, which ext4 runs
		 * in parallel with others, while into a hole it takes the
		 * file's lock for itself. Without room for that above the
		 * reserve kept for meta.db (store_room), a hole.
		 */
		uint64_t len = slot + 1 + grow_ahead(st, slot);
		off_t from = (off_t)store_slot_offset(st, st->pack_len);
		off_t to = (off_t)store_slot_offset(st, len);
		bool alloc = store_room(st, (uint64_t)(to - from), false) == 0;

		if (alloc && fallocate(st->packfd, 0, from, to - from) == 0)
			st->room -= MIN(st->room, (uint64_t)(to - from));
		else if (ftruncate(st->packfd, to) < 0)
			return -errno;
		st->pack_len = len;
	}
	if (slot == st->nslots)
		st->nslots++;
	else
		st->nfree--;
	mark_dirty(st, slot);
	/* A new slot has no sum: it is hot until it has been quiet. */
	st->refs[slot] |= 1 | SLOT_HOT;
	hot_push(st, slot);
	store_mark_written(st, slot);
	st->used++;
	st->cursor = slot + 1;
	*zeroed = slot >= st->fresh;
	if (slot >= st->fresh)
		st->fresh = slot + 1;
	*out = slot;
	return 0;
}

void store_ref(struct store *st, uint64_t slot)
{
	mark_dirty(st, slot);
	/*
	 * Invariant 4: once shared, the slot is not written in place again
	 * before the next commit, even if its count falls back to 1: the
	 * committed state may name it from the file that keeps it.
	 */
	st->refs[slot] = (st->refs[slot] + 1) | SLOT_CSHARED;
}

void store_unref(struct store *st, uint64_t slot)
{
	if (slot == 0 || slot >= st->nslots ||
	    (st->refs[slot] & SLOT_COUNT_MASK) == 0) {
		log_msg("store \"%s\": dropping a reference to free slot %llu",
			st->path, (unsigned long long)slot);
		return;
	}
	mark_dirty(st, slot);
	st->refs[slot]--;
	if ((st->refs[slot] & SLOT_COUNT_MASK) == 0) {
		st->refs[slot] |= SLOT_PENDING;
		st->used--;
	}
}

/*
 * Counts are not stored: a slot's count is the number of chunk map
 * entries naming it (invariant 2), and the commit writes the maps. What
 * is written here is the permits' deleted sums and the deletion of the
 * sums of the slots freed in the transaction, so that a slot reused later
 * never inherits one (invariant 7): one statement per run of neighbouring
 * freed slots, and none for a run of hot slots, which have no sum row.
 */
int store_flush(struct store *st)
{
	int rc = store_permit_flush(st);

	if (rc)
		return rc;
	qsort(st->dirty, st->ndirty, sizeof(*st->dirty), cmp_u64);
	for (size_t i = 0, j; i < st->ndirty; i = j) {
		uint64_t first = st->dirty[i];
		bool summed = false;

		for (j = i; j < st->ndirty && st->dirty[j] == first + (j - i) &&
			    (st->refs[st->dirty[j]] & SLOT_COUNT_MASK) == 0;
		     j++)
			summed |= !(st->refs[st->dirty[j]] & SLOT_HOT);
		if (j == i) {
			j++; /* still used */
			continue;
		}
		if (summed) {
			rc = meta_slot_clear_sums(st->meta, first, j - i);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int store_sync(struct store *st)
{
	if (!st->pack_written)
		return 0;
	st->pack_written = false;
	if (fdatasync(st->packfd) < 0) {
		int rc = -errno;

		st->pack_written = true;
		log_msg("store \"%s\": fdatasync of the pack failed: %s",
			st->path, strerror(-rc));
		return rc;
	}
	return 0;
}

/* Punches a run of whole slots; failure only costs space. */
static void punch_slots(struct store *st, uint64_t first, uint64_t n)
{
	if (fallocate(st->packfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)store_slot_offset(st, first),
		      (off_t)(n << st->block_shift)) < 0)
		log_debug("punch slots %llu+%llu: %s",
			  (unsigned long long)first, (unsigned long long)n,
			  strerror(errno));
}

void store_post_commit(struct store *st)
{
	uint64_t run_start = 0, run_len = 0, end;

	for (size_t i = 0; i < st->ndirty; i++) {
		uint64_t s = st->dirty[i];
		uint32_t n = st->refs[s] & SLOT_COUNT_MASK;

		if (n == 0) {
			st->hot_dead += (st->refs[s] & SLOT_HOT) != 0;
			st->refs[s] = 0;
			st->nfree++;
			if (run_len && s == run_start + run_len) {
				run_len++;
				continue;
			}
			if (run_len)
				punch_slots(st, run_start, run_len);
			run_start = s;
			run_len = 1;
		} else {
			st->refs[s] = n | (n > 1 ? SLOT_CSHARED : 0) |
				      (st->refs[s] & (SLOT_HOT | SLOT_PERMIT |
						      SLOT_WRITTEN));
		}
	}
	if (run_len)
		punch_slots(st, run_start, run_len);
	st->ndirty = 0;
	st->room = 0; /* look at the host's free space again */

	/* What was written is durable now and starts a quiet transaction. */
	uint16_t now = store_clock();

	for (size_t i = 0; i < st->nwritten; i++) {
		uint64_t s = st->written[i];

		if (st->refs[s] & SLOT_WRITTEN) {
			st->refs[s] &= ~SLOT_WRITTEN;
			st->stamp[s] = now;
		}
	}
	st->nwritten = 0;
	hot_compact(st);

	/*
	 * Permits: the cleared sums are durable, so these slots may be
	 * written in place from now on. Marked written, so that no sum pass
	 * takes them back before the writer that asked comes back.
	 */
	for (size_t i = 0; i < st->npermit; i++) {
		uint64_t s = st->permit[i];

		if (!(st->refs[s] & SLOT_PERMIT))
			continue;
		st->refs[s] &= ~SLOT_PERMIT;
		if ((st->refs[s] & SLOT_COUNT_MASK) == 0)
			continue;
		st->refs[s] |= SLOT_HOT;
		hot_push(st, s);
		store_mark_written(st, s);
	}
	st->npermit = 0;
	st->permit_flushed = 0;
	st->summed_gen++;

	/* Cut free slots off the tail of the pack. */
	end = st->nslots;
	while (end > 1 && st->refs[end - 1] == 0)
		end--;
	if (end < st->nslots) {
		st->nfree -= st->nslots - end;
		st->nslots = end;
		if (st->cursor > end)
			st->cursor = 1;
	}
	/* What store_alloc() allocated ahead stays, more is cut. */
	if (st->pack_len > st->nslots + grow_ahead(st, st->nslots)) {
		off_t size = (off_t)store_slot_offset(st, st->nslots);

		if (st->nslots == 1)
			size = STORE_HEADER_SIZE;
		if (ftruncate(st->packfd, size) == 0) {
			st->pack_len = st->nslots;
			st->fresh = st->nslots;
		}
	}
}

void store_hash(const void *buf, size_t len, uint8_t sum[META_SUM_SIZE])
{
	XXH128_hash_t h = XXH3_128bits(buf, len);

	XXH128_canonicalFromHash((XXH128_canonical_t *)sum, h);
}

size_t store_quiet_slots(struct store *st, size_t *pos, uint64_t *slots,
			 size_t max)
{
	uint16_t now = store_clock();
	size_t n = 0;

	for (; *pos < st->nhot && n < max; (*pos)++) {
		uint64_t s = st->hot[*pos];
		uint32_t r = st->refs[s];

		if ((r & SLOT_HOT) && !(r & SLOT_WRITTEN) &&
		    (r & SLOT_COUNT_MASK) > 0 && !store_slot_lost(st, s) &&
		    (uint16_t)(now - st->stamp[s]) >= st->sum_delay)
			slots[n++] = s;
	}
	return n;
}

int store_permit(struct store *st, uint64_t slot)
{
	uint32_t r = st->refs[slot];
	uint64_t *p;

	if (r & SLOT_PERMIT)
		return 1;
	if ((r & SLOT_HOT) || (r & SLOT_COUNT_MASK) != 1 || (r & SLOT_CSHARED))
		return 0;
	p = grow_array(st->permit, &st->permit_cap, st->npermit, sizeof(*p));
	if (!p)
		return -ENOMEM;
	st->permit = p;
	st->permit[st->npermit++] = slot;
	st->refs[slot] |= SLOT_PERMIT;
	return 1;
}

int store_permit_flush(struct store *st)
{
	uint64_t *p = st->permit + st->permit_flushed;
	size_t n = st->npermit - st->permit_flushed;
	int rc;

	qsort(p, n, sizeof(*p), cmp_u64);
	rc = clear_sum_runs(st, p, n);
	if (rc) {
		for (size_t i = 0; i < n; i++)
			st->refs[p[i]] &= ~SLOT_PERMIT;
		st->npermit = st->permit_flushed;
		return rc;
	}
	st->permit_flushed = st->npermit;
	return 0;
}

uint64_t store_hot_count(const struct store *st)
{
	uint64_t n = 0;

	for (uint64_t s = 1; s < st->nslots; s++) {
		uint32_t r = st->refs[s];

		n += (r & SLOT_HOT) && (r & SLOT_COUNT_MASK) > 0;
	}
	return n;
}

int store_hash_block(int fd, uint64_t pos, void *buf, uint32_t len,
		     uint8_t sum[META_SUM_SIZE])
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(pos + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) { /* past the end of the pack: zeros */
			memset((char *)buf + got, 0, len - got);
			break;
		}
		got += (size_t)n;
	}
	store_hash(buf, len, sum);
	return 0;
}

int store_sum_slot(struct store *st, uint64_t slot, void *buf, bool direct,
		   uint8_t sum[META_SUM_SIZE])
{
	uint64_t pos = store_slot_offset(st, slot);
	int rc = -EINVAL;

	if (direct && st->packfd_direct >= 0)
		rc = store_hash_block(st->packfd_direct, pos, buf,
				      st->block_size, sum);
	if (rc == -EINVAL)
		rc = store_hash_block(st->packfd, pos, buf, st->block_size,
				      sum);
	return rc;
}

int store_set_sums(struct store *st, uint64_t gen, const uint64_t *slots,
		   uint8_t (*sums)[META_SUM_SIZE], size_t n)
{
	size_t done = 0;

	if (gen != st->summed_gen)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t s = slots[i];
		uint32_t r = st->refs[s];
		int rc;

		if (!(r & SLOT_HOT) || (r & SLOT_WRITTEN) ||
		    (r & SLOT_COUNT_MASK) == 0)
			continue;
		rc = meta_slot_set_sum(st->meta, s, sums[i]);
		if (rc)
			return rc;
		st->refs[s] &= ~SLOT_HOT;
		st->hot_dead++;
		done++;
	}
	return (int)done;
}

int store_copy(struct store *st, uint64_t from, uint64_t to, uint32_t off,
	       uint32_t len)
{
	return store_copy_at(st, store_slot_offset(st, from) + off,
			     store_slot_offset(st, to) + off, len);
}

int store_copy_at(struct store *st, uint64_t from_pos, uint64_t to_pos,
		  uint64_t len)
{
	loff_t in = (loff_t)from_pos, out = (loff_t)to_pos;

	while (len > 0) {
		ssize_t n = copy_file_range(st->packfd, &in, st->packfd, &out,
					    len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) /* past the end of the pack: the rest is zeros */
			break;
		len -= (uint64_t)n;
	}
	st->pack_written = true;
	return 0;
}

int store_zero(struct store *st, uint64_t slot, uint32_t off, uint32_t len)
{
	if (len == 0)
		return 0;
	if (fallocate(st->packfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(store_slot_offset(st, slot) + off),
		      (off_t)len) < 0)
		return -errno;
	st->pack_written = true;
	return 0;
}
