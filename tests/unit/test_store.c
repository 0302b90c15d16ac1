/*
 * test_store.c - unit tests of the store (fs/store.c: pack file, lock, slot
 * allocator) and of block maps and copy-on-write (fs/map.c), without FUSE.
 *
 * The store tests drive a struct store directly and commit the way the
 * daemon does: store_flush(), meta_commit(), store_post_commit(). The
 * -EBUSY checks take about half a minute: store_open() waits that long for
 * a lock holder that is not a mounted cowfs before it gives up.
 *
 * The map tests build a struct fs with fs_init() (no committer thread) on a
 * store whose chunk_blocks is set to 4 with sqlite3 before the first open,
 * so that files of a few blocks span several chunks. They run on one thread
 * and so take no locks. A clone is made the way a clone ioctl would: the
 * source's fmap rows are copied to the target and every chunk gains a
 * reference in its cached struct chunk.
 *
 * After each fs_commit() the committed state is checked against the
 * reference-count invariants of doc/DESIGN.md section 2 by copying meta.db
 * and its WAL aside (the daemon's connection holds an exclusive lock) and
 * reading the copy with sqlite3: SQLite recovers exactly the committed
 * transactions from the copied WAL. Slot counts are not stored (format
 * 3): the store's counts in memory must equal the counts derived from the
 * committed chunk maps, which is what the next open would load.
 *
 * The store tests that reopen a store record the references they made in
 * a chunk row (name_slots), as the map layer would: without one, the
 * slots are free again at the next open.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <endian.h>
#include <sqlite3.h>

#include "fs/fs.h"
#include "fs/store.h"
#include "meta/meta.h"
#include "tests/unit/scratch.h"
#include "tests/unit/tap.h"
#include "tests/unit/sql.h"

#define BS 4096u
#define CHUNK 4u

static char err[512];

/* --- helpers: files, sqlite3 --- */

static off_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0) {
		close(in);
		return -errno;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			n = -1;
	close(in);
	close(out);
	return n < 0 ? -EIO : 0;
}

/*
 * Copies the committed state of store @name's meta.db aside and returns the
 * copy's path. The WAL is copied too; opening the copy replays the
 * committed frames only.
 */
static const char *snapshot_db(const char *name)
{
	static char snap[PATH_MAX];
	char from[PATH_MAX], to[PATH_MAX];

	scratch_path_into(snap, "%s.snap.db", name);
	unlink(scratch_path_into(to, "%s.snap.db-wal", name));
	unlink(scratch_path_into(to, "%s.snap.db-shm", name));
	scratch_path_into(from, "%s/meta.db", name);
	if (copy_file(from, snap))
		bail_out("cannot copy %s", from);
	scratch_path_into(from, "%s/meta.db-wal", name);
	scratch_path_into(to, "%s.snap.db-wal", name);
	if (access(from, F_OK) == 0 && copy_file(from, to))
		bail_out("cannot copy %s", from);
	return snap;
}

/*
 * A chunk's reference count as stored and as counted from the fmap rows;
 * a slot's as the store holds it in memory and as counted from the maps.
 */
struct count {
	uint64_t id;
	int64_t stored;		/* -1: no row (no count in memory) */
	int64_t counted;
};

struct counts {
	struct count *v;
	size_t n, cap;
};

static struct count *count_of(struct counts *c, uint64_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].id == id)
			return &c->v[i];
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		if (!c->v)
			bail_out("out of memory");
	}
	c->v[c->n] = (struct count){ id, -1, 0 };
	return &c->v[c->n++];
}

/* Reports every mismatch of a table of counts; returns their number. */
static int count_mismatches(const struct counts *c, const char *what)
{
	int bad = 0;

	for (size_t i = 0; i < c->n; i++) {
		const struct count *e = &c->v[i];

		if (e->stored == e->counted && e->stored > 0)
			continue;
		if (bad++ < 8)
			diag("%s %llu: refs %lld, references found %lld",
			     what, (unsigned long long)e->id,
			     (long long)e->stored, (long long)e->counted);
	}
	return bad;
}

struct violations {
	int maps;		/* malformed chunk maps */
	int chunks;		/* invariant 1 */
	int slots;		/* invariants 2, 3: counts in memory */
	int sums;		/* checksum rows of slots no map names */
	int fmap;		/* fmap rows of missing inodes */
	size_t nchunks, nslots;
};

/*
 * Counts the violations of invariants 1-3 of DESIGN.md section 2 in a
 * database file, and malformed chunk maps (not whole u64s, longer than
 * chunk_blocks, trailing hole stored). With @st, the store's counts in
 * memory must be the counts of the maps (a count for every slot named, 0
 * for every other); every checksum row must be of a slot a map names.
 * Each violation is described by a diag.
 */
static struct violations find_violations(const char *dbpath,
					 const struct store *st)
{
	struct counts slots = { 0 }, chunks = { 0 };
	struct violations v = { 0 };
	sqlite3 *db = NULL;
	sqlite3_stmt *s;

	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		bail_out("open %s: %s", dbpath, sqlite3_errmsg(db));

	if (sqlite3_prepare_v2(db, "SELECT id, refs, map FROM chunk", -1, &s,
			       NULL) != SQLITE_OK)
		bail_out("query chunk: %s", sqlite3_errmsg(db));
	while (sqlite3_step(s) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(s, 0);
		const unsigned char *blob = sqlite3_column_blob(s, 2);
		int bytes = sqlite3_column_bytes(s, 2);
		int n = bytes / 8;

		count_of(&chunks, id)->stored = sqlite3_column_int64(s, 1);
		if (bytes % 8 || n > (int)CHUNK) {
			v.maps++;
			diag("chunk %llu: map of %d bytes",
			     (unsigned long long)id, bytes);
			continue;
		}
		for (int i = 0; i < n; i++) {
			uint64_t le, slot;

			memcpy(&le, blob + 8 * i, 8);
			slot = le64toh(le);
			if (slot) {
				count_of(&slots, slot)->counted++;
			} else if (i == n - 1) {
				v.maps++;
				diag("chunk %llu: trailing hole stored",
				     (unsigned long long)id);
			}
		}
	}
	sqlite3_finalize(s);

	if (st) {
		for (uint64_t i = 1; i < st->cap; i++)
			if (st->refs[i] & SLOT_COUNT_MASK)
				count_of(&slots, i)->stored =
					st->refs[i] & SLOT_COUNT_MASK;
		for (size_t i = 0; i < slots.n; i++)
			if (slots.v[i].stored < 0)
				slots.v[i].stored = 0;
	}

	sqlite3_prepare_v2(db, "SELECT id FROM slot", -1, &s, NULL);
	while (sqlite3_step(s) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(s, 0);
		size_t i;

		for (i = 0; i < slots.n && slots.v[i].id != id; i++)
			;
		if (i == slots.n || slots.v[i].counted == 0) {
			v.sums++;
			diag("slot %llu: a checksum row, but no map names it",
			     (unsigned long long)id);
		}
	}
	sqlite3_finalize(s);

	sqlite3_prepare_v2(db,
			   "SELECT f.ino, f.chunk, i.ino IS NULL FROM fmap f"
			   " LEFT JOIN inode i ON i.ino = f.ino",
			   -1, &s, NULL);
	while (sqlite3_step(s) == SQLITE_ROW) {
		count_of(&chunks, (uint64_t)sqlite3_column_int64(s, 1))
			->counted++;
		if (sqlite3_column_int(s, 2)) {
			v.fmap++;
			diag("fmap row of missing inode %lld",
			     (long long)sqlite3_column_int64(s, 0));
		}
	}
	sqlite3_finalize(s);
	sqlite3_close(db);

	v.chunks = count_mismatches(&chunks, "chunk");
	v.slots = st ? count_mismatches(&slots, "slot") : 0;
	v.nchunks = chunks.n;
	v.nslots = slots.n;
	free(slots.v);
	free(chunks.v);
	return v;
}

/*
 * Checks the invariants on a database file (and the counts of @st, if
 * not NULL): one result per invariant.
 */
static void check_invariants(const char *dbpath, const struct store *st,
			     const char *label)
{
	struct violations v = find_violations(dbpath, st);

	ok(v.maps == 0, "%s: chunk maps are well formed", label);
	ok(v.chunks == 0,
	   "%s: invariant 1: chunk.refs = fmap rows naming it (%zu chunks)",
	   label, v.nchunks);
	if (st)
		ok(v.slots == 0,
		   "%s: invariants 2, 3: the counts in memory = the committed"
		   " map entries naming each slot (%zu slots)",
		   label, v.nslots);
	ok(v.sums == 0, "%s: checksum rows only for slots the maps name",
	   label);
	ok(v.fmap == 0, "%s: every fmap row belongs to an inode", label);
}

/* --- helpers: stores --- */

/* Creates store @name (chunk_blocks @chunk_blocks unless 0). */
static void make_store(const char *name, uint32_t chunk_blocks)
{
	char sql[128];
	int rc = store_create(scratch_path("%s", name), BS, false, getuid(),
			      getgid(), err, sizeof(err));

	if (rc)
		bail_out("store_create %s: %s", name, err);
	if (chunk_blocks) {
		snprintf(sql, sizeof(sql),
			 "UPDATE super SET value = %u"
			 " WHERE key = 'chunk_blocks'",
			 chunk_blocks);
		rc = sql_exec(scratch_path("%s/meta.db", name), sql);
		if (rc != SQLITE_OK)
			bail_out("cannot set chunk_blocks");
	}
}

static void open_store(struct store *st, const char *name)
{
	int rc = store_open(st, scratch_path("%s", name), false, err,
			    sizeof(err));

	if (rc)
		bail_out("store_open %s: %s", name, err);
}

/* Commits the open transaction the way fs_commit does. */
static void commit_store(struct store *st)
{
	int rc = store_flush(st);

	if (!rc)
		rc = store_sync(st);
	if (!rc)
		rc = meta_commit(st->meta);
	if (rc)
		bail_out("commit: %d", rc);
	store_post_commit(st);
}

static uint64_t alloc(struct store *st, uint64_t hint)
{
	uint64_t slot = 0;
	bool zeroed;
	int rc = store_alloc(st, hint, &slot, &zeroed);

	if (rc)
		bail_out("store_alloc: %d", rc);
	return slot;
}

/*
 * Records @n references in a chunk row (refs 1) whose map is @map, in the
 * open transaction, as the map layer would: slot counts are what the
 * committed maps name.
 */
static void name_slots(struct store *st, const uint64_t *map, uint32_t n)
{
	uint64_t id;
	int rc = meta_chunk_insert(st->meta, 1, map, n, &id);

	if (rc)
		bail_out("meta_chunk_insert: %d", rc);
}

static void fill_slot(struct store *st, uint64_t slot, uint32_t off,
		      uint32_t len, int byte)
{
	char buf[BS];

	memset(buf, byte, len);
	if (pwrite(st->packfd, buf, len,
		   (off_t)(store_slot_offset(st, slot) + off)) != (ssize_t)len)
		bail_out("pwrite slot %llu: %m", (unsigned long long)slot);
	st->pack_written = true;
}

/* True if bytes [off, off+len) of @slot all equal @byte. */
static bool slot_is(struct store *st, uint64_t slot, uint32_t off,
		    uint32_t len, int byte)
{
	unsigned char buf[BS];
	ssize_t n;

	memset(buf, byte == 0 ? 0xee : 0, sizeof(buf));
	n = pread(st->packfd, buf, len,
		  (off_t)(store_slot_offset(st, slot) + off));
	if (n < 0)
		return false;
	/* Bytes past the end of the pack read as zeros. */
	memset(buf + n, 0, len - (size_t)n);
	for (uint32_t i = 0; i < len; i++)
		if (buf[i] != (unsigned char)byte) {
			diag("slot %llu byte %u is 0x%02x, not 0x%02x",
			     (unsigned long long)slot, off + i, buf[i],
			     (unsigned char)byte);
			return false;
		}
	return true;
}

/* --- store: creation, opening, locking --- */

static void test_create_refuses(void)
{
	char dir[PATH_MAX];
	struct pack_hdr {
		char magic[8];
		uint32_t version, block_size;
		uint8_t uuid[16];
	} h1, h2;
	struct stat sb;
	int fd, rc;

	scratch_path_into(dir, "nonempty");
	mkdir(dir, 0755);
	fd = open(scratch_path("nonempty/junk"), O_CREAT | O_WRONLY, 0600);
	close(fd);
	rc = store_create(dir, BS, false, getuid(), getgid(), err, sizeof(err));
	is_int(rc, -EEXIST, "store_create refuses a non-empty directory");
	ok(strstr(err, "not empty") != NULL, "reason: %s", err);
	ok(access(scratch_path("nonempty/meta.db"), F_OK) != 0,
	   "refused create wrote no meta.db");

	scratch_path_into(dir, "created");
	rc = store_create(dir, BS, false, getuid(), getgid(), err, sizeof(err));
	is_int(rc, 0, "store_create makes a store in a new directory");
	ok(stat(dir, &sb) == 0 && (sb.st_mode & 07777) == 0700,
	   "store directory has mode 0700");
	ok(stat(scratch_path("created/blocks"), &sb) == 0 &&
		   (sb.st_mode & 07777) == 0600,
	   "pack has mode 0600");
	is_int(sb.st_size, STORE_HEADER_SIZE, "new pack is just the header");
	fd = open(scratch_path("created/blocks"), O_RDONLY);
	rc = (int)pread(fd, &h1, sizeof(h1), 0);
	close(fd);
	ok(rc == sizeof(h1) && !memcmp(h1.magic, "COWFSPK", 8) &&
		   le32toh(h1.version) == 1 && le32toh(h1.block_size) == BS,
	   "pack header: magic, version 1, block size (little-endian)");

	rc = store_create(dir, BS, false, getuid(), getgid(), err, sizeof(err));
	is_int(rc, -EEXIST, "store_create refuses an existing store");
	ok(strstr(err, "already holds") != NULL, "reason: %s", err);
	rc = store_create(dir, BS, true, getuid(), getgid(), err, sizeof(err));
	is_int(rc, 0, "store_create --force replaces an existing store");
	fd = open(scratch_path("created/blocks"), O_RDONLY);
	rc = (int)pread(fd, &h2, sizeof(h2), 0);
	close(fd);
	ok(rc == sizeof(h2) && memcmp(h1.uuid, h2.uuid, 16) != 0,
	   "the replaced store has a new uuid");
}

/*
 * One contender for a store in use. store_open() waits (up to half a
 * minute) for a holder that is not a mounted cowfs to go away before it
 * gives up, so the contenders run at the same time, each in a thread.
 */
struct contender {
	pthread_t thread;
	const char *path;
	int kind;		/* 0 open, 1 read-only, 2 create --force */
	int rc;
	struct store st;
	char err[512];
};

static void *contend(void *arg)
{
	struct contender *c = arg;

	if (c->kind == 2)
		c->rc = store_create(c->path, BS, true, getuid(), getgid(),
				     c->err, sizeof(c->err));
	else
		c->rc = store_open(&c->st, c->path, c->kind == 1, c->err,
				   sizeof(c->err));
	if (c->rc == 0 && c->kind != 2)
		store_close(&c->st);
	return NULL;
}

static void test_open_busy(void)
{
	struct contender c[3];
	struct store st1, st2;
	struct meta_inode root;
	char path[PATH_MAX];
	int rc;

	make_store("busy", 0);
	scratch_path_into(path, "busy");
	open_store(&st1, "busy");
	diag("contending for a store in use (this waits for the lock)");
	for (int i = 0; i < 3; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].path = path;
		c[i].kind = i;
		if (pthread_create(&c[i].thread, NULL, contend, &c[i]))
			bail_out("pthread_create");
	}
	for (int i = 0; i < 3; i++)
		pthread_join(c[i].thread, NULL);
	is_int(c[0].rc, -EBUSY,
	       "second store_open in the same process: -EBUSY (flock)");
	ok(strstr(c[0].err, "in use") != NULL, "reason: %s", c[0].err);
	ok(c[0].st.meta == NULL && c[0].st.packfd == -1 &&
		   c[0].st.refs == NULL,
	   "failed store_open leaves nothing open");
	is_int(c[1].rc, -EBUSY, "a read-only open is refused too");
	is_int(c[2].rc, -EBUSY, "store_create --force refuses a store in use");
	is_int(meta_inode_get(st1.meta, META_ROOT_INO, &root), 0,
	       "the store in use is intact");
	store_close(&st1);
	rc = store_open(&st2, path, false, err, sizeof(err));
	is_int(rc, 0, "store_open succeeds once the holder closed");
	store_close(&st2);
}

/* A holder that goes away while store_open() waits: the open succeeds. */
static void test_open_waits_for_holder(void)
{
	struct store st;
	char path[PATH_MAX], ready;
	int fds[2], rc, status = -1;
	pid_t pid;

	make_store("holder", 0);
	scratch_path_into(path, "holder");
	if (pipe(fds))
		bail_out("pipe: %m");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %m");
	if (pid == 0) {
		close(fds[0]);
		rc = store_open(&st, path, false, err, sizeof(err));
		ready = rc ? 'n' : 'y';
		if (write(fds[1], &ready, 1) != 1)
			_exit(2);
		usleep(300 * 1000);
		if (!rc)
			store_close(&st);
		_exit(rc ? 1 : 0);
	}
	close(fds[1]);
	if (read(fds[0], &ready, 1) != 1 || ready != 'y')
		bail_out("the holder process could not open the store");
	close(fds[0]);
	rc = store_open(&st, path, false, err, sizeof(err));
	is_int(rc, 0, "store_open waits for a holder that is not mounted and"
		      " gets the store once it exits");
	if (!rc)
		store_close(&st);
	waitpid(pid, &status, 0);
	is_int(status, 0, "the holder process closed the store cleanly");
}

static void test_open_bad_pack(void)
{
	struct store st;
	char pack[PATH_MAX];
	uint32_t v2 = htole32(2);
	char magic[8] = "COWFSPK", bad[8] = "XOWFSPK", b;
	int fd, rc;

	scratch_path_into(pack, "badpack/blocks");
	make_store("badpack", 0);
	fd = open(pack, O_RDWR);
	pwrite(fd, bad, 8, 0);
	rc = store_open(&st, scratch_path("badpack"), false, err, sizeof(err));
	is_int(rc, -EINVAL, "a pack with a bad magic is refused: -EINVAL");
	pwrite(fd, magic, 8, 0);
	pwrite(fd, &v2, 4, 8);
	rc = store_open(&st, scratch_path("badpack"), false, err, sizeof(err));
	is_int(rc, -EPROTONOSUPPORT,
	       "a pack of format version 2 is refused: -EPROTONOSUPPORT");
	v2 = htole32(1);
	pwrite(fd, &v2, 4, 8);
	pread(fd, &b, 1, 16);
	b ^= 1;
	pwrite(fd, &b, 1, 16);
	rc = store_open(&st, scratch_path("badpack"), false, err, sizeof(err));
	is_int(rc, -EINVAL, "a pack of another store (uuid) is refused");
	ok(strstr(err, "different stores") != NULL, "reason: %s", err);
	b ^= 1;
	pwrite(fd, &b, 1, 16);
	close(fd);
	rc = store_open(&st, scratch_path("badpack"), false, err, sizeof(err));
	is_int(rc, 0, "the repaired pack opens");
	store_close(&st);
	unlink(pack);
	rc = store_open(&st, scratch_path("badpack"), false, err, sizeof(err));
	is_int(rc, -ENOENT, "a store without its pack is refused: -ENOENT");
}

/* --- store: the slot allocator --- */

static void test_alloc_sequential(void)
{
	struct store st;
	uint64_t s[5];
	bool zeroed = false, all_zeroed = true;

	make_store("seq", 0);
	open_store(&st, "seq");
	for (int i = 0; i < 4; i++) {
		store_alloc(&st, 0, &s[i], &zeroed);
		all_zeroed &= zeroed;
	}
	ok(s[0] == 1 && s[1] == 2 && s[2] == 3 && s[3] == 4,
	   "fresh store: slots 1, 2, 3, 4 in order (got %llu %llu %llu %llu)",
	   (unsigned long long)s[0], (unsigned long long)s[1],
	   (unsigned long long)s[2], (unsigned long long)s[3]);
	ok(all_zeroed, "slots past the end of the pack are known zeroed");
	ok(file_size(scratch_path("seq/blocks")) >= 5 * BS,
	   "the pack file covers every allocated slot (no short reads)");
	s[4] = alloc(&st, s[3] + 1);
	is_int(s[4], 5, "hint = last + 1 appends contiguously");
	is_int(store_slot_count(&st, 3), 1, "a new slot has count 1");
	is_int(st.used, 5, "used counts allocated slots");
	is_int(st.nslots, 6, "nslots covers them (and slot 0)");
	is_int(store_slot_count(&st, 0), 0, "slot 0 (header) is never counted");
	store_close(&st);
}

static void test_alloc_hint(void)
{
	struct store st;
	uint64_t s;

	make_store("hint", 0);
	open_store(&st, "hint");
	for (int i = 0; i < 6; i++)
		alloc(&st, 0);
	commit_store(&st);
	store_unref(&st, 2);
	store_unref(&st, 4);
	commit_store(&st);
	is_int(st.nfree, 2, "two slots free after the commit");
	s = alloc(&st, 4);
	is_int(s, 4, "a free hint is honoured");
	s = alloc(&st, 5);
	is_int(s, 2, "a used hint: the free slot is found");
	s = alloc(&st, 3);
	is_int(s, 7, "no free slot left: append");
	is_int(st.nfree, 0, "nfree back to 0");
	store_close(&st);
}

static void test_refs(void)
{
	struct store st;
	uint64_t s;

	make_store("refs", 0);
	open_store(&st, "refs");
	s = alloc(&st, 0);
	store_ref(&st, s);
	store_ref(&st, s);
	is_int(store_slot_count(&st, s), 3, "two store_ref: count 3");
	store_unref(&st, s);
	is_int(store_slot_count(&st, s), 2, "store_unref: count 2");
	is_int(st.used, 1, "still used");
	store_unref(&st, s);
	store_unref(&st, s);
	is_int(store_slot_count(&st, s), 0, "count 0 after the last unref");
	is_int(st.used, 0, "no longer used");
	diag("a log line about a free slot is expected:");
	store_unref(&st, s);
	is_int(store_slot_count(&st, s), 0,
	       "an unref of a slot with count 0 is refused (no wrap-around)");
	is_int(store_slot_count(&st, 1000), 0, "count of a slot past nslots");
	store_close(&st);
}

static void test_pending_not_reused(void)
{
	struct store st;
	uint64_t s;
	bool reused = false;

	make_store("pending", 0);
	open_store(&st, "pending");
	for (int i = 0; i < 3; i++)
		alloc(&st, 0);
	commit_store(&st);
	store_unref(&st, 2);
	s = alloc(&st, 2);
	ok(s != 2, "invariant 5: a slot freed in the open transaction is not"
		   " reused through a hint (got %llu)",
	   (unsigned long long)s);
	for (int i = 0; i < 4; i++)
		reused |= alloc(&st, 0) == 2;
	ok(!reused, "invariant 5: nor by the free-slot search");
	commit_store(&st);
	s = alloc(&st, 2);
	is_int(s, 2, "after the commit the slot is free again");
	store_close(&st);
}

static void test_private_after_commit(void)
{
	struct store st;
	uint64_t s;

	make_store("private", 0);
	open_store(&st, "private");
	s = alloc(&st, 0);
	ok(store_slot_private(&st, s), "a new slot is private");
	store_ref(&st, s);
	ok(!store_slot_private(&st, s), "a slot with count 2 is not private");
	commit_store(&st);
	store_unref(&st, s);
	is_int(store_slot_count(&st, s), 1, "count back to 1");
	ok(!store_slot_private(&st, s),
	   "invariant 4: count 1 now but shared at the last commit: not"
	   " private");
	commit_store(&st);
	ok(store_slot_private(&st, s),
	   "after the commit that unshared it, private again");
	store_ref(&st, s);
	name_slots(&st, (uint64_t[]){ s, s }, 2);
	commit_store(&st);
	store_close(&st);

	open_store(&st, "private");
	is_int(store_slot_count(&st, s), 2, "count 2 loaded on reopen");
	store_unref(&st, s);
	ok(!store_slot_private(&st, s),
	   "invariant 4 holds for counts loaded at open");
	store_close(&st);
}

static void test_flush_reopen(void)
{
	struct store st;
	const char *name = "flush";

	make_store(name, 0);
	open_store(&st, name);
	for (int i = 0; i < 5; i++)
		alloc(&st, 0);
	store_ref(&st, 2);
	store_ref(&st, 2);
	store_ref(&st, 4);
	store_unref(&st, 5);
	/* The maps that name them: two chunks, one with a hole. */
	name_slots(&st, (uint64_t[]){ 1, 2, 0, 2 }, 4);
	name_slots(&st, (uint64_t[]){ 2, 3, 4, 4 }, 4);
	is_int(store_flush(&st), 0, "store_flush");
	is_int(meta_commit(st.meta), 0, "commit");
	store_close(&st);

	open_store(&st, name);
	ok(store_slot_count(&st, 1) == 1 && store_slot_count(&st, 2) == 3 &&
		   store_slot_count(&st, 3) == 1 &&
		   store_slot_count(&st, 4) == 2 &&
		   store_slot_count(&st, 5) == 0,
	   "reopen counts the committed map entries: 1 3 1 2 0 (got %u %u %u %u %u)",
	   store_slot_count(&st, 1), store_slot_count(&st, 2),
	   store_slot_count(&st, 3), store_slot_count(&st, 4),
	   store_slot_count(&st, 5));
	is_int(st.used, 4, "reopen: used");
	is_int(st.nslots, 5, "reopen: nslots ends after the last used slot");
	is_int(st.nfree, 0, "reopen: nfree");
	ok(!store_slot_private(&st, 2) && !store_slot_private(&st, 4) &&
		   store_slot_private(&st, 1),
	   "reopen: slots with count > 1 are marked shared");
	is_int(alloc(&st, 0), 5, "reopen: next allocation appends");
	/* Not committed: gone on the next open. */
	store_ref(&st, 1);
	name_slots(&st, (uint64_t[]){ 1, 5 }, 2);
	store_flush(&st);
	store_close(&st);
	open_store(&st, name);
	is_int(store_slot_count(&st, 1), 1,
	       "references flushed but not committed are not counted");
	is_int(store_slot_count(&st, 5), 0, "nor are uncommitted allocations");
	store_close(&st);
}

/*
 * Checksum rows at open: a used slot with one is not hot; a row of a slot
 * no chunk names (stale) is not counted, and a read-write open deletes it
 * in its transaction, so that the slot never inherits it.
 */
static void test_open_sums(void)
{
	struct store st;
	const char *name = "sums";
	uint8_t sum[META_SUM_SIZE] = { 1, 2, 3 };
	char path[PATH_MAX];
	uint64_t a, b;

	make_store(name, 0);
	open_store(&st, name);
	a = alloc(&st, 0);
	b = alloc(&st, 0);
	name_slots(&st, (uint64_t[]){ a, b }, 2);
	meta_slot_set_sum(st.meta, a, sum);
	meta_slot_set_sum(st.meta, b + 1, sum);
	meta_slot_set_sum(st.meta, 100, sum);
	commit_store(&st);
	store_close(&st);

	is_int(store_open(&st, scratch_path("%s", name), true, err,
			  sizeof(err)),
	       0, "read-only open with stale checksum rows");
	ok(st.nslots == b + 1 && st.used == 2,
	   "stale rows are not counted: nslots %llu, used %llu",
	   (unsigned long long)st.nslots, (unsigned long long)st.used);
	ok(!(st.refs[a] & SLOT_HOT) && (st.refs[b] & SLOT_HOT) &&
		   store_hot_count(&st) == 1,
	   "the summed slot is not hot, the other one is");
	store_close(&st);
	scratch_path_into(path, "%s/meta.db", name);
	is_int(sql_int(path, "SELECT count(*) FROM slot", -1), 3,
	       "a read-only open changes nothing");

	open_store(&st, name);
	is_int(st.nfree, 0, "read-write open: no slot is free");
	is_int(alloc(&st, 0), b + 1, "the next slot appended is the stale one");
	ok(meta_slot_get_sum(st.meta, b + 1, sum) == 0 &&
		   meta_slot_get_sum(st.meta, 100, sum) == 0 &&
		   meta_slot_get_sum(st.meta, a, sum) == 1,
	   "a read-write open deleted the stale rows, not the others");
	commit_store(&st);
	store_close(&st);
	is_int(sql_int(path, "SELECT count(*) FROM slot", -1), 1,
	       "the deletion commits with the transaction");
}

static void test_tail_truncate_reopened(void)
{
	struct store st;
	char pack[PATH_MAX];

	scratch_path_into(pack, "tail1/blocks");
	make_store("tail1", 0);
	open_store(&st, "tail1");
	for (uint64_t i = 1; i <= 4; i++)
		fill_slot(&st, alloc(&st, 0), 0, BS, 'a' + (int)i);
	name_slots(&st, (uint64_t[]){ 1, 2, 3, 4 }, 4);
	commit_store(&st);
	store_close(&st);
	ok(file_size(pack) >= 5 * BS, "pack holds header + 4 slots");

	open_store(&st, "tail1");
	is_int(st.nslots, 5, "reopen: nslots covers the named slots");
	store_unref(&st, 4);
	store_unref(&st, 3);
	ok(file_size(pack) >= 5 * BS, "freed slots stay until the commit");
	commit_store(&st);
	is_int(file_size(pack), 3 * BS,
	       "after the commit the free tail is cut off the pack");
	is_int(st.nslots, 3, "nslots follows");
	ok(slot_is(&st, 2, 0, BS, 'a' + 2), "the kept slot is intact");
	is_int(alloc(&st, 0), 3, "allocation appends at the new end");
	store_close(&st);
}

static void test_tail_truncate_same_session(void)
{
	struct store st;
	char pack[PATH_MAX];

	scratch_path_into(pack, "tail2/blocks");
	make_store("tail2", 0);
	open_store(&st, "tail2");
	for (uint64_t i = 1; i <= 4; i++)
		fill_slot(&st, alloc(&st, 0), 0, BS, 'a' + (int)i);
	commit_store(&st);
	ok(file_size(pack) >= 5 * BS, "pack holds header + 4 slots");
	store_unref(&st, 4);
	store_unref(&st, 3);
	commit_store(&st);
	is_int(st.nslots, 3, "nslots shrinks after the commit");
	ok(slot_is(&st, 3, 0, BS, 0) && slot_is(&st, 4, 0, BS, 0),
	   "freed slots are punched (read as zeros)");
	is_int(file_size(pack), 3 * BS,
	       "slots allocated and freed in one session are cut off too");
	is_int(alloc(&st, 0), 3, "allocation appends at the new end");
	ok(file_size(pack) >= 4 * BS, "the pack grows again to cover it");
	ok(slot_is(&st, 3, 0, BS, 0), "the re-appended slot reads as zeros");
	store_close(&st);
}

static void test_copy_zero(void)
{
	struct store st;
	uint64_t a, b;

	make_store("copy", 0);
	open_store(&st, "copy");
	a = alloc(&st, 0);
	b = alloc(&st, 0);
	fill_slot(&st, a, 0, BS, 'A');
	fill_slot(&st, b, 0, BS, 'B');
	is_int(store_copy(&st, a, b, 100, 200), 0, "store_copy");
	ok(slot_is(&st, b, 0, 100, 'B') && slot_is(&st, b, 100, 200, 'A') &&
		   slot_is(&st, b, 300, BS - 300, 'B'),
	   "store_copy copies exactly the range, at the same offset");
	ok(slot_is(&st, a, 0, BS, 'A'), "store_copy leaves the source alone");
	is_int(store_zero(&st, b, 1000, 500), 0, "store_zero");
	ok(slot_is(&st, b, 300, 700, 'B') && slot_is(&st, b, 1000, 500, 0) &&
		   slot_is(&st, b, 1500, BS - 1500, 'B'),
	   "store_zero zeroes exactly the range");
	is_int(store_zero(&st, a, 0, 0), 0, "store_zero of nothing");
	ok(slot_is(&st, a, 0, BS, 'A'),
	   "store_zero of nothing changes nothing");
	store_close(&st);
}

/* --- maps: helpers --- */

static void fs_open(struct fs *fs, const char *name, bool create)
{
	struct fs_options o = { .commit_interval = 3600 };
	int rc;

	if (create)
		make_store(name, CHUNK);
	rc = fs_init(fs, scratch_path("%s", name), &o, err, sizeof(err));
	if (rc)
		bail_out("fs_init %s: %s", name, err);
	if (fs->st.chunk_blocks != CHUNK)
		bail_out("chunk_blocks is %u", fs->st.chunk_blocks);
}

/* fs_commit, then the invariants on the committed state. */
static void commit_check(struct fs *fs, const char *name, const char *label)
{
	int rc = fs_commit(fs);

	is_int(rc, 0, "%s: fs_commit", label);
	check_invariants(snapshot_db(name), &fs->st, label);
}

static void fs_close(struct fs *fs, const char *name)
{
	char label[64];

	fs_destroy(fs);
	snprintf(label, sizeof(label), "%s, closed", name);
	check_invariants(scratch_path("%s/meta.db", name), NULL, label);
}

static struct inode *new_file(struct fs *fs)
{
	struct meta_inode a = {
		.mode = 0100644,
		.nlink = 1,
		.uid = getuid(),
		.gid = getgid(),
	};
	struct inode *in;
	int rc;

	in = inode_new(fs, &a, NULL, &rc);
	if (!in)
		bail_out("inode_new: %d", rc);
	return in;
}

/* Writes all of block @b of @in, filled with @byte; returns its slot. */
static uint64_t write_block(struct fs *fs, struct inode *in, uint64_t b,
			    int byte)
{
	int64_t slot = map_prepare_write(fs, in, b, 0, BS);

	if (slot <= 0)
		bail_out("map_prepare_write block %llu: %lld",
			 (unsigned long long)b, (long long)slot);
	fill_slot(&fs->st, (uint64_t)slot, 0, BS, byte);
	return (uint64_t)slot;
}

/*
 * Clones @src into the empty file @dst the way a clone ioctl would: copies
 * the fmap rows and adds a reference to each chunk (in its cached struct,
 * marked dirty so the commit writes it), then loads @dst's map.
 */
static void clone_file(struct fs *fs, struct inode *src, struct inode *dst)
{
	int rc;

	for (size_t i = 0; i < src->nmap; i++) {
		struct chunk *c = src->map[i].c;

		rc = meta_fmap_set(fs->st.meta, dst->ino, src->map[i].cidx,
				   c->id);
		if (rc)
			bail_out("clone: meta_fmap_set: %d", rc);
		c->refs++;
		if (!c->dirty) {
			c->dirty = true;
			c->dnext = fs->dirty_chunks;
			fs->dirty_chunks = c;
		}
		fs_note_changes(fs, 1);
	}
	map_release(fs, dst);
	rc = map_load(fs, dst);
	if (rc)
		bail_out("clone: map_load: %d", rc);
}

/* --- maps: writes --- */

static void test_map_holes(void)
{
	struct fs fs;
	struct inode *a;
	int64_t s0, s1, s5;
	const char *name = "map_holes";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	is_int(a->nblocks, 0, "a new file maps no block");
	is_int(map_lookup(&fs, a, 0), 0, "block 0 of a new file is a hole");
	s0 = map_prepare_write(&fs, a, 0, 0, BS);
	ok(s0 > 0, "write to a hole allocates a slot (%lld)", (long long)s0);
	is_int(a->nblocks, 1, "nblocks grows to 1");
	is_int(map_lookup(&fs, a, 0), s0, "map_lookup finds the new slot");
	is_int(a->nmap, 1, "the file has one chunk");
	s1 = map_prepare_write(&fs, a, 1, 0, BS);
	is_int(s1, s0 + 1, "the next block gets the next slot (contiguous)");
	s5 = map_prepare_write(&fs, a, 5, 0, BS);
	ok(s5 > 0 && s5 != s0 && s5 != s1, "block 5 gets a slot of its own");
	is_int(a->nmap, 2, "block 5 is in a second chunk (chunk_blocks 4)");
	is_int(a->nblocks, 3, "nblocks is 3");
	ok(map_lookup(&fs, a, 2) == 0 && map_lookup(&fs, a, 4) == 0 &&
		   map_lookup(&fs, a, 6) == 0,
	   "unwritten blocks stay holes");
	is_int(store_slot_count(&fs.st, (uint64_t)s5), 1, "new slot: count 1");
	commit_check(&fs, name, "holes");
	is_int(a->map[1].c->n, 2, "chunk 1 stores [hole, slot]");
	fs_close(&fs, name);
}

static void test_map_private_in_place(void)
{
	struct fs fs;
	struct inode *a;
	uint64_t s, used;
	const char *name = "map_private";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	s = write_block(&fs, a, 0, 'p');
	is_int(map_prepare_write(&fs, a, 0, 10, 20), s,
	       "a private slot written in the same transaction is reused");
	commit_check(&fs, name, "private");
	used = fs.st.used;
	is_int(map_prepare_write(&fs, a, 0, 10, 20), s,
	       "a private committed slot is written in place");
	is_int(fs.st.used, used, "no slot was allocated");
	is_int(a->nblocks, 1, "nblocks unchanged");
	fs_close(&fs, name);
}

static void test_map_clone_cow(void)
{
	struct fs fs;
	struct inode *a, *b;
	uint64_t s[3], t, u, aid;
	struct chunk *shared;
	const char *name = "map_clone";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	for (int i = 0; i < 3; i++)
		s[i] = write_block(&fs, a, (uint64_t)i, 'a' + i);
	commit_check(&fs, name, "before clone");
	b = new_file(&fs);
	clone_file(&fs, a, b);
	commit_check(&fs, name, "clone");
	shared = a->map[0].c;
	aid = shared->id;
	ok(b->nmap == 1 && b->map[0].c == shared,
	   "the clone shares the cached chunk");
	is_int(shared->refs, 2, "shared chunk has refs 2");
	is_int(b->nblocks, 3, "the clone maps 3 blocks");
	is_int(store_slot_count(&fs.st, s[1]), 1,
	       "slot counts do not change on a clone (one chunk entry each)");

	t = (uint64_t)map_prepare_write(&fs, b, 1, 100, 200);
	ok(t > 0 && t != s[0] && t != s[1] && t != s[2],
	   "writing the clone's block 1 gets a new slot (%llu)",
	   (unsigned long long)t);
	ok(b->map[0].c != shared && b->map[0].c->id != aid,
	   "the clone now has a chunk of its own");
	is_int(shared->refs, 1, "the original chunk lost a reference");
	is_int(a->map[0].c->id, aid, "the original file keeps its chunk");
	ok(map_lookup(&fs, b, 0) == s[0] && map_lookup(&fs, b, 2) == s[2],
	   "only the written block was copied: blocks 0 and 2 still shared");
	ok(map_lookup(&fs, a, 0) == s[0] && map_lookup(&fs, a, 1) == s[1] &&
		   map_lookup(&fs, a, 2) == s[2],
	   "the original file's map is unchanged");
	is_int(store_slot_count(&fs.st, s[0]), 2,
	       "slot of block 0 is named by both chunks now");
	is_int(store_slot_count(&fs.st, s[1]), 1,
	       "old slot of block 1 is the original's alone");
	ok(slot_is(&fs.st, t, 0, 100, 'b') && slot_is(&fs.st, t, 300, BS - 300,
							  'b'),
	   "the new slot has the old data outside the written range");
	ok(slot_is(&fs.st, t, 100, 200, 'b'),
	   "and inside it until the write lands (the block copied whole)");
	ok(slot_is(&fs.st, s[1], 0, BS, 'b'), "the old slot is untouched");
	is_int(b->nblocks, 3, "the clone's nblocks is unchanged by a CoW");
	is_int(map_prepare_write(&fs, b, 1, 0, 10), t,
	       "the clone's new slot is then written in place");

	u = write_block(&fs, b, 0, 'x');
	ok(u != s[0], "a full-block write to a shared slot also gets a new"
		      " slot");
	is_int(store_slot_count(&fs.st, s[0]), 1, "the shared slot lost one");
	ok(slot_is(&fs.st, s[0], 0, BS, 'a'), "the original block 0 is intact");
	commit_check(&fs, name, "after CoW");
	fs_close(&fs, name);
}

static void test_map_clone_other_side(void)
{
	struct fs fs;
	struct inode *a, *b;
	uint64_t x, y;
	int64_t z;
	const char *name = "map_clone2";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	x = write_block(&fs, a, 0, 'a');
	b = new_file(&fs);
	clone_file(&fs, a, b);
	commit_check(&fs, name, "committed clone");
	/* Committed state: a and b -> one chunk (refs 2) -> slot x (refs 1). */
	y = write_block(&fs, b, 0, 'b');
	ok(y != x, "the clone's write goes to a new slot");
	is_int(a->map[0].c->refs, 1, "a's chunk is a's alone in memory");
	z = map_prepare_write(&fs, a, 0, 0, 10);
	ok(z > 0 && (uint64_t)z != x,
	   "invariant 4: the original's write does not go in place into a"
	   " slot the committed state shares through a chunk (got %lld, x"
	   " %llu)",
	   (long long)z, (unsigned long long)x);
	commit_check(&fs, name, "after both wrote");
	is_int(map_prepare_write(&fs, a, 0, 0, 10), z,
	       "once the unsharing is committed the slot is written in place");
	fs_close(&fs, name);
}

/*
 * The same, when the original unshares the chunk by writing another block:
 * its private copy of the chunk is new, but the slots it names are still
 * shared by the committed state through the old chunk.
 */
static void test_map_clone_unshare_elsewhere(void)
{
	struct fs fs;
	struct inode *a, *b;
	uint64_t x;
	int64_t z;
	const char *name = "map_clone3";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	x = write_block(&fs, a, 0, 'a');
	write_block(&fs, a, 1, 'w');
	b = new_file(&fs);
	clone_file(&fs, a, b);
	commit_check(&fs, name, "committed clone");
	/* Committed: a and b -> chunk K (refs 2) -> slots x, w (refs 1). */
	write_block(&fs, a, 1, 'v');	/* a unshares K: a -> K' */
	write_block(&fs, b, 0, 'b');	/* b moves off x: only K' names x */
	is_int(store_slot_count(&fs.st, x), 1, "x is a's alone in memory");
	z = map_prepare_write(&fs, a, 0, 0, 10);
	ok(z > 0 && (uint64_t)z != x,
	   "invariant 4: a's write to block 0 does not go in place into x,"
	   " which the committed state shares through K (got %lld, x %llu)",
	   (long long)z, (unsigned long long)x);
	ok(slot_is(&fs.st, x, 0, BS, 'a') || z == (int64_t)x,
	   "x still holds the committed data unless it was written in place");
	commit_check(&fs, name, "after the cross writes");
	fs_close(&fs, name);
}

/* --- maps: unmapping --- */

static void test_map_unmap(void)
{
	struct fs fs;
	struct inode *a;
	uint64_t s[9] = { 0 };
	const char *name = "map_unmap";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	for (uint64_t b = 0; b <= 6; b++)
		s[b] = write_block(&fs, a, b, 'a' + (int)b);
	s[8] = write_block(&fs, a, 8, 'i');
	commit_check(&fs, name, "before unmap");
	is_int(a->nmap, 3, "three chunks (0-3, 4-6, 8)");
	is_int(a->nblocks, 8, "eight blocks");

	is_int(map_unmap(&fs, a, 4, 7), 0, "unmap blocks 4-7 (a whole chunk)");
	is_int(a->nmap, 2, "the chunk is gone from the map");
	is_int(a->nblocks, 5, "nblocks 5");
	ok(store_slot_count(&fs.st, s[4]) == 0 &&
		   store_slot_count(&fs.st, s[6]) == 0,
	   "the chunk's slots lost their references");
	ok(map_lookup(&fs, a, 8) == s[8], "the next chunk is untouched");

	is_int(map_unmap(&fs, a, 1, 2), 0,
	       "unmap blocks 1-2 (part of a chunk)");
	ok(map_lookup(&fs, a, 1) == 0 && map_lookup(&fs, a, 2) == 0,
	   "blocks 1-2 are holes");
	ok(map_lookup(&fs, a, 0) == s[0] && map_lookup(&fs, a, 3) == s[3],
	   "blocks 0 and 3 are kept");
	is_int(a->nblocks, 3, "nblocks 3");
	is_int(store_slot_count(&fs.st, s[1]), 0, "slot of block 1 released");
	commit_check(&fs, name, "partial unmap");

	map_unmap(&fs, a, 3, 3);
	is_int(a->map[0].c->n, 1, "trailing holes are trimmed from the chunk");
	is_int(map_unmap(&fs, a, 0, 0), 0, "unmap the last block of a chunk");
	is_int(a->nmap, 1, "an emptied chunk leaves the map");
	is_int(map_unmap(&fs, a, 5, 1000), 0, "unmap past the end");
	is_int(a->nmap, 0, "no chunk left");
	is_int(a->nblocks, 0, "no block left");
	is_int(fs.st.used, 0, "no slot in use");
	commit_check(&fs, name, "all unmapped");
	fs_close(&fs, name);
}

static void test_map_unmap_shared(void)
{
	struct fs fs;
	struct inode *a, *b, *c;
	uint64_t s[3];
	const char *name = "map_unmap_shared";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	for (int i = 0; i < 3; i++)
		s[i] = write_block(&fs, a, (uint64_t)i, 'a' + i);
	b = new_file(&fs);
	c = new_file(&fs);
	clone_file(&fs, a, b);
	clone_file(&fs, a, c);
	commit_check(&fs, name, "two clones");
	is_int(a->map[0].c->refs, 3, "chunk shared three ways");

	is_int(map_unmap(&fs, b, 0, 3), 0, "unmap a clone's whole chunk");
	is_int(b->nmap, 0, "the clone's map is empty");
	is_int(a->map[0].c->refs, 2, "the shared chunk lost one reference");
	ok(store_slot_count(&fs.st, s[0]) == 1 &&
		   store_slot_count(&fs.st, s[2]) == 1,
	   "the slots keep their count (still one chunk entry each)");

	is_int(map_unmap(&fs, c, 1, 1), 0, "unmap one block of a clone");
	ok(c->map[0].c != a->map[0].c, "the clone got a private chunk");
	is_int(map_lookup(&fs, c, 1), 0, "the clone's block 1 is a hole");
	ok(map_lookup(&fs, c, 0) == s[0] && map_lookup(&fs, c, 2) == s[2],
	   "the clone's other blocks are kept");
	ok(map_lookup(&fs, a, 0) == s[0] && map_lookup(&fs, a, 1) == s[1] &&
		   map_lookup(&fs, a, 2) == s[2],
	   "the original is unchanged");
	ok(store_slot_count(&fs.st, s[0]) == 2 &&
		   store_slot_count(&fs.st, s[1]) == 1,
	   "counts: kept slots named by two chunks, the unmapped one by one");
	commit_check(&fs, name, "unmap of clones");
	fs_close(&fs, name);
}

static void test_map_free_all(void)
{
	struct fs fs;
	struct inode *a, *b;
	uint64_t s[6], ino;
	struct meta_inode attr;
	bool all = true;
	const char *name = "map_free";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	b = new_file(&fs);
	for (int i = 0; i < 6; i++)
		s[i] = write_block(&fs, a, (uint64_t)i, 'a' + i);
	write_block(&fs, b, 0, 'z');
	commit_check(&fs, name, "before free");
	is_int(map_free_all(&fs, a), 0, "map_free_all");
	for (int i = 0; i < 6; i++)
		all &= store_slot_count(&fs.st, s[i]) == 0;
	ok(all, "every slot of the file lost its reference");
	ok(a->nmap == 0 && a->nblocks == 0, "the file maps nothing");
	is_int(fs.st.used, 1, "only the other file's slot is in use");
	commit_check(&fs, name, "after free");

	/* The same through the orphan path: nlink 0, last reference gone. */
	ino = b->ino;
	b->attr.nlink = 0;
	inode_maybe_evict(&fs, b);
	is_int(meta_inode_get(fs.st.meta, ino, &attr), -ENOENT,
	       "an evicted orphan is deleted");
	is_int(fs.st.used, 0, "its blocks are freed");
	commit_check(&fs, name, "orphan deleted");
	fs_close(&fs, name);
}

static void test_map_free_clone(void)
{
	struct fs fs;
	struct inode *a, *b;
	uint64_t s[2];
	const char *name = "map_free_clone";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	s[0] = write_block(&fs, a, 0, 'a');
	s[1] = write_block(&fs, a, 5, 'b');
	b = new_file(&fs);
	clone_file(&fs, a, b);
	commit_check(&fs, name, "clone");
	is_int(map_free_all(&fs, a), 0, "map_free_all of a cloned file");
	ok(store_slot_count(&fs.st, s[0]) == 1 &&
		   store_slot_count(&fs.st, s[1]) == 1,
	   "the clone's slots keep their reference");
	ok(map_lookup(&fs, b, 0) == s[0] && map_lookup(&fs, b, 5) == s[1],
	   "the clone's map is unchanged");
	ok(b->map[0].c->refs == 1 && b->map[1].c->refs == 1,
	   "the chunks are the clone's alone");
	commit_check(&fs, name, "freed original");
	fs_close(&fs, name);
}

/* --- maps: zeroing --- */

static void test_map_zero_partial(void)
{
	struct fs fs;
	struct inode *a, *b;
	uint64_t s, used, t;
	const char *name = "map_zero";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	s = write_block(&fs, a, 0, 'z');
	commit_check(&fs, name, "before zero");
	is_int(map_zero_partial(&fs, a, 0, 100, 50), 0, "map_zero_partial");
	is_int(map_lookup(&fs, a, 0), s, "a private block is zeroed in place");
	ok(slot_is(&fs.st, s, 0, 100, 'z') && slot_is(&fs.st, s, 100, 50, 0) &&
		   slot_is(&fs.st, s, 150, BS - 150, 'z'),
	   "exactly the range is zeroed");
	used = fs.st.used;
	is_int(map_zero_partial(&fs, a, 3, 0, 10), 0,
	       "map_zero_partial of a hole");
	ok(map_lookup(&fs, a, 3) == 0 && fs.st.used == used,
	   "zeroing a hole allocates nothing");

	b = new_file(&fs);
	clone_file(&fs, a, b);
	commit_check(&fs, name, "clone");
	is_int(map_zero_partial(&fs, b, 0, 0, 10), 0, "zero part of a clone");
	t = map_lookup(&fs, b, 0);
	ok(t != s, "the clone's block was copied first");
	ok(slot_is(&fs.st, t, 0, 10, 0) && slot_is(&fs.st, t, 10, 90, 'z') &&
		   slot_is(&fs.st, t, 100, 50, 0) &&
		   slot_is(&fs.st, t, 150, BS - 150, 'z'),
	   "the copy has the zeroed range and the old data elsewhere");
	ok(slot_is(&fs.st, s, 0, 100, 'z'), "the original is untouched");
	commit_check(&fs, name, "zeroed clone");
	fs_close(&fs, name);
}

static void test_map_reused_slot_zeroed(void)
{
	struct fs fs;
	struct inode *a, *b;
	uint64_t ino;
	int64_t s;
	int rc;
	const char *name = "map_reuse";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	for (uint64_t i = 0; i < 4; i++)
		write_block(&fs, a, i, 'r');
	ino = a->ino;
	commit_check(&fs, name, "four blocks");
	fs_close(&fs, name);

	fs_open(&fs, name, false);
	a = inode_get(&fs, ino, &rc);
	if (!a || map_load(&fs, a))
		bail_out("reload inode %llu: %d", (unsigned long long)ino, rc);
	is_int(map_lookup(&fs, a, 2), 3, "block 2 is in slot 3 after reopen");
	map_unmap(&fs, a, 2, 2);
	commit_check(&fs, name, "slot 3 freed");
	/* Stale bytes in the free slot, as if its punch had failed. */
	fill_slot(&fs.st, 3, 0, BS, 'g');
	b = new_file(&fs);
	s = map_prepare_write(&fs, b, 0, 100, 200);
	is_int(s, 3, "a partial write to a hole reuses the free slot 3");
	ok(slot_is(&fs.st, 3, 0, BS, 0),
	   "invariant 6: a reused slot that a write covers only partly is"
	   " zeroed first");
	s = map_prepare_write(&fs, b, 1, 0, BS);
	ok(s > 0, "a full-block write allocates (%lld)", (long long)s);
	commit_check(&fs, name, "reuse");
	fs_close(&fs, name);
}

/*
 * A deleted chunk row's id can be handed out again by SQLite before the
 * commit (INTEGER PRIMARY KEY without AUTOINCREMENT reuses the largest id),
 * while the deleted struct chunk is still cached until map_post_commit().
 * When the chunk hash grows, chunk_grow_table() reverses each chain, so the
 * deleted struct can come first; an inode evicted and looked up again
 * before the commit then loads it instead of the live chunk.
 */
static void test_map_chunk_id_reuse(void)
{
	struct fs fs;
	struct inode *a, *big;
	struct violations v;
	uint64_t s, ino;
	int rc;
	const char *name = "map_chunk_reuse";

	fs_open(&fs, name, true);
	big = new_file(&fs);
	a = new_file(&fs);
	ino = a->ino;
	write_block(&fs, a, 0, 'a');
	commit_check(&fs, name, "before");
	diag("chunk %llu deleted by a truncate...",
	     (unsigned long long)a->map[0].c->id);
	map_unmap(&fs, a, 0, 3);
	s = write_block(&fs, a, 0, 'b');
	diag("... and chunk %llu made by the next write",
	     (unsigned long long)a->map[0].c->id);
	/* Enough chunks to make the chunk hash table grow. */
	for (uint64_t i = 0; i < 1100; i++)
		if (map_prepare_write(&fs, big, i * CHUNK, 0, BS) <= 0)
			bail_out("filling the chunk cache failed");
	/* The kernel forgets a; it is looked up again before the commit. */
	inode_maybe_evict(&fs, a);
	a = inode_get(&fs, ino, &rc);
	if (!a)
		bail_out("inode_get %llu: %d", (unsigned long long)ino, rc);
	rc = map_load(&fs, a);
	is_int(rc, 0, "map_load after eviction");
	is_int(map_lookup(&fs, a, 0), s,
	       "the reloaded map finds the live chunk, not the deleted one");
	is_int(a->map[0].c->refs, 1, "the reloaded chunk has refs 1");
	write_block(&fs, a, 1, 'c');
	is_int(fs_commit(&fs), 0, "commit after a write to the reloaded file");
	v = find_violations(snapshot_db(name), &fs.st);
	ok(v.maps + v.chunks + v.slots + v.sums + v.fmap == 0,
	   "the committed state keeps the invariants (%d chunk, %d slot"
	   " violations)",
	   v.chunks, v.slots + v.sums);
	fs_close(&fs, name);
}

/*
 * The invariant checker itself must be able to fail: break each invariant
 * in a copy of a good database and count what it finds.
 */
static void test_checker_finds_violations(void)
{
	struct fs fs;
	struct inode *a;
	struct violations v;
	const char *name = "checker";
	char copy[PATH_MAX];
	uint64_t s0;

	fs_open(&fs, name, true);
	a = new_file(&fs);
	s0 = write_block(&fs, a, 0, 'a');
	write_block(&fs, a, 1, 'b');
	is_int(fs_commit(&fs), 0, "checker: commit");
	v = find_violations(snapshot_db(name), &fs.st);
	ok(!v.maps && !v.chunks && !v.slots && !v.sums && !v.fmap &&
		   v.nslots == 2,
	   "checker: a good store has no violation");
	diag("the checker reports the violations it was given:");
	fs.st.refs[s0]++;
	fs.st.refs[s0 + 5] = 1;
	v = find_violations(snapshot_db(name), &fs.st);
	fs.st.refs[s0]--;
	fs.st.refs[s0 + 5] = 0;
	is_int(v.slots, 2, "checker: finds a count in memory that differs"
			   " from the committed maps, and one of a slot no"
			   " map names");
	fs_close(&fs, name);
	scratch_path_into(copy, "checker-copy.db");
	copy_file(scratch_path("%s/meta.db", name), copy);
	v = find_violations(copy, NULL);
	ok(!v.maps && !v.chunks && !v.sums && !v.fmap && v.nslots == 2,
	   "checker: the closed store has no violation");
	sql_exec(copy, "UPDATE chunk SET refs = refs + 1");
	sql_exec(copy, "INSERT INTO slot(id, sum) VALUES (77, zeroblob(16))");
	sql_exec(copy, "INSERT INTO chunk(id, refs, map) VALUES"
		       " (50, 0, x'00000000000000000000000000000000'),"
		       " (51, 0, zeroblob(9))");
	sql_exec(copy, "INSERT INTO fmap(ino, cidx, chunk)"
		       " VALUES (999, 0, 50)");
	v = find_violations(copy, NULL);
	is_int(v.sums, 1, "checker: finds a checksum row of a slot no map"
			  " names");
	is_int(v.chunks, 3, "checker: finds a wrong chunk count, a chunk"
			    " named by an fmap row but with refs 0, and a"
			    " chunk row with refs 0");
	is_int(v.maps, 2, "checker: finds an untrimmed and a torn map");
	is_int(v.fmap, 1, "checker: finds an fmap row without inode");
}

/* --- maps: clones by map_share_block and map_share_chunk --- */

/* map_stat of @in, in blocks. */
static void stat_blocks(struct fs *fs, struct inode *in, uint64_t *allocated,
			uint64_t *shared)
{
	map_stat(fs, in, allocated, shared);
	*allocated /= BS;
	*shared /= BS;
}

static void test_share_block_refs(void)
{
	struct fs fs;
	struct inode *a, *b;
	uint64_t s[3], t, u, used, alloc_b, shared_b, alloc_a, shared_a;
	const char *name = "share_block";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	for (int i = 0; i < 3; i++)
		s[i] = write_block(&fs, a, (uint64_t)i, 'a' + i);
	commit_check(&fs, name, "before sharing");
	used = fs.st.used;
	b = new_file(&fs);
	is_int(map_share_block(&fs, b, 0, a, 1), 0,
	       "map_share_block: block 1 of a as block 0 of b");
	is_int(map_share_block(&fs, b, 5, a, 2), 0,
	       "map_share_block: block 2 of a as block 5 of b (another chunk)");
	is_int(map_lookup(&fs, b, 0), s[1], "b's block 0 names a's slot");
	is_int(map_lookup(&fs, b, 5), s[2], "b's block 5 names a's slot");
	ok(store_slot_count(&fs.st, s[1]) == 2 &&
		   store_slot_count(&fs.st, s[2]) == 2,
	   "invariant 2: each shared slot has count 2 (two chunk entries)");
	is_int(store_slot_count(&fs.st, s[0]), 1, "the unshared slot keeps 1");
	is_int(fs.st.used, used, "sharing allocates no slot");
	is_int(b->nblocks, 2, "b maps 2 blocks");
	is_int(b->nmap, 2, "b has two chunks");
	ok(b->map[0].c != a->map[0].c, "b's chunks are its own");
	is_int(map_share_block(&fs, b, 0, a, 1), 0, "sharing the same again");
	is_int(store_slot_count(&fs.st, s[1]), 2, "changes no count");
	stat_blocks(&fs, b, &alloc_b, &shared_b);
	stat_blocks(&fs, a, &alloc_a, &shared_a);
	ok(alloc_b == 2 && shared_b == 2,
	   "map_stat of b: 2 allocated, 2 shared (%llu, %llu)",
	   (unsigned long long)alloc_b, (unsigned long long)shared_b);
	ok(alloc_a == 3 && shared_a == 2,
	   "map_stat of a: 3 allocated, 2 shared (%llu, %llu)",
	   (unsigned long long)alloc_a, (unsigned long long)shared_a);
	commit_check(&fs, name, "shared blocks");

	t = write_block(&fs, b, 0, 'x');
	ok(t != s[1], "a write to b's shared block 0 gets a new slot");
	is_int(store_slot_count(&fs.st, s[1]), 1, "the old slot is a's alone");
	ok(slot_is(&fs.st, s[1], 0, BS, 'b'), "a's block 1 is unchanged");
	u = write_block(&fs, a, 2, 'y');
	ok(u != s[2], "a write to a's shared block 2 gets a new slot");
	is_int(map_lookup(&fs, b, 5), s[2], "b's block 5 keeps the old slot");
	ok(slot_is(&fs.st, s[2], 0, BS, 'c'), "which holds the old data");
	is_int(fs.st.used, used + 2, "two slots more in all");
	commit_check(&fs, name, "after CoW on both sides");
	fs_close(&fs, name);
}

static void test_share_block_hole(void)
{
	struct fs fs;
	struct inode *a, *b, *c;
	uint64_t sa, sb[3], used;
	const char *name = "share_hole";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	b = new_file(&fs);
	sa = write_block(&fs, a, 0, 'a');
	for (int i = 0; i < 3; i++)
		sb[i] = write_block(&fs, b, (uint64_t)i, 'p' + i);
	commit_check(&fs, name, "before");
	used = fs.st.used;
	is_int(map_share_block(&fs, b, 1, a, 1), 0,
	       "map_share_block of a hole onto a mapped block");
	is_int(map_lookup(&fs, b, 1), 0, "the block is a hole now");
	is_int(store_slot_count(&fs.st, sb[1]), 0, "its slot lost its reference");
	is_int(fs.st.used, used - 1, "one slot less in use");
	is_int(b->nblocks, 2, "b maps 2 blocks");
	is_int(map_share_block(&fs, b, 3, a, 3), 0,
	       "map_share_block of a hole onto a hole");
	is_int(map_share_block(&fs, b, 9, a, 2), 0,
	       "map_share_block of a hole where b has no chunk");
	is_int(b->nmap, 1, "no chunk was made for it");
	ok(map_lookup(&fs, b, 0) == sb[0] && map_lookup(&fs, b, 2) == sb[2],
	   "b's other blocks are kept");
	commit_check(&fs, name, "holes shared");

	/* A hole onto a block of a clone that shares the chunk. */
	c = new_file(&fs);
	clone_file(&fs, a, c);
	commit_check(&fs, name, "clone");
	is_int(map_share_block(&fs, c, 0, a, 2), 0,
	       "map_share_block of a hole onto a block of a shared chunk");
	is_int(map_lookup(&fs, c, 0), 0, "the clone's block is a hole");
	is_int(map_lookup(&fs, a, 0), sa, "the original keeps its block");
	is_int(store_slot_count(&fs.st, sa), 1, "whose slot has count 1");
	is_int(a->map[0].c->refs, 1, "the original's chunk is its own again");
	ok(slot_is(&fs.st, sa, 0, BS, 'a'), "and its data");
	commit_check(&fs, name, "hole onto a shared chunk");
	fs_close(&fs, name);
}

static void test_share_block_same_inode(void)
{
	struct fs fs;
	struct inode *a;
	uint64_t s[2], t, used;
	const char *name = "share_same";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	s[0] = write_block(&fs, a, 0, 'a');
	s[1] = write_block(&fs, a, 1, 'b');
	commit_check(&fs, name, "before");
	used = fs.st.used;
	is_int(map_share_block(&fs, a, 2, a, 0), 0,
	       "block 0 shared as block 2 of the same file");
	is_int(map_share_block(&fs, a, 9, a, 1), 0,
	       "block 1 shared as block 9 (another chunk)");
	is_int(map_share_block(&fs, a, 1, a, 1), 0,
	       "a block shared onto itself");
	ok(map_lookup(&fs, a, 2) == s[0] && map_lookup(&fs, a, 9) == s[1],
	   "both name the same slots");
	ok(store_slot_count(&fs.st, s[0]) == 2 &&
		   store_slot_count(&fs.st, s[1]) == 2,
	   "invariant 2 within one file: count 2 each");
	is_int(a->nblocks, 4, "the file maps 4 blocks");
	is_int(fs.st.used, used, "no slot allocated");
	commit_check(&fs, name, "shared within a file");
	t = write_block(&fs, a, 0, 'z');
	ok(t != s[0], "a write to block 0 gets a new slot");
	is_int(map_lookup(&fs, a, 2), s[0], "block 2 keeps the old one");
	ok(slot_is(&fs.st, s[0], 0, BS, 'a'), "with the old data");
	commit_check(&fs, name, "after CoW");
	fs_close(&fs, name);
}

static void test_share_chunk_refs(void)
{
	struct fs fs;
	struct inode *a, *b;
	uint64_t s[6], t, used, alloc_b, shared_b;
	struct chunk *c0, *c1;
	const char *name = "share_chunk";
	bool all = true;

	fs_open(&fs, name, true);
	a = new_file(&fs);
	for (int i = 0; i < 6; i++)
		s[i] = write_block(&fs, a, (uint64_t)i, 'a' + i);
	commit_check(&fs, name, "before sharing");
	c0 = a->map[0].c;
	c1 = a->map[1].c;
	used = fs.st.used;
	b = new_file(&fs);
	is_int(map_share_chunk(&fs, b, 0, a, 0), 0,
	       "map_share_chunk: chunk 0 of a as chunk 0 of b");
	is_int(map_share_chunk(&fs, b, 3, a, 1), 0,
	       "map_share_chunk: chunk 1 of a as chunk 3 of b");
	ok(b->nmap == 2 && b->map[0].c == c0 && b->map[1].c == c1,
	   "b names a's cached chunks");
	ok(c0->refs == 2 && c1->refs == 2,
	   "invariant 1: each shared chunk has refs 2");
	for (int i = 0; i < 6; i++)
		all &= store_slot_count(&fs.st, s[i]) == 1;
	ok(all, "invariant 2: slot counts do not change (one entry each)");
	is_int(fs.st.used, used, "sharing allocates no slot");
	is_int(b->nblocks, 6, "b maps 6 blocks");
	is_int(map_lookup(&fs, b, 13), s[5], "b's block 13 is a's block 5");
	is_int(map_share_chunk(&fs, b, 0, a, 0), 0, "sharing the same again");
	is_int(c0->refs, 2, "changes no count");
	stat_blocks(&fs, b, &alloc_b, &shared_b);
	ok(alloc_b == 6 && shared_b == 6,
	   "map_stat of b: 6 allocated, 6 shared (%llu, %llu)",
	   (unsigned long long)alloc_b, (unsigned long long)shared_b);
	commit_check(&fs, name, "shared chunks");

	t = write_block(&fs, b, 1, 'x');
	ok(t != s[1], "a write to b's block 1 gets a new slot");
	ok(b->map[0].c != c0, "b got a private copy of chunk 0");
	is_int(c0->refs, 1, "a's chunk 0 lost a reference");
	ok(store_slot_count(&fs.st, s[0]) == 2 &&
		   store_slot_count(&fs.st, s[3]) == 2,
	   "the slots of both copies of the chunk have count 2");
	is_int(store_slot_count(&fs.st, s[1]), 1, "the replaced one has 1");
	ok(slot_is(&fs.st, s[1], 0, BS, 'b'), "a's block 1 is unchanged");
	write_block(&fs, a, 5, 'y');
	ok(a->map[1].c != c1, "a write to a's chunk 1 unshares it in a");
	is_int(map_lookup(&fs, b, 13), s[5], "b keeps the old block");
	ok(slot_is(&fs.st, s[5], 0, BS, 'f'), "with the old data");
	is_int(fs.st.used, used + 2, "two slots more in all");
	commit_check(&fs, name, "after CoW on both sides");
	fs_close(&fs, name);
}

static void test_share_chunk_replaces(void)
{
	struct fs fs;
	struct inode *a, *b, *d, *e;
	uint64_t sb[3], sd, used;
	struct chunk *ca, *cd;
	const char *name = "share_chunk2";
	bool gone = true;

	fs_open(&fs, name, true);
	a = new_file(&fs);
	b = new_file(&fs);
	d = new_file(&fs);
	for (uint64_t i = 0; i < 4; i++)
		write_block(&fs, a, i, 'a');
	for (int i = 0; i < 3; i++)
		sb[i] = write_block(&fs, b, (uint64_t)i, 'b');
	sd = write_block(&fs, d, 1, 'd');
	commit_check(&fs, name, "before");
	ca = a->map[0].c;
	used = fs.st.used;

	is_int(map_share_chunk(&fs, b, 0, a, 0), 0,
	       "map_share_chunk onto a chunk b has");
	ok(b->nmap == 1 && b->map[0].c == ca, "b names a's chunk");
	for (int i = 0; i < 3; i++)
		gone &= store_slot_count(&fs.st, sb[i]) == 0;
	ok(gone, "b's old chunk was dropped: its slots lost their references");
	is_int(fs.st.used, used - 3, "three slots less in use");
	is_int(b->nblocks, 4, "b maps 4 blocks");
	commit_check(&fs, name, "chunk replaced");

	/* Onto a chunk that is itself shared with a clone. */
	e = new_file(&fs);
	clone_file(&fs, d, e);
	cd = d->map[0].c;
	is_int(cd->refs, 2, "d's chunk is shared with its clone e");
	is_int(map_share_chunk(&fs, e, 0, a, 0), 0,
	       "map_share_chunk onto e's shared chunk");
	is_int(cd->refs, 1, "d's chunk is d's alone again");
	is_int(store_slot_count(&fs.st, sd), 1, "its slot keeps its count");
	is_int(map_lookup(&fs, d, 1), sd, "d is unchanged");
	is_int(ca->refs, 3, "a's chunk is named by a, b and e");
	commit_check(&fs, name, "shared chunk replaced");

	/* A missing chunk of the source onto a chunk of the target. */
	is_int(map_share_chunk(&fs, b, 0, a, 5), 0,
	       "map_share_chunk of a hole chunk");
	ok(b->nmap == 0 && b->nblocks == 0, "b maps nothing now");
	is_int(ca->refs, 2, "a's chunk lost b's reference");
	is_int(map_share_chunk(&fs, b, 2, a, 5), 0,
	       "map_share_chunk of a hole chunk onto a hole chunk");
	is_int(b->nmap, 0, "makes no chunk");
	commit_check(&fs, name, "hole chunks");
	fs_close(&fs, name);
}

static void test_share_chunk_same_inode(void)
{
	struct fs fs;
	struct inode *a;
	uint64_t s[4], t, alloc, shared;
	const char *name = "share_chunk_same";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	for (int i = 0; i < 4; i++)
		s[i] = write_block(&fs, a, (uint64_t)i, 'a' + i);
	commit_check(&fs, name, "before");
	is_int(map_share_chunk(&fs, a, 2, a, 0), 0,
	       "chunk 0 shared as chunk 2 of the same file");
	is_int(map_share_chunk(&fs, a, 0, a, 0), 0, "a chunk onto itself");
	ok(a->nmap == 2 && a->map[0].c == a->map[1].c,
	   "both entries name one chunk");
	is_int(a->map[0].c->refs, 2, "invariant 1 within one file: refs 2");
	is_int(a->nblocks, 8, "the file maps 8 blocks");
	stat_blocks(&fs, a, &alloc, &shared);
	ok(alloc == 8 && shared == 8, "map_stat: 8 allocated, 8 shared");
	commit_check(&fs, name, "shared within a file");
	t = write_block(&fs, a, 9, 'z');
	ok(a->map[0].c != a->map[1].c, "a write into chunk 2 unshares it");
	ok(t != s[1], "and gets a new slot");
	is_int(map_lookup(&fs, a, 1), s[1], "chunk 0 keeps the old slot");
	ok(slot_is(&fs.st, s[1], 0, BS, 'b'), "with the old data");
	commit_check(&fs, name, "after CoW");
	fs_close(&fs, name);
}

/*
 * Invariant 4 after a clone in the open transaction: the committed state
 * names slot x in the original only. After the clone and the original's
 * copy-on-write, only the clone names x in memory, with count 1 and a
 * chunk whose committed refs were 1: yet x must not be written in place,
 * or a crash before the commit leaves the clone's bytes in the original.
 */
static void test_share_committed_not_in_place(void)
{
	struct fs fs;
	struct inode *a, *b;
	uint64_t x;
	int64_t z;
	const char *name = "share_inv4";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	x = write_block(&fs, a, 0, 'a');
	commit_check(&fs, name, "committed original");
	b = new_file(&fs);
	map_share_block(&fs, b, 0, a, 0);
	write_block(&fs, a, 0, 'b');
	is_int(store_slot_count(&fs.st, x), 1, "x is the clone's alone now");
	z = map_prepare_write(&fs, b, 0, 0, 10);
	ok(z > 0 && (uint64_t)z != x,
	   "invariant 4 after map_share_block: the clone's write does not go"
	   " in place into the original's committed slot (got %lld, x %llu)",
	   (long long)z, (unsigned long long)x);
	commit_check(&fs, name, "block clone");

	x = write_block(&fs, a, 1, 'c');
	commit_check(&fs, name, "committed second block");
	map_share_chunk(&fs, b, 0, a, 0);
	write_block(&fs, a, 1, 'd');
	z = map_prepare_write(&fs, b, 1, 0, 10);
	ok(z > 0 && (uint64_t)z != x,
	   "invariant 4 after map_share_chunk: the clone's write does not go"
	   " in place into the original's committed slot (got %lld, x %llu)",
	   (long long)z, (unsigned long long)x);
	commit_check(&fs, name, "chunk clone");
	fs_close(&fs, name);
}

/* Invariant 7: a slot with a checksum is never written in place. */
static void test_checksums(void)
{
	struct fs fs;
	struct inode *a;
	uint64_t x, y, list[8], gen;
	uint8_t want[META_SUM_SIZE], got[META_SUM_SIZE];
	uint8_t sums[1][META_SUM_SIZE];
	char buf[BS], back[BS];
	size_t pos = 0, n;
	int64_t z;
	const char *name = "checksums";

	fs_open(&fs, name, true);
	a = new_file(&fs);
	x = write_block(&fs, a, 0, 'a');
	is_int(meta_slot_get_sum(fs.st.meta, x, got), 0,
	       "a slot written in the open transaction has no sum");
	fs_sum_quiet(&fs, 1 << 30, NULL);
	is_int(meta_slot_get_sum(fs.st.meta, x, got), 0,
	       "nor after a sum pass: it is not quiet yet");
	ok(store_slot_private(&fs.st, x), "it is written in place meanwhile");
	commit_check(&fs, name, "written");
	fs_sum_quiet(&fs, 1 << 30, NULL);
	memset(buf, 'a', BS);
	store_hash(buf, BS, want);
	ok(meta_slot_get_sum(fs.st.meta, x, got) == 1 &&
		   memcmp(got, want, sizeof(got)) == 0,
	   "once quiet for a transaction it has the XXH3-128 of its bytes");
	ok(!store_slot_private(&fs.st, x), "and is no longer written in place");
	z = map_prepare_write(&fs, a, 0, 0, 10);
	ok(z > 0 && (uint64_t)z != x,
	   "a write into it goes to a new slot (got %lld, x %llu)",
	   (long long)z, (unsigned long long)x);
	if (z > 0 && pread(fs.st.packfd, back, BS,
			   (off_t)store_slot_offset(&fs.st, (uint64_t)z)) == BS)
		ok(memcmp(back + 10, buf + 10, BS - 10) == 0,
		   "which holds the rest of the old block");
	else
		ok(0, "read the new slot back");
	commit_check(&fs, name, "relocated");
	is_int(store_slot_count(&fs.st, x), 0, "the old slot is free");
	is_int(meta_slot_get_sum(fs.st.meta, x, got), 0,
	       "and its sum went with it: a reused slot inherits none");

	/* A slot written after it was listed keeps no sum. */
	y = write_block(&fs, a, 1, 'y');
	commit_check(&fs, name, "second block");
	gen = fs.st.summed_gen;
	n = store_quiet_slots(&fs.st, &pos, list, 8);
	ok(n >= 1 && list[n - 1] == y, "the quiet list names the new block");
	z = map_prepare_write(&fs, a, 1, 0, 10);
	fs.st.pack_written = true; /* as fs_write_buf does after the data */
	is_int(z, (int64_t)y, "a hot slot is written in place");
	is_int(store_set_sums(&fs.st, gen, &y, sums, 1), 0,
	       "a sum computed before that write is dropped");
	commit_check(&fs, name, "rewritten");
	gen = fs.st.summed_gen;
	fs.st.pack_written = true; /* (a commit with nothing to do is none) */
	commit_check(&fs, name, "another commit");
	is_int(store_set_sums(&fs.st, gen, &y, sums, 1), 0,
	       "so is one listed before a commit");

	/* A permit: the sum is cleared and committed, then in place. */
	commit_check(&fs, name, "before the permit");
	fs_sum_quiet(&fs, 1 << 30, NULL);
	ok(meta_slot_get_sum(fs.st.meta, y, got) == 1, "y has its sum");
	is_int(map_permit(&fs, a, 1), 1, "an overwrite of y waits for a permit");
	is_int(map_permit(&fs, a, 1), 1, "still pending before the commit");
	is_int(meta_slot_get_sum(fs.st.meta, y, got), 0,
	       "its sum is cleared in the open transaction");
	ok(!store_slot_private(&fs.st, y), "not written in place yet");
	commit_check(&fs, name, "permit");
	is_int(map_permit(&fs, a, 1), 0, "after the commit no permit is needed");
	pos = 0;
	n = store_quiet_slots(&fs.st, &pos, list, 8);
	ok(n == 0 || list[0] != y, "nor is y summed again before it is written");
	is_int(map_prepare_write(&fs, a, 1, 0, 10), (int64_t)y,
	       "the overwrite goes in place");
	commit_check(&fs, name, "after the permit");

	/*
	 * A permit whose slot is shared before the commit: its sum is gone,
	 * so it must come back hot (to be summed again), not be forgotten.
	 */
	{
		struct inode *b2 = new_file(&fs);
		uint64_t w = write_block(&fs, a, 2, 'w');

		commit_check(&fs, name, "third block");
		fs_sum_quiet(&fs, 1 << 30, NULL);
		is_int(map_permit(&fs, a, 2), 1, "a permit for w");
		is_int(map_share_block(&fs, b2, 0, a, 2), 0, "w shared");
		commit_check(&fs, name, "permit of a shared slot");
		ok(fs.st.refs[w] & SLOT_HOT,
		   "the shared slot without a sum is hot, to be summed again");
		ok(!store_slot_private(&fs.st, w), "and is not written in place");
	}

	/* Sums and hotness survive a remount. */
	fs_close(&fs, name);
	fs_open(&fs, name, false);
	ok(meta_slot_get_sum(fs.st.meta, y, got) == 1,
	   "the unmount summed what the last transaction wrote");
	ok(!(fs.st.refs[y] & SLOT_HOT) && fs.st.nhot == 0,
	   "reopen: summed slots are not hot");
	fs_close(&fs, name);
}

/* The inode cache stays bounded; trimmed inodes keep their lookups. */
static void test_inode_trim(void)
{
	enum { N = 3 * INODE_CACHE_MAX / 2 };
	static uint64_t inos[N];
	struct fs fs;
	size_t wrong = 0;
	const char *name = "trim";

	fs_open(&fs, name, true);
	for (size_t i = 0; i < N; i++) {
		struct inode *in = new_file(&fs);

		in->nlookup = i % 3 + 1;
		inos[i] = in->ino;
	}
	is_int(fs_commit(&fs), 0, "commit the new inodes");
	ok(fs.ninodes > INODE_CACHE_MAX, "%zu inodes cached before the trim",
	   fs.ninodes);
	inode_trim(&fs);
	ok(fs.ninodes <= INODE_CACHE_MAX, "%zu inodes cached after it",
	   fs.ninodes);
	is_int(fs.ninodes + fs.nlookups, N + 1,
	       "every inode is cached or in the lookup table");
	for (size_t i = 0; i < N; i += 2) {
		int rc;
		struct inode *in = inode_get(&fs, inos[i], &rc);

		wrong += !in || in->nlookup != i % 3 + 1;
	}
	is_int(wrong, 0, "inodes loaded again have their lookup counts");
	for (size_t i = 0; i < N; i++)
		inode_forget(&fs, inos[i], i % 3 + 1);
	is_int(fs.nlookups, 0, "forgetting them all empties the lookup table");
	is_int(fs.ninodes, 1, "and the cache (but the root)");
	fs_close(&fs, name);
}

int main(void)
{
	scratch_init("test_store");
	test_create_refuses();
	test_open_busy();
	test_open_waits_for_holder();
	test_open_bad_pack();
	test_alloc_sequential();
	test_alloc_hint();
	test_refs();
	test_pending_not_reused();
	test_private_after_commit();
	test_flush_reopen();
	test_open_sums();
	test_tail_truncate_reopened();
	test_tail_truncate_same_session();
	test_copy_zero();
	test_checker_finds_violations();
	test_map_holes();
	test_map_private_in_place();
	test_map_clone_cow();
	test_map_clone_other_side();
	test_map_clone_unshare_elsewhere();
	test_map_unmap();
	test_map_unmap_shared();
	test_map_free_all();
	test_map_free_clone();
	test_map_zero_partial();
	test_map_reused_slot_zeroed();
	test_map_chunk_id_reuse();
	test_share_block_refs();
	test_share_block_hole();
	test_share_block_same_inode();
	test_share_chunk_refs();
	test_share_chunk_replaces();
	test_share_chunk_same_inode();
	test_share_committed_not_in_place();
	test_checksums();
	test_inode_trim();
	scratch_cleanup();
	return done_testing();
}
